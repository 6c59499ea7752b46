// Package bootstrap prepares an empty database on first start: the first
// organization and its admin user.
package bootstrap

import (
	"context"
	"fmt"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Result says what FirstRun did.
type Result struct {
	Created      bool // false when the database already had an organization
	Organization domain.Organization
	Admin        domain.User
	Password     string // the admin password when generated, to print once
}

// FirstRun creates org and an "admin" user with password (generated when
// empty) if the database holds no organization yet.
func FirstRun(ctx context.Context, st store.Store, h *auth.Hasher, org domain.Organization, password string) (Result, error) {
	orgs, err := st.ListOrganizations(ctx)
	if err != nil {
		return Result{}, err
	}
	if len(orgs) > 0 {
		return Result{Organization: orgs[0]}, nil
	}
	org.Active = true
	if err := st.CreateOrganization(ctx, &org); err != nil {
		return Result{}, fmt.Errorf("create organization: %w", err)
	}
	res := Result{Created: true, Organization: org}
	if password == "" {
		password = auth.GeneratePassword()
		res.Password = password
	}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		return Result{}, err
	}
	res.Admin = domain.User{Login: "admin", Name: "Administrator", PasswordHash: hash, Active: true,
		Memberships: []domain.Membership{{OrganizationID: org.ID, Roles: []domain.Role{domain.RoleAdmin}}}}
	if err := st.CreateUser(ctx, &res.Admin); err != nil {
		return Result{}, fmt.Errorf("create admin user: %w", err)
	}
	return res, nil
}
