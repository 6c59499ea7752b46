package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// PutCodeMap creates or replaces a code map by organization and name.
func (s *Store) PutCodeMap(ctx context.Context, m *domain.CodeMap, audit *domain.AuditEvent) error {
	entries, err := json.Marshal(m.Entries)
	if err != nil {
		return err
	}
	m.Updated = now()
	return s.inTx(ctx, func(tx *txn) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO code_maps (org_id, name, entries, version, updated) VALUES ($1, $2, $3, 1, $4)
			ON CONFLICT (org_id, name) DO UPDATE SET entries = excluded.entries, version = code_maps.version + 1,
				updated = excluded.updated
			RETURNING id, version`, m.OrganizationID, m.Name, string(entries), micros(m.Updated)).Scan(&m.ID, &m.Version)
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "ConceptMap", m.ID, 0, m.OrganizationID)
	})
}

// GetCodeMap reads one code map.
func (s *Store) GetCodeMap(ctx context.Context, org int64, name string) (*domain.CodeMap, error) {
	list, err := s.codeMaps(ctx, `WHERE org_id = $1 AND name = $2`, org, name)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("code map %q: %w", name, store.ErrNotFound)
	}
	return &list[0], nil
}

// ListCodeMaps lists the code maps of the organizations.
func (s *Store) ListCodeMaps(ctx context.Context, orgs []int64) ([]domain.CodeMap, error) {
	if len(orgs) == 0 {
		return nil, nil
	}
	in, args := inList(nil, orgs)
	return s.codeMaps(ctx, `WHERE org_id IN (`+in+`) ORDER BY org_id, name`, args...)
}

func (s *Store) codeMaps(ctx context.Context, where string, args ...any) ([]domain.CodeMap, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, org_id, name, entries, version, updated FROM code_maps `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []domain.CodeMap{}
	for rows.Next() {
		var m domain.CodeMap
		var entries string
		var updated int64
		if err := rows.Scan(&m.ID, &m.OrganizationID, &m.Name, &entries, &m.Version, &updated); err != nil {
			return nil, err
		}
		m.Updated = fromMicros(updated)
		if err := json.Unmarshal([]byte(entries), &m.Entries); err != nil {
			return nil, fmt.Errorf("code map %s: %w", m.Name, err)
		}
		list = append(list, m)
	}
	return list, rows.Err()
}

// FindSpecimen finds a specimen by barcode.
func (s *Store) FindSpecimen(ctx context.Context, org int64, barcode string) (*domain.Specimen, error) {
	if barcode == "" {
		return nil, fmt.Errorf("specimen without a barcode: %w", store.ErrNotFound)
	}
	var sp domain.Specimen
	var collected sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT id, org_id, patient_id, request_id, barcode, type_system, type_code, type_display,
		collected, status FROM specimens WHERE org_id = $1 AND barcode = $2`, org, barcode).
		Scan(&sp.ID, &sp.OrganizationID, &sp.PatientID, &sp.RequestID, &sp.Barcode, &sp.Type.System, &sp.Type.Code,
			&sp.Type.Display, &collected, &sp.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("specimen: %w", store.ErrNotFound)
	}
	sp.Collected = timePtr(collected)
	return &sp, err
}

// FindOrderByAccession finds an order by accession number.
func (s *Store) FindOrderByAccession(ctx context.Context, org int64, accession string) (*domain.ServiceRequest, error) {
	return s.findOrder(ctx, `org_id = $1 AND accession = $2`, org, accession)
}

// FindOrderByStudyUID finds the imaging order a study was pre-assigned to.
func (s *Store) FindOrderByStudyUID(ctx context.Context, org int64, uid string) (*domain.ServiceRequest, error) {
	return s.findOrder(ctx, `org_id = $1 AND study_uid = $2`, org, uid)
}

func (s *Store) findOrder(ctx context.Context, where string, org int64, key string) (*domain.ServiceRequest, error) {
	if key == "" { // an empty key would match every order that lacks one
		return nil, fmt.Errorf("order without a key: %w", store.ErrNotFound)
	}
	args := []any{org, key}
	r, err := scanOrder(s.r.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM service_requests WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("order: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	list := []domain.ServiceRequest{r}
	return &list[0], loadSpecimens(ctx, s.r, list)
}

// FindPatientsByIdentifier finds patients by an identifier with its system.
func (s *Store) FindPatientsByIdentifier(ctx context.Context, org int64, id domain.Identifier) ([]domain.Patient, error) {
	if id.System == domain.SystemPatientID {
		// medgate's own patient ID, as its orders and worklist hand it out.
		n, err := strconv.ParseInt(strings.TrimSpace(id.Value), 10, 64)
		if err != nil || n <= 0 {
			return nil, nil
		}
		p, err := s.GetPatient(ctx, []int64{org}, n)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []domain.Patient{*p}, nil
	}
	list, _, err := s.SearchPatients(ctx, store.PatientQuery{Orgs: []int64{org}, Identifier: &id, Page: store.Page{Limit: 10}})
	return list, err
}

// FindPatientsByDemographics finds patients with this name, birth date and
// sex: candidates to propose, never to attach to.
func (s *Store) FindPatientsByDemographics(ctx context.Context, org int64, family, given, birthDate string, gender domain.Gender) ([]domain.Patient, error) {
	q := store.PatientQuery{Orgs: []int64{org}, Name: family + " " + given, BirthDate: birthDate, Page: store.Page{Limit: 20}}
	list, _, err := s.SearchPatients(ctx, q)
	if err != nil {
		return nil, err
	}
	out := list[:0]
	for _, p := range list {
		if domain.FoldName(p.Family) == domain.FoldName(family) && (gender == "" || gender == domain.GenderUnknown || p.Gender == gender) {
			out = append(out, p)
		}
	}
	return out, nil
}
