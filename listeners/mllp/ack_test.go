package mllp

import (
	"context"
	"strings"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/parsers/hl7"
)

// failBAD fails messages whose control ID starts with BAD.
func failBAD(env *listeners.Envelope) error {
	if strings.HasPrefix(env.Key, "BAD") {
		return &listeners.InvalidError{Stage: "map", Reason: "bad"}
	}
	return nil
}

// Enhanced mode (HL7 v2 2.9.3): the commit ACK answers MSH-15 and speaks
// only to safe storage — a message kept with a content error is committed
// (CA); then, once committed, the application ACK answers MSH-16 (NE/AL is
// original mode said explicitly, table 0155). The marker after each
// message shows that nothing more was sent.
func TestEnhancedApplicationAck(t *testing.T) {
	ts := startServer(t, &Server{Handler: &recorder{fn: failBAD}})
	cl := ts.dial(t)
	for _, c := range []struct {
		ctl, extra string
		want       []string
	}{
		{"S1", "|||NE|AL", []string{"AA"}},
		{"BAD1", "|||NE|AL", []string{"AE"}},
		{"S2", "|||NE|SU", []string{"AA"}},
		{"BAD2", "|||NE|ER", []string{"AE"}},
		{"S3", "|||ER|AL", []string{"AA"}},         // committed: no commit ACK on ER; the application ACK is due
		{"BAD3", "|||SU|AL", []string{"CA", "AE"}}, // committed despite the content error, then its AE
		{"BAD5", "|||AL|ER", []string{"CA", "AE"}},
		{"S4", "|||NE|ER", nil},
		{"BAD4", "|||NE|SU", nil},
		{"S5", "|||NE|NE", nil},
		{"S6", "|||NE|", nil},
		{"S7", "|||AL|AL", []string{"CA", "AA"}},
		{"S8", "|||AL|NE", []string{"CA"}},
	} {
		cl.write(frame(hl7msg(c.ctl, "ORU^R01", c.extra)))
		cl.write(frame(hl7msg("MARK", "ORU^R01", "")))
		for _, want := range c.want {
			ack := cl.ack()
			if code, ctl := msa(ack); code != want || ctl != c.ctl {
				t.Errorf("%s%s: got %s for %q, want %s", c.ctl, c.extra, code, ctl, want)
			}
			if want == "CA" && ack.Segment("ERR") != nil {
				t.Errorf("%s%s: a commit accept with an ERR", c.ctl, c.extra)
			}
		}
		if code, ctl := msa(cl.ack()); code != "AA" || ctl != "MARK" {
			t.Errorf("%s%s: got %s for %q, want only the marker's AA", c.ctl, c.extra, code, ctl)
			return
		}
	}
}

// A device pinned to enhanced mode always gets the commit ACK, "whatever
// its MSH-15 says" (README ack_mode; domain.Device.AckMode), including
// NE, ER on success and SU on error.
func TestAckModePinnedEnhancedAlwaysAnswers(t *testing.T) {
	ts := startServer(t, &Server{Handler: &recorder{fn: failBAD},
		AckMode: func(context.Context, *listeners.Envelope) string { return "enhanced" }})
	cl := ts.dial(t)
	for _, c := range []struct{ ctl, extra, want string }{
		{"P1", "|||NE|NE", "CA"},
		{"P2", "|||ER|NE", "CA"},
		{"BAD", "|||SU|NE", "CA"}, // kept with its content error: committed
		{"P3", "", "CA"},
	} {
		cl.write(frame(hl7msg(c.ctl, "ORU^R01", c.extra)))
		if code, ctl := msa(cl.ack()); code != c.want || ctl != c.ctl {
			t.Errorf("pinned enhanced, %s%s: got %s for %q, want %s", c.ctl, c.extra, code, ctl, c.want)
		}
	}
}

// An oversize message is refused under the same acknowledgment rules as
// any other: a device pinned to original mode gets AR even when MSH-15 is
// AL, and MSH-15 NE gets no commit ACK (the connection is closed anyway).
func TestOversizeAckMode(t *testing.T) {
	big := func(ctl, extra string) string {
		return hl7msg(ctl, "ORU^R01", extra) + strings.Repeat("OBX|2|ST|X||"+strings.Repeat("y", 100)+"\r", 20)
	}
	ts := startServer(t, &Server{Handler: &recorder{}, MaxMessageSize: 1024,
		AckMode: func(_ context.Context, env *listeners.Envelope) string {
			if env.Key == "PINNED" {
				return "original"
			}
			return ""
		}})
	cl := ts.dial(t)
	cl.write(frame(big("PINNED", "|||AL|NE")))
	if code, ctl := msa(cl.ack()); code != "AR" || ctl != "PINNED" {
		t.Errorf("pinned original: got %s for %q, want AR", code, ctl)
	}
	cl.expectClosed()

	cl = ts.dial(t)
	cl.write(frame(big("NEVER", "|||NE|NE")))
	cl.expectClosed()

	cl = ts.dial(t)
	cl.write(frame(big("ENH", "|||AL|NE")))
	if code, ctl := msa(cl.ack()); code != "CR" || ctl != "ENH" {
		t.Errorf("enhanced: got %s for %q, want CR", code, ctl)
	}
	cl.expectClosed()
}

