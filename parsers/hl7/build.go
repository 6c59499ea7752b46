package hl7

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header is what NewMessage writes into MSH.
type Header struct {
	Delimiters           Delimiters // zero: DefaultDelimiters()
	SendingApplication   HD
	SendingFacility      HD
	ReceivingApplication HD
	ReceivingFacility    HD
	Time                 time.Time // MSH-7, at second precision in its own location
	WithZone             bool      // write UTC offsets in timestamps (many analyzers reject them)
	Type                 MSG
	ControlID            string
	ProcessingID         string // default "P"
	Version              string // default "2.5.1"
	AcceptAckType        string // MSH-15; empty for original mode
	AppAckType           string // MSH-16
	CountryCode          string
	CharacterSet         string // MSH-18 exactly as the receiver expects it, often empty
	// Encoding is the charset Encode writes when it is not what MSH-18
	// names, e.g. "windows-1251" for a device configured that way with
	// MSH-18 empty. Default: MSH-18's charset, else UTF-8.
	Encoding string
}

// NewMessage starts a message with its MSH.
func NewMessage(h Header) *Message {
	d := h.Delimiters
	if d.Field == 0 {
		d = DefaultDelimiters()
	}
	m := &Message{Charset: csUTF8.String()}
	if c, ok := CanonicalCharset(h.CharacterSet); ok && h.CharacterSet != "" {
		m.Charset = c
	}
	if c, ok := CanonicalCharset(h.Encoding); ok && h.Encoding != "" {
		m.Charset = c
	}
	cs, _ := lookupCharset(m.Charset)
	m.c = ctx{d: d, cs: cs}
	pid := h.ProcessingID
	if pid == "" {
		pid = "P"
	}
	ver := h.Version
	if ver == "" {
		ver = "2.5.1"
	}
	text := "MSH" + string(d.Field) + d.EncodingCharacters()
	m.Segments = append(m.Segments, Segment{Name: "MSH", Index: 1, text: text, seps: scanSeps(text, d.Field, nil), c: &m.c})
	s := &m.Segments[0]
	s.setFields(3,
		h.SendingApplication.Encode(d), h.SendingFacility.Encode(d),
		h.ReceivingApplication.Encode(d), h.ReceivingFacility.Encode(d),
		FormatTime(h.Time, PrecisionSecond, h.WithZone), "", h.Type.Encode(d),
		d.Encode(h.ControlID), d.Encode(pid), d.Encode(ver), "", "",
		d.Encode(h.AcceptAckType), d.Encode(h.AppAckType), d.Encode(h.CountryCode), d.Encode(h.CharacterSet))
	return m
}

// setFields sets consecutive fields from n on, in one rebuild.
func (s *Segment) setFields(n int, raws ...string) {
	if isHeader(s.Name) {
		n--
	}
	parts := s.elements()
	for len(parts) < n+len(raws) {
		parts = append(parts, "")
	}
	copy(parts[n:], raws)
	s.setElements(parts)
}

// Add appends a segment with raw (already escaped) fields 1..n and returns
// it. The pointer is valid until the next Add. The ID must be three
// upper-case letters or digits; anything else is a programming error and
// panics.
func (m *Message) Add(name string, fields ...string) *Segment {
	if len(name) != 3 || printableID(name) == "" || isHeader(name) {
		panic("hl7: invalid segment ID for Add: " + strconv.Quote(name))
	}
	m.Segments = append(m.Segments, Segment{Name: name, Index: len(m.Segments) + 1, text: name, c: &m.c})
	s := &m.Segments[len(m.Segments)-1]
	if len(fields) > 0 {
		s.setFields(1, fields...)
	}
	return s
}

func (m *Message) ts(t time.Time, zone bool) string { return FormatTime(t, PrecisionSecond, zone) }

