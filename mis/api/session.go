package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

type loginInput struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in loginInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	if in.Login == "" {
		writeError(w, invalid("login", "login is required"))
		return
	}
	if in.Password == "" {
		writeError(w, invalid("password", "password is required"))
		return
	}
	key := strings.ToLower(in.Login)
	ev := &domain.AuditEvent{Action: domain.ActionExecute, Event: "user.login", Login: in.Login, Address: remoteHost(r)}
	if s.Lockout.Locked(key, s.Now()) {
		ev.Outcome, ev.Detail = domain.OutcomeMinorFailure, "locked out"
		_ = s.writeAudit(r.Context(), ev)
		writeError(w, &apiError{Status: http.StatusTooManyRequests, Code: "locked",
			Message: fmt.Sprintf("too many failed sign-ins for this login; try again in %s", s.Lockout.Period)})
		return
	}
	u, err := s.Store.GetUserByLogin(r.Context(), in.Login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	hash := s.dummyHash(r.Context())
	if u != nil {
		hash = u.PasswordHash
	}
	ok, err := s.Hasher.Verify(r.Context(), hash, in.Password)
	if err != nil && u != nil {
		s.Logger.Error("stored password hash unreadable", "user", u.ID)
	}
	if !ok || u == nil || !u.Active {
		s.Lockout.Fail(key, s.Now())
		ev.Outcome, ev.Detail = domain.OutcomeMinorFailure, "wrong login or password"
		if u != nil {
			ev.UserID = u.ID
			if len(u.Memberships) > 0 {
				ev.OrganizationID = u.Memberships[0].OrganizationID
			}
		}
		_ = s.writeAudit(r.Context(), ev)
		writeError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "wrong login or password"})
		return
	}
	s.Lockout.Succeed(key)
	token, hashed := auth.NewToken()
	now := s.Now().UTC()
	sess := domain.Session{TokenHash: hashed, UserID: u.ID, Created: now, Expires: now.Add(s.SessionTTL), Address: remoteHost(r)}
	if err := s.Store.CreateSession(r.Context(), sess); err != nil {
		s.fail(w, r, err)
		return
	}
	ev.UserID, ev.Login = u.ID, u.Login
	if len(u.Memberships) > 0 {
		ev.OrganizationID = u.Memberships[0].OrganizationID
	}
	_ = s.writeAudit(r.Context(), ev)
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires": sess.Expires, "user": u})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, c *caller) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := s.Store.DeleteSession(r.Context(), auth.HashToken(strings.TrimSpace(token))); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, c *caller) {
	writeJSON(w, http.StatusOK, c.user)
}

func (s *Server) listOrganizations(w http.ResponseWriter, r *http.Request, c *caller) {
	list := []domain.Organization{}
	for _, id := range c.user.OrgIDs() {
		o, err := s.Store.GetOrganization(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		list = append(list, *o)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

type orgInput struct {
	Name    string `json:"name"`
	PartOf  int64  `json:"partOf"`
	INN     string `json:"inn"`
	OGRN    string `json:"ogrn"`
	UIDRoot string `json:"uidRoot"`
}

var innRE, ogrnRE = regexp.MustCompile(`^(\d{10}|\d{12})$`), regexp.MustCompile(`^(\d{13}|\d{15})$`)

// createOrganization adds a branch to an organization the caller
// administers, or a new legal entity whose admin the caller becomes.
func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request, c *caller) {
	admins := auth.OrgsWith(c.user, auth.UserAdmin)
	if len(admins) == 0 {
		writeError(w, errForbidden)
		return
	}
	var in orgInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	o := domain.Organization{Name: strings.TrimSpace(in.Name), PartOf: in.PartOf, INN: in.INN, OGRN: in.OGRN, UIDRoot: in.UIDRoot, Active: true}
	switch {
	case o.Name == "":
		writeError(w, invalid("name", "name is required"))
		return
	case o.PartOf != 0 && !containsID(admins, o.PartOf):
		writeError(w, invalid("partOf", "you can add branches only to organizations you administer"))
		return
	case o.INN != "" && !innRE.MatchString(o.INN):
		writeError(w, invalid("inn", "ИНН has 10 digits (organization) or 12 (individual entrepreneur)"))
		return
	case o.OGRN != "" && !ogrnRE.MatchString(o.OGRN):
		writeError(w, invalid("ogrn", "ОГРН has 13 digits (ОГРНИП 15)"))
		return
	}
	if o.UIDRoot != "" {
		if err := domain.ValidateUID(o.UIDRoot); err != nil || len(o.UIDRoot) > 40 {
			writeError(w, invalid("uidRoot", "a UID root is a DICOM UID of at most 40 characters, so study UIDs under it fit in 64"))
			return
		}
	}
	if err := s.Store.CreateOrganization(r.Context(), &o); err != nil {
		s.fail(w, r, err)
		return
	}
	if o.PartOf == 0 {
		if err := s.Store.AddMembership(r.Context(), c.user.ID, domain.Membership{OrganizationID: o.ID, Roles: []domain.Role{domain.RoleAdmin}}); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	ev := c.audit(domain.ActionCreate, "organization.create")
	ev.OrganizationID, ev.ResourceType, ev.ResourceID = o.ID, "Organization", o.ID
	_ = s.writeAudit(r.Context(), ev)
	writeJSON(w, http.StatusCreated, o)
}

type userInput struct {
	Login       string              `json:"login"`
	Name        string              `json:"name"`
	Password    string              `json:"password"`
	Memberships []domain.Membership `json:"memberships"`
}

var loginRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$`)

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *caller) {
	admins := auth.OrgsWith(c.user, auth.UserAdmin)
	if len(admins) == 0 {
		writeError(w, errForbidden)
		return
	}
	var in userInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	if !loginRE.MatchString(in.Login) {
		writeError(w, invalid("login", "login: 2 to 64 Latin letters, digits, '.', '_', '-', '@'"))
		return
	}
	if n := len([]rune(in.Password)); n < 10 || n > 256 {
		writeError(w, invalid("password", "password must have 10 to 256 characters"))
		return
	}
	if len(in.Memberships) == 0 {
		writeError(w, invalid("memberships", "a user belongs to at least one organization"))
		return
	}
	for i, m := range in.Memberships {
		field := fmt.Sprintf("memberships[%d]", i)
		if !containsID(admins, m.OrganizationID) {
			writeError(w, invalid(field+".organization", "you can add users only to organizations you administer"))
			return
		}
		if len(m.Roles) == 0 {
			writeError(w, invalid(field+".roles", "at least one role is required"))
			return
		}
		for j, role := range m.Roles {
			if !role.Valid() {
				writeError(w, invalid(fmt.Sprintf("%s.roles[%d]", field, j), fmt.Sprintf("unknown role %q (admin, it, doctor, lab, registrar)", role)))
				return
			}
		}
	}
	hash, err := s.Hasher.Hash(r.Context(), in.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u := domain.User{Login: in.Login, Name: strings.TrimSpace(in.Name), PasswordHash: hash, Active: true, Memberships: in.Memberships}
	if err := s.Store.CreateUser(r.Context(), &u); err != nil {
		s.fail(w, r, err)
		return
	}
	ev := c.audit(domain.ActionCreate, "user.create")
	ev.OrganizationID, ev.ResourceType, ev.ResourceID = in.Memberships[0].OrganizationID, "Practitioner", u.ID
	_ = s.writeAudit(r.Context(), ev)
	writeJSON(w, http.StatusCreated, u)
}

func containsID(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}
