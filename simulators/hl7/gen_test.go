package hl7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/parsers/hl7"
	"github.com/medgate/medgate/simulators"
)

var when = time.Date(2026, 3, 4, 10, 20, 30, 0, time.UTC)

func gen(t *testing.T, kind string, p Params) ([]byte, *hl7.Message) {
	t.Helper()
	m, err := Generate(kind, p)
	if err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
	raw, err := Encode(m)
	if err != nil {
		t.Fatalf("%s: encode: %v", kind, err)
	}
	return raw, m
}

// Every kind in every charset parses back with parsers/hl7 (charset taken
// from MSH-18, or from the receiver's setting with -no-msh18), with its
// header and the Cyrillic name intact.
func TestGeneratedMessagesParse(t *testing.T) {
	wantType := map[string]string{
		"cbc": "ORU^R01", "chem": "ORU^R01", "oru": "ORU^R01", "adt-a01": "ADT^A01", "adt-a04": "ADT^A04",
		"adt-a08": "ADT^A08", "orm": "ORM^O01", "oml": "OML^O21", "qry": "QRY^Q02",
	}
	for _, kind := range Kinds {
		for _, cs := range Charsets {
			for _, noMSH18 := range []bool{false, true} {
				p := Params{ControlID: "CTL-1", App: "BC-5380", Facility: "LAB", ReceivingApp: "MEDGATE", Time: when,
					Charset: cs.Name, NoMSH18: noMSH18, Barcode: "BC0001", PatientID: "MRN42", Seq: 3}
				raw, _ := gen(t, kind, p)
				if bytes.ContainsAny(raw, "\n") || !bytes.HasSuffix(raw, []byte("\r")) {
					t.Errorf("%s/%s: segments not \\r-terminated", kind, cs.Name)
				}
				opts := hl7.Options{}
				if noMSH18 {
					opts.DefaultCharset = cs.Name
				}
				m, err := hl7.Parse(raw, opts)
				if err != nil {
					t.Fatalf("%s/%s/no-msh18=%v: %v", kind, cs.Name, noMSH18, err)
				}
				msh := m.MSH()
				if got := msh.MessageType(); got.Code+"^"+got.Trigger != wantType[kind] {
					t.Errorf("%s: type %v", kind, got)
				}
				if msh.ControlID() != "CTL-1" || msh.SendingApplication().NamespaceID != "BC-5380" ||
					msh.SendingFacility().NamespaceID != "LAB" || msh.ReceivingApplication().NamespaceID != "MEDGATE" {
					t.Errorf("%s: header %q", kind, msh.Raw())
				}
				wantMSH18 := cs.MSH18
				if noMSH18 {
					wantMSH18 = ""
				}
				if msh.CharacterSet() != wantMSH18 {
					t.Errorf("%s/%s: MSH-18 %q, want %q", kind, cs.Name, msh.CharacterSet(), wantMSH18)
				}
				if cs.Name != "utf-8" && kind != "qry" && !hasHigh(raw) {
					t.Errorf("%s/%s: no 8-bit bytes: not encoded in the charset", kind, cs.Name)
				}
				if kind == "qry" {
					continue
				}
				per := People[3]
				if n := m.PID().Names(); len(n) != 1 || n[0].Family != per.Family || n[0].Given != per.Given || n[0].Middle != per.Patronymic {
					t.Errorf("%s/%s: PID-5 %+v, want %s %s %s", kind, cs.Name, n, per.Family, per.Given, per.Patronymic)
				}
				if ids := m.PID().Identifiers(); len(ids) != 1 || ids[0].ID != "MRN42" {
					t.Errorf("%s: PID-3 %+v", kind, ids)
				}
			}
		}
	}
}

