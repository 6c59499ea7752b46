package mllp

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/medgate/medgate/listeners"
)

// responder answers order queries with messages of its own (QRY^Q02 two,
// QRY^R02 one), refuses "BAD" control IDs and leaves the rest to the
// Server's ACK.
type responder struct {
	handled atomic.Int32
}

func (r *responder) Handle(ctx context.Context, env *listeners.Envelope) error {
	_, err := r.Respond(ctx, env)
	return err
}

func (r *responder) Respond(_ context.Context, env *listeners.Envelope) ([][]byte, error) {
	r.handled.Add(1)
	switch {
	case env.Key == "BAD":
		return [][]byte{[]byte("ignored: the error wins")}, &listeners.InvalidError{Stage: "map", Reason: "bad"}
	case env.Type == "QRY^Q02":
		return [][]byte{
			[]byte("MSH|^~\\&|MEDGATE||A||20260101120000||QCK^Q02|R1|P|2.3.1\rMSA|AA|" + env.Key + "\rQAK|SR|OK\r"),
			[]byte("MSH|^~\\&|MEDGATE||A||20260101120000||DSR^Q03|R2|P|2.3.1\rMSA|AA|" + env.Key + "\rDSP|1||\x0bX\r"),
		}, nil
	case env.Type == "QRY^R02":
		return [][]byte{
			[]byte("MSH|^~\\&|MEDGATE||A||20260101120000||ORF^R04^ORF_R04|R3|P|2.3.1\rMSA|AA|" + env.Key + "\rQRD|x\rQAK|x|NF\r"),
		}, nil
	}
	return nil, nil
}

// TestResponder: a Responder's answer replaces the ACK (frame bytes in it
// made harmless); an error still gets the negative ACK; nil gets AA; an
// inbound ACK is handed over but never answered.
func TestResponder(t *testing.T) {
	r := &responder{}
	ts := startServer(t, &Server{Handler: r})
	cl := ts.dial(t)

	cl.write(frame(hl7msg("Q1", "QRY^Q02", "")))
	first, second := cl.ack(), cl.ack()
	if mt := first.MSH().MessageType(); mt.Code != "QCK" {
		t.Errorf("first answer %v; want the responder's QCK", mt)
	}
	if mt := second.MSH().MessageType(); mt.Code != "DSR" {
		t.Errorf("second answer %v; want the responder's DSR", mt)
	}
	if got := second.Segment("DSP").Field(3).String(); got != "?X" {
		t.Errorf("start block in an answer: DSP-3 %q; want it replaced by '?'", got)
	}

	// An ACK from the peer: handled (stored) but not answered; the next
	// message's answer is the next frame on the wire.
	cl.write(frame("MSH|^~\\&|ANALYZER|LAB|MEDGATE||20260101120000||ACK^Q03|A1|P|2.3.1\rMSA|AA|R2\r"))
	cl.write(frame(hl7msg("N1", "ORU^R01", "")))
	if code, ctl := msa(cl.ack()); code != "AA" || ctl != "N1" {
		t.Errorf("after an inbound ACK, got %s for %q; want AA for N1 (the ACK unanswered)", code, ctl)
	}

	// A QRY^R02 (MSH-9.3 given, Type without it) is answered with the
	// responder's single ORF^R04, then the next message's ACK follows.
	cl.write(frame(hl7msg("Q2", "QRY^R02^QRY_R02", "")))
	orf := cl.ack()
	if mt := orf.MSH().MessageType(); mt.Code != "ORF" || mt.Trigger != "R04" {
		t.Errorf("R02 answer %v; want the responder's ORF^R04", mt)
	}
	if code, ctl := msa(orf); code != "AA" || ctl != "Q2" {
		t.Errorf("ORF MSA %s for %q; want AA for Q2", code, ctl)
	}
	cl.write(frame(hl7msg("N2", "ORU^R01", "")))
	if code, ctl := msa(cl.ack()); code != "AA" || ctl != "N2" {
		t.Errorf("after an ORF^R04, got %s for %q; want AA for N2 (one answer frame)", code, ctl)
	}
	cl.write(frame(hl7msg("BAD", "ORU^R01", "")))
	if code, ctl := msa(cl.ack()); code != "AE" || ctl != "BAD" {
		t.Errorf("responder error: %s for %q; want AE", code, ctl)
	}
	if n := r.handled.Load(); n != 6 {
		t.Errorf("handled %d messages; want 6 (the ACK too)", n)
	}
}
