package events_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/events"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/sqlite"
	"github.com/medgate/medgate/mis/store/sqlstore"
	"github.com/medgate/medgate/mis/store/storetest"
)

// The broker tests run against a real MQTT broker (Mosquitto) named by
// MEDGATE_TEST_MQTT_URL, e.g. tcp://127.0.0.1:1883; with
// MEDGATE_REQUIRE_MQTT=1 a missing URL fails instead of skipping.
func brokerURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MEDGATE_TEST_MQTT_URL")
	if u == "" {
		if os.Getenv("MEDGATE_REQUIRE_MQTT") == "1" {
			t.Fatal("MEDGATE_REQUIRE_MQTT=1 but MEDGATE_TEST_MQTT_URL is not set")
		}
		t.Skip("MQTT tests need MEDGATE_TEST_MQTT_URL (e.g. tcp://127.0.0.1:1883)")
	}
	return u
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Patient data the fixture writes, which must never reach a payload or a log.
var personal = []string{"Иванов", "Иван", "Глюкоза", "Биохим", "12345", "0000000018", "1.2.643"}

// fixture is a store with an organization, a patient, an order and a device,
// and enqueues events the way ingest does.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	st      *sqlstore.Store
	org     *domain.Organization
	patient *domain.Patient
	order   *domain.ServiceRequest
	device  *domain.Device
	n       int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, st: st}
	f.org = storetest.NewOrganization("Клиника")
	f.org.UIDRoot = storetest.UIDRoot
	if err := st.CreateOrganization(ctx, f.org); err != nil {
		t.Fatal(err)
	}
	f.patient = storetest.NewPatient(f.org.ID, "Иванов", "Иван")
	if err := st.CreatePatient(ctx, f.patient, 0, nil); err != nil {
		t.Fatal(err)
	}
	f.order = storetest.NewLabOrder(f.org.ID, f.patient.ID, "2345-7")
	if err := st.CreateServiceRequest(ctx, f.order, nil); err != nil {
		t.Fatal(err)
	}
	f.device = storetest.NewDevice(f.org.ID, "Sysmex XN", domain.ProtocolHL7)
	if err := st.CreateDevice(ctx, f.device, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// ingest stores and applies one message with a matched report, an
// unmatched study and queued items: 2+items events.
func (f *fixture) ingest(items int) {
	f.t.Helper()
	f.n++
	key := fmt.Sprintf("MSG%05d", f.n)
	raw := []byte("MSH|^~\\&|XN-350|LAB|MEDGATE|CLINIC|20250314092653||ORU^R01|" + key + "|P|2.5.1\r" +
		"PID|1||12345^^^CLINIC^MR||Иванов^Иван||19800517|M\r")
	m := storetest.NewInboundMessage(f.org.ID, f.device.ID, domain.ProtocolHL7, key, raw)
	if _, err := f.st.SaveMessage(f.ctx, m); err != nil {
		f.t.Fatal(err)
	}
	uid := fmt.Sprintf("%s.5.%d", storetest.UIDRoot, f.n)
	r := &store.IngestResult{
		Status: domain.MessageQueued,
		Reports: []store.ReportSet{{
			Report: domain.DiagnosticReport{OrganizationID: f.org.ID, PatientID: f.patient.ID, RequestID: f.order.ID,
				Code:   domain.Coding{System: domain.SystemLOINC, Code: "24323-8", Display: "Биохимический анализ крови"},
				Status: "final", Effective: storetest.T0, Issued: storetest.T0},
			Observations: []domain.Observation{{
				Code:   domain.Coding{System: domain.SystemLOINC, Code: "2345-7", Display: "Глюкоза"},
				Status: "final", ValueQuantity: &domain.Quantity{Value: 5.5, Unit: "mmol/L"},
				Effective: storetest.T0, Issued: storetest.T0}},
		}},
		Studies: []domain.ImagingStudy{{OrganizationID: f.org.ID, StudyInstanceUID: uid, Status: "available",
			Series: []domain.ImagingSeries{{UID: uid + ".1", Modality: "CT", Instances: []domain.ImagingInstance{
				{SOPInstanceUID: uid + ".1.1", SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", Location: "x/1"}}}}}},
	}
	for i := range items {
		r.Recon = append(r.Recon, store.ReconDraft{Item: domain.ReconItem{Kind: "lab", Reason: domain.ReasonNoOrder,
			Key: fmt.Sprintf("barcode:0000000018-%d", i), Detail: "no order for barcode 0000000018"}, Report: -1, Study: -1})
	}
	if err := f.st.ApplyIngest(f.ctx, m.ID, r); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) pending() []domain.OutboxEvent {
	f.t.Helper()
	evs, err := f.st.PendingEvents(f.ctx, 100000)
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

// syncBuffer collects log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs p until the test ends and checks that Run stops promptly and
// logged no patient data.
func start(t *testing.T, p *events.Publisher) (stop func()) {
	t.Helper()
	logs := &syncBuffer{}
	p.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within 5s of cancel")
		}
		if s := p.Stats(); s.Connected {
			t.Errorf("Stats after Run returned: still connected")
		}
		out := logs.String()
		for _, s := range personal {
			if strings.Contains(out, s) {
				t.Errorf("log holds patient data %q:\n%s", s, out)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// received is one message a subscriber got.
type received struct {
	topic    string
	payload  string
	qos      byte
	retained bool
}

type subscriber struct {
	mu   sync.Mutex
	msgs []received
}

// subscribe listens on prefix/# with QoS 1 directly at the broker.
func subscribe(t *testing.T, url, prefix string) *subscriber {
	t.Helper()
	s := &subscriber{}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID("medgate-test-sub-" + randomHex()).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(prefix+"/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.msgs = append(s.msgs, received{m.Topic(), string(m.Payload()), m.Qos(), m.Retained()})
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return s
}

func (s *subscriber) got() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantIDsOnly checks that a payload is a JSON object of ids and counts
// besides its kind, reason and status codes, with no patient data.
func wantIDsOnly(t *testing.T, payload string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Errorf("payload %s: %v", payload, err)
		return
	}
	for k, v := range m {
		_, num := v.(float64)
		_, str := v.(string)
		if !(num || str && (k == "kind" || k == "reason" || k == "status")) {
			t.Errorf("payload %s: field %q = %v is not an id, a count or a code", payload, k, v)
		}
	}
	for _, s := range personal {
		if strings.Contains(payload, s) {
			t.Errorf("payload %s holds patient data %q", payload, s)
		}
	}
}

// wantDelivered checks that got holds every event of want, first copies in
// want's order (duplicates allowed: delivery is at least once), each on its
// topic with QoS 1.
func wantDelivered(t *testing.T, prefix string, want []domain.OutboxEvent, got []received) {
	t.Helper()
	index := map[string]int{}
	for i, ev := range want {
		index[string(ev.Payload)] = i
	}
	next, dups := 0, 0
	for _, m := range got {
		i, ok := index[m.payload]
		if !ok {
			t.Errorf("unexpected message on %s: %s", m.topic, m.payload)
			continue
		}
		ev := want[i]
		if wantTopic := fmt.Sprintf("%s/%d/%s", prefix, ev.OrganizationID, ev.Kind); m.topic != wantTopic {
			t.Errorf("event %d on topic %q, want %q", ev.ID, m.topic, wantTopic)
		}
		if m.qos != 1 || m.retained {
			t.Errorf("event %d: QoS %d, retained %v; want QoS 1, not retained", ev.ID, m.qos, m.retained)
		}
		wantIDsOnly(t, m.payload)
		switch {
		case i == next:
			next++
		case i < next:
			dups++
		default:
			t.Fatalf("event %d (#%d) arrived before event %d (#%d): out of order or lost", ev.ID, i, want[next].ID, next)
		}
	}
	if next != len(want) {
		t.Errorf("delivered %d of %d events; first missing: %d", next, len(want), want[next].ID)
	}
	if dups > 0 {
		t.Logf("%d duplicate deliveries (at least once)", dups)
	}
}

func TestPublish(t *testing.T) {
	url := brokerURL(t)
	f := newFixture(t)
	f.ingest(1)
	f.ingest(2)
	want := f.pending()
	if len(want) != 7 {
		t.Fatalf("fixture enqueued %d events, want 7", len(want))
	}
	kinds := map[string]int{}
	for _, ev := range want {
		kinds[ev.Kind]++
	}
	if kinds[domain.EventResult] != 2 || kinds[domain.EventStudy] != 2 || kinds[domain.EventReconciliation] != 3 {
		t.Fatalf("fixture events by kind: %v", kinds)
	}
	prefix := "medgate-test-" + randomHex()
	sub := subscribe(t, url, prefix)
	p := &events.Publisher{Store: f.st, BrokerURL: url, ClientID: "medgate-test-" + randomHex(), TopicPrefix: prefix + "/",
		Poll: time.Hour} // only the start and Notify read the outbox
	stop := start(t, p)

	waitFor(t, "the first events", 10*time.Second, func() bool { return len(sub.got()) >= len(want) })
	waitFor(t, "the events marked sent", 5*time.Second, func() bool { return len(f.pending()) == 0 })
	wantDelivered(t, prefix, want, sub.got())
	var first map[string]any
	_ = json.Unmarshal([]byte(sub.got()[0].payload), &first)
	if first["kind"] != "result" || first["report"] == nil || first["patient"] != float64(f.patient.ID) ||
		first["request"] != float64(f.order.ID) || first["observations"] != float64(1) {
		t.Errorf("first event %v: want the result of the patient's order with one observation", first)
	}

	// Events committed later go out on Notify, without waiting for a poll.
	f.ingest(1)
	more := f.pending()
	p.Notify()
	waitFor(t, "the events after Notify", 10*time.Second, func() bool { return len(sub.got()) >= len(want)+len(more) })
	wantDelivered(t, prefix, append(want, more...), sub.got())
	waitFor(t, "the events marked sent", 5*time.Second, func() bool { return len(f.pending()) == 0 })
	// The counters follow the mark in the outbox.
	waitFor(t, "the events counted", 5*time.Second, func() bool { return p.Stats().Published >= uint64(len(want)+len(more)) })
	if s := p.Stats(); !s.Connected || s.Published != uint64(len(want)+len(more)) || s.Connects != 1 || s.Failures != 0 {
		t.Errorf("Stats %+v: want connected once, %d published, no failures", s, len(want)+len(more))
	}
	stop()
}

// proxy stands between the publisher and the broker so a test can take the
// broker away: down, it accepts connections and closes them at once; going
// down also cuts the connections it carries.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu     sync.Mutex
	up     bool
	budget int64 // bytes still forwarded to the broker before cutting; <0: no limit
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, brokerURL string) *proxy {
	t.Helper()
	u := strings.TrimPrefix(brokerURL, "tcp://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: u, budget: -1, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setUp(false)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) url() string { return "tcp://" + p.ln.Addr().String() }

// setUp brings the broker back, or takes it away cutting every connection.
func (p *proxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up, p.budget = up, -1
	if !up {
		p.cutLocked()
	}
}

// cutAfter lets n more bytes through to the broker, then goes down.
func (p *proxy) cutAfter(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = n
}

func (p *proxy) cutLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		up := p.up
		if up {
			p.conns[c], p.conns[b] = true, true
		}
		p.mu.Unlock()
		if !up {
			c.Close()
			b.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(b, c, true) }()
		go func() { defer p.wg.Done(); p.pipe(c, b, false) }()
	}
}

// pipe copies src to dst; toBroker copies spend the budget.
func (p *proxy) pipe(dst, src net.Conn, toBroker bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			chunk, cut := buf[:n], false
			if toBroker {
				p.mu.Lock()
				if p.budget >= 0 {
					if int64(n) >= p.budget {
						chunk, cut = buf[:p.budget], true
					}
					p.budget -= int64(len(chunk))
				}
				p.mu.Unlock()
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return
			}
			if cut {
				p.setUp(false)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// gatedStore lets a test hold the publisher off the outbox.
type gatedStore struct {
	store.EventStore
	mu sync.Mutex
}

func (g *gatedStore) PendingEvents(ctx context.Context, limit int) ([]domain.OutboxEvent, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.EventStore.PendingEvents(ctx, limit)
}

func TestOutage(t *testing.T) {
	url := brokerURL(t)
	f := newFixture(t)
	px := newProxy(t, url) // down: the broker is unreachable
	prefix := "medgate-test-" + randomHex()
	sub := subscribe(t, url, prefix)

	f.ingest(3)
	batchA := f.pending()
	gate := &gatedStore{EventStore: f.st}
	p := &events.Publisher{Store: gate, BrokerURL: px.url(), ClientID: "medgate-test-" + randomHex(), TopicPrefix: prefix,
		Poll: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, ConnectTimeout: 2 * time.Second, Batch: 16}
	stop := start(t, p)

	// While the broker is away, the events wait and say why.
	waitFor(t, "failed attempts recorded", 10*time.Second, func() bool {
		evs := f.pending()
		return len(evs) > 0 && evs[0].Attempts >= 2
	})
	if got := f.pending(); len(got) != len(batchA) || got[0].LastError == "" || got[0].ID != batchA[0].ID {
		t.Errorf("pending during the outage: %d events, head %+v; want all %d, the head with its error", len(got), got[0], len(batchA))
	}
	if n := len(sub.got()); n != 0 {
		t.Errorf("%d messages delivered while the broker was away", n)
	}
	// The counter follows the mark on the outbox row.
	waitFor(t, "the failures counted", 5*time.Second, func() bool { return p.Stats().Failures >= 2 })
	if s := p.Stats(); s.Connected || s.Failures < 2 || s.LastError == "" || s.Published != 0 {
		t.Errorf("Stats during the outage %+v: want disconnected, failures counted", s)
	}

	// The broker returns: everything goes, in order.
	px.setUp(true)
	waitFor(t, "batch A delivered", 10*time.Second, func() bool { return len(f.pending()) == 0 })
	all := batchA
	waitFor(t, "the subscriber", 5*time.Second, func() bool { return len(sub.got()) >= len(all) })
	wantDelivered(t, prefix, all, sub.got())

	// The broker goes away while the publisher is idle and connected.
	waitFor(t, "a connected publisher", 5*time.Second, func() bool { return p.Stats().Connected })
	px.setUp(false)
	f.ingest(2)
	batchB := f.pending()
	p.Notify()
	waitFor(t, "batch B failing", 10*time.Second, func() bool {
		evs := f.pending()
		return len(evs) > 0 && evs[0].Attempts >= 1
	})
	if got := f.pending(); len(got) != len(batchB) {
		t.Errorf("pending with the broker away: %d, want %d", len(got), len(batchB))
	}
	px.setUp(true)
	waitFor(t, "batch B delivered", 10*time.Second, func() bool { return len(f.pending()) == 0 })
	all = append(all, batchB...)
	waitFor(t, "the subscriber", 5*time.Second, func() bool { return len(sub.got()) >= len(all) })
	wantDelivered(t, prefix, all, sub.got())

	// The broker goes away in the middle of a stream of batches, the
	// connection cut mid-packet.
	waitFor(t, "a connected publisher", 5*time.Second, func() bool { return p.Stats().Connected })
	px.cutAfter(4000)
	// The publisher polls: hold it off the outbox until batch C is read
	// here, or it may send (and mark) the head of the batch first.
	gate.mu.Lock()
	f.ingest(200)
	batchC := f.pending()
	gate.mu.Unlock()
	p.Notify()
	waitFor(t, "the cut", 10*time.Second, func() bool {
		evs := f.pending()
		return len(evs) > 0 && evs[0].Attempts >= 1
	})
	left := len(f.pending())
	if left == 0 {
		t.Fatal("the cut did not interrupt the stream: nothing left pending")
	}
	t.Logf("cut after %d of %d events were acknowledged", len(batchC)-left, len(batchC))
	px.setUp(true)
	waitFor(t, "batch C delivered", 20*time.Second, func() bool { return len(f.pending()) == 0 })
	all = append(all, batchC...)
	// Marked sent comes after the PUBACK, so by now the subscriber has them.
	waitFor(t, "the subscriber", 5*time.Second, func() bool { return len(sub.got()) >= len(all) })
	wantDelivered(t, prefix, all, sub.got())
	waitFor(t, "the events counted", 5*time.Second, func() bool { return p.Stats().Published >= uint64(len(all)) })
	if s := p.Stats(); s.Published < uint64(len(all)) || s.Connects < 3 {
		t.Errorf("Stats after three outages %+v: want %d published, at least 3 connects", s, len(all))
	}
	stop()
}

// Without a broker at all: events wait with their reason, and Run stops
// cleanly.
func TestBrokerUnreachable(t *testing.T) {
	f := newFixture(t)
	f.ingest(1)
	want := f.pending()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := &events.Publisher{Store: f.st, BrokerURL: "tcp://" + addr, Poll: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, ConnectTimeout: time.Second}
	stop := start(t, p)
	waitFor(t, "failed attempts recorded", 10*time.Second, func() bool {
		evs := f.pending()
		return len(evs) > 0 && evs[0].Attempts >= 3
	})
	stop()
	got := f.pending()
	if len(got) != len(want) {
		t.Fatalf("pending after the outage: %d, want %d", len(got), len(want))
	}
	if !strings.Contains(got[0].LastError, "connect") {
		t.Errorf("head event's last error %q, want the connection failure", got[0].LastError)
	}
	for _, ev := range got[1:] {
		if ev.Attempts != 0 {
			t.Errorf("event %d: %d attempts; only the head of the queue was held up", ev.ID, ev.Attempts)
		}
	}
	if s := p.Stats(); s.Failures < 3 || s.Published != 0 || s.Connects != 0 {
		t.Errorf("Stats %+v", s)
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFixture(t)
	for name, p := range map[string]*events.Publisher{
		"no store":        {},
		"wildcard prefix": {Store: f.st, TopicPrefix: "medgate/#"},
		"plus in prefix":  {Store: f.st, TopicPrefix: "a/+/b"},
		"bad URL":         {Store: f.st, BrokerURL: "127.0.0.1:1883"},
	} {
		if err := p.Run(context.Background()); err == nil {
			t.Errorf("%s: Run succeeded, want a configuration error", name)
		}
	}
}

func TestTopic(t *testing.T) {
	ev := domain.OutboxEvent{OrganizationID: 12, Kind: domain.EventReconciliation}
	if got := events.Topic(events.DefaultTopicPrefix, ev); got != "medgate/12/reconciliation" {
		t.Errorf("Topic = %q", got)
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	var p events.Publisher
	for range 3 {
		p.Notify() // before Run, repeatedly: must not block
	}
}

// A broker that accepts the session but never acknowledges a publish: the
// events stay pending with the reason, and are not marked sent.
func TestAckTimeout(t *testing.T) {
	f := newFixture(t)
	f.ingest(1)
	want := f.pending()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 1024)
				if _, err := c.Read(buf); err != nil { // CONNECT
					return
				}
				if _, err := c.Write([]byte{0x20, 0x02, 0x00, 0x00}); err != nil { // CONNACK, accepted
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.Copy(io.Discard, c) // publishes, never acknowledged
			}()
		}
	}()
	p := &events.Publisher{Store: f.st, BrokerURL: "tcp://" + ln.Addr().String(), Poll: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, AckTimeout: 200 * time.Millisecond}
	stop := start(t, p)
	waitFor(t, "a timed-out delivery recorded", 10*time.Second, func() bool {
		evs := f.pending()
		return len(evs) > 0 && strings.Contains(evs[0].LastError, "PUBACK") && strings.Contains(p.Stats().LastError, "PUBACK")
	})
	stop()
	if got := f.pending(); len(got) != len(want) {
		t.Errorf("pending after unacknowledged publishes: %d, want all %d", len(got), len(want))
	}
	if s := p.Stats(); s.Connects == 0 || s.Published != 0 || !strings.Contains(s.LastError, "PUBACK") {
		t.Errorf("Stats %+v: want connected, nothing published, the PUBACK timeout as last error", s)
	}
}

// purgeCounter counts what the publisher purges.
type purgeCounter struct {
	store.EventStore
	purged atomic.Int64
}

func (c *purgeCounter) PurgeSentEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := c.EventStore.PurgeSentEvents(ctx, before, limit)
	c.purged.Add(int64(n))
	return n, err
}

// TestPurgeDelivered: delivered events leave the outbox once older than
// Retain; pending ones stay.
func TestPurgeDelivered(t *testing.T) {
	url := brokerURL(t)
	f := newFixture(t)
	f.ingest(1)
	want := len(f.pending())
	counter := &purgeCounter{EventStore: f.st}
	prefix := "medgate-test-" + randomHex()
	sub := subscribe(t, url, prefix)
	p := &events.Publisher{Store: counter, BrokerURL: url, ClientID: "medgate-test-" + randomHex(), TopicPrefix: prefix,
		Poll: time.Hour, Retain: 200 * time.Millisecond}
	stop := start(t, p)
	defer stop()
	waitFor(t, "the events marked sent", 10*time.Second, func() bool { return len(f.pending()) == 0 && len(sub.got()) >= want })
	waitFor(t, "the delivered events purged", 10*time.Second, func() bool { return counter.purged.Load() == int64(want) })
	// Nothing is left to purge, and nothing pending was touched.
	if n, err := f.st.PurgeSentEvents(context.Background(), time.Now().Add(time.Hour), 1000); err != nil || n != 0 {
		t.Errorf("after the publisher's purge, %d delivered events were left (%v)", n, err)
	}
}
