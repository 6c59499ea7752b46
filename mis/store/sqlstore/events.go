package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// The outbox: events are rows written by the transaction that makes their
// fact true, so they commit (or roll back) with it; mis/events publishes
// them. See store.EventStore.

var _ store.EventStore = (*Store)(nil)

// maxEventError bounds the stored delivery error.
const maxEventError = 500

// enqueueEvent writes one event of org to the outbox in tx.
func enqueueEvent(ctx context.Context, tx *txn, org int64, kind string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("%s event: %w", kind, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_events (org_id, kind, payload, created, attempts, last_error)
		VALUES ($1, $2, $3, $4, 0, '')`, nullID(org), kind, string(b), micros(now())); err != nil {
		return fmt.Errorf("%s event: %w", kind, err)
	}
	return nil
}

// enqueueResult announces a report that has a patient; obs is its number
// of observations.
func enqueueResult(ctx context.Context, tx *txn, r *domain.DiagnosticReport, obs int) error {
	if r.PatientID == 0 {
		return nil
	}
	return enqueueEvent(ctx, tx, r.OrganizationID, domain.EventResult, domain.ResultEvent{
		Kind: domain.EventResult, Org: r.OrganizationID, Report: r.ID, Patient: r.PatientID,
		Request: r.RequestID, Message: r.MessageID, Observations: obs,
	})
}

// enqueueStoredResult announces a stored report as it now is in tx (after
// ResolveRecon attached it).
func enqueueStoredResult(ctx context.Context, tx *txn, reportID int64) error {
	var r domain.DiagnosticReport
	var patient, request, message sql.NullInt64
	var obs int
	if err := tx.QueryRowContext(ctx, `SELECT org_id, patient_id, request_id, message_id,
		(SELECT count(*) FROM observations WHERE report_id = $1) FROM reports WHERE id = $1`, reportID).
		Scan(&r.OrganizationID, &patient, &request, &message, &obs); err != nil {
		return fmt.Errorf("result event of report %d: %w", reportID, err)
	}
	r.ID, r.PatientID, r.RequestID, r.MessageID = reportID, patient.Int64, request.Int64, message.Int64
	return enqueueResult(ctx, tx, &r, obs)
}

// enqueueStudy announces a study as it now is in tx: stored from message
// (its patient, if any, may come from an earlier message) or attached.
func enqueueStudy(ctx context.Context, tx *txn, studyID, message int64) error {
	ev := domain.StudyEvent{Kind: domain.EventStudy, Study: studyID, Message: message}
	var patient, request sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT org_id, patient_id, request_id, n_instances FROM imaging_studies WHERE id = $1`,
		studyID).Scan(&ev.Org, &patient, &request, &ev.Instances); err != nil {
		return fmt.Errorf("study event of study %d: %w", studyID, err)
	}
	ev.Patient, ev.Request = patient.Int64, request.Int64
	return enqueueEvent(ctx, tx, ev.Org, domain.EventStudy, ev)
}

// enqueueRecon announces a reconciliation item queued or decided.
func enqueueRecon(ctx context.Context, tx *txn, it *domain.ReconItem) error {
	return enqueueEvent(ctx, tx, it.OrganizationID, domain.EventReconciliation, domain.ReconEvent{
		Kind: domain.EventReconciliation, Org: it.OrganizationID, Item: it.ID, Reason: it.Reason,
		Status: it.Status, Message: it.MessageID,
	})
}

// PendingEvents lists unsent events, lowest id first.
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]domain.OutboxEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, org_id, kind, payload, created, attempts, last_error
		FROM outbox_events WHERE sent IS NULL ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []domain.OutboxEvent
	for rows.Next() {
		var ev domain.OutboxEvent
		var org sql.NullInt64
		var payload string
		var created int64
		if err := rows.Scan(&ev.ID, &org, &ev.Kind, &payload, &created, &ev.Attempts, &ev.LastError); err != nil {
			return nil, err
		}
		ev.OrganizationID, ev.Payload, ev.Created = org.Int64, json.RawMessage(payload), fromMicros(created)
		list = append(list, ev)
	}
	return list, rows.Err()
}

// MarkEventSent marks events delivered, in one transaction. One statement
// per id keeps the statement cache free of IN lists of every length.
func (s *Store) MarkEventSent(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	t := micros(now())
	return s.inTx(ctx, func(tx *txn) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_events SET sent = $1 WHERE id = $2 AND sent IS NULL`, t, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// MarkEventFailed counts a failed delivery of a pending event.
func (s *Store) MarkEventFailed(ctx context.Context, id int64, reason string) error {
	if len(reason) > maxEventError {
		reason = truncateUTF8(reason, maxEventError)
	}
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox_events SET attempts = attempts + 1, last_error = $1
			WHERE id = $2 AND sent IS NULL`, reason, id)
		return err
	})
}

// PurgeSentEvents deletes old delivered events, oldest first, in one
// bounded statement so that the single SQLite writer is not held long.
func (s *Store) PurgeSentEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox_events WHERE id IN
			(SELECT id FROM outbox_events WHERE sent IS NOT NULL AND sent < $1 ORDER BY sent LIMIT $2)`, micros(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// truncateUTF8 cuts s to at most n bytes without splitting a character
// (PostgreSQL refuses invalid UTF-8).
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
