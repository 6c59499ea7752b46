package domain

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Category says whether an order goes to the lab or to imaging.
type Category string

const (
	CategoryLab     Category = "lab"
	CategoryImaging Category = "imaging"
)

// RequestStatus is a ServiceRequest's lifecycle state.
type RequestStatus string

const (
	StatusDraft          RequestStatus = "draft"
	StatusActive         RequestStatus = "active"
	StatusCompleted      RequestStatus = "completed"
	StatusCancelled      RequestStatus = "cancelled"
	StatusEnteredInError RequestStatus = "entered-in-error"
)

// CanMove reports whether an order may go from status s to next:
// draft→active→completed, cancelled from draft or active, and
// entered-in-error from anywhere but itself.
func (s RequestStatus) CanMove(next RequestStatus) bool {
	switch next {
	case StatusActive:
		return s == StatusDraft
	case StatusCompleted:
		return s == StatusActive
	case StatusCancelled:
		return s == StatusDraft || s == StatusActive
	case StatusEnteredInError:
		return s != StatusEnteredInError
	}
	return false
}

// Priority follows FHIR request-priority.
type Priority string

const (
	PriorityRoutine Priority = "routine"
	PriorityUrgent  Priority = "urgent"
	PriorityASAP    Priority = "asap"
	PriorityStat    Priority = "stat"
)

// ServiceRequest is a lab or imaging order. Its accession number, specimen
// barcode (lab) and Study Instance UID (imaging) are assigned when it is
// created, so the analyzer, the worklist and the arriving study carry the
// keys that lead results back to it.
type ServiceRequest struct {
	ID                 int64         `json:"id"`
	OrganizationID     int64         `json:"organization"`
	BranchID           int64         `json:"branch,omitempty"`
	PatientID          int64         `json:"patient"`
	Category           Category      `json:"category"`
	AccessionNumber    string        `json:"accessionNumber"`
	Codes              []Coding      `json:"code,omitempty"`
	Procedure          string        `json:"procedure,omitempty"`
	Modality           string        `json:"modality,omitempty"`
	BodySite           string        `json:"bodySite,omitempty"`
	Priority           Priority      `json:"priority"`
	RequesterID        int64         `json:"requester,omitempty"`
	Status             RequestStatus `json:"status"`
	StudyInstanceUID   string        `json:"studyInstanceUid,omitempty"`
	ScheduledStationAE string        `json:"scheduledStationAeTitle,omitempty"`
	Scheduled          *time.Time    `json:"occurrence,omitempty"`
	Note               string        `json:"note,omitempty"`
	Specimens          []Specimen    `json:"specimen,omitempty"`
	AuthoredOn         time.Time     `json:"authoredOn"`
	Updated            time.Time     `json:"updated"`
}

// Modalities medgate orders imaging for (DICOM CID 29 subset, plus the dental ones).
var modalities = map[string]bool{
	"CT": true, "MR": true, "US": true, "CR": true, "DX": true, "MG": true, "XA": true,
	"RF": true, "NM": true, "PT": true, "IO": true, "PX": true, "OT": true, "ES": true,
}

// Normalize fills defaults and trims text.
func (r *ServiceRequest) Normalize() {
	r.AccessionNumber = strings.TrimSpace(r.AccessionNumber)
	r.Procedure = strings.TrimSpace(r.Procedure)
	r.Modality = strings.ToUpper(strings.TrimSpace(r.Modality))
	r.ScheduledStationAE = strings.TrimSpace(r.ScheduledStationAE)
	if r.Priority == "" {
		r.Priority = PriorityRoutine
	}
	if r.Status == "" {
		r.Status = StatusActive
	}
	for i := range r.Codes {
		r.Codes[i].Code = strings.TrimSpace(r.Codes[i].Code)
		r.Codes[i].System = strings.TrimSpace(r.Codes[i].System)
	}
}

