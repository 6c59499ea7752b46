package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// reconFixture is two organizations with patients, orders and devices.
type reconFixture struct {
	a, b     *domain.Organization
	user     *domain.User
	p, q, x  *domain.Patient // p and q in A, x in B
	order    *domain.ServiceRequest
	qOrder   *domain.ServiceRequest
	dev      *domain.Device
	devB     *domain.Device
	serialNo int
}

func newReconFixture(e *ienv) *reconFixture {
	e.t.Helper()
	f := &reconFixture{}
	f.a, f.b = e.org("Альфа", withUIDRoot(UIDRoot)), e.org("Бета")
	f.user = e.user("it", domain.Membership{OrganizationID: f.a.ID, Roles: []domain.Role{domain.RoleIT}},
		domain.Membership{OrganizationID: f.b.ID, Roles: []domain.Role{domain.RoleIT}})
	f.p = e.patient(f.a.ID, "Иванов", "Иван")
	f.q = e.patient(f.a.ID, "Петров", "Пётр")
	f.x = e.patient(f.b.ID, "Сидоров", "Сидор")
	f.order = e.order(NewLabOrder(f.a.ID, f.p.ID, "2345-7", "1988-5"))
	f.qOrder = e.order(NewLabOrder(f.a.ID, f.q.ID, "2345-7"))
	f.dev = e.device(f.a.ID, "Sysmex XN", domain.ProtocolHL7)
	f.devB = e.device(f.b.ID, "Sysmex XN", domain.ProtocolHL7)
	return f
}

func (f *reconFixture) queue(e *ienv, dev *domain.Device, specs ...queueSpec) (*domain.Message, *store.IngestResult, []domain.ReconItem) {
	e.t.Helper()
	f.serialNo++
	return e.queue(dev, f.serialNo, specs...)
}

// conflict stores a message and a resend of its key with other bytes and
// returns the resend and its duplicate_conflict item.
func (f *reconFixture) conflict(e *ienv, key string) (*domain.Message, *domain.Message, domain.ReconItem) {
	e.t.Helper()
	first := e.saveNew(f.a.ID, f.dev.ID, key, "5.5")
	m := NewInboundMessage(f.a.ID, f.dev.ID, domain.ProtocolHL7, key, hl7Bytes(key, "8.8"))
	e.save(m)
	items := e.reconAll(store.ReconQuery{Orgs: ids(f.a.ID), MessageID: m.ID})
	if m.Status != domain.MessageQueued || len(items) != 1 || items[0].Reason != domain.ReasonDuplicateConflict {
		e.t.Fatalf("conflicting resend: status %q, items %s", m.Status, js(items))
	}
	return first, m, items[0]
}

func qLab(reason, key string) queueSpec {
	return queueSpec{kind: "lab", reason: reason, key: key, report: true}
}
func qImage(reason, key string) queueSpec {
	return queueSpec{kind: "imaging", reason: reason, key: key, study: true}
}

