package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// CreateOrganization inserts an organization or branch.
func (s *Store) CreateOrganization(ctx context.Context, o *domain.Organization) error {
	if o.Created.IsZero() {
		o.Created = now()
	}
	return s.inTx(ctx, func(tx *txn) error {
		return tx.QueryRowContext(ctx, `INSERT INTO organizations (part_of, name, inn, ogrn, uid_root, active, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			nullID(o.PartOf), o.Name, o.INN, o.OGRN, o.UIDRoot, o.Active, micros(o.Created)).Scan(&o.ID)
	})
}

const orgColumns = `id, part_of, name, inn, ogrn, uid_root, active, created`

func scanOrg(row interface{ Scan(...any) error }) (domain.Organization, error) {
	var o domain.Organization
	var partOf sql.NullInt64
	var created int64
	err := row.Scan(&o.ID, &partOf, &o.Name, &o.INN, &o.OGRN, &o.UIDRoot, &o.Active, &created)
	o.PartOf, o.Created = partOf.Int64, fromMicros(created)
	return o, err
}

// GetOrganization reads one organization.
func (s *Store) GetOrganization(ctx context.Context, id int64) (*domain.Organization, error) {
	o, err := scanOrg(s.r.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("organization %d: %w", id, store.ErrNotFound)
	}
	return &o, err
}

// ListOrganizations lists all organizations by id.
func (s *Store) ListOrganizations(ctx context.Context) ([]domain.Organization, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+orgColumns+` FROM organizations ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []domain.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, o)
	}
	return list, rows.Err()
}

// CreateUser inserts a user and their memberships. Logins are unique
// regardless of case.
func (s *Store) CreateUser(ctx context.Context, u *domain.User) error {
	if u.Created.IsZero() {
		u.Created = now()
	}
	return s.inTx(ctx, func(tx *txn) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO users (login, login_key, name, password_hash, active, created)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			u.Login, strings.ToLower(u.Login), u.Name, u.PasswordHash, u.Active, micros(u.Created)).Scan(&u.ID)
		if s.d.IsUniqueViolation(err) {
			return &store.ConflictError{Field: "login", Message: fmt.Sprintf("login %q is taken", u.Login)}
		}
		if err != nil {
			return err
		}
		for _, m := range u.Memberships {
			if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (user_id, org_id, roles) VALUES ($1, $2, $3)`,
				u.ID, m.OrganizationID, joinRoles(m.Roles)); err != nil {
				if s.d.IsUniqueViolation(err) {
					return &store.ConflictError{Field: "memberships", Message: "organization listed twice"}
				}
				return err
			}
		}
		return nil
	})
}

func joinRoles(rs []domain.Role) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

func splitRoles(s string) []domain.Role {
	var rs []domain.Role
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			rs = append(rs, domain.Role(p))
		}
	}
	return rs
}

// AddMembership upserts a user's roles in one organization.
func (s *Store) AddMembership(ctx context.Context, userID int64, m domain.Membership) error {
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO memberships (user_id, org_id, roles) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, org_id) DO UPDATE SET roles = excluded.roles`, userID, m.OrganizationID, joinRoles(m.Roles))
		return err
	})
}

// GetUser reads a user with memberships.
func (s *Store) GetUser(ctx context.Context, id int64) (*domain.User, error) {
	return s.getUser(ctx, `id = $1`, id)
}

// GetUserByLogin reads a user by login, case-insensitively.
func (s *Store) GetUserByLogin(ctx context.Context, login string) (*domain.User, error) {
	return s.getUser(ctx, `login_key = $1`, strings.ToLower(login))
}

func (s *Store) getUser(ctx context.Context, where string, arg any) (*domain.User, error) {
	var u domain.User
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT id, login, name, password_hash, active, created FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Login, &u.Name, &u.PasswordHash, &u.Active, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	u.Created = fromMicros(created)
	rows, err := s.r.QueryContext(ctx, `SELECT org_id, roles FROM memberships WHERE user_id = $1 ORDER BY org_id`, u.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m domain.Membership
		var roles string
		if err := rows.Scan(&m.OrganizationID, &roles); err != nil {
			return nil, err
		}
		m.Roles = splitRoles(roles)
		u.Memberships = append(u.Memberships, m)
	}
	return &u, rows.Err()
}

