package domain

import "time"

// Quantity is a measured amount with its UCUM unit; Comparator carries the
// "<", "<=", ">=", ">" that analyzers send for values outside their range.
type Quantity struct {
	Value      float64 `json:"value"`
	Comparator string  `json:"comparator,omitempty"`
	Unit       string  `json:"unit,omitempty"`
}

// Range is a low–high pair in one unit; either end may be absent.
type Range struct {
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
	Unit string   `json:"unit,omitempty"`
}

// ReferenceRange is the range snapshot a result was judged against; it is
// copied onto the result so later code-map edits never change past results.
type ReferenceRange struct {
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
	Text string   `json:"text,omitempty"`
}

// Interpretation codes (FHIR v3 ObservationInterpretation subset).
const (
	InterpNormal       = "N"
	InterpLow          = "L"
	InterpHigh         = "H"
	InterpCriticalLow  = "LL"
	InterpCriticalHigh = "HH"
	InterpAbnormal     = "A"
)

// Interpretations are the codes medgate stores, with their display: the
// values of HL7 v2 table 0078 (OBX-8), which are codes of FHIR's v3
// ObservationInterpretation system of the same spelling.
var Interpretations = map[string]string{
	InterpNormal: "Normal", InterpLow: "Low", InterpHigh: "High",
	InterpCriticalLow: "Critical low", InterpCriticalHigh: "Critical high", InterpAbnormal: "Abnormal",
	"AA": "Critical abnormal", "<": "Off scale low", ">": "Off scale high", "LU": "Significantly low",
	"HU": "Significantly high", "U": "Significant change up", "D": "Significant change down",
	"B": "Better", "W": "Worse", "S": "Susceptible", "R": "Resistant", "I": "Intermediate",
	"MS": "Moderately susceptible", "VS": "Very susceptible", "SDD": "Susceptible-dose dependent",
	"NS": "Non-susceptible", "POS": "Positive", "NEG": "Negative", "IND": "Indeterminate",
	"DET": "Detected", "ND": "Not detected", "RR": "Reactive", "WR": "Weakly reactive",
	"NR": "Non-reactive", "AC": "Anti-complementary substances present", "TOX": "Cytotoxic substance present",
	"QCF": "Quality control failure", "EX": "outside threshold", "HX": "above high threshold",
	"LX": "below low threshold",
}

// ValidInterpretation reports whether s is an interpretation medgate stores.
func ValidInterpretation(s string) bool {
	_, ok := Interpretations[s]
	return ok || s == ""
}

// Observation is one result value. Exactly one of the value fields is set.
//
// LOINC is the LOINC code of the test when Code is the clinic's own (a
// code-map entry with both code and loinc): FHIR shows it as the second
// coding of Observation.code, and code searches find it like the first.
// It is empty when Code is itself LOINC or no LOINC code is known.
type Observation struct {
	ID             int64           `json:"id"`
	OrganizationID int64           `json:"organization"`
	PatientID      int64           `json:"patient"`
	RequestID      int64           `json:"request,omitempty"`
	SpecimenID     int64           `json:"specimen,omitempty"`
	ReportID       int64           `json:"report,omitempty"`
	DeviceID       int64           `json:"device,omitempty"`
	MessageID      int64           `json:"message,omitempty"` // inbound envelope it came from
	Code           Coding          `json:"code"`
	LOINC          string          `json:"loinc,omitempty"`
	Status         string          `json:"status"` // preliminary | final | corrected | cancelled | entered-in-error
	ValueQuantity  *Quantity       `json:"valueQuantity,omitempty"`
	ValueString    string          `json:"valueString,omitempty"`
	ValueCoding    *Coding         `json:"valueCodeableConcept,omitempty"`
	ValueRange     *Range          `json:"valueRange,omitempty"`
	ReferenceRange *ReferenceRange `json:"referenceRange,omitempty"`
	Interpretation string          `json:"interpretation,omitempty"`
	Effective      time.Time       `json:"effective"`
	Issued         time.Time       `json:"issued"`
	// Equipment is the instrument (module, analyzer behind a middleware)
	// that produced the value as the device names it (HL7 OBX-18).
	Equipment string `json:"equipment,omitempty"`
	Note      string `json:"note,omitempty"`
}

