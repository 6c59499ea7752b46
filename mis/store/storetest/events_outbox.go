package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testEvents checks store.EventStore: the outbox that ApplyIngest,
// SaveMessage and ResolveRecon write in their own transactions, read in id
// order and marked by the publisher.
func testEvents(t *testing.T, open opener) {
	t.Run("ApplyIngest", func(t *testing.T) { testEventsApply(t, open) })
	t.Run("ApplyIngestFails", func(t *testing.T) { testEventsApplyFails(t, open) })
	t.Run("Reprocess", func(t *testing.T) { testEventsReprocess(t, open) })
	t.Run("ResolveRecon", func(t *testing.T) { testEventsResolve(t, open) })
	t.Run("ResolveReconShared", func(t *testing.T) { testEventsResolveShared(t, open) })
	t.Run("ResolveReconFails", func(t *testing.T) { testEventsResolveFails(t, open) })
	t.Run("DuplicateConflict", func(t *testing.T) { testEventsConflict(t, open) })
	t.Run("PendingAndMark", func(t *testing.T) { testEventsPendingAndMark(t, open) })
	t.Run("Purge", func(t *testing.T) { testEventsPurge(t, open) })
}

// testEventsPurge: only delivered events older than the cut-off go, in
// bounded batches; pending ones stay however old.
func testEventsPurge(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newReconFixture(e)
	for range 5 {
		f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000018"))
	}
	all := e.pending()
	if err := e.s.MarkEventSent(e.ctx, all[0].ID, all[1].ID, all[2].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.PurgeSentEvents(e.ctx, time.Now().Add(-time.Hour), 0); err != nil || n != 0 {
		t.Fatalf("PurgeSentEvents(an hour ago) = %d, %v; want 0", n, err)
	}
	later := time.Now().Add(time.Hour)
	if n, err := e.s.PurgeSentEvents(e.ctx, later, 2); err != nil || n != 2 {
		t.Fatalf("PurgeSentEvents(limit 2) = %d, %v; want 2", n, err)
	}
	if n, err := e.s.PurgeSentEvents(e.ctx, later, 100); err != nil || n != 1 {
		t.Fatalf("PurgeSentEvents(rest) = %d, %v; want 1", n, err)
	}
	if got := e.pending(); len(got) != 2 || got[0].ID != all[3].ID || got[1].ID != all[4].ID {
		t.Errorf("pending after purge: %s", payloads(got))
	}
}

// pending lists every unsent event, checking order and what every event
// must hold.
func (e *ienv) pending() []domain.OutboxEvent {
	e.t.Helper()
	list, err := e.s.PendingEvents(e.ctx, 1000)
	if err != nil {
		e.t.Fatalf("PendingEvents: %v", err)
	}
	for i, ev := range list {
		if ev.ID == 0 || ev.Sent != nil || ev.Created.IsZero() {
			e.t.Errorf("pending event %s: want an ID, Created and no Sent", js(ev))
		}
		checkUTC(e.t, "event Created", ev.Created)
		if i > 0 && ev.ID <= list[i-1].ID {
			e.t.Errorf("PendingEvents not in id order: %d after %d", ev.ID, list[i-1].ID)
		}
		wantIDsOnly(e.t, ev)
	}
	return list
}

// wantIDsOnly checks that an event's payload is a JSON object of numbers,
// besides its kind and the item's reason and status codes: no names, values,
// identifiers or displays leave in an event.
func wantIDsOnly(t *testing.T, ev domain.OutboxEvent) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Payload, &m); err != nil {
		t.Errorf("event %d payload %s: %v", ev.ID, ev.Payload, err)
		return
	}
	for k, v := range m {
		switch k {
		case "kind", "reason", "status":
			if _, ok := v.(string); !ok {
				t.Errorf("event %d: %q = %v, want a string code", ev.ID, k, v)
			}
		default:
			if _, ok := v.(float64); !ok {
				t.Errorf("event %d: %q = %v: only ids and counts may leave in an event", ev.ID, k, v)
			}
		}
	}
	if m["kind"] != ev.Kind {
		t.Errorf("event %d: payload kind %v, row kind %q", ev.ID, m["kind"], ev.Kind)
	}
}

