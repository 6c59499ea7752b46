package mllp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/parsers/hl7"
)

func hl7msg(ctl, typ, extra string) string {
	return "MSH|^~\\&|ANALYZER|LAB|MEDGATE|CLINIC|20260101120000||" + typ + "|" + ctl + "|P|2.5.1" + extra + "\rPID|1||123\rOBX|1|NM|WBC||5.2\r"
}

type testServer struct {
	srv    *Server
	addr   string
	served chan error
}

func startServer(t *testing.T, srv *Server) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-ts.served
	})
	return ts
}

type client struct {
	t  *testing.T
	c  net.Conn
	rd *Reader
}

func (ts *testServer) dial(t *testing.T) *client {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, rd: NewReader(c)}
}

func (cl *client) write(s string) {
	cl.t.Helper()
	if _, err := cl.c.Write([]byte(s)); err != nil {
		cl.t.Fatal(err)
	}
}

func (cl *client) ack() *hl7.Message {
	cl.t.Helper()
	b, err := cl.rd.ReadMessage()
	if err != nil {
		cl.t.Fatalf("reading ACK: %v", err)
	}
	m, err := hl7.Parse(b, hl7.Options{})
	if err != nil {
		cl.t.Fatalf("parsing ACK %q: %v", b, err)
	}
	return m
}

func msa(m *hl7.Message) (code, ctl string) {
	a := hl7.MSA{Segment: m.Segment("MSA")}
	if a.Segment == nil {
		return "", ""
	}
	return a.AckCode(), a.ControlID()
}

func (cl *client) expectClosed() {
	cl.t.Helper()
	b, err := cl.rd.ReadMessage()
	if err == nil {
		cl.t.Fatalf("got frame %q, want closed connection", b)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
		cl.t.Fatalf("got %v, want EOF", err)
	}
}

type recorder struct {
	mu   sync.Mutex
	envs []*listeners.Envelope
	fn   func(env *listeners.Envelope) error
}

func (r *recorder) Handle(ctx context.Context, env *listeners.Envelope) error {
	r.mu.Lock()
	r.envs = append(r.envs, env)
	r.mu.Unlock()
	if r.fn != nil {
		return r.fn(env)
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.envs)
}

func TestAckAA(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec, Name: "test"})
	cl := ts.dial(t)
	msg := hl7msg("CTL1", "ORU^R01", "")
	cl.write(frame(msg))
	ack := cl.ack()
	if code, ctl := msa(ack); code != "AA" || ctl != "CTL1" {
		t.Errorf("MSA = %s %s, want AA CTL1", code, ctl)
	}
	if mt := ack.MSH().MessageType(); mt.Code != "ACK" || mt.Trigger != "R01" {
		t.Errorf("ACK type %v, want ACK^R01", mt)
	}
	if ack.MSH().SendingApplication().NamespaceID != "MEDGATE" || ack.MSH().ReceivingApplication().NamespaceID != "ANALYZER" {
		t.Errorf("ACK sender/receiver not swapped")
	}
	if ack.Segment("ERR") != nil {
		t.Errorf("AA carries ERR")
	}
	if rec.count() != 1 {
		t.Fatalf("%d envelopes", rec.count())
	}
	env := rec.envs[0]
	if env.Protocol != listeners.HL7 || env.Listener != "test" || env.Key != "CTL1" || env.Type != "ORU^R01" ||
		env.SendingApplication != "ANALYZER" || env.SendingFacility != "LAB" || string(env.Raw) != msg ||
		env.Peer != cl.c.LocalAddr().String() || env.Received.IsZero() {
		t.Errorf("envelope %+v", env)
	}
}

