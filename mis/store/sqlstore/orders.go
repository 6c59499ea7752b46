package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// nextSeq draws the next number of an organization's named sequence inside tx.
func nextSeq(ctx context.Context, tx *txn, org int64, name string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `INSERT INTO counters (org_id, name, value) VALUES ($1, $2, 1)
		ON CONFLICT (org_id, name) DO UPDATE SET value = counters.value + 1 RETURNING value`, org, name).Scan(&v)
	return v, err
}

// CreateServiceRequest inserts an order with its keys: accession number,
// the lab specimen and its barcode, the imaging Study Instance UID; an
// active lab order is queued for the devices that receive orders (see
// store.OutboundStore).
func (s *Store) CreateServiceRequest(ctx context.Context, r *domain.ServiceRequest, audit *domain.AuditEvent) error {
	t := now()
	r.AuthoredOn, r.Updated = t, t
	given := *r
	err := s.inTx(ctx, func(tx *txn) error {
		if err := s.insertOrder(ctx, tx, r); err != nil {
			return err
		}
		// The devices that receive orders get it with the order, or not at all.
		if err := enqueueNewOrder(ctx, tx, r); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "ServiceRequest", r.ID, r.PatientID, r.OrganizationID)
	})
	if err != nil {
		*r = given
	}
	return err
}

