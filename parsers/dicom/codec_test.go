package dicom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var allSyntaxes = []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian}

func sampleDataset(t testing.TB) *Dataset {
	t.Helper()
	cs, err := ParseCharset([]string{"ISO_IR 192"})
	if err != nil {
		t.Fatal(err)
	}
	ds := &Dataset{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ds.SetText(TagSpecificCharacterSet, "", "ISO_IR 192", nil))
	must(ds.SetText(TagPatientName, "", "Иванов^Иван^Иванович", cs))
	must(ds.SetText(TagPatientID, "", "P1", cs))
	must(ds.SetText(TagStudyInstanceUID, "", "1.2.3.4", nil))
	must(ds.SetText(TagRows, "", "512", nil))
	must(ds.SetText(TagPixelRepresentation, "", "1", nil))
	must(ds.SetText(0x00280106, "SS", "-5", nil))
	must(ds.SetText(0x00181150, "", "12", nil))
	must(ds.SetText(0x00280009, "AT", "00181063", nil))
	must(ds.SetText(0x00189306, "FD", "1.5\\-2.25", nil))
	item := &Dataset{}
	must(item.SetText(TagModality, "", "CT", nil))
	must(item.SetText(TagScheduledStationAETitle, "", "CBCT1", nil))
	inner := &Dataset{}
	must(inner.SetText(TagCodeValue, "", "X1", nil))
	item.SetSequence(TagScheduledProtocolCodeSequence, inner)
	ds.SetSequence(TagScheduledProcedureStepSequence, item, &Dataset{})
	ds.SetSequence(TagReferencedStudySequence)
	ds.Set(&Element{Tag: 0x00091010, VR: "OB", Value: []byte{1, 2, 3, 4}})
	return ds
}

func TestRoundTripAllSyntaxes(t *testing.T) {
	ds := sampleDataset(t)
	for _, ts := range allSyntaxes {
		b, err := ds.Encode(ts)
		if err != nil {
			t.Fatalf("%s: encode: %v", ts, err)
		}
		back, err := Decode(b, ts)
		if err != nil {
			t.Fatalf("%s: decode: %v", ts, err)
		}
		if ts == ImplicitVRLittleEndian {
			// Implicit VR loses the VR of tags outside the dictionary.
			if e := back.Get(0x00091010); e == nil || e.VR != "UN" {
				t.Fatalf("private element: %+v", e)
			}
			back.Get(0x00091010).VR = "OB"
			if e := back.Get(0x00280106); e.VR == "UN" {
				e.VR = "SS"
			}
			if e := back.Get(0x00189306); e.VR == "UN" {
				e.VR = "FD"
			}
		}
		if !back.Equal(ds) {
			t.Fatalf("%s: round trip differs", ts)
		}
		if got, _ := back.String(0x00189306, nil); ts != ImplicitVRLittleEndian && got != `1.5\-2.25` {
			t.Errorf("%s: FD = %q", ts, got)
		}
		if got, _ := back.String(0x00280106, nil); ts != ImplicitVRLittleEndian && got != "-5" {
			t.Errorf("%s: SS = %q", ts, got)
		}
		if got, _ := back.String(0x00280009, nil); got != "00181063" {
			t.Errorf("%s: AT = %q", ts, got)
		}
		again, err := back.Encode(ts)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%s: re-encode differs (%v)", ts, err)
		}
	}
}

func TestEncodeLayout(t *testing.T) {
	ds := &Dataset{}
	if err := ds.SetText(TagRows, "", "512", nil); err != nil {
		t.Fatal(err)
	}
	if err := ds.SetText(TagPatientID, "", "ABC", nil); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		ImplicitVRLittleEndian: {0x10, 0, 0x20, 0, 4, 0, 0, 0, 'A', 'B', 'C', ' ', 0x28, 0, 0x10, 0, 2, 0, 0, 0, 0, 2},
		ExplicitVRLittleEndian: {0x10, 0, 0x20, 0, 'L', 'O', 4, 0, 'A', 'B', 'C', ' ', 0x28, 0, 0x10, 0, 'U', 'S', 2, 0, 0, 2},
		ExplicitVRBigEndian:    {0, 0x10, 0, 0x20, 'L', 'O', 0, 4, 'A', 'B', 'C', ' ', 0, 0x28, 0, 0x10, 'U', 'S', 0, 2, 2, 0},
	}
	for ts, want := range cases {
		got, err := ds.Encode(ts)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: got % x, want % x (%v)", ts, got, want, err)
		}
		back, err := Decode(want, ts)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := back.Int(TagRows); !ok || n != 512 {
			t.Errorf("%s: Rows = %d %v", ts, n, ok)
		}
		if !bytes.Equal(back.Get(TagRows).Value, []byte{0, 2}) {
			t.Errorf("%s: Rows value not little-endian: % x", ts, back.Get(TagRows).Value)
		}
	}
}