// wantEvents compares events with the wanted payloads, in order; payloads
// are compared as JSON objects.
func wantEvents(t *testing.T, what string, got []domain.OutboxEvent, want ...any) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d events, want %d:\n got  %s\n want %s", what, len(got), len(want), payloads(got), js(want))
		return
	}
	for i, w := range want {
		var g, wm map[string]any
		_ = json.Unmarshal(got[i].Payload, &g)
		_ = json.Unmarshal([]byte(js(w)), &wm)
		if js(g) != js(wm) {
			t.Errorf("%s: event %d:\n got  %s\n want %s", what, i, got[i].Payload, js(w))
		}
		if org, _ := wm["org"].(float64); got[i].OrganizationID != int64(org) {
			t.Errorf("%s: event %d: OrganizationID %d, want %v", what, i, got[i].OrganizationID, wm["org"])
		}
	}
}

func payloads(list []domain.OutboxEvent) string {
	out := "["
	for i, ev := range list {
		if i > 0 {
			out += ","
		}
		out += string(ev.Payload)
	}
	return out + "]"
}

func resultEv(org, report, patient, request, message int64, obs int) domain.ResultEvent {
	return domain.ResultEvent{Kind: domain.EventResult, Org: org, Report: report, Patient: patient,
		Request: request, Message: message, Observations: obs}
}

func studyEv(org, study, patient, request, message int64, instances int) domain.StudyEvent {
	return domain.StudyEvent{Kind: domain.EventStudy, Org: org, Study: study, Patient: patient,
		Request: request, Message: message, Instances: instances}
}

func reconEv(it domain.ReconItem, status string) domain.ReconEvent {
	return domain.ReconEvent{Kind: domain.EventReconciliation, Org: it.OrganizationID, Item: it.ID,
		Reason: it.Reason, Status: status, Message: it.MessageID}
}

// applyEvents is what applying f.result() must enqueue.
func (f *applyFixture) applyEvents(r *store.IngestResult, items []domain.ReconItem) []any {
	return []any{
		resultEv(f.org.ID, r.Reports[0].Report.ID, f.patient.ID, f.order.ID, f.msg.ID, 2),
		studyEv(f.org.ID, r.Studies[0].ID, 0, 0, f.msg.ID, 2),
		reconEv(items[0], domain.ReconOpen),
		reconEv(items[1], domain.ReconOpen),
		reconEv(items[2], domain.ReconOpen),
	}
}

func testEventsApply(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newApplyFixture(e)
	if got := e.pending(); len(got) != 0 {
		t.Fatalf("events before ApplyIngest: %s", payloads(got))
	}
	r := f.result()
	e.apply(f.msg.ID, r)
	items := f.wantItems(e, r)
	// The unmatched report (no patient) makes no result event.
	wantEvents(t, "after ApplyIngest", e.pending(), f.applyEvents(r, items)...)
}

func testEventsApplyFails(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newApplyFixture(e)
	r := f.result()
	r.Recon[2].Item.PatientID = 987654321 // fails after the reports and the study are written
	if err := e.s.ApplyIngest(e.ctx, f.msg.ID, r); err == nil {
		t.Fatal("ApplyIngest with a reconciliation item naming a missing patient succeeded")
	}
	if got := e.pending(); len(got) != 0 {
		t.Errorf("events after a failed ApplyIngest: %s", payloads(got))
	}
	if err := e.s.ApplyIngest(e.ctx, 987654321, f.result()); err == nil {
		t.Error("ApplyIngest(unknown message) succeeded")
	}
	if got := e.pending(); len(got) != 0 {
		t.Errorf("events after ApplyIngest of an unknown message: %s", payloads(got))
	}
	r = f.result()
	e.apply(f.msg.ID, r)
	wantEvents(t, "after a good run", e.pending(), f.applyEvents(r, f.wantItems(e, r))...)
}

func testEventsReprocess(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newApplyFixture(e)
	r1 := f.result()
	e.apply(f.msg.ID, r1)
	want := f.applyEvents(r1, f.wantItems(e, r1))
	r2 := f.result()
	e.apply(f.msg.ID, r2)
	// At least once: the second run announces its results again, under the
	// ids it wrote — but not the study, which it did not change (a study
	// is announced when it appears, is attached elsewhere, or completes,
	// not once per instance).
	again := f.applyEvents(r2, f.wantItems(e, r2))
	want = append(want, again[0])
	want = append(want, again[2:]...)
	wantEvents(t, "after processing twice", e.pending(), want...)
}

