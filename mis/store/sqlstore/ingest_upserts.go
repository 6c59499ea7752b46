package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Patients and orders an outside system sent (HL7 ADT, ORM^O01, OML^O21),
// written by applyIngest in the message's transaction. See
// domain.PatientUpsert and domain.OrderUpsert for the contract; every
// write is audited as a system action ("patient.create.hl7", …) with the
// message id in the detail, and a message processed again finds what it
// wrote the first time, so it never creates a second patient or order.

// FindOrdersByIdentifier lists the orders of org holding an outside
// identifier (placer or filler number) with this value, in any system.
func (s *Store) FindOrdersByIdentifier(ctx context.Context, org int64, value string) ([]domain.OrderRef, error) {
	if value == "" {
		return nil, nil
	}
	return findOrderRefs(ctx, s.r, `i.org_id = $1 AND i.value = $2`, org, value)
}

func findOrderRefs(ctx context.Context, q querier, where string, args ...any) ([]domain.OrderRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT i.system, i.value, `+orderColumnsAs("r")+`
		FROM order_identifiers i JOIN service_requests r ON r.id = i.request_id WHERE `+where+` ORDER BY r.id, i.system`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []domain.OrderRef
	var orders []domain.ServiceRequest
	for rows.Next() {
		var ref domain.OrderRef
		var sys, val string
		var scanErr error
		o, err := scanOrder(scanFunc(func(dest ...any) error {
			scanErr = rows.Scan(append([]any{&sys, &val}, dest...)...)
			return scanErr
		}))
		if err != nil {
			return nil, err
		}
		ref.Identifier, ref.Order = domain.Identifier{System: sys, Value: val}, o
		refs = append(refs, ref)
		if !slices.ContainsFunc(orders, func(x domain.ServiceRequest) bool { return x.ID == o.ID }) {
			orders = append(orders, o)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if err := loadSpecimens(ctx, q, orders); err != nil {
		return nil, err
	}
	for i := range refs {
		for _, o := range orders {
			if o.ID == refs[i].Order.ID {
				refs[i].Order.Specimens = o.Specimens
			}
		}
	}
	return refs, nil
}

// orderColumnsAs qualifies orderColumns with a table alias.
func orderColumnsAs(alias string) string {
	parts := strings.Split(orderColumns, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// applyUpserts writes r's patients, then its orders. Reconciliation items
// it has to add itself (a patient beyond the organization's limit, and the
// orders waiting for that patient) are appended to r.Recon before
// applyIngest writes the queue.
func applyUpserts(ctx context.Context, tx *txn, messageID, org int64, r *store.IngestResult) error {
	if len(r.Patients) == 0 && len(r.Orders) == 0 {
		return nil
	}
	st := &Store{d: *tx.d}
	patientIDs := make([]int64, len(r.Patients))
	for i := range r.Patients {
		id, err := st.upsertPatient(ctx, tx, messageID, org, &r.Patients[i])
		var limit *store.LimitError
		if errors.As(err, &limit) {
			waiting := 0
			for _, o := range r.Orders {
				if o.Patient == i {
					waiting++
				}
			}
			detail := "patient not registered: " + limit.Error() + "; raise the limit and reprocess the message"
			if waiting > 0 {
				detail += fmt.Sprintf(" (%d order(s) of the message wait for this patient)", waiting)
			}
			r.Recon = append(r.Recon, domain.ReconDraft{Item: domain.ReconItem{Kind: "patient", Reason: domain.ReasonPatientLimit,
				Detail: detail, Key: "limit:patients"}, Report: -1, Study: -1})
			continue
		}
		if err != nil {
			return fmt.Errorf("patient %d of the message: %w", i, err)
		}
		patientIDs[i] = id
	}
	for i := range r.Orders {
		o := &r.Orders[i]
		if o.Patient >= 0 {
			if o.Patient >= len(patientIDs) {
				return fmt.Errorf("order %d of the message: patient index %d out of range", i, o.Patient)
			}
			if patientIDs[o.Patient] == 0 {
				continue // waits for its patient (queued above)
			}
			o.Request.PatientID = patientIDs[o.Patient]
		}
		if err := st.upsertOrder(ctx, tx, messageID, org, o); err != nil {
			return fmt.Errorf("order %d of the message: %w", i, err)
		}
	}
	if len(r.Recon) > 0 && r.Status == domain.MessageProcessed {
		r.Status = domain.MessageQueued
	}
	return nil
}

// patientsWith lists the patients of org holding any of ids.
func patientsWith(ctx context.Context, tx *txn, org int64, ids []domain.Identifier) ([]int64, error) {
	var out []int64
	for _, id := range ids {
		rows, err := tx.QueryContext(ctx, `SELECT patient_id FROM patient_identifiers WHERE org_id = $1 AND system = $2 AND value = $3`,
			org, id.System, id.Value)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var pid int64
			if err := rows.Scan(&pid); err != nil {
				rows.Close()
				return nil, err
			}
			if !slices.Contains(out, pid) {
				out = append(out, pid)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) upsertPatient(ctx context.Context, tx *txn, messageID, org int64, u *domain.PatientUpsert) (int64, error) {
	p := u.Patient
	p.OrganizationID = org
	holders, err := patientsWith(ctx, tx, org, p.AllIdentifiers())
	if err != nil {
		return 0, err
	}
	id := u.ID
	switch {
	case id == 0 && len(holders) == 1:
		id = holders[0] // registered meanwhile, or by an earlier run of this message
	case len(holders) > 1 || id != 0 && len(holders) == 1 && holders[0] != id:
		return 0, &store.ConflictError{Field: "identifier", Message: "the message's identifiers now name another patient; process it again"}
	}
	source := u.Source
	if source == "" {
		source = "ingest"
	}
	detail := strings.TrimSpace(fmt.Sprintf("%s (message %d)", u.Detail, messageID))
	if id == 0 {
		return s.createUpserted(ctx, tx, &p, u.MaxPatients, &domain.AuditEvent{Action: domain.ActionCreate,
			Event: "patient.create." + source, Detail: detail})
	}
	cur, err := s.getPatient(ctx, tx, []int64{org}, id)
	if err != nil {
		return 0, err
	}
	merged := *cur
	merged.Identifiers = slices.Clone(cur.Identifiers)
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&merged.Family, p.Family}, {&merged.Given, p.Given}, {&merged.Patronymic, p.Patronymic},
		{&merged.BirthDate, p.BirthDate}, {&merged.SNILS, p.SNILS}, {&merged.ENP, p.ENP},
		{&merged.Phone, p.Phone}, {&merged.Address, p.Address},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if p.Gender != "" {
		merged.Gender = p.Gender
	}
	for _, pid := range p.Identifiers {
		if !slices.Contains(merged.Identifiers, pid) {
			merged.Identifiers = append(merged.Identifiers, pid)
		}
	}
	if samePatient(cur, &merged) {
		return id, nil // nothing new: no write, no version bump
	}
	merged.Updated = now()
	res, err := tx.ExecContext(ctx, `UPDATE patients SET family = $1, given = $2, patronymic = $3, name_key = $4,
		birth_date = $5, gender = $6, snils = $7, enp = $8, phone = $9, address = $10,
		version = version + 1, updated = $11 WHERE id = $12 AND version = $13`,
		merged.Family, merged.Given, merged.Patronymic, domain.NameKey(merged.Family, merged.Given, merged.Patronymic),
		merged.BirthDate, string(merged.Gender), merged.SNILS, merged.ENP, merged.Phone, merged.Address,
		micros(merged.Updated), id, cur.Version)
	if err != nil {
		return 0, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return 0, &store.ConflictError{Field: "version", Message: "the patient changed during the update; process the message again"}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM patient_identifiers WHERE patient_id = $1`, id); err != nil {
		return 0, err
	}
	if err := s.insertIdentifiers(ctx, tx, &merged); err != nil {
		return 0, err
	}
	ev := &domain.AuditEvent{Action: domain.ActionUpdate, Event: "patient.update." + source, Detail: detail}
	return id, writeAudit(ctx, tx, ev, "Patient", id, id, org)
}

