package hl7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

func mustParse(t *testing.T, s string, opts Options) *Message {
	t.Helper()
	m, err := Parse([]byte(s), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func TestTerminators(t *testing.T) {
	for name, sep := range map[string]string{"CR": "\r", "LF": "\n", "CRLF": "\r\n"} {
		in := "MSH|^~\\&|A||||||ADT^A01|1|P|2.5" + sep + "PID|1||42" + sep + sep + "ZZ1|x" + sep
		m := mustParse(t, in, Options{})
		if len(m.Segments) != 3 || m.Segments[2].Name != "ZZ1" {
			t.Errorf("%s: segments %v", name, segNames(m))
		}
		if got := m.PID().Identifiers()[0].ID; got != "42" {
			t.Errorf("%s: PID-3 %q", name, got)
		}
	}
	// Mixed, with blank lines of spaces.
	m := mustParse(t, "MSH|^~\\&|||||||ORU^R01|1|P|2.5\rPID|1\r\n  \nOBR|1\n\rOBX|1\r", Options{})
	if got := strings.Join(segNames(m), ","); got != "MSH,PID,OBR,OBX" {
		t.Errorf("mixed: %s", got)
	}
	if m.Segments[3].Offset != strings.Index("MSH|^~\\&|||||||ORU^R01|1|P|2.5\rPID|1\r\n  \nOBR|1\n\rOBX|1\r", "OBX") {
		t.Errorf("offset %d", m.Segments[3].Offset)
	}
}

func segNames(m *Message) []string {
	var out []string
	for _, s := range m.Segments {
		out = append(out, s.Name)
	}
	return out
}

func TestDelimiters(t *testing.T) {
	cases := []struct {
		msh  string
		want Delimiters
	}{
		{"MSH|^~\\&|", Delimiters{'|', '^', '~', '\\', '&', 0}},
		{"MSH|^~\\&#|", Delimiters{'|', '^', '~', '\\', '&', '#'}},
		{"MSH#$%!*#", Delimiters{'#', '$', '%', '!', '*', 0}}, // unusual but legal
		{"MSH|^~}|", Delimiters{'|', '^', '~', 0, '}', 0}},    // three: no escape
		{"MSH|^~\\|", Delimiters{'|', '^', '~', '\\', 0, 0}},  // three: no subcomponent
		{"MSH|^~\\}|", Delimiters{'|', '^', '~', '\\', '}', 0}},
	}
	for _, c := range cases {
		in := c.msh + strings.Repeat(string(c.want.Field), 6) + "ACK" + string(c.want.Field) + "1"
		m := mustParse(t, in, Options{})
		if m.Delimiters() != c.want {
			t.Errorf("%s: got %+v", c.msh, m.Delimiters())
		}
		if m.MSH().MessageType().Code != "ACK" || m.MSH().ControlID() != "1" {
			t.Errorf("%s: MSH-9/10 misread", c.msh)
		}
	}
	// A different escape character is honoured.
	m := mustParse(t, "MSH|^~$&|||||||ORU^R01|1|P|2.5\rNTE|1||a$F$b$S$c$E$d\\F\\e", Options{})
	if got := (NTE{m.Segment("NTE")}).Comment(); got != "a|b^c$d\\F\\e" {
		t.Errorf("custom escape: %q", got)
	}
	for _, bad := range []string{"MSH", "MSHA^~\\&|", "MSH|^|", "MSH|^^\\&|", "MSH|^~\\&#!x|", "MSH| ~\\&|"} {
		_, err := Parse([]byte(bad+"||||||ADT^A01|1"), Options{})
		if !errors.Is(err, ErrDelimiters) {
			t.Errorf("%q: want ErrDelimiters, got %v", bad, err)
		}
	}
}

func TestEscapes(t *testing.T) {
	m := mustParse(t, "MSH|^~\\&#|||||||ORU^R01|1|P|2.7\r"+
		"OBX|1|FT|x||line1\\.br\\line2\\.sp 2\\a\\.sk 3\\b\\.in +4\\\\.ti -2\\c\\.fi\\\\.nf\\\\.ce\\d\\H\\bold\\N\\\\Zxy\\e\r"+
		"OBX|2|ST|x||\\F\\\\S\\\\T\\\\R\\\\E\\\\P\\ \\X41C3A9\\ \\.br\\ \\H\\x\\N\\ \\Zxy\\ \\Q\\ \\Xzz\\ \\XC3\\ tail\\unterminated\r", Options{})
	obx := m.All("OBX")
	if got := (OBX{obx[0]}).Value().Text; got != "line1\nline2\n\na   bc\ndbolde" {
		t.Errorf("FT: %q", got)
	}
	want := `|^&~\# Aé \.br\ x \Zxy\ \Q\ \Xzz\ \XC3\ tail\unterminated`
	if got := (OBX{obx[1]}).Value().Text; got != want {
		t.Errorf("ST:\n got %q\nwant %q", got, want)
	}
	// \X..\ in a single-byte charset decodes through that charset.
	raw, _ := charmap.Windows1251.NewEncoder().Bytes([]byte("MSH|^~\\&|||||||ORU^R01|1|P|2.5\rNTE|1||Ж\\XC6\\"))
	m = mustParse(t, string(raw), Options{DefaultCharset: "windows-1251"})
	if got := (NTE{m.Segment("NTE")}).Comment(); got != "ЖЖ" {
		t.Errorf("hex in cp1251: %q", got)
	}
}

func TestEncodeEscapesRoundTrip(t *testing.T) {
	d := DefaultDelimiters()
	d.Truncation = '#'
	for _, s := range []string{"plain", "a|b^c~d\\e&f#g", "two\nlines\r\nthree", "", `""x`} {
		m := NewMessage(Header{Delimiters: d, Type: MSG{"ORU", "R01", ""}, ControlID: "1", Version: "2.7"})
		m.Add("OBX", "1", "ST", "", "", d.Encode(s))
		m.Add("NTE", "1", "", d.EncodeText(s))
		back := mustParse(t, string(m.Encode()), Options{})
		if !back.Equal(m) {
			t.Fatalf("%q: round trip differs", s)
		}
		if got := (OBX{back.Segment("OBX")}).Value().Text; got != s {
			t.Errorf("ST %q: got %q", s, got)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
		if got := (NTE{back.Segment("NTE")}).Comment(); got != want {
			t.Errorf("FT %q: got %q", s, got)
		}
	}
}

func TestQueryAndSpecimenSegments(t *testing.T) {
	m := mustParse(t, "MSH|^~\\&|||||||QBP^Q11^QBP_Q11|1|P|2.5.1\r"+
		"QPD|WOS^Work Order Step^IHE_LABTF|Q0001|S240315001^^^MEDGATE\r"+
		"SAC|||S240315001^MEDGATE||||||RACK^Rack|R12|3^1\r"+
		"TQ1|1||||||20240315100000|20240315120000|S^Stat^HL70485\r", Options{})
	q := QPD{m.Segment("QPD")}
	if q.MessageQueryName().Code != "WOS" || q.QueryTag() != "Q0001" || q.Parameter(1).Comp(1).String() != "S240315001" {
		t.Errorf("QPD: %+v %q", q.MessageQueryName(), q.Parameter(1).Raw())
	}
	sac := SAC{m.Segment("SAC")}
	if sac.ContainerID() != (EI{ID: "S240315001", NamespaceID: "MEDGATE"}) || sac.CarrierID().ID != "R12" || sac.PositionInCarrier().Comp(1).String() != "3" {
		t.Errorf("SAC: %+v %+v", sac.ContainerID(), sac.CarrierID())
	}
	tq := TQ1{m.Segment("TQ1")}
	if st, err := tq.StartDateTime(); err != nil || st.Time.Hour() != 10 || tq.Priorities()[0].Code != "S" {
		t.Errorf("TQ1: %+v %v", st, err)
	}
}

func TestStates(t *testing.T) {
	m := mustParse(t, "MSH|^~\\&|||||||ADT^A08|1|P|2.5\rPID|1||\"\"||^\"\"^X~", Options{})
	pid := m.Segment("PID")
	for n, want := range map[int]State{1: Valued, 2: Empty, 3: Null, 5: Valued, 6: Absent, 99: Absent} {
		if got := pid.Field(n).State(); got != want {
			t.Errorf("PID-%d: %v, want %v", n, got, want)
		}
	}
	f := pid.Field(5)
	if f.Comp(1).State() != Empty || f.Comp(2).State() != Null || f.Comp(3).String() != "X" || f.Comp(4).State() != Absent {
		t.Errorf("components: %v %v %q %v", f.Comp(1).State(), f.Comp(2).State(), f.Comp(3).String(), f.Comp(4).State())
	}
	if f.NumReps() != 2 || f.Rep(2).State() != Empty || f.Rep(3).State() != Absent {
		t.Errorf("repetitions: %d %v %v", f.NumReps(), f.Rep(2).State(), f.Rep(3).State())
	}
	if pid.Field(3).String() != "" || !pid.Field(3).IsNull() {
		t.Errorf("null reads as %q", pid.Field(3).String())
	}
}

func TestCharsets(t *testing.T) {
	text := "MSH|^~\\&|||||||ORU^R01|1|P|2.5||||||{18}\rPID|1||1||Иванов^Пётр\r"
	enc := func(cm *charmap.Charmap, msh18 string) []byte {
		b, err := cm.NewEncoder().Bytes([]byte(strings.Replace(text, "{18}", msh18, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	check := func(name string, data []byte, opts Options, wantCS string) {
		t.Helper()
		m, err := Parse(data, opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if m.Charset != wantCS || m.PID().Names()[0].Given != "Пётр" {
			t.Errorf("%s: charset %s, name %+v", name, m.Charset, m.PID().Names())
		}
		// Offsets are in input bytes, which differ from decoded ones here.
		if pid := m.Segment("PID"); !bytes.HasPrefix(data[pid.Offset:], []byte("PID")) {
			t.Errorf("%s: PID offset %d", name, pid.Offset)
		}
	}
	check("cp1251 default", enc(charmap.Windows1251, ""), Options{DefaultCharset: "windows-1251"}, "windows-1251")
	check("cp1251 MSH-18", enc(charmap.Windows1251, "CP1251"), Options{}, "windows-1251")
	check("8859/5", enc(charmap.ISO8859_5, "8859/5"), Options{DefaultCharset: "windows-1251"}, "iso-8859-5")
	check("cp866", enc(charmap.CodePage866, ""), Options{DefaultCharset: "cp866"}, "cp866")
	check("koi8", enc(charmap.KOI8R, "KOI8-R"), Options{}, "koi8-r")
	utf := []byte(strings.Replace(text, "{18}", "UNICODE UTF-8", 1))
	check("utf-8", utf, Options{DefaultCharset: "windows-1251"}, "utf-8")
	check("utf-8 MSH-18 UTF-8", []byte(strings.Replace(text, "{18}", "UTF-8", 1)), Options{DefaultCharset: "cp866"}, "utf-8")
	check("ignore MSH-18", enc(charmap.Windows1251, "UNICODE UTF-8"), Options{DefaultCharset: "windows-1251", Lenient: Lenient{IgnoreMSH18: true}}, "windows-1251")
	check("sniff", []byte(strings.Replace(text, "{18}", "8859/1", 1)), Options{Lenient: Lenient{SniffUTF8: true}}, "utf-8")
	check("unknown MSH-18 lenient", enc(charmap.Windows1251, "GB 18030-2000"), Options{DefaultCharset: "cp1251", Lenient: Lenient{UnknownCharset: true}}, "windows-1251")

	// Declared UTF-8, bytes in cp1251: refused, naming the first bad byte.
	bad := enc(charmap.Windows1251, "UNICODE UTF-8")
	_, err := Parse(bad, Options{})
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrCharset) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	wantOff := bytes.IndexByte(bad, 0xC8) // 'И'
	if pe.Offset != wantOff || pe.Segment != "PID" || pe.Field != 5 || pe.SegmentIndex != 2 {
		t.Errorf("invalid UTF-8 located at %+v, want offset %d PID-5", pe, wantOff)
	}
	if want := "PID-5 (segment 2) at byte " + itoa(wantOff) + ": byte 0xC8 is not valid UTF-8 (charset utf-8)"; err.Error() != want {
		t.Errorf("message %q\nwant      %q", err, want)
	}
	for _, c := range []struct {
		data []byte
		opts Options
	}{
		{[]byte(strings.Replace(text, "{18}", "ASCII", 1)), Options{}},               // non-ASCII under ASCII
		{[]byte(strings.Replace(text, "{18}", "GB 18030-2000", 1)), Options{}},       // unsupported
		{[]byte(strings.Replace(text, "{18}", "", 1)), Options{DefaultCharset: "x"}}, // bad configuration
		{append(enc(charmap.Windows1251, ""), 0x98), Options{DefaultCharset: "windows-1251"}},
	} {
		if _, err := Parse(c.data, c.opts); !errors.Is(err, ErrCharset) {
			t.Errorf("want ErrCharset, got %v", err)
		}
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		in   string
		opts Options
		is   error
		msg  string
	}{
		{"", Options{}, ErrNoMSH, "at byte 0: empty input"},
		{"PID|1", Options{}, ErrNoMSH, "PID at byte 0: message does not start with MSH"},
		{"MSH|^~\\&|A|B|C|D|20240101||^R01|1|P|2.5", Options{}, ErrRequired, "MSH-9 at byte 27: message type is empty"},
		{"MSH|^~\\&|A|B|C|D|20240101", Options{}, ErrRequired, "MSH-9 at byte 25: message type is empty"},
		{"MSH|^~\\&|||||||ADT^A01|1\rPID|1\rMSH|^~\\&|||||||ADT^A01|2", Options{}, ErrBatch, "MSH (segment 3) at byte 31: second message or batch segment in one input; use ParseBatch"},
		{"FHS|^~\\&\rMSH|^~\\&|||||||ADT^A01|1", Options{}, ErrBatch, "FHS at byte 0: batch header; use ParseBatch"},
		{"MSH|^~\\&|||||||ADT^A01|1\rpid|1", Options{}, ErrSegment, "at byte 25: segment does not start with a three-character ID and a field separator"},
		{"MSH|^~\\&|||||||ADT^A01|1\rPIDX|1", Options{}, ErrSegment, ""},
		{"MSH|^~\\&|||||||ADT^A01|1", Options{MaxSize: 10}, ErrTooLarge, "at byte 10: input of 24 bytes exceeds the 10-byte limit"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.in), c.opts)
		if !errors.Is(err, c.is) {
			t.Errorf("%q: got %v, want %v", c.in, err, c.is)
			continue
		}
		if c.msg != "" && err.Error() != c.msg {
			t.Errorf("%q:\n got %q\nwant %q", c.in, err, c.msg)
		}
	}
}

func TestParseBatch(t *testing.T) {
	in := "FHS|^~\\&|A\r\nBHS|^~\\&|A\r\n" +
		"MSH|^~\\&|||||||ORU^R01|1|P|2.5\rPID|1\r" +
		"MSH|^~\\&|||||||ORU^R01|2|P|2.5||||||UNICODE UTF-8\rPID|1||\xff\r" +
		"\r\nMSH|^~\\&|||||||ORU^R01|3|P|2.5\rOBX|1\r" +
		"BTS|3\rFTS|1\r"
	msgs, err := ParseBatch([]byte(in), Options{})
	if len(msgs) != 3 || msgs[0] == nil || msgs[1] != nil || msgs[2] == nil {
		t.Fatalf("messages: %v", msgs)
	}
	var pe *ParseError
	if !errors.Is(err, ErrCharset) || !errors.As(err, &pe) || pe.MessageIndex != 2 || pe.Offset != strings.IndexByte(in, 0xff) {
		t.Errorf("error: %v", err)
	}
	if msgs[2].MSH().ControlID() != "3" || msgs[2].Segments[0].Offset != strings.Index(in, "MSH|^~\\&|||||||ORU^R01|3") {
		t.Errorf("third message: %+v", msgs[2].Segments[0])
	}
	if _, err := ParseBatch([]byte("PID|1\rMSH|^~\\&|||||||A|1"), Options{}); !errors.Is(err, ErrNoMSH) {
		t.Errorf("leading PID: %v", err)
	}
	if _, err := ParseBatch([]byte("FHS|^~\\&\rFTS|0"), Options{}); !errors.Is(err, ErrNoMSH) {
		t.Errorf("empty batch: %v", err)
	}
}

func TestNumbers(t *testing.T) {
	cases := []struct {
		in   string
		want Number
	}{
		{"5.2", Number{Status: NumOK, Value: 5.2, Text: "5.2"}},
		{" 5,20 ", Number{Status: NumOK, Value: 5.2, Text: "5.20", DecimalComma: true}},
		{"<2", Number{Status: NumOK, Comparator: "<", Value: 2, Text: "2"}},
		{">= 10", Number{Status: NumOK, Comparator: ">=", Value: 10, Text: "10"}},
		{"-.5", Number{Status: NumOK, Value: -0.5, Text: "-.5"}},
		{"+3", Number{Status: NumOK, Value: 3, Text: "3"}},
		{"***.**", Number{Status: NumMasked}},
		{".***", Number{Status: NumMasked}},
		{">****", Number{Status: NumMasked, Comparator: ">"}},
		{"", Number{}},
		{`""`, Number{}},
		{"1e5", Number{Status: NumInvalid}},
		{"1,234.5", Number{Status: NumInvalid}},
		{"Negative", Number{Status: NumInvalid}},
		{"<", Number{Status: NumInvalid, Comparator: "<"}},
		{"--1", Number{Status: NumInvalid}},
	}
	for _, c := range cases {
		if got := ParseNumber(c.in); got != c.want {
			t.Errorf("ParseNumber(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestTimes(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	cases := []struct {
		in     string
		loc    *time.Location
		want   time.Time
		prec   Precision
		frac   int
		zone   bool
		errors bool
	}{
		{"2024", nil, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), PrecisionYear, 0, false, false},
		{"202403", nil, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), PrecisionMonth, 0, false, false},
		{"20240315", msk, time.Date(2024, 3, 15, 0, 0, 0, 0, msk), PrecisionDay, 0, false, false},
		{"2024031510", nil, time.Date(2024, 3, 15, 10, 0, 0, 0, time.UTC), PrecisionHour, 0, false, false},
		{"202403151029", nil, time.Date(2024, 3, 15, 10, 29, 0, 0, time.UTC), PrecisionMinute, 0, false, false},
		{"20240315102959", nil, time.Date(2024, 3, 15, 10, 29, 59, 0, time.UTC), PrecisionSecond, 0, false, false},
		{"20240315102959.1234", nil, time.Date(2024, 3, 15, 10, 29, 59, 123400000, time.UTC), PrecisionFraction, 4, false, false},
		{"20240315102959+0300", time.UTC, time.Date(2024, 3, 15, 7, 29, 59, 0, time.UTC), PrecisionSecond, 0, true, false},
		{"20130926150434-0400", nil, time.Date(2013, 9, 26, 19, 4, 34, 0, time.UTC), PrecisionSecond, 0, true, false},
		{"2024031510.5", nil, time.Time{}, 0, 0, false, true},
		{"20240230", nil, time.Time{}, 0, 0, false, true},
		{"Aug 15, 1942", nil, time.Time{}, 0, 0, false, true},
		{"2024031", nil, time.Time{}, 0, 0, false, true},
		{"20240315+03", nil, time.Time{}, 0, 0, false, true},
	}
	for _, c := range cases {
		got, err := ParseTime(c.in, c.loc)
		if c.errors {
			if err == nil {
				t.Errorf("ParseTime(%q) accepted", c.in)
			}
			continue
		}
		if err != nil || !got.Time.Equal(c.want) || got.Precision != c.prec || got.FracDigits != c.frac || got.HasZone != c.zone {
			t.Errorf("ParseTime(%q) = %+v, %v", c.in, got, err)
		}
		if back := got.Format(); back != c.in {
			t.Errorf("Format(%q) = %q", c.in, back)
		}
	}
}

func TestOBXValues(t *testing.T) {
	pdf := []byte("%PDF-1.4 fake")
	d := DefaultDelimiters()
	m := mustParse(t, "MSH|^~\\&|||||||ORU^R01|1|P|2.5\r"+
		"OBX|1|SN|x||>^100\r"+
		"OBX|2|SN|x||^1^:^128\r"+
		"OBX|3|CWE|x||260385009^Negative^SCT^NEG^neg^L\r"+
		"OBX|4|DTM|x||20240315102959+0300\r"+
		"OBX|5|ED|x||"+ED{Type: "AP", Subtype: "PDF", Data: pdf}.Encode(d)+"\r"+
		"OBX|6|TX|x||first line~second line\r"+
		"OBX|7|NM|x||abc\r"+
		"OBX|8|ED|x||^IM^JPEG^Hex^48690A\r"+
		"OBX|9|ST|x||Neg^ative\r"+
		"OBX|10|NM|x||7.1~7.3\r", Options{})
	obx := m.All("OBX")
	v := func(i int) ObsValue { return OBX{obx[i-1]}.Value() }
	if sn := v(1).SN; sn.Comparator != ">" || sn.Num1.Value != 100 || v(1).Err != nil {
		t.Errorf("SN >100: %+v", v(1))
	}
	if sn := v(2).SN; sn.Num1.Value != 1 || sn.Separator != ":" || sn.Num2.Value != 128 {
		t.Errorf("SN ratio: %+v", sn)
	}
	if c := v(3).Coded; c.Code != "260385009" || c.System != "SCT" || c.AltCode != "NEG" || c.AltSystem != "L" || v(3).Text != "Negative" {
		t.Errorf("CWE: %+v", c)
	}
	if tm := v(4).Time; !tm.HasZone || tm.Precision != PrecisionSecond || tm.Time.UTC().Hour() != 7 {
		t.Errorf("DTM: %+v", tm)
	}
	if ed := v(5).ED; ed.Type != "AP" || ed.Subtype != "PDF" || ed.Encoding != "Base64" || !bytes.Equal(ed.Data, pdf) || v(5).Err != nil {
		t.Errorf("ED: %+v %v", ed, v(5).Err)
	}
	if got := v(6).Text; got != "first line\nsecond line" {
		t.Errorf("TX: %q", got)
	}
	if n := v(7); n.Number.Status != NumInvalid || !errors.Is(n.Err, ErrValue) || !strings.HasPrefix(n.Err.Error(), "OBX-5 (segment 8) at byte ") {
		t.Errorf("bad NM: %+v %v", n.Number, n.Err)
	}
	if ed := v(8).ED; string(ed.Data) != "Hi\n" {
		t.Errorf("hex ED: %q", ed.Data)
	}
	if got := v(9).Text; got != "Neg^ative" {
		t.Errorf("ST with caret: %q", got)
	}
	if vs := (OBX{obx[9]}).Values(); len(vs) != 2 || vs[1].Number.Value != 7.3 {
		t.Errorf("repeated NM: %+v", vs)
	}
}

func TestLenientUnits(t *testing.T) {
	in := "MSH|^~\\&|||||||ORU^R01|1|P|2.5\rOBX|1|NM|PLT||245|10^9/L|150-400\rOBX|2|NM|HGB||13|g/dL^grams per deciliter^UCUM\rOBX|3|ST|C||a~b"
	strict := mustParse(t, in, Options{})
	lax := mustParse(t, in, Options{Lenient: Lenient{UnescapedDelimiters: true}})
	if u := (OBX{strict.All("OBX")[0]}).Units(); u.Code != "10" || u.Text != "9/L" {
		t.Errorf("strict units: %+v", u)
	}
	if got := strict.All("OBX")[0].Field(6).Text(); got != "10^9/L" {
		t.Errorf("raw text: %q", got)
	}
	if u := (OBX{lax.All("OBX")[0]}).Units(); u.Code != "10^9/L" || u.Text != "" {
		t.Errorf("lenient units: %+v", u)
	}
	if u := (OBX{lax.All("OBX")[1]}).Units(); u.Code != "g/dL" || u.System != "UCUM" {
		t.Errorf("lenient keeps real CWE: %+v", u)
	}
	if got := (OBX{lax.All("OBX")[2]}).Value().Text; got != "a~b" {
		t.Errorf("lenient ST: %q", got)
	}
	if got := (OBX{strict.All("OBX")[2]}).Value().Text; got != "a" {
		t.Errorf("strict ST: %q", got)
	}
}

func TestGluedSegments(t *testing.T) {
	in := "MSH|^~\\&|||||||ORU^R01|1|P|2.2\rOBR|1|| OBX||TX|F|1|a b| OBX||TX|F|2|c| ZZ1|x| MSH|no\r"
	m := mustParse(t, in, Options{Lenient: Lenient{GluedSegments: true}})
	if got := strings.Join(segNames(m), ","); got != "MSH,OBR,OBX,OBX,ZZ1" {
		t.Fatalf("segments %s", got)
	}
	if m.Segments[1].Raw() != "OBR|1||" || m.Segments[4].Raw() != "ZZ1|x| MSH|no" {
		t.Errorf("split: %q %q", m.Segments[1].Raw(), m.Segments[4].Raw())
	}
	if m.Segments[2].Offset != strings.Index(in, "OBX") {
		t.Errorf("offset %d", m.Segments[2].Offset)
	}
	if len(mustParse(t, in, Options{}).Segments) != 2 {
		t.Error("glued segments split without the flag")
	}
}

func TestACK(t *testing.T) {
	req := mustParse(t, "MSH|^~\\&|BC-5380|Mindray|MEDGATE|LAB|20240315102900||ORU^R01|C42|P|2.3.1||||||UNICODE\rPID|1", Options{})
	at := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	ack := BuildACK(req, Ack{Code: "AE", ControlID: "A1", Time: at, Text: "PID-3 missing",
		Errors: []AckError{{Segment: "PID", Sequence: 1, Field: 3, Code: 101, Text: "patient identifier is empty"}}})
	want := "MSH|^~\\&|MEDGATE|LAB|BC-5380|Mindray|20240315103000||ACK^R01^ACK|A1|P|2.3.1||||||UNICODE\r" +
		"MSA|AE|C42|PID-3 missing\r" +
		"ERR|PID^1^3^101&patient identifier is empty&HL70357\r"
	if got := string(ack.Encode()); got != want {
		t.Errorf("v2.3.1 ACK:\n got %q\nwant %q", got, want)
	}
	back := mustParse(t, string(ack.Encode()), Options{})
	msa := MSA{back.Segment("MSA")}
	if msa.AckCode() != "AE" || msa.ControlID() != "C42" {
		t.Errorf("MSA: %s %s", msa.AckCode(), msa.ControlID())
	}
	if eld := (ERR{back.Segment("ERR")}).CodeAndLocation(); len(eld) != 1 || eld[0].Field != 3 || eld[0].Code.Code != "101" {
		t.Errorf("ERR-1: %+v", eld)
	}

	req25 := mustParse(t, "MSH|^~\\&|LIS||MEDGATE||20240315||OML^O21^OML_O21|X9|T|2.5.1|||AL|AL", Options{})
	_, perr := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||^R01|1|P|2.5"), Options{})
	ack = BuildACK(req25, Ack{Code: "CR", ControlID: "A2", Time: at, Errors: []AckError{AckErrorFor(perr)}})
	want = "MSH|^~\\&|MEDGATE||LIS||20240315103000||ACK^O21^ACK|A2|T|2.5.1|||NE|NE\r" +
		"MSA|CR|X9\r" +
		"ERR||MSH^1^9|101^Required field missing^HL70357|E||||MSH-9 at byte 27: message type is empty\r"
	if got := string(ack.Encode()); got != want {
		t.Errorf("v2.5.1 commit ACK:\n got %q\nwant %q", got, want)
	}
	e := ERR{mustParse(t, string(ack.Encode()), Options{}).Segment("ERR")}
	if l := e.Locations(); len(l) != 1 || l[0].Segment != "MSH" || l[0].Field != 9 || e.Severity() != "E" || e.Code().Code != "101" {
		t.Errorf("ERR-2/3/4: %+v", l)
	}

	// Nothing readable: still an ACK.
	ack = BuildACK(nil, Ack{Code: "AR", ControlID: "A3", Time: at, Text: "not HL7"})
	if got := string(ack.Encode()); got != "MSH|^~\\&|||||20240315103000||ACK^^ACK|A3|P|2.5.1\rMSA|AR||not HL7\r" {
		t.Errorf("nil request: %q", got)
	}
}

func TestParseHeader(t *testing.T) {
	data := []byte("MSH|^~\\&|A|B|||20240101||ORU^R01|CTL7|P|2.5||||||UNICODE UTF-8\rPID|1||\xff\xfe")
	if _, err := Parse(data, Options{}); !errors.Is(err, ErrCharset) {
		t.Fatal(err)
	}
	h, err := ParseHeader(data, Options{})
	if err != nil || h.MSH().ControlID() != "CTL7" || len(h.Segments) != 1 {
		t.Fatalf("ParseHeader: %v", err)
	}
	ack := BuildACK(h, Ack{Code: "AR", ControlID: "1", Errors: []AckError{AckErrorFor(errors.New("x"))}})
	if (MSA{ack.Segment("MSA")}).ControlID() != "CTL7" {
		t.Error("ACK of unparseable message lost MSH-10")
	}
}

func TestBuildersRoundTrip(t *testing.T) {
	at := time.Date(2024, 3, 15, 10, 29, 0, 0, time.UTC)
	pat := Patient{
		Identifiers: []CX{{ID: "100234", AssigningAuthority: HD{NamespaceID: "MEDGATE"}, TypeCode: "MR"}},
		Names:       []XPN{{Family: "Иванов", Given: "Пётр", Middle: "Сергеевич"}},
		BirthDate:   time.Date(1980, 4, 12, 0, 0, 0, 0, time.UTC), Sex: "M",
	}
	items := []OrderItem{{
		PlacerOrderNumber: EI{ID: "ORD-77"}, Service: CWE{Code: "CBC", Text: "Общий анализ крови", System: "L"},
		Priority: "S", TransactionTime: at, RequestedTime: at, CollectionTime: at,
		Specimen: &Specimen{ID: EI{ID: "S240315001"}, Type: CWE{Code: "BLD", Text: "Кровь"}, CollectionTime: at},
		Notes:    []string{"натощак"},
	}}
	h := Header{SendingApplication: HD{NamespaceID: "MEDGATE"}, ReceivingApplication: HD{NamespaceID: "BC-5800"}, Time: at, ControlID: "O1"}
	for name, m := range map[string]*Message{
		"ORM": BuildORM(Order{Header: h, Patient: pat, Items: items}),
		"OML": BuildOML(Order{Header: h, Patient: pat, Visit: &Visit{Class: "O"}, Items: items}),
		"ORU": BuildORU(ORU{Header: h, Patient: pat, Reports: []Report{{
			FillerOrderNumber: EI{ID: "S240315001"}, Service: items[0].Service, ObservationTime: at,
			Results: []Result{
				{Type: "NM", ID: CWE{Code: "718-7", Text: "Гемоглобин", System: "LN"}, Value: "128", Units: CWE{Code: "g/L"}, Range: "130-170", Flags: []string{"L"}, Time: at},
				{Type: "TX", ID: CWE{Code: "18769-0"}, Value: "строка 1\nстрока 2 ^ & ~ |"},
				{Type: "CWE", ID: CWE{Code: "X"}, Coded: &CWE{Code: "NEG", Text: "Отрицательно"}},
				{Type: "ED", ID: CWE{Code: "PDF"}, ED: &ED{Type: "AP", Subtype: "PDF", Data: []byte{0, 1, 2, 255}}},
			},
		}}}),
	} {
		for _, cs := range []string{"utf-8", "windows-1251", "cp866", "iso-8859-5"} {
			m.Charset = cs
			back, err := Parse(m.Encode(), Options{DefaultCharset: cs})
			if err != nil {
				t.Fatalf("%s/%s: %v", name, cs, err)
			}
			if !back.Equal(m) {
				t.Errorf("%s/%s: round trip differs:\n%q\n%q", name, cs, m.text(), back.text())
			}
			if back.PID().Names()[0].Middle != "Сергеевич" {
				t.Errorf("%s/%s: PID-5 %+v", name, cs, back.PID().Names())
			}
		}
		if _, err := m.EncodeCharset("iso-8859-1"); !errors.Is(err, ErrCharset) {
			t.Errorf("%s: Cyrillic encoded to Latin-1 without error", name)
		}
	}
	orm := mustParse(t, string(BuildORM(Order{Header: h, Patient: pat, Items: items}).Encode()), Options{})
	if src := (OBR{orm.Segment("OBR")}).SpecimenSource(); src.Code != "BLD" || src.Text != "Кровь" {
		t.Errorf("ORM OBR-15.1 specimen source: %+v", src) // OBR-15.2 is additives, not the text
	}
	oru := BuildORU(ORU{Header: h, Patient: pat, Reports: []Report{{Results: []Result{
		{Type: "TX", Value: "a\nb ^"}, {Type: "ED", ED: &ED{Type: "AP", Subtype: "PDF", Data: []byte("%PDF")}},
	}}}})
	back := mustParse(t, string(oru.Encode()), Options{})
	g := back.ObservationGroups()
	if len(g) != 1 || len(g[0].Observations) != 2 {
		t.Fatalf("groups: %+v", g)
	}
	if got := g[0].Observations[0].OBX.Value().Text; got != "a\nb ^" {
		t.Errorf("TX round trip: %q", got)
	}
	if got := g[0].Observations[1].OBX.Value().ED.Data; string(got) != "%PDF" {
		t.Errorf("ED round trip: %q", got)
	}
	if mt := back.MSH().MessageType(); mt != (MSG{"ORU", "R01", "ORU_R01"}) {
		t.Errorf("MSH-9 %+v", mt)
	}
}

func TestObservationGroups(t *testing.T) {
	m := mustParse(t, "MSH|^~\\&|||||||ORU^R01|1|P|2.5\r"+
		"PID|1||A\rORC|RE|1\rOBR|1|1\rNTE|1||on OBR\rOBX|1|NM|a||1\rNTE|1||on OBX 1\rNTE|2||again\rOBX|2|NM|b||2\rSPM|1|S1\r"+
		"PID|2||B\rOBR|2|2\rOBX|1|ST|c||x\rZZZ|1\r", Options{})
	g := m.ObservationGroups()
	if len(g) != 2 {
		t.Fatalf("%d groups", len(g))
	}
	if g[0].PID.Identifiers()[0].ID != "A" || g[0].ORC.OrderControl() != "RE" || len(g[0].Notes) != 1 ||
		len(g[0].Observations) != 2 || len(g[0].Observations[0].Notes) != 2 || len(g[0].Specimens) != 1 {
		t.Errorf("group 1: %+v", g[0])
	}
	if g[1].PID.Identifiers()[0].ID != "B" || g[1].ORC.Segment != nil || len(g[1].Observations) != 1 {
		t.Errorf("group 2: %+v", g[1])
	}
}

// OUL^R22 is specimen-first: SPM and its OBX open a sample, each OBR after
// it is an order on that sample with its ORC after it. In ORU^R01 the OBX
// after a SPM describe the sample, not the order.
func TestObservationGroupsStructures(t *testing.T) {
	oul := mustParse(t, "MSH|^~\\&|||||||OUL^R22^OUL_R22|1|P|2.5.1\r"+
		"PID|1||A\rSPM|1|^S1\rOBX|1|NM|VOL||4|mL\rOBR|1|P1\rORC|SC|P1\rNTE|1||on OBR 1\rOBX|1|NM|a||1\rOBX|2|NM|b||2\r"+
		"OBR|2|P2\rORC|SC|P2\rOBX|1|NM|c||3\rSPM|2|^S2\rOBR|3|P3\rOBX|1|NM|d||4\r", Options{})
	g := oul.ObservationGroups()
	if len(g) != 3 {
		t.Fatalf("OUL: %d groups", len(g))
	}
	type want struct {
		placer, specimen, orc string
		obs, specObs, notes   int
	}
	for i, w := range []want{{"P1", "S1", "P1", 2, 1, 1}, {"P2", "S1", "P2", 1, 1, 0}, {"P3", "S2", "", 1, 0, 0}} {
		var spm, orc string
		if len(g[i].Specimens) == 1 {
			spm = g[i].Specimens[0].SpecimenID().Filler.ID
		}
		if g[i].ORC.Segment != nil {
			orc = g[i].ORC.PlacerOrderNumber().ID
		}
		got := want{g[i].OBR.PlacerOrderNumber().ID, spm, orc, len(g[i].Observations), len(g[i].SpecimenObservations), len(g[i].Notes)}
		if got != w || g[i].PID.Identifiers()[0].ID != "A" {
			t.Errorf("OUL group %d: %+v, want %+v", i+1, got, w)
		}
	}

	oru := mustParse(t, "MSH|^~\\&|||||||ORU^R01|1|P|2.5.1\r"+
		"PID|1||A\rORC|RE|P1\rOBR|1|P1\rOBX|1|NM|a||1\rSPM|1|^S1\rOBX|1|NM|VOL||4|mL\rORC|RE|P2\rOBR|2|P2\rOBX|1|NM|b||2\r", Options{})
	g = oru.ObservationGroups()
	if len(g) != 2 || len(g[0].Observations) != 1 || len(g[0].Specimens) != 1 ||
		g[1].ORC.PlacerOrderNumber().ID != "P2" || len(g[1].Observations) != 1 || len(g[1].Specimens) != 0 {
		t.Errorf("ORU: %+v", g)
	}
}

func TestSegmentSet(t *testing.T) {
	m := NewMessage(Header{Type: MSG{"ADT", "A08", ""}, ControlID: "1"})
	s := m.Add("PID", "1")
	s.Set(5, XPN{Family: "A|B", Given: "C"}.Encode(m.Delimiters()))
	s.Set(3, "X")
	if s.Raw() != `PID|1||X||A\F\B^C` {
		t.Errorf("Set: %q", s.Raw())
	}
	if (PID{s}).Names()[0].Family != "A|B" {
		t.Error("escaped family name misread")
	}
	m.Segments[0].Set(18, "UNICODE UTF-8")
	if m.MSH().CharacterSet() != "UNICODE UTF-8" || m.MSH().ControlID() != "1" {
		t.Errorf("MSH Set: %q", m.Segments[0].Raw())
	}
}

// TestLargeInputs guards against quadratic paths: a 12 MB input of short
// segments with LF terminators (no CR to find) must parse in linear time.
func TestLargeInputs(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("MSH|^~\\&|||||||ORU^R01|1|P|2.5\n")
	for b.Len() < 12<<20 {
		b.WriteString("OBX|1|NM|x||1~2~3|\n")
	}
	start := time.Now()
	m, err := Parse(b.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseBatch(b.Bytes(), Options{}); err != nil {
		t.Fatal(err)
	}
	_ = m.ObservationGroups()
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("12 MB took %v", d)
	}
	b.WriteString(strings.Repeat("x", DefaultMaxSize))
	if _, err := Parse(b.Bytes(), Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over 16 MiB: %v", err)
	}
}