// A batch in one frame (FHS/BHS … BTS/FTS) is taken message by message:
// each is handed to the Handler with its own bytes and acknowledged as if
// it came alone, and the ACKs come back in one response batch whose
// BHS-12 names the batch answered (HL7 v2 2.10.3).
func TestBatchFrame(t *testing.T) {
	rec := &recorder{fn: failBAD}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	m1, m2, m3 := hl7msg("B1", "ORU^R01", ""), hl7msg("BAD", "ORU^R01", ""), hl7msg("B3", "ORU^R01", "|||ER|NE")
	cl.write(frame("FHS|^~\\&|ANALYZER|LAB|MEDGATE|CLINIC|20260101120000||||F1\r" +
		"BHS|^~\\&|ANALYZER|LAB|MEDGATE|CLINIC|20260101120000||||BATCH1\r" +
		m1 + m2 + m3 + "BTS|3\rFTS|1\r"))
	b, err := cl.rd.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := hl7.ParseBatch(b, hl7.Options{})
	if err != nil {
		t.Fatalf("response batch %q: %v", b, err)
	}
	if len(msgs) != 2 {
		t.Fatalf("response batch holds %d ACKs, want 2 (B3 asked for none on success): %q", len(msgs), b)
	}
	for i, want := range [][2]string{{"AA", "B1"}, {"AE", "BAD"}} {
		if code, ctl := msa(msgs[i]); code != want[0] || ctl != want[1] {
			t.Errorf("ACK %d: %s %s, want %s %s", i, code, ctl, want[0], want[1])
		}
	}
	s := string(b)
	if !strings.HasPrefix(s, "FHS|^~\\&|MEDGATE|CLINIC|ANALYZER|LAB|") || !strings.Contains(s, "|F1\rBHS|^~\\&|MEDGATE|CLINIC|ANALYZER|LAB|") ||
		!strings.Contains(s, "|BATCH1\rMSH|") || !strings.HasSuffix(s, "\rBTS|2\rFTS|1\r") {
		t.Errorf("response batch envelope: %q", s)
	}
	if rec.count() != 3 {
		t.Fatalf("handler saw %d messages, want 3", rec.count())
	}
	for i, want := range []string{m1, m2, m3} {
		if string(rec.envs[i].Raw) != want || rec.envs[i].SendingApplication != "ANALYZER" {
			t.Errorf("envelope %d: key %q, raw %q", i, rec.envs[i].Key, rec.envs[i].Raw)
		}
	}
	// The connection stays usable.
	cl.write(frame(hl7msg("AFTER", "ORU^R01", "")))
	if code, ctl := msa(cl.ack()); code != "AA" || ctl != "AFTER" {
		t.Errorf("after the batch: %s %s", code, ctl)
	}
}

// Several bare messages in one frame (no batch envelope, as some
// middleware sends) are taken one by one, each stored with its own bytes and
// answered with its own ACK frame, in order.
func TestBareMessagesInOneFrame(t *testing.T) {
	rec := &recorder{fn: failBAD}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	m1, m2, m3 := hl7msg("M1", "ORU^R01", ""), hl7msg("BAD", "ORU^R01", ""), hl7msg("M3", "ORU^R01", "")
	cl.write(frame(m1 + m2 + "\r\n" + m3))
	for i, want := range [][2]string{{"AA", "M1"}, {"AE", "BAD"}, {"AA", "M3"}} {
		if code, ctl := msa(cl.ack()); code != want[0] || ctl != want[1] {
			t.Errorf("ACK %d: %s %s, want %s %s", i+1, code, ctl, want[0], want[1])
		}
	}
	if rec.count() != 3 {
		t.Fatalf("handler saw %d messages, want 3", rec.count())
	}
	for i, want := range []string{m1, m2, m3} {
		if strings.TrimRight(string(rec.envs[i].Raw), "\r\n") != strings.TrimRight(want, "\r") {
			t.Errorf("envelope %d raw %q, want %q", i+1, rec.envs[i].Raw, want)
		}
	}
}

// MSA-2 is MSH-10 as sent and the envelope's key is all of MSH-10, even
// when the sender left a separator in it unescaped.
func TestControlIDWithSeparators(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	for _, ctl := range []string{"K^1", "K^2", "K&3"} {
		cl.write(frame(hl7msg(ctl, "ORU^R01", "")))
		if got := cl.ack().Segment("MSA").Field(2).Raw(); got != ctl {
			t.Errorf("MSH-10 %q: MSA-2 %q", ctl, got)
		}
	}
	for i, want := range []string{"K^1", "K^2", "K&3"} {
		if rec.envs[i].Key != want {
			t.Errorf("envelope %d key %q, want %q", i, rec.envs[i].Key, want)
		}
	}
}

// Two servers (two medgates sharing a database, or one restarted within
// the same second) do not hand out the same ACK control IDs (MSH-10 must
// identify the message uniquely).
func TestAckControlIDsDifferBetweenServers(t *testing.T) {
	var ids []string
	for range 2 {
		ts := startServer(t, &Server{Handler: &recorder{}})
		cl := ts.dial(t)
		cl.write(frame(hl7msg("U", "ORU^R01", "")))
		ids = append(ids, cl.ack().MSH().ControlID())
	}
	if ids[0] == ids[1] || len(ids[0]) > 20 {
		t.Errorf("ACK control IDs %q", ids)
	}
}

// A batch of more than MaxBatchMessages messages is refused whole, in a
// response batch, before any message is handled.
func TestBatchTooManyMessages(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	cl.write(frame("BHS|^~\\&|ANALYZER||MEDGATE||20260101120000||||B9\r" + strings.Repeat("MSH|^~\\&\r", MaxBatchMessages+1)))
	b, err := cl.rd.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := hl7.ParseBatch(b, hl7.Options{})
	if err != nil || len(msgs) != 1 || !strings.HasPrefix(string(b), "BHS|^~\\&|MEDGATE||ANALYZER||") {
		t.Fatalf("answer %q: %v", b, err)
	}
	if code, _ := msa(msgs[0]); code != "AR" {
		t.Errorf("got %s, want AR", code)
	}
	if rec.count() != 0 {
		t.Errorf("handler saw %d messages of a refused batch", rec.count())
	}
}