func samePatient(a, b *domain.Patient) bool {
	return a.Family == b.Family && a.Given == b.Given && a.Patronymic == b.Patronymic && a.BirthDate == b.BirthDate &&
		a.Gender == b.Gender && a.SNILS == b.SNILS && a.ENP == b.ENP && a.Phone == b.Phone && a.Address == b.Address &&
		slices.Equal(a.Identifiers, b.Identifiers)
}

// createUpserted inserts a patient as CreatePatient does, inside tx.
func (s *Store) createUpserted(ctx context.Context, tx *txn, p *domain.Patient, maxPatients int, audit *domain.AuditEvent) (int64, error) {
	t := now()
	p.Created, p.Updated, p.Version, p.Active = t, t, 1, true
	if p.Gender == "" {
		p.Gender = domain.GenderUnknown
	}
	var count int64
	err := tx.QueryRowContext(ctx, `UPDATE organizations SET patient_count = patient_count + 1
		WHERE id = $1 AND ($2 = 0 OR patient_count < $2) RETURNING patient_count`, p.OrganizationID, maxPatients).Scan(&count)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &store.LimitError{What: "patients", Limit: maxPatients}
	}
	if err != nil {
		return 0, err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO patients (org_id, family, given, patronymic, name_key, birth_date, gender,
		snils, enp, phone, address, active, version, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		p.OrganizationID, p.Family, p.Given, p.Patronymic, domain.NameKey(p.Family, p.Given, p.Patronymic),
		p.BirthDate, string(p.Gender), p.SNILS, p.ENP, p.Phone, p.Address, p.Active, p.Version,
		micros(p.Created), micros(p.Updated)).Scan(&p.ID)
	if err != nil {
		return 0, err
	}
	if err := s.insertIdentifiers(ctx, tx, p); err != nil {
		return 0, err
	}
	return p.ID, writeAudit(ctx, tx, audit, "Patient", p.ID, p.ID, p.OrganizationID)
}

