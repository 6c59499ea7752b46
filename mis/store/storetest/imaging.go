package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

const ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"

func instance(series string, n int) domain.ImagingInstance {
	return domain.ImagingInstance{
		SOPInstanceUID: fmt.Sprintf("%s.%d", series, n),
		SOPClassUID:    ctImageStorage,
		Number:         n,
		TransferSyntax: "1.2.840.10008.1.2.1",
		Size:           int64(524288 + n),
		SHA256:         fmt.Sprintf("%064x", n),
		Location:       fmt.Sprintf("dicom/%s/%d.dcm", series, n),
	}
}

func newStudy(org, patient, request int64, uid, accession string, series ...domain.ImagingSeries) *domain.ImagingStudy {
	started := T0.Add(-2 * time.Hour)
	return &domain.ImagingStudy{
		OrganizationID:   org,
		PatientID:        patient,
		RequestID:        request,
		StudyInstanceUID: uid,
		AccessionNumber:  accession,
		Modalities:       []string{"CT"},
		Description:      "КТ органов грудной клетки",
		Started:          &started,
		Status:           "available",
		Series:           series,
	}
}

func testImaging(t *testing.T, open opener) {
	t.Run("SaveAndUpsert", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		r := e.order(NewImagingOrder(org.ID, p.ID, "CT", "КТ органов грудной клетки"))
		uid := r.StudyInstanceUID
		s1, s2 := uid+".1", uid+".2"
		series1 := domain.ImagingSeries{UID: s1, Number: 1, Modality: "CT", Description: "Аксиальные 1 мм", BodyPart: "CHEST"}

		first := series1
		first.Instances = []domain.ImagingInstance{instance(s1, 1), instance(s1, 2)}
		st := newStudy(org.ID, p.ID, r.ID, uid, r.AccessionNumber, first)
		ev := NewAudit(org.ID, domain.ActionCreate, "study.store")
		ev.PatientID, ev.ResourceType = p.ID, "ImagingStudy"
		if err := e.s.SaveImagingStudy(e.ctx, st, ev); err != nil {
			t.Fatalf("SaveImagingStudy: %v", err)
		}
		if st.ID == 0 {
			t.Fatal("SaveImagingStudy did not set ID")
		}
		e.wantOneAudit(ids(org.ID), "study.store")
		want := *st
		want.NumberOfSeries, want.NumberOfInstances = 1, 2
		wantSeries := first
		wantSeries.NumberOfInstances = 2
		want.Series = []domain.ImagingSeries{wantSeries}
		checkStudies(t, e, ids(org.ID), p.ID, want)

		// The rest of the study arrives: one instance again, one new in the
		// first series, and a second series.
		again := series1
		again.Instances = []domain.ImagingInstance{instance(s1, 2), instance(s1, 3)}
		second := domain.ImagingSeries{UID: s2, Number: 2, Modality: "CT", Description: "Топограмма",
			Instances: []domain.ImagingInstance{instance(s2, 1)}}
		st2 := newStudy(org.ID, p.ID, r.ID, uid, r.AccessionNumber, again, second)
		if err := e.s.SaveImagingStudy(e.ctx, st2, nil); err != nil {
			t.Fatalf("SaveImagingStudy (again): %v", err)
		}
		if st2.ID != st.ID {
			t.Errorf("saving the same StudyInstanceUID again gave ID %d, want %d", st2.ID, st.ID)
		}
		want.NumberOfSeries, want.NumberOfInstances = 2, 4
		wantSeries.Instances = []domain.ImagingInstance{instance(s1, 1), instance(s1, 2), instance(s1, 3)}
		wantSeries.NumberOfInstances = 3
		wantSecond := second
		wantSecond.NumberOfInstances = 1
		want.Series = []domain.ImagingSeries{wantSeries, wantSecond}
		checkStudies(t, e, ids(org.ID), p.ID, want)

		chart, err := e.s.PatientChart(e.ctx, ids(org.ID), p.ID)
		if err != nil {
			t.Fatalf("PatientChart: %v", err)
		}
		if len(chart.Studies) != 1 || chart.Studies[0].StudyInstanceUID != uid {
			t.Errorf("chart studies: %s, want the one study %s", js(chart.Studies), uid)
		}
	})
	t.Run("Unmatched", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		mine := newStudy(org.ID, p.ID, 0, "1.2.3.4.100", "", domain.ImagingSeries{UID: "1.2.3.4.100.1", Modality: "DX",
			Instances: []domain.ImagingInstance{instance("1.2.3.4.100.1", 1)}})
		if err := e.s.SaveImagingStudy(e.ctx, mine, nil); err != nil {
			t.Fatalf("SaveImagingStudy: %v", err)
		}
		stray := newStudy(org.ID, 0, 0, "1.2.3.4.200", "UNKNOWN-1", domain.ImagingSeries{UID: "1.2.3.4.200.1", Modality: "DX",
			Instances: []domain.ImagingInstance{instance("1.2.3.4.200.1", 1)}})
		if err := e.s.SaveImagingStudy(e.ctx, stray, NewAudit(org.ID, domain.ActionCreate, "study.unmatched")); err != nil {
			t.Fatalf("SaveImagingStudy (unmatched): %v", err)
		}
		if stray.ID == 0 || stray.ID == mine.ID {
			t.Errorf("unmatched study ID %d (matched one %d)", stray.ID, mine.ID)
		}
		e.wantOneAudit(ids(org.ID), "study.unmatched")
		studies, err := e.s.PatientStudies(e.ctx, ids(org.ID), p.ID)
		if err != nil {
			t.Fatalf("PatientStudies: %v", err)
		}
		if len(studies) != 1 || studies[0].ID != mine.ID {
			t.Errorf("PatientStudies = %s, want only study %d", js(studies), mine.ID)
		}
		chart, err := e.s.PatientChart(e.ctx, ids(org.ID), p.ID)
		if err != nil {
			t.Fatalf("PatientChart: %v", err)
		}
		if len(chart.Studies) != 1 || chart.Studies[0].ID != mine.ID {
			t.Errorf("chart studies = %s, want only study %d", js(chart.Studies), mine.ID)
		}
		// Patient 0 is no patient: its "studies" are not the unmatched ones.
		if zero, err := e.s.PatientStudies(e.ctx, ids(org.ID), 0); err == nil && len(zero) != 0 {
			t.Errorf("PatientStudies(patient 0) = %s, want ErrNotFound or none", js(zero))
		} else if err != nil {
			wantNotFound(t, "PatientStudies(patient 0)", err)
		}
	})
	t.Run("Scoped", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		st := newStudy(a.ID, p.ID, 0, "1.2.3.4.300", "", domain.ImagingSeries{UID: "1.2.3.4.300.1", Modality: "CT",
			Instances: []domain.ImagingInstance{instance("1.2.3.4.300.1", 1)}})
		if err := e.s.SaveImagingStudy(e.ctx, st, nil); err != nil {
			t.Fatalf("SaveImagingStudy: %v", err)
		}
		_, err := e.s.PatientStudies(e.ctx, ids(b.ID), p.ID)
		wantNotFound(t, "PatientStudies from another organization", err)
	})
}

// checkStudies checks that the patient has exactly the study want.
func checkStudies(t *testing.T, e *env, orgs []int64, patient int64, want domain.ImagingStudy) {
	t.Helper()
	got, err := e.s.PatientStudies(e.ctx, orgs, patient)
	if err != nil {
		t.Fatalf("PatientStudies: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("PatientStudies returned %d studies, want 1: %s", len(got), js(got))
	}
	sameJSON(t, "PatientStudies", normStudy(want), normStudy(got[0]))
	checkUTC(t, "study Updated", got[0].Updated)
	if got[0].Started != nil {
		checkUTC(t, "study Started", *got[0].Started)
	}
}