// Ack describes an acknowledgment for BuildACK.
type Ack struct {
	// Code is MSA-1: AA, AE, AR (original and enhanced application
	// acknowledgment) or CA, CE, CR (enhanced commit acknowledgment).
	Code      string
	ControlID string // MSH-10 of the acknowledgment itself
	Time      time.Time
	Text      string // MSA-3, still read by many devices
	Errors    []AckError
	// SendingApplication/Facility default to the request's receiving ones.
	SendingApplication HD
	SendingFacility    HD
}

// AckError is one ERR segment. Codes are HL7 table 0357.
type AckError struct {
	Segment   string // location; empty when not about one segment
	Sequence  int    // 1-based occurrence of that segment
	Field     int
	Component int
	Code      int    // 100 segment sequence, 101 required field, 102 data type, 200 unsupported message type, 207 internal error, ...
	Severity  string // E (default), W, I
	Text      string // a reason a person can act on; no patient data
}

var table0357 = map[int]string{
	0: "Message accepted", 100: "Segment sequence error", 101: "Required field missing", 102: "Data type error",
	103: "Table value not found", 104: "Value too long", 200: "Unsupported message type", 201: "Unsupported event code",
	202: "Unsupported processing id", 203: "Unsupported version id", 204: "Unknown key identifier",
	205: "Duplicate key identifier", 206: "Application record locked", 207: "Application internal error",
}

// AckErrorFor turns a parse error into an ERR entry with the location and
// the table 0357 code that fits it; other errors become 207 with their text.
func AckErrorFor(err error) AckError {
	var pe *ParseError
	if !errors.As(err, &pe) {
		return AckError{Code: 207, Severity: "E", Text: err.Error()}
	}
	code := 100
	switch {
	case errors.Is(pe.Err, ErrRequired):
		code = 101
	case errors.Is(pe.Err, ErrValue), errors.Is(pe.Err, ErrCharset):
		code = 102
	case errors.Is(pe.Err, ErrTooLarge):
		code = 207
	}
	seq := pe.Occurrence
	if seq == 0 && pe.Segment != "" {
		seq = 1 // unknown: the first segment, or the best guess
	}
	return AckError{Segment: pe.Segment, Sequence: seq, Field: pe.Field, Component: pe.Component, Code: code, Severity: "E", Text: pe.Error()}
}

// BuildACK builds the acknowledgment of req (which may be nil when the
// request could not even be read; see ParseHeader). Sender and receiver
// are swapped, the trigger event is echoed (ORU^R01 → ACK^R01), MSA-2 is
// the request's MSH-10, and the request's delimiters, version, processing
// ID and MSH-18 are reused so the device reads the answer as it wrote the
// question. ERR segments use ERR-1 before v2.5 and ERR-2..8 from v2.5.
func BuildACK(req *Message, a Ack) *Message {
	var h Header
	var reqCtl string
	if req != nil {
		rh := req.MSH()
		h = Header{
			Delimiters:           req.c.d,
			SendingApplication:   rh.ReceivingApplication(),
			SendingFacility:      rh.ReceivingFacility(),
			ReceivingApplication: rh.SendingApplication(),
			ReceivingFacility:    rh.SendingFacility(),
			ProcessingID:         rh.ProcessingID(),
			Version:              rh.Version(),
			Encoding:             req.Charset,
			Type:                 MSG{Code: "ACK", Trigger: rh.MessageType().Trigger},
		}
		// MSA-2 is MSH-10 as sent: echoed raw (same delimiters and
		// charset), so a separator the sender left unescaped in it does
		// not cut it short.
		reqCtl = rh.Field(10).Raw()
		h.Delimiters.Truncation = 0 // keep MSH-2 readable by pre-2.7 receivers
		if versionAtLeast(h.Version, 2, 7) {
			h.Delimiters.Truncation = req.c.d.Truncation
		}
	} else {
		h.Type = MSG{Code: "ACK"}
	}
	if !a.SendingApplication.IsZero() {
		h.SendingApplication = a.SendingApplication
	}
	if !a.SendingFacility.IsZero() {
		h.SendingFacility = a.SendingFacility
	}
	if h.Version == "" {
		h.Version = "2.5.1"
	}
	if versionAtLeast(h.Version, 2, 3, 1) {
		h.Type.Structure = "ACK"
	}
	if strings.HasPrefix(a.Code, "C") {
		// A commit acknowledgment must not itself be acknowledged.
		h.AcceptAckType, h.AppAckType = "NE", "NE"
	}
	h.Time, h.ControlID = a.Time, a.ControlID
	m := NewMessage(h)
	d := m.c.d
	if req != nil {
		// Echoed raw: it is already in the request's delimiters.
		m.Segments[0].Set(18, req.MSH().Field(18).Raw())
	}
	m.Add("MSA", d.Encode(a.Code), reqCtl, d.Encode(a.Text))
	newERR := versionAtLeast(h.Version, 2, 5)
	for _, e := range a.Errors {
		sev := e.Severity
		if sev == "" {
			sev = "E"
		}
		code := CWE{Code: strconv.Itoa(e.Code), Text: table0357[e.Code], System: "HL70357"}
		if newERR {
			loc := ""
			if e.Segment != "" {
				loc = d.join(d.Component, d.Encode(e.Segment), itoa(e.Sequence), itoa(e.Field), "", itoa(e.Component))
			}
			m.Add("ERR", "", loc, code.Encode(d), d.Encode(sev), "", "", "", d.Encode(e.Text))
		} else {
			codeSub := code.enc(d, d.Subcomponent)
			if e.Text != "" {
				codeSub = CWE{Code: code.Code, Text: e.Text, System: code.System}.enc(d, d.Subcomponent)
			}
			m.Add("ERR", d.join(d.Component, d.Encode(e.Segment), itoa(e.Sequence), itoa(e.Field), codeSub))
		}
	}
	return m
}

