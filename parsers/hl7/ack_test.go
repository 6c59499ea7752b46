package hl7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// A request that declares no subcomponent separator (MSH-2 "^~\" or "^~")
// still gets a well-formed pre-v2.5 ERR-1: the code alone in ELD-4 and no
// NUL bytes where the separator would go (HL7 v2 2.5 delimiters, ERR-1).
func TestACKWithoutSubcomponentSeparator(t *testing.T) {
	for _, msh := range []string{"MSH|^~\\|", "MSH|^~|"} {
		req := mustParse(t, msh+"APP|FAC|MEDGATE||20240101||ORU^R01|C1|P|2.3.1\rPID|1", Options{})
		ack := BuildACK(req, Ack{Code: "AE", ControlID: "A1", Errors: []AckError{{Segment: "PID", Sequence: 1, Field: 3, Code: 101, Text: "empty"}}})
		b := ack.Encode()
		if bytes.IndexByte(b, 0) >= 0 {
			t.Errorf("%s: NUL byte in ACK %q", msh, b)
		}
		back := mustParse(t, string(b), Options{})
		eld := (ERR{back.Segment("ERR")}).CodeAndLocation()
		if len(eld) != 1 || eld[0].Segment != "PID" || eld[0].Field != 3 || eld[0].Code.Code != "101" {
			t.Errorf("%s: ERR-1 %+v in %q", msh, eld, b)
		}
	}
}

// MSA-2 is MSH-10 exactly as the sender wrote it (HL7 v2 2.14 MSA-2), even
// when the sender did not escape a separator in it.
func TestACKEchoesControlIDWhole(t *testing.T) {
	for _, ctl := range []string{"C1^X&Y", "20240101~7", `A\S\B`, "PLAIN42"} {
		req := mustParse(t, "MSH|^~\\&|APP|FAC|MEDGATE||20240101||ORU^R01|"+ctl+"|P|2.5.1\rPID|1", Options{})
		b := string(BuildACK(req, Ack{Code: "AA", ControlID: "A1"}).Encode())
		if !strings.Contains(b, "\rMSA|AA|"+ctl+"\r") {
			t.Errorf("MSH-10 %q: ACK %q", ctl, b)
		}
	}
}

// ERR-2.2 (ERL-2, segment sequence) is the occurrence of the segment ID in
// the message, not always 1 (HL7 v2.5 2.A.27 ERL).
func TestAckErrorForSegmentOccurrence(t *testing.T) {
	in := "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|C1|P|2.5\rPID|1\rOBR|1\rOBX|1|ST|A||ok\rOBX|2|ST|A||ok\rOBX|3|ST|A||\xff\r"
	_, err := Parse([]byte(in), Options{})
	if !errors.Is(err, ErrCharset) {
		t.Fatal(err)
	}
	e := AckErrorFor(err)
	if e.Segment != "OBX" || e.Sequence != 3 || e.Field != 5 || e.Code != 102 {
		t.Errorf("got %+v, want OBX occurrence 3, field 5, code 102", e)
	}
	// A second message in one input: the second MSH.
	_, err = Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ORU^R01|C1|P|2.5\rPID|1\rMSH|^~\\&|A|B|C|D|20240101||ORU^R01|C2|P|2.5\r"), Options{})
	if e := AckErrorFor(err); e.Segment != "MSH" || e.Sequence != 2 {
		t.Errorf("second MSH: %+v, want MSH occurrence 2", e)
	}
	// The first segment of its kind is occurrence 1.
	_, err = Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ORU^R01|C1|P|2.5\rPID|1||\xff\r"), Options{})
	if e := AckErrorFor(err); e.Segment != "PID" || e.Sequence != 1 || e.Field != 3 {
		t.Errorf("PID: %+v, want PID occurrence 1 field 3", e)
	}
}

