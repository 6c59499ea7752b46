package ingest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/parsers/hl7"
)

// ADT and orders from a clinic's HIS over HL7, through Pipeline.Handle on
// both stores, in Windows-1251 as Russian HIS installations send them.

const (
	snilsOK  = "112-233-445 95" // check number right
	snilsBad = "112-233-445 96"
	hisMRN   = "urn:medgate:hl7:authority:HIS"
)

// his registers the HIS as an HL7 device of the world's organization.
func (w *world) his(t *testing.T, maxPatients int) *domain.Device {
	t.Helper()
	dev := &domain.Device{OrganizationID: w.org, Name: "МИС", Protocol: domain.ProtocolHL7, SendingApplication: "HIS",
		Encoding: "windows-1251", Active: true}
	if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	w.p.Processors[listeners.HL7] = ingest.HL7{Location: time.UTC, MaxPatients: maxPatients}
	return dev
}

// cp1251 encodes an HL7 message written in UTF-8 (segments one a line) in
// Windows-1251 with MSH-18 empty: the device's configured charset applies.
func cp1251(t *testing.T, text string) []byte {
	t.Helper()
	m, err := hl7.Parse([]byte(strings.ReplaceAll(strings.TrimSpace(text), "\n", "\r")), hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.EncodeCharset("windows-1251")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "Смирнова") && strings.Contains(string(raw), "Смирнова") {
		t.Fatal("not re-encoded")
	}
	return raw
}

func hisEnv(raw []byte, key, typ string) *listeners.Envelope {
	return &listeners.Envelope{Protocol: listeners.HL7, Listener: "mllp", Peer: "10.0.0.5:50000", SendingApplication: "HIS",
		SendingFacility: "CLINIC", Key: key, Type: typ, Raw: raw, Received: time.Now()}
}

func adt(trigger, key, pid string) string {
	return "MSH|^~\\&|HIS|CLINIC|MEDGATE|LAB|20261120093000||ADT^" + trigger + "|" + key + "|P|2.5\n" +
		"EVN|" + trigger + "|20261120093000\n" + pid + "\nPV1|1|O\n"
}

const pidSmirnova = "PID|1||MRN-501^^^HIS^MR~" + snilsOK + "^^^ПФР^SB||Смирнова^Анна^Ивановна^^^^L||19850314|F|||ул. Ленина, д. 5^^Москва^^101000^RUS^H||+7 (495) 123-45-67"