// le builds little-endian bytes from a mix of uint16/uint32/string/[]byte.
func le(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case uint16:
			b = binary.LittleEndian.AppendUint16(b, v)
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case Tag:
			b = binary.LittleEndian.AppendUint16(b, v.Group())
			b = binary.LittleEndian.AppendUint16(b, v.Element())
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func TestDecodeUndefinedLengths(t *testing.T) {
	// Explicit VR LE: SQ of undefined length holding one undefined-length
	// item and one defined-length item, then a UN of undefined length
	// (implicit VR inside, PS3.5 6.2.2), then encapsulated pixel data.
	b := le(
		TagScheduledProcedureStepSequence, "SQ", uint16(0), uint32(undefinedLength),
		TagItem, uint32(undefinedLength),
		TagModality, "CS", uint16(2), "CT",
		TagItemDelimitationItem, uint32(0),
		TagItem, uint32(10),
		TagModality, "CS", uint16(2), "MR",
		TagSequenceDelimitationItem, uint32(0),
		Tag(0x00091001), "UN", uint16(0), uint32(undefinedLength),
		TagItem, uint32(undefinedLength),
		TagPatientID, uint32(2), "AB",
		TagItemDelimitationItem, uint32(0),
		TagSequenceDelimitationItem, uint32(0),
		TagPixelData, "OB", uint16(0), uint32(undefinedLength),
		TagItem, uint32(0),
		TagItem, uint32(4), []byte{0xFF, 0xD8, 0xFF, 0xD9},
		TagSequenceDelimitationItem, uint32(0),
	)
	ds, err := Decode(b, ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	sq := ds.Get(TagScheduledProcedureStepSequence)
	if sq == nil || len(sq.Items) != 2 {
		t.Fatalf("sequence: %+v", sq)
	}
	if m, _ := sq.Items[1].String(TagModality, nil); m != "MR" {
		t.Errorf("item 2 modality %q", m)
	}
	un := ds.Get(0x00091001)
	if un == nil || un.VR != "SQ" || len(un.Items) != 1 {
		t.Fatalf("UN as sequence: %+v", un)
	}
	if id, _ := un.Items[0].String(TagPatientID, nil); id != "AB" {
		t.Errorf("UN item PatientID %q", id)
	}
	px := ds.Get(TagPixelData)
	if px == nil || len(px.Fragments) != 2 || len(px.Fragments[1]) != 4 {
		t.Fatalf("fragments: %+v", px)
	}
	enc, err := ds.Encode(ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(enc, ExplicitVRLittleEndian)
	if err != nil || !back.Equal(ds) {
		t.Fatalf("re-encoded dataset differs: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := func(n int) []byte {
		// n nested undefined-length sequences in implicit VR.
		var b []byte
		for i := 0; i < n; i++ {
			b = append(b, le(TagScheduledProcedureStepSequence, uint32(undefinedLength), TagItem, uint32(undefinedLength))...)
		}
		return b
	}
	cases := []struct {
		name    string
		ts      string
		in      []byte
		want    error
		wantTag Tag
		wantOff int64
	}{
		{"truncated header", ExplicitVRLittleEndian, le(TagPatientID, "LO"), ErrTruncated, TagPatientID, 0},
		{"length past end", ExplicitVRLittleEndian, le(TagPatientID, "LO", uint16(100), "AB"), ErrTruncated, TagPatientID, 0},
		{"bad VR", ExplicitVRLittleEndian, le(TagPatientName, "PN", uint16(2), "AB", TagPatientID, "ZZ", uint16(2), "AB"), ErrMalformed, TagPatientID, 14},
		{"duplicate", ExplicitVRLittleEndian, le(TagPatientID, "LO", uint16(2), "AB", TagPatientID, "LO", uint16(2), "AB"), ErrMalformed, TagPatientID, 10},
		{"item outside sequence", ImplicitVRLittleEndian, le(TagItem, uint32(0)), ErrMalformed, TagItem, 0},
		{"too deep", ImplicitVRLittleEndian, deep(MaxDepth + 1), ErrMalformed, TagScheduledProcedureStepSequence, 0},
		{"not an item", ImplicitVRLittleEndian, le(TagScheduledProcedureStepSequence, uint32(8), TagPatientID, uint32(0)), ErrMalformed, TagPatientID, 8},
		{"unterminated item", ImplicitVRLittleEndian, le(TagScheduledProcedureStepSequence, uint32(undefinedLength), TagItem, uint32(undefinedLength), TagModality, uint32(2), "CT"), ErrTruncated, 0, 26},
		{"undefined length text", ExplicitVRLittleEndian, le(TagPatientID, "UT", uint16(0), uint32(undefinedLength)), ErrMalformed, TagPatientID, 0},
		{"transfer syntax", "1.2.840.10008.1.2.4.50", nil, ErrTransferSyntax, 0, 0},
	}
	for _, c := range cases {
		_, err := Decode(c.in, c.ts)
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		if c.name == "too deep" {
			if len(de.Path) != MaxDepth {
				t.Errorf("too deep: path %v", de.Path)
			}
			continue
		}
		if de.Tag != c.wantTag || de.Offset != c.wantOff {
			t.Errorf("%s: tag %v offset %d, want %v %d (%v)", c.name, de.Tag, de.Offset, c.wantTag, c.wantOff, err)
		}
	}
	// Within the limit is fine.
	b := deep(MaxDepth)
	for i := 0; i < MaxDepth; i++ {
		b = append(b, le(TagItemDelimitationItem, uint32(0), TagSequenceDelimitationItem, uint32(0))...)
	}
	if _, err := Decode(b, ImplicitVRLittleEndian); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
}

func TestDecodeDoesNotAliasInput(t *testing.T) {
	b := le(TagPatientID, "LO", uint16(2), "AB")
	ds, err := Decode(b, ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	b[8] = 'X'
	if s, _ := ds.String(TagPatientID, nil); s != "AB" {
		t.Fatalf("value changed with input: %q", s)
	}
}

func TestDecodeReaderSameAsDecode(t *testing.T) {
	ds := sampleDataset(t)
	for _, ts := range allSyntaxes {
		b, _ := ds.Encode(ts)
		for _, cut := range []int{0, 1, 7, len(b) / 2, len(b) - 1} {
			r := &chunkReader{parts: [][]byte{b[:cut], b[cut:]}}
			got, err := DecodeReader(r, ts, 0)
			want, _ := Decode(b, ts)
			if err != nil || !got.Equal(want) {
				t.Fatalf("%s cut %d: %v", ts, cut, err)
			}
		}
		if _, err := DecodeReader(bytes.NewReader(b), ts, int64(len(b)-1)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: limit: %v", ts, err)
		}
	}
}

// chunkReader returns its parts one Read at a time.
type chunkReader struct{ parts [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

// TestDcmtkReadsOurEncoding writes the sample dataset in each transfer
// syntax and has dcmdump read it back.
func TestDcmtkReadsOurEncoding(t *testing.T) {
	needTool(t, "dcmdump")
	ds := sampleDataset(t)
	opt := map[string]string{ImplicitVRLittleEndian: "-ti", ExplicitVRLittleEndian: "-te", ExplicitVRBigEndian: "-tb"}
	for _, ts := range allSyntaxes {
		b, err := ds.Encode(ts)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "ds.raw")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := dcmdumpValue(t, p, "0010,0010", "-f", opt[ts]); got != "Иванов^Иван^Иванович" {
			t.Errorf("%s: dcmdump PatientName = %q", ts, got)
		}
		out := run(t, "dcmdump", "-f", opt[ts], "+P", "0040,0008", "+P", "0028,0010", "+P", "0028,0106", p)
		for _, want := range []string{"(0028,0010) US 512", "(0028,0106) SS -5", "SQ (Sequence with explicit length #=1)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: dcmdump output lacks %q:\n%s", ts, want, out)
			}
		}
	}
}
