package mapping

import (
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// Outbound HL7: the orders medgate sends to analyzers (ORM^O01, OML^O21)
// and its answers to their order queries (QRY^Q02). Tests travel in the
// device's own codes: a code map translates device codes to medgate's, so
// an order's code goes out as the device code of the first entry that maps
// to it, and as it is when no entry does.

// Application is MSH-3 of the messages medgate builds.
const Application = "MEDGATE"

// DeviceCoding translates an order code into the device's own code through
// its code map read in reverse: the first entry whose code (in its system,
// medgate's local codes when it names none) or whose LOINC equals c. A code
// without a system matches an entry's code in any system. No entry: c as
// it is.
func DeviceCoding(cm *domain.CodeMap, c domain.Coding) domain.Coding {
	if cm == nil {
		return c
	}
	for _, e := range cm.Entries {
		system := e.System
		if system == "" {
			system = domain.SystemLocalCode
		}
		switch {
		case e.Code != "" && e.Code == c.Code && (c.System == "" || c.System == system),
			e.LOINC != "" && e.LOINC == c.Code && c.System == domain.SystemLOINC:
			display := e.Display
			if display == "" {
				display = c.Display
			}
			return domain.Coding{System: domain.SystemDevice, Code: e.DeviceCode, Display: display}
		}
	}
	return c
}

// OrderMessage is what an outbound order message is built from.
type OrderMessage struct {
	Type      string // "ORM^O01" (default) or "OML^O21"
	Control   string // ORC-1: NW, CA
	ControlID string // MSH-10
	Time      time.Time
	Order     *domain.ServiceRequest
	Patient   *domain.Patient
	Device    *domain.Device
	CodeMap   *domain.CodeMap // the device's, nil if none
}

// BuildOrderMessage builds an order for a device: one ORC/OBR per ordered
// test in the device's codes; the accession number is the placer order
// number (ORC-2, OBR-2), the specimen barcode the filler order number
// (ORC-3, OBR-3; analyzers read the sample ID there and send it back in
// their results) and, in OML, SPM-2. PID-3 carries medgate's patient ID
// (authority MEDGATE) and the СНИЛС when known. The message is encoded in
// the device's charset; MSH-18 says UNICODE UTF-8 when that is UTF-8 and is
// left empty otherwise (the device is configured for its charset).
func BuildOrderMessage(o OrderMessage) []byte {
	h := hl7.Header{
		SendingApplication: hl7.HD{NamespaceID: Application},
		Time:               o.Time,
		ControlID:          o.ControlID,
	}
	if d := o.Device; d != nil {
		h.ReceivingApplication = hl7.HD{NamespaceID: d.SendingApplication}
		h.ReceivingFacility = hl7.HD{NamespaceID: d.SendingFacility}
		h.Encoding = d.Encoding
	}
	if cs, _ := hl7.CanonicalCharset(h.Encoding); h.Encoding == "" || cs == "UTF-8" {
		h.Encoding, h.CharacterSet = "", "UNICODE UTF-8"
	}
	msg := hl7.Order{Header: h, Patient: outboundPID(o.Patient)}
	r := o.Order
	var sp *hl7.Specimen
	var barcode string
	if len(r.Specimens) > 0 {
		s := r.Specimens[0]
		barcode = s.Barcode
		sp = &hl7.Specimen{ID: hl7.EI{ID: s.Barcode, NamespaceID: Application},
			Type: hl7.CWE{Code: s.Type.Code, Text: s.Type.Display}}
		if s.Collected != nil {
			sp.CollectionTime = *s.Collected
		}
	}
	var requested time.Time
	if r.Scheduled != nil {
		requested = *r.Scheduled
	}
	for _, c := range r.Codes {
		dc := DeviceCoding(o.CodeMap, c)
		it := hl7.OrderItem{
			Control:           o.Control,
			PlacerOrderNumber: hl7.EI{ID: r.AccessionNumber, NamespaceID: Application},
			Service:           hl7.CWE{Code: dc.Code, Text: dc.Display},
			Priority:          hl7Priority(r.Priority),
			TransactionTime:   o.Time,
			RequestedTime:     requested,
			Specimen:          sp,
		}
		if barcode != "" {
			it.FillerOrderNumber = hl7.EI{ID: barcode}
		}
		if sp != nil {
			it.CollectionTime = sp.CollectionTime
		}
		msg.Items = append(msg.Items, it)
	}
	if o.Type == "OML^O21" {
		return hl7.BuildOML(msg).Encode()
	}
	return hl7.BuildORM(msg).Encode()
}

func outboundPID(p *domain.Patient) hl7.Patient {
	if p == nil {
		return hl7.Patient{}
	}
	out := hl7.Patient{
		Identifiers: []hl7.CX{{ID: strconv.FormatInt(p.ID, 10), AssigningAuthority: hl7.HD{NamespaceID: Application}, TypeCode: "PI"}},
		Names:       []hl7.XPN{{Family: p.Family, Given: p.Given, Middle: p.Patronymic}},
		Sex:         hl7Sex(p.Gender),
	}
	if p.SNILS != "" {
		out.Identifiers = append(out.Identifiers, hl7.CX{ID: p.SNILS, AssigningAuthority: hl7.HD{NamespaceID: "SNILS", UniversalID: "1.2.643.100.3", UniversalIDType: "ISO"}})
	}
	if bd, err := time.Parse(time.DateOnly, p.BirthDate); err == nil {
		out.BirthDate = bd
	}
	return out
}

func hl7Sex(g domain.Gender) string {
	if c := g.Code(); c != "" {
		return c
	}
	return "U"
}

func hl7Priority(p domain.Priority) string {
	switch p {
	case domain.PriorityStat:
		return "S"
	case domain.PriorityASAP, domain.PriorityUrgent:
		return "A"
	}
	return "R"
}

// OrderQuery reads what an analyzer's order query asks for: the sample
// barcode of a QRY^Q02 (QRD-8, the "who" subject filter, as Mindray
// BS/BC-series analyzers send it). ok is false for any other message.
func OrderQuery(msg *hl7.Message) (barcode string, ok bool) {
	t := msg.MSH().MessageType()
	if t.Code != "QRY" || t.Trigger != "Q02" {
		return "", false
	}
	seg := msg.Segment("QRD")
	if seg == nil {
		return "", true
	}
	q := hl7.QRD{Segment: seg}
	for _, who := range q.WhoSubjectFilter() {
		if id := strings.TrimSpace(who.ID); id != "" {
			return id, true
		}
	}
	return "", true
}

// QueryAnswer is what medgate found for an order query: the order of the
// sample and its patient, or nothing.
type QueryAnswer struct {
	Barcode  string
	Order    *domain.ServiceRequest // nil: no orders for this sample
	Specimen *domain.Specimen
	Patient  *domain.Patient
	CodeMap  *domain.CodeMap
	Time     time.Time
	// ControlIDs are MSH-10 of the QCK^Q02 and the DSR^Q03.
	ControlIDs [2]string
}

// BuildQueryAnswer answers a QRY^Q02 the way Mindray BS/BC-series analyzers
// expect: a QCK^Q02 (MSA AA with MSA-2 = the query's MSH-10, ERR 0, QAK-2
// OK, or NF when there are no orders for the sample), then, when there are
// orders, a DSR^Q03 echoing QRD and QRF and listing the sample in DSP
// lines — 1 patient ID, 3 name, 4 birth date, 5 sex, 8 address, 10 phone,
// 21 sample barcode, 23 sample time, 24 STAT (Y/N), 26 sample type — and
// one DSP from 29 on per test, in the device's codes, then DSC. The
// analyzer acknowledges the DSR with an ACK^Q03. Both messages reuse the
// query's delimiters, version and charset, as ACKs do.
func BuildQueryAnswer(req *hl7.Message, a QueryAnswer) [][]byte {
	found := a.Order != nil && len(a.Order.Codes) > 0
	qak := "NF"
	if found {
		qak = "OK"
	}
	qck := queryReply(req, a.ControlIDs[0], a.Time, hl7.MSG{Code: "QCK", Trigger: "Q02"}, qak)
	if !found {
		return [][]byte{qck.Encode()}
	}
	dsr := queryReply(req, a.ControlIDs[1], a.Time, hl7.MSG{Code: "DSR", Trigger: "Q03"}, qak)
	d := dsr.Delimiters()
	for _, name := range []string{"QRD", "QRF"} {
		if s := req.Segment(name); s != nil {
			parts := strings.Split(s.Raw(), string(d.Field))
			dsr.Add(name, parts[1:]...)
		}
	}
	lines := make([]string, 29)
	if p := a.Patient; p != nil {
		lines[1] = strconv.FormatInt(p.ID, 10)
		lines[3] = strings.Join(nonEmpty(p.Family, p.Given, p.Patronymic), " ")
		if bd, err := time.Parse(time.DateOnly, p.BirthDate); err == nil {
			lines[4] = bd.Format("20060102") + "000000"
		}
		lines[5] = hl7Sex(p.Gender)
		lines[8], lines[10] = p.Address, p.Phone
	}
	lines[21] = a.Barcode
	at := a.Order.AuthoredOn
	if sp := a.Specimen; sp != nil {
		if sp.Collected != nil {
			at = *sp.Collected
		}
		lines[26] = sp.Type.Display
		if lines[26] == "" {
			lines[26] = sp.Type.Code
		}
	}
	if !at.IsZero() {
		lines[23] = at.In(a.Time.Location()).Format("20060102150405")
	}
	lines[24] = "N"
	if hl7Priority(a.Order.Priority) != "R" {
		lines[24] = "Y"
	}
	for i := 1; i < len(lines); i++ {
		dsr.Add("DSP", strconv.Itoa(i), "", d.Encode(lines[i]))
	}
	for i, c := range a.Order.Codes {
		dc := DeviceCoding(a.CodeMap, c)
		item := d.Encode(dc.Code) + strings.Repeat(string(d.Component), 3)
		dsr.Add("DSP", strconv.Itoa(29+i), "", item)
	}
	dsr.Add("DSC")
	return [][]byte{qck.Encode(), dsr.Encode()}
}

// queryReply starts a query response as an acknowledgment of req (sender
// and receiver swapped, MSA-2 = the query's MSH-10) of the given type,
// with Mindray's MSA-6 0, ERR 0 and QAK-1 SR.
func queryReply(req *hl7.Message, ctl string, at time.Time, typ hl7.MSG, qak string) *hl7.Message {
	m := hl7.BuildACK(req, hl7.Ack{Code: "AA", ControlID: ctl, Time: at, Text: "Message accepted",
		SendingApplication: hl7.HD{NamespaceID: Application}})
	d := m.Delimiters()
	m.Segments[0].Set(9, typ.Encode(d))
	m.Segment("MSA").Set(6, "0")
	m.Add("ERR", "0")
	m.Add("QAK", "SR", d.Encode(qak))
	return m
}

func nonEmpty(s ...string) []string {
	out := s[:0]
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
