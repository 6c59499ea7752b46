package storetest

import (
	"errors"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// applyFixture is a lab message whose processing matched one report and
// queued an unmatched report, an unmatched study and an unmapped code.
type applyFixture struct {
	org      *domain.Organization
	user     *domain.User
	patient  *domain.Patient
	other    *domain.Patient // a second patient to attach to
	order    *domain.ServiceRequest
	device   *domain.Device
	msg      *domain.Message
	studyUID string
}

func newApplyFixture(e *ienv) *applyFixture {
	e.t.Helper()
	f := &applyFixture{}
	f.org = e.org("Клиника", withUIDRoot(UIDRoot))
	f.user = e.user("it", domain.Membership{OrganizationID: f.org.ID, Roles: []domain.Role{domain.RoleIT}})
	f.patient = e.patient(f.org.ID, "Иванов", "Иван")
	f.other = e.patient(f.org.ID, "Петров", "Пётр")
	f.order = e.order(NewLabOrder(f.org.ID, f.patient.ID, "2345-7", "1988-5"))
	f.device = e.device(f.org.ID, "Sysmex XN", domain.ProtocolHL7)
	f.msg = e.saveNew(f.org.ID, f.device.ID, "MSG00001", "5.5")
	f.studyUID = UIDRoot + ".9.1"
	return f
}

// result is what processing the message produces, built afresh each time
// (ApplyIngest sets IDs on it).
func (f *applyFixture) result() *store.IngestResult {
	return &store.IngestResult{
		Status: domain.MessageQueued,
		Reason: "3 items queued for reconciliation",
		Reports: []store.ReportSet{
			labReport(f.org.ID, f.patient.ID, f.order.ID, glucose(5.5), crp(0.4)),
			labReport(f.org.ID, 0, 0, glucose(7.1)),
		},
		Studies: []domain.ImagingStudy{unmatchedStudy(f.org.ID, f.studyUID)},
		Recon: []store.ReconDraft{
			draft("lab", domain.ReasonNoOrder, "barcode:0000000999", 1, -1),
			draft("imaging", domain.ReasonNoOrder, "study:"+f.studyUID, -1, 0),
			draft("lab", domain.ReasonUnmappedCode, "code:GLU2", -1, -1),
		},
	}
}

// wantItems checks the message's open items against the result's drafts.
func (f *applyFixture) wantItems(e *ienv, r *store.IngestResult) []domain.ReconItem {
	e.t.Helper()
	items := e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID), MessageID: f.msg.ID, Status: domain.ReconOpen})
	if len(items) != len(r.Recon) {
		e.t.Fatalf("open items of the message: %d, want %d: %s", len(items), len(r.Recon), js(items))
	}
	for i, it := range items {
		d := r.Recon[i]
		want := domain.ReconItem{ID: it.ID, OrganizationID: f.org.ID, MessageID: f.msg.ID, DeviceID: f.device.ID,
			Kind: d.Item.Kind, Reason: d.Item.Reason, Detail: d.Item.Detail, Key: d.Item.Key, Status: domain.ReconOpen}
		if d.Report >= 0 {
			want.ReportID = r.Reports[d.Report].Report.ID
		}
		if d.Study >= 0 {
			want.StudyID = r.Studies[d.Study].ID
		}
		sameJSON(e.t, "item "+d.Item.Key, normRecon(want), normRecon(it))
		if it.Created.IsZero() {
			e.t.Errorf("item %s: Created not set", d.Item.Key)
		}
		checkUTC(e.t, "item Created", it.Created)
	}
	return items
}

// wantChart checks that the patient's chart holds exactly the matched
// report of r with its observations, all from the message.
func (f *applyFixture) wantChart(e *ienv, r *store.IngestResult) {
	e.t.Helper()
	c := e.chart(ids(f.org.ID), f.patient.ID)
	rs := r.Reports[0]
	if len(c.Reports) != 1 || len(c.Observations) != len(rs.Observations) {
		e.t.Fatalf("chart: %d reports and %d observations, want 1 and %d: %s",
			len(c.Reports), len(c.Observations), len(rs.Observations), js(c))
	}
	got := c.Reports[0]
	if got.ID != rs.Report.ID || got.MessageID != f.msg.ID || got.PatientID != f.patient.ID || got.RequestID != f.order.ID {
		e.t.Errorf("chart report %s; want ID %d, message %d, patient %d, request %d",
			js(got), rs.Report.ID, f.msg.ID, f.patient.ID, f.order.ID)
	}
	for _, o := range c.Observations {
		if o.MessageID != f.msg.ID || o.ReportID != rs.Report.ID || o.PatientID != f.patient.ID || o.RequestID != f.order.ID {
			e.t.Errorf("chart observation %s; want message %d, report %d, patient %d, request %d",
				js(o), f.msg.ID, rs.Report.ID, f.patient.ID, f.order.ID)
		}
	}
	glu, err := e.s.PatientObservations(e.ctx, ids(f.org.ID), f.patient.ID, "2345-7")
	if err != nil || len(glu) != 1 {
		e.t.Errorf("PatientObservations(glucose): %d, %v; want 1", len(glu), err)
	}
}

