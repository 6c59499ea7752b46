package outbound_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/outbound"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/sqlite"
	"github.com/medgate/medgate/mis/store/sqlstore"
	"github.com/medgate/medgate/parsers/hl7"
)

// peer is an analyzer: a real mllp.Server whose Handler (a Responder)
// records what arrives and answers as answer says.
type peer struct {
	t      *testing.T
	srv    *mllp.Server
	ln     net.Listener
	mu     sync.Mutex
	got    []*hl7.Message
	peers  map[string]bool // remote addresses seen: one per connection
	answer func(req *hl7.Message, n int) ([][]byte, error)
}

func (p *peer) Handle(ctx context.Context, env *listeners.Envelope) error {
	_, err := p.Respond(ctx, env)
	return err
}

func (p *peer) Respond(_ context.Context, env *listeners.Envelope) ([][]byte, error) {
	msg, err := hl7.Parse(env.Raw, hl7.Options{})
	if err != nil {
		p.t.Errorf("peer: unparsable message: %v", err)
		return nil, err
	}
	p.mu.Lock()
	p.got = append(p.got, msg)
	p.peers[env.Peer] = true
	n := len(p.got)
	p.mu.Unlock()
	if p.answer == nil {
		return nil, nil // the Server's AA
	}
	return p.answer(msg, n)
}

func (p *peer) messages() []*hl7.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*hl7.Message(nil), p.got...)
}

func (p *peer) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.peers)
}

// startPeer serves on addr ("127.0.0.1:0" for any port).
func startPeer(t *testing.T, addr string, answer func(*hl7.Message, int) ([][]byte, error)) *peer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, ln: ln, peers: map[string]bool{}, answer: answer}
	p.srv = &mllp.Server{Handler: p}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func (p *peer) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// ackFor acknowledges req with code; msa2, when set, replaces MSA-2 (an
// ACK for another message).
func ackFor(req *hl7.Message, code, msa2 string, errs ...hl7.AckError) []byte {
	m := hl7.BuildACK(req, hl7.Ack{Code: code, ControlID: "PEER-" + req.MSH().ControlID(), Time: time.Now(), Errors: errs})
	if msa2 != "" {
		m.Segment("MSA").Set(2, msa2)
	}
	return m.Encode()
}

type fixture struct {
	t       *testing.T
	ctx     context.Context
	st      *sqlstore.Store
	org     *domain.Organization
	patient *domain.Patient
	dev     *domain.Device
}

func newFixture(t *testing.T, port int) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, st: st}
	f.org = &domain.Organization{Name: "Клиника"}
	if err := st.CreateOrganization(ctx, f.org); err != nil {
		t.Fatal(err)
	}
	f.patient = &domain.Patient{OrganizationID: f.org.ID, Family: "Иванов", Given: "Иван", Patronymic: "Петрович",
		BirthDate: "1980-02-03", Gender: domain.GenderMale, Active: true}
	if err := st.CreatePatient(ctx, f.patient, 0, nil); err != nil {
		t.Fatal(err)
	}
	cm := &domain.CodeMap{OrganizationID: f.org.ID, Name: "bs240", Entries: []domain.CodeMapEntry{
		{DeviceCode: "GLU", System: domain.SystemLOINC, Code: "2345-7", Display: "Glucose"},
	}}
	if err := st.PutCodeMap(ctx, cm, nil); err != nil {
		t.Fatal(err)
	}
	f.dev = &domain.Device{OrganizationID: f.org.ID, Name: "BS-240", Protocol: domain.ProtocolHL7, SendingApplication: "BS-240",
		CodeMap: "bs240", ReceivesOrders: true, Active: true, Transport: &domain.Transport{Host: "127.0.0.1", Port: port}}
	if err := st.CreateDevice(ctx, f.dev, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) order(codes ...string) *domain.ServiceRequest {
	f.t.Helper()
	r := &domain.ServiceRequest{OrganizationID: f.org.ID, PatientID: f.patient.ID, Category: domain.CategoryLab,
		Priority: domain.PriorityRoutine, Status: domain.StatusActive}
	for _, c := range codes {
		r.Codes = append(r.Codes, domain.Coding{System: domain.SystemLOINC, Code: c})
	}
	if err := f.st.CreateServiceRequest(f.ctx, r, nil); err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) queue() []store.OutboundMessage {
	f.t.Helper()
	list, err := f.st.ListOutbound(f.ctx, store.OutboundQuery{Orgs: []int64{f.org.ID}})
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

// run starts a Sender with short timeouts; it is stopped (and must return
// promptly) when the test ends.
func (f *fixture) run(mod func(*outbound.Sender)) *outbound.Sender {
	s := &outbound.Sender{Store: f.st, Poll: 20 * time.Millisecond, AckTimeout: time.Second, ConnectTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, IdleClose: 5 * time.Second}
	if mod != nil {
		mod(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				f.t.Errorf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			f.t.Errorf("Run did not return after cancellation")
		}
	})
	return s
}

