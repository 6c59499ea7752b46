package storetest

import (
	"errors"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testIngestUpserts checks the patients and orders ApplyIngest writes for
// an outside system (HL7 ADT, ORM^O01, OML^O21): created or found again by
// their identifiers in the message's transaction, updated without erasing
// what the message leaves out, audited as system actions, the
// organization's patient limit respected, and a second run of the same
// message writing nothing new.
func testIngestUpserts(t *testing.T, open opener) {
	t.Run("PatientCreateAndRerun", func(t *testing.T) { testUpsertPatientCreate(t, open) })
	t.Run("PatientUpdate", func(t *testing.T) { testUpsertPatientUpdate(t, open) })
	t.Run("PatientLimit", func(t *testing.T) { testUpsertPatientLimit(t, open) })
	t.Run("PatientConflict", func(t *testing.T) { testUpsertPatientConflict(t, open) })
	t.Run("Orders", func(t *testing.T) { testUpsertOrders(t, open) })
}

const (
	hisMRN    = "urn:medgate:hl7:authority:HIS"
	hisPlacer = "urn:medgate:order:placer:HIS"
	labFiller = "urn:medgate:order:filler:LAB"
)

type upsertFixture struct {
	org    *domain.Organization
	other  *domain.Organization
	device *domain.Device
}

func newUpsertFixture(e *ienv) *upsertFixture {
	f := &upsertFixture{org: e.org("Клиника"), other: e.org("Другая клиника")}
	f.device = e.device(f.org.ID, "HIS", domain.ProtocolHL7)
	return f
}

func (f *upsertFixture) message(e *ienv, key string) *domain.Message {
	return e.saveNew(f.org.ID, f.device.ID, key, "5.5")
}

func adtPatient(org int64, mrn string) domain.Patient {
	return domain.Patient{OrganizationID: org, Family: "Смирнова", Given: "Анна", Patronymic: "Ивановна", BirthDate: "1985-03-14",
		Gender: domain.GenderFemale, SNILS: SNILS(112233445), Active: true,
		Identifiers: []domain.Identifier{{System: hisMRN, Value: mrn}}}
}

func (e *ienv) patientsWith(org int64, id domain.Identifier) []domain.Patient {
	e.t.Helper()
	ps, err := e.s.FindPatientsByIdentifier(e.ctx, org, id)
	if err != nil {
		e.t.Fatalf("FindPatientsByIdentifier: %v", err)
	}
	return ps
}

func testUpsertPatientCreate(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newUpsertFixture(e)
	m := f.message(e, "ADT1")
	result := func() *store.IngestResult {
		return &store.IngestResult{Status: domain.MessageProcessed, Patients: []domain.PatientUpsert{{
			Patient: adtPatient(f.org.ID, "MRN-1"), Source: "hl7", Detail: "ADT^A04"}}}
	}
	e.apply(m.ID, result())
	e.wantStatus(m.ID, domain.MessageProcessed)
	ps := e.patientsWith(f.org.ID, domain.Identifier{System: hisMRN, Value: "MRN-1"})
	if len(ps) != 1 {
		t.Fatalf("patients with the MRN: %s", js(ps))
	}
	p := ps[0]
	want := adtPatient(f.org.ID, "MRN-1")
	want.ID, want.Version, want.Created, want.Updated = p.ID, 1, p.Created, p.Updated
	sameJSON(t, "created patient", normPatient(want), normPatient(p))
	if got := e.patientsWith(f.org.ID, domain.Identifier{System: domain.SystemSNILS, Value: SNILS(112233445)}); len(got) != 1 || got[0].ID != p.ID {
		t.Errorf("СНИЛС not indexed: %s", js(got))
	}
	if got := e.patientsWith(f.other.ID, domain.Identifier{System: hisMRN, Value: "MRN-1"}); len(got) != 0 {
		t.Errorf("patient visible in another organization: %s", js(got))
	}
	ev := e.wantOneAudit(ids(f.org.ID), "patient.create.hl7")
	if ev.Action != domain.ActionCreate || ev.PatientID != p.ID || ev.ResourceType != "Patient" || ev.UserID != 0 || ev.Detail == "" {
		t.Errorf("audit %s", js(ev))
	}

	// The same message processed again (reprocessing, or a recovered
	// message) and a second ADT for the same person: still one patient.
	e.apply(m.ID, result())
	m2 := f.message(e, "ADT2")
	e.apply(m2.ID, result())
	if ps := e.patientsWith(f.org.ID, domain.Identifier{System: hisMRN, Value: "MRN-1"}); len(ps) != 1 || ps[0].Version != 1 {
		t.Fatalf("after two more runs: %s", js(ps))
	}
	e.wantOneAudit(ids(f.org.ID), "patient.create.hl7")
	e.wantNoAudit(ids(f.org.ID), "patient.update.hl7")
}

func testUpsertPatientUpdate(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newUpsertFixture(e)
	p := e.patient(f.org.ID, "Смирнова", "Анна", func(p *domain.Patient) {
		p.Patronymic, p.Phone, p.Address = "Ивановна", "+7 495 000-00-00", "Москва, ул. Ленина, 1"
		p.Identifiers = []domain.Identifier{{System: hisMRN, Value: "MRN-7"}}
	})
	m := f.message(e, "ADT8")
	// An A08 that carries a new family name, the ЕНП and a lab number, and
	// leaves out patronymic, phone and address.
	carried := domain.Patient{Family: "Кузнецова", ENP: ENP(5),
		Identifiers: []domain.Identifier{{System: hisMRN, Value: "MRN-7"}, {System: "urn:medgate:device:9:mr", Value: "L-77"}}}
	e.apply(m.ID, &store.IngestResult{Status: domain.MessageProcessed, Patients: []domain.PatientUpsert{{ID: p.ID, Patient: carried, Source: "hl7", Detail: "ADT^A08"}}})
	got := e.getPatient(ids(f.org.ID), p.ID)
	want := *p
	want.Family, want.ENP, want.Version = "Кузнецова", ENP(5), 2
	want.Identifiers = append(want.Identifiers, domain.Identifier{System: "urn:medgate:device:9:mr", Value: "L-77"})
	want.Updated = got.Updated
	sameJSON(t, "updated patient", normPatient(want), normPatient(*got))
	if ps := e.patientsWith(f.org.ID, domain.Identifier{System: domain.SystemENP, Value: ENP(5)}); len(ps) != 1 || ps[0].ID != p.ID {
		t.Errorf("ЕНП not indexed: %s", js(ps))
	}
	ev := e.wantOneAudit(ids(f.org.ID), "patient.update.hl7")
	if ev.Action != domain.ActionUpdate || ev.PatientID != p.ID {
		t.Errorf("audit %s", js(ev))
	}
	// A person holding version 1 is told the patient changed.
	stale := *p
	stale.Phone = "+7 495 111-11-11"
	err := e.s.UpdatePatient(e.ctx, ids(f.org.ID), &stale, nil)
	wantConflict(t, "UpdatePatient with the version before the HL7 update", err, "version")
	// Found by identifier (ID 0) and nothing new: no write, no version.
	e.apply(m.ID, &store.IngestResult{Status: domain.MessageProcessed, Patients: []domain.PatientUpsert{{Patient: carried, Source: "hl7"}}})
	if got := e.getPatient(ids(f.org.ID), p.ID); got.Version != 2 {
		t.Errorf("a run that changes nothing bumped the version to %d", got.Version)
	}
}

func testUpsertPatientLimit(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newUpsertFixture(e)
	e.patient(f.org.ID, "Иванов", "Иван")
	m := f.message(e, "ADT-LIMIT")
	r := &store.IngestResult{Status: domain.MessageProcessed,
		Patients: []domain.PatientUpsert{{Patient: adtPatient(f.org.ID, "MRN-9"), MaxPatients: 1, Source: "hl7"}},
		Orders: []domain.OrderUpsert{{Patient: 0, Request: *NewLabOrder(f.org.ID, 0), Source: "hl7",
			Identifiers: []domain.Identifier{{System: hisPlacer, Value: "P-9"}}}}}
	e.apply(m.ID, r)
	e.wantStatus(m.ID, domain.MessageQueued)
	if ps := e.patientsWith(f.org.ID, domain.Identifier{System: hisMRN, Value: "MRN-9"}); len(ps) != 0 {
		t.Fatalf("a patient beyond the limit was created: %s", js(ps))
	}
	if os := e.ordersAll(store.OrderQuery{Orgs: ids(f.org.ID)}); len(os) != 0 {
		t.Fatalf("an order waiting for its patient was created: %s", js(os))
	}
	items := e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID), MessageID: m.ID})
	if len(items) != 1 || items[0].Reason != domain.ReasonPatientLimit || items[0].Kind != "patient" {
		t.Fatalf("queue %s", js(items))
	}
	e.wantNoAudit(ids(f.org.ID), "patient.create.hl7")
	// The limit raised, the message processed again: written, item gone.
	r.Patients[0].MaxPatients, r.Status, r.Recon = 0, domain.MessageProcessed, nil
	e.apply(m.ID, r)
	e.wantStatus(m.ID, domain.MessageProcessed)
	if ps := e.patientsWith(f.org.ID, domain.Identifier{System: hisMRN, Value: "MRN-9"}); len(ps) != 1 {
		t.Fatalf("patients after the limit was raised: %s", js(ps))
	}
	if items := e.reconAll(store.ReconQuery{Orgs: ids(f.org.ID), MessageID: m.ID}); len(items) != 0 {
		t.Errorf("open items after reprocessing: %s", js(items))
	}
}