func (w *world) patientsByMRN(t *testing.T, mrn string) []domain.Patient {
	t.Helper()
	ps, err := w.st.FindPatientsByIdentifier(w.ctx, w.org, domain.Identifier{System: hisMRN, Value: mrn})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (w *world) audit(t *testing.T, event string) []domain.AuditEvent {
	t.Helper()
	list, _, err := w.st.ListAudit(w.ctx, store.AuditQuery{Orgs: []int64{w.org}, Page: store.Page{Limit: 500}})
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.AuditEvent
	for _, ev := range list {
		if ev.Event == event {
			out = append(out, ev)
		}
	}
	return out
}

func (w *world) message(t *testing.T, key string) domain.Message {
	t.Helper()
	for _, m := range w.messages(t) {
		if m.Key == key {
			return m
		}
	}
	t.Fatalf("no message %q", key)
	return domain.Message{}
}

func TestHL7ADTCreatesThenUpdates(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 0)
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, adt("A04", "ADT-1", pidSmirnova)), "ADT-1", "ADT^A04")); err != nil {
			t.Fatal(err)
		}
		ps := w.patientsByMRN(t, "MRN-501")
		if len(ps) != 1 {
			t.Fatalf("patients %+v", ps)
		}
		p := ps[0]
		if p.Family != "Смирнова" || p.Given != "Анна" || p.Patronymic != "Ивановна" || p.BirthDate != "1985-03-14" ||
			p.Gender != domain.GenderFemale || p.SNILS != "11223344595" || p.Phone != "+7 (495) 123-45-67" ||
			p.Address != "ул. Ленина, д. 5, Москва, 101000, RUS" || !p.Active || p.Version != 1 {
			t.Errorf("patient %+v", p)
		}
		if m := w.message(t, "ADT-1"); m.Status != domain.MessageProcessed || m.Reason != "" {
			t.Errorf("message %+v", m)
		}
		if evs := w.audit(t, "patient.create.hl7"); len(evs) != 1 || evs[0].PatientID != p.ID || evs[0].Action != domain.ActionCreate {
			t.Errorf("audit %+v", evs)
		}

		// A08: a new phone, no address: the address stays.
		a08 := adt("A08", "ADT-2", "PID|1||MRN-501^^^HIS^MR||Смирнова^Анна^Ивановна||19850314|F|||||+7 (916) 000-11-22")
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, a08), "ADT-2", "ADT^A08")); err != nil {
			t.Fatal(err)
		}
		got, err := w.st.GetPatient(w.ctx, []int64{w.org}, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Phone != "+7 (916) 000-11-22" || got.Address != p.Address || got.SNILS != p.SNILS || got.Version != 2 {
			t.Errorf("after A08: %+v", got)
		}
		if evs := w.audit(t, "patient.update.hl7"); len(evs) != 1 {
			t.Errorf("update audit %+v", evs)
		}

		// Reprocessing the A04 and resending the A08 create nothing.
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, w.message(t, "ADT-1").ID); err != nil {
			t.Fatal(err)
		}
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, a08), "ADT-2", "ADT^A08")); err != nil {
			t.Fatal(err)
		}
		if ps := w.patientsByMRN(t, "MRN-501"); len(ps) != 1 {
			t.Fatalf("patients after reprocessing: %d", len(ps))
		}
		if evs := w.audit(t, "patient.create.hl7"); len(evs) != 1 {
			t.Errorf("create audit after reprocessing: %d", len(evs))
		}
	})
}

func TestHL7ADTInvalidSNILS(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 0)
		pid := strings.Replace(pidSmirnova, snilsOK, snilsBad, 1)
		err := w.p.Handle(w.ctx, hisEnv(cp1251(t, adt("A01", "ADT-BAD", pid)), "ADT-BAD", "ADT^A01"))
		var inv *listeners.InvalidError
		if !errors.As(err, &inv) || inv.Stage != "map" || inv.Unsupported || !strings.Contains(inv.Reason, "snils") || !strings.Contains(inv.Reason, "PID-3") {
			t.Fatalf("want an AE naming PID-3 snils, got %v", err)
		}
		m := w.message(t, "ADT-BAD")
		if m.Status != domain.MessageError || !strings.Contains(m.Reason, "snils") {
			t.Errorf("message %+v", m)
		}
		if ps := w.patientsByMRN(t, "MRN-501"); len(ps) != 0 {
			t.Errorf("a patient was written: %+v", ps)
		}
		if evs := w.audit(t, "patient.create.hl7"); len(evs) != 0 {
			t.Errorf("audit written: %+v", evs)
		}
		if items := w.open(t); len(items) != 0 {
			t.Errorf("queue: %+v", items)
		}
	})
}