// A bad field separator is MSH-1 in ParseHeader's error as in Parse's.
func TestParseHeaderFieldSeparatorError(t *testing.T) {
	_, err := ParseHeader([]byte("MSHa^~\\&|A"), Options{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Field != 1 || !errors.Is(err, ErrDelimiters) {
		t.Errorf("ParseHeader: %v, want MSH-1 delimiter error", err)
	}
	_, err = ParseHeader([]byte("MSH|^|A"), Options{})
	if !errors.As(err, &pe) || pe.Field != 2 {
		t.Errorf("ParseHeader: %v, want MSH-2 delimiter error", err)
	}
}

// A batch is split into its messages with its envelope kept, and answered
// with a response batch: FHS/BHS with sender and receiver swapped and
// FHS-12/BHS-12 naming the batch answered, the ACKs, BTS-1 their count and
// FTS-1 the batch count (HL7 v2 2.10.3).
func TestSplitBatchAndBatchACK(t *testing.T) {
	in := "FHS|^~\\&|LIS|LAB|MEDGATE|CLINIC|20240101||||F7\r" +
		"BHS|^~\\&|LIS|LAB|MEDGATE|CLINIC|20240101||||B7\r" +
		"MSH|^~\\&|LIS|LAB|MEDGATE|CLINIC|20240101||ORU^R01|M1|P|2.5\rPID|1\r" +
		"MSH|^~\\&|LIS|LAB|MEDGATE|CLINIC|20240101||ORU^R01|M2|P|2.5\rPID|2\r" +
		"BTS|2\rFTS|1\r"
	if !IsBatch([]byte(in)) || IsBatch([]byte("MSH|^~\\&|A\r")) || !IsBatch([]byte("\r\nBHS|^~\\&|A\r")) {
		t.Fatal("IsBatch")
	}
	b, err := SplitBatch([]byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 2 || !strings.HasPrefix(string(b.Messages[0]), "MSH|") || !strings.HasSuffix(string(b.Messages[0]), "PID|1\r") ||
		!strings.HasSuffix(string(b.Messages[1]), "PID|2\r") {
		t.Fatalf("messages %q", b.Messages)
	}
	var acks [][]byte
	for _, m := range b.Messages {
		req := mustParse(t, string(m), Options{})
		acks = append(acks, BuildACK(req, Ack{Code: "AA", ControlID: "A" + req.MSH().ControlID(), Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}).Encode())
	}
	got := string(BuildBatchACK(b, acks, "R1", time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC)))
	want := "FHS|^~\\&|MEDGATE|CLINIC|LIS|LAB|20240101000001||||R1|F7\r" +
		"BHS|^~\\&|MEDGATE|CLINIC|LIS|LAB|20240101000001||||R1|B7\r" +
		"MSH|^~\\&|MEDGATE|CLINIC|LIS|LAB|20240101000000||ACK^R01^ACK|AM1|P|2.5\rMSA|AA|M1\r" +
		"MSH|^~\\&|MEDGATE|CLINIC|LIS|LAB|20240101000000||ACK^R01^ACK|AM2|P|2.5\rMSA|AA|M2\r" +
		"BTS|2\rFTS|1\r"
	if got != want {
		t.Errorf("batch ACK:\n got %q\nwant %q", got, want)
	}
	if _, err := ParseBatch([]byte(got), Options{}); err != nil {
		t.Errorf("batch ACK does not parse: %v", err)
	}

	// BHS alone, no trailer, no messages: an empty response batch.
	b, err = SplitBatch([]byte("BHS|^~\\&|LIS||MEDGATE||20240101||||B8\r"), Options{})
	if err != nil || len(b.Messages) != 0 {
		t.Fatalf("empty batch: %v %q", err, b.Messages)
	}
	if got := string(BuildBatchACK(b, nil, "R2", time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC))); got != "BHS|^~\\&|MEDGATE||LIS||20240101000001||||R2|B8\rBTS|0\r" {
		t.Errorf("empty batch ACK %q", got)
	}
	// Not a batch, or a segment outside any message: errors.
	for _, bad := range []string{"MSH|^~\\&|A\r", "BHS|^~\\&|A\rPID|1\r", "BHS|\r"} {
		if _, err := SplitBatch([]byte(bad), Options{}); err == nil {
			t.Errorf("SplitBatch(%q): no error", bad)
		}
	}
}