func testApplyIngest(t *testing.T, open opener) {
	t.Run("WritesResults", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		before := e.getMsg(nil, f.msg.ID)
		r := f.result()
		e.apply(f.msg.ID, r)
		for i, rs := range r.Reports {
			if rs.Report.ID == 0 {
				t.Errorf("report %d: ID not set", i)
			}
			for j, o := range rs.Observations {
				if o.ID == 0 {
					t.Errorf("report %d observation %d: ID not set", i, j)
				}
			}
		}
		if r.Studies[0].ID == 0 {
			t.Fatal("study: ID not set")
		}
		f.wantChart(e, r)
		f.wantItems(e, r)
		m := e.wantStatus(f.msg.ID, domain.MessageQueued)
		if m.Reason != r.Reason || m.Attempts != 1 {
			t.Errorf("message after ApplyIngest: reason %q, attempts %d; want %q, 1", m.Reason, m.Attempts, r.Reason)
		}
		if m.Updated.Before(before.Updated) {
			t.Errorf("message Updated went back from %v to %v", before.Updated, m.Updated)
		}
		sameBytes(t, "raw bytes after ApplyIngest", hl7Bytes("MSG00001", "5.5"), m.Raw)
		// The study is written, unattached, and reaches a chart once attached.
		if list, err := e.s.PatientStudies(e.ctx, ids(f.org.ID), f.patient.ID); err != nil || len(list) != 0 {
			t.Errorf("PatientStudies before attaching: %d, %v; want none", len(list), err)
		}
	})
	t.Run("StatusAndReason", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		e.apply(f.msg.ID, &store.IngestResult{Status: domain.MessageError, Reason: "OBX-5: \"abc\" is not a number"})
		m := e.wantStatus(f.msg.ID, domain.MessageError)
		if m.Reason != "OBX-5: \"abc\" is not a number" || m.Attempts != 1 {
			t.Errorf("reason %q, attempts %d", m.Reason, m.Attempts)
		}
		e.apply(f.msg.ID, &store.IngestResult{Status: domain.MessageProcessed})
		m = e.wantStatus(f.msg.ID, domain.MessageProcessed)
		if m.Reason != "" || m.Attempts != 2 {
			t.Errorf("after reprocessing: reason %q, attempts %d; want \"\", 2", m.Reason, m.Attempts)
		}
	})
	t.Run("ReprocessReplaces", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		r1 := f.result()
		e.apply(f.msg.ID, r1)
		old := f.wantItems(e, r1)
		r2 := f.result()
		e.apply(f.msg.ID, r2)
		f.wantChart(e, r2)
		items := f.wantItems(e, r2)
		// The earlier run's open items are gone (an ID may come back on a
		// new item: the contract does not promise IDs are never reused).
		for _, status := range []string{domain.ReconOpen, domain.ReconAttached, domain.ReconRejected} {
			all := e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID), Status: status})
			want := []int64(nil)
			if status == domain.ReconOpen {
				want = reconIDs(items)
			}
			got := reconIDs(all)
			if len(got) == 0 {
				got = nil
			}
			sameIDs(t, status+" items in the organization after reprocessing", want, got)
		}
		if len(old) != len(items) {
			t.Errorf("first run queued %d items, second %d", len(old), len(items))
		}
		if m := e.getMsg(nil, f.msg.ID); m.Attempts != 2 {
			t.Errorf("attempts after two runs: %d, want 2", m.Attempts)
		}
		// A third run that attaches everything leaves nothing open.
		r3 := &store.IngestResult{Status: domain.MessageProcessed, Reports: []store.ReportSet{
			labReport(f.org.ID, f.patient.ID, f.order.ID, glucose(5.5), crp(0.4))}}
		e.apply(f.msg.ID, r3)
		f.wantChart(e, r3)
		if all := e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID), MessageID: f.msg.ID, Status: domain.ReconOpen}); len(all) != 0 {
			t.Errorf("open items after a run that queued none: %s", js(all))
		}
		if m := e.wantStatus(f.msg.ID, domain.MessageProcessed); m.Attempts != 3 {
			t.Errorf("attempts after three runs: %d, want 3", m.Attempts)
		}
	})
	t.Run("DecidedItemsSurvive", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		r1 := f.result()
		e.apply(f.msg.ID, r1)
		items := f.wantItems(e, r1)
		// Attach the unmatched report to the second patient, the study to
		// the first; reject the unmapped code.
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.org.ID), items[0].ID,
			store.ReconDecision{Attach: true, PatientID: f.other.ID, UserID: f.user.ID}, nil); err != nil {
			t.Fatalf("ResolveRecon(attach report): %v", err)
		}
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.org.ID), items[1].ID,
			store.ReconDecision{Attach: true, PatientID: f.patient.ID, UserID: f.user.ID}, nil); err != nil {
			t.Fatalf("ResolveRecon(attach study): %v", err)
		}
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.org.ID), items[2].ID,
			store.ReconDecision{UserID: f.user.ID, Note: "код не используется"}, nil); err != nil {
			t.Fatalf("ResolveRecon(reject): %v", err)
		}
		if c := e.chart(ids(f.org.ID), f.other.ID); len(c.Reports) != 1 || len(c.Observations) != 1 {
			t.Fatalf("second patient's chart after attaching: %d reports, %d observations; want 1, 1", len(c.Reports), len(c.Observations))
		}
		decided := map[int64]domain.ReconItem{}
		for _, it := range items {
			decided[it.ID] = *e.getRecon(ids(f.org.ID), it.ID)
		}

		r2 := f.result()
		e.apply(f.msg.ID, r2)
		f.wantChart(e, r2)
		f.wantItems(e, r2)
		// The report attached before came from this message: it is replaced
		// like every other result of it, not kept beside the new one.
		if c := e.chart(ids(f.org.ID), f.other.ID); len(c.Reports) != 0 || len(c.Observations) != 0 {
			t.Errorf("second patient's chart after reprocessing: %d reports, %d observations; want the old ones gone",
				len(c.Reports), len(c.Observations))
		}
		for _, it := range items {
			got, err := e.s.GetRecon(e.ctx, ids(f.org.ID), it.ID)
			if err != nil {
				t.Errorf("decided item %d after reprocessing: %v", it.ID, err)
				continue
			}
			want := decided[it.ID]
			want.ReportID, want.StudyID = 0, 0
			sameJSON(t, "decided item after reprocessing", normRecon(want), normRecon(*got))
		}
		for _, status := range []string{domain.ReconAttached, domain.ReconRejected} {
			n := len(e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID), MessageID: f.msg.ID, Status: status}))
			want := map[string]int{domain.ReconAttached: 2, domain.ReconRejected: 1}[status]
			if n != want {
				t.Errorf("%s items of the message after reprocessing: %d, want %d", status, n, want)
			}
		}
	})
	t.Run("UnknownMessage", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		err := e.s.ApplyIngest(e.ctx, 987654321, f.result())
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ApplyIngest(unknown message): %v, want store.ErrNotFound", err)
		}
		f.wantNothingWritten(e)
	})
	t.Run("FailureWritesNothing", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		r := f.result()
		// The last draft names a patient that does not exist: the whole
		// result fails, the reports written before it included.
		r.Recon[2].Item.PatientID = 987654321
		if err := e.s.ApplyIngest(e.ctx, f.msg.ID, r); err == nil {
			t.Fatal("ApplyIngest with a reconciliation item naming a missing patient succeeded")
		}
		f.wantNothingWritten(e)
		// The message can still be processed.
		e.apply(f.msg.ID, f.result())
		if m := e.getMsg(nil, f.msg.ID); m.Status != domain.MessageQueued || m.Attempts != 1 {
			t.Errorf("after a failed and a good run: status %q, attempts %d; want queued, 1", m.Status, m.Attempts)
		}
	})
}

// wantNothingWritten checks that no result reached the store and the
// message is as SaveMessage left it.
func (f *applyFixture) wantNothingWritten(e *ienv) {
	e.t.Helper()
	if c := e.chart(ids(f.org.ID), f.patient.ID); len(c.Reports)+len(c.Observations)+len(c.Studies) != 0 {
		e.t.Errorf("chart after a failed ApplyIngest: %s", js(c))
	}
	if items := e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID)}); len(items) != 0 {
		e.t.Errorf("reconciliation items after a failed ApplyIngest: %s", js(items))
	}
	if m := e.getMsg(nil, f.msg.ID); m.Status != domain.MessageReceived || m.Attempts != 0 || m.Reason != "" {
		e.t.Errorf("message after a failed ApplyIngest: status %q, reason %q, attempts %d; want received, \"\", 0",
			m.Status, m.Reason, m.Attempts)
	}
}