func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func TestPanels(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		service string
		tests   []Analyte
	}{{"cbc", "CBC", CBCPanel}, {"chem", "CHEM", ChemistryPanel}} {
		flags := map[string]int{}
		for seq := range 11 {
			_, m := gen(t, tc.kind, Params{ControlID: "X", Barcode: "BC77", Seq: seq, Time: when})
			groups := m.ObservationGroups()
			if len(groups) != 1 {
				t.Fatalf("%s: %d OBR groups", tc.kind, len(groups))
			}
			g := groups[0]
			if g.OBR.FillerOrderNumber().ID != "BC77" || g.OBR.UniversalServiceID().Code != tc.service {
				t.Errorf("%s: OBR %q", tc.kind, g.OBR.Raw())
			}
			if len(g.Observations) != len(tc.tests) {
				t.Fatalf("%s: %d OBX, want %d", tc.kind, len(g.Observations), len(tc.tests))
			}
			for i, o := range g.Observations {
				a := tc.tests[i]
				x := o.OBX
				if x.ValueType() != "NM" || x.ObservationID().Code != a.Code || x.Units().Code != a.Unit ||
					x.ReferenceRange() != a.rangeText() || x.ResultStatus() != "F" || len(x.EquipmentInstanceIDs()) != 1 {
					t.Errorf("%s OBX %d: %q", tc.kind, i+1, x.Raw())
				}
				v := o.OBX.Value()
				if v.Err != nil || v.Number.Status != hl7.NumOK {
					t.Fatalf("%s OBX %d: value %q not numeric: %v", tc.kind, i+1, o.OBX.Field(5).Raw(), v.Err)
				}
				f := o.OBX.AbnormalFlags()
				if len(f) != 1 {
					t.Fatalf("%s OBX %d: flags %v", tc.kind, i+1, f)
				}
				flags[f[0]]++
				n := v.Number.Value
				want := "N"
				if n < a.Low {
					want = "L"
				} else if n > a.High {
					want = "H"
				}
				if f[0] != want {
					t.Errorf("%s %s=%v range %s: flag %s, want %s", tc.kind, a.Code, n, a.rangeText(), f[0], want)
				}
			}
		}
		if flags["H"] == 0 || flags["L"] == 0 || flags["N"] == 0 {
			t.Errorf("%s: flags over 11 messages %v: want H, L and N", tc.kind, flags)
		}
	}
	if len(CBCPanel) != 20 {
		t.Errorf("CBC has %d results; the benchmark wants 20", len(CBCPanel))
	}
}

func TestOrdersADTAndQuery(t *testing.T) {
	p := Params{ControlID: "Q1", Barcode: "BC555", PatientID: "MRN9", Time: when}
	_, orm := gen(t, "orm", p)
	if o := orm.Segment("OBR"); o == nil || (hl7.OBR{Segment: o}).PlacerOrderNumber().ID != "ORDBC555" {
		t.Errorf("ORM OBR: %v", o)
	}
	if orm.MSH().Version() != "2.3.1" {
		t.Errorf("ORM version %s", orm.MSH().Version())
	}
	_, oml := gen(t, "oml", p)
	if s := oml.Segment("SPM"); s == nil || (hl7.SPM{Segment: s}).SpecimenID().Placer.ID != "BC555" {
		t.Errorf("OML SPM: %v", s)
	}
	for _, ev := range []string{"A01", "A04", "A08"} {
		_, adt := gen(t, "adt-"+strings.ToLower(ev), p)
		if e := adt.Segment("EVN"); e == nil || e.Field(1).String() != ev {
			t.Errorf("ADT^%s EVN: %v", ev, e)
		}
		if adt.Segment("PV1") == nil || adt.MSH().MessageType().Structure != "ADT_A01" {
			t.Errorf("ADT^%s: no PV1 or structure %v", ev, adt.MSH().MessageType())
		}
	}
	if _, err := ADT("A40", p); err == nil {
		t.Error("ADT A40 accepted")
	}
	_, q := gen(t, "qry", p)
	qrd := q.Segment("QRD")
	if qrd == nil {
		t.Fatal("no QRD")
	}
	if w := (hl7.QRD{Segment: qrd}).WhoSubjectFilter(); len(w) != 1 || w[0].ID != "BC555" {
		t.Errorf("QRD-8 %+v", w)
	}
	// The same query as QRY^R02: only MSH-9 differs.
	r := p
	r.QueryTrigger = "r02"
	raw, r02 := gen(t, "qry", r)
	if mt := r02.MSH().MessageType(); mt.Code != "QRY" || mt.Trigger != "R02" || mt.Structure != "QRY_R02" {
		t.Errorf("R02 MSH-9 %+v", mt)
	}
	if r02.Segment("QRD").Raw() != qrd.Raw() || r02.Segment("QRF").Raw() != q.Segment("QRF").Raw() {
		t.Errorf("R02 QRD/QRF differ from Q02's: %q", raw)
	}
	if direct, err := QueryR02(p); err != nil || !direct.Equal(r02) {
		t.Errorf("QueryR02 differs from Generate with QueryTrigger R02: %v", err)
	}
	if _, err := Generate("qry", Params{QueryTrigger: "Q03"}); err == nil {
		t.Error("query trigger Q03 accepted")
	}
	if _, err := Generate("xyz", p); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := Generate("cbc", Params{Charset: "koi8-r"}); err == nil {
		t.Error("charset the simulator does not write accepted")
	}
}

