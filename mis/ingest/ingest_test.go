package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/ingest/ingesttest"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/storetest"
)

var dialects = storetest.Dialects

// world is a store with one organization, a patient with a lab order
// (barcode), an analyzer and its code map.
type world struct {
	ctx     context.Context
	st      store.Store
	p       *ingest.Pipeline
	org     int64
	patient int64
	order   *domain.ServiceRequest
	dev     *domain.Device
}

func setup(t testing.TB, st store.Store) *world {
	ctx := context.Background()
	org := &domain.Organization{Name: "Клиника", Active: true}
	if err := st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	p := &domain.Patient{OrganizationID: org.ID, Family: "Иванов", Given: "Пётр", BirthDate: "1980-01-02", Gender: domain.GenderMale, Active: true}
	if err := st.CreatePatient(ctx, p, 0, nil); err != nil {
		t.Fatal(err)
	}
	o := &domain.ServiceRequest{OrganizationID: org.ID, PatientID: p.ID, Category: domain.CategoryLab, Priority: domain.PriorityRoutine,
		Status: domain.StatusActive, Codes: []domain.Coding{{Code: "CBC"}}}
	if err := st.CreateServiceRequest(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	dev := &domain.Device{OrganizationID: org.ID, Name: "analyzer", Protocol: domain.ProtocolASTM, Sender: "XN-550",
		CodeMap: "xn", SendsResults: true, Active: true}
	if err := st.CreateDevice(ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	low, high := 130.0, 170.0
	cm := &domain.CodeMap{OrganizationID: org.ID, Name: "xn", Entries: []domain.CodeMapEntry{
		{DeviceCode: "HGB", System: domain.SystemLOINC, Code: "718-7", Unit: "g/L", Ranges: []domain.RangeRule{{Low: &low, High: &high}}}}}
	if err := st.PutCodeMap(ctx, cm, nil); err != nil {
		t.Fatal(err)
	}
	pl := &ingest.Pipeline{Store: st, Processors: map[listeners.Protocol]ingest.Processor{listeners.ASTM: ingesttest.Lines{}}, DefaultOrg: org.ID}
	return &world{ctx: ctx, st: st, p: pl, org: org.ID, patient: p.ID, order: o, dev: dev}
}

func (w *world) env(sender, key, body string) *listeners.Envelope {
	return &listeners.Envelope{Protocol: listeners.ASTM, Listener: "test", Peer: "127.0.0.1:5000", Sender: sender,
		Key: key, Raw: []byte(body), Received: time.Now()}
}

func (w *world) chart(t *testing.T) *domain.Chart {
	t.Helper()
	c, err := w.st.PatientChart(w.ctx, []int64{w.org}, w.patient)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) messages(t *testing.T) []domain.Message {
	t.Helper()
	list, _, err := w.st.ListMessages(w.ctx, store.MessageQuery{Orgs: []int64{w.org}})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func (w *world) open(t *testing.T) []domain.ReconItem {
	t.Helper()
	list, _, err := w.st.ListRecon(w.ctx, store.ReconQuery{Orgs: []int64{w.org}, Status: domain.ReconOpen})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) { fn(t, setup(t, d.Open(t))) })
	}
}

func TestAttachByBarcode(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		barcode := w.order.Specimens[0].Barcode
		if err := w.p.Handle(w.ctx, w.env("XN-550", "1", barcode+"|HGB|125")); err != nil {
			t.Fatal(err)
		}
		c := w.chart(t)
		if len(c.Observations) != 1 || len(c.Reports) != 1 {
			t.Fatalf("chart: %d observations, %d reports", len(c.Observations), len(c.Reports))
		}
		o := c.Observations[0]
		if o.Code.Code != "718-7" || o.Interpretation != "L" || o.RequestID != w.order.ID || o.SpecimenID != w.order.Specimens[0].ID ||
			o.DeviceID != w.dev.ID || o.MessageID == 0 || o.ReferenceRange == nil {
			t.Errorf("observation %+v", o)
		}
		ms := w.messages(t)
		if len(ms) != 1 || ms[0].Status != domain.MessageProcessed || ms[0].DeviceID != w.dev.ID || ms[0].Attempts != 1 {
			t.Errorf("message %+v", ms)
		}
		raw, err := w.st.GetMessage(w.ctx, []int64{w.org}, ms[0].ID)
		if err != nil || !bytes.Equal(raw.Raw, []byte(barcode+"|HGB|125")) {
			t.Errorf("raw bytes: %q %v", raw.Raw, err)
		}
	})
}