// versionAtLeast compares a dotted HL7 version ("2.3.1") with parts.
func versionAtLeast(v string, parts ...int) bool {
	fields := strings.Split(strings.TrimSpace(v), ".")
	for i, want := range parts {
		got := 0
		if i < len(fields) {
			n, err := strconv.Atoi(fields[i])
			if err != nil {
				return false
			}
			got = n
		}
		if got != want {
			return got > want
		}
	}
	return true
}

// Patient is the PID content builders write.
type Patient struct {
	Identifiers []CX
	Names       []XPN
	BirthDate   time.Time // written at day precision
	Sex         string
	Addresses   []XAD
	Phones      []XTN
}

func (m *Message) addPID(p Patient) {
	d := m.c.d
	s := m.Add("PID", "1")
	s.setFields(3, reps(d, p.Identifiers, CX.Encode))
	s.setFields(5, reps(d, p.Names, XPN.Encode), "", FormatTime(p.BirthDate, PrecisionDay, false), d.Encode(p.Sex))
	s.setFields(11, reps(d, p.Addresses, XAD.Encode), "", reps(d, p.Phones, XTN.Encode))
}

// Visit is the PV1 content builders write.
type Visit struct {
	Class            string // PV1-2: I, O, E, ...
	Location         PL
	AttendingDoctor  XCN
	VisitNumber      CX
	AdmitDateTime    time.Time
	HospitalService  string
	ReferringDoctors []XCN
}

func (m *Message) addPV1(v *Visit, zone bool) {
	if v == nil {
		return
	}
	d := m.c.d
	s := m.Add("PV1", "1", d.Encode(v.Class), v.Location.Encode(d))
	s.setFields(7, v.AttendingDoctor.Encode(d), reps(d, v.ReferringDoctors, XCN.Encode), "", d.Encode(v.HospitalService))
	s.setFields(19, v.VisitNumber.Encode(d))
	s.setFields(44, m.ts(v.AdmitDateTime, zone))
}

func reps[T any](d Delimiters, items []T, enc func(T, Delimiters) string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = enc(it, d)
	}
	return d.join(d.Repetition, parts...)
}

func (m *Message) addNotes(notes []string) {
	d := m.c.d
	for i, n := range notes {
		m.Add("NTE", strconv.Itoa(i+1), "", d.EncodeText(n))
	}
}

