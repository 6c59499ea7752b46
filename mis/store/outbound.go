package store

import (
	"context"
	"time"
)

// Outbound message states.
const (
	OutboundPending = "pending" // waiting for its first or next attempt
	OutboundSent    = "sent"    // the device acknowledged it (AA or CA)
	OutboundFailed  = "failed"  // the device refused it for good, or attempts ran out
)

// Outbound message types.
const (
	OutboundORM = "ORM^O01"
	OutboundOML = "OML^O21"
)

// OutboundMessage is one HL7 order message queued for one device: a new
// order (OrderControl NW) or its cancellation (CA).
type OutboundMessage struct {
	ID             int64
	OrganizationID int64
	DeviceID       int64
	RequestID      int64
	OrderControl   string // ORC-1: NW, CA
	ControlID      string // MSH-10, unique; the ACK's MSA-2 must equal it
	Type           string // OutboundORM or OutboundOML
	Raw            []byte // nil until built (SetOutboundRaw), then never changed
	Status         string
	Attempts       int
	NextAttempt    time.Time
	LastError      string
	Created        time.Time
	AckedAt        *time.Time
	AckCode        string // MSA-1 of the last ACK: AA, AE, AR, CA, CE, CR
}

// OutboundQuery selects outbound messages, oldest first.
type OutboundQuery struct {
	Orgs      []int64 // required
	DeviceID  int64
	RequestID int64
	Status    string
	Limit     int // default 100
}

// OutboundStore is the durable queue of HL7 orders for devices that
// receive them (domain.Device.ReceivesOrders with a Transport host and
// port).
//
// Enqueueing is not a method: CreateServiceRequest (a lab order created
// active) and SetServiceRequestStatus (draft → active) enqueue an NW per
// such active HL7 device of the order's organization — and of its branch,
// when both the order and the device name one — in the order's own
// transaction; a move to cancelled or entered-in-error enqueues a CA for
// every device that was queued an NW for the order. Orders that arrive
// from an outside system (ApplyIngest) are never enqueued, so they are not
// sent back to their source.
//
// A device's messages are sent in id order, one at a time: its oldest
// pending message is the head, and the ones behind it wait.
type OutboundStore interface {
	// OutboundDevices lists the devices that have a pending message whose
	// next attempt is due at or before now, lowest id first.
	OutboundDevices(ctx context.Context, now time.Time) ([]int64, error)
	// NextOutbound returns the device's oldest pending message (due or
	// not), or ErrNotFound when it has none.
	NextOutbound(ctx context.Context, deviceID int64) (*OutboundMessage, error)
	// SetOutboundRaw records the message's bytes if it has none yet and
	// returns the message as stored: bytes set earlier win, so a message is
	// never sent with two different contents.
	SetOutboundRaw(ctx context.Context, id int64, raw []byte) (*OutboundMessage, error)
	// MarkOutboundSent records the acknowledgment (AA, CA) of a pending
	// message: status sent, attempts + 1, acked now.
	MarkOutboundSent(ctx context.Context, id int64, ackCode string) error
	// MarkOutboundFailed gives up on a pending message: status failed,
	// attempts + 1, reason as its last error; ackCode is the refusal's
	// MSA-1, or "" when no ACK came.
	MarkOutboundFailed(ctx context.Context, id int64, ackCode, reason string) error
	// MarkOutboundRetry records a failed attempt of a pending message,
	// which stays pending: attempts + 1, reason as its last error, next as
	// its next attempt. ackCode as for MarkOutboundFailed.
	MarkOutboundRetry(ctx context.Context, id int64, ackCode, reason string, next time.Time) error
	// GetOutbound reads one message (with its bytes) visible to orgs.
	GetOutbound(ctx context.Context, orgs []int64, id int64) (*OutboundMessage, error)
	// ListOutbound lists messages (without their bytes), oldest first.
	ListOutbound(ctx context.Context, q OutboundQuery) ([]OutboundMessage, error)
}