func TestEnhancedAndWrongCharset(t *testing.T) {
	_, m := gen(t, "cbc", Params{ControlID: "E1", Enhanced: true})
	if m.MSH().AcceptAckType() != "AL" || m.MSH().AppAckType() != "NE" {
		t.Errorf("enhanced MSH-15/16: %q", m.MSH().Raw())
	}
	raw, _ := gen(t, "cbc", WrongCharsetParams(Params{ControlID: "W1"}))
	if MSHField(raw, 18) != "UNICODE UTF-8" || !hasHigh(raw) {
		t.Fatalf("wrong-charset header %q", raw[:headerEnd(raw)])
	}
	if _, err := hl7.Parse(raw, hl7.Options{}); !errors.Is(err, hl7.ErrCharset) {
		t.Errorf("wrong-charset message parsed: %v", err)
	}
	if m, err := hl7.Parse(raw, hl7.Options{DefaultCharset: "windows-1251", Lenient: hl7.Lenient{IgnoreMSH18: true}}); err != nil || m.PID().Names()[0].Family != People[0].Family {
		t.Errorf("wrong-charset bytes are not windows-1251: %v", err)
	}
}

func TestMSHFieldsAndVariants(t *testing.T) {
	raw, _ := gen(t, "cbc", Params{ControlID: "C-9", Time: when})
	if MSHField(raw, 10) != "C-9" || MSHField(raw, 9) != "ORU^R01^ORU_R01" || MSHField(raw, 2) != `^~\&` {
		t.Errorf("MSHField: %q %q", MSHField(raw, 10), MSHField(raw, 9))
	}
	re := SetMSHField(raw, 10, "NEW")
	if MSHField(re, 10) != "NEW" || !bytes.Equal(re[headerEnd(re):], raw[headerEnd(raw):]) {
		t.Errorf("SetMSHField changed more than MSH-10")
	}
	if _, err := hl7.ParseHeader(MakeBadMSH(raw), hl7.Options{}); !errors.Is(err, hl7.ErrDelimiters) {
		t.Errorf("bad MSH readable: %v", err)
	}
	if m, err := hl7.Parse(MakeNoMSH10(raw), hl7.Options{}); err != nil || m.MSH().ControlID() != "" {
		t.Errorf("no-msh10: %v", err)
	}
	big := MakeOversize(raw, 1<<20)
	if len(big) < 1<<20 {
		t.Errorf("oversize %d bytes", len(big))
	}
	if _, err := hl7.Parse(big, hl7.Options{}); err != nil {
		t.Errorf("oversize message does not parse: %v", err)
	}

	// Truncated frame then a whole one: a Reader returns only the whole one.
	wire, err := MakeTruncated(SetMSHField(raw, 10, "GONE"), raw)
	if err != nil {
		t.Fatal(err)
	}
	rd := mllp.NewReader(bytes.NewReader(wire))
	got, err := rd.ReadMessage()
	if err != nil || MSHField(got, 10) != "C-9" {
		t.Fatalf("after truncated frame: %q, %v", MSHField(got, 10), err)
	}
	if rd.Skipped() == 0 {
		t.Error("truncated part not skipped")
	}
	f, _ := Frame(raw)
	rd = mllp.NewReader(bytes.NewReader(append(bytes.Clone(Garbage), f...)))
	if got, err := rd.ReadMessage(); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("garbage before frame: %v", err)
	}
	if parts := Split(f, 16); len(parts) != (len(f)+15)/16 || !bytes.Equal(bytes.Join(parts, nil), f) {
		t.Error("Split lost bytes")
	}
	if _, err := LookupVariant("nope"); err == nil {
		t.Error("unknown variant accepted")
	}
}