func TestHL7ADTAmbiguousAndMerge(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 0)
		var pids []int64
		for _, g := range []string{"Анна", "Мария"} {
			p := &domain.Patient{OrganizationID: w.org, Family: "Смирнова", Given: g, BirthDate: "1985-03-14", Gender: domain.GenderFemale, Active: true,
				Identifiers: []domain.Identifier{{System: hisMRN, Value: "MRN-50" + string(rune('1'+len(pids)))}}}
			if err := w.st.CreatePatient(w.ctx, p, 0, nil); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, p.ID)
		}
		// The message's MRN is Анна's, its СНИЛС Мария's: never guessed.
		q := &domain.Patient{}
		got, _ := w.st.GetPatient(w.ctx, []int64{w.org}, pids[1])
		*q = *got
		q.SNILS = "11223344595"
		if err := w.st.UpdatePatient(w.ctx, []int64{w.org}, q, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, adt("A08", "ADT-AMB", pidSmirnova)), "ADT-AMB", "ADT^A08")); err != nil {
			t.Fatal(err)
		}
		items := w.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonAmbiguousPatient || items[0].Kind != "patient" || len(items[0].Candidates) != 2 {
			t.Fatalf("queue %+v", items)
		}
		if m := w.message(t, "ADT-AMB"); m.Status != domain.MessageQueued {
			t.Errorf("message %+v", m)
		}
		if evs := w.audit(t, "patient.update.hl7"); len(evs) != 0 {
			t.Errorf("a patient was updated: %+v", evs)
		}

		// A40: merge MRN-502 into MRN-501 — queued for a person.
		a40 := adt("A40", "ADT-MRG", "PID|1||MRN-501^^^HIS^MR||Смирнова^Анна||19850314|F") + "MRG|MRN-502^^^HIS^MR\n"
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, a40), "ADT-MRG", "ADT^A40")); err != nil {
			t.Fatal(err)
		}
		var merge []domain.ReconItem
		for _, it := range w.open(t) {
			if it.Reason == domain.ReasonMergeRequest {
				merge = append(merge, it)
			}
		}
		if len(merge) != 1 || len(merge[0].Candidates) != 2 || merge[0].Candidates[0] != pids[0] || merge[0].Candidates[1] != pids[1] ||
			!strings.Contains(merge[0].Detail, "patient") {
			t.Fatalf("merge item %+v", merge)
		}
		for _, id := range pids {
			if _, err := w.st.GetPatient(w.ctx, []int64{w.org}, id); err != nil {
				t.Errorf("patient %d after A40: %v", id, err)
			}
		}
	})
}

const ormNW = `MSH|^~\&|HIS|CLINIC|MEDGATE|LAB|20261120100000||ORM^O01|ORM-1|P|2.3
PID|1||MRN-501^^^HIS^MR||Смирнова^Анна^Ивановна||19850314|F
ORC|NW|P-100^HIS|||||^^^^^S
OBR|1|P-100^HIS||CBC^Общий анализ крови^L|||20261120095500
NTE|1||Натощак
SPM|1|4600000001||BLD`

func TestHL7OrdersFromHIS(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 0)
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, ormNW), "ORM-1", "ORM^O01")); err != nil {
			t.Fatal(err)
		}
		refs, err := w.st.FindOrdersByIdentifier(w.ctx, w.org, "P-100")
		if err != nil || len(refs) != 1 {
			t.Fatalf("orders by placer number: %+v %v", refs, err)
		}
		o := refs[0].Order
		ps := w.patientsByMRN(t, "MRN-501")
		if len(ps) != 1 || o.PatientID != ps[0].ID || o.Category != domain.CategoryLab || o.Priority != domain.PriorityStat ||
			o.Status != domain.StatusActive || o.Note != "Натощак" || len(o.Codes) != 1 || o.Codes[0].Code != "CBC" ||
			len(o.Specimens) != 1 || o.Specimens[0].Barcode != "4600000001" || !strings.HasPrefix(o.AccessionNumber, "L") {
			t.Fatalf("order %+v, patients %+v", o, ps)
		}
		if len(w.audit(t, "order.create.hl7")) != 1 || len(w.audit(t, "patient.create.hl7")) != 1 {
			t.Error("create audits missing")
		}

		// The analyzer's results name the HIS's placer number: attached.
		w.hl7Device(t)
		oru := hl7.BuildORU(hl7.ORU{
			Header: hl7.Header{SendingApplication: hl7.HD{NamespaceID: "BC-5380"}, SendingFacility: hl7.HD{NamespaceID: "LAB"},
				Time: time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC), ControlID: "ORU-1", Encoding: "windows-1251"},
			Reports: []hl7.Report{{PlacerOrderNumber: hl7.EI{ID: "P-100"}, Service: hl7.CWE{Code: "CBC"},
				ObservationTime: time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC),
				Results:         []hl7.Result{{Type: "NM", ID: hl7.CWE{Code: "HGB"}, Value: "125", Units: hl7.CWE{Code: "g/L"}}}}},
		})
		raw, err := oru.EncodeCharset("windows-1251")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.p.Handle(w.ctx, hl7Env(raw, "ORU-1")); err != nil {
			t.Fatal(err)
		}
		chart, err := w.st.PatientChart(w.ctx, []int64{w.org}, o.PatientID)
		if err != nil {
			t.Fatal(err)
		}
		if len(chart.Observations) != 1 || chart.Observations[0].RequestID != o.ID {
			t.Fatalf("results not attached to the HIS order: %+v", chart.Observations)
		}

		// The NW again (reprocessed), then cancelled by the HIS.
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, w.message(t, "ORM-1").ID); err != nil {
			t.Fatal(err)
		}
		if os, _, _ := w.st.ListServiceRequests(w.ctx, store.OrderQuery{Orgs: []int64{w.org}, PatientID: o.PatientID}); len(os) != 1 {
			t.Fatalf("orders after reprocessing: %d", len(os))
		}
		ca := strings.NewReplacer("ORM-1", "ORM-2", "ORC|NW", "ORC|CA").Replace(ormNW)
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, ca), "ORM-2", "ORM^O01")); err != nil {
			t.Fatal(err)
		}
		got, err := w.st.GetServiceRequest(w.ctx, []int64{w.org}, o.ID)
		if err != nil || got.Status != domain.StatusCancelled {
			t.Fatalf("after CA: %+v %v", got, err)
		}
		if len(w.audit(t, "order.cancel.hl7")) != 1 {
			t.Error("cancel not audited")
		}
	})
}

