package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testImagingDICOM covers what the DICOM services need: the worklist,
// study-level queries, study state and order completion, and messages
// whose bytes live in the blob store.
func testImagingDICOM(t *testing.T, open opener) {
	t.Run("Worklist", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		other := e.org("Другая")
		ivanov := e.patient(org.ID, "Иванов", "Иван")
		petrova := e.patient(org.ID, "Петрова", "Анна")
		at := func(h int) *time.Time { v := T0.Add(time.Duration(h) * time.Hour); return &v }
		mk := func(p int64, modality, ae string, when *time.Time) *domain.ServiceRequest {
			r := NewImagingOrder(org.ID, p, modality, "КЛКТ челюсти")
			r.ScheduledStationAE, r.Scheduled = ae, when
			return e.order(r)
		}
		ct1 := mk(ivanov.ID, "CT", "CBCT1", at(1))
		ct2 := mk(petrova.ID, "CT", "CBCT1", at(3))
		px := mk(petrova.ID, "PX", "PANO", at(2))
		done := mk(ivanov.ID, "CT", "CBCT1", at(1))
		if _, err := e.s.SetServiceRequestStatus(e.ctx, ids(org.ID), done.ID, domain.StatusCompleted, nil); err != nil {
			t.Fatal(err)
		}
		e.order(NewLabOrder(org.ID, ivanov.ID, "2345-7"))
		otherP := e.patient(other.ID, "Сидоров", "Пётр")
		o := NewImagingOrder(other.ID, otherP.ID, "CT", "КТ")
		o.ScheduledStationAE = "CBCT1"
		e.order(o)

		orders := func(q store.WorklistQuery) []int64 {
			t.Helper()
			items, err := e.s.Worklist(e.ctx, q)
			if err != nil {
				t.Fatalf("Worklist(%+v): %v", q, err)
			}
			var got []int64
			for _, it := range items {
				if it.Patient.ID != it.Order.PatientID || it.Patient.Family == "" {
					t.Errorf("item of order %d carries patient %+v", it.Order.ID, it.Patient)
				}
				got = append(got, it.Order.ID)
			}
			return got
		}
		want := func(what string, got []int64, want ...int64) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Errorf("%s: orders %v, want %v", what, got, want)
			}
		}
		want("everything active, by schedule", orders(store.WorklistQuery{Orgs: ids(org.ID)}), ct1.ID, px.ID, ct2.ID)
		want("station", orders(store.WorklistQuery{Orgs: ids(org.ID), StationAE: "CBCT1"}), ct1.ID, ct2.ID)
		want("modality", orders(store.WorklistQuery{Orgs: ids(org.ID), Modality: "PX"}), px.ID)
		want("date range", orders(store.WorklistQuery{Orgs: ids(org.ID), From: at(2), To: at(3)}), px.ID, ct2.ID)
		want("open range", orders(store.WorklistQuery{Orgs: ids(org.ID), To: at(1)}), ct1.ID)
		want("patient", orders(store.WorklistQuery{Orgs: ids(org.ID), PatientID: petrova.ID}), px.ID, ct2.ID)
		want("accession", orders(store.WorklistQuery{Orgs: ids(org.ID), Accession: ct2.AccessionNumber}), ct2.ID)
		want("no organizations", orders(store.WorklistQuery{}))
		want("limit", orders(store.WorklistQuery{Orgs: ids(org.ID), Limit: 1}), ct1.ID)
		items, _ := e.s.Worklist(e.ctx, store.WorklistQuery{Orgs: ids(org.ID), Accession: ct1.AccessionNumber})
		if len(items) != 1 || items[0].Order.StudyInstanceUID != ct1.StudyInstanceUID || items[0].Patient.SNILS != ivanov.SNILS {
			t.Errorf("worklist item = %s", js(items))
		}
	})

	t.Run("StudiesByKeys", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		r := e.order(NewImagingOrder(org.ID, p.ID, "CT", "КЛКТ"))
		dev := e.device(org.ID, "cbct", domain.ProtocolDICOM)

		// One instance per message, as C-STORE delivers them.
		attached := newStudy(org.ID, p.ID, r.ID, r.StudyInstanceUID, r.AccessionNumber,
			domain.ImagingSeries{UID: r.StudyInstanceUID + ".1", Number: 1, Modality: "CT",
				Instances: []domain.ImagingInstance{instance(r.StudyInstanceUID+".1", 1)}})
		attached.Source = domain.SourcePatient{ID: "A-17", Issuer: "CBCT", Name: "Ivanov^Ivan", BirthDate: "19800517", Sex: "M"}
		attached.StudyID, attached.ReferringPhysician = "17", "Петров^Пётр"
		m1 := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, r.StudyInstanceUID+".1.1", nil)
		m1.Blob, m1.Size = "ab/cd/abcd", 123456
		e.save(m1)
		e.apply(m1.ID, &store.IngestResult{Status: domain.MessageProcessed, Studies: []domain.ImagingStudy{*attached}})
		got := e.getMsg(ids(org.ID), m1.ID)
		if got.Blob != "ab/cd/abcd" || got.Size != 123456 || len(got.Raw) != 0 {
			t.Errorf("blob message read back: blob %q size %d raw %d bytes", got.Blob, got.Size, len(got.Raw))
		}
		// A second series of another modality: the study's modalities are the union.
		second := *attached
		second.Modalities = []string{"SR"}
		second.Series = []domain.ImagingSeries{{UID: r.StudyInstanceUID + ".2", Number: 2, Modality: "SR",
			Instances: []domain.ImagingInstance{instance(r.StudyInstanceUID+".2", 1)}}}
		m2 := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, r.StudyInstanceUID+".2.1", []byte("x"))
		e.save(m2)
		before := len(e.pending())
		e.apply(m2.ID, &store.IngestResult{Status: domain.MessageProcessed, Studies: []domain.ImagingStudy{second}})
		if n := len(e.pending()) - before; n != 0 {
			t.Errorf("another instance of a known study made %d events, want none", n)
		}

		lone := unmatchedStudy(org.ID, "1.2.826.0.1.3680043.10.1.99")
		lone.Source = domain.SourcePatient{ID: "X1", Name: "Сидоров^Пётр"}
		m3 := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, lone.StudyInstanceUID+".1.1", []byte("y"))
		e.save(m3)
		e.apply(m3.ID, &store.IngestResult{Status: domain.MessageQueued, Studies: []domain.ImagingStudy{lone},
			Recon: []store.ReconDraft{draft("imaging", domain.ReasonNoOrder, "study:"+lone.StudyInstanceUID, -1, 0)}})

		st, err := e.s.StudyByUID(e.ctx, ids(org.ID), r.StudyInstanceUID)
		if err != nil {
			t.Fatalf("StudyByUID: %v", err)
		}
		if !slices.Equal(st.Modalities, []string{"CT", "SR"}) || st.NumberOfSeries != 2 || st.NumberOfInstances != 2 ||
			len(st.Series) != 2 || st.Source != attached.Source || st.StudyID != "17" || st.ReferringPhysician != "Петров^Пётр" {
			t.Errorf("StudyByUID = %s", js(st))
		}
		if _, err := e.s.StudyByUID(e.ctx, ids(org.ID+1000), r.StudyInstanceUID); err == nil {
			t.Error("StudyByUID found a study of another organization")
		}

		state, open, err := e.s.StudyState(e.ctx, org.ID, lone.StudyInstanceUID)
		if err != nil || !open || state.PatientID != 0 {
			t.Errorf("StudyState(unmatched) = %+v, open %v, %v", state, open, err)
		}
		state, open, err = e.s.StudyState(e.ctx, org.ID, r.StudyInstanceUID)
		if err != nil || open || state.PatientID != p.ID || state.RequestID != r.ID {
			t.Errorf("StudyState(attached) = %+v, open %v, %v", state, open, err)
		}
		if _, _, err := e.s.StudyState(e.ctx, org.ID, "1.2.3.4"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("StudyState(unknown) err = %v, want ErrNotFound", err)
		}

		rows, err := e.s.FindStudies(e.ctx, store.DICOMStudyQuery{Orgs: ids(org.ID)})
		if err != nil || len(rows) != 2 {
			t.Fatalf("FindStudies(all) = %d rows, %v", len(rows), err)
		}
		for _, row := range rows {
			switch row.Study.StudyInstanceUID {
			case r.StudyInstanceUID:
				if row.Patient == nil || row.Patient.ID != p.ID || row.Patient.Family != "Иванов" {
					t.Errorf("attached study's patient = %+v", row.Patient)
				}
			case lone.StudyInstanceUID:
				if row.Patient != nil || row.Study.Source.Name != "Сидоров^Пётр" {
					t.Errorf("unattached study row = %s", js(row))
				}
			}
		}
		rows, _ = e.s.FindStudies(e.ctx, store.DICOMStudyQuery{Orgs: ids(org.ID), Accession: r.AccessionNumber})
		if len(rows) != 1 || rows[0].Study.ID != st.ID {
			t.Errorf("FindStudies(accession) = %s", js(rows))
		}
		rows, _ = e.s.FindStudies(e.ctx, store.DICOMStudyQuery{Orgs: ids(org.ID), StudyUIDs: []string{lone.StudyInstanceUID, "9.9"}})
		if len(rows) != 1 || rows[0].Study.StudyInstanceUID != lone.StudyInstanceUID {
			t.Errorf("FindStudies(uids) = %s", js(rows))
		}
		late := T0.Add(time.Hour)
		rows, _ = e.s.FindStudies(e.ctx, store.DICOMStudyQuery{Orgs: ids(org.ID), From: &late})
		if len(rows) != 0 {
			t.Errorf("FindStudies(from after every study) = %d rows", len(rows))
		}
		if rows, _ := e.s.FindStudies(e.ctx, store.DICOMStudyQuery{Orgs: ids(other(e).ID)}); len(rows) != 0 {
			t.Errorf("another organization sees %d studies", len(rows))
		}
	})

	t.Run("CompleteStableStudies", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		r := e.order(NewImagingOrder(org.ID, p.ID, "CT", "КЛКТ"))
		waiting := e.order(NewImagingOrder(org.ID, p.ID, "CT", "КЛКТ без снимков"))
		st := newStudy(org.ID, p.ID, r.ID, r.StudyInstanceUID, r.AccessionNumber,
			domain.ImagingSeries{UID: r.StudyInstanceUID + ".1", Number: 1, Modality: "CT",
				Instances: []domain.ImagingInstance{instance(r.StudyInstanceUID+".1", 1)}})
		if err := e.s.SaveImagingStudy(e.ctx, st, nil); err != nil {
			t.Fatal(err)
		}
		// Still receiving: nothing completes.
		done, err := e.s.CompleteStableStudies(e.ctx, time.Now().Add(-time.Minute))
		if err != nil || len(done) != 0 {
			t.Fatalf("CompleteStableStudies(recent study) = %v, %v", done, err)
		}
		done, err = e.s.CompleteStableStudies(e.ctx, time.Now().Add(time.Second))
		if err != nil || !slices.Equal(done, []int64{r.ID}) {
			t.Fatalf("CompleteStableStudies = %v, %v; want [%d]", done, err, r.ID)
		}
		if got := e.getOrder(ids(org.ID), r.ID); got.Status != domain.StatusCompleted {
			t.Errorf("order status %s, want completed", got.Status)
		}
		if got := e.getOrder(ids(org.ID), waiting.ID); got.Status != domain.StatusActive {
			t.Errorf("order without a study became %s", got.Status)
		}
		e.wantOneAudit(ids(org.ID), "order.complete")
		// The completed study is announced with its final count.
		var announced bool
		for _, ev := range e.pending() {
			var p domain.StudyEvent
			if ev.Kind == domain.EventStudy && json.Unmarshal(ev.Payload, &p) == nil && p.Study == st.ID && p.Instances == 1 {
				announced = true
			}
		}
		if !announced {
			t.Error("no study event for the completed study")
		}
		done, _ = e.s.CompleteStableStudies(e.ctx, time.Now().Add(time.Second))
		if len(done) != 0 {
			t.Errorf("second run completed %v again", done)
		}
	})
}

// other makes a second organization.
func other(e *ienv) *domain.Organization { return e.org("Другая клиника") }