func TestSplitMessages(t *testing.T) {
	a := "MSH|^~\\&|A||||20260101||ADT^A01|1|P|2.5.1\nPID|1||X\n"
	b := "MSH|^~\\&|B||||20260101||ADT^A08|2|P|2.5.1\r\nPID|1||Y\r\n"
	c := "MSH|^~\\&|C||||20260101||ADT^A04|3|P|2.5.1\rPID|1||Z\r"
	for name, tc := range map[string]struct {
		in   string
		want int
	}{
		"blank lines":      {a + "\n" + b + "\r\n\r\n" + c, 3},
		"back to back":     {a + b + c, 3},
		"batch":            {"FHS|^~\\&|F\rBHS|^~\\&|B\r" + a + b + "BTS|2\rFTS|1\r", 2},
		"junk before MSH":  {"garbage\n\n" + a, 2},
		"one, no trailing": {strings.TrimSuffix(a, "\n"), 1},
	} {
		msgs := SplitMessages([]byte(tc.in))
		if len(msgs) != tc.want {
			t.Errorf("%s: %d messages, want %d", name, len(msgs), tc.want)
			continue
		}
		for _, m := range msgs {
			if bytes.ContainsAny(m, "\n") || !bytes.HasSuffix(m, []byte("\r")) {
				t.Errorf("%s: line ends not normalised: %q", name, m)
			}
		}
		last := msgs[len(msgs)-1]
		if _, err := hl7.Parse(last, hl7.Options{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := simulators.Summarize(d)
	if l.P50 != 50*time.Millisecond || l.P90 != 90*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond || l.N != 100 {
		t.Errorf("%+v", l)
	}
	if simulators.Summarize(nil).P99 != 0 || simulators.Percentile([]time.Duration{7}, 99) != 7 {
		t.Error("edge cases")
	}
}

// The runner's templates produce exactly what Generate builds.
func TestTemplatesMatchGenerate(t *testing.T) {
	for _, kind := range Kinds {
		for _, p := range []Params{
			{Time: when, Charset: "cp866"},
			{Time: when, Charset: "windows-1251", Barcode: "BC-1", PatientID: "MRN-7", Enhanced: true},
			{Time: when, Barcode: "ШК-1"}, // non-ASCII: built directly
			{Time: when, Barcode: "BC-2", QueryTrigger: "R02"},
		} {
			var tm templates
			for seq := range 200 {
				id := "ID-" + strings.Repeat("x", seq%3) + string(rune('0'+seq%10))
				got, err := tm.message(kind, p, seq, id)
				if err != nil {
					t.Fatal(err)
				}
				q := p
				q.Seq, q.ControlID = seq, id
				want, _ := gen(t, kind, q)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s seq %d:\n got %q\nwant %q", kind, seq, got, want)
				}
			}
		}
	}
	// Without a fixed time MSH-7 is the time of sending.
	var tm templates
	got, err := tm.message("cbc", Params{}, 5, "T-5")
	if err != nil {
		t.Fatal(err)
	}
	if ts := MSHField(got, 7); !strings.HasPrefix(ts, time.Now().UTC().Format("2006")) && !strings.HasPrefix(ts, time.Now().Format("2006")) {
		t.Errorf("MSH-7 %q", ts)
	}
}