// ORU describes an ORU^R01 result message (what an analyzer sends).
type ORU struct {
	Header  Header // Type defaults to ORU^R01^ORU_R01
	Patient Patient
	Visit   *Visit
	Reports []Report
}

// Report is one OBR group of an ORU.
type Report struct {
	OrderControl      string // ORC-1; when set, an ORC precedes the OBR
	PlacerOrderNumber EI
	FillerOrderNumber EI // analyzers often put the sample ID here
	Service           CWE
	ObservationTime   time.Time // OBR-7
	ResultStatus      string    // OBR-25, default F
	Notes             []string
	Results           []Result
}

// Result is one OBX to build.
type Result struct {
	Type      string // OBX-2, default ST (NM when Number is set)
	ID        CWE
	SubID     string
	Value     string // OBX-5 as text; escaped (TX/FT: line breaks as \.br\)
	Coded     *CWE   // for CE/CWE
	ED        *ED    // for ED
	Units     CWE
	Range     string
	Flags     []string
	Status    string // OBX-11, default F
	Time      time.Time
	Equipment []EI
	Notes     []string
}

// BuildORU builds an ORU^R01 from r.
func BuildORU(r ORU) *Message {
	h := r.Header
	if h.Type.IsZero() {
		h.Type = MSG{"ORU", "R01", "ORU_R01"}
	}
	m := NewMessage(h)
	d := m.c.d
	m.addPID(r.Patient)
	m.addPV1(r.Visit, h.WithZone)
	for i, rep := range r.Reports {
		if rep.OrderControl != "" {
			m.Add("ORC", d.Encode(rep.OrderControl), rep.PlacerOrderNumber.Encode(d), rep.FillerOrderNumber.Encode(d))
		}
		status := rep.ResultStatus
		if status == "" {
			status = "F"
		}
		obr := m.Add("OBR", strconv.Itoa(i+1), rep.PlacerOrderNumber.Encode(d), rep.FillerOrderNumber.Encode(d), rep.Service.Encode(d))
		obr.setFields(7, m.ts(rep.ObservationTime, h.WithZone))
		obr.setFields(25, d.Encode(status))
		m.addNotes(rep.Notes)
		for j, o := range rep.Results {
			m.addOBX(j+1, o, h.WithZone)
		}
	}
	return m
}

func (m *Message) addOBX(setID int, o Result, zone bool) {
	d := m.c.d
	typ := o.Type
	if typ == "" {
		typ = "ST"
	}
	var value string
	switch {
	case o.ED != nil:
		value = o.ED.Encode(d)
	case o.Coded != nil:
		value = o.Coded.Encode(d)
	case typ == "TX" || typ == "FT":
		value = d.EncodeText(o.Value)
	default:
		value = d.Encode(o.Value)
	}
	status := o.Status
	if status == "" {
		status = "F"
	}
	flags := make([]string, len(o.Flags))
	for i, f := range o.Flags {
		flags[i] = d.Encode(f)
	}
	s := m.Add("OBX", strconv.Itoa(setID), d.Encode(typ), o.ID.Encode(d), d.Encode(o.SubID), value,
		o.Units.Encode(d), d.Encode(o.Range), d.join(d.Repetition, flags...), "", "", d.Encode(status))
	s.setFields(14, m.ts(o.Time, zone))
	s.setFields(18, reps(d, o.Equipment, EI.Encode))
	m.addNotes(o.Notes)
}

// Order describes an outbound order message (ORM^O01 or OML^O21).
type Order struct {
	Header  Header // Type is set by BuildORM/BuildOML
	Patient Patient
	Visit   *Visit
	Items   []OrderItem
}

// OrderItem is one ordered test or panel.
type OrderItem struct {
	Control           string // ORC-1, default NW
	PlacerOrderNumber EI
	FillerOrderNumber EI
	PlacerGroupNumber EI
	Service           CWE
	Priority          string    // S (stat), A (ASAP), R (routine)
	TransactionTime   time.Time // ORC-9
	RequestedTime     time.Time // OBR-6 (TQ1-7 in OML)
	CollectionTime    time.Time // OBR-7
	OrderingProvider  XCN
	Specimen          *Specimen
	Notes             []string
}

