package store

import (
	"context"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// Searcher is what the FHIR R4 API reads: searches that combine criteria,
// page with a keyset cursor and count their matches, and reads by id.
//
// Every query is scoped to Orgs (an empty Orgs matches nothing), and every
// read answers ErrNotFound for a record outside them. Results, reports,
// studies and specimens that are not attached to a patient — the ones
// waiting in reconciliation — are not clinical records yet: no search
// finds them and no read returns them.
//
// All list criteria are ORed within one field (Codes, Status, …) and ANDed
// across fields; a DateParam list is ANDed (date=ge…&date=lt…). Results are
// in ascending id order. Each search returns the page, the cursor of the
// next page ("" when this is the last), and the number of matches over all
// pages when the query asks for Total (else -1).
type Searcher interface {
	SearchPatientRecords(ctx context.Context, q PatientSearch) (list []domain.Patient, next string, total int, err error)
	SearchServiceRequests(ctx context.Context, q ServiceRequestQuery) (list []domain.ServiceRequest, next string, total int, err error)
	SearchSpecimens(ctx context.Context, q SpecimenQuery) (list []domain.Specimen, next string, total int, err error)
	SearchObservations(ctx context.Context, q ObservationQuery) (list []domain.Observation, next string, total int, err error)
	// SearchReports fills each report's Result with its observations' ids.
	SearchReports(ctx context.Context, q ReportQuery) (list []domain.DiagnosticReport, next string, total int, err error)
	// SearchStudies loads each study's series and instances.
	SearchStudies(ctx context.Context, q StudyQuery) (list []domain.ImagingStudy, next string, total int, err error)
	SearchDevices(ctx context.Context, q DeviceQuery) (list []domain.Device, next string, total int, err error)
	SearchAuditEvents(ctx context.Context, q AuditEventQuery) (list []domain.AuditEvent, next string, total int, err error)

	GetObservation(ctx context.Context, orgs []int64, id int64) (*domain.Observation, error)
	GetReport(ctx context.Context, orgs []int64, id int64) (*domain.DiagnosticReport, error)
	GetSpecimen(ctx context.Context, orgs []int64, id int64) (*domain.Specimen, error)
	GetStudy(ctx context.Context, orgs []int64, id int64) (*domain.ImagingStudy, error)
	GetAuditEvent(ctx context.Context, orgs []int64, id int64) (*domain.AuditEvent, error)
}

// Token is a FHIR token search value: "code" (any system), "system|code",
// "|code" (no system) or "system|" (any code of the system).
type Token struct {
	System    string
	Code      string
	HasSystem bool // System must match exactly; an empty System means "no system"
}

// DateParam is one FHIR date search value: a prefix and the implicit range
// of the value as written, [Start, End) — 2025-03 is the whole of March.
// Against a stored instant t the prefixes mean:
//
//	eq: Start <= t < End    ne: t < Start or t >= End
//	lt, eb: t < Start       gt, sa: t >= End
//	le: t < End             ge: t >= Start
//
// Birth dates compare the same way on whole days.
type DateParam struct {
	Prefix string // eq (or empty), ne, lt, gt, le, ge, sa, eb
	Start  time.Time
	End    time.Time
}

// DatePrefixes lists the prefixes DateParam understands.
var DatePrefixes = []string{"eq", "ne", "lt", "gt", "le", "ge", "sa", "eb"}

// SearchPage is the paging of a search: the page size and cursor, and
// whether to count all matches.
type SearchPage struct {
	Page
	Total bool
}

// PatientSearch selects patients.
type PatientSearch struct {
	Orgs []int64
	IDs  []int64
	// Name matches when any part of "family given patronymic", or the full
	// name, starts with it; case-insensitive, ё = е.
	Name        string
	BirthDate   []DateParam
	Gender      []domain.Gender
	Identifiers []Token // any identifier system, СНИЛС and ЕНП included
	SearchPage
}

// ServiceRequestQuery selects orders. Identifiers match the accession
// number (domain.SystemAccession) and, for imaging orders, the Study
// Instance UID (domain.SystemDICOMUID, value "urn:oid:<uid>"; the prefix
// may be left out when the system is given).
type ServiceRequestQuery struct {
	Orgs        []int64
	IDs         []int64
	PatientID   int64
	Identifiers []Token
	Codes       []Token
	Status      []domain.RequestStatus
	Category    []domain.Category
	Authored    []DateParam
	Occurrence  []DateParam // the scheduled time
	SearchPage
}

// SpecimenQuery selects specimens. Identifiers match the barcode
// (domain.SystemBarcode).
type SpecimenQuery struct {
	Orgs        []int64
	IDs         []int64
	PatientID   int64
	RequestIDs  []int64
	Identifiers []Token
	Types       []Token
	Status      []string
	Collected   []DateParam
	SearchPage
}

// ObservationQuery selects attached observations.
type ObservationQuery struct {
	Orgs        []int64
	IDs         []int64
	PatientID   int64
	RequestIDs  []int64 // based-on
	SpecimenIDs []int64
	DeviceIDs   []int64
	Codes       []Token
	Status      []string
	Date        []DateParam // effective
	SearchPage
}

// ReportQuery selects attached diagnostic reports. A report belongs to the
// category of its order; one without an order came from a lab analyzer.
type ReportQuery struct {
	Orgs       []int64
	IDs        []int64
	PatientID  int64
	RequestIDs []int64 // based-on
	Codes      []Token
	Status     []string
	Category   []domain.Category
	Date       []DateParam // effective
	Issued     []DateParam
	SearchPage
}

// StudyQuery selects attached imaging studies. Identifiers match the
// Study Instance UID (domain.SystemDICOMUID, value "urn:oid:<uid>") and the
// accession number (domain.SystemAccession).
type StudyQuery struct {
	Orgs        []int64
	IDs         []int64
	PatientID   int64
	RequestIDs  []int64 // based-on
	Identifiers []Token
	Modalities  []string
	Status      []string
	Started     []DateParam
	SearchPage
}

// DeviceQuery selects devices. Identifiers match the device's identity
// fields under the systems named by the Device* constants below; Name is a
// case-insensitive (ASCII) prefix of the name.
type DeviceQuery struct {
	Orgs        []int64
	IDs         []int64
	Name        string
	Identifiers []Token
	Active      *bool
	SearchPage
}

// Identifier systems of a device's identity fields.
const (
	SystemDeviceName = "urn:medgate:device-name"             // unique per organization
	SystemAETitle    = "urn:medgate:dicom-ae-title"          // DICOM calling AE title
	SystemSendingApp = "urn:medgate:hl7-sending-application" // HL7 MSH-3
	SystemASTMSender = "urn:medgate:astm-sender"             // ASTM H-5
)

// AuditEventQuery selects audit events of the given organizations.
type AuditEventQuery struct {
	Orgs      []int64
	IDs       []int64
	PatientID int64
	UserID    int64
	Action    []string
	Date      []DateParam // recorded
	SearchPage
}
