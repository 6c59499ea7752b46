package dicom

import (
	"errors"
	"testing"
)

func mustCharset(t testing.TB, values ...string) *Charset {
	t.Helper()
	cs, err := ParseCharset(values)
	if err != nil {
		t.Fatalf("ParseCharset(%q): %v", values, err)
	}
	return cs
}

func TestParseCharsetNames(t *testing.T) {
	cases := []struct {
		in        []string
		name      string
		terms     []string
		wantError bool
	}{
		{nil, "ISO_IR 6", nil, false},
		{[]string{""}, "ISO_IR 6", nil, false},
		{[]string{"ISO_IR 6"}, "ISO_IR 6", nil, false},
		{[]string{"ISO_IR 144"}, "ISO_IR 144", []string{"ISO_IR 144"}, false},
		{[]string{"ISO-IR 144"}, "ISO_IR 144", []string{"ISO_IR 144"}, false},
		{[]string{" iso_ir144 "}, "ISO_IR 144", []string{"ISO_IR 144"}, false},
		{[]string{"ISO-8859-5"}, "ISO_IR 144", []string{"ISO_IR 144"}, false},
		{[]string{"ISO_IR 100"}, "ISO_IR 100", []string{"ISO_IR 100"}, false},
		{[]string{"ISO_IR 192"}, "ISO_IR 192", []string{"ISO_IR 192"}, false},
		{[]string{"UTF-8"}, "ISO_IR 192", []string{"ISO_IR 192"}, false},
		{[]string{"windows-1251"}, "windows-1251", nil, false},
		{[]string{"CP1251"}, "windows-1251", nil, false},
		{[]string{"", "ISO 2022 IR 144"}, `\ISO 2022 IR 144`, []string{"", "ISO 2022 IR 144"}, false},
		{[]string{"ISO 2022 IR 6", "ISO 2022 IR 144"}, `ISO 2022 IR 6\ISO 2022 IR 144`, []string{"ISO 2022 IR 6", "ISO 2022 IR 144"}, false},
		{[]string{"ISO 2022 IR 144"}, "ISO 2022 IR 144", []string{"ISO 2022 IR 144"}, false},
		{[]string{"ISO_IR 100", "ISO_IR 144"}, `ISO 2022 IR 100\ISO 2022 IR 144`, []string{"ISO 2022 IR 100", "ISO 2022 IR 144"}, false},
		{[]string{"ISO_IR 192", "ISO_IR 144"}, "", nil, true},
		{[]string{"ISO 2022 IR 87"}, "", nil, true},
		{[]string{"GB18030"}, "", nil, true},
		{[]string{"", "windows-1251"}, "", nil, true},
	}
	for _, c := range cases {
		cs, err := ParseCharset(c.in)
		if c.wantError {
			if !errors.Is(err, ErrCharset) {
				t.Errorf("%q: want ErrCharset, got %v", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if cs.Name() != c.name {
			t.Errorf("%q: name %q, want %q", c.in, cs.Name(), c.name)
		}
		if got := cs.Terms(); len(got) != len(c.terms) || (len(got) > 0 && got[len(got)-1] != c.terms[len(c.terms)-1]) {
			t.Errorf("%q: terms %q, want %q", c.in, got, c.terms)
		}
	}
}

func TestCharsetDecode(t *testing.T) {
	cases := []struct {
		cs   []string
		vr   string
		in   []byte
		want string
	}{
		// "Иванов" in ISO-8859-5: И=0xB8 в=0xD2 а=0xD0 н=0xDD о=0xDE в=0xD2
		{[]string{"ISO_IR 144"}, "PN", []byte{0xB8, 0xD2, 0xD0, 0xDD, 0xDE, 0xD2, '^', 0xB8}, "Иванов^И"},
		{[]string{"ISO_IR 144"}, "LO", []byte{0xA1, 0xF1}, "Ёё"},
		{[]string{"ISO_IR 192"}, "PN", []byte("Ёлкина^Алёна"), "Ёлкина^Алёна"},
		{[]string{"ISO_IR 100"}, "LO", []byte{'M', 0xFC, 'l', 'l', 'e', 'r'}, "Müller"},
		{[]string{"windows-1251"}, "LO", []byte{0xC8, 0xE2, 0xE0, 0xED}, "Иван"},
		{[]string{"koi8-r"}, "LO", []byte{0xE9, 0xD7, 0xC1, 0xCE}, "Иван"},
		// ISO 2022: default G0, Cyrillic designated into G1 with ESC - L,
		// and back to the initial state after '^' (PS3.5 6.1.2.5.3).
		{[]string{"", "ISO 2022 IR 144"}, "PN", []byte{0x1B, '-', 'L', 0xB6, 0xE3, '^', 'A', 0x1B, '-', 'L', 0xB8}, "Жу^AИ"},
		{[]string{"ISO 2022 IR 144"}, "PN", []byte{0xB8, 0xD2, 0x1B, '(', 'B', 'x'}, "Ивx"},
		{[]string{"ISO 2022 IR 100", "ISO 2022 IR 144"}, "LO", []byte{0xFC, 0x1B, '-', 'L', 0xB8, 0x1B, '-', 'A', 0xFC}, "üИü"},
		// Non-text VRs are default repertoire whatever the charset.
		{[]string{"ISO_IR 144"}, "CS", []byte("CT"), "CT"},
	}
	for _, c := range cases {
		cs := mustCharset(t, c.cs...)
		got, err := cs.Decode(c.in, c.vr)
		if err != nil || got != c.want {
			t.Errorf("%q %s % x: got %q, %v; want %q", c.cs, c.vr, c.in, got, err, c.want)
		}
	}
}

func TestCharsetDecodeErrors(t *testing.T) {
	cases := []struct {
		cs     []string
		vr     string
		in     []byte
		offset int
	}{
		{nil, "PN", []byte{'A', 'B', 0xC0}, 2},
		{[]string{"ISO_IR 192"}, "PN", []byte{'A', 0xD0}, 1},
		{[]string{"ISO_IR 192"}, "LO", []byte{'A', 0xFF, 'B'}, 1},
		{[]string{"ISO_IR 144"}, "PN", []byte{0xB8, 0x85}, 1},
		{[]string{"ISO_IR 144"}, "CS", []byte{'C', 0xB8}, 1},
		{[]string{"ISO_IR 144"}, "LO", []byte{'A', 0x00, 'B'}, 1},
		{[]string{"windows-1251"}, "LO", []byte{'A', 0x98}, 1},
		{[]string{"", "ISO 2022 IR 144"}, "PN", []byte{'A', 0xB8}, 1},                       // no G1 designated
		{[]string{"", "ISO 2022 IR 144"}, "PN", []byte{0x1B, '$', 'B', 0xB8}, 0},            // multi-byte set
		{[]string{"", "ISO 2022 IR 144"}, "PN", []byte{0x1B, '-', 'L', 0xB8, '^', 0xB8}, 5}, // reset at '^'
		{[]string{"", "ISO 2022 IR 144"}, "PN", []byte{'x', 0x1B, '-'}, 1},
		{[]string{"", "ISO 2022 IR 144"}, "PN", []byte{0x1B, '-', 'A', 0xFC}, 0}, // Latin-1 not declared
	}
	for _, c := range cases {
		cs := mustCharset(t, c.cs...)
		_, err := cs.Decode(c.in, c.vr)
		var ce *CharsetError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCharset) || ce.Offset != c.offset {
			t.Errorf("%q % x: got %v, want offset %d", c.cs, c.in, err, c.offset)
		}
	}
}

func TestCharsetEncodeRoundTrip(t *testing.T) {
	cases := []struct {
		cs   []string
		text string
	}{
		{[]string{"ISO_IR 144"}, "Иванов^Иван^Иванович=Ivanov"},
		{[]string{"ISO_IR 192"}, "Ёлкина^Алёна=エルキナ"},
		{[]string{"ISO_IR 100"}, "Müller^Jürgen"},
		{[]string{"windows-1251"}, "Щукин^Юрий"},
		{[]string{"", "ISO 2022 IR 144"}, "Жуков^Пётр^Ильич"},
		{[]string{"ISO 2022 IR 100", "ISO 2022 IR 144"}, "Müller^Жуков\\x"},
		{[]string{"ISO 2022 IR 144"}, "Иванов"},
	}
	for _, c := range cases {
		cs := mustCharset(t, c.cs...)
		b, err := cs.Encode(c.text, "PN")
		if err != nil {
			t.Errorf("%q: encode: %v", c.cs, err)
			continue
		}
		got, err := cs.Decode(b, "PN")
		if err != nil || got != c.text {
			t.Errorf("%q: %q → % x → %q (%v)", c.cs, c.text, b, got, err)
		}
	}
	// The escapes for ISO 2022: designate before the Cyrillic, return to
	// the initial state before '^' and at the end.
	b, _ := mustCharset(t, "", "ISO 2022 IR 144").Encode("Жу^A", "PN")
	want := []byte{0x1B, '-', 'L', 0xB6, 0xE3, 0x1B, '(', 'B', '^', 'A'}
	if string(b) != string(want) {
		t.Errorf("ISO 2022 escapes: % x, want % x", b, want)
	}
	// Errors name the rune index.
	_, err := mustCharset(t, "ISO_IR 100").Encode("AbЖ", "PN")
	var ce *CharsetError
	if !errors.As(err, &ce) || ce.Offset != 2 {
		t.Errorf("Latin-1 encode of Cyrillic: %v", err)
	}
	if _, err := (*Charset)(nil).Encode("Ж", "PN"); !errors.Is(err, ErrCharset) {
		t.Errorf("default repertoire encode of Cyrillic: %v", err)
	}
	if _, err := mustCharset(t, "ISO_IR 192").Encode("Ж", "CS"); !errors.Is(err, ErrCharset) {
		t.Errorf("CS holds the default repertoire only: %v", err)
	}
}

func TestPersonName(t *testing.T) {
	p := ParsePersonName("Иванов^Иван^Иванович^Dr^Jr=ideo=phon")
	if p.Family != "Иванов" || p.Given != "Иван" || p.Middle != "Иванович" || p.Prefix != "Dr" || p.Suffix != "Jr" || p.Ideographic != "ideo" || p.Phonetic != "phon" {
		t.Fatalf("%+v", p)
	}
	if s := FormatPN("Иванов", "Иван", ""); s != "Иванов^Иван" {
		t.Errorf("FormatPN = %q", s)
	}
	if s := TrimPN("A^B^^=^="); s != "A^B" {
		t.Errorf("TrimPN = %q", s)
	}
}

func TestTransliterate(t *testing.T) {
	cases := map[string]string{
		"ЖУКОВ":         "ZHUKOV",
		"Жуков":         "Zhukov",
		"Щербаков^Юрий": "Shcherbakov^Iurii",
		"ХАРЬКОВ":       "KHARKOV",
		"Цой Чулпан":    "Tsoi Chulpan",
		"Объедков Ёлкин Эрнст Ыров": "Obieedkov Elkin Ernst Yrov",
		"Яна ЯНА Я. ЩЩ":             "Iana IANA Ia. SHCHSHCH",
		"Müller 123":                "Müller 123",
		"Лариса^Матвеевна":          "Larisa^Matveevna",
	}
	for in, want := range cases {
		if got := Transliterate(in); got != want {
			t.Errorf("Transliterate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFold(t *testing.T) {
	if Fold("ЁЛКИНА Алёна") != Fold("елкина алена") {
		t.Error("ё/Ё should fold to е")
	}
}

// TestCharsetAgainstDcmtk decodes names in files made by dump2dcm and
// compares with dcmdump's own conversion to UTF-8.
func TestCharsetAgainstDcmtk(t *testing.T) {
	for _, name := range []string{"ct_iso_ir_144.dump", "ct_iso_ir_192.dump", "ct_latin1.dump", "ct_iso2022_ir144.dump"} {
		f := dump2dcm(t, name)
		h, err := ReadHeader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(h.Problems) > 0 {
			t.Errorf("%s: problems %v", name, h.Problems)
		}
		for _, c := range []struct {
			tag string
			got string
		}{
			{"0010,0010", h.PatientNameText},
			{"0008,0090", h.ReferringPhysician},
			{"0008,0080", h.InstitutionName},
			{"0008,1030", h.StudyDescription},
		} {
			want := dcmdumpValue(t, f, c.tag)
			if c.got != want {
				t.Errorf("%s (%s): we decode %q, dcmdump +U8 says %q", name, c.tag, c.got, want)
			}
		}
	}
}
