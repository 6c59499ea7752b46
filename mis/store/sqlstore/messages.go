package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

const messageColumns = `id, org_id, device_id, protocol, listener, peer, calling_ae, called_ae, sending_app, sending_facility,
	sender, msg_key, msg_type, received, size, sha256, status, reason, duplicate_of, attempts, updated, blob`

func scanMessage(row interface{ Scan(...any) error }) (domain.Message, error) {
	var m domain.Message
	var org, device, dup sql.NullInt64
	var received, updated int64
	err := row.Scan(&m.ID, &org, &device, &m.Protocol, &m.Listener, &m.Peer, &m.CallingAE, &m.CalledAE,
		&m.SendingApplication, &m.SendingFacility, &m.Sender, &m.Key, &m.Type, &received, &m.Size, &m.SHA256,
		&m.Status, &m.Reason, &dup, &m.Attempts, &updated, &m.Blob)
	m.OrganizationID, m.DeviceID, m.DuplicateOf = org.Int64, device.Int64, dup.Int64
	m.Received, m.Updated = fromMicros(received), fromMicros(updated)
	return m, err
}

// errRaced is a unique violation between the duplicate check and the
// insert: another copy of the same message won; looking again resolves it.
var errRaced = errors.New("raced with a copy of the same message")

// SaveMessage stores an inbound message through group commit.
func (s *Store) SaveMessage(ctx context.Context, m *domain.Message) (*domain.Message, error) {
	return s.SaveMessageWithResult(ctx, m, nil)
}

// SaveMessageWithResult stores a message and, when it is a new original,
// what processing it produced, in one group-committed transaction.
func (s *Store) SaveMessageWithResult(ctx context.Context, m *domain.Message, r *store.IngestResult) (*domain.Message, error) {
	if r != nil && m.Blob == "" {
		return nil, errors.New("SaveMessageWithResult: the message's bytes must be durable in the blob store first")
	}
	if m.Status == "" {
		m.Status = domain.MessageReceived
	}
	if m.Blob == "" {
		m.Size = len(m.Raw)
	}
	m.Updated = now()
	for attempt := 0; ; attempt++ {
		var orig *domain.Message
		given := *m
		err := s.ingestTx(ctx, func(tx *txn) error {
			var err error
			orig, err = s.saveMessage(ctx, tx, m)
			if err != nil || r == nil || orig != nil || m.Status != domain.MessageReceived {
				return err
			}
			if err := applyIngest(ctx, tx, m.ID, r); err != nil {
				return err
			}
			m.Status, m.Reason = r.Status, r.Reason
			return nil
		})
		if errors.Is(err, errRaced) && attempt == 0 {
			*m = given
			continue
		}
		if err != nil {
			*m = given
			m.ID = 0
		}
		return orig, err
	}
}

func (s *Store) saveMessage(ctx context.Context, tx *txn, m *domain.Message) (*domain.Message, error) {
	var orig *domain.Message
	if m.DeviceID == 0 {
		// An unregistered sender's resend: the same bytes only, as its
		// keys are nobody's yet.
		var err error
		if orig, err = findOriginal(ctx, tx, `device_id IS NULL AND sha256 = $1 AND is_original ORDER BY id LIMIT 1`, m.SHA256); err != nil {
			return nil, err
		}
	} else {
		// Two lookups, each served by its partial unique index; an OR of
		// the two would scan every message of the device.
		var err error
		if m.Key != "" {
			orig, err = findOriginal(ctx, tx, `device_id = $1 AND msg_key = $2 AND is_original AND msg_key <> ''`, m.DeviceID, m.Key)
		}
		if err == nil && orig == nil {
			orig, err = findOriginal(ctx, tx, `device_id = $1 AND sha256 = $2 AND is_original`, m.DeviceID, m.SHA256)
		}
		if err != nil {
			return nil, err
		}
	}
	original := orig == nil
	storeRaw := true
	if orig != nil {
		m.DuplicateOf = orig.ID
		if orig.SHA256 == m.SHA256 {
			m.Status, m.Reason, storeRaw = domain.MessageDuplicate, "", false // the bytes are already kept
		} else {
			m.Status = domain.MessageQueued
			m.Reason = fmt.Sprintf("same key %q as message %d with different content", m.Key, orig.ID)
		}
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO messages (org_id, device_id, protocol, listener, peer, calling_ae, called_ae,
		sending_app, sending_facility, sender, msg_key, msg_type, received, size, sha256, status, reason, duplicate_of,
		is_original, attempts, updated, blob)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 0, $20, $21) RETURNING id`,
		nullID(m.OrganizationID), nullID(m.DeviceID), m.Protocol, m.Listener, m.Peer, m.CallingAE, m.CalledAE,
		m.SendingApplication, m.SendingFacility, m.Sender, m.Key, m.Type, micros(m.Received), m.Size, m.SHA256,
		m.Status, m.Reason, nullID(m.DuplicateOf), original, micros(m.Updated), m.Blob).Scan(&m.ID)
	if s.d.IsUniqueViolation(err) {
		return nil, errRaced
	}
	if err != nil {
		return nil, err
	}
	if storeRaw {
		raw := m.Raw
		if raw == nil {
			raw = []byte{} // the bytes are in the blob store
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO message_raw (message_id, raw) VALUES ($1, $2)`, m.ID, raw); err != nil {
			return nil, err
		}
	}
	if orig != nil && m.Status == domain.MessageQueued {
		item := domain.ReconItem{OrganizationID: m.OrganizationID, MessageID: m.ID, DeviceID: m.DeviceID,
			Kind: kindOf(m.Protocol), Reason: domain.ReasonDuplicateConflict, Detail: m.Reason, Key: "message:" + m.Key}
		if err := insertRecon(ctx, tx, &item); err != nil {
			return nil, err
		}
		if err := enqueueRecon(ctx, tx, &item); err != nil {
			return nil, err
		}
	}
	return orig, nil
}

