package mapping

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// orderQueryText is an analyzer's order query for sample BC0042 (QRD-8),
// query ID Q7 (QRD-4), of trigger Q02 or R02 in version v.
func orderQueryText(trigger, v string) string {
	return "MSH|^~\\&|BC-5380|LAB|MEDGATE||20260304102030||QRY^" + trigger + "^QRY_" + trigger + "|CTL-9|P|" + v + "||||||UNICODE UTF-8\n" +
		"QRD|20260304102030|R|D|Q7|||RD|BC0042|OTH|||T\n" +
		"QRF|BC-5380||||||RCT|COR|ALL\n"
}

// queryAnswerFixture is a found sample: a STAT order of two tests, one of
// them mapped to the device code CBC-DIFF, for a Cyrillic patient.
func queryAnswerFixture() QueryAnswer {
	collected := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	sp := domain.Specimen{Barcode: "BC0042", Type: domain.Coding{Code: "BLD", Display: "Кровь"}, Collected: &collected}
	return QueryAnswer{
		Barcode: "BC0042",
		Order: &domain.ServiceRequest{AccessionNumber: "L000000042", Priority: domain.PriorityStat,
			Codes:     []domain.Coding{{Code: "CBC", Display: "Общий анализ крови"}, {Code: "ESR", Display: "СОЭ"}},
			Specimens: []domain.Specimen{sp}},
		Specimen:   &sp,
		Patient:    &domain.Patient{ID: 42, Family: "Щукина", Given: "Алёна", Patronymic: "Игоревна", BirthDate: "1984-03-14", Gender: domain.GenderFemale},
		CodeMap:    &domain.CodeMap{Entries: []domain.CodeMapEntry{{DeviceCode: "CBC-DIFF", Code: "CBC"}}},
		Time:       time.Date(2026, 3, 4, 10, 20, 31, 0, time.UTC),
		ControlIDs: [2]string{"MGQ1", "MGQ2"},
	}
}

func segmentNames(m *hl7.Message) string {
	var names []string
	for _, s := range m.Segments {
		names = append(names, s.Name)
	}
	return strings.Join(names, " ")
}

func parseAnswer(t *testing.T, raw []byte) *hl7.Message {
	t.Helper()
	m, err := hl7.Parse(raw, hl7.Options{})
	if err != nil {
		t.Fatalf("answer does not parse: %v\n%q", err, raw)
	}
	return m
}