func testListRecon(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newReconFixture(e)
	_, _, m1 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000018"), qImage(domain.ReasonNoOrder, "study:1.2.3"))
	msg2, _, m2 := f.queue(e, f.dev, qLab(domain.ReasonUnknownPatient, "pid:urn:x|1"),
		queueSpec{kind: "lab", reason: domain.ReasonUnmappedCode, key: "code:GLU2"})
	_, _, mb := f.queue(e, f.devB, qLab(domain.ReasonNoOrder, "barcode:0000000018"))
	_, _, dup := f.conflict(e, "MSG09999")
	i1, i2, i3, i4, j1, i5 := m1[0], m1[1], m2[0], m2[1], mb[0], dup
	if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), i3.ID, store.ReconDecision{UserID: f.user.ID, Note: "не наш"}, nil); err != nil {
		t.Fatalf("ResolveRecon(reject): %v", err)
	}
	for _, c := range []struct {
		name string
		q    store.ReconQuery
		want []domain.ReconItem
	}{
		{"DefaultOpen", store.ReconQuery{Orgs: ids(f.a.ID)}, []domain.ReconItem{i1, i2, i4, i5}},
		{"Open", store.ReconQuery{Orgs: ids(f.a.ID), Status: domain.ReconOpen}, []domain.ReconItem{i1, i2, i4, i5}},
		{"Rejected", store.ReconQuery{Orgs: ids(f.a.ID), Status: domain.ReconRejected}, []domain.ReconItem{i3}},
		{"Attached", store.ReconQuery{Orgs: ids(f.a.ID), Status: domain.ReconAttached}, nil},
		{"Reason", store.ReconQuery{Orgs: ids(f.a.ID), Reason: domain.ReasonNoOrder}, []domain.ReconItem{i1, i2}},
		{"ReasonDuplicateConflict", store.ReconQuery{Orgs: ids(f.a.ID), Reason: domain.ReasonDuplicateConflict}, []domain.ReconItem{i5}},
		{"Kind", store.ReconQuery{Orgs: ids(f.a.ID), Kind: "imaging"}, []domain.ReconItem{i2}},
		{"KindAndReason", store.ReconQuery{Orgs: ids(f.a.ID), Kind: "lab", Reason: domain.ReasonNoOrder}, []domain.ReconItem{i1}},
		{"Message", store.ReconQuery{Orgs: ids(f.a.ID), MessageID: msg2.ID}, []domain.ReconItem{i4}},
		{"MessageRejected", store.ReconQuery{Orgs: ids(f.a.ID), MessageID: msg2.ID, Status: domain.ReconRejected}, []domain.ReconItem{i3}},
		{"MessageOfAnotherOrganization", store.ReconQuery{Orgs: ids(f.b.ID), MessageID: msg2.ID}, nil},
		{"OtherOrganization", store.ReconQuery{Orgs: ids(f.b.ID)}, []domain.ReconItem{j1}},
		{"BothOrganizations", store.ReconQuery{Orgs: ids(f.a.ID, f.b.ID)}, []domain.ReconItem{i1, i2, i4, j1, i5}},
		{"NoOrganizations", store.ReconQuery{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := e.reconAll(c.q)
			if c.name == "Rejected" || c.name == "MessageRejected" {
				// Compare the decision's fields apart.
				for i := range got {
					if got[i].Status != domain.ReconRejected || got[i].DecidedBy != f.user.ID || got[i].Decided.IsZero() || got[i].Note != "не наш" {
						t.Errorf("rejected item %s", js(got[i]))
					}
				}
				sameIDs(t, "ListRecon "+js(c.q), reconIDs(c.want), reconIDs(got))
				return
			}
			sameJSON(t, "ListRecon "+js(c.q), normRecons(c.want), normRecons(got))
		})
	}
	t.Run("Pagination", func(t *testing.T) {
		pages := walk(t, "ListRecon", func(cursor string) ([]domain.ReconItem, string, error) {
			return e.s.ListRecon(e.ctx, store.ReconQuery{Orgs: ids(f.a.ID), Status: domain.ReconOpen, Page: store.Page{Limit: 3, Cursor: cursor}})
		})
		if sizes := pageSizes(pages); !slices.Equal(sizes, []int{3, 1}) {
			t.Errorf("page sizes %v, want [3 1]", sizes)
		}
		sameIDs(t, "pages concatenated, oldest first", ids(i1.ID, i2.ID, i4.ID, i5.ID), reconIDs(concat(pages)))
	})
	t.Run("GetRecon", func(t *testing.T) {
		for _, it := range []domain.ReconItem{i1, i2, i5} {
			sameJSON(t, "GetRecon", normRecon(it), normRecon(*e.getRecon(ids(f.a.ID), it.ID)))
			sameJSON(t, "GetRecon (both organizations)", normRecon(it), normRecon(*e.getRecon(ids(f.b.ID, f.a.ID), it.ID)))
			_, err := e.s.GetRecon(e.ctx, ids(f.b.ID), it.ID)
			wantNotFound(t, "GetRecon from another organization", err)
		}
		_, err := e.s.GetRecon(e.ctx, ids(f.a.ID), 987654321)
		wantNotFound(t, "GetRecon(unknown id)", err)
	})
}

// wantDecided checks items returned by ResolveRecon and as stored.
func wantDecided(e *ienv, what string, orgs []int64, got []domain.ReconItem, want []int64, status string, d store.ReconDecision) {
	e.t.Helper()
	sameIDs(e.t, what+": resolved items", sortedIDs(want), sortedIDs(reconIDs(got)))
	for _, it := range got {
		wantPatient, wantRequest := int64(0), int64(0)
		if status == domain.ReconAttached {
			wantPatient, wantRequest = d.PatientID, d.RequestID
		}
		if it.Status != status || it.PatientID != wantPatient || it.RequestID != wantRequest ||
			it.DecidedBy != d.UserID || it.Note != d.Note || it.Decided.IsZero() {
			e.t.Errorf("%s: item %s; want %s, patient %d, request %d, decided by %d with note %q",
				what, js(it), status, wantPatient, wantRequest, d.UserID, d.Note)
		}
		checkUTC(e.t, "Decided", it.Decided)
		sameJSON(e.t, what+": stored item", normRecon(it), normRecon(*e.getRecon(orgs, it.ID)))
	}
}