func testEventsResolve(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newApplyFixture(e)
	r := f.result()
	e.apply(f.msg.ID, r)
	items := f.wantItems(e, r)
	before := e.pending()
	last := before[len(before)-1].ID
	since := func() []domain.OutboxEvent {
		var out []domain.OutboxEvent
		for _, ev := range e.pending() {
			if ev.ID > last {
				out = append(out, ev)
				last = ev.ID
			}
		}
		return out
	}

	// The unmatched report goes to the second patient, without an order.
	if _, err := e.s.ResolveRecon(e.ctx, ids(f.org.ID), items[0].ID,
		store.ReconDecision{Attach: true, PatientID: f.other.ID, UserID: f.user.ID}, nil); err != nil {
		t.Fatalf("ResolveRecon(attach report): %v", err)
	}
	wantEvents(t, "after attaching the report", since(),
		reconEv(items[0], domain.ReconAttached),
		resultEv(f.org.ID, r.Reports[1].Report.ID, f.other.ID, 0, f.msg.ID, 1))

	// The study goes to the first patient and the order.
	if _, err := e.s.ResolveRecon(e.ctx, ids(f.org.ID), items[1].ID,
		store.ReconDecision{Attach: true, PatientID: f.patient.ID, RequestID: f.order.ID, UserID: f.user.ID}, nil); err != nil {
		t.Fatalf("ResolveRecon(attach study): %v", err)
	}
	wantEvents(t, "after attaching the study", since(),
		reconEv(items[1], domain.ReconAttached),
		studyEv(f.org.ID, r.Studies[0].ID, f.patient.ID, f.order.ID, f.msg.ID, 2))

	if _, err := e.s.ResolveRecon(e.ctx, ids(f.org.ID), items[2].ID,
		store.ReconDecision{UserID: f.user.ID, Note: "код не используется"}, nil); err != nil {
		t.Fatalf("ResolveRecon(reject): %v", err)
	}
	wantEvents(t, "after rejecting", since(), reconEv(items[2], domain.ReconRejected))
}

// One decision resolves every open item under the same key: each is
// announced, with the result it attached.
func testEventsResolveShared(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newReconFixture(e)
	_, r1, m1 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000018"))
	_, r2, m2 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000018"))
	queued := e.pending()
	wantEvents(t, "after queueing", queued, reconEv(m1[0], domain.ReconOpen), reconEv(m2[0], domain.ReconOpen))
	if err := e.s.MarkEventSent(e.ctx, queued[0].ID, queued[1].ID); err != nil {
		t.Fatalf("MarkEventSent: %v", err)
	}
	if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), m1[0].ID,
		store.ReconDecision{Attach: true, PatientID: f.p.ID, RequestID: f.order.ID, UserID: f.user.ID}, nil); err != nil {
		t.Fatalf("ResolveRecon: %v", err)
	}
	wantEvents(t, "after one decision on a shared key", e.pending(),
		reconEv(m1[0], domain.ReconAttached),
		resultEv(f.a.ID, r1.Reports[0].Report.ID, f.p.ID, f.order.ID, m1[0].MessageID, 2),
		reconEv(m2[0], domain.ReconAttached),
		resultEv(f.a.ID, r2.Reports[0].Report.ID, f.p.ID, f.order.ID, m2[0].MessageID, 2))
}

func testEventsResolveFails(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newReconFixture(e)
	_, _, items := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000018"),
		queueSpec{kind: "lab", reason: domain.ReasonUnmappedCode, key: "code:GLU2"})
	n := len(e.pending())
	for _, c := range []struct {
		name string
		id   int64
		d    store.ReconDecision
	}{
		{"unmapped code", items[1].ID, store.ReconDecision{Attach: true, PatientID: f.p.ID, UserID: f.user.ID}},
		{"other organization's patient", items[0].ID, store.ReconDecision{Attach: true, PatientID: f.x.ID, UserID: f.user.ID}},
		{"another patient's order", items[0].ID, store.ReconDecision{Attach: true, PatientID: f.p.ID, RequestID: f.qOrder.ID, UserID: f.user.ID}},
	} {
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), c.id, c.d, nil); err == nil {
			t.Errorf("ResolveRecon(%s) succeeded", c.name)
		}
	}
	if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID, store.ReconDecision{UserID: f.user.ID}, nil); err != nil {
		t.Fatalf("ResolveRecon(reject): %v", err)
	}
	if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID, store.ReconDecision{UserID: f.user.ID}, nil); err == nil {
		t.Error("ResolveRecon of a decided item succeeded")
	}
	got := e.pending()
	if len(got) != n+1 {
		t.Fatalf("events after failed decisions and one rejection: %d new, want 1: %s", len(got)-n, payloads(got[n:]))
	}
	wantEvents(t, "the rejection", got[n:], reconEv(items[0], domain.ReconRejected))
}