// TestQueryR02Found: a QRY^R02 for a known sample is answered with one
// ORF^R04: MSA AA for the query's MSH-10, QRD and QRF echoed, the patient
// in PID, an ORC NW and an OBR per test in the device's codes with the
// accession number as placer and the sample as filler number, then QAK OK
// with the query's ID.
func TestQueryR02Found(t *testing.T) {
	req := parse(t, orderQueryText("R02", "2.3.1"))
	if bc, ok := OrderQuery(req); !ok || bc != "BC0042" {
		t.Fatalf("OrderQuery = %q, %v", bc, ok)
	}
	a := queryAnswerFixture()
	out := BuildQueryAnswer(req, a)
	if len(out) != 1 {
		t.Fatalf("%d messages; want one ORF^R04", len(out))
	}
	m := parseAnswer(t, out[0])
	if got, want := segmentNames(m), "MSH MSA QRD QRF PID ORC OBR ORC OBR QAK"; got != want {
		t.Fatalf("segments %s; want %s", got, want)
	}
	msh := m.MSH()
	if mt := msh.MessageType(); mt.Code != "ORF" || mt.Trigger != "R04" || mt.Structure != "ORF_R04" {
		t.Errorf("MSH-9 %+v; want ORF^R04^ORF_R04", mt)
	}
	if msh.ControlID() != "MGQ1" || msh.Version() != "2.3.1" || msh.SendingApplication().NamespaceID != Application ||
		msh.ReceivingApplication().NamespaceID != "BC-5380" {
		t.Errorf("MSH %q", msh.Raw())
	}
	if msa := (hl7.MSA{Segment: m.Segment("MSA")}); msa.AckCode() != "AA" || msa.ControlID() != "CTL-9" {
		t.Errorf("MSA %q; want AA for CTL-9", msa.Raw())
	}
	for _, name := range []string{"QRD", "QRF"} {
		if got, want := m.Segment(name).Raw(), req.Segment(name).Raw(); got != want {
			t.Errorf("%s %q; want the query's %q", name, got, want)
		}
	}
	pid := m.PID()
	if ids := pid.Identifiers(); len(ids) == 0 || ids[0].ID != "42" || ids[0].AssigningAuthority.NamespaceID != Application {
		t.Errorf("PID-3 %+v", ids)
	}
	if n := pid.Names(); len(n) != 1 || n[0].Family != "Щукина" || n[0].Given != "Алёна" || n[0].Middle != "Игоревна" {
		t.Errorf("PID-5 %+v", n)
	}
	if bd := pid.Field(7).String(); bd != "19840314" || pid.Sex() != "F" {
		t.Errorf("PID-7 %q PID-8 %q", bd, pid.Sex())
	}
	wantCodes := []string{"CBC-DIFF", "ESR"}
	for i, s := range m.All("OBR") {
		obr := hl7.OBR{Segment: s}
		if obr.PlacerOrderNumber().ID != "L000000042" || obr.FillerOrderNumber().ID != "BC0042" {
			t.Errorf("OBR %d: placer %q filler %q", i+1, obr.PlacerOrderNumber().ID, obr.FillerOrderNumber().ID)
		}
		if c := obr.UniversalServiceID().Code; c != wantCodes[i] {
			t.Errorf("OBR-4 %q; want %q", c, wantCodes[i])
		}
		if s.Field(7).String() != "20260304093000" || s.Field(15).Comp(1).String() != "BLD" {
			t.Errorf("OBR %d: collected %q specimen %q", i+1, s.Field(7).String(), s.Field(15).String())
		}
	}
	for _, s := range m.All("ORC") {
		orc := hl7.ORC{Segment: s}
		if orc.OrderControl() != "NW" || orc.PlacerOrderNumber().ID != "L000000042" || orc.FillerOrderNumber().ID != "BC0042" || orc.Priority() != "S" {
			t.Errorf("ORC %q", s.Raw())
		}
	}
	if q := m.Segment("QAK"); q.Field(1).String() != "Q7" || q.Field(2).String() != "OK" {
		t.Errorf("QAK %q; want Q7 OK", q.Raw())
	}

	// Found by accession number: the filler number is the sample ID the
	// analyzer asked for, not the specimen's own barcode.
	a.Barcode = "L000000042"
	m = parseAnswer(t, BuildQueryAnswer(req, a)[0])
	if f := (hl7.OBR{Segment: m.Segment("OBR")}).FillerOrderNumber().ID; f != "L000000042" {
		t.Errorf("found by accession: OBR-3 %q; want the queried ID", f)
	}
}

// TestQueryR02NotFound: no orders is answered, not refused: MSA AA with
// QRD/QRF echoed and no PID/ORC/OBR; QAK NF from v2.3.1 on, none in v2.3
// (whose ORF_R04 has no QAK and no MSH-9.3).
func TestQueryR02NotFound(t *testing.T) {
	a := queryAnswerFixture()
	a.Order, a.Specimen, a.Patient = nil, nil, nil
	for _, c := range []struct{ version, segments, msh9 string }{
		{"2.3.1", "MSH MSA QRD QRF QAK", "ORF^R04^ORF_R04"},
		{"2.4", "MSH MSA QRD QRF QAK", "ORF^R04^ORF_R04"},
		{"2.3", "MSH MSA QRD QRF", "ORF^R04"},
	} {
		req := parse(t, orderQueryText("R02", c.version))
		out := BuildQueryAnswer(req, a)
		if len(out) != 1 {
			t.Fatalf("v%s: %d messages; want one ORF^R04", c.version, len(out))
		}
		m := parseAnswer(t, out[0])
		if got := segmentNames(m); got != c.segments {
			t.Errorf("v%s: segments %s; want %s", c.version, got, c.segments)
		}
		if got := m.MSH().Field(9).Raw(); got != c.msh9 {
			t.Errorf("v%s: MSH-9 %q; want %q", c.version, got, c.msh9)
		}
		if msa := (hl7.MSA{Segment: m.Segment("MSA")}); msa.AckCode() != "AA" || msa.ControlID() != "CTL-9" {
			t.Errorf("v%s: MSA %q; want AA for CTL-9", c.version, msa.Raw())
		}
		if q := m.Segment("QAK"); q != nil && (q.Field(1).String() != "Q7" || q.Field(2).String() != "NF") {
			t.Errorf("v%s: QAK %q; want Q7 NF", c.version, q.Raw())
		}
	}
}