// waitFor polls cond until it holds or 10 s pass.
func (f *fixture) waitFor(what string, cond func([]store.OutboundMessage) bool) []store.OutboundMessage {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q := f.queue()
		if cond(q) {
			return q
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; queue: %+v", what, q)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allStatus(status string) func([]store.OutboundMessage) bool {
	return func(q []store.OutboundMessage) bool {
		for _, m := range q {
			if m.Status != status {
				return false
			}
		}
		return len(q) > 0
	}
}

// TestSendMatchesControlID: each order goes as ORM^O01 in the device's
// codes; the peer first answers with an ACK for another control ID, which
// is ignored, then with the right one; both messages share one connection
// and go in order.
func TestSendMatchesControlID(t *testing.T) {
	p := startPeer(t, "127.0.0.1:0", func(req *hl7.Message, _ int) ([][]byte, error) {
		return [][]byte{ackFor(req, "AA", "SOMETHING-ELSE"), ackFor(req, "AA", "")}, nil
	})
	f := newFixture(t, p.port())
	o1 := f.order("2345-7", "718-7") // GLU through the code map; 718-7 as it is
	o2 := f.order("2345-7")
	s := f.run(nil)
	q := f.waitFor("both messages sent", allStatus(store.OutboundSent))
	for _, m := range q {
		if m.AckCode != "AA" || m.Attempts != 1 || m.AckedAt == nil || m.LastError != "" {
			t.Errorf("sent message %+v", m)
		}
	}
	got := p.messages()
	if len(got) != 2 {
		t.Fatalf("peer got %d messages, want 2", len(got))
	}
	if n := p.connections(); n != 1 {
		t.Errorf("%d connections for two messages; want the connection reused", n)
	}
	for i, want := range []*domain.ServiceRequest{o1, o2} {
		msh := got[i].MSH()
		if mt := msh.MessageType(); mt.Code != "ORM" || mt.Trigger != "O01" {
			t.Errorf("message %d type %v", i, mt)
		}
		if msh.ControlID() != q[i].ControlID {
			t.Errorf("message %d MSH-10 %q, queued %q", i, msh.ControlID(), q[i].ControlID)
		}
		obrs := got[i].All("OBR")
		if len(obrs) != len(want.Codes) {
			t.Fatalf("message %d: %d OBR, want %d", i, len(obrs), len(want.Codes))
		}
		obr := hl7.OBR{Segment: obrs[0]}
		if obr.PlacerOrderNumber().ID != want.AccessionNumber || obr.FillerOrderNumber().ID != want.Specimens[0].Barcode {
			t.Errorf("message %d OBR-2/3 = %v/%v; want accession %s, barcode %s", i, obr.PlacerOrderNumber(), obr.FillerOrderNumber(),
				want.AccessionNumber, want.Specimens[0].Barcode)
		}
		if c := obr.UniversalServiceID().Code; c != "GLU" {
			t.Errorf("message %d OBR-4 %q; want the device code GLU", i, c)
		}
		if orc := got[i].Segment("ORC"); orc == nil || (hl7.ORC{Segment: orc}).OrderControl() != "NW" {
			t.Errorf("message %d ORC-1 not NW", i)
		}
		pid := got[i].PID()
		if n := pid.Names(); len(n) == 0 || n[0].Family != "Иванов" || n[0].Middle != "Петрович" {
			t.Errorf("message %d PID-5 %+v", i, n)
		}
	}
	if c := (hl7.OBR{Segment: got[0].All("OBR")[1]}).UniversalServiceID().Code; c != "718-7" {
		t.Errorf("unmapped code sent as %q; want 718-7 as it is", c)
	}
	if st := s.Stats(); st.Sent != 2 || st.Connects != 1 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}

	// Cancelling sends ORC-1 CA with the same keys, on the same connection.
	if _, err := f.st.SetServiceRequestStatus(f.ctx, []int64{f.org.ID}, o2.ID, domain.StatusCancelled, nil); err != nil {
		t.Fatal(err)
	}
	s.Notify()
	f.waitFor("the cancellation sent", func(q []store.OutboundMessage) bool {
		return len(q) == 3 && q[2].Status == store.OutboundSent
	})
	got = p.messages()
	if len(got) != 3 || (hl7.ORC{Segment: got[2].Segment("ORC")}).OrderControl() != "CA" {
		t.Fatalf("third message is not a CA")
	}
	if p.connections() != 1 {
		t.Errorf("the cancellation opened a new connection")
	}
}