// Specimen is the SPM (OML) or OBR-15 (ORM) content of an order item.
type Specimen struct {
	ID             EI // SPM-2 placer: the barcode on the tube
	Type           CWE
	CollectionTime time.Time
}

func orderControl(it OrderItem) string {
	if it.Control == "" {
		return "NW"
	}
	return it.Control
}

// BuildORM builds an ORM^O01 (v2.3-style orders: ORC+OBR per item,
// priority in ORC-7.6/OBR-27.6, specimen type in OBR-15).
func BuildORM(o Order) *Message {
	h := o.Header
	h.Type = MSG{"ORM", "O01", "ORM_O01"}
	if h.Version == "" {
		h.Version = "2.3.1"
	}
	m := NewMessage(h)
	d := m.c.d
	m.addPID(o.Patient)
	m.addPV1(o.Visit, h.WithZone)
	for i, it := range o.Items {
		tq := d.join(d.Component, "", "", "", "", "", d.Encode(it.Priority))
		orc := m.Add("ORC", d.Encode(orderControl(it)), it.PlacerOrderNumber.Encode(d), it.FillerOrderNumber.Encode(d), it.PlacerGroupNumber.Encode(d))
		orc.setFields(7, tq, "", m.ts(it.TransactionTime, h.WithZone))
		orc.setFields(12, it.OrderingProvider.Encode(d))
		obr := m.Add("OBR", strconv.Itoa(i+1), it.PlacerOrderNumber.Encode(d), it.FillerOrderNumber.Encode(d), it.Service.Encode(d))
		obr.setFields(5, d.Encode(it.Priority), m.ts(it.RequestedTime, h.WithZone), m.ts(it.CollectionTime, h.WithZone))
		if it.Specimen != nil {
			// OBR-15.1 is the specimen source (a CE in subcomponents); its
			// second component is additives, not the text.
			obr.setFields(15, it.Specimen.Type.enc(d, d.Subcomponent))
		}
		obr.setFields(16, it.OrderingProvider.Encode(d))
		obr.setFields(27, tq)
		m.addNotes(it.Notes)
	}
	return m
}

// BuildOML builds an OML^O21 (v2.5.1 laboratory order: ORC, TQ1, OBR, NTE,
// SPM per item).
func BuildOML(o Order) *Message {
	h := o.Header
	h.Type = MSG{"OML", "O21", "OML_O21"}
	m := NewMessage(h)
	d := m.c.d
	m.addPID(o.Patient)
	m.addPV1(o.Visit, h.WithZone)
	for i, it := range o.Items {
		orc := m.Add("ORC", d.Encode(orderControl(it)), it.PlacerOrderNumber.Encode(d), it.FillerOrderNumber.Encode(d), it.PlacerGroupNumber.Encode(d))
		orc.setFields(9, m.ts(it.TransactionTime, h.WithZone))
		orc.setFields(12, it.OrderingProvider.Encode(d))
		if it.Priority != "" || !it.RequestedTime.IsZero() {
			tq1 := m.Add("TQ1", "1")
			tq1.setFields(7, m.ts(it.RequestedTime, h.WithZone), "", d.Encode(it.Priority))
		}
		obr := m.Add("OBR", strconv.Itoa(i+1), it.PlacerOrderNumber.Encode(d), it.FillerOrderNumber.Encode(d), it.Service.Encode(d))
		obr.setFields(7, m.ts(it.CollectionTime, h.WithZone))
		obr.setFields(16, it.OrderingProvider.Encode(d))
		m.addNotes(it.Notes)
		if sp := it.Specimen; sp != nil {
			spm := m.Add("SPM", "1", EIP{Placer: sp.ID}.Encode(d), "", sp.Type.Encode(d))
			spm.setFields(17, m.ts(sp.CollectionTime, h.WithZone))
		}
	}
	return m
}