// DiagnosticReport groups the observations of one order or panel.
type DiagnosticReport struct {
	ID             int64     `json:"id"`
	OrganizationID int64     `json:"organization"`
	PatientID      int64     `json:"patient"`
	RequestID      int64     `json:"request,omitempty"`
	MessageID      int64     `json:"message,omitempty"`
	Code           Coding    `json:"code"`
	Status         string    `json:"status"` // registered | partial | preliminary | final | corrected | cancelled
	Effective      time.Time `json:"effective"`
	Issued         time.Time `json:"issued"`
	Conclusion     string    `json:"conclusion,omitempty"`
	// QC marks a quality-control run: stored, never attached to a patient.
	QC     bool    `json:"qc,omitempty"`
	Result []int64 `json:"result,omitempty"` // observation ids
	// PresentedForm is what the device sent as a document or image with
	// the results (HL7 OBX-2 = ED: a PDF report, a histogram), in the
	// order sent; the bytes live in the blob store.
	PresentedForm []Attachment `json:"presentedForm,omitempty"`
}

// Attachment is one document or image of a report (FHIR Attachment). The
// bytes are in the blob store under Location, named by their SHA-256, so
// storing the same document again keeps one copy.
type Attachment struct {
	ContentType string     `json:"contentType"`
	Title       string     `json:"title,omitempty"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256,omitempty"`   // hex
	Location    string     `json:"location,omitempty"` // blob store key
	Created     *time.Time `json:"created,omitempty"`
	// Data carries the decoded bytes from the mapping to the ingest
	// processor, which writes them to the blob store, sets Location and
	// clears Data: never stored in the database nor sent as JSON.
	Data []byte `json:"-"`
}

// ImagingStudy is a DICOM study as medgate indexed it.
type ImagingStudy struct {
	ID                int64           `json:"id"`
	OrganizationID    int64           `json:"organization"`
	PatientID         int64           `json:"patient,omitempty"`
	RequestID         int64           `json:"request,omitempty"`
	StudyInstanceUID  string          `json:"studyInstanceUid"`
	AccessionNumber   string          `json:"accessionNumber,omitempty"`
	Modalities        []string        `json:"modality,omitempty"`
	Description       string          `json:"description,omitempty"`
	Started           *time.Time      `json:"started,omitempty"`
	Status            string          `json:"status"` // registered | available | cancelled | entered-in-error
	NumberOfSeries    int             `json:"numberOfSeries"`
	NumberOfInstances int             `json:"numberOfInstances"`
	Series            []ImagingSeries `json:"series,omitempty"`
	Updated           time.Time       `json:"updated"`

	// StudyID and ReferringPhysician are the modality's (0020,0010) and
	// (0008,0090).
	StudyID            string `json:"studyId,omitempty"`
	ReferringPhysician string `json:"referringPhysician,omitempty"`
	// Source is what the modality said about the patient, as received:
	// shown on reconciliation, and answered to study-level queries while
	// the study is attached to no patient.
	Source SourcePatient `json:"sourcePatient"`
}

// SourcePatient is a patient as a device described them.
type SourcePatient struct {
	ID        string `json:"id,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	Name      string `json:"name,omitempty"`      // DICOM PN, decoded: Family^Given^Middle
	BirthDate string `json:"birthDate,omitempty"` // YYYYMMDD as sent
	Sex       string `json:"sex,omitempty"`       // M, F, O
}

// ImagingSeries is one series of a study.
type ImagingSeries struct {
	UID               string            `json:"uid"`
	Number            int               `json:"number,omitempty"`
	Modality          string            `json:"modality"`
	Description       string            `json:"description,omitempty"`
	BodyPart          string            `json:"bodySite,omitempty"`
	NumberOfInstances int               `json:"numberOfInstances"`
	Instances         []ImagingInstance `json:"instance,omitempty"`
}

// ImagingInstance is one stored SOP instance and where its bytes live.
type ImagingInstance struct {
	SOPInstanceUID string `json:"uid"`
	SOPClassUID    string `json:"sopClass"`
	Number         int    `json:"number,omitempty"`
	TransferSyntax string `json:"transferSyntax,omitempty"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256,omitempty"`
	Location       string `json:"location"` // blob store key
}

// Chart is everything attached to one patient that a doctor reads.
type Chart struct {
	Patient      Patient            `json:"patient"`
	Reports      []DiagnosticReport `json:"reports"`
	Observations []Observation      `json:"observations"`
	Studies      []ImagingStudy     `json:"studies"`
}
