package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

func ptr[T any](v T) *T { return &v }

func TestResults(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, doctor := e.createUser("doctor", e.org, domain.RoleDoctor)
		p := e.createPatient(e.admin, patientJSON("Иванов", "Пётр", "snils", testSNILS))
		other := e.createPatient(e.admin, patientJSON("Петров", "Иван"))
		lab := e.createOrder(e.admin, labOrder(p.ID))
		img := e.createOrder(e.admin, imagingOrder(p.ID))

		// Results arrive through the store, as mis/ingest would store them.
		eff := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
		report := &domain.DiagnosticReport{OrganizationID: e.org, PatientID: p.ID, RequestID: lab.ID,
			Code: domain.Coding{System: domain.SystemLOINC, Code: "24323-8", Display: "Биохимия"}, Status: "final", Effective: eff,
			Conclusion: "Гемоглобин снижен"}
		obs := []domain.Observation{
			{Code: domain.Coding{System: domain.SystemLOINC, Code: "2345-7", Display: "Глюкоза"}, Status: "final",
				ValueQuantity:  &domain.Quantity{Value: 5.4, Unit: "mmol/L"},
				ReferenceRange: &domain.ReferenceRange{Low: ptr(3.9), High: ptr(6.1)}, Interpretation: domain.InterpNormal, Effective: eff},
			{Code: domain.Coding{System: domain.SystemLOINC, Code: "718-7", Display: "Гемоглобин"}, Status: "final",
				ValueQuantity:  &domain.Quantity{Value: 110, Unit: "g/L"},
				ReferenceRange: &domain.ReferenceRange{Low: ptr(130.0), High: ptr(160.0)}, Interpretation: domain.InterpLow, Effective: eff},
		}
		if err := e.st.SaveReport(e.ctx, report, obs, &domain.AuditEvent{Action: domain.ActionCreate, Event: "report.store", OrganizationID: e.org}); err != nil {
			t.Fatalf("SaveReport: %v", err)
		}
		started := eff.Add(-time.Hour)
		series := img.StudyInstanceUID + ".1"
		study := &domain.ImagingStudy{OrganizationID: e.org, PatientID: p.ID, RequestID: img.ID, StudyInstanceUID: img.StudyInstanceUID,
			AccessionNumber: img.AccessionNumber, Modalities: []string{"CT"}, Description: "КЛКТ верхней челюсти", Started: &started,
			Status: "available", Series: []domain.ImagingSeries{{UID: series, Number: 1, Modality: "CT", Description: "Аксиальные",
				Instances: []domain.ImagingInstance{
					{SOPInstanceUID: series + ".1", SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", Number: 1, Size: 524288, Location: "dicom/1.dcm"},
					{SOPInstanceUID: series + ".2", SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", Number: 2, Size: 524289, Location: "dicom/2.dcm"},
				}}}}
		if err := e.st.SaveImagingStudy(e.ctx, study, &domain.AuditEvent{Action: domain.ActionCreate, Event: "study.store", OrganizationID: e.org}); err != nil {
			t.Fatalf("SaveImagingStudy: %v", err)
		}

		var chart domain.Chart
		r := e.get(patientPath(p.ID, "chart"), doctor)
		want(t, r, http.StatusOK, &chart)
		if chart.Patient.ID != p.ID || chart.Patient.SNILS != testSNILS {
			t.Errorf("chart patient %+v", chart.Patient)
		}
		if len(chart.Reports) != 1 || chart.Reports[0].ID != report.ID || len(chart.Reports[0].Result) != 2 ||
			chart.Reports[0].Conclusion != "Гемоглобин снижен" {
			t.Errorf("chart reports %+v", chart.Reports)
		}
		if len(chart.Observations) != 2 {
			t.Errorf("chart has %d observations, want 2", len(chart.Observations))
		}
		if len(chart.Studies) != 1 || chart.Studies[0].StudyInstanceUID != img.StudyInstanceUID || chart.Studies[0].NumberOfInstances != 2 {
			t.Errorf("chart studies %+v", chart.Studies)
		}
		if bytes.Contains(r.Body, []byte(`"11223344595"`)) {
			t.Error("chart shows СНИЛС unformatted")
		}

		var list struct {
			Items []domain.Observation `json:"items"`
		}
		want(t, e.get(patientPath(p.ID, "observations")+"?code=2345-7", doctor), http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0].ValueQuantity == nil || list.Items[0].ValueQuantity.Value != 5.4 ||
			list.Items[0].Interpretation != domain.InterpNormal || list.Items[0].RequestID != lab.ID {
			t.Errorf("observations of 2345-7: %+v", list.Items)
		}
		want(t, e.get(patientPath(p.ID, "observations"), doctor), http.StatusOK, &list)
		if len(list.Items) != 2 {
			t.Errorf("%d observations, want 2", len(list.Items))
		}
		want(t, e.get(patientPath(p.ID, "observations")+"?code=0000-0", doctor), http.StatusOK, &list)
		if list.Items == nil || len(list.Items) != 0 {
			t.Errorf("observations of an absent code: %+v (want an empty array)", list.Items)
		}

		var studies struct {
			Items []domain.ImagingStudy `json:"items"`
		}
		want(t, e.get(patientPath(p.ID, "studies"), doctor), http.StatusOK, &studies)
		if len(studies.Items) != 1 || len(studies.Items[0].Series) != 1 || len(studies.Items[0].Series[0].Instances) != 2 ||
			studies.Items[0].AccessionNumber != img.AccessionNumber || studies.Items[0].RequestID != img.ID {
			t.Errorf("studies %+v", studies.Items)
		}

		// Another patient's results do not leak into this one's and vice versa.
		var empty domain.Chart
		want(t, e.get(patientPath(other.ID, "chart"), doctor), http.StatusOK, &empty)
		if len(empty.Observations)+len(empty.Reports)+len(empty.Studies) != 0 {
			t.Errorf("other patient's chart %+v", empty)
		}

		// Every read is audited with the patient.
		for event, n := range map[string]int{"patient.chart": 1, "patient.observations": 3, "patient.studies": 1} {
			got := e.auditCount(event, func(ev domain.AuditEvent) bool {
				return ev.PatientID == p.ID && ev.OrganizationID == e.org && ev.Action == domain.ActionRead && ev.Outcome == 0 && ev.Login == "doctor"
			})
			if got != n {
				t.Errorf("%d %s audit rows with the patient, want %d", got, event, n)
			}
		}
		// And a doctor's read of a missing patient is a 404, audited as refused.
		wantError(t, e.get(patientPath(p.ID+1000, "chart"), doctor), http.StatusNotFound, "")
		if n := e.auditCount("patient.chart", func(ev domain.AuditEvent) bool {
			return ev.ResourceID == p.ID+1000 && ev.Outcome == domain.OutcomeMinorFailure
		}); n != 1 {
			t.Errorf("%d refused patient.chart audit rows, want 1", n)
		}
	})
}