func TestUnknownDevice(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		err := w.p.Handle(w.ctx, w.env("STRANGER", "1", "x|HGB|1"))
		if !errors.Is(err, listeners.ErrUnknownDevice) {
			t.Fatalf("want ErrUnknownDevice, got %v", err)
		}
		if ms := w.messages(t); len(ms) != 0 {
			t.Fatalf("refused message was stored: %+v", ms)
		}
		w.p.AcceptUnknown = map[listeners.Protocol]bool{listeners.ASTM: true}
		if err := w.p.Handle(w.ctx, w.env("STRANGER", "1", "x|HGB|1")); err != nil {
			t.Fatal(err)
		}
		ms := w.messages(t)
		items := w.open(t)
		if len(ms) != 1 || ms[0].Status != domain.MessageQueued || ms[0].DeviceID != 0 ||
			len(items) != 1 || items[0].Reason != domain.ReasonUnknownDevice {
			t.Fatalf("messages %+v items %+v", ms, items)
		}
		if c := w.chart(t); len(c.Observations) != 0 {
			t.Fatal("an unknown device's result was attached")
		}
		// A resend of the same bytes is a duplicate, not a second item.
		if err := w.p.Handle(w.ctx, w.env("STRANGER", "1", "x|HGB|1")); err != nil {
			t.Fatal(err)
		}
		ms = w.messages(t) // newest first
		if len(ms) != 2 || ms[0].Status != domain.MessageDuplicate || ms[0].DuplicateOf != ms[1].ID || len(w.open(t)) != 1 {
			t.Fatalf("after a resend: messages %+v items %+v", ms, w.open(t))
		}
		orig := ms[1]
		// Neither attaching the item nor reprocessing helps before the
		// device is registered.
		var conflict *store.ConflictError
		if _, err := w.st.ResolveRecon(w.ctx, []int64{w.org}, items[0].ID,
			store.ReconDecision{Attach: true, PatientID: w.patient}, nil); !errors.As(err, &conflict) {
			t.Fatalf("attach of an unknown_device item: %v", err)
		}
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, orig.ID); !errors.As(err, &conflict) {
			t.Fatalf("reprocess before the device is registered: %v", err)
		}
		// Registered, the device is given to the message on reprocessing,
		// which then attaches by the sample's barcode and closes the item.
		dev := &domain.Device{OrganizationID: w.org, Name: "stranger", Protocol: domain.ProtocolASTM, Sender: "STRANGER",
			CodeMap: "xn", SendsResults: true, Active: true}
		if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
			t.Fatal(err)
		}
		body := w.order.Specimens[0].Barcode + "|HGB|150"
		w.p.AcceptUnknown = nil
		if err := w.p.Handle(w.ctx, w.env("STRANGER", "2", body)); err != nil && !errors.Is(err, listeners.ErrUnknownDevice) {
			t.Fatal(err)
		}
		m, err := w.p.Reprocess(w.ctx, []int64{w.org}, orig.ID)
		if err != nil {
			t.Fatalf("reprocess after registering: %v", err)
		}
		if m.DeviceID != dev.ID || m.Status == domain.MessageQueued && len(w.open(t)) != 1 {
			t.Fatalf("reprocessed: %+v, items %+v", m, w.open(t))
		}
		for _, it := range w.open(t) {
			if it.Reason == domain.ReasonUnknownDevice {
				t.Errorf("the unknown_device item is still open: %+v", it)
			}
		}
	})
}

// A message of an unregistered sender stored just before a crash is
// queued for review at the next start — or processed, when its device has
// been registered meanwhile.
func TestRecoverUnknownDevice(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		for i, sender := range []string{"STRANGER", "LATECOMER"} {
			m := &domain.Message{OrganizationID: w.org, Protocol: string(listeners.ASTM), Listener: "test", Peer: "127.0.0.1:5000",
				Sender: sender, Key: strconv.Itoa(i), Raw: []byte(w.order.Specimens[0].Barcode + "|HGB|14" + strconv.Itoa(i)),
				Received: time.Now(), SHA256: strconv.Itoa(i)}
			if _, err := w.st.SaveMessage(w.ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		dev := &domain.Device{OrganizationID: w.org, Name: "latecomer", Protocol: domain.ProtocolASTM, Sender: "LATECOMER",
			CodeMap: "xn", SendsResults: true, Active: true}
		if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
			t.Fatal(err)
		}
		if n, err := w.p.Recover(w.ctx); err != nil || n != 2 {
			t.Fatalf("Recover: %d, %v", n, err)
		}
		ms := w.messages(t) // newest first
		if len(ms) != 2 || ms[1].Status != domain.MessageQueued || ms[1].DeviceID != 0 ||
			ms[0].Status != domain.MessageProcessed || ms[0].DeviceID != dev.ID {
			t.Fatalf("messages %+v", ms)
		}
		if items := w.open(t); len(items) != 1 || items[0].Reason != domain.ReasonUnknownDevice || items[0].MessageID != ms[1].ID {
			t.Fatalf("items %+v", items)
		}
		if c := w.chart(t); len(c.Observations) != 1 || c.Observations[0].ValueQuantity.Value != 141 {
			t.Fatalf("chart %+v", c.Observations)
		}
	})
}

