package dicom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

func samplePDUs() []PDU {
	return []PDU{
		&AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "CT01", ApplicationContext: ApplicationContext,
			PresentationContexts: []PresentationContext{
				{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
				{ID: 3, AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{JPEGLosslessSV1, ExplicitVRLittleEndian, ImplicitVRLittleEndian}},
			},
			UserInfo: UserInfo{MaxPDULength: 16384, ImplementationClassUID: "1.2.3.4", ImplementationVersion: "TEST_1",
				AsyncOps: &AsyncOps{Invoked: 0, Performed: 1}, Roles: []RoleSelection{{SOPClassUID: ctImageStorage, SCU: true}}}},
		&AssociateAC{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "CT01", ApplicationContext: ApplicationContext,
			PresentationContexts: []ContextResult{{ID: 1, Result: 0, TransferSyntax: ImplicitVRLittleEndian}, {ID: 3, Result: 4, TransferSyntax: ExplicitVRLittleEndian}},
			UserInfo:             UserInfo{MaxPDULength: 0, ImplementationClassUID: ImplementationClassUID, ImplementationVersion: ImplementationVersionName}},
		&AssociateRJ{Result: 1, Source: 1, Reason: 7},
		&PDataTF{Items: []PDV{{ContextID: 1, Command: true, Last: true, Data: []byte{1, 2, 3}}, {ContextID: 1, Last: false, Data: []byte{}}}},
		&ReleaseRQ{},
		&ReleaseRP{},
		&Abort{Source: 2, Reason: 6},
	}
}

func TestPDURoundTrip(t *testing.T) {
	var stream bytes.Buffer
	w := NewPDUWriter(&stream)
	for _, p := range samplePDUs() {
		if err := w.WritePDU(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, rd := range []io.Reader{bytes.NewReader(stream.Bytes()), iotest.OneByteReader(bytes.NewReader(stream.Bytes()))} {
		r := NewPDUReader(rd, 0)
		for _, want := range samplePDUs() {
			got, err := r.ReadPDU()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v\nwant %#v", got, want)
			}
		}
		if _, err := r.ReadPDU(); err != io.EOF {
			t.Errorf("at end: %v, want io.EOF", err)
		}
	}
}

func TestPDUReaderLimits(t *testing.T) {
	cases := []struct {
		name   string
		in     []byte
		reason byte
	}{
		{"unknown type", []byte{0x09, 0, 0, 0, 0, 4, 1, 2, 3, 4}, AbortUnrecognizedPDU},
		{"P-DATA over the limit", []byte{0x04, 0, 0, 0, 0x40, 0x01}, AbortInvalidParameter},
		{"huge A-ASSOCIATE-RQ", []byte{0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF}, AbortInvalidParameter},
		{"release with length 5", []byte{0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0}, AbortInvalidParameter},
		{"PDV longer than the PDU", []byte{0x04, 0, 0, 0, 0, 8, 0, 0, 0, 9, 1, 3, 0, 0}, AbortInvalidParameter},
		{"PDV shorter than 2", []byte{0x04, 0, 0, 0, 0, 5, 0, 0, 0, 1, 1}, AbortInvalidParameter},
		{"empty P-DATA", []byte{0x04, 0, 0, 0, 0, 0}, AbortInvalidParameter},
		{"short A-ASSOCIATE-RQ", append([]byte{0x01, 0, 0, 0, 0, 10}, make([]byte, 10)...), AbortInvalidParameter},
		{"item past the end", func() []byte {
			b, _ := AppendPDU(nil, samplePDUs()[0])
			b[6+68+3] = 0xFF // application context item length
			return b
		}(), AbortInvalidParameter},
	}
	for _, c := range cases {
		_, err := NewPDUReader(bytes.NewReader(c.in), 16384).ReadPDU()
		var pe *PDUError
		if !errors.As(err, &pe) || pe.Reason != c.reason || !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: err = %v, want PDUError reason %d", c.name, err, c.reason)
		}
	}
	// Truncated input is an I/O error, not a protocol error.
	b, _ := AppendPDU(nil, &ReleaseRQ{})
	if _, err := NewPDUReader(bytes.NewReader(b[:7]), 0).ReadPDU(); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated: %v", err)
	}
}

// splitReader returns its parts one Read at a time.
type splitReader struct{ parts [][]byte }

func (r *splitReader) Read(p []byte) (int, error) {
	for len(r.parts) > 0 && len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	return n, nil
}

