package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

func insertRecon(ctx context.Context, tx *txn, it *domain.ReconItem) error {
	if it.Status == "" {
		it.Status = domain.ReconOpen
	}
	if it.Created.IsZero() {
		it.Created = now()
	}
	cands, _ := json.Marshal(it.Candidates)
	return tx.QueryRowContext(ctx, `INSERT INTO recon_items (org_id, message_id, device_id, kind, reason, detail, item_key,
		report_id, study_id, candidates, status, patient_id, request_id, decided_by, decided, note, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		nullID(it.OrganizationID), it.MessageID, nullID(it.DeviceID), it.Kind, it.Reason, it.Detail, it.Key,
		nullID(it.ReportID), nullID(it.StudyID), string(cands), it.Status, nullID(it.PatientID), nullID(it.RequestID),
		nullID(it.DecidedBy), nullMicros(&it.Decided), it.Note, micros(it.Created)).Scan(&it.ID)
}

const reconColumns = `id, org_id, message_id, device_id, kind, reason, detail, item_key, report_id, study_id, candidates,
	status, patient_id, request_id, decided_by, decided, note, created`

func scanRecon(row interface{ Scan(...any) error }) (domain.ReconItem, error) {
	var it domain.ReconItem
	var org, device, report, study, patient, request, by, decided sql.NullInt64
	var cands string
	var created int64
	err := row.Scan(&it.ID, &org, &it.MessageID, &device, &it.Kind, &it.Reason, &it.Detail, &it.Key, &report, &study,
		&cands, &it.Status, &patient, &request, &by, &decided, &it.Note, &created)
	if err != nil {
		return it, err
	}
	it.OrganizationID, it.DeviceID, it.ReportID, it.StudyID = org.Int64, device.Int64, report.Int64, study.Int64
	it.PatientID, it.RequestID, it.DecidedBy, it.Created = patient.Int64, request.Int64, by.Int64, fromMicros(created)
	if decided.Valid {
		it.Decided = fromMicros(decided.Int64)
	}
	_ = json.Unmarshal([]byte(cands), &it.Candidates)
	return it, nil
}

// ListRecon lists reconciliation items oldest first (a queue).
func (s *Store) ListRecon(ctx context.Context, q store.ReconQuery) ([]domain.ReconItem, string, error) {
	if len(q.Orgs) == 0 {
		return nil, "", nil
	}
	limit := pageLimit(q.Limit)
	var f filter
	f.in("org_id", q.Orgs)
	if q.MessageID != 0 {
		f.where("message_id = " + f.arg(q.MessageID))
	}
	switch q.Status {
	case "":
		f.where("status = " + f.arg(domain.ReconOpen))
	case "all":
	default:
		f.where("status = " + f.arg(q.Status))
	}
	if q.Reason != "" {
		f.where("reason = " + f.arg(q.Reason))
	}
	if q.Kind != "" {
		f.where("kind = " + f.arg(q.Kind))
	}
	if err := f.afterID("id", q.Cursor, false); err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+reconColumns+` FROM recon_items`+f.sql()+
		` ORDER BY id LIMIT `+f.arg(limit+1), f.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	list := []domain.ReconItem{}
	for rows.Next() {
		it, err := scanRecon(rows)
		if err != nil {
			return nil, "", err
		}
		list = append(list, it)
	}
	list, next := trimPage(list, limit, func(it domain.ReconItem) int64 { return it.ID })
	return list, next, rows.Err()
}

// GetRecon reads one reconciliation item.
func (s *Store) GetRecon(ctx context.Context, orgs []int64, id int64) (*domain.ReconItem, error) {
	return getRecon(ctx, s.r, orgs, id)
}

func getRecon(ctx context.Context, q querier, orgs []int64, id int64) (*domain.ReconItem, error) {
	it, err := scanRecon(q.QueryRowContext(ctx, `SELECT `+reconColumns+` FROM recon_items WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && !contains(orgs, it.OrganizationID) {
		return nil, fmt.Errorf("reconciliation item %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// ResolveRecon attaches or rejects an item and the open items sharing its
// key (an unmapped-code or conflict item alone).
func (s *Store) ResolveRecon(ctx context.Context, orgs []int64, id int64, d store.ReconDecision, audit *domain.AuditEvent) ([]domain.ReconItem, error) {
	var done []domain.ReconItem
	err := s.inTx(ctx, func(tx *txn) error {
		it, err := getRecon(ctx, tx, orgs, id)
		if err != nil {
			return err
		}
		if it.Status != domain.ReconOpen {
			return &store.ConflictError{Field: "status", Message: fmt.Sprintf("item %d is already %s", id, it.Status)}
		}
		if d.Attach {
			if err := checkAttach(ctx, s, tx, it, d); err != nil {
				return err
			}
		}
		items := []domain.ReconItem{*it}
		// A key names one sample, patient or device, and a decision on it
		// holds for every item under it — except where the key is only the
		// codes or a message key, shared by unrelated patients and devices.
		if it.Key != "" && it.Reason != domain.ReasonUnmappedCode && it.Reason != domain.ReasonDuplicateConflict {
			rows, err := tx.QueryContext(ctx, `SELECT `+reconColumns+` FROM recon_items
				WHERE org_id = $1 AND item_key = $2 AND status = $3 AND id <> $4 ORDER BY id`,
				it.OrganizationID, it.Key, domain.ReconOpen, it.ID)
			if err != nil {
				return err
			}
			for rows.Next() {
				o, err := scanRecon(rows)
				if err != nil {
					rows.Close()
					return err
				}
				items = append(items, o)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		// Lock in id order, and decide each item only if it is still open:
		// concurrent decisions on one key must neither both win nor deadlock.
		sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
		t := now()
		for i := range items {
			x := &items[i]
			x.Decided, x.DecidedBy, x.Note = t, d.UserID, d.Note
			if d.Attach {
				if x.Reason == domain.ReasonUnmappedCode || x.Reason == domain.ReasonDuplicateConflict || x.Reason == domain.ReasonUnknownDevice {
					continue // nothing to attach: these need a map fix, a device or a look at the bytes
				}
				x.Status, x.PatientID, x.RequestID = domain.ReconAttached, d.PatientID, d.RequestID
			} else {
				x.Status = domain.ReconRejected
			}
			res, err := tx.ExecContext(ctx, `UPDATE recon_items SET status = $1, patient_id = $2, request_id = $3,
				decided_by = $4, decided = $5, note = $6 WHERE id = $7 AND status = $8`,
				x.Status, nullID(x.PatientID), nullID(x.RequestID), nullID(x.DecidedBy), micros(t), x.Note, x.ID, domain.ReconOpen)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				if x.ID == id {
					return &store.ConflictError{Field: "status", Message: fmt.Sprintf("item %d was decided by someone else meanwhile", id)}
				}
				continue // a same-key item someone else decided meanwhile
			}
			if x.Status == domain.ReconAttached {
				if err := attachResults(ctx, tx, x); err != nil {
					return err
				}
			}
			if err := enqueueDecision(ctx, tx, x); err != nil {
				return err
			}
			if err := settleMessage(ctx, tx, x.MessageID); err != nil {
				return err
			}
			done = append(done, *x)
		}
		patient := int64(0)
		if d.Attach {
			patient = d.PatientID
		}
		return writeAudit(ctx, tx, audit, "ReconItem", it.ID, patient, it.OrganizationID)
	})
	return done, err
}

func checkAttach(ctx context.Context, s *Store, tx *txn, it *domain.ReconItem, d store.ReconDecision) error {
	if it.Reason == domain.ReasonUnmappedCode {
		return &store.ConflictError{Field: "reason", Message: fmt.Sprintf("unmapped codes cannot be attached: fix the code map, then reprocess message %d", it.MessageID)}
	}
	if it.Reason == domain.ReasonDuplicateConflict {
		return &store.ConflictError{Field: "reason", Message: "a conflicting resend cannot be attached; compare it with the original and reject one"}
	}
	if it.Reason == domain.ReasonUnknownDevice {
		return &store.ConflictError{Field: "reason", Message: fmt.Sprintf("a message of an unregistered sender cannot be attached: register the device, then reprocess message %d", it.MessageID)}
	}
	if d.PatientID == 0 {
		return &domain.FieldError{Field: "patient", Message: "say which patient to attach to"}
	}
	p, err := s.getPatient(ctx, tx, []int64{it.OrganizationID}, d.PatientID)
	if err != nil {
		return &domain.FieldError{Field: "patient", Message: "no such patient in the item's organization"}
	}
	if d.RequestID != 0 {
		r, err := s.getOrder(ctx, tx, []int64{it.OrganizationID}, d.RequestID)
		if err != nil || r.PatientID != p.ID {
			return &domain.FieldError{Field: "request", Message: "no such order of this patient"}
		}
	}
	return nil
}

// enqueueDecision announces a decided item and, when it was attached, the
// report and study that now have a patient.
func enqueueDecision(ctx context.Context, tx *txn, it *domain.ReconItem) error {
	if err := enqueueRecon(ctx, tx, it); err != nil {
		return err
	}
	if it.Status != domain.ReconAttached {
		return nil
	}
	if it.ReportID != 0 {
		if err := enqueueStoredResult(ctx, tx, it.ReportID); err != nil {
			return err
		}
	}
	if it.StudyID != 0 {
		if err := enqueueStudy(ctx, tx, it.StudyID, it.MessageID); err != nil {
			return err
		}
	}
	return nil
}

// attachResults gives an item's report, observations and study their
// patient and order.
func attachResults(ctx context.Context, tx *txn, it *domain.ReconItem) error {
	if it.ReportID != 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE reports SET patient_id = $1, request_id = COALESCE($2, request_id) WHERE id = $3`,
			it.PatientID, nullID(it.RequestID), it.ReportID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE observations SET patient_id = $1, request_id = COALESCE($2, request_id) WHERE report_id = $3`,
			it.PatientID, nullID(it.RequestID), it.ReportID); err != nil {
			return err
		}
	}
	if it.StudyID != 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE imaging_studies SET patient_id = $1, request_id = COALESCE($2, request_id) WHERE id = $3`,
			it.PatientID, nullID(it.RequestID), it.StudyID); err != nil {
			return err
		}
	}
	return nil
}

// settleMessage marks a message processed once none of its items is open
// and one was attached, or rejected when all were rejected.
func settleMessage(ctx context.Context, tx *txn, messageID int64) error {
	var open, attached int
	if err := tx.QueryRowContext(ctx, `SELECT
		COALESCE(sum(CASE WHEN status = 'open' THEN 1 ELSE 0 END), 0),
		COALESCE(sum(CASE WHEN status = 'attached' THEN 1 ELSE 0 END), 0)
		FROM recon_items WHERE message_id = $1`, messageID).Scan(&open, &attached); err != nil {
		return err
	}
	if open > 0 {
		return nil
	}
	status := domain.MessageRejected
	if attached > 0 {
		status = domain.MessageProcessed
	}
	_, err := tx.ExecContext(ctx, `UPDATE messages SET status = $1, updated = $2 WHERE id = $3 AND status = $4`,
		status, micros(now()), messageID, domain.MessageQueued)
	return err
}
