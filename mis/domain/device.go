package domain

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Device is an analyzer, scanner or system that talks to medgate. Its
// identity fields say how an inbound message is recognised as its own.
type Device struct {
	ID                 int64      `json:"id"`
	OrganizationID     int64      `json:"organization"`
	BranchID           int64      `json:"branch,omitempty"`
	Name               string     `json:"name"`
	Protocol           string     `json:"protocol"` // dicom | hl7 | astm
	AETitle            string     `json:"aeTitle,omitempty"`
	Addresses          []string   `json:"addresses,omitempty"` // optional allow-list of peer IPs
	SendingApplication string     `json:"sendingApplication,omitempty"`
	SendingFacility    string     `json:"sendingFacility,omitempty"`
	Sender             string     `json:"sender,omitempty"`
	Transport          *Transport `json:"transport,omitempty"`
	Encoding           string     `json:"encoding,omitempty"`
	CodeMap            string     `json:"codeMap,omitempty"`
	MatchingPolicy     string     `json:"matchingPolicy,omitempty"`
	// AckMode overrides how an HL7 device is acknowledged, for analyzers
	// that misuse MSH-15/16: "" follows MSH-15, "original" always answers
	// AA/AE/AR, "enhanced" always answers the commit ACK CA/CE/CR.
	AckMode string `json:"ackMode,omitempty"`
	// Lenient lists the HL7 parser's tolerances the device needs (see
	// HL7Lenient).
	Lenient []string `json:"lenient,omitempty"`
	// OrderMessage is the HL7 message medgate sends a device that
	// receives orders: "ORM^O01" (also when empty) or "OML^O21".
	OrderMessage string `json:"orderMessage,omitempty"`
	// QCPrefix marks the device's own quality-control runs: results whose
	// sample ID starts with it are stored as QC, never put in a chart
	// (besides HL7 MSH-11 = Q, which marks QC for every device).
	QCPrefix       string    `json:"qcPrefix,omitempty"`
	SendsResults   bool      `json:"sendsResults"`
	QueriesOrders  bool      `json:"queriesOrders"`
	ReceivesOrders bool      `json:"receivesOrders"`
	Active         bool      `json:"active"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

// Transport is how medgate reaches a device that is not a TCP client of
// it: a serial line, or a host and port medgate connects to.
type Transport struct {
	Serial string `json:"serial,omitempty" yaml:"serial,omitempty"`
	Baud   int    `json:"baud,omitempty" yaml:"baud,omitempty"`
	Format string `json:"format,omitempty" yaml:"format,omitempty"` // e.g. 8N1
	Host   string `json:"host,omitempty" yaml:"host,omitempty"`
	Port   int    `json:"port,omitempty" yaml:"port,omitempty"`
}

// Device protocols.
const (
	ProtocolDICOM = "dicom"
	ProtocolHL7   = "hl7"
	ProtocolASTM  = "astm"
)

// Text encodings a device may use.
var Encodings = []string{"utf-8", "windows-1251", "iso-8859-5", "cp866", "ascii", "iso-8859-1", "iso-ir-144", "iso-ir-192"}

// HL7 acknowledgement modes a device may be pinned to.
const (
	AckOriginal = "original"
	AckEnhanced = "enhanced"
)

// HL7Lenient are the parser switches a device profile may set: segments
// glued into one line by a gateway, MSH-18 to be ignored in favour of the
// device's encoding, UTF-8 sent under another MSH-18, an MSH-18 value
// nobody knows; and strict-delimiters, which turns off the one tolerance
// every device has by default, units such as 10^9/L sent with the
// component separator unescaped, for a sender that escapes its delimiters.
var HL7Lenient = []string{"glued-segments", "ignore-msh18", "sniff-utf8", "unknown-charset", "strict-delimiters"}

// Matching policies: how far matching may go for a device's results.
const (
	// MatchStrict attaches by specimen barcode, accession number, Study
	// Instance UID or a patient identifier with its system; everything else
	// goes to reconciliation. The default.
	MatchStrict = "strict"
	// MatchPropose also looks for patients by name, birth date and sex and
	// proposes them on the reconciliation item; it never attaches by them.
	MatchPropose = "propose-demographics"
)

// Validate checks a device's fields; identity must fit its protocol.
func (d *Device) Validate() error {
	if d.Name == "" || len(d.Name) > 64 {
		return &FieldError{Field: "name", Message: "name is required, at most 64 characters"}
	}
	switch d.Protocol {
	case ProtocolDICOM:
		if !ValidAETitle(d.AETitle) {
			return &FieldError{Field: "aeTitle", Message: "a DICOM device needs its calling AE title (1 to 16 ASCII characters, no backslash)"}
		}
	case ProtocolHL7:
		if d.SendingApplication == "" {
			return &FieldError{Field: "sendingApplication", Message: "an HL7 device needs its sending application (MSH-3)"}
		}
	case ProtocolASTM:
		if d.Sender == "" {
			return &FieldError{Field: "sender", Message: "an ASTM device needs its sender name (H-5)"}
		}
	default:
		return &FieldError{Field: "protocol", Message: `protocol is "dicom", "hl7" or "astm"`}
	}
	for i, a := range d.Addresses {
		if net.ParseIP(a) == nil {
			return &FieldError{Field: "addresses[" + itoa(i) + "]", Message: fmt.Sprintf("%q is not an IP address", a)}
		}
	}
	if d.Encoding != "" && !slices.Contains(Encodings, d.Encoding) {
		return &FieldError{Field: "encoding", Message: "encoding is one of " + strings.Join(Encodings, ", ")}
	}
	switch d.MatchingPolicy {
	case "", MatchStrict, MatchPropose:
	default:
		return &FieldError{Field: "matchingPolicy", Message: `matching policy is "strict" or "propose-demographics"`}
	}
	switch d.AckMode {
	case "", AckOriginal, AckEnhanced:
	default:
		return &FieldError{Field: "ackMode", Message: `ack mode is "original" or "enhanced" (empty: as MSH-15 asks)`}
	}
	for i, l := range d.Lenient {
		if !slices.Contains(HL7Lenient, l) {
			return &FieldError{Field: "lenient[" + itoa(i) + "]", Message: "lenient is a list of " + strings.Join(HL7Lenient, ", ")}
		}
	}
	switch d.OrderMessage {
	case "", "ORM^O01", "OML^O21":
	default:
		return &FieldError{Field: "orderMessage", Message: `order message is "ORM^O01" or "OML^O21"`}
	}
	if (d.AckMode != "" || len(d.Lenient) > 0 || d.OrderMessage != "") && d.Protocol != ProtocolHL7 {
		return &FieldError{Field: "ackMode", Message: "ack mode, lenient and order message apply to HL7 devices only"}
	}
	if t := d.Transport; t != nil {
		if t.Serial != "" && (t.Baud <= 0 || t.Baud > 921600) {
			return &FieldError{Field: "transport.baud", Message: "a serial line needs a baud rate (e.g. 9600)"}
		}
		if t.Format != "" && !serialFormat.MatchString(t.Format) {
			return &FieldError{Field: "transport.format", Message: "format is data bits, parity, stop bits, e.g. 8N1 or 7E1"}
		}
	}
	if len(d.QCPrefix) > 32 || strings.TrimSpace(d.QCPrefix) != d.QCPrefix {
		return &FieldError{Field: "qcPrefix", Message: "qcPrefix is at most 32 characters, without leading or trailing spaces"}
	}
	return nil
}

var serialFormat = regexp.MustCompile(`^[5-8][NEOMS][12]$`)

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

// ValidAETitle reports whether s is an AE title (PS3.5 Table 6.2-1, AE):
// 1 to 16 characters of the default repertoire — printable ASCII — without
// backslash, and not only spaces.
func ValidAETitle(s string) bool {
	if s == "" || len(s) > 16 || strings.TrimSpace(s) == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7E || c == '\\' {
			return false
		}
	}
	return true
}
