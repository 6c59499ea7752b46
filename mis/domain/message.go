package domain

import "time"

// Message status: where a stored inbound envelope is in the pipeline.
const (
	MessageReceived  = "received"  // stored durably, not yet processed (reprocessed at start-up)
	MessageProcessed = "processed" // parsed, mapped and attached
	MessageQueued    = "queued"    // stored, waiting in reconciliation
	MessageError     = "error"     // could not be parsed or mapped; Reason says why
	MessageDuplicate = "duplicate" // a resend of DuplicateOf, byte for byte; nothing new
	MessageRejected  = "rejected"  // a person decided it belongs nowhere
)

// Message is an inbound envelope as stored: raw bytes (kept apart, see
// Raw) and provenance, with its processing status.
type Message struct {
	ID                 int64     `json:"id"`
	OrganizationID     int64     `json:"organization,omitempty"`
	DeviceID           int64     `json:"device,omitempty"`
	Protocol           string    `json:"protocol"`
	Listener           string    `json:"listener"`
	Peer               string    `json:"peer"`
	CallingAE          string    `json:"callingAeTitle,omitempty"`
	CalledAE           string    `json:"calledAeTitle,omitempty"`
	SendingApplication string    `json:"sendingApplication,omitempty"`
	SendingFacility    string    `json:"sendingFacility,omitempty"`
	Sender             string    `json:"sender,omitempty"`
	Key                string    `json:"key,omitempty"`  // control ID / SOP Instance UID
	Type               string    `json:"type,omitempty"` // ORU^R01, SOP class, …
	Received           time.Time `json:"received"`
	Size               int       `json:"size"`
	SHA256             string    `json:"sha256"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason,omitempty"`
	DuplicateOf        int64     `json:"duplicateOf,omitempty"`
	Attempts           int       `json:"attempts"`
	Updated            time.Time `json:"updated"`
	// Raw holds the bytes, or Blob names them in the blob store when the
	// message is too large for a database row (DICOM instances).
	Raw  []byte `json:"-"`
	Blob string `json:"blob,omitempty"`
}

// Reconciliation reasons: why a result was not attached.
const (
	ReasonNoOrder           = "no_order"
	ReasonUnknownPatient    = "unknown_patient"
	ReasonAmbiguousPatient  = "ambiguous_patient"
	ReasonUnmappedCode      = "unmapped_code"
	ReasonUnknownDevice     = "unknown_device"
	ReasonDuplicateConflict = "duplicate_conflict"
	// ReasonMergeRequest: an outside system asked to merge two patients
	// (HL7 ADT^A40, ADT^A34). medgate never merges on a message: a person
	// confirms which records are the same person and merges them.
	ReasonMergeRequest = "merge_request"
	// ReasonPatientLimit: a message would create a patient beyond the
	// organization's patient limit; raise the limit and reprocess it.
	ReasonPatientLimit = "patient_limit"
)

// Reconciliation item states.
const (
	ReconOpen     = "open"
	ReconAttached = "attached"
	ReconRejected = "rejected"
)

// ReconItem is one entry of the reconciliation queue, shared by lab and
// imaging: a stored message, or the results made from it, that could not be
// attached, with what matching looked for (Key) so that one decision
// resolves every item queued under the same key.
type ReconItem struct {
	ID             int64     `json:"id"`
	OrganizationID int64     `json:"organization,omitempty"`
	MessageID      int64     `json:"message"`
	DeviceID       int64     `json:"device,omitempty"`
	Kind           string    `json:"kind"` // lab | imaging | patient
	Reason         string    `json:"reason"`
	Detail         string    `json:"detail,omitempty"`
	Key            string    `json:"key,omitempty"` // e.g. "barcode:0000000018", "study:1.2.3", "pid:urn:…|123"
	ReportID       int64     `json:"report,omitempty"`
	StudyID        int64     `json:"study,omitempty"`
	Candidates     []int64   `json:"candidates,omitempty"` // proposed patients (demographics), never attached automatically
	Status         string    `json:"status"`
	PatientID      int64     `json:"patient,omitempty"` // set when attached
	RequestID      int64     `json:"request,omitempty"`
	DecidedBy      int64     `json:"decidedBy,omitempty"`
	Decided        time.Time `json:"decided,omitzero"`
	Note           string    `json:"note,omitempty"`
	Created        time.Time `json:"created"`
}

// CodeMap translates one device's codes into the clinic's.
type CodeMap struct {
	ID             int64          `json:"id"`
	OrganizationID int64          `json:"organization"`
	Name           string         `json:"name" yaml:"name"`
	Entries        []CodeMapEntry `json:"entries" yaml:"entries"`
	Version        int64          `json:"version"`
	Updated        time.Time      `json:"updated"`
}

// CodeMapEntry maps a device code to a coded test with its unit and ranges.
type CodeMapEntry struct {
	DeviceCode string      `json:"deviceCode" yaml:"device_code"`
	System     string      `json:"system,omitempty" yaml:"system,omitempty"`
	Code       string      `json:"code" yaml:"code"`
	Display    string      `json:"display,omitempty" yaml:"display,omitempty"`
	LOINC      string      `json:"loinc,omitempty" yaml:"loinc,omitempty"`
	DeviceUnit string      `json:"deviceUnit,omitempty" yaml:"device_unit,omitempty"`
	Unit       string      `json:"unit,omitempty" yaml:"unit,omitempty"`     // UCUM
	Factor     float64     `json:"factor,omitempty" yaml:"factor,omitempty"` // value in Unit = device value × Factor (0 means 1)
	Ranges     []RangeRule `json:"ranges,omitempty" yaml:"ranges,omitempty"`
}

// RangeRule is a reference range for one sex and age band (in Unit).
type RangeRule struct {
	Sex          Gender   `json:"sex,omitempty" yaml:"sex,omitempty"`         // empty: any
	AgeFromDays  int      `json:"ageFromDays,omitempty" yaml:"age_from_days"` // inclusive
	AgeToDays    int      `json:"ageToDays,omitempty" yaml:"age_to_days"`     // exclusive; 0: no upper bound
	Low          *float64 `json:"low,omitempty" yaml:"low,omitempty"`
	High         *float64 `json:"high,omitempty" yaml:"high,omitempty"`
	CriticalLow  *float64 `json:"criticalLow,omitempty" yaml:"critical_low,omitempty"`
	CriticalHigh *float64 `json:"criticalHigh,omitempty" yaml:"critical_high,omitempty"`
	Text         string   `json:"text,omitempty" yaml:"text,omitempty"`
}
