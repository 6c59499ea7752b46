package domain

import "time"

// IngestResult is what processing one message produced.
type IngestResult struct {
	Status  string // MessageProcessed, MessageQueued or MessageError
	Reason  string
	Reports []ReportSet
	Studies []ImagingStudy
	Recon   []ReconDraft
	// Patients and Orders are what an outside system (HL7 ADT, ORM^O01,
	// OML^O21) says about patients and orders; the store writes them in
	// the transaction that sets the message's status, Patients first.
	Patients []PatientUpsert
	Orders   []OrderUpsert
	// Specimens is what the results say of the specimens they matched
	// (HL7 SPM: type, collection time), written only where the specimen
	// has none yet: what the registrar entered wins.
	Specimens []SpecimenUpdate
}

// SpecimenUpdate is what a result message says of a known specimen.
type SpecimenUpdate struct {
	ID        int64
	Type      Coding
	Collected *time.Time
}

// ReportSet is a report with its observations.
type ReportSet struct {
	Report       DiagnosticReport
	Observations []Observation
}

// ReconDraft is a reconciliation item to create; Report and Study index
// into the result's Reports and Studies (-1: none).
type ReconDraft struct {
	Item   ReconItem
	Report int
	Study  int
}

// PatientUpsert creates or updates one patient from what a message says.
//
// Patient holds only the fields the message carries (normalized and
// validated by the mapping); on update the store copies those that are not
// empty onto the stored patient and adds identifiers it lacks, never
// erasing anything, and bumps the version so that a person editing the
// patient meanwhile gets a version conflict rather than overwriting it.
//
// The store finds the patient again inside its transaction: ID when the
// mapping matched one, else the one patient holding any of Patient's
// identifiers (so a resend or a reprocessed message updates rather than
// duplicates), else it creates one — refusing beyond MaxPatients, in which
// case the message is queued under ReasonPatientLimit instead. Anything
// else found there (several patients, or another patient than ID) is a
// conflict the pipeline retries.
type PatientUpsert struct {
	ID          int64   `json:"id,omitempty"`
	Patient     Patient `json:"patient"`
	MaxPatients int     `json:"maxPatients,omitempty"` // 0: no limit
	// Source names the audit events: "patient.create.<source>" and
	// "patient.update.<source>", e.g. "hl7".
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"` // audit detail: message type, no personal data
}

// OrderUpsert creates, changes or cancels one order as an outside system
// (a LIS or HIS) placed it.
//
// medgate keeps its own accession number on every order; the outside
// system's placer and filler numbers are Identifiers of the order (each
// with a system naming who assigned it), so results that come back with
// either number, or with medgate's accession number, find the order.
//
// The store finds the order again inside its transaction: ID, else an
// order holding any of Identifiers (so a resend of a new order updates it
// rather than creating a second one); with neither it creates the order
// from Request (accession number and, unless given, specimen barcodes
// assigned as for orders made in medgate). On update, Codes, Priority,
// Note and Scheduled replace the stored ones when the message carries them,
// specimens with barcodes the order lacks are added, and Status moves the
// order when its lifecycle allows.
type OrderUpsert struct {
	ID int64 `json:"id,omitempty"`
	// Patient indexes the result's Patients when this message also creates
	// or updates the order's patient (the store uses that patient's id);
	// -1: Request.PatientID.
	Patient     int            `json:"patientUpsert"`
	Request     ServiceRequest `json:"request"`
	Status      RequestStatus  `json:"status,omitempty"` // on update: the new status; "" keeps it
	Identifiers []Identifier   `json:"identifier,omitempty"`
	// Source names the audit events: "order.create.<source>",
	// "order.update.<source>", "order.cancel.<source>".
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"` // audit detail: message type and order control, no personal data
}

// OrderRef is an order found by one of the identifiers an outside system
// gave it (see OrderUpsert).
type OrderRef struct {
	Identifier Identifier     `json:"identifier"`
	Order      ServiceRequest `json:"order"`
}
