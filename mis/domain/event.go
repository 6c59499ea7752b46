package domain

import (
	"encoding/json"
	"time"
)

// Event kinds: what an outbound event says became true. Each is published
// to "<prefix>/<org>/<kind>".
const (
	EventResult         = "result"         // a report was attached to a patient
	EventStudy          = "study"          // a study was stored or attached
	EventReconciliation = "reconciliation" // an item was queued or decided
)

// OutboxEvent is an event waiting in (or delivered from) the outbox: it is
// written in the transaction that makes its fact true and published later,
// so a broker outage loses nothing. Delivery is at least once: consumers
// dedupe by the ids in the payload.
type OutboxEvent struct {
	ID             int64           `json:"id"`
	OrganizationID int64           `json:"organization"`
	Kind           string          `json:"kind"`
	Payload        json.RawMessage `json:"payload"` // one of ResultEvent, StudyEvent, ReconEvent
	Created        time.Time       `json:"created"`
	Attempts       int             `json:"attempts"`
	LastError      string          `json:"lastError,omitempty"`
	Sent           *time.Time      `json:"sent,omitempty"`
}

// Event payloads carry ids, counts and codes of medgate's own vocabulary
// only — never names, values, identifiers or display texts — so that no
// personal data leaves in an event (152-FZ); a consumer reads the rest
// through the API with its own credentials.

// ResultEvent: a report attached to a patient.
type ResultEvent struct {
	Kind         string `json:"kind"` // EventResult
	Org          int64  `json:"org"`
	Report       int64  `json:"report"`
	Patient      int64  `json:"patient"`
	Request      int64  `json:"request,omitempty"`
	Message      int64  `json:"message,omitempty"`
	Observations int    `json:"observations"`
}

// StudyEvent: a study stored (Patient 0 until it is attached) or attached.
type StudyEvent struct {
	Kind      string `json:"kind"` // EventStudy
	Org       int64  `json:"org"`
	Study     int64  `json:"study"`
	Patient   int64  `json:"patient,omitempty"`
	Request   int64  `json:"request,omitempty"`
	Message   int64  `json:"message,omitempty"`
	Instances int    `json:"instances"`
}

// ReconEvent: a reconciliation item queued (Status open) or decided.
type ReconEvent struct {
	Kind    string `json:"kind"` // EventReconciliation
	Org     int64  `json:"org"`
	Item    int64  `json:"item"`
	Reason  string `json:"reason"` // a Reason… code
	Status  string `json:"status"` // ReconOpen, ReconAttached, ReconRejected
	Message int64  `json:"message"`
}
