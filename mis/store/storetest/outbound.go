package storetest

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testOutbound checks store.OutboundStore: the HL7 order queue written in
// the order's own transaction, per receiving device, read head first and
// marked by the sender.
func testOutbound(t *testing.T, open opener) {
	t.Run("Enqueue", func(t *testing.T) { testOutboundEnqueue(t, open) })
	t.Run("Lifecycle", func(t *testing.T) { testOutboundLifecycle(t, open) })
	t.Run("Mark", func(t *testing.T) { testOutboundMark(t, open) })
	t.Run("RolledBack", func(t *testing.T) { testOutboundRolledBack(t, open) })
	t.Run("OrderMessage", func(t *testing.T) { testOutboundOrderMessage(t, open) })
}

// testOutboundOrderMessage: a device set to OML^O21 is queued OML, its
// cancel too; the others stay ORM^O01.
func testOutboundOrderMessage(t *testing.T, open opener) {
	f := newOutboundFixture(t, open)
	f.receiver2.OrderMessage = store.OutboundOML
	if err := f.s.UpdateDevice(f.ctx, ids(f.org.ID), f.receiver2, nil); err != nil {
		t.Fatal(err)
	}
	o := f.order(NewLabOrder(f.org.ID, f.patient.ID, "2345-7"))
	if _, err := f.s.SetServiceRequestStatus(f.ctx, ids(f.org.ID), o.ID, domain.StatusCancelled, nil); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, m := range f.list(store.OutboundQuery{}) {
		types[m.OrderControl+"@"+strconv.FormatInt(m.DeviceID, 10)] = m.Type
	}
	r1, r2 := strconv.FormatInt(f.receiver.ID, 10), strconv.FormatInt(f.receiver2.ID, 10)
	want := map[string]string{"NW@" + r1: store.OutboundORM, "CA@" + r1: store.OutboundORM,
		"NW@" + r2: store.OutboundOML, "CA@" + r2: store.OutboundOML}
	if len(types) != len(want) {
		t.Fatalf("queued %v, want %v", types, want)
	}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("%s queued as %q, want %q", k, types[k], v)
		}
	}
}

type outboundFixture struct {
	*env
	org                 *domain.Organization
	patient             *domain.Patient
	receiver, receiver2 *domain.Device
}

// newOutboundFixture: an organization with two devices that receive orders
// over TCP and four that must get nothing (no transport, not receiving,
// inactive, another protocol), plus another organization's receiver.
func newOutboundFixture(t *testing.T, open opener) *outboundFixture {
	e := begin(t, open)
	f := &outboundFixture{env: e, org: e.org("Клиника")}
	f.patient = e.patient(f.org.ID, "Иванов", "Иван")
	mk := func(org int64, name, protocol string, mod func(*domain.Device)) *domain.Device {
		d := NewDevice(org, name, protocol)
		d.SendingApplication, d.ReceivesOrders = name, true
		d.Transport = &domain.Transport{Host: "127.0.0.1", Port: 5100}
		if mod != nil {
			mod(d)
		}
		if err := e.s.CreateDevice(e.ctx, d, nil); err != nil {
			t.Fatalf("CreateDevice(%s): %v", name, err)
		}
		return d
	}
	f.receiver = mk(f.org.ID, "BS-240", domain.ProtocolHL7, nil)
	mk(f.org.ID, "no-transport", domain.ProtocolHL7, func(d *domain.Device) { d.Transport = nil })
	mk(f.org.ID, "serial-only", domain.ProtocolHL7, func(d *domain.Device) { d.Transport = &domain.Transport{Serial: "/dev/ttyS0", Baud: 9600} })
	mk(f.org.ID, "results-only", domain.ProtocolHL7, func(d *domain.Device) { d.ReceivesOrders = false })
	mk(f.org.ID, "inactive", domain.ProtocolHL7, func(d *domain.Device) { d.Active = false })
	mk(f.org.ID, "astm", domain.ProtocolASTM, func(d *domain.Device) { d.Sender = "astm" })
	f.receiver2 = mk(f.org.ID, "BC-5380", domain.ProtocolHL7, nil)
	other := e.org("Другая")
	mk(other.ID, "BS-240", domain.ProtocolHL7, nil)
	return f
}

func (f *outboundFixture) list(q store.OutboundQuery) []store.OutboundMessage {
	f.t.Helper()
	if q.Orgs == nil {
		q.Orgs = ids(f.org.ID)
	}
	list, err := f.s.ListOutbound(f.ctx, q)
	if err != nil {
		f.t.Fatalf("ListOutbound: %v", err)
	}
	return list
}

