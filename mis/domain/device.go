package domain

import "time"

// Device is an analyzer, scanner or system that talks to medgate.
type Device struct {
	ID                 int64     `json:"id"`
	OrganizationID     int64     `json:"organization"`
	Name               string    `json:"name"`
	Protocol           string    `json:"protocol"` // dicom | hl7 | astm
	AETitle            string    `json:"aeTitle,omitempty"`
	Addresses          []string  `json:"addresses,omitempty"`
	SendingApplication string    `json:"sendingApplication,omitempty"`
	SendingFacility    string    `json:"sendingFacility,omitempty"`
	Sender             string    `json:"sender,omitempty"`
	Encoding           string    `json:"encoding,omitempty"`
	CodeMap            string    `json:"codeMap,omitempty"`
	Active             bool      `json:"active"`
	Created            time.Time `json:"created"`
}

// AuditEvent records who did what to which patient data, from where, and
// how it ended (FHIR AuditEvent, flattened).
type AuditEvent struct {
	ID             int64     `json:"id"`
	Time           time.Time `json:"recorded"`
	UserID         int64     `json:"user,omitempty"`
	Login          string    `json:"login,omitempty"`
	Action         string    `json:"action"` // FHIR audit-event-action: C R U D E
	Event          string    `json:"event"`  // what happened, e.g. "patient.read"
	OrganizationID int64     `json:"organization,omitempty"`
	PatientID      int64     `json:"patient,omitempty"`
	ResourceType   string    `json:"resourceType,omitempty"`
	ResourceID     int64     `json:"resourceId,omitempty"`
	Address        string    `json:"address,omitempty"`
	Outcome        int       `json:"outcome"` // FHIR audit-event-outcome: 0 success, 4 minor, 8 serious, 12 major
	Detail         string    `json:"detail,omitempty"`
}

// Audit actions and outcomes.
const (
	ActionCreate  = "C"
	ActionRead    = "R"
	ActionUpdate  = "U"
	ActionDelete  = "D"
	ActionExecute = "E"

	OutcomeSuccess      = 0
	OutcomeMinorFailure = 4
	OutcomeSeriousFail  = 8
)