func TestAckErrors(t *testing.T) {
	rec := &recorder{fn: func(env *listeners.Envelope) error {
		switch env.Key {
		case "INV":
			return &listeners.InvalidError{Stage: "map", Reason: "OBX-3 code not mapped"}
		case "UNS":
			return &listeners.InvalidError{Stage: "parse", Reason: "QRY^A19 not supported", Unsupported: true}
		case "UNK":
			return fmt.Errorf("lookup: %w", listeners.ErrUnknownDevice)
		case "UNA":
			return listeners.ErrUnavailable
		case "OTHER":
			return errors.New("boom: secret detail")
		case "CHR": // what the pipeline returns for bytes that are not in the declared charset
			_, perr := hl7.Parse([]byte("MSH|^~\\&|A|B|||20260101||ORU^R01|CHR|P|2.5|||||||UNICODE UTF-8\rPID|1||1||\xc8\xe2\xe0\xed\xee\xe2\r"), hl7.Options{})
			return &listeners.InvalidError{Stage: "parse", Reason: "not UTF-8", Err: perr}
		}
		return nil
	}}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	cases := []struct {
		ctl, extra, code string
		errCode          string
		text             string
	}{
		{"INV", "", "AE", "207", "OBX-3 code not mapped"},
		{"UNS", "", "AR", "200", "QRY^A19 not supported"},
		{"UNK", "", "AR", "207", "sending application not recognized"},
		{"UNA", "", "AR", "207", "retry later"},
		{"OTHER", "", "AR", "207", "retry later"},
		{"CHR", "", "AE", "102", "not UTF-8"},
		{"OK", "", "AA", "", ""},
		{"ENH", "|||AL|NE", "CA", "", ""},
		{"INV", "|||AL|NE", "CA", "", ""}, // kept with its error: committed; MSH-16 NE wants no AE
		{"UNA", "|||AL|NE", "CE", "207", "retry later"},
		{"UNK", "|||AL|NE", "CR", "207", "not recognized"},
	}
	for _, c := range cases {
		cl.write(frame(hl7msg(c.ctl, "ORU^R01", c.extra)))
		ack := cl.ack()
		code, ctl := msa(ack)
		if code != c.code || ctl != c.ctl {
			t.Errorf("%s%s: MSA %s %s, want %s", c.ctl, c.extra, code, ctl, c.code)
		}
		seg := ack.Segment("ERR")
		if c.errCode == "" {
			if seg != nil {
				t.Errorf("%s: unexpected ERR", c.ctl)
			}
			continue
		}
		if seg == nil {
			t.Errorf("%s: no ERR", c.ctl)
			continue
		}
		e := hl7.ERR{Segment: seg}
		if e.Code().Code != c.errCode || !strings.Contains(e.UserMessage(), c.text) {
			t.Errorf("%s: ERR %s %q, want %s %q", c.ctl, e.Code().Code, e.UserMessage(), c.errCode, c.text)
		}
		if strings.Contains(string(ack.Encode()), "secret") {
			t.Errorf("%s: internal error text leaked into ACK", c.ctl)
		}
	}
}

func TestEnhancedModeSuppressed(t *testing.T) {
	rec := &recorder{fn: func(env *listeners.Envelope) error {
		if env.Key == "BAD" {
			return listeners.ErrUnavailable
		}
		return nil
	}}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	// NE: no ACK; ER: only on error; SU: only on success.
	cl.write(frame(hl7msg("A", "ORU^R01", "|||NE|NE")))
	cl.write(frame(hl7msg("B", "ORU^R01", "|||ER|NE")))
	cl.write(frame(hl7msg("BAD", "ORU^R01", "|||SU|NE")))
	cl.write(frame(hl7msg("C", "ORU^R01", "|||SU|NE")))
	if code, ctl := msa(cl.ack()); code != "CA" || ctl != "C" {
		t.Errorf("got %s %s, want CA C", code, ctl)
	}
	cl.write(frame(hl7msg("BAD", "ORU^R01", "|||ER|NE")))
	if code, ctl := msa(cl.ack()); code != "CE" || ctl != "BAD" {
		t.Errorf("got %s %s, want CE BAD (not stored: a commit error)", code, ctl)
	}
}