func findOriginal(ctx context.Context, tx *txn, where string, args ...any) (*domain.Message, error) {
	m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func kindOf(protocol string) string {
	if protocol == domain.ProtocolDICOM {
		return "imaging"
	}
	return "lab"
}

// GetMessage reads a message and its raw bytes (a duplicate's are its
// original's).
func (s *Store) GetMessage(ctx context.Context, orgs []int64, id int64) (*domain.Message, error) {
	m, err := scanMessage(s.r.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && orgs != nil && !contains(orgs, m.OrganizationID) {
		return nil, fmt.Errorf("message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	rawID := m.ID
	if m.Status == domain.MessageDuplicate && m.DuplicateOf != 0 {
		rawID = m.DuplicateOf
	}
	if err := s.r.QueryRowContext(ctx, `SELECT raw FROM message_raw WHERE message_id = $1`, rawID).Scan(&m.Raw); err != nil {
		return nil, fmt.Errorf("message %d raw bytes: %w", id, err)
	}
	return &m, nil
}

// ListMessages lists messages newest first, without raw bytes.
func (s *Store) ListMessages(ctx context.Context, q store.MessageQuery) ([]domain.Message, string, error) {
	if len(q.Orgs) == 0 {
		return nil, "", nil
	}
	limit := pageLimit(q.Limit)
	var f filter
	f.in("org_id", q.Orgs)
	if q.DeviceID != 0 {
		f.where("device_id = " + f.arg(q.DeviceID))
	}
	if q.Status != "" {
		f.where("status = " + f.arg(q.Status))
	}
	if q.Protocol != "" {
		f.where("protocol = " + f.arg(q.Protocol))
	}
	if err := f.afterID("id", q.Cursor, true); err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages`+f.sql()+
		` ORDER BY id DESC LIMIT `+f.arg(limit+1), f.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	list := []domain.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, "", err
		}
		list = append(list, m)
	}
	list, next := trimPage(list, limit, func(m domain.Message) int64 { return m.ID })
	return list, next, rows.Err()
}

// ReceivedMessages lists messages stored but not processed, oldest first.
func (s *Store) ReceivedMessages(ctx context.Context, limit int) ([]int64, error) {
	return queryIDs(ctx, s.r, `SELECT id FROM messages WHERE status = $1 ORDER BY id LIMIT $2`, domain.MessageReceived, limit)
}

// queryIDs runs a query of one integer column.
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ApplyIngest replaces what a message produced and sets its status, through
// group commit.
// AssignMessageDevice implements store.IngestStore.
func (s *Store) AssignMessageDevice(ctx context.Context, id int64, dev *domain.Device) error {
	return s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET device_id = $1, org_id = $2, updated = $3 WHERE id = $4 AND device_id IS NULL`,
			dev.ID, dev.OrganizationID, micros(now()), id)
		if s.d.IsUniqueViolation(err) {
			return &store.ConflictError{Field: "device", Message: fmt.Sprintf("device %s already has a message with the key or the bytes of message %d", dev.Name, id)}
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &store.ConflictError{Field: "device", Message: fmt.Sprintf("message %d has a device already, or does not exist", id)}
		}
		return nil
	})
}

func (s *Store) ApplyIngest(ctx context.Context, messageID int64, r *store.IngestResult) error {
	return s.ingestTx(ctx, func(tx *txn) error { return applyIngest(ctx, tx, messageID, r) })
}

func applyIngest(ctx context.Context, tx *txn, messageID int64, r *store.IngestResult) error {
	var org sql.NullInt64
	var device sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT org_id, device_id FROM messages WHERE id = $1`, messageID).Scan(&org, &device); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("message %d: %w", messageID, store.ErrNotFound)
		}
		return err
	}
	// What an earlier run made from this message goes first: reprocessing
	// replaces, it never adds a second copy.
	// Decided items stay as the record of the decision; the pipeline reads
	// them to attach the new results the same way.
	for _, q := range []string{
		`UPDATE recon_items SET report_id = NULL, study_id = NULL WHERE message_id = $1 AND status <> 'open'`,
		`DELETE FROM recon_items WHERE message_id = $1 AND status = 'open'`,
		// Through the reports: observations carry no message index of
		// their own, every index there slowing ingest and a 5M-row table.
		`DELETE FROM observations WHERE report_id IN (SELECT id FROM reports WHERE message_id = $1)`,
		`DELETE FROM reports WHERE message_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, messageID); err != nil {
			return err
		}
	}
	// Patients and orders an outside system sent: found again by their
	// identifiers, so a second run updates what the first one wrote.
	if err := applyUpserts(ctx, tx, messageID, org.Int64, r); err != nil {
		return err
	}
	for _, sp := range r.Specimens {
		var collected any
		if sp.Collected != nil {
			collected = micros(*sp.Collected)
		}
		// Right-hand sides read the row as it was: each blank is filled,
		// nothing a person entered is overwritten.
		if _, err := tx.ExecContext(ctx, `UPDATE specimens SET
			type_system = CASE WHEN type_code = '' THEN $1 ELSE type_system END,
			type_code = CASE WHEN type_code = '' THEN $2 ELSE type_code END,
			type_display = CASE WHEN type_code = '' THEN $3 ELSE type_display END,
			collected = COALESCE(collected, $4) WHERE id = $5 AND org_id = $6`,
			sp.Type.System, sp.Type.Code, sp.Type.Display, collected, sp.ID, org.Int64); err != nil {
			return fmt.Errorf("specimen %d: %w", sp.ID, err)
		}
	}
	for i := range r.Reports {
		rs := &r.Reports[i]
		rs.Report.MessageID = messageID
		if err := saveReport(ctx, tx, &rs.Report, rs.Observations); err != nil {
			return fmt.Errorf("report %d: %w", i, err)
		}
		// Events go to the outbox in this transaction (at least once: a
		// reprocessed message announces its results again).
		if err := enqueueResult(ctx, tx, &rs.Report, len(rs.Observations)); err != nil {
			return err
		}
	}
	for i := range r.Studies {
		news, err := saveStudy(ctx, tx, &r.Studies[i])
		if err != nil {
			return fmt.Errorf("study %d: %w", i, err)
		}
		if !news {
			continue // another instance of a study already announced
		}
		if err := enqueueStudy(ctx, tx, r.Studies[i].ID, messageID); err != nil {
			return err
		}
	}
	for i := range r.Recon {
		d := &r.Recon[i]
		d.Item.MessageID = messageID
		if d.Item.OrganizationID == 0 {
			d.Item.OrganizationID = org.Int64
		}
		if d.Item.DeviceID == 0 {
			d.Item.DeviceID = device.Int64
		}
		if d.Report >= 0 && d.Report < len(r.Reports) {
			d.Item.ReportID = r.Reports[d.Report].Report.ID
		}
		if d.Study >= 0 && d.Study < len(r.Studies) {
			d.Item.StudyID = r.Studies[d.Study].ID
		}
		if err := insertRecon(ctx, tx, &d.Item); err != nil {
			return err
		}
		if err := enqueueRecon(ctx, tx, &d.Item); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE messages SET status = $1, reason = $2, attempts = attempts + 1, updated = $3 WHERE id = $4`,
		r.Status, r.Reason, micros(now()), messageID)
	return err
}