// ordersWith lists the orders of org holding any of ids.
func ordersWith(ctx context.Context, tx *txn, org int64, ids []domain.Identifier) ([]int64, error) {
	var out []int64
	for _, id := range ids {
		var rid int64
		err := tx.QueryRowContext(ctx, `SELECT request_id FROM order_identifiers WHERE org_id = $1 AND system = $2 AND value = $3`,
			org, id.System, id.Value).Scan(&rid)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, rid) {
			out = append(out, rid)
		}
	}
	return out, nil
}

func (s *Store) upsertOrder(ctx context.Context, tx *txn, messageID, org int64, u *domain.OrderUpsert) error {
	holders, err := ordersWith(ctx, tx, org, u.Identifiers)
	if err != nil {
		return err
	}
	id := u.ID
	switch {
	case id == 0 && len(holders) == 1:
		id = holders[0] // created by an earlier run of this message, or a resend
	case len(holders) > 1 || id != 0 && len(holders) == 1 && holders[0] != id:
		return &store.ConflictError{Field: "identifier", Message: "the message's order numbers now name another order; process it again"}
	}
	source := u.Source
	if source == "" {
		source = "ingest"
	}
	detail := strings.TrimSpace(fmt.Sprintf("%s (message %d)", u.Detail, messageID))
	r := u.Request
	r.OrganizationID = org
	if id == 0 {
		return s.createUpsertedOrder(ctx, tx, &r, u.Identifiers, &domain.AuditEvent{Action: domain.ActionCreate,
			Event: "order.create." + source, Detail: detail})
	}
	cur, err := s.getOrder(ctx, tx, []int64{org}, id)
	if err != nil {
		return err
	}
	if r.PatientID != 0 && r.PatientID != cur.PatientID {
		return &store.ConflictError{Field: "patient", Message: fmt.Sprintf("order %d belongs to another patient; process the message again", id)}
	}
	next := *cur
	changed := false
	if len(r.Codes) > 0 && !slices.Equal(r.Codes, cur.Codes) {
		next.Codes, changed = r.Codes, true
	}
	if r.Priority != "" && r.Priority != cur.Priority {
		next.Priority, changed = r.Priority, true
	}
	if r.Note != "" && r.Note != cur.Note {
		next.Note, changed = r.Note, true
	}
	if r.Scheduled != nil && (cur.Scheduled == nil || !r.Scheduled.Equal(*cur.Scheduled)) {
		next.Scheduled, changed = r.Scheduled, true
	}
	if u.Status != "" && u.Status != cur.Status && cur.Status.CanMove(u.Status) {
		next.Status, changed = u.Status, true
	}
	var added []domain.Specimen
	for _, sp := range r.Specimens {
		if slices.ContainsFunc(cur.Specimens, func(h domain.Specimen) bool { return h.Barcode == sp.Barcode }) {
			continue
		}
		added = append(added, sp)
	}
	newIDs, err := missingOrderIdentifiers(ctx, tx, org, id, u.Identifiers)
	if err != nil {
		return err
	}
	if !changed && len(added) == 0 && len(newIDs) == 0 {
		return nil // nothing new: no write
	}
	next.Updated = now()
	codes, _ := json.Marshal(next.Codes)
	if _, err := tx.ExecContext(ctx, `UPDATE service_requests SET codes = $1, priority = $2, note = $3, scheduled = $4, status = $5,
		updated = $6 WHERE id = $7`, string(codes), string(next.Priority), next.Note, nullMicros(next.Scheduled), string(next.Status),
		micros(next.Updated), id); err != nil {
		return err
	}
	if len(added) > 0 && next.Category == domain.CategoryLab {
		next.Specimens = added
		if err := s.addSpecimens(ctx, tx, &next); err != nil {
			return err
		}
	}
	if err := insertOrderIdentifiers(ctx, tx, org, id, newIDs); err != nil {
		return err
	}
	event := "order.update." + source
	if next.Status == domain.StatusCancelled && cur.Status != domain.StatusCancelled {
		event = "order.cancel." + source
	}
	ev := &domain.AuditEvent{Action: domain.ActionUpdate, Event: event, Detail: detail}
	return writeAudit(ctx, tx, ev, "ServiceRequest", id, cur.PatientID, org)
}