func TestHL7OrderUnknownPatient(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 0)
		// No birth date: the patient cannot be registered, nor the order.
		orm := strings.Replace(ormNW, "||19850314|F", "|||F", 1)
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, orm), "ORM-U", "ORM^O01")); err != nil {
			t.Fatal(err)
		}
		items := w.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonUnknownPatient || !strings.Contains(items[0].Detail, "PID-7") {
			t.Fatalf("queue %+v", items)
		}
		if refs, _ := w.st.FindOrdersByIdentifier(w.ctx, w.org, "P-100"); len(refs) != 0 {
			t.Errorf("order written: %+v", refs)
		}
		if ps := w.patientsByMRN(t, "MRN-501"); len(ps) != 0 {
			t.Errorf("patient written: %+v", ps)
		}
		if m := w.message(t, "ORM-U"); m.Status != domain.MessageQueued {
			t.Errorf("message %+v", m)
		}
		// A person attaches the item to a patient; reprocessing places the
		// order for that patient.
		if _, err := w.st.ResolveRecon(w.ctx, []int64{w.org}, items[0].ID, store.ReconDecision{Attach: true, PatientID: w.patient}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, items[0].MessageID); err != nil {
			t.Fatal(err)
		}
		refs, _ := w.st.FindOrdersByIdentifier(w.ctx, w.org, "P-100")
		if len(refs) != 1 || refs[0].Order.PatientID != w.patient {
			t.Fatalf("order after the decision: %+v", refs)
		}
	})
}

func TestHL7PatientLimit(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 1) // the world has one patient already
		if err := w.p.Handle(w.ctx, hisEnv(cp1251(t, adt("A04", "ADT-L", pidSmirnova)), "ADT-L", "ADT^A04")); err != nil {
			t.Fatal(err)
		}
		items := w.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonPatientLimit {
			t.Fatalf("queue %+v", items)
		}
		if ps := w.patientsByMRN(t, "MRN-501"); len(ps) != 0 {
			t.Errorf("patient beyond the limit: %+v", ps)
		}
	})
}

func TestHL7UnsupportedType(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.his(t, 0)
		raw := cp1251(t, "MSH|^~\\&|HIS|CLINIC|||20261120||BAR^P01|BAR-1|P|2.5\nPID|1||MRN-501^^^HIS^MR||Смирнова^Анна||19850314|F")
		err := w.p.Handle(w.ctx, hisEnv(raw, "BAR-1", "BAR^P01"))
		var inv *listeners.InvalidError
		if !errors.As(err, &inv) || !inv.Unsupported {
			t.Fatalf("BAR^P01: %v", err)
		}
		if m := w.message(t, "BAR-1"); m.Status != domain.MessageError {
			t.Errorf("message %+v", m)
		}
		if ps := w.patientsByMRN(t, "MRN-501"); len(ps) != 0 {
			t.Errorf("patient written: %+v", ps)
		}
	})
}