// Two analyzers of one model send the same H-record sender name; the
// serial line or the host and port a device is set on tells them apart.
func TestASTMIdentityByLine(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ttyA := &domain.Device{OrganizationID: w.org, Name: "xn-a", Protocol: domain.ProtocolASTM, Sender: "XN-1000",
			Transport: &domain.Transport{Serial: "/dev/ttyUSB0", Baud: 9600, Format: "8N1"}, SendsResults: true, Active: true}
		ttyB := &domain.Device{OrganizationID: w.org, Name: "xn-b", Protocol: domain.ProtocolASTM, Sender: "XN-1000",
			Transport: &domain.Transport{Serial: "/dev/ttyUSB1", Baud: 9600, Format: "8N1"}, SendsResults: true, Active: true}
		tcp := &domain.Device{OrganizationID: w.org, Name: "xn-c", Protocol: domain.ProtocolASTM, Sender: "XN-1000",
			Transport: &domain.Transport{Host: "10.0.5.30", Port: 5001}, SendsResults: true, Active: true}
		for _, d := range []*domain.Device{ttyA, ttyB, tcp} {
			if err := w.st.CreateDevice(w.ctx, d, nil); err != nil {
				t.Fatal(err)
			}
		}
		for peer, want := range map[string]string{
			"/dev/ttyUSB0":   "xn-a",
			"/dev/ttyUSB1":   "xn-b",
			"10.0.5.30:5001": "xn-c",
			"/dev/ttyUSB2":   "", // a line no device is set on
			"10.0.5.30:5002": "",
			"10.0.5.31:5001": "",
		} {
			env := w.env("XN-1000", "", "")
			env.Peer = peer
			dev, err := w.p.Device(w.ctx, env)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case want == "" && dev != nil:
				t.Errorf("%s: identified as %s, want unknown", peer, dev.Name)
			case want != "" && (dev == nil || dev.Name != want):
				t.Errorf("%s: identified as %v, want %s", peer, dev, want)
			}
		}
	})
}

func TestResendAndConflict(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		body := w.order.Specimens[0].Barcode + "|HGB|140"
		for i := 0; i < 3; i++ {
			if err := w.p.Handle(w.ctx, w.env("XN-550", "42", body)); err != nil {
				t.Fatal(err)
			}
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatalf("resends attached %d observations", len(c.Observations))
		}
		if err := w.p.Handle(w.ctx, w.env("XN-550", "42", body+"\n"+w.order.Specimens[0].Barcode+"|HGB|141")); err != nil {
			t.Fatal(err)
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatal("a conflicting resend was attached")
		}
		items := w.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonDuplicateConflict {
			t.Fatalf("items %+v", items)
		}
		counts := map[string]int{}
		for _, m := range w.messages(t) {
			counts[m.Status]++
		}
		if counts[domain.MessageProcessed] != 1 || counts[domain.MessageDuplicate] != 2 || counts[domain.MessageQueued] != 1 {
			t.Fatalf("statuses %v", counts)
		}
		// Reprocessing the conflicting resend is refused: it would attach
		// its values beside the original's and close the conflict unseen.
		var conflict *store.ConflictError
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, items[0].MessageID); !errors.As(err, &conflict) {
			t.Fatalf("reprocess of a conflicting resend: %v", err)
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatal("the conflicting resend was attached by reprocessing")
		}
		if items := w.open(t); len(items) != 1 || items[0].Reason != domain.ReasonDuplicateConflict {
			t.Fatalf("after reprocess: items %+v", items)
		}
	})
}