// A conflicting resend is queued by SaveMessage and announced with it.
func testEventsConflict(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newReconFixture(e)
	_, _, it := f.conflict(e, "MSG00042")
	wantEvents(t, "after a conflicting resend", e.pending(), reconEv(it, domain.ReconOpen))
}

func testEventsPendingAndMark(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newReconFixture(e)
	start := time.Now().Add(-time.Second)
	for range 5 {
		f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000018"))
	}
	all := e.pending()
	if len(all) != 5 {
		t.Fatalf("pending: %d events, want 5: %s", len(all), payloads(all))
	}
	for _, ev := range all {
		if ev.Kind != domain.EventReconciliation || ev.OrganizationID != f.a.ID || ev.Attempts != 0 || ev.LastError != "" {
			t.Errorf("new event %s", js(ev))
		}
		if ev.Created.Before(start) || ev.Created.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d Created %v, want about now", ev.ID, ev.Created)
		}
	}
	evIDs := func(list []domain.OutboxEvent) []int64 {
		out := []int64{}
		for _, ev := range list {
			out = append(out, ev.ID)
		}
		return out
	}
	first, err := e.s.PendingEvents(e.ctx, 2)
	if err != nil {
		t.Fatalf("PendingEvents(2): %v", err)
	}
	sameIDs(t, "PendingEvents(2)", evIDs(all[:2]), evIDs(first))

	if err := e.s.MarkEventSent(e.ctx, all[0].ID, all[1].ID); err != nil {
		t.Fatalf("MarkEventSent: %v", err)
	}
	sameIDs(t, "pending after marking two sent", evIDs(all[2:]), evIDs(e.pending()))

	reason := "connect tcp 127.0.0.1:1883: connection refused"
	if err := e.s.MarkEventFailed(e.ctx, all[2].ID, reason); err != nil {
		t.Fatalf("MarkEventFailed: %v", err)
	}
	if err := e.s.MarkEventFailed(e.ctx, all[2].ID, "timeout waiting for PUBACK"); err != nil {
		t.Fatalf("MarkEventFailed: %v", err)
	}
	got := e.pending()
	sameIDs(t, "pending after a failed delivery", evIDs(all[2:]), evIDs(got))
	if got[0].Attempts != 2 || got[0].LastError != "timeout waiting for PUBACK" {
		t.Errorf("failed event: attempts %d, last error %q; want 2, the last reason", got[0].Attempts, got[0].LastError)
	}
	if got[1].Attempts != 0 || got[1].LastError != "" {
		t.Errorf("the next event changed: %s", js(got[1]))
	}
	// A long reason is kept, cut to what the store keeps, as valid text.
	long := string(slices.Repeat([]rune("ошибка "), 200))
	if err := e.s.MarkEventFailed(e.ctx, all[3].ID, long); err != nil {
		t.Fatalf("MarkEventFailed(long reason): %v", err)
	}
	if got := e.pending()[1].LastError; got == "" || !utf8.ValidString(got) || !strings.HasPrefix(long, got) {
		t.Errorf("long reason stored as %q", got)
	}

	// Marking again, marking a failed one sent, and unknown ids are fine.
	if err := e.s.MarkEventSent(e.ctx, all[0].ID, all[2].ID, all[3].ID, 987654321); err != nil {
		t.Fatalf("MarkEventSent(again, failed, unknown): %v", err)
	}
	if err := e.s.MarkEventSent(e.ctx); err != nil {
		t.Fatalf("MarkEventSent(no ids): %v", err)
	}
	if err := e.s.MarkEventFailed(e.ctx, all[0].ID, "late failure"); err != nil {
		t.Fatalf("MarkEventFailed(sent): %v", err)
	}
	sameIDs(t, "pending at the end", evIDs(all[4:]), evIDs(e.pending()))
	// A sent event never comes back, even after a late failure report.
	if err := e.s.MarkEventSent(e.ctx, all[4].ID); err != nil {
		t.Fatal(err)
	}
	if got := e.pending(); len(got) != 0 {
		t.Errorf("pending after marking all sent: %s", payloads(got))
	}
}