// missingOrderIdentifiers are the ids the order does not hold yet; one
// held by another order is a conflict.
func missingOrderIdentifiers(ctx context.Context, tx *txn, org, order int64, ids []domain.Identifier) ([]domain.Identifier, error) {
	var out []domain.Identifier
	for _, id := range ids {
		var rid int64
		err := tx.QueryRowContext(ctx, `SELECT request_id FROM order_identifiers WHERE org_id = $1 AND system = $2 AND value = $3`,
			org, id.System, id.Value).Scan(&rid)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = append(out, id)
		case err != nil:
			return nil, err
		case rid != order:
			return nil, &store.ConflictError{Field: "identifier", Message: "another order holds this order number"}
		}
	}
	return out, nil
}

func insertOrderIdentifiers(ctx context.Context, tx *txn, org, order int64, ids []domain.Identifier) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO order_identifiers (org_id, system, value, request_id) VALUES ($1, $2, $3, $4)`,
			org, id.System, id.Value, order); err != nil {
			return err
		}
	}
	return nil
}

// createUpsertedOrder inserts an order as CreateServiceRequest does
// (insertOrder: a fresh accession number; lab specimens with the given
// barcodes or fresh ones; an imaging order's Study Instance UID), inside
// tx, with its outside identifiers; it is not queued for devices.
func (s *Store) createUpsertedOrder(ctx context.Context, tx *txn, r *domain.ServiceRequest, ids []domain.Identifier, audit *domain.AuditEvent) error {
	t := now()
	r.AuthoredOn, r.Updated = t, t
	for i, sp := range r.Specimens {
		if sp.Barcode == "" {
			continue
		}
		if taken, err := exists(ctx, tx, `SELECT count(*) FROM specimens WHERE org_id = $1 AND barcode = $2`, r.OrganizationID, sp.Barcode); err != nil {
			return err
		} else if taken {
			return &store.ConflictError{Field: fmt.Sprintf("specimen[%d].barcode", i), Message: "barcode already used in this organization"}
		}
	}
	r.AccessionNumber = "" // always a fresh one
	if err := s.insertOrder(ctx, tx, r); err != nil {
		return err
	}
	if err := insertOrderIdentifiers(ctx, tx, r.OrganizationID, r.ID, ids); err != nil {
		return err
	}
	return writeAudit(ctx, tx, audit, "ServiceRequest", r.ID, r.PatientID, r.OrganizationID)
}