// Validate checks a normalized order as submitted for creation.
func (r *ServiceRequest) Validate() error {
	if r.PatientID <= 0 {
		return &FieldError{Field: "patient", Message: "patient id is required"}
	}
	switch r.Category {
	case CategoryLab:
		if len(r.Codes) == 0 {
			return &FieldError{Field: "code", Message: "a lab order needs at least one requested test code"}
		}
	case CategoryImaging:
		if r.Modality == "" {
			return &FieldError{Field: "modality", Message: "an imaging order needs a modality (e.g. CT, DX, IO, PX)"}
		}
		if !modalities[r.Modality] {
			return &FieldError{Field: "modality", Message: fmt.Sprintf("unknown modality %q", r.Modality)}
		}
		if r.Procedure == "" && len(r.Codes) == 0 {
			return &FieldError{Field: "procedure", Message: "an imaging order needs a procedure or a code"}
		}
	case "":
		return &FieldError{Field: "category", Message: `category is required: "lab" or "imaging"`}
	default:
		return &FieldError{Field: "category", Message: `category must be "lab" or "imaging"`}
	}
	for i, c := range r.Codes {
		if c.Code == "" {
			return &FieldError{Field: "code[" + itoa(i) + "].code", Message: "code is required"}
		}
	}
	switch r.Priority {
	case PriorityRoutine, PriorityUrgent, PriorityASAP, PriorityStat:
	default:
		return &FieldError{Field: "priority", Message: `priority must be "routine", "urgent", "asap" or "stat"`}
	}
	switch r.Status {
	case StatusDraft, StatusActive:
	default:
		return &FieldError{Field: "status", Message: `a new order is "draft" or "active"`}
	}
	if r.AccessionNumber != "" {
		if err := ValidateAccession(r.AccessionNumber); err != nil {
			return err
		}
	}
	if r.StudyInstanceUID != "" {
		if err := ValidateUID(r.StudyInstanceUID); err != nil {
			return &FieldError{Field: "studyInstanceUid", Message: err.Error()}
		}
	}
	if len(r.ScheduledStationAE) > 16 {
		return &FieldError{Field: "scheduledStationAeTitle", Message: "an AE title has at most 16 characters"}
	}
	if len(r.Procedure) > 1024 || len(r.Note) > 4096 {
		return &FieldError{Field: "procedure", Message: "text too long"}
	}
	return nil
}

// ValidateAccession checks an accession number: it travels in DICOM (SH, 16
// characters) and HL7, so it is limited to characters that survive both.
func ValidateAccession(s string) error {
	if len(s) > 16 {
		return &FieldError{Field: "accessionNumber", Message: "accession number has at most 16 characters (DICOM SH)"}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '.' || c == '_') {
			return &FieldError{Field: "accessionNumber", Message: "accession number may contain Latin letters, digits, '-', '.', '_' only"}
		}
	}
	return nil
}

// AccessionNumber formats an organization's n-th accession number: a
// category letter and nine digits, short enough for DICOM SH.
func AccessionNumber(c Category, n int64) string {
	prefix := "L"
	if c == CategoryImaging {
		prefix = "R"
	}
	return fmt.Sprintf("%s%09d", prefix, n)
}

// SpecimenBarcode formats an organization's n-th specimen barcode: ten digits,
// the last a Luhn check digit. Digits only and of even length, it prints as
// compact Code 128 subset C and every analyzer's scanner reads it.
func SpecimenBarcode(n int64) string {
	body := fmt.Sprintf("%09d", n%1_000_000_000)
	return body + strconv.Itoa(luhn(body))
}

// ValidBarcode checks the Luhn digit of a barcode made by SpecimenBarcode.
func ValidBarcode(s string) bool {
	return len(s) >= 2 && allDigits(s) && strconv.Itoa(luhn(s[:len(s)-1])) == s[len(s)-1:]
}

func luhn(digits string) int {
	sum := 0
	double := true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// StudyUID makes the Study Instance UID of an organization's n-th imaging
// order under its UID root. Without a root it falls back to a UUID-derived
// 2.25 UID (PS3.5 B.2), which needs no registration.
func StudyUID(root string, org, n int64) string {
	if root == "" {
		return UUIDDerivedUID()
	}
	return fmt.Sprintf("%s.1.%d.%d", root, org, n)
}

// UUIDDerivedUID returns a random 2.25.<128-bit decimal> UID.
func UUIDDerivedUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return "2.25." + new(big.Int).SetBytes(b).String()
}

// ValidateUID checks a DICOM UID: dot-separated numeric components without
// leading zeros, at most 64 characters.
func ValidateUID(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("a DICOM UID has 1 to 64 characters")
	}
	for _, comp := range strings.Split(s, ".") {
		if comp == "" || !allDigits(comp) {
			return fmt.Errorf("%q is not a DICOM UID: components are digits separated by dots", s)
		}
		if len(comp) > 1 && comp[0] == '0' {
			return fmt.Errorf("%q is not a DICOM UID: a component has a leading zero", s)
		}
	}
	return nil
}

// Specimen is a sample taken for a lab order, identified by its barcode.
type Specimen struct {
	ID             int64      `json:"id"`
	OrganizationID int64      `json:"organization"`
	PatientID      int64      `json:"patient"`
	RequestID      int64      `json:"request"`
	Barcode        string     `json:"barcode"`
	Type           Coding     `json:"type,omitzero"`
	Collected      *time.Time `json:"collected,omitempty"`
	Status         string     `json:"status"` // available | unavailable | unsatisfactory | entered-in-error
}
