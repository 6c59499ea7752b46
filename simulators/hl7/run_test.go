package hl7

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/parsers/hl7"
)

// acceptor parses every message like medgate's pipeline does: AE when it
// does not parse, AR for MSH-3 REJECT (an unknown device), else AA.
func acceptor(ctx context.Context, env *listeners.Envelope) error {
	if env.SendingApplication == "REJECT" {
		return listeners.ErrUnknownDevice
	}
	if _, err := hl7.Parse(env.Raw, hl7.Options{}); err != nil {
		return &listeners.InvalidError{Stage: "parse", Reason: err.Error()}
	}
	return nil
}

// serve starts an mllp.Server on 127.0.0.1:0.
func serve(t testing.TB, s *mllp.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// respond runs a tiny MLLP peer built on listeners/mllp's Reader and
// Writer: answer returns the frames to write back for each frame read.
func respond(t *testing.T, answer func(frame []byte, conn int) [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				rd, wr := mllp.NewReader(c), mllp.NewWriter(c)
				for {
					f, err := rd.ReadMessage()
					if err != nil {
						return
					}
					for _, out := range answer(f, n) {
						if wr.WriteMessage(out) != nil {
							return
						}
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

func ackFor(t *testing.T, frame []byte, code, msa2 string) []byte {
	req, err := hl7.ParseHeader(frame, hl7.Options{})
	if err != nil {
		t.Error(err)
		return nil
	}
	b := hl7.BuildACK(req, hl7.Ack{Code: code, ControlID: "ACK1", Time: time.Now()}).Encode()
	if msa2 != "" {
		b = []byte(strings.Replace(string(b), "MSA|"+code+"|"+req.MSH().ControlID(), "MSA|"+code+"|"+msa2, 1))
	}
	return b
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunAccepted(t *testing.T) {
	var seen sync.Map
	var dup atomic.Int32
	addr := serve(t, &mllp.Server{Handler: listeners.HandlerFunc(func(ctx context.Context, env *listeners.Envelope) error {
		if _, loaded := seen.LoadOrStore(env.Key, true); loaded {
			dup.Add(1)
		}
		return acceptor(ctx, env)
	})})
	rep := run(t, Config{Addr: addr, Count: 60, Conns: 4, Expect: "AA", Params: Params{Charset: "windows-1251"}})
	if rep.Sent != 60 || rep.Acked["AA"] != 60 || len(rep.Acked) != 1 || !rep.OK() {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Latency.N != 60 || rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 || rep.Latency.P99 < rep.Latency.P50 {
		t.Errorf("latency %+v", rep.Latency)
	}
	if dup.Load() != 0 {
		t.Errorf("%d control IDs repeated within a run", dup.Load())
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"sent:         60", "AA 60", "p99", "result:       OK"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report text lacks %q:\n%s", want, text.String())
		}
	}
	if b, err := rep.MarshalJSON(); err != nil || !strings.Contains(string(b), `"p99_ms"`) || !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("JSON %s, %v", b, err)
	}
}

func TestRunRejectedAndExpect(t *testing.T) {
	addr := serve(t, &mllp.Server{Handler: listeners.HandlerFunc(acceptor)})
	rep := run(t, Config{Addr: addr, Count: 5, Expect: "AA", Params: Params{App: "REJECT"}})
	if rep.Acked["AR"] != 5 || rep.Unexpected != 5 || rep.OK() || rep.Mismatched != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if len(rep.NackReasons) == 0 || !strings.Contains(rep.NackReasons[0], "not recognized") {
		t.Errorf("reasons %v", rep.NackReasons)
	}
	// Without -expect, AR answers that match are not a failure.
	if rep := run(t, Config{Addr: addr, Count: 2, Params: Params{App: "REJECT"}}); !rep.OK() {
		t.Errorf("%v", rep.Failures())
	}
	rep = run(t, Config{Addr: addr, Count: 4, Expect: "CA", Params: Params{Enhanced: true}})
	if rep.Acked["CA"] != 4 || !rep.OK() {
		t.Errorf("enhanced: %+v", rep)
	}
}

// A receiver that answers with the wrong MSA-2, or by position (the ACK
// of the previous message), is caught.
func TestRunDetectsWrongMSA2(t *testing.T) {
	addr := respond(t, func(f []byte, _ int) [][]byte { return [][]byte{ackFor(t, f, "AA", "SOMETHING-ELSE")} })
	rep := run(t, Config{Addr: addr, Count: 3})
	if rep.Mismatched != 3 || rep.AckedTotal() != 0 || rep.OK() {
		t.Fatalf("report: %+v", rep)
	}
	if !strings.Contains(rep.ErrorSamples[0], "SOMETHING-ELSE") {
		t.Errorf("samples %v", rep.ErrorSamples)
	}

	// Positional: every ACK names the message before it.
	var mu sync.Mutex
	prev := map[int]string{}
	addr = respond(t, func(f []byte, conn int) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		p, ok := prev[conn]
		prev[conn] = MSHField(f, 10)
		if !ok {
			return [][]byte{ackFor(t, f, "AA", "")}
		}
		return [][]byte{ackFor(t, f, "AA", p)}
	})
	rep = run(t, Config{Addr: addr, Count: 4})
	if rep.Acked["AA"] != 2 || rep.Mismatched != 2 || rep.OK() {
		// Each mismatch starts a new connection, whose first ACK is right.
		t.Fatalf("positional: %+v", rep)
	}
}

func TestRunTimeoutAndClosed(t *testing.T) {
	silent := respond(t, func([]byte, int) [][]byte { return nil })
	rep := run(t, Config{Addr: silent, Count: 2, Timeout: 150 * time.Millisecond})
	if rep.Timeouts != 2 || rep.OK() {
		t.Fatalf("report: %+v", rep)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mllp.NewReader(c).ReadMessage()
			c.Close()
		}
	}()
	defer ln.Close()
	rep = run(t, Config{Addr: ln.Addr().String(), Count: 2})
	if rep.Closed != 2 || rep.OK() {
		t.Fatalf("closing peer: %+v", rep)
	}
	ln.Close()
	rep = run(t, Config{Addr: ln.Addr().String(), Count: 2})
	if rep.Errors != 2 || rep.Sent != 0 || rep.OK() {
		t.Fatalf("nobody listening: %+v", rep)
	}
}

// Each variant gets the ACK its VariantInfo documents from an
// mllp.Server whose handler parses like medgate's pipeline.
func TestVariantsAgainstServer(t *testing.T) {
	addr := serve(t, &mllp.Server{Handler: listeners.HandlerFunc(acceptor), MaxMessageSize: 256 << 10})
	for _, v := range Variants {
		name := string(v.Name)
		if name == "" {
			name = "normal"
		}
		t.Run(name, func(t *testing.T) {
			rep := run(t, Config{Addr: addr, Count: 3, Conns: 2, Variant: v.Name, OversizeBytes: 1 << 20,
				Expect: v.Expect, Params: Params{Charset: "windows-1251"}})
			if v.Name == Oversize && rep.Closed > 0 {
				// The close may overtake the AR: allowed, never a wrong answer.
				if rep.Mismatched != 0 || rep.Closed+rep.Acked["AR"] != 3 {
					t.Fatalf("report: %+v", rep)
				}
				return
			}
			if !rep.OK() || rep.Acked[v.Expect] != 3 || rep.Mismatched != 0 {
				t.Fatalf("report: %+v", rep)
			}
		})
	}
	// In enhanced mode the commit ACK speaks to storage alone: a message
	// kept with a content error is committed.
	rep := run(t, Config{Addr: addr, Count: 2, Variant: WrongCharset, Expect: "CA", Params: Params{Enhanced: true}})
	if !rep.OK() {
		t.Errorf("enhanced wrong-charset: %+v", rep)
	}
}

func TestRunBoundsAndInterrupt(t *testing.T) {
	addr := serve(t, &mllp.Server{Handler: listeners.HandlerFunc(acceptor)})
	rep := run(t, Config{Addr: addr, Duration: 300 * time.Millisecond, Rate: 20, Conns: 2})
	// 20/s for 0.3 s starts at most 6 messages (slots 0, 50, …, 250 ms).
	if rep.Sent == 0 || rep.Sent > 6 || !rep.OK() {
		t.Fatalf("rate and duration: %+v", rep)
	}

	release := make(chan struct{})
	blocked := serve(t, &mllp.Server{Handler: listeners.HandlerFunc(func(ctx context.Context, env *listeners.Envelope) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, Config{Addr: blocked, Count: 1000, Conns: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Unanswered != 3 || rep.Timeouts != 0 {
		t.Fatalf("interrupted: %+v", rep)
	}
}

func TestReplay(t *testing.T) {
	var mu sync.Mutex
	var got []string
	addr := serve(t, &mllp.Server{Handler: listeners.HandlerFunc(func(ctx context.Context, env *listeners.Envelope) error {
		mu.Lock()
		got = append(got, env.SendingApplication+"/"+env.Key)
		mu.Unlock()
		return acceptor(ctx, env)
	})})
	file := "MSH|^~\\&|LIS||||20260101||ADT^A01|F1|P|2.5.1\nPID|1||X||Щукин^Фёдор\n\n" +
		"MSH|^~\\&|LIS||||20260101||ADT^A08|F2|P|2.5.1\r\nPID|1||Y\r\n"
	path := filepath.Join(t.TempDir(), "msgs.hl7")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	msgs := SplitMessages(data)
	rep := run(t, Config{Addr: addr, Replay: msgs, KeepIDs: true})
	if rep.Sent != 2 || rep.Acked["AA"] != 2 || !rep.OK() {
		t.Fatalf("replay: %+v", rep)
	}
	rep = run(t, Config{Addr: addr, Replay: msgs, Count: 5, IDPrefix: "R-", Params: Params{App: "SIMAPP"}})
	if rep.Acked["AA"] != 5 || !rep.OK() {
		t.Fatalf("replay cycling: %+v", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"LIS/F1", "LIS/F2", "SIMAPP/R-1", "SIMAPP/R-2", "SIMAPP/R-3", "SIMAPP/R-4", "SIMAPP/R-5"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("received %v, want %v", got, want)
	}
	if _, err := Run(context.Background(), Config{Replay: msgs, Variant: WrongCharset}); err == nil {
		t.Error("wrong-charset with replay accepted")
	}
}

// Query mode: a Mindray-style host answers QCK^Q02, then sends DSR^Q03
// with the orders; the simulator reports both and ACKs the DSR.
func TestQueryMode(t *testing.T) {
	dsrAcked := make(chan string, 1)
	addr := respond(t, func(f []byte, _ int) [][]byte {
		m, err := hl7.Parse(f, hl7.Options{})
		if err != nil {
			t.Error(err)
			return nil
		}
		switch m.MSH().MessageType().Code {
		case "ACK":
			dsrAcked <- m.Segment("MSA").Field(2).String()
			return nil
		case "QRY":
		default:
			t.Errorf("unexpected %s", m.MSH().MessageType())
			return nil
		}
		if bc := (hl7.QRD{Segment: m.Segment("QRD")}).WhoSubjectFilter()[0].ID; bc != "BC123" {
			t.Errorf("QRD-8 %q", bc)
		}
		qck := ackFor(t, f, "AA", "")
		qck = []byte(strings.Replace(string(qck), "ACK^Q02^ACK", "QCK^Q02", 1) + "QAK|SR|OK\r")
		dsr := "MSH|^~\\&|MEDGATE||SIM||20260101||DSR^Q03|DSR1|P|2.3.1\rMSA|AA|" + m.MSH().ControlID() + "\rDSP|1||BC123\r"
		return [][]byte{qck, []byte(dsr)}
	})
	var answers []Answer
	rep := run(t, Config{Addr: addr, Kind: "qry", QueryWait: 300 * time.Millisecond, Params: Params{Barcode: "BC123"},
		OnAnswer: func(a Answer) { answers = append(answers, a) }})
	if rep.Acked["AA"] != 1 || !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
	if len(answers) != 1 || len(answers[0].Frames) != 2 || !strings.Contains(string(answers[0].Frames[1]), "DSP|1||BC123") {
		t.Fatalf("answers %q", answers)
	}
	select {
	case id := <-dsrAcked:
		if id != "DSR1" {
			t.Errorf("DSR acked with MSA-2 %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Error("DSR^Q03 not acknowledged")
	}
}

// Query mode with QRY^R02: the host's one ORF^R04 is the answer, its
// MSA-2 checked against the query's MSH-10 (a wrong one is a mismatch);
// nothing follows it and nothing is acknowledged.
func TestQueryModeR02(t *testing.T) {
	var wrongMSA2 atomic.Bool
	acks := make(chan string, 4)
	addr := respond(t, func(f []byte, _ int) [][]byte {
		m, err := hl7.Parse(f, hl7.Options{})
		if err != nil {
			t.Error(err)
			return nil
		}
		if mt := m.MSH().MessageType(); mt.Code == "ACK" {
			acks <- m.MSH().ControlID()
			return nil
		} else if mt.Code != "QRY" || mt.Trigger != "R02" {
			t.Errorf("unexpected %s", mt)
			return nil
		}
		ctl := m.MSH().ControlID()
		if wrongMSA2.Load() {
			ctl = "OTHER"
		}
		return [][]byte{[]byte("MSH|^~\\&|MEDGATE||SIM||20260101||ORF^R04^ORF_R04|ORF1|P|2.3.1\rMSA|AA|" + ctl + "\r" +
			m.Segment("QRD").Raw() + "\rPID|1||42\rORC|NW|L1|BC123\rOBR|1|L1|BC123|CBC\rQAK|1|OK\r")}
	})
	var answers []Answer
	cfg := Config{Addr: addr, Kind: "qry", QueryWait: 200 * time.Millisecond, Params: Params{Barcode: "BC123", QueryTrigger: "R02"},
		OnAnswer: func(a Answer) { answers = append(answers, a) }}
	rep := run(t, cfg)
	if rep.Acked["AA"] != 1 || !rep.OK() || !strings.Contains(rep.Kind, "R02") {
		t.Fatalf("report %+v", rep)
	}
	if len(answers) != 1 || len(answers[0].Frames) != 1 || !strings.Contains(string(answers[0].Frames[0]), "ORF^R04") {
		t.Fatalf("answers %q", answers)
	}
	wrongMSA2.Store(true)
	if rep := run(t, cfg); rep.Mismatched != 1 || rep.OK() {
		t.Errorf("ORF^R04 for another query: report %+v; want a mismatch", rep)
	}
	select {
	case id := <-acks:
		t.Errorf("the ORF^R04 was acknowledged (%s)", id)
	default:
	}
	if _, err := Run(context.Background(), Config{Kind: "qry", Params: Params{QueryTrigger: "X"}}); err == nil {
		t.Error("unknown query trigger accepted")
	}
}

func TestRunConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Kind: "nope"}, {Variant: "nope"}, {Params: Params{Charset: "latin-1"}}, {Count: -1}} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		} else if errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}
}