func TestMalformedKeptWithReason(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		err := w.p.Handle(w.ctx, w.env("XN-550", "7", "!"))
		var inv *listeners.InvalidError
		if !errors.As(err, &inv) || !strings.Contains(inv.Reason, "line 1") {
			t.Fatalf("want InvalidError naming the line, got %v", err)
		}
		ms := w.messages(t)
		if len(ms) != 1 || ms[0].Status != domain.MessageError || !strings.Contains(ms[0].Reason, "line 1") {
			t.Fatalf("message %+v", ms)
		}
		// The resend gets the same negative answer, and nothing new is written.
		if err := w.p.Handle(w.ctx, w.env("XN-550", "7", "!")); !errors.As(err, &inv) {
			t.Fatalf("resend of a bad message: %v", err)
		}
		if c := w.chart(t); len(c.Observations) != 0 {
			t.Fatal("half-written results")
		}
	})
}

// Reprocessing keeps what a person rejected rejected: the item is not
// queued again, and the message stays rejected.
func TestReprocessKeepsRejection(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		if err := w.p.Handle(w.ctx, w.env("XN-550", "1", "9999999999|HGB|150")); err != nil {
			t.Fatal(err)
		}
		items := w.open(t)
		if len(items) != 1 {
			t.Fatalf("items %+v", items)
		}
		if _, err := w.st.ResolveRecon(w.ctx, []int64{w.org}, items[0].ID, store.ReconDecision{Note: "контрольный материал"}, nil); err != nil {
			t.Fatal(err)
		}
		m, err := w.p.Reprocess(w.ctx, []int64{w.org}, items[0].MessageID)
		if err != nil {
			t.Fatal(err)
		}
		if open := w.open(t); len(open) != 0 || m.Status != domain.MessageRejected {
			t.Fatalf("after reprocessing: status %q, open items %+v", m.Status, open)
		}
	})
}

func TestNoOrderThenAttach(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		for i, v := range []string{"150", "155"} {
			if err := w.p.Handle(w.ctx, w.env("XN-550", strconv.Itoa(i), "9999999999|HGB|"+v)); err != nil {
				t.Fatal(err)
			}
		}
		items := w.open(t)
		if len(items) != 2 || items[0].Reason != domain.ReasonNoOrder || items[0].Key != "barcode:9999999999" {
			t.Fatalf("items %+v", items)
		}
		done, err := w.st.ResolveRecon(w.ctx, []int64{w.org}, items[0].ID,
			store.ReconDecision{Attach: true, PatientID: w.patient, RequestID: w.order.ID, UserID: 0}, nil)
		if err != nil || len(done) != 2 {
			t.Fatalf("resolve: %d items, %v", len(done), err)
		}
		if c := w.chart(t); len(c.Observations) != 2 {
			t.Fatalf("chart has %d observations after attaching both", len(c.Observations))
		}
		for _, m := range w.messages(t) {
			if m.Status != domain.MessageProcessed {
				t.Errorf("message %d is %s", m.ID, m.Status)
			}
		}
		// Reprocessing a message a person attached attaches it the same way.
		ms := w.messages(t)
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, ms[0].ID); err != nil {
			t.Fatal(err)
		}
		if c := w.chart(t); len(c.Observations) != 2 || len(w.open(t)) != 0 {
			t.Fatalf("after reprocess: %d observations, %d open", len(c.Observations), len(w.open(t)))
		}
	})
}

func TestUnmappedCodeThenFixMap(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		b := w.order.Specimens[0].Barcode
		if err := w.p.Handle(w.ctx, w.env("XN-550", "1", b+"|HGB|140\n"+b+"|PLT|250")); err != nil {
			t.Fatal(err)
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatalf("mapped result not attached: %d", len(c.Observations))
		}
		items := w.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonUnmappedCode || !strings.Contains(items[0].Detail, "PLT") {
			t.Fatalf("items %+v", items)
		}
		cm, _ := w.st.GetCodeMap(w.ctx, w.org, "xn")
		cm.Entries = append(cm.Entries, domain.CodeMapEntry{DeviceCode: "PLT", System: domain.SystemLOINC, Code: "777-3", Unit: "10*9/L"})
		if err := w.st.PutCodeMap(w.ctx, cm, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ { // idempotent
			m, err := w.p.Reprocess(w.ctx, []int64{w.org}, items[0].MessageID)
			if err != nil || m.Status != domain.MessageProcessed {
				t.Fatalf("reprocess %d: %+v %v", i, m, err)
			}
			c := w.chart(t)
			if len(c.Observations) != 2 || len(c.Reports) != 1 || len(w.open(t)) != 0 {
				t.Fatalf("reprocess %d: %d observations, %d reports, %d open", i, len(c.Observations), len(c.Reports), len(w.open(t)))
			}
		}
	})
}