// insertOrder writes a new order and its keys in tx: the patient must be
// the organization's; an accession number given is checked, else a free
// one drawn; an imaging order gets its Study Instance UID; a lab order its
// specimens.
func (s *Store) insertOrder(ctx context.Context, tx *txn, r *domain.ServiceRequest) error {
	var patientOrg int64
	err := tx.QueryRowContext(ctx, `SELECT org_id FROM patients WHERE id = $1`, r.PatientID).Scan(&patientOrg)
	if errors.Is(err, sql.ErrNoRows) || err == nil && patientOrg != r.OrganizationID {
		return fmt.Errorf("patient %d: %w", r.PatientID, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if r.AccessionNumber == "" {
		if r.AccessionNumber, err = s.freeAccession(ctx, tx, r.OrganizationID, r.Category); err != nil {
			return err
		}
	} else if taken, err := exists(ctx, tx, `SELECT count(*) FROM service_requests WHERE org_id = $1 AND accession = $2`,
		r.OrganizationID, r.AccessionNumber); err != nil {
		return err
	} else if taken {
		return &store.ConflictError{Field: "accessionNumber", Message: fmt.Sprintf("accession number %q is already used in this organization", r.AccessionNumber)}
	}
	if r.Category == domain.CategoryImaging {
		if r.StudyInstanceUID == "" {
			var root string
			if err := tx.QueryRowContext(ctx, `SELECT uid_root FROM organizations WHERE id = $1`, r.OrganizationID).Scan(&root); err != nil {
				return err
			}
			n, err := nextSeq(ctx, tx, r.OrganizationID, "study_uid")
			if err != nil {
				return err
			}
			r.StudyInstanceUID = domain.StudyUID(root, r.OrganizationID, n)
		} else if taken, err := exists(ctx, tx, `SELECT count(*) FROM service_requests WHERE study_uid = $1`, r.StudyInstanceUID); err != nil {
			return err
		} else if taken {
			return &store.ConflictError{Field: "studyInstanceUid", Message: "another order has this Study Instance UID"}
		}
	}
	codes, _ := json.Marshal(r.Codes)
	err = tx.QueryRowContext(ctx, `INSERT INTO service_requests (org_id, branch_id, patient_id, category, accession, codes,
		procedure_text, modality, body_site, priority, requester_id, status, study_uid, station_ae, scheduled, note, authored, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
		r.OrganizationID, nullID(r.BranchID), r.PatientID, string(r.Category), r.AccessionNumber, string(codes),
		r.Procedure, r.Modality, r.BodySite, string(r.Priority), nullID(r.RequesterID), string(r.Status), r.StudyInstanceUID,
		r.ScheduledStationAE, nullMicros(r.Scheduled), r.Note, micros(r.AuthoredOn), micros(r.Updated)).Scan(&r.ID)
	if s.d.IsUniqueViolation(err) {
		return &store.ConflictError{Field: "accessionNumber", Message: "accession number or Study Instance UID already used"}
	}
	if err != nil {
		return err
	}
	if r.Category == domain.CategoryLab {
		return s.addSpecimens(ctx, tx, r)
	}
	return nil
}

// freeAccession draws accession numbers until one is unused; numbers given
// by hand (imported orders) may already occupy the sequence's next value.
func (s *Store) freeAccession(ctx context.Context, tx *txn, org int64, c domain.Category) (string, error) {
	for {
		n, err := nextSeq(ctx, tx, org, "accession")
		if err != nil {
			return "", err
		}
		acc := domain.AccessionNumber(c, n)
		taken, err := exists(ctx, tx, `SELECT count(*) FROM service_requests WHERE org_id = $1 AND accession = $2`, org, acc)
		if err != nil || !taken {
			return acc, err
		}
	}
}

// addSpecimens gives a lab order its specimens, one by default, each with
// a fresh barcode unless the caller supplied one.
func (s *Store) addSpecimens(ctx context.Context, tx *txn, r *domain.ServiceRequest) error {
	if len(r.Specimens) == 0 {
		r.Specimens = []domain.Specimen{{}}
	}
	for i := range r.Specimens {
		sp := &r.Specimens[i]
		sp.OrganizationID, sp.PatientID, sp.RequestID = r.OrganizationID, r.PatientID, r.ID
		if sp.Status == "" {
			sp.Status = "available"
		}
		if sp.Barcode == "" {
			n, err := nextSeq(ctx, tx, r.OrganizationID, "barcode")
			if err != nil {
				return err
			}
			sp.Barcode = domain.SpecimenBarcode(n)
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO specimens (org_id, patient_id, request_id, barcode, type_system, type_code,
			type_display, collected, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			sp.OrganizationID, sp.PatientID, sp.RequestID, sp.Barcode, sp.Type.System, sp.Type.Code, sp.Type.Display,
			nullMicros(sp.Collected), sp.Status).Scan(&sp.ID)
		if s.d.IsUniqueViolation(err) {
			return &store.ConflictError{Field: "specimen[" + strconv.Itoa(i) + "].barcode", Message: "barcode already used in this organization"}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func exists(ctx context.Context, tx *txn, query string, args ...any) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&n)
	return n > 0, err
}

const orderColumns = `id, org_id, branch_id, patient_id, category, accession, codes, procedure_text, modality, body_site,
	priority, requester_id, status, study_uid, station_ae, scheduled, note, authored, updated`

func scanOrder(row interface{ Scan(...any) error }) (domain.ServiceRequest, error) {
	var r domain.ServiceRequest
	var branch, requester, scheduled sql.NullInt64
	var category, codes, priority, status string
	var authored, updated int64
	err := row.Scan(&r.ID, &r.OrganizationID, &branch, &r.PatientID, &category, &r.AccessionNumber, &codes, &r.Procedure,
		&r.Modality, &r.BodySite, &priority, &requester, &status, &r.StudyInstanceUID, &r.ScheduledStationAE, &scheduled,
		&r.Note, &authored, &updated)
	if err != nil {
		return r, err
	}
	r.BranchID, r.RequesterID, r.Scheduled = branch.Int64, requester.Int64, timePtr(scheduled)
	r.Category, r.Priority, r.Status = domain.Category(category), domain.Priority(priority), domain.RequestStatus(status)
	r.AuthoredOn, r.Updated = fromMicros(authored), fromMicros(updated)
	if err := json.Unmarshal([]byte(codes), &r.Codes); err != nil {
		return r, fmt.Errorf("order %d codes: %w", r.ID, err)
	}
	return r, nil
}

// GetServiceRequest reads an order with its specimens.
func (s *Store) GetServiceRequest(ctx context.Context, orgs []int64, id int64) (*domain.ServiceRequest, error) {
	return s.getOrder(ctx, s.r, orgs, id)
}

func (s *Store) getOrder(ctx context.Context, q querier, orgs []int64, id int64) (*domain.ServiceRequest, error) {
	r, err := scanOrder(q.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM service_requests WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && !contains(orgs, r.OrganizationID) {
		return nil, fmt.Errorf("order %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	list := []domain.ServiceRequest{r}
	if err := loadSpecimens(ctx, q, list); err != nil {
		return nil, err
	}
	return &list[0], nil
}

func loadSpecimens(ctx context.Context, q querier, list []domain.ServiceRequest) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, r := range list {
		ids[i], at[r.ID] = r.ID, i
	}
	in, args := inList(nil, ids)
	rows, err := q.QueryContext(ctx, `SELECT id, org_id, patient_id, request_id, barcode, type_system, type_code, type_display,
		collected, status FROM specimens WHERE request_id IN (`+in+`) ORDER BY id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sp domain.Specimen
		var collected sql.NullInt64
		if err := rows.Scan(&sp.ID, &sp.OrganizationID, &sp.PatientID, &sp.RequestID, &sp.Barcode, &sp.Type.System,
			&sp.Type.Code, &sp.Type.Display, &collected, &sp.Status); err != nil {
			return err
		}
		sp.Collected = timePtr(collected)
		r := &list[at[sp.RequestID]]
		r.Specimens = append(r.Specimens, sp)
	}
	return rows.Err()
}

// ListServiceRequests lists orders newest first.
func (s *Store) ListServiceRequests(ctx context.Context, q store.OrderQuery) ([]domain.ServiceRequest, string, error) {
	if len(q.Orgs) == 0 {
		return nil, "", nil
	}
	limit := pageLimit(q.Limit)
	var f filter
	f.in("org_id", q.Orgs)
	if q.PatientID != 0 {
		f.where("patient_id = " + f.arg(q.PatientID))
	}
	if q.Status != "" {
		f.where("status = " + f.arg(string(q.Status)))
	}
	if q.Category != "" {
		f.where("category = " + f.arg(string(q.Category)))
	}
	if err := f.afterID("id", q.Cursor, true); err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+orderColumns+` FROM service_requests`+f.sql()+
		` ORDER BY id DESC LIMIT `+f.arg(limit+1), f.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var list []domain.ServiceRequest
	for rows.Next() {
		r, err := scanOrder(rows)
		if err != nil {
			return nil, "", err
		}
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows.Close()
	list, next := trimPage(list, limit, func(r domain.ServiceRequest) int64 { return r.ID })
	return list, next, loadSpecimens(ctx, s.r, list)
}

// SetServiceRequestStatus moves an order along its lifecycle; activating a
// lab order queues it for the devices that receive orders, cancelling it
// queues a cancellation for those it was queued for.
func (s *Store) SetServiceRequestStatus(ctx context.Context, orgs []int64, id int64, to domain.RequestStatus, audit *domain.AuditEvent) (*domain.ServiceRequest, error) {
	var out *domain.ServiceRequest
	err := s.inTx(ctx, func(tx *txn) error {
		r, err := s.getOrder(ctx, tx, orgs, id)
		if err != nil {
			return err
		}
		if !r.Status.CanMove(to) {
			return &store.ConflictError{Field: "status", Message: fmt.Sprintf("an order that is %s cannot become %s", r.Status, to)}
		}
		r.Updated = now()
		res, err := tx.ExecContext(ctx, `UPDATE service_requests SET status = $1, updated = $2 WHERE id = $3 AND status = $4`,
			string(to), micros(r.Updated), id, string(r.Status))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &store.ConflictError{Field: "status", Message: "the order was changed by someone else; reload and retry"}
		}
		from := r.Status
		r.Status = to
		out = r
		switch {
		case to == domain.StatusActive:
			err = enqueueNewOrder(ctx, tx, r)
		case r.Category == domain.CategoryLab && (to == domain.StatusCancelled || to == domain.StatusEnteredInError) && from != domain.StatusCompleted:
			err = enqueueCancel(ctx, tx, r)
		}
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "ServiceRequest", r.ID, r.PatientID, r.OrganizationID)
	})
	return out, err
}