// CreateSession stores a session by its token hash.
func (s *Store) CreateSession(ctx context.Context, ss domain.Session) error {
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created, expires, address) VALUES ($1, $2, $3, $4, $5)`,
			ss.TokenHash, ss.UserID, micros(ss.Created), micros(ss.Expires), ss.Address)
		return err
	})
}

// GetSession reads a session by token hash.
func (s *Store) GetSession(ctx context.Context, tokenHash string) (*domain.Session, error) {
	ss := domain.Session{TokenHash: tokenHash}
	var created, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT user_id, created, expires, address FROM sessions WHERE token_hash = $1`, tokenHash).
		Scan(&ss.UserID, &created, &expires, &ss.Address)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	ss.Created, ss.Expires = fromMicros(created), fromMicros(expires)
	return &ss, err
}

// DeleteSession removes a session (logout) and any expired ones.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1 OR expires < $2`, tokenHash, micros(now()))
		return err
	})
}

// WriteAudit records an event on its own, for reads and failures.
func (s *Store) WriteAudit(ctx context.Context, ev *domain.AuditEvent) error {
	return s.inTx(ctx, func(tx *txn) error { return writeAudit(ctx, tx, ev, "", 0, 0, 0) })
}

// writeAudit inserts ev in tx. The store knows the audited record here —
// created or loaded in the same transaction — so its type, ID, patient and
// organization are filled in where the caller left them empty.
func writeAudit(ctx context.Context, tx *txn, ev *domain.AuditEvent, resType string, resID, patientID, orgID int64) error {
	if ev == nil {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = now()
	}
	if ev.ResourceType == "" {
		ev.ResourceType = resType
	}
	if ev.ResourceID == 0 {
		ev.ResourceID = resID
	}
	if ev.PatientID == 0 {
		ev.PatientID = patientID
	}
	if ev.OrganizationID == 0 {
		ev.OrganizationID = orgID
	}
	return tx.QueryRowContext(ctx, `INSERT INTO audit_events (time, user_id, login, action, event, org_id, patient_id,
		resource_type, resource_id, address, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		micros(ev.Time), nullID(ev.UserID), ev.Login, ev.Action, ev.Event, nullID(ev.OrganizationID), nullID(ev.PatientID),
		ev.ResourceType, nullID(ev.ResourceID), ev.Address, ev.Outcome, ev.Detail).Scan(&ev.ID)
}

// ListAudit lists audit events newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]domain.AuditEvent, string, error) {
	limit := pageLimit(q.Limit)
	var f filter
	if len(q.Orgs) > 0 {
		f.in("org_id", q.Orgs)
	}
	if q.PatientID != 0 {
		f.where("patient_id = " + f.arg(q.PatientID))
	}
	if q.UserID != 0 {
		f.where("user_id = " + f.arg(q.UserID))
	}
	if err := f.afterID("id", q.Cursor, true); err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, user_id, login, action, event, org_id, patient_id, resource_type,
		resource_id, address, outcome, detail FROM audit_events`+f.sql()+` ORDER BY id DESC LIMIT `+f.arg(limit+1), f.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var list []domain.AuditEvent
	for rows.Next() {
		var ev domain.AuditEvent
		var t int64
		var user, org, patient, res sql.NullInt64
		if err := rows.Scan(&ev.ID, &t, &user, &ev.Login, &ev.Action, &ev.Event, &org, &patient,
			&ev.ResourceType, &res, &ev.Address, &ev.Outcome, &ev.Detail); err != nil {
			return nil, "", err
		}
		ev.Time, ev.UserID, ev.OrganizationID, ev.PatientID, ev.ResourceID = fromMicros(t), user.Int64, org.Int64, patient.Int64, res.Int64
		list = append(list, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	list, next := trimPage(list, limit, func(ev domain.AuditEvent) int64 { return ev.ID })
	return list, next, nil
}

func encodeIDCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeIDCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, store.ErrBadCursor
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, store.ErrBadCursor
	}
	return id, nil
}