func describeOutbound(list []store.OutboundMessage) string {
	var b strings.Builder
	for _, m := range list {
		b.WriteString(m.OrderControl + "@" + strconv.FormatInt(m.DeviceID, 10) + "/" + strconv.FormatInt(m.RequestID, 10) + ":" + m.Status + " ")
	}
	return b.String()
}

// testOutboundEnqueue: an active lab order is queued once per receiving
// device of its organization, pending, due now, without bytes, with unique
// control IDs; drafts, imaging orders and orders from other organizations
// queue nothing for these devices.
func testOutboundEnqueue(t *testing.T, open opener) {
	f := newOutboundFixture(t, open)
	before := time.Now().Add(-time.Second)
	o := f.order(NewLabOrder(f.org.ID, f.patient.ID, "2345-7", "718-7"))
	got := f.list(store.OutboundQuery{})
	if len(got) != 2 || got[0].DeviceID != f.receiver.ID || got[1].DeviceID != f.receiver2.ID {
		t.Fatalf("queued for a new order: %s; want NW for devices %d and %d", describeOutbound(got), f.receiver.ID, f.receiver2.ID)
	}
	for _, m := range got {
		if m.OrganizationID != f.org.ID || m.RequestID != o.ID || m.OrderControl != "NW" || m.Type != store.OutboundORM ||
			m.Status != store.OutboundPending || m.Attempts != 0 || m.Raw != nil || m.AckedAt != nil || m.AckCode != "" {
			t.Errorf("queued message %+v", m)
		}
		if m.ControlID == "" || len(m.ControlID) > 20 {
			t.Errorf("control ID %q: want 1..20 characters (HL7 ST)", m.ControlID)
		}
		if m.NextAttempt.Before(before) || m.NextAttempt.After(time.Now().Add(time.Second)) {
			t.Errorf("next attempt %v: want now", m.NextAttempt)
		}
	}
	if got[0].ControlID == got[1].ControlID {
		t.Errorf("two messages share control ID %q", got[0].ControlID)
	}

	draft := NewLabOrder(f.org.ID, f.patient.ID)
	draft.Status = domain.StatusDraft
	f.order(draft)
	f.order(NewImagingOrder(f.org.ID, f.patient.ID, "CT", "КТ головы"))
	if got := f.list(store.OutboundQuery{}); len(got) != 2 {
		t.Errorf("a draft and an imaging order queued messages: %s", describeOutbound(got))
	}
	devs, err := f.s.OutboundDevices(f.ctx, time.Now().Add(time.Second))
	if err != nil || len(devs) != 2 || devs[0] != f.receiver.ID || devs[1] != f.receiver2.ID {
		t.Errorf("OutboundDevices = %v, %v; want [%d %d]", devs, err, f.receiver.ID, f.receiver2.ID)
	}
	if devs, err := f.s.OutboundDevices(f.ctx, before); err != nil || len(devs) != 0 {
		t.Errorf("OutboundDevices(before anything was due) = %v, %v; want none", devs, err)
	}
	// Another organization's view holds nothing of this one.
	if got, err := f.s.ListOutbound(f.ctx, store.OutboundQuery{Orgs: ids(f.org.ID + 1)}); err != nil || len(got) != 0 {
		t.Errorf("ListOutbound(other org) = %s, %v", describeOutbound(got), err)
	}
	if _, err := f.s.GetOutbound(f.ctx, ids(f.org.ID+1), got[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOutbound(other org) = %v; want ErrNotFound", err)
	}
}

// testOutboundLifecycle: activating a draft queues its NW; cancelling
// queues a CA behind it for the devices that got the NW, and nothing for
// an order never sent; a completed order's error correction sends nothing.
func testOutboundLifecycle(t *testing.T, open opener) {
	f := newOutboundFixture(t, open)
	draft := NewLabOrder(f.org.ID, f.patient.ID)
	draft.Status = domain.StatusDraft
	f.order(draft)
	// A device registered later does not get the cancellation of an order
	// it never received.
	if _, err := f.s.SetServiceRequestStatus(f.ctx, ids(f.org.ID), draft.ID, domain.StatusActive, nil); err != nil {
		t.Fatal(err)
	}
	late := NewDevice(f.org.ID, "late", domain.ProtocolHL7)
	late.SendingApplication, late.ReceivesOrders = "late", true
	late.Transport = &domain.Transport{Host: "127.0.0.1", Port: 5101}
	if err := f.s.CreateDevice(f.ctx, late, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SetServiceRequestStatus(f.ctx, ids(f.org.ID), draft.ID, domain.StatusCancelled, nil); err != nil {
		t.Fatal(err)
	}
	got := f.list(store.OutboundQuery{RequestID: draft.ID})
	if len(got) != 4 || got[0].OrderControl != "NW" || got[1].OrderControl != "NW" ||
		got[2].OrderControl != "CA" || got[3].OrderControl != "CA" ||
		got[2].DeviceID != f.receiver.ID || got[3].DeviceID != f.receiver2.ID {
		t.Fatalf("activate then cancel queued %s; want NW, NW, CA, CA for the two first receivers", describeOutbound(got))
	}
	// The device's head is still its NW: CA waits behind it.
	head, err := f.s.NextOutbound(f.ctx, f.receiver.ID)
	if err != nil || head.ID != got[0].ID {
		t.Fatalf("NextOutbound = %+v, %v; want the NW %d", head, err, got[0].ID)
	}

	// Cancelling a draft never sent queues nothing.
	d2 := NewLabOrder(f.org.ID, f.patient.ID)
	d2.Status = domain.StatusDraft
	f.order(d2)
	if _, err := f.s.SetServiceRequestStatus(f.ctx, ids(f.org.ID), d2.ID, domain.StatusCancelled, nil); err != nil {
		t.Fatal(err)
	}
	if got := f.list(store.OutboundQuery{RequestID: d2.ID}); len(got) != 0 {
		t.Errorf("cancelled draft queued %s", describeOutbound(got))
	}
	// Completed, then entered-in-error: the analyzer is done with it.
	o := f.order(NewLabOrder(f.org.ID, f.patient.ID))
	for _, to := range []domain.RequestStatus{domain.StatusCompleted, domain.StatusEnteredInError} {
		if _, err := f.s.SetServiceRequestStatus(f.ctx, ids(f.org.ID), o.ID, to, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.list(store.OutboundQuery{RequestID: o.ID}); len(got) != 3 || got[2].DeviceID != late.ID {
		t.Errorf("completed then entered-in-error queued %s; want only the three NWs", describeOutbound(got))
	}
}

// testOutboundMark: bytes are set once; sent, retry and failed move only a
// pending message; the head advances past sent and failed messages and
// waits on a retried one; OutboundDevices honours next_attempt.
func testOutboundMark(t *testing.T, open opener) {
	f := newOutboundFixture(t, open)
	o1 := f.order(NewLabOrder(f.org.ID, f.patient.ID))
	o2 := f.order(NewLabOrder(f.org.ID, f.patient.ID))
	o3 := f.order(NewLabOrder(f.org.ID, f.patient.ID))
	q := store.OutboundQuery{DeviceID: f.receiver.ID}
	all := f.list(q)
	if len(all) != 3 || all[0].RequestID != o1.ID || all[1].RequestID != o2.ID || all[2].RequestID != o3.ID {
		t.Fatalf("queue of one device: %s", describeOutbound(all))
	}

	raw := []byte("MSH|^~\\&|MEDGATE\rORC|NW\r")
	m, err := f.s.SetOutboundRaw(f.ctx, all[0].ID, raw)
	if err != nil || string(m.Raw) != string(raw) {
		t.Fatalf("SetOutboundRaw = %+v, %v", m, err)
	}
	m, err = f.s.SetOutboundRaw(f.ctx, all[0].ID, []byte("other bytes"))
	if err != nil || string(m.Raw) != string(raw) {
		t.Fatalf("second SetOutboundRaw changed the bytes: %q, %v", m.Raw, err)
	}
	head, err := f.s.NextOutbound(f.ctx, f.receiver.ID)
	if err != nil || head.ID != all[0].ID || string(head.Raw) != string(raw) {
		t.Fatalf("NextOutbound = %+v, %v", head, err)
	}

	// A retry keeps the head, pending and not due until next.
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if err := f.s.MarkOutboundRetry(f.ctx, all[0].ID, "", "connect: connection refused", next); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkOutboundRetry(f.ctx, all[0].ID, "AR", "busy", next); err != nil {
		t.Fatal(err)
	}
	m, _ = f.s.GetOutbound(f.ctx, ids(f.org.ID), all[0].ID)
	if m.Status != store.OutboundPending || m.Attempts != 2 || m.LastError != "busy" || m.AckCode != "AR" || !m.NextAttempt.Equal(next) {
		t.Errorf("after two retries: %+v", m)
	}
	if head, _ := f.s.NextOutbound(f.ctx, f.receiver.ID); head == nil || head.ID != all[0].ID {
		t.Errorf("a retried message must stay the head (messages go in order)")
	}
	// Sent: acked, attempts counted, error cleared; the head moves on.
	if err := f.s.MarkOutboundSent(f.ctx, all[0].ID, "AA"); err != nil {
		t.Fatal(err)
	}
	m, _ = f.s.GetOutbound(f.ctx, ids(f.org.ID), all[0].ID)
	if m.Status != store.OutboundSent || m.Attempts != 3 || m.AckCode != "AA" || m.AckedAt == nil || m.LastError != "" {
		t.Errorf("after sent: %+v", m)
	}
	if err := f.s.MarkOutboundSent(f.ctx, all[0].ID, "AA"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("marking a sent message again = %v; want ErrConflict", err)
	}
	if err := f.s.MarkOutboundRetry(f.ctx, all[0].ID, "", "x", next); !errors.Is(err, store.ErrConflict) {
		t.Errorf("retrying a sent message = %v; want ErrConflict", err)
	}

	// Failed: a long reason is cut at a character boundary; the head moves on.
	long := strings.Repeat("ошибка ", 200)
	if err := f.s.MarkOutboundFailed(f.ctx, all[1].ID, "AE", long); err != nil {
		t.Fatal(err)
	}
	m, _ = f.s.GetOutbound(f.ctx, ids(f.org.ID), all[1].ID)
	if m.Status != store.OutboundFailed || m.Attempts != 1 || m.AckCode != "AE" || len(m.LastError) > 500 ||
		!strings.HasPrefix(long, m.LastError) || !utf8.ValidString(m.LastError) {
		t.Errorf("after failed: status %s attempts %d ack %s error %d bytes", m.Status, m.Attempts, m.AckCode, len(m.LastError))
	}
	if head, err := f.s.NextOutbound(f.ctx, f.receiver.ID); err != nil || head.ID != all[2].ID || head.Raw != nil {
		t.Errorf("head after sent and failed = %+v, %v; want %d without bytes", head, err, all[2].ID)
	}
	if got := f.list(store.OutboundQuery{DeviceID: f.receiver.ID, Status: store.OutboundPending}); len(got) != 1 {
		t.Errorf("pending: %s", describeOutbound(got))
	}
	if err := f.s.MarkOutboundSent(f.ctx, all[2].ID, "CA"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.NextOutbound(f.ctx, f.receiver.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NextOutbound of an empty queue = %v; want ErrNotFound", err)
	}
	devs, _ := f.s.OutboundDevices(f.ctx, time.Now().Add(time.Minute))
	if len(devs) != 1 || devs[0] != f.receiver2.ID {
		t.Errorf("OutboundDevices = %v; want only %d", devs, f.receiver2.ID)
	}
	// Retry in the future takes the device off the due list until then.
	for _, m := range f.list(store.OutboundQuery{DeviceID: f.receiver2.ID}) {
		if err := f.s.MarkOutboundRetry(f.ctx, m.ID, "", "timeout", next); err != nil {
			t.Fatal(err)
		}
	}
	if devs, _ := f.s.OutboundDevices(f.ctx, time.Now().Add(time.Minute)); len(devs) != 0 {
		t.Errorf("OutboundDevices before the retry time = %v; want none", devs)
	}
	if devs, _ := f.s.OutboundDevices(f.ctx, next.Add(time.Second)); len(devs) != 1 {
		t.Errorf("OutboundDevices after the retry time = %v; want [%d]", devs, f.receiver2.ID)
	}
}

// testOutboundRolledBack: an order that fails to commit leaves no message.
func testOutboundRolledBack(t *testing.T, open opener) {
	f := newOutboundFixture(t, open)
	first := f.order(NewLabOrder(f.org.ID, f.patient.ID))
	dup := NewLabOrder(f.org.ID, f.patient.ID)
	dup.AccessionNumber = first.AccessionNumber
	if err := f.s.CreateServiceRequest(f.ctx, dup, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate accession = %v; want ErrConflict", err)
	}
	if got := f.list(store.OutboundQuery{}); len(got) != 2 {
		t.Errorf("a refused order left queued messages: %s", describeOutbound(got))
	}
}
