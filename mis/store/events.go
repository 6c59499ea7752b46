package store

import (
	"context"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// EventStore is the outbox of outbound events. ApplyIngest and ResolveRecon
// enqueue events in the transaction that makes their fact true (see
// domain.OutboxEvent for the kinds); a publisher reads them here and marks
// them once the broker has acknowledged them.
//
// Delivery is at least once: reprocessing a message enqueues its events
// again, and an event published but not yet marked when the process stops
// is published again. Consumers dedupe by the ids in the payload.
type EventStore interface {
	// PendingEvents lists up to limit unsent events, oldest (lowest id)
	// first.
	PendingEvents(ctx context.Context, limit int) ([]domain.OutboxEvent, error)
	// MarkEventSent records that the broker acknowledged the events. Ids
	// that are unknown or already sent are ignored.
	MarkEventSent(ctx context.Context, ids ...int64) error
	// MarkEventFailed records a failed delivery attempt of one event: its
	// attempts grow by one and reason becomes its last error. The event
	// stays pending. reason must hold no patient data.
	MarkEventFailed(ctx context.Context, id int64, reason string) error
	// PurgeSentEvents deletes up to limit events the broker acknowledged
	// before the given time and returns how many it deleted. Pending events
	// are never deleted, however old.
	PurgeSentEvents(ctx context.Context, before time.Time, limit int) (int, error)
}