func (e *ienv) wantOpen(orgs []int64, items ...domain.ReconItem) {
	e.t.Helper()
	for _, it := range items {
		got := e.getRecon(orgs, it.ID)
		sameJSON(e.t, "item still open", normRecon(it), normRecon(*got))
	}
}

func testResolveRecon(t *testing.T, open opener) {
	t.Run("AttachByKey", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		key := "barcode:0000000999"
		m1, r1, items1 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, key), qImage(domain.ReasonNoOrder, "study:"+UIDRoot+".5"))
		m2, r2, items2 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, key))
		m3, _, items3 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000777"))
		mb, _, itemsB := f.queue(e, f.devB, qLab(domain.ReasonNoOrder, key))

		d := store.ReconDecision{Attach: true, PatientID: f.p.ID, RequestID: f.order.ID, Note: "штрихкод переклеен", UserID: f.user.ID}
		ev := NewAudit(f.a.ID, domain.ActionUpdate, "recon.attach")
		ev.UserID = f.user.ID
		done, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items1[0].ID, d, ev)
		if err != nil {
			t.Fatalf("ResolveRecon(attach): %v", err)
		}
		wantDecided(e, "attach", ids(f.a.ID), done, ids(items1[0].ID, items2[0].ID), domain.ReconAttached, d)
		e.wantOpen(ids(f.a.ID), items1[1], items3[0])
		e.wantOpen(ids(f.b.ID), itemsB[0])
		if got := e.wantOneAudit(ids(f.a.ID), "recon.attach"); got.UserID != f.user.ID {
			t.Errorf("audit %s", js(got))
		}

		c := e.chart(ids(f.a.ID), f.p.ID)
		wantReports := sortedIDs(ids(r1.Reports[0].Report.ID, r2.Reports[0].Report.ID))
		var gotReports []int64
		for _, r := range c.Reports {
			gotReports = append(gotReports, r.ID)
			if r.PatientID != f.p.ID || r.RequestID != f.order.ID {
				t.Errorf("attached report %d: patient %d, request %d; want %d, %d", r.ID, r.PatientID, r.RequestID, f.p.ID, f.order.ID)
			}
		}
		sameIDs(t, "reports in the chart after attaching", wantReports, sortedIDs(gotReports))
		if len(c.Observations) != 4 {
			t.Errorf("observations in the chart: %d, want 4", len(c.Observations))
		}
		for _, o := range c.Observations {
			if o.PatientID != f.p.ID || o.RequestID != f.order.ID {
				t.Errorf("attached observation %d: patient %d, request %d; want %d, %d", o.ID, o.PatientID, o.RequestID, f.p.ID, f.order.ID)
			}
		}
		e.wantStatus(m1.ID, domain.MessageQueued) // its study is still open
		e.wantStatus(m2.ID, domain.MessageProcessed)
		e.wantStatus(m3.ID, domain.MessageQueued)
		e.wantStatus(mb.ID, domain.MessageQueued)

		// The study: attached without an order.
		d2 := store.ReconDecision{Attach: true, PatientID: f.p.ID, UserID: f.user.ID}
		done, err = e.s.ResolveRecon(e.ctx, ids(f.a.ID), items1[1].ID, d2, nil)
		if err != nil {
			t.Fatalf("ResolveRecon(attach study): %v", err)
		}
		wantDecided(e, "attach study", ids(f.a.ID), done, ids(items1[1].ID), domain.ReconAttached, d2)
		studies, err := e.s.PatientStudies(e.ctx, ids(f.a.ID), f.p.ID)
		if err != nil || len(studies) != 1 || studies[0].ID != r1.Studies[0].ID || studies[0].PatientID != f.p.ID {
			t.Errorf("PatientStudies after attaching: %s, %v; want study %d", js(studies), err, r1.Studies[0].ID)
		}
		e.wantStatus(m1.ID, domain.MessageProcessed)
	})
	t.Run("AttachSetsStudyRequest", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		img := e.order(NewImagingOrder(f.a.ID, f.p.ID, "CT", "КЛКТ"))
		_, r, items := f.queue(e, f.dev, qImage(domain.ReasonNoOrder, "study:"+UIDRoot+".6"))
		d := store.ReconDecision{Attach: true, PatientID: f.p.ID, RequestID: img.ID, UserID: f.user.ID}
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID, d, nil); err != nil {
			t.Fatalf("ResolveRecon: %v", err)
		}
		studies, err := e.s.PatientStudies(e.ctx, ids(f.a.ID), f.p.ID)
		if err != nil || len(studies) != 1 || studies[0].ID != r.Studies[0].ID || studies[0].RequestID != img.ID {
			t.Errorf("PatientStudies after attaching: %s, %v; want study %d of order %d", js(studies), err, r.Studies[0].ID, img.ID)
		}
	})
	t.Run("AttachRefused", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		m1, _, items := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000999"))
		m2, _, same := f.queue(e, f.dev, qLab(domain.ReasonUnknownPatient, "barcode:0000000999"))
		m3, _, unmapped := f.queue(e, f.dev, queueSpec{kind: "lab", reason: domain.ReasonUnmappedCode, key: "code:GLU2", report: true})
		_, conflictMsg, dup := f.conflict(e, "MSG07777")
		it := items[0]
		audit := func() *domain.AuditEvent { return NewAudit(f.a.ID, domain.ActionUpdate, "storetest.refused") }
		attach := func(id, patient, request int64) error {
			_, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), id,
				store.ReconDecision{Attach: true, PatientID: patient, RequestID: request, UserID: f.user.ID}, audit())
			return err
		}
		wantFieldError(t, "attach without a patient", attach(it.ID, 0, 0), "patient")
		wantFieldError(t, "attach to another organization's patient", attach(it.ID, f.x.ID, 0), "patient")
		wantFieldError(t, "attach to an unknown patient", attach(it.ID, 987654321, 0), "patient")
		wantFieldError(t, "attach with another patient's order", attach(it.ID, f.p.ID, f.qOrder.ID), "request")
		wantFieldError(t, "attach with an unknown order", attach(it.ID, f.p.ID, 987654321), "request")
		wantAnyConflict(t, "attach an unmapped_code item", attach(unmapped[0].ID, f.p.ID, 0))
		wantAnyConflict(t, "attach a duplicate_conflict item", attach(dup.ID, f.p.ID, 0))
		_, err := e.s.ResolveRecon(e.ctx, ids(f.b.ID), it.ID, store.ReconDecision{Attach: true, PatientID: f.x.ID, UserID: f.user.ID}, audit())
		wantNotFound(t, "ResolveRecon from another organization", err)
		_, err = e.s.ResolveRecon(e.ctx, ids(f.b.ID), it.ID, store.ReconDecision{UserID: f.user.ID}, audit())
		wantNotFound(t, "reject from another organization", err)
		_, err = e.s.ResolveRecon(e.ctx, ids(f.a.ID), 987654321, store.ReconDecision{UserID: f.user.ID}, audit())
		wantNotFound(t, "ResolveRecon(unknown id)", err)

		e.wantOpen(ids(f.a.ID), it, same[0], unmapped[0], dup)
		e.wantNoAudit(ids(f.a.ID, f.b.ID), "storetest.refused")
		if c := e.chart(ids(f.a.ID), f.p.ID); len(c.Reports)+len(c.Observations) != 0 {
			t.Errorf("refused attaches changed the chart: %s", js(c))
		}
		for _, m := range []*domain.Message{m1, m2, m3, conflictMsg} {
			e.wantStatus(m.ID, domain.MessageQueued)
		}
	})
	t.Run("Reject", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		m, _, items := f.queue(e, f.dev, qLab(domain.ReasonUnknownPatient, "pid:urn:x|1"), qLab(domain.ReasonUnknownPatient, "pid:urn:x|2"))
		d := store.ReconDecision{Note: "контрольный материал", UserID: f.user.ID}
		done, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID, d, NewAudit(f.a.ID, domain.ActionUpdate, "recon.reject"))
		if err != nil {
			t.Fatalf("ResolveRecon(reject): %v", err)
		}
		wantDecided(e, "reject", ids(f.a.ID), done, ids(items[0].ID), domain.ReconRejected, d)
		e.wantOpen(ids(f.a.ID), items[1])
		e.wantStatus(m.ID, domain.MessageQueued)
		done, err = e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[1].ID, d, NewAudit(f.a.ID, domain.ActionUpdate, "recon.reject"))
		if err != nil {
			t.Fatalf("ResolveRecon(reject second): %v", err)
		}
		wantDecided(e, "reject second", ids(f.a.ID), done, ids(items[1].ID), domain.ReconRejected, d)
		e.wantStatus(m.ID, domain.MessageRejected)
		if n := len(e.auditEvents(ids(f.a.ID), "recon.reject")); n != 2 {
			t.Errorf("recon.reject audit events: %d, want 2", n)
		}

		// Decided items are not decided again, either way.
		for _, attach := range []bool{false, true} {
			_, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID,
				store.ReconDecision{Attach: attach, PatientID: f.p.ID, UserID: f.user.ID}, NewAudit(f.a.ID, domain.ActionUpdate, "storetest.again"))
			wantConflict(t, "resolving a rejected item", err, "status")
		}
		e.wantNoAudit(ids(f.a.ID), "storetest.again")
		if c := e.chart(ids(f.a.ID), f.p.ID); len(c.Reports) != 0 {
			t.Errorf("rejected results reached a chart: %s", js(c.Reports))
		}
	})
	t.Run("RejectByKey", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		m1, _, i1 := f.queue(e, f.dev, qLab(domain.ReasonUnknownPatient, "pid:urn:x|3"))
		m2, _, i2 := f.queue(e, f.dev, qLab(domain.ReasonUnknownPatient, "pid:urn:x|3"))
		d := store.ReconDecision{UserID: f.user.ID}
		done, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), i2[0].ID, d, nil)
		if err != nil {
			t.Fatalf("ResolveRecon: %v", err)
		}
		wantDecided(e, "reject by key", ids(f.a.ID), done, ids(i1[0].ID, i2[0].ID), domain.ReconRejected, d)
		e.wantStatus(m1.ID, domain.MessageRejected)
		e.wantStatus(m2.ID, domain.MessageRejected)
	})
	// Unmapped codes share a key across patients ("codes:PLT"): deciding
	// one message's item must not decide another patient's.
	t.Run("RejectUnmappedCodeAlone", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		m1, _, i1 := f.queue(e, f.dev, qLab(domain.ReasonUnmappedCode, "codes:PLT"))
		m2, _, i2 := f.queue(e, f.dev, qLab(domain.ReasonUnmappedCode, "codes:PLT"))
		d := store.ReconDecision{UserID: f.user.ID}
		done, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), i2[0].ID, d, nil)
		if err != nil {
			t.Fatalf("ResolveRecon: %v", err)
		}
		wantDecided(e, "reject one unmapped item", ids(f.a.ID), done, ids(i2[0].ID), domain.ReconRejected, d)
		e.wantStatus(m2.ID, domain.MessageRejected)
		e.wantStatus(m1.ID, domain.MessageQueued)
		if it, err := e.s.GetRecon(e.ctx, ids(f.a.ID), i1[0].ID); err != nil || it.Status != domain.ReconOpen {
			t.Errorf("the other message's item: %+v, %v", it, err)
		}
	})
	t.Run("RejectDuplicateConflict", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		first, m, it := f.conflict(e, "MSG05555")
		d := store.ReconDecision{UserID: f.user.ID, Note: "повтор с другим значением"}
		done, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), it.ID, d, nil)
		if err != nil {
			t.Fatalf("ResolveRecon(reject conflict): %v", err)
		}
		wantDecided(e, "reject conflict", ids(f.a.ID), done, ids(it.ID), domain.ReconRejected, d)
		e.wantStatus(m.ID, domain.MessageRejected)
		e.wantStatus(first.ID, domain.MessageReceived)
	})
	t.Run("AttachAndReject", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newReconFixture(e)
		m, _, items := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000111"), qLab(domain.ReasonNoOrder, "barcode:0000000222"))
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[1].ID, store.ReconDecision{UserID: f.user.ID}, nil); err != nil {
			t.Fatal(err)
		}
		e.wantStatus(m.ID, domain.MessageQueued)
		if _, err := e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID,
			store.ReconDecision{Attach: true, PatientID: f.q.ID, RequestID: f.qOrder.ID, UserID: f.user.ID}, nil); err != nil {
			t.Fatal(err)
		}
		e.wantStatus(m.ID, domain.MessageProcessed)
		if c := e.chart(ids(f.a.ID), f.q.ID); len(c.Reports) != 1 {
			t.Errorf("chart after attaching one of two: %d reports, want 1", len(c.Reports))
		}
		var err error
		_, err = e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID, store.ReconDecision{UserID: f.user.ID}, nil)
		wantConflict(t, "rejecting an attached item", err, "status")
		if !errors.Is(err, store.ErrConflict) {
			return
		}
		if got := e.getRecon(ids(f.a.ID), items[0].ID); got.Status != domain.ReconAttached {
			t.Errorf("attached item after a refused reject: %s", got.Status)
		}
	})
}
