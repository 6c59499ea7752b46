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
	var sp *domain.Specimen
	if len(o.Order.Specimens) > 0 {
		sp = &o.Order.Specimens[0]
	}
	msg := orderBody(o.Order, sp, o.Patient, o.CodeMap, o.Control, o.Time)
	msg.Header = h
	if o.Type == "OML^O21" {
		return hl7.BuildOML(msg).Encode()
	}
	return hl7.BuildORM(msg).Encode()
}

// orderBody is the PID and one ORC/OBR item per test of order r, in the
// device's codes: the accession number as placer order number, the
// barcode of sp (nil: none) as filler order number and SPM-2. It is shared
// by the order messages and the ORF^R04 query answer.
func orderBody(r *domain.ServiceRequest, sp *domain.Specimen, p *domain.Patient, cm *domain.CodeMap, control string, at time.Time) hl7.Order {
	msg := hl7.Order{Patient: outboundPID(p)}
	var hsp *hl7.Specimen
	var barcode string
	if sp != nil {
		barcode = sp.Barcode
		hsp = &hl7.Specimen{ID: hl7.EI{ID: sp.Barcode, NamespaceID: Application},
			Type: hl7.CWE{Code: sp.Type.Code, Text: sp.Type.Display}}
		if sp.Collected != nil {
			hsp.CollectionTime = *sp.Collected
		}
	}
	var requested time.Time
	if r.Scheduled != nil {
		requested = *r.Scheduled
	}
	for _, c := range r.Codes {
		dc := DeviceCoding(cm, c)
		it := hl7.OrderItem{
			Control:           control,
			PlacerOrderNumber: hl7.EI{ID: r.AccessionNumber, NamespaceID: Application},
			Service:           hl7.CWE{Code: dc.Code, Text: dc.Display},
			Priority:          hl7Priority(r.Priority),
			TransactionTime:   at,
			RequestedTime:     requested,
			Specimen:          hsp,
		}
		if barcode != "" {
			it.FillerOrderNumber = hl7.EI{ID: barcode}
		}
		if hsp != nil {
			it.CollectionTime = hsp.CollectionTime
		}
		msg.Items = append(msg.Items, it)
	}
	return msg
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

// IsOrderQuery reports whether typ (MSH-9 code^trigger) is an order query
// medgate answers: QRY^Q02 (answered QCK^Q02 + DSR^Q03) or QRY^R02
// (answered ORF^R04); see BuildQueryAnswer.
func IsOrderQuery(typ string) bool { return typ == "QRY^Q02" || typ == "QRY^R02" }

// OrderQuery reads what an analyzer's order query asks for: the sample
// barcode of a QRY^Q02 or QRY^R02 (QRD-8, the "who" subject filter, where
// Mindray BS/BC-series and the analyzers that query with R02 put it). ok is
// false for any other message.
func OrderQuery(msg *hl7.Message) (barcode string, ok bool) {
	if !IsOrderQuery(msgType(msg)) {
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
	// ControlIDs are MSH-10 of the QCK^Q02 and the DSR^Q03; an ORF^R04
	// takes the first.
	ControlIDs [2]string
}

func (a QueryAnswer) found() bool { return a.Order != nil && len(a.Order.Codes) > 0 }

// BuildQueryAnswer answers an order query (see IsOrderQuery): a QRY^R02
// with one ORF^R04 (buildORF), a QRY^Q02 the way Mindray BS/BC-series
// analyzers expect: a QCK^Q02 (MSA AA with MSA-2 = the query's MSH-10,
// ERR 0, QAK-2 OK, or NF when there are no orders for the sample), then,
// when there are orders, a DSR^Q03 echoing QRD and QRF and listing the
// sample in DSP lines — 1 patient ID, 3 name, 4 birth date, 5 sex, 8
// address, 10 phone, 21 sample barcode, 23 sample time, 24 STAT (Y/N), 26
// sample type — and one DSP from 29 on per test, in the device's codes,
// then DSC. The analyzer acknowledges the DSR with an ACK^Q03. Answers
// reuse the query's delimiters, version and charset, as ACKs do.
func BuildQueryAnswer(req *hl7.Message, a QueryAnswer) [][]byte {
	if req.MSH().MessageType().Trigger == "R02" {
		return [][]byte{buildORF(req, a)}
	}
	found := a.found()
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
	echoQuery(dsr, req)
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

// buildORF answers a QRY^R02 with an ORF^R04 (HL7 v2.3/2.3.1 chapter 7,
// structure ORF_R04): MSA AA with MSA-2 = the query's MSH-10, QRD and QRF
// echoed, then for the sample a PID (medgate's patient ID, name, birth
// date, sex; as in the orders medgate sends) and per test an ORC (NW: the
// analyzer is to run it) and an OBR in the device's codes, the accession
// number as placer order number (ORC-2, OBR-2), the queried sample barcode
// as filler order number (ORC-3, OBR-3), priority, sample time and type —
// the items of an ORM^O01 (orderBody).
//
// No orders for the sample is not an error in original mode (chapter 2/5:
// MSA-1 reports the processing of the query, not whether data was found):
// MSA-1 AA, QRD/QRF echoed, no PID/ORC/OBR and no ERR. From v2.3.1 on,
// where ORF_R04 ends in [ERR] [QAK] (and MSH-9.3 exists, which BuildACK
// writes from that version on), a QAK says so explicitly: QAK-1 the query
// tag (QRD-4, the query ID), QAK-2 NF, or OK when there are orders. v2.3
// and earlier have no QAK in ORF_R04, so an answer without PID/OBR is the
// "nothing found" there.
func buildORF(req *hl7.Message, a QueryAnswer) []byte {
	orf := queryResponse(req, a.ControlIDs[0], a.Time, hl7.MSG{Code: "ORF", Trigger: "R04", Structure: "ORF_R04"})
	d := orf.Delimiters()
	echoQuery(orf, req)
	found := a.found()
	if found {
		sp := domain.Specimen{Barcode: a.Barcode}
		if a.Specimen != nil {
			sp = *a.Specimen
			sp.Barcode = a.Barcode
		}
		body := orderBody(a.Order, &sp, a.Patient, a.CodeMap, "NW", a.Time)
		body.Header = hl7.Header{Delimiters: d, Version: req.MSH().Version()}
		for _, s := range hl7.BuildORM(body).Segments[1:] {
			appendRaw(orf, &s)
		}
	}
	if orf.MSH().MessageType().Structure != "" { // v2.3.1 and later
		status := "NF"
		if found {
			status = "OK"
		}
		tag := ""
		if q := req.Segment("QRD"); q != nil {
			tag = q.Field(4).Raw()
		}
		orf.Add("QAK", tag, status)
	}
	return orf.Encode()
}

// queryResponse starts a query response as an acknowledgment of req
// (sender and receiver swapped, MSA-1 AA, MSA-2 = the query's MSH-10, the
// query's delimiters, version and charset) of the given type; MSH-9.3 is
// written only where BuildACK writes one (v2.3.1 on).
func queryResponse(req *hl7.Message, ctl string, at time.Time, typ hl7.MSG) *hl7.Message {
	m := hl7.BuildACK(req, hl7.Ack{Code: "AA", ControlID: ctl, Time: at, Text: "Message accepted",
		SendingApplication: hl7.HD{NamespaceID: Application}})
	if m.MSH().MessageType().Structure == "" {
		typ.Structure = ""
	}
	m.Segments[0].Set(9, typ.Encode(m.Delimiters()))
	return m
}

// queryReply starts a Mindray QCK^Q02 or DSR^Q03 (queryResponse without
// MSH-9.3) with Mindray's MSA-6 0, ERR 0 and QAK-1 SR.
func queryReply(req *hl7.Message, ctl string, at time.Time, typ hl7.MSG, qak string) *hl7.Message {
	m := queryResponse(req, ctl, at, typ)
	m.Segment("MSA").Set(6, "0")
	m.Add("ERR", "0")
	m.Add("QAK", "SR", m.Delimiters().Encode(qak))
	return m
}

// echoQuery appends the query's QRD and QRF (when present) to m as they
// came.
func echoQuery(m, req *hl7.Message) {
	for _, name := range []string{"QRD", "QRF"} {
		if s := req.Segment(name); s != nil {
			appendRaw(m, s)
		}
	}
}

// appendRaw appends a copy of s, whose text is in m's delimiters, to m.
func appendRaw(m *hl7.Message, s *hl7.Segment) {
	parts := strings.Split(s.Raw(), string(m.Delimiters().Field))
	m.Add(s.Name, parts[1:]...)
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