func TestSeveralMessagesOneWriteWithNoise(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	var b strings.Builder
	for i := range 5 {
		b.WriteString("\x00\r\n")
		b.WriteString(frame(hl7msg(fmt.Sprint("M", i), "ADT^A01", "")))
	}
	cl.write(b.String())
	for i := range 5 {
		if code, ctl := msa(cl.ack()); code != "AA" || ctl != fmt.Sprint("M", i) {
			t.Errorf("ack %d: %s %s", i, code, ctl)
		}
	}
	// Several more on the same connection, one write each.
	for i := range 3 {
		cl.write(frame(hl7msg(fmt.Sprint("N", i), "ORU^R01", "")))
		if code, ctl := msa(cl.ack()); code != "AA" || ctl != fmt.Sprint("N", i) {
			t.Errorf("ack N%d: %s %s", i, code, ctl)
		}
	}
}

func TestByteByByte(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	msg := hl7msg("SLOW", "ORU^R01", "")
	for _, c := range []byte("\x00" + frame(msg)) {
		cl.write(string([]byte{c}))
	}
	if code, ctl := msa(cl.ack()); code != "AA" || ctl != "SLOW" {
		t.Errorf("got %s %s", code, ctl)
	}
	if rec.count() != 1 || string(rec.envs[0].Raw) != msg {
		t.Errorf("raw bytes changed")
	}
}

func TestUnreadableHeader(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	cl.write(frame("PID|1||123\r"))
	ack := cl.ack()
	if code, ctl := msa(ack); code != "AR" || ctl != "" {
		t.Errorf("got %s %q, want AR with no MSA-2", code, ctl)
	}
	if ack.Segment("ERR") == nil {
		t.Errorf("no ERR")
	}
	if rec.count() != 0 {
		t.Errorf("handler called for unreadable header")
	}
	// The connection stays usable.
	cl.write(frame(hl7msg("AFTER", "ORU^R01", "")))
	if code, ctl := msa(cl.ack()); code != "AA" || ctl != "AFTER" {
		t.Errorf("got %s %s", code, ctl)
	}
}

func TestOversize(t *testing.T) {
	rec := &recorder{}
	ts := startServer(t, &Server{Handler: rec, MaxMessageSize: 1024})
	cl := ts.dial(t)
	big := hl7msg("BIG", "ORU^R01", "") + strings.Repeat("OBX|2|ST|X||"+strings.Repeat("y", 100)+"\r", 20)
	cl.write(frame(big))
	ack := cl.ack()
	if code, ctl := msa(ack); code != "AR" || ctl != "BIG" {
		t.Errorf("got %s %s, want AR BIG", code, ctl)
	}
	if e := (hl7.ERR{Segment: ack.Segment("ERR")}); e.Segment == nil || !strings.Contains(e.UserMessage(), "larger than 1024") {
		t.Errorf("ERR missing or without reason")
	}
	cl.expectClosed()
	// Its start is handed over, marked truncated, to be kept for review.
	if rec.count() != 1 {
		t.Fatalf("%d envelopes, want the oversize message's start", rec.count())
	}
	env := rec.envs[0]
	if !env.Truncated || env.Key != "BIG" || env.SendingApplication != "ANALYZER" || len(env.Raw) > 1024 ||
		!strings.HasPrefix(big, string(env.Raw)) {
		t.Errorf("envelope: truncated %v, key %q, app %q, %d bytes", env.Truncated, env.Key, env.SendingApplication, len(env.Raw))
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, &Server{Handler: &recorder{}, IdleTimeout: 100 * time.Millisecond})
	cl := ts.dial(t)
	start := time.Now()
	cl.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
}

func TestMaxConns(t *testing.T) {
	ts := startServer(t, &Server{Handler: &recorder{}, MaxConns: 1})
	first := ts.dial(t)
	first.write(frame(hl7msg("1", "ORU^R01", "")))
	first.ack()
	second := ts.dial(t)
	second.expectClosed()
	first.write(frame(hl7msg("2", "ORU^R01", "")))
	if code, _ := msa(first.ack()); code != "AA" {
		t.Errorf("first connection broken: %s", code)
	}
}

