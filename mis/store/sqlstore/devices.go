package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

const deviceColumns = `id, org_id, branch_id, name, protocol, ae_title, addresses, sending_application, sending_facility,
	sender, transport, encoding, code_map, matching_policy, sends_results, queries_orders, receives_orders, active, created, updated,
	ack_mode, lenient, order_message, qc_prefix`

func deviceArgs(d *domain.Device) []any {
	addrs, _ := json.Marshal(d.Addresses)
	transport := ""
	if d.Transport != nil {
		b, _ := json.Marshal(d.Transport)
		transport = string(b)
	}
	return []any{d.OrganizationID, nullID(d.BranchID), d.Name, d.Protocol, d.AETitle, string(addrs), d.SendingApplication,
		d.SendingFacility, d.Sender, transport, d.Encoding, d.CodeMap, d.MatchingPolicy, d.SendsResults, d.QueriesOrders,
		d.ReceivesOrders, d.Active, micros(d.Created), micros(d.Updated), d.AckMode, lenientJSON(d.Lenient), d.OrderMessage, d.QCPrefix}
}

func lenientJSON(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func scanDevice(row interface{ Scan(...any) error }) (domain.Device, error) {
	var d domain.Device
	var branch sql.NullInt64
	var addrs, transport, lenient string
	var created, updated int64
	err := row.Scan(&d.ID, &d.OrganizationID, &branch, &d.Name, &d.Protocol, &d.AETitle, &addrs, &d.SendingApplication,
		&d.SendingFacility, &d.Sender, &transport, &d.Encoding, &d.CodeMap, &d.MatchingPolicy, &d.SendsResults,
		&d.QueriesOrders, &d.ReceivesOrders, &d.Active, &created, &updated, &d.AckMode, &lenient, &d.OrderMessage, &d.QCPrefix)
	if err != nil {
		return d, err
	}
	d.BranchID, d.Created, d.Updated = branch.Int64, fromMicros(created), fromMicros(updated)
	_ = json.Unmarshal([]byte(addrs), &d.Addresses)
	_ = json.Unmarshal([]byte(lenient), &d.Lenient)
	if transport != "" {
		d.Transport = &domain.Transport{}
		_ = json.Unmarshal([]byte(transport), d.Transport)
	}
	return d, nil
}

// CreateDevice registers a device; names are unique per organization.
func (s *Store) CreateDevice(ctx context.Context, d *domain.Device, audit *domain.AuditEvent) error {
	d.Created = now()
	d.Updated = d.Created
	return s.inTx(ctx, func(tx *txn) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO devices (org_id, branch_id, name, protocol, ae_title, addresses,
			sending_application, sending_facility, sender, transport, encoding, code_map, matching_policy, sends_results,
			queries_orders, receives_orders, active, created, updated, ack_mode, lenient, order_message, qc_prefix)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) RETURNING id`,
			deviceArgs(d)...).Scan(&d.ID)
		if s.d.IsUniqueViolation(err) {
			return &store.ConflictError{Field: "name", Message: fmt.Sprintf("a device named %q exists", d.Name)}
		}
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "Device", d.ID, 0, d.OrganizationID)
	})
}

// UpdateDevice replaces a device's settings; its organization stays.
func (s *Store) UpdateDevice(ctx context.Context, orgs []int64, d *domain.Device, audit *domain.AuditEvent) error {
	return s.inTx(ctx, func(tx *txn) error {
		cur, err := getDevice(ctx, tx, orgs, d.ID)
		if err != nil {
			return err
		}
		d.OrganizationID, d.Created, d.Updated = cur.OrganizationID, cur.Created, now()
		args := append(deviceArgs(d)[1:], d.ID)
		_, err = tx.ExecContext(ctx, `UPDATE devices SET branch_id = $1, name = $2, protocol = $3, ae_title = $4, addresses = $5,
			sending_application = $6, sending_facility = $7, sender = $8, transport = $9, encoding = $10, code_map = $11,
			matching_policy = $12, sends_results = $13, queries_orders = $14, receives_orders = $15, active = $16,
			created = $17, updated = $18, ack_mode = $19, lenient = $20, order_message = $21, qc_prefix = $22 WHERE id = $23`, args...)
		if s.d.IsUniqueViolation(err) {
			return &store.ConflictError{Field: "name", Message: fmt.Sprintf("a device named %q exists", d.Name)}
		}
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "Device", d.ID, 0, d.OrganizationID)
	})
}

// DeleteDevice removes a device that never sent anything, and deactivates
// one that did: its messages keep their provenance.
func (s *Store) DeleteDevice(ctx context.Context, orgs []int64, id int64, audit *domain.AuditEvent) error {
	return s.inTx(ctx, func(tx *txn) error {
		d, err := getDevice(ctx, tx, orgs, id)
		if err != nil {
			return err
		}
		used, err := exists(ctx, tx, `SELECT count(*) FROM messages WHERE device_id = $1`, id)
		if err != nil {
			return err
		}
		if used {
			_, err = tx.ExecContext(ctx, `UPDATE devices SET active = $1, updated = $2 WHERE id = $3`, false, micros(now()), id)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM devices WHERE id = $1`, id)
		}
		if err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "Device", id, 0, d.OrganizationID)
	})
}

// GetDevice reads a device visible to orgs.
func (s *Store) GetDevice(ctx context.Context, orgs []int64, id int64) (*domain.Device, error) {
	return getDevice(ctx, s.r, orgs, id)
}

func getDevice(ctx context.Context, q querier, orgs []int64, id int64) (*domain.Device, error) {
	d, err := scanDevice(q.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && orgs != nil && !contains(orgs, d.OrganizationID) {
		return nil, fmt.Errorf("device %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDevices lists the devices of the given organizations.
func (s *Store) ListDevices(ctx context.Context, orgs []int64) ([]domain.Device, error) {
	if len(orgs) == 0 {
		return nil, nil
	}
	in, args := inList(nil, orgs)
	return s.devices(ctx, `WHERE org_id IN (`+in+`) ORDER BY org_id, name`, args...)
}

// FindDevices finds active devices by protocol and identity.
func (s *Store) FindDevices(ctx context.Context, protocol, id string) ([]domain.Device, error) {
	var col string
	switch protocol {
	case domain.ProtocolDICOM:
		col = "ae_title"
	case domain.ProtocolHL7:
		col = "sending_application"
	case domain.ProtocolASTM:
		col = "sender"
	default:
		return nil, fmt.Errorf("unknown protocol %q", protocol)
	}
	return s.devices(ctx, `WHERE protocol = $1 AND `+col+` = $2 AND active = $3 ORDER BY id`, protocol, id, true)
}

func (s *Store) devices(ctx context.Context, where string, args ...any) ([]domain.Device, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []domain.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, d)
	}
	return list, rows.Err()
}
