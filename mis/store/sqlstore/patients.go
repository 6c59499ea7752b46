package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// CreatePatient inserts a patient and their identifiers. The organization's
// patient counter is raised in the same transaction and checked against the
// limit; on PostgreSQL the counter's row lock also serializes concurrent
// creates in one organization, so the limit holds under load.
func (s *Store) CreatePatient(ctx context.Context, p *domain.Patient, maxPatients int, audit *domain.AuditEvent) error {
	t := now()
	p.Created, p.Updated, p.Version = t, t, 1
	err := s.inTx(ctx, func(tx *txn) error {
		var count int64
		err := tx.QueryRowContext(ctx, `UPDATE organizations SET patient_count = patient_count + 1
			WHERE id = $1 AND ($2 = 0 OR patient_count < $2) RETURNING patient_count`, p.OrganizationID, maxPatients).Scan(&count)
		if errors.Is(err, sql.ErrNoRows) {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM organizations WHERE id = $1`, p.OrganizationID).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				return fmt.Errorf("organization %d: %w", p.OrganizationID, store.ErrNotFound)
			}
			return &store.LimitError{What: "patients", Limit: maxPatients}
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO patients (org_id, family, given, patronymic, name_key, birth_date, gender,
			snils, enp, phone, address, active, version, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
			p.OrganizationID, p.Family, p.Given, p.Patronymic, domain.NameKey(p.Family, p.Given, p.Patronymic),
			p.BirthDate, string(p.Gender), p.SNILS, p.ENP, p.Phone, p.Address, p.Active, p.Version,
			micros(p.Created), micros(p.Updated)).Scan(&p.ID)
		if err != nil {
			return err
		}
		if err := s.insertIdentifiers(ctx, tx, p); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "Patient", p.ID, p.ID, p.OrganizationID)
	})
	if err != nil {
		p.ID, p.Version = 0, 0
	}
	return err
}

// insertIdentifiers indexes every identifier, СНИЛС and ЕНП included, under
// a per-organization unique key so that matching by identifier is exact.
func (s *Store) insertIdentifiers(ctx context.Context, tx *txn, p *domain.Patient) error {
	for i, id := range p.AllIdentifiers() {
		_, err := tx.ExecContext(ctx, `INSERT INTO patient_identifiers (org_id, system, value, patient_id, seq) VALUES ($1, $2, $3, $4, $5)`,
			p.OrganizationID, id.System, id.Value, p.ID, i)
		if s.d.IsUniqueViolation(err) {
			field := identifierField(p, i, id)
			return &store.ConflictError{Field: field, Message: "another patient of this organization has this identifier"}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// identifierField names the API field of the i-th entry of AllIdentifiers.
func identifierField(p *domain.Patient, i int, id domain.Identifier) string {
	switch id.System {
	case domain.SystemSNILS:
		return "snils"
	case domain.SystemENP:
		return "enp"
	}
	if p.SNILS != "" {
		i--
	}
	if p.ENP != "" {
		i--
	}
	return "identifier[" + strconv.Itoa(i) + "]"
}

const patientColumns = `id, org_id, family, given, patronymic, birth_date, gender, snils, enp, phone, address, active, version, created, updated`

func scanPatient(row interface{ Scan(...any) error }) (domain.Patient, error) {
	var p domain.Patient
	var gender string
	var created, updated int64
	err := row.Scan(&p.ID, &p.OrganizationID, &p.Family, &p.Given, &p.Patronymic, &p.BirthDate, &gender,
		&p.SNILS, &p.ENP, &p.Phone, &p.Address, &p.Active, &p.Version, &created, &updated)
	p.Gender, p.Created, p.Updated = domain.Gender(gender), fromMicros(created), fromMicros(updated)
	return p, err
}

// GetPatient reads a patient visible to orgs.
func (s *Store) GetPatient(ctx context.Context, orgs []int64, id int64) (*domain.Patient, error) {
	return s.getPatient(ctx, s.r, orgs, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) getPatient(ctx context.Context, q querier, orgs []int64, id int64) (*domain.Patient, error) {
	p, err := scanPatient(q.QueryRowContext(ctx, `SELECT `+patientColumns+` FROM patients WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && !contains(orgs, p.OrganizationID) {
		return nil, fmt.Errorf("patient %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	list := []domain.Patient{p}
	if err := loadIdentifiers(ctx, q, list); err != nil {
		return nil, err
	}
	return &list[0], nil
}

// loadIdentifiers fills the extra identifiers (not СНИЛС/ЕНП, which have
// their own columns) of the listed patients with one query.
func loadIdentifiers(ctx context.Context, q querier, list []domain.Patient) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, p := range list {
		ids[i], at[p.ID] = p.ID, i
	}
	in, args := inList(nil, ids)
	args = append(args, domain.SystemSNILS, domain.SystemENP)
	n := len(args)
	rows, err := q.QueryContext(ctx, `SELECT patient_id, system, value FROM patient_identifiers
		WHERE patient_id IN (`+in+`) AND system <> $`+strconv.Itoa(n-1)+` AND system <> $`+strconv.Itoa(n)+`
		ORDER BY patient_id, seq`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var id domain.Identifier
		if err := rows.Scan(&pid, &id.System, &id.Value); err != nil {
			return err
		}
		p := &list[at[pid]]
		p.Identifiers = append(p.Identifiers, id)
	}
	return rows.Err()
}

// UpdatePatient replaces a patient's fields under optimistic concurrency.
func (s *Store) UpdatePatient(ctx context.Context, orgs []int64, p *domain.Patient, audit *domain.AuditEvent) error {
	return s.inTx(ctx, func(tx *txn) error {
		cur, err := s.getPatient(ctx, tx, orgs, p.ID)
		if err != nil {
			return err
		}
		if cur.Version != p.Version {
			return &store.ConflictError{Field: "version",
				Message: fmt.Sprintf("the patient was changed by someone else (version %d, you sent %d); reload and retry", cur.Version, p.Version)}
		}
		p.OrganizationID, p.Created, p.Updated = cur.OrganizationID, cur.Created, now()
		res, err := tx.ExecContext(ctx, `UPDATE patients SET family = $1, given = $2, patronymic = $3, name_key = $4,
			birth_date = $5, gender = $6, snils = $7, enp = $8, phone = $9, address = $10, active = $11,
			version = version + 1, updated = $12 WHERE id = $13 AND version = $14`,
			p.Family, p.Given, p.Patronymic, domain.NameKey(p.Family, p.Given, p.Patronymic), p.BirthDate, string(p.Gender),
			p.SNILS, p.ENP, p.Phone, p.Address, p.Active, micros(p.Updated), p.ID, p.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &store.ConflictError{Field: "version", Message: "the patient was changed by someone else; reload and retry"}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM patient_identifiers WHERE patient_id = $1`, p.ID); err != nil {
			return err
		}
		if err := s.insertIdentifiers(ctx, tx, p); err != nil {
			return err
		}
		p.Version++
		return writeAudit(ctx, tx, audit, "Patient", p.ID, p.ID, p.OrganizationID)
	})
}

// SearchPatients finds patients by name prefix, СНИЛС, birth date and
// identifier, ordered by folded full name, in keyset pages.
func (s *Store) SearchPatients(ctx context.Context, q store.PatientQuery) ([]domain.Patient, string, error) {
	if len(q.Orgs) == 0 {
		return nil, "", nil
	}
	limit := pageLimit(q.Limit)
	var f filter
	f.in("org_id", q.Orgs)
	orgsIn := f.conds[0] // reused by the identifier subqueries
	if name := domain.FoldName(q.Name); name != "" {
		// A range on the folded key uses the (org_id, name_key) index in both
		// dialects, where LIKE would need per-dialect collation tricks.
		f.where("name_key >= " + f.arg(name) + " AND name_key < " + f.arg(prefixEnd(name)))
	}
	if q.BirthDate != "" {
		f.where("birth_date = " + f.arg(q.BirthDate))
	}
	for _, id := range []*domain.Identifier{snilsOf(q.SNILS), q.Identifier} {
		if id != nil {
			f.where("id IN (SELECT patient_id FROM patient_identifiers WHERE " + orgsIn + " AND system = " +
				f.arg(id.System) + " AND value = " + f.arg(id.Value) + ")")
		}
	}
	if q.Cursor != "" {
		key, id, err := decodeKeyCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		f.where("(name_key, id) > (" + f.arg(key) + ", " + f.arg(id) + ")")
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+patientColumns+`, name_key FROM patients`+f.sql()+
		` ORDER BY name_key, id LIMIT `+f.arg(limit+1), f.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var list []domain.Patient
	var keys []string
	for rows.Next() {
		var p domain.Patient
		var gender, key string
		var created, updated int64
		if err := rows.Scan(&p.ID, &p.OrganizationID, &p.Family, &p.Given, &p.Patronymic, &p.BirthDate, &gender,
			&p.SNILS, &p.ENP, &p.Phone, &p.Address, &p.Active, &p.Version, &created, &updated, &key); err != nil {
			return nil, "", err
		}
		p.Gender, p.Created, p.Updated = domain.Gender(gender), fromMicros(created), fromMicros(updated)
		list, keys = append(list, p), append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows.Close()
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeKeyCursor(keys[limit-1], list[limit-1].ID)
	}
	return list, next, loadIdentifiers(ctx, s.r, list)
}

func snilsOf(snils string) *domain.Identifier {
	if snils == "" {
		return nil
	}
	return &domain.Identifier{System: domain.SystemSNILS, Value: snils}
}

// prefixEnd is the least string greater than every string starting with p:
// p with its last rune incremented (a rune at the top of Unicode is dropped).
func prefixEnd(p string) string {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r < utf8.MaxRune {
			r++
			if r >= 0xD800 && r <= 0xDFFF { // surrogates are not valid runes
				r = 0xE000
			}
			return p + string(r)
		}
	}
	return string(utf8.MaxRune)
}

func encodeKeyCursor(key string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10) + "\x00" + key))
}

func decodeKeyCursor(c string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", 0, store.ErrBadCursor
	}
	idText, key, ok := strings.Cut(string(b), "\x00")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || !utf8.ValidString(key) {
		return "", 0, store.ErrBadCursor
	}
	return key, id, nil
}