// TestQueryQ02Answer: the Mindray answer is unchanged by the ORF: QCK^Q02
// (MSA AA with MSA-6 0, ERR 0, QAK SR OK) then DSR^Q03 with QRD/QRF echoed,
// DSP lines and DSC; QCK alone with QAK NF when nothing is found.
func TestQueryQ02Answer(t *testing.T) {
	req := parse(t, orderQueryText("Q02", "2.3.1"))
	if bc, ok := OrderQuery(req); !ok || bc != "BC0042" {
		t.Fatalf("OrderQuery = %q, %v", bc, ok)
	}
	a := queryAnswerFixture()
	out := BuildQueryAnswer(req, a)
	if len(out) != 2 {
		t.Fatalf("%d messages; want QCK^Q02 and DSR^Q03", len(out))
	}
	qck, dsr := parseAnswer(t, out[0]), parseAnswer(t, out[1])
	if got := qck.MSH().Field(9).Raw(); got != "QCK^Q02" || segmentNames(qck) != "MSH MSA ERR QAK" {
		t.Errorf("QCK: MSH-9 %q, segments %s", got, segmentNames(qck))
	}
	if got := qck.Segment("MSA").Raw(); got != "MSA|AA|CTL-9|Message accepted|||0" {
		t.Errorf("QCK MSA %q", got)
	}
	if got := qck.Segment("QAK").Raw(); got != "QAK|SR|OK" {
		t.Errorf("QCK QAK %q", got)
	}
	if got := dsr.MSH().Field(9).Raw(); got != "DSR^Q03" || dsr.MSH().ControlID() != "MGQ2" {
		t.Errorf("DSR: MSH-9 %q MSH-10 %q", got, dsr.MSH().ControlID())
	}
	names := segmentNames(dsr)
	if !strings.HasPrefix(names, "MSH MSA ERR QAK QRD QRF DSP") || !strings.HasSuffix(names, "DSP DSC") || len(dsr.All("DSP")) != 30 {
		t.Errorf("DSR segments %s", names)
	}
	lines := map[string]string{}
	for _, s := range dsr.All("DSP") {
		lines[s.Field(1).String()] = s.Field(3).Raw()
	}
	if lines["1"] != "42" || lines["3"] != "Щукина Алёна Игоревна" || lines["4"] != "19840314000000" || lines["5"] != "F" ||
		lines["21"] != "BC0042" || lines["23"] != "20260304093000" || lines["24"] != "Y" || lines["26"] != "Кровь" ||
		lines["29"] != "CBC-DIFF^^^" || lines["30"] != "ESR^^^" {
		t.Errorf("DSP lines %v", lines)
	}

	a.Order = nil
	out = BuildQueryAnswer(req, a)
	if len(out) != 1 {
		t.Fatalf("not found: %d messages; want the QCK alone", len(out))
	}
	if got := parseAnswer(t, out[0]).Segment("QAK").Raw(); got != "QAK|SR|NF" {
		t.Errorf("not found: QAK %q", got)
	}
}

// TestQueryRouting: QRY^R02 is taken like QRY^Q02 — stored with nothing
// produced from a device set to query orders, refused as unsupported (AR)
// from any other — and no other QRY is an order query.
func TestQueryRouting(t *testing.T) {
	for _, trigger := range []string{"Q02", "R02"} {
		msg := parse(t, orderQueryText(trigger, "2.3.1"))
		if !IsOrderQuery("QRY^" + trigger) {
			t.Errorf("IsOrderQuery(QRY^%s) false", trigger)
		}
		in := HL7Input{LabInput: LabInput{Device: &domain.Device{ID: 3, OrganizationID: 1, QueriesOrders: true}}}
		res, err := HL7Inbound(context.Background(), in, msg)
		if err != nil || res == nil || len(res.Reports) != 0 || len(res.Patients) != 0 || len(res.Orders) != 0 {
			t.Errorf("%s from a device set to query: %+v, %v", trigger, res, err)
		}
		in.Device.QueriesOrders = false
		res, err = HL7Inbound(context.Background(), in, msg)
		var ie *listeners.InvalidError
		if !errors.As(err, &ie) || !ie.Unsupported || !strings.Contains(ie.Reason, "QRY^"+trigger) {
			t.Errorf("%s from a device not set to query: %+v, %v; want unsupported", trigger, res, err)
		}
	}
	other := parse(t, strings.Replace(orderQueryText("Q02", "2.3.1"), "QRY^Q02^QRY_Q02", "QRY^A19^QRY_A19", 1))
	if _, ok := OrderQuery(other); ok || IsOrderQuery("QRY^A19") {
		t.Error("QRY^A19 taken as an order query")
	}
}
