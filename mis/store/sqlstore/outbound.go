package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// The outbound order queue (store.OutboundStore): rows are written by the
// transaction that creates, activates or cancels a lab order; mis/outbound
// sends them.

var _ store.OutboundStore = (*Store)(nil)

// maxOutboundError bounds a stored delivery error.
const maxOutboundError = 500

// enqueueNewOrder queues an NW for every device of r's organization that
// receives HL7 orders over TCP. Only active lab orders are sent.
func enqueueNewOrder(ctx context.Context, tx *txn, r *domain.ServiceRequest) error {
	if r.Category != domain.CategoryLab || r.Status != domain.StatusActive {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE org_id = $1 AND protocol = $2 AND active = $3 AND receives_orders = $4 ORDER BY id`,
		r.OrganizationID, domain.ProtocolHL7, true, true)
	if err != nil {
		return err
	}
	var devs []domain.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			rows.Close()
			return err
		}
		if d.Transport == nil || d.Transport.Host == "" || d.Transport.Port <= 0 {
			continue
		}
		if d.BranchID != 0 && r.BranchID != 0 && d.BranchID != r.BranchID {
			continue
		}
		devs = append(devs, d)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, d := range devs {
		typ := store.OutboundORM
		if d.OrderMessage == store.OutboundOML {
			typ = store.OutboundOML
		}
		if err := enqueueOutbound(ctx, tx, r.OrganizationID, d.ID, r.ID, "NW", typ); err != nil {
			return err
		}
	}
	return nil
}

// enqueueCancel queues a CA for every device that was queued an NW for the
// order.
func enqueueCancel(ctx context.Context, tx *txn, r *domain.ServiceRequest) error {
	// The cancel goes in the message type the order went in.
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT device_id, message_type FROM outbound_messages
		WHERE request_id = $1 AND order_control = $2 ORDER BY device_id`, r.ID, "NW")
	if err != nil {
		return err
	}
	type sent struct {
		device int64
		typ    string
	}
	var devs []sent
	for rows.Next() {
		var d sent
		if err := rows.Scan(&d.device, &d.typ); err != nil {
			rows.Close()
			return err
		}
		devs = append(devs, d)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, d := range devs {
		if err := enqueueOutbound(ctx, tx, r.OrganizationID, d.device, r.ID, "CA", d.typ); err != nil {
			return err
		}
	}
	return nil
}

// enqueueOutbound writes one pending message, due now, with a control ID
// drawn from the organization's "hl7_control" sequence: "MG<org>-<n>",
// unique across organizations and at most 20 characters (HL7 ST).
func enqueueOutbound(ctx context.Context, tx *txn, org, device, request int64, control, typ string) error {
	n, err := nextSeq(ctx, tx, org, "hl7_control")
	if err != nil {
		return err
	}
	ctl := "MG" + strconv.FormatInt(org, 10) + "-" + strconv.FormatInt(n, 10)
	t := micros(now())
	_, err = tx.ExecContext(ctx, `INSERT INTO outbound_messages (org_id, device_id, request_id, order_control, control_id,
		message_type, status, attempts, next_attempt, last_error, created, ack_code)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, '', $9, '')`,
		org, device, request, control, ctl, typ, store.OutboundPending, t, t)
	if err != nil {
		return fmt.Errorf("queue %s of order %d for device %d: %w", control, request, device, err)
	}
	return nil
}

const outboundColumns = `id, org_id, device_id, request_id, order_control, control_id, message_type, status, attempts,
	next_attempt, last_error, created, acked_at, ack_code`

func scanOutbound(row interface{ Scan(...any) error }, raw *[]byte) (store.OutboundMessage, error) {
	var m store.OutboundMessage
	var next, created int64
	var acked sql.NullInt64
	dest := []any{&m.ID, &m.OrganizationID, &m.DeviceID, &m.RequestID, &m.OrderControl, &m.ControlID, &m.Type,
		&m.Status, &m.Attempts, &next, &m.LastError, &created, &acked, &m.AckCode}
	if raw != nil {
		dest = append(dest, raw)
	}
	if err := row.Scan(dest...); err != nil {
		return m, err
	}
	m.NextAttempt, m.Created, m.AckedAt = fromMicros(next), fromMicros(created), timePtr(acked)
	return m, nil
}

// OutboundDevices lists devices with a pending message due by now.
func (s *Store) OutboundDevices(ctx context.Context, at time.Time) ([]int64, error) {
	return queryIDs(ctx, s.r, `SELECT DISTINCT device_id FROM outbound_messages
		WHERE status = 'pending' AND next_attempt <= $1 ORDER BY device_id`, micros(at))
}

// NextOutbound returns the device's oldest pending message.
func (s *Store) NextOutbound(ctx context.Context, deviceID int64) (*store.OutboundMessage, error) {
	var raw []byte
	m, err := scanOutbound(s.r.QueryRowContext(ctx, `SELECT `+outboundColumns+`, raw FROM outbound_messages
		WHERE device_id = $1 AND status = 'pending' ORDER BY id LIMIT 1`, deviceID), &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no pending message for device %d: %w", deviceID, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	m.Raw = raw
	return &m, nil
}

// SetOutboundRaw stores the bytes once; the first writer wins.
func (s *Store) SetOutboundRaw(ctx context.Context, id int64, raw []byte) (*store.OutboundMessage, error) {
	if raw == nil {
		raw = []byte{}
	}
	var out *store.OutboundMessage
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE outbound_messages SET raw = $1 WHERE id = $2 AND raw IS NULL`, raw, id); err != nil {
			return err
		}
		var err error
		out, err = getOutbound(ctx, tx, nil, id)
		return err
	})
	return out, err
}

// MarkOutboundSent records the positive acknowledgment.
func (s *Store) MarkOutboundSent(ctx context.Context, id int64, ackCode string) error {
	t := micros(now())
	return s.markOutbound(ctx, `UPDATE outbound_messages SET status = $1, attempts = attempts + 1, acked_at = $2, ack_code = $3,
		last_error = '' WHERE id = $4 AND status = 'pending'`, store.OutboundSent, t, ackCode, id)
}

// MarkOutboundFailed gives up on a message.
func (s *Store) MarkOutboundFailed(ctx context.Context, id int64, ackCode, reason string) error {
	return s.markOutbound(ctx, `UPDATE outbound_messages SET status = $1, attempts = attempts + 1, ack_code = $2,
		last_error = $3 WHERE id = $4 AND status = 'pending'`, store.OutboundFailed, ackCode, boundReason(reason), id)
}

// MarkOutboundRetry records a failed attempt; the message stays pending.
func (s *Store) MarkOutboundRetry(ctx context.Context, id int64, ackCode, reason string, next time.Time) error {
	return s.markOutbound(ctx, `UPDATE outbound_messages SET attempts = attempts + 1, ack_code = $1, last_error = $2,
		next_attempt = $3 WHERE id = $4 AND status = 'pending'`, ackCode, boundReason(reason), micros(next), id)
}

func boundReason(s string) string {
	if len(s) > maxOutboundError {
		return truncateUTF8(s, maxOutboundError)
	}
	return s
}

// markOutbound runs one update of a pending message; a message that is
// unknown or no longer pending is a ConflictError.
func (s *Store) markOutbound(ctx context.Context, q string, args ...any) error {
	return s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &store.ConflictError{Field: "status", Message: "the outbound message is unknown or no longer pending"}
		}
		return nil
	})
}

// GetOutbound reads one message with its bytes.
func (s *Store) GetOutbound(ctx context.Context, orgs []int64, id int64) (*store.OutboundMessage, error) {
	return getOutbound(ctx, s.r, orgs, id)
}

func getOutbound(ctx context.Context, q querier, orgs []int64, id int64) (*store.OutboundMessage, error) {
	var raw []byte
	m, err := scanOutbound(q.QueryRowContext(ctx, `SELECT `+outboundColumns+`, raw FROM outbound_messages WHERE id = $1`, id), &raw)
	if errors.Is(err, sql.ErrNoRows) || err == nil && orgs != nil && !contains(orgs, m.OrganizationID) {
		return nil, fmt.Errorf("outbound message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	m.Raw = raw
	return &m, nil
}

// ListOutbound lists messages oldest first, without their bytes.
func (s *Store) ListOutbound(ctx context.Context, q store.OutboundQuery) ([]store.OutboundMessage, error) {
	if len(q.Orgs) == 0 {
		return nil, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var f filter
	f.in("org_id", q.Orgs)
	if q.DeviceID != 0 {
		f.where("device_id = " + f.arg(q.DeviceID))
	}
	if q.RequestID != 0 {
		f.where("request_id = " + f.arg(q.RequestID))
	}
	if q.Status != "" {
		f.where("status = " + f.arg(q.Status))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+outboundColumns+` FROM outbound_messages`+f.sql()+
		` ORDER BY id LIMIT `+f.arg(limit), f.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []store.OutboundMessage
	for rows.Next() {
		m, err := scanOutbound(rows, nil)
		if err != nil {
			return nil, err
		}
		list = append(list, m)
	}
	return list, rows.Err()
}