func readAllPDUs(r io.Reader) ([]PDU, error) {
	pr := NewPDUReader(r, 4096)
	var out []PDU
	for {
		p, err := pr.ReadPDU()
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
}

func FuzzReadPDU(f *testing.F) {
	for _, p := range samplePDUs() {
		b, _ := AppendPDU(nil, p)
		f.Add(b, 7)
	}
	f.Add([]byte{0x04, 0, 0xFF, 0xFF, 0xFF, 0xFF}, 3)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		want, wantErr := readAllPDUs(bytes.NewReader(data))
		h := 0
		if len(data) > 0 {
			h = ((split % len(data)) + len(data)) % len(data)
		}
		got, err := readAllPDUs(&splitReader{[][]byte{bytes.Clone(data[:h]), bytes.Clone(data[h:])}})
		if !reflect.DeepEqual(got, want) || errString(err) != errString(wantErr) {
			t.Fatalf("split at %d: %v, %v; whole: %v, %v", h, got, err, want, wantErr)
		}
		// Whatever parsed re-encodes to something that parses the same.
		for _, p := range want {
			b, err := AppendPDU(nil, p)
			if err != nil {
				t.Fatalf("re-encoding %#v: %v", p, err)
			}
			again, err := NewPDUReader(bytes.NewReader(b), 1<<20).ReadPDU()
			if err != nil {
				t.Fatalf("re-reading %#v: %v", p, err)
			}
			if !reflect.DeepEqual(again, p) {
				t.Fatalf("round trip: %#v became %#v", p, again)
			}
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []*Command{
		{Field: CEchoRQ, AffectedSOPClassUID: VerificationSOPClass, MessageID: 7},
		{Field: CStoreRQ, AffectedSOPClassUID: ctImageStorage, AffectedSOPInstanceUID: "1.2.3.4", MessageID: 9, Priority: PriorityHigh, HasDataSet: true, MoveOriginatorAE: "MOVER", MoveOriginatorMessageID: 3},
		{Field: CStoreRSP, AffectedSOPClassUID: ctImageStorage, AffectedSOPInstanceUID: "1.2.3.4", MessageIDBeingRespondedTo: 9, Status: StatusOutOfResources, ErrorComment: "disk full"},
		{Field: CFindRSP, AffectedSOPClassUID: ModalityWorklistFind, MessageIDBeingRespondedTo: 2, Status: StatusPending, HasDataSet: true},
		{Field: CCancelRQ, MessageIDBeingRespondedTo: 2},
	} {
		b := c.Encode()
		if len(b)%2 != 0 {
			t.Errorf("%s: odd length %d", c, len(b))
		}
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("got %+v\nwant %+v", got, c)
		}
	}
	if _, err := DecodeCommand([]byte{0, 0, 0x00, 0x01, 0xFF, 0xFF, 0, 0}); err == nil {
		t.Error("oversized element accepted")
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add((&Command{Field: CStoreRQ, AffectedSOPClassUID: ctImageStorage, AffectedSOPInstanceUID: "1.2.3", MessageID: 1, HasDataSet: true}).Encode())
	f.Add((&Command{Field: CFindRSP, MessageIDBeingRespondedTo: 1, Status: 0xFF00, ErrorComment: "x"}).Encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			return
		}
		// Encoding is stable after one decode: encode(decode(encode(c))) == encode(c).
		b1 := c.Encode()
		again, err := DecodeCommand(b1)
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", c, err)
		}
		if b2 := again.Encode(); !bytes.Equal(b1, b2) {
			t.Fatalf("unstable encoding: %+v gives %x then %x", c, b1, b2)
		}
	})
}

func TestErrorComment(t *testing.T) {
	got := ErrorComment("Ошибка: tag (0010,0010) \\ bad " + string(bytes.Repeat([]byte("x"), 80)))
	if len(got) > 64 {
		t.Errorf("len %d", len(got))
	}
	for _, c := range []byte(got) {
		if c < 0x20 || c > 0x7E || c == '\\' {
			t.Fatalf("non-LO byte %q in %q", c, got)
		}
	}
}

func TestPart10RoundTrip(t *testing.T) {
	m := &FileMeta{SOPClassUID: ctImageStorage, SOPInstanceUID: "1.2.3", TransferSyntax: ExplicitVRLittleEndian, ImplementationClassUID: ImplementationClassUID, ImplementationVersion: ImplementationVersionName, SourceAE: "CT01"}
	ds := []byte{0x08, 0x00, 0x18, 0x00, 'U', 'I', 2, 0, '1', 0}
	got, r, err := ReadPart10(bytes.NewReader(Part10(m, ds)))
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if !reflect.DeepEqual(got, m) || !bytes.Equal(rest, ds) {
		t.Errorf("got %+v %q", got, rest)
	}
	if _, _, err := ReadPart10(bytes.NewReader(make([]byte, 200))); !errors.Is(err, ErrNotPart10) {
		t.Errorf("no DICM: %v", err)
	}
}

// A large A-ASSOCIATE-RQ is read as it arrives, and one cut short is
// io.ErrUnexpectedEOF, not a PDU.
func TestReadLargeAssociateTruncated(t *testing.T) {
	hdr := []byte{TypeAssociateRQ, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[2:], 200<<10)
	in := append(hdr, make([]byte, 100<<10)...)
	if _, err := NewPDUReader(bytes.NewReader(in), 0).ReadPDU(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
}
