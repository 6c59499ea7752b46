package store

import (
	"context"

	"github.com/medgate/medgate/mis/domain"
)

// IngestStore is what the ingest pipeline and the device, code-map and
// reconciliation APIs need.
type IngestStore interface {
	// SaveMessage stores an inbound message, raw bytes included, and
	// returns once it is committed. A resend — same device and Key with the
	// same bytes, or the same bytes (from an unregistered sender too) — is
	// stored as a row with status
	// duplicate pointing at the original, which is returned as orig. The
	// same Key with different bytes is stored as a conflict (status queued,
	// reason duplicate_conflict) and orig is the first message.
	SaveMessage(ctx context.Context, m *domain.Message) (orig *domain.Message, err error)
	// SaveMessageWithResult is SaveMessage and ApplyIngest in one
	// transaction, for a message whose bytes are already durable elsewhere
	// (Blob set) and were processed before the row was written: r is
	// applied only when m is a new original, and m.Status becomes r's.
	// For a resend or a conflict it behaves as SaveMessage and r is
	// dropped.
	SaveMessageWithResult(ctx context.Context, m *domain.Message, r *IngestResult) (orig *domain.Message, err error)
	// GetMessage reads a message with its raw bytes; orgs nil means any
	// organization (the pipeline's own use).
	GetMessage(ctx context.Context, orgs []int64, id int64) (*domain.Message, error)
	ListMessages(ctx context.Context, q MessageQuery) (list []domain.Message, next string, err error)
	// ReceivedMessages lists messages stored but never processed: after a
	// crash between storing and attaching, these are processed again.
	ReceivedMessages(ctx context.Context, limit int) ([]int64, error)
	// AssignMessageDevice gives a message stored from an unregistered
	// sender the device since registered for it (and that device's
	// organization), so that it can be processed. A message that already
	// has a device, or whose bytes that device already sent, is a
	// *ConflictError.
	AssignMessageDevice(ctx context.Context, id int64, dev *domain.Device) error
	// ApplyIngest writes what processing a message produced, in one
	// transaction with the message's new status. Whatever an earlier run
	// derived from the same message is replaced, so reprocessing never
	// attaches anything twice.
	ApplyIngest(ctx context.Context, messageID int64, r *IngestResult) error

	GetDevice(ctx context.Context, orgs []int64, id int64) (*domain.Device, error)
	UpdateDevice(ctx context.Context, orgs []int64, d *domain.Device, audit *domain.AuditEvent) error
	DeleteDevice(ctx context.Context, orgs []int64, id int64, audit *domain.AuditEvent) error
	// FindDevices lists active devices of a protocol whose identity field
	// (AE title, sending application, sender) equals id, in every organization.
	FindDevices(ctx context.Context, protocol, id string) ([]domain.Device, error)

	// PutCodeMap creates or replaces an organization's code map by name.
	PutCodeMap(ctx context.Context, m *domain.CodeMap, audit *domain.AuditEvent) error
	GetCodeMap(ctx context.Context, org int64, name string) (*domain.CodeMap, error)
	ListCodeMaps(ctx context.Context, orgs []int64) ([]domain.CodeMap, error)

	// Lookups for matching, within one organization.
	FindSpecimen(ctx context.Context, org int64, barcode string) (*domain.Specimen, error)
	FindOrderByAccession(ctx context.Context, org int64, accession string) (*domain.ServiceRequest, error)
	FindOrderByStudyUID(ctx context.Context, org int64, uid string) (*domain.ServiceRequest, error)
	FindPatientsByIdentifier(ctx context.Context, org int64, id domain.Identifier) ([]domain.Patient, error)
	FindPatientsByDemographics(ctx context.Context, org int64, family, given, birthDate string, gender domain.Gender) ([]domain.Patient, error)
	// FindOrdersByIdentifier lists the orders of org holding an outside
	// placer or filler number (domain.OrderUpsert.Identifiers) with this
	// value, in any system, each with the identifier that matched.
	FindOrdersByIdentifier(ctx context.Context, org int64, value string) ([]domain.OrderRef, error)

	ListRecon(ctx context.Context, q ReconQuery) (list []domain.ReconItem, next string, err error)
	GetRecon(ctx context.Context, orgs []int64, id int64) (*domain.ReconItem, error)
	// ResolveRecon attaches or rejects an open item and every open item
	// queued under the same key, in one transaction with the audit event.
	ResolveRecon(ctx context.Context, orgs []int64, id int64, d ReconDecision, audit *domain.AuditEvent) ([]domain.ReconItem, error)
}

// The ingest result types live in the domain so that the mapping layer can
// build them without depending on the store.
type (
	IngestResult = domain.IngestResult
	ReportSet    = domain.ReportSet
	ReconDraft   = domain.ReconDraft
)

// ReconDecision is a person's decision on a reconciliation item.
type ReconDecision struct {
	Attach    bool
	PatientID int64 // required to attach
	RequestID int64 // optional: the order the results fulfil
	Note      string
	UserID    int64
}

// MessageQuery selects stored messages, newest first.
type MessageQuery struct {
	Orgs     []int64
	DeviceID int64
	Status   string
	Protocol string
	Page
}

// ReconQuery selects reconciliation items, oldest first.
type ReconQuery struct {
	Orgs      []int64
	MessageID int64
	Status    string // default open
	Reason    string
	Kind      string
	Page
}