func testUpsertPatientConflict(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newUpsertFixture(e)
	a := e.patient(f.org.ID, "Иванов", "Иван", func(p *domain.Patient) { p.Identifiers = []domain.Identifier{{System: hisMRN, Value: "A"}} })
	b := e.patient(f.org.ID, "Петров", "Пётр", func(p *domain.Patient) { p.Identifiers = []domain.Identifier{{System: hisMRN, Value: "B"}} })
	m := f.message(e, "ADT-CONFLICT")
	// The mapping matched A, but meanwhile B holds the message's identifier:
	// nothing is written, the message stays as it was, to be run again.
	err := e.s.ApplyIngest(e.ctx, m.ID, &store.IngestResult{Status: domain.MessageProcessed, Patients: []domain.PatientUpsert{{
		ID: a.ID, Patient: domain.Patient{Phone: "1", Identifiers: []domain.Identifier{{System: hisMRN, Value: "B"}}}, Source: "hl7"}},
		Reports: []store.ReportSet{labReport(f.org.ID, a.ID, 0, glucose(5.5))}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ApplyIngest with identifiers of another patient: %v, want a conflict", err)
	}
	e.wantStatus(m.ID, domain.MessageReceived)
	if got := e.getPatient(ids(f.org.ID), a.ID); got.Phone != "" || got.Version != 1 {
		t.Errorf("patient A changed: %s", js(got))
	}
	if c := e.chart(ids(f.org.ID), a.ID); len(c.Reports) != 0 {
		t.Errorf("a failed ApplyIngest wrote reports: %s", js(c.Reports))
	}
	_ = b
	e.wantNoAudit(ids(f.org.ID), "patient.update.hl7")
}

func testUpsertOrders(t *testing.T, open opener) {
	e := beginIngest(t, open)
	f := newUpsertFixture(e)
	m := f.message(e, "ORM1")
	placer := domain.Identifier{System: hisPlacer, Value: "P-100"}
	req := NewLabOrder(f.org.ID, 0, "2345-7", "1988-5")
	req.Specimens = []domain.Specimen{{Barcode: "HIS0001", Type: domain.Coding{Code: "SER"}}}
	result := func() *store.IngestResult {
		return &store.IngestResult{Status: domain.MessageProcessed,
			Patients: []domain.PatientUpsert{{Patient: adtPatient(f.org.ID, "MRN-5"), Source: "hl7"}},
			Orders:   []domain.OrderUpsert{{Patient: 0, Request: *req, Identifiers: []domain.Identifier{placer}, Source: "hl7", Detail: "ORM^O01 NW"}}}
	}
	e.apply(m.ID, result())
	e.wantStatus(m.ID, domain.MessageProcessed)
	refs, err := e.s.FindOrdersByIdentifier(e.ctx, f.org.ID, "P-100")
	if err != nil || len(refs) != 1 || refs[0].Identifier != placer {
		t.Fatalf("FindOrdersByIdentifier: %s %v", js(refs), err)
	}
	o := refs[0].Order
	ps := e.patientsWith(f.org.ID, domain.Identifier{System: hisMRN, Value: "MRN-5"})
	if len(ps) != 1 || o.PatientID != ps[0].ID || o.AccessionNumber == "" || o.AccessionNumber == "P-100" ||
		o.Status != domain.StatusActive || len(o.Specimens) != 1 || o.Specimens[0].Barcode != "HIS0001" || len(o.Codes) != 2 {
		t.Fatalf("order %s, patients %s", js(o), js(ps))
	}
	// medgate's own accession number and the outside number both find it.
	if got, err := e.s.FindOrderByAccession(e.ctx, f.org.ID, o.AccessionNumber); err != nil || got.ID != o.ID {
		t.Errorf("by accession: %v", err)
	}
	if sp, err := e.s.FindSpecimen(e.ctx, f.org.ID, "HIS0001"); err != nil || sp.RequestID != o.ID {
		t.Errorf("specimen by the given barcode: %v", err)
	}
	if refs, _ := e.s.FindOrdersByIdentifier(e.ctx, f.other.ID, "P-100"); len(refs) != 0 {
		t.Errorf("order number visible in another organization: %s", js(refs))
	}
	ev := e.wantOneAudit(ids(f.org.ID), "order.create.hl7")
	if ev.Action != domain.ActionCreate || ev.ResourceID != o.ID || ev.PatientID != o.PatientID {
		t.Errorf("audit %s", js(ev))
	}

	// Reprocessed: one order, one patient, nothing new audited.
	e.apply(m.ID, result())
	if os := e.ordersAll(store.OrderQuery{Orgs: ids(f.org.ID)}); len(os) != 1 {
		t.Fatalf("orders after a second run: %d", len(os))
	}
	e.wantOneAudit(ids(f.org.ID), "order.create.hl7")
	e.wantNoAudit(ids(f.org.ID), "order.update.hl7")

	// A status change with the filler's number and a second specimen.
	m2 := f.message(e, "ORM2")
	filler := domain.Identifier{System: labFiller, Value: "F-1"}
	e.apply(m2.ID, &store.IngestResult{Status: domain.MessageProcessed, Orders: []domain.OrderUpsert{{ID: o.ID, Patient: -1,
		Request:     domain.ServiceRequest{PatientID: o.PatientID, Priority: domain.PriorityStat, Specimens: []domain.Specimen{{Barcode: "HIS0002"}}},
		Identifiers: []domain.Identifier{placer, filler}, Source: "hl7", Detail: "ORM^O01 XO"}}})
	got := e.getOrder(ids(f.org.ID), o.ID)
	if got.Priority != domain.PriorityStat || len(got.Specimens) != 2 || len(got.Codes) != 2 || got.Status != domain.StatusActive {
		t.Errorf("changed order %s", js(got))
	}
	if refs, _ := e.s.FindOrdersByIdentifier(e.ctx, f.org.ID, "F-1"); len(refs) != 1 || refs[0].Order.ID != o.ID {
		t.Errorf("filler number: %s", js(refs))
	}
	e.wantOneAudit(ids(f.org.ID), "order.update.hl7")

	// Cancelled by the placer, found by its number alone (ID 0).
	m3 := f.message(e, "ORM3")
	e.apply(m3.ID, &store.IngestResult{Status: domain.MessageProcessed, Orders: []domain.OrderUpsert{{Patient: -1,
		Request: domain.ServiceRequest{PatientID: o.PatientID}, Status: domain.StatusCancelled,
		Identifiers: []domain.Identifier{placer}, Source: "hl7", Detail: "ORM^O01 CA"}}})
	if got := e.getOrder(ids(f.org.ID), o.ID); got.Status != domain.StatusCancelled {
		t.Errorf("status after CA: %s", got.Status)
	}
	e.wantOneAudit(ids(f.org.ID), "order.cancel.hl7")
	if os := e.ordersAll(store.OrderQuery{Orgs: ids(f.org.ID)}); len(os) != 1 {
		t.Fatalf("orders: %d", len(os))
	}
}