func TestShutdownWaitsForHandle(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	rec := &recorder{fn: func(env *listeners.Envelope) error {
		close(started)
		<-release
		return nil
	}}
	ts := startServer(t, &Server{Handler: rec})
	cl := ts.dial(t)
	idle := ts.dial(t) // a second, idle connection
	idle.write("\x00")
	cl.write(frame(hl7msg("INFLIGHT", "ORU^R01", "")))
	<-started
	done := make(chan error, 1)
	go func() { done <- ts.srv.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while Handle was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	idle.expectClosed()
	close(release)
	if code, ctl := msa(cl.ack()); code != "AA" || ctl != "INFLIGHT" {
		t.Errorf("got %s %s", code, ctl)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	ts.served <- ErrServerClosed // for the cleanup
	cl.expectClosed()
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Errorf("still accepting after Shutdown")
	}
}

func TestShutdownTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	ts := startServer(t, &Server{Handler: listeners.HandlerFunc(func(ctx context.Context, env *listeners.Envelope) error {
		close(started)
		<-release
		return nil
	})})
	cl := ts.dial(t)
	cl.write(frame(hl7msg("X", "ORU^R01", "")))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v", err)
	}
	cl.expectClosed()
}

func TestServeContextCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := &Server{Handler: &recorder{}}
	go func() { done <- srv.Serve(ctx, ln) }()
	ts := &testServer{srv: srv, addr: ln.Addr().String()}
	cl := ts.dial(t)
	cl.write(frame(hl7msg("1", "ORU^R01", "")))
	cl.ack()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve: %v", err)
	}
	cl.expectClosed()
}

func TestConcurrentConnections(t *testing.T) {
	var n atomic.Int64
	ts := startServer(t, &Server{Handler: listeners.HandlerFunc(func(ctx context.Context, env *listeners.Envelope) error {
		n.Add(1)
		return nil
	})})
	const conns, per = 16, 25
	var wg sync.WaitGroup
	for i := range conns {
		cl := ts.dial(t)
		wg.Go(func() {
			var batch bytes.Buffer
			for j := range per {
				batch.WriteString(frame(hl7msg(fmt.Sprintf("C%dM%d", i, j), "ORU^R01", "")))
			}
			if _, err := cl.c.Write(batch.Bytes()); err != nil {
				t.Error(err)
				return
			}
			for j := range per {
				b, err := cl.rd.ReadMessage()
				if err != nil {
					t.Errorf("conn %d: %v", i, err)
					return
				}
				m, err := hl7.Parse(b, hl7.Options{})
				if err != nil {
					t.Errorf("conn %d: %v", i, err)
					return
				}
				if code, ctl := msa(m); code != "AA" || ctl != fmt.Sprintf("C%dM%d", i, j) {
					t.Errorf("conn %d msg %d: %s %s", i, j, code, ctl)
				}
			}
		})
	}
	wg.Wait()
	if n.Load() != conns*per {
		t.Errorf("handled %d, want %d", n.Load(), conns*per)
	}
}

// A device pinned to one acknowledgement mode gets it whatever its MSH-15
// says.
func TestAckModeOverride(t *testing.T) {
	for _, c := range []struct {
		pinned, extra, want string
	}{
		{"original", "|||AL|NE", "AA"}, // an analyzer that fills MSH-15 with AL but wants AA
		{"enhanced", "", "CA"},
		{"", "|||AL|NE", "CA"},
		{"", "", "AA"},
	} {
		ts := startServer(t, &Server{Handler: &recorder{},
			AckMode: func(context.Context, *listeners.Envelope) string { return c.pinned }})
		cl := ts.dial(t)
		cl.write(frame(hl7msg("PIN", "ORU^R01", c.extra)))
		if code, ctl := msa(cl.ack()); code != c.want || ctl != "PIN" {
			t.Errorf("pinned %q, MSH-15 %q: %s %s, want %s", c.pinned, c.extra, code, ctl, c.want)
		}
	}
}