// A process killed between storing and attaching: the message is stored
// with status received; Recover processes it once.
func TestRecoverAfterCrash(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		raw := []byte(w.order.Specimens[0].Barcode + "|HGB|135")
		m := &domain.Message{OrganizationID: w.org, DeviceID: w.dev.ID, Protocol: "astm", Sender: "XN-550", Key: "9",
			Received: time.Now(), SHA256: fmt.Sprintf("%x", (&listeners.Envelope{Raw: raw}).SHA256()), Raw: raw}
		if _, err := w.st.SaveMessage(w.ctx, m); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := w.p.Recover(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatalf("recovered %d observations, want 1", len(c.Observations))
		}
		// The device resending it after the crash changes nothing.
		if err := w.p.Handle(w.ctx, w.env("XN-550", "9", string(raw))); err != nil {
			t.Fatal(err)
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatalf("resend after recovery: %d observations", len(c.Observations))
		}
	})
}

// A resend of a message stored but never attached (the process stopped, or
// attaching failed) attaches the original once instead of answering
// "done" for work that was not done.
func TestResendOfUnprocessedOriginal(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		raw := []byte(w.order.Specimens[0].Barcode + "|HGB|135")
		m := &domain.Message{OrganizationID: w.org, DeviceID: w.dev.ID, Protocol: "astm", Sender: "XN-550", Key: "9",
			Received: time.Now(), SHA256: fmt.Sprintf("%x", (&listeners.Envelope{Raw: raw}).SHA256()), Raw: raw}
		if _, err := w.st.SaveMessage(w.ctx, m); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := w.p.Handle(w.ctx, w.env("XN-550", "9", string(raw))); err != nil {
				t.Fatal(err)
			}
		}
		if c := w.chart(t); len(c.Observations) != 1 {
			t.Fatalf("%d observations after two resends, want 1", len(c.Observations))
		}
		got, err := w.st.GetMessage(w.ctx, nil, m.ID)
		if err != nil || got.Status != domain.MessageProcessed {
			t.Fatalf("original: %+v, %v", got, err)
		}
	})
}

func TestConcurrentProducers(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		b := w.order.Specimens[0].Barcode
		var wg sync.WaitGroup
		errs := make(chan error, 16*10)
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					key := fmt.Sprintf("%d-%d", g, i)
					errs <- w.p.Handle(w.ctx, w.env("XN-550", key, b+"|HGB|"+strconv.Itoa(100+i)+"."+strconv.Itoa(g)))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if c := w.chart(t); len(c.Observations) != 160 {
			t.Fatalf("%d observations, want 160", len(c.Observations))
		}
	})
}

func setupB(b *testing.B, open func(testing.TB) store.Store) *world { return setup(b, open(b)) }

// A message a fault left stored but unprocessed is processed by Retry once
// it is older than minAge; a younger one (maybe still in a listener's
// hands) is left alone.
func TestRetryStalled(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := &domain.Message{OrganizationID: w.org, DeviceID: w.dev.ID, Protocol: string(listeners.ASTM), Listener: "test",
			Peer: "127.0.0.1:5000", Sender: "XN-550", Key: "stalled", Raw: []byte(w.order.Specimens[0].Barcode + "|HGB|150"),
			Received: time.Now(), SHA256: "stalled"}
		if _, err := w.st.SaveMessage(w.ctx, m); err != nil {
			t.Fatal(err)
		}
		// Retry runs until done says so, or for at most 10 s.
		retry := func(minAge time.Duration, done func() bool) {
			ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
			defer cancel()
			stopped := make(chan error, 1)
			go func() { stopped <- w.p.Retry(ctx, 20*time.Millisecond, minAge) }()
			for !done() && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
		}
		ticks := 0
		retry(time.Hour, func() bool { ticks++; return ticks > 10 }) // ten polls: several ticks of Retry
		if ms := w.messages(t); len(ms) != 1 || ms[0].Status != domain.MessageReceived {
			t.Fatalf("a young message was taken: %+v", ms)
		}
		retry(time.Millisecond, func() bool {
			ms := w.messages(t)
			return len(ms) == 1 && ms[0].Status != domain.MessageReceived
		})
		if ms := w.messages(t); len(ms) != 1 || ms[0].Status != domain.MessageProcessed {
			t.Fatalf("after Retry: %+v", ms)
		}
		if c := w.chart(t); len(c.Observations) != 1 || c.Observations[0].ValueQuantity.Value != 150 {
			t.Fatalf("chart %+v", c.Observations)
		}
	})
}