// TestPeerDownThenUp: while the device refuses connections the message
// stays pending, its attempts counted with the error; once it listens the
// message is sent.
func TestPeerDownThenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	f := newFixture(t, port)
	f.order("2345-7")
	s := f.run(nil)
	q := f.waitFor("two failed attempts", func(q []store.OutboundMessage) bool { return len(q) == 1 && q[0].Attempts >= 2 })
	if q[0].Status != store.OutboundPending || !strings.Contains(q[0].LastError, "connect") || q[0].AckCode != "" {
		t.Errorf("while down: %+v", q[0])
	}
	if !q[0].NextAttempt.After(q[0].Created) {
		t.Errorf("next attempt %v not after creation %v: no backoff", q[0].NextAttempt, q[0].Created)
	}
	p := startPeer(t, addr, nil)
	q = f.waitFor("sent after the device came up", allStatus(store.OutboundSent))
	if len(p.messages()) != 1 || q[0].AckCode != "AA" || q[0].LastError != "" {
		t.Errorf("after up: peer got %d, %+v", len(p.messages()), q[0])
	}
	if st := s.Stats(); st.Retries < 2 || st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestApplicationError: AE fails the message at once with the device's
// reason; the next message is not held back. AR is retried, then failed
// after MaxRejects.
func TestApplicationError(t *testing.T) {
	p := startPeer(t, "127.0.0.1:0", func(req *hl7.Message, n int) ([][]byte, error) {
		switch n {
		case 1:
			return nil, &listeners.InvalidError{Stage: "map", Reason: "test GLU is not configured"}
		case 2:
			return [][]byte{ackFor(req, "AA", "")}, nil
		}
		return nil, listeners.ErrUnavailable // AR
	})
	f := newFixture(t, p.port())
	f.order("2345-7")
	f.order("2345-7")
	f.order("2345-7")
	f.run(func(s *outbound.Sender) { s.MaxRejects = 3 })
	q := f.waitFor("all three settled", func(q []store.OutboundMessage) bool {
		return len(q) == 3 && q[0].Status != store.OutboundPending && q[1].Status != store.OutboundPending &&
			q[2].Status != store.OutboundPending
	})
	if q[0].Status != store.OutboundFailed || q[0].AckCode != "AE" || q[0].Attempts != 1 ||
		!strings.Contains(q[0].LastError, "test GLU is not configured") {
		t.Errorf("AE: %+v", q[0])
	}
	if q[1].Status != store.OutboundSent {
		t.Errorf("the message after a failed one: %+v", q[1])
	}
	if q[2].Status != store.OutboundFailed || q[2].AckCode != "AR" || q[2].Attempts != 3 ||
		!strings.Contains(q[2].LastError, "retry later") {
		t.Errorf("AR three times: %+v", q[2])
	}
	if n := len(p.messages()); n != 5 {
		t.Errorf("peer got %d messages; want 1 + 1 + 3", n)
	}
}

// TestNoAck: a device that reads but never acknowledges leaves the message
// pending with a timeout error, on a new connection per attempt.
func TestNoAck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	frames, conns := 0, 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns++
			mu.Unlock()
			go func() {
				defer c.Close()
				rd := mllp.NewReader(c)
				for {
					if _, err := rd.ReadMessage(); err != nil {
						return
					}
					mu.Lock()
					frames++
					mu.Unlock()
				}
			}()
		}
	}()
	f := newFixture(t, ln.Addr().(*net.TCPAddr).Port)
	f.order("2345-7")
	f.run(func(s *outbound.Sender) { s.AckTimeout = 100 * time.Millisecond })
	q := f.waitFor("two timed-out attempts", func(q []store.OutboundMessage) bool { return len(q) == 1 && q[0].Attempts >= 2 })
	if q[0].Status != store.OutboundPending || !strings.Contains(q[0].LastError, outbound.ErrNoAck.Error()) {
		t.Errorf("after timeouts: %+v", q[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if frames < 2 || conns < 2 {
		t.Errorf("frames %d, connections %d; want each attempt on a fresh connection", frames, conns)
	}
}

// TestCancelStops: Run returns promptly when cancelled in the middle of
// waiting for an ACK, and the message stays pending.
func TestCancelStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan struct{}, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		mllp.NewReader(c).ReadMessage()
		got <- struct{}{}
		time.Sleep(10 * time.Second)
	}()
	f := newFixture(t, ln.Addr().(*net.TCPAddr).Port)
	f.order("2345-7")
	s := &outbound.Sender{Store: f.st, Poll: 20 * time.Millisecond, AckTimeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the message never arrived")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not stop")
	}
	if q := f.queue(); q[0].Status != store.OutboundPending || q[0].Attempts != 0 {
		t.Errorf("after cancellation: %+v", q[0])
	}
	if errors.Is(ctx.Err(), context.Canceled) && s.Stats().Devices != 0 {
		t.Errorf("workers left: %d", s.Stats().Devices)
	}
}
