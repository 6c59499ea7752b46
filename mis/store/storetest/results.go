package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

func f64(v float64) *float64 { return &v }

// resultFixture is a patient with a lab order, a device and a saved report.
type resultFixture struct {
	org, other *domain.Organization
	patient    *domain.Patient
	order      *domain.ServiceRequest
	device     *domain.Device
	report     *domain.DiagnosticReport
	obs        []domain.Observation // as saved (IDs set by the store)
	audit      *domain.AuditEvent
}

// messageID is an inbound envelope id; the store keeps it as given.
const messageID = 4242

func newResultFixture(e *env) *resultFixture {
	e.t.Helper()
	f := &resultFixture{}
	f.org, f.other = e.org("Клиника"), e.org("Другая")
	f.patient = e.patient(f.org.ID, "Иванов", "Иван")
	f.order = e.order(NewLabOrder(f.org.ID, f.patient.ID, "2345-7", "1988-5", "5196-1", "883-9", "6690-2", "4544-3", "26515-7"))
	f.device = e.device(f.org.ID, "Mindray BS-200", "astm")
	spec := f.order.Specimens[0].ID
	if spec == 0 {
		spec = e.getOrder(ids(f.org.ID), f.order.ID).Specimens[0].ID
	}
	t0 := T0.Add(-24 * time.Hour)
	issued := T0.Add(-23 * time.Hour).Add(123 * time.Nanosecond)
	base := func(code, display string, effective time.Duration) domain.Observation {
		return domain.Observation{
			RequestID:  f.order.ID,
			SpecimenID: spec,
			DeviceID:   f.device.ID,
			MessageID:  messageID,
			Code:       domain.Coding{System: domain.SystemLOINC, Code: code, Display: display},
			Status:     "final",
			Effective:  t0.Add(effective),
			Issued:     issued,
		}
	}
	glucose := base("2345-7", "Глюкоза", 2*time.Minute)
	glucose.ValueQuantity = &domain.Quantity{Value: 5.5, Unit: "mmol/L"}
	glucose.ReferenceRange = &domain.ReferenceRange{Low: f64(3.9), High: f64(6.1), Text: "3,9–6,1 ммоль/л"}
	glucose.Interpretation = domain.InterpNormal

	crp := base("1988-5", "С-реактивный белок", time.Minute)
	crp.ValueQuantity = &domain.Quantity{Value: 0.1, Comparator: "<", Unit: "mg/L"}
	crp.ReferenceRange = &domain.ReferenceRange{High: f64(5)}

	hbs := base("5196-1", "HBsAg", time.Minute) // same instant as crp: ordered by id
	hbs.ValueString = "отрицательно"
	hbs.ReferenceRange = &domain.ReferenceRange{Text: "отрицательно"}

	group := base("883-9", "Группа крови", 0)
	group.ValueCoding = &domain.Coding{System: SystemSNOMED, Code: "112144000", Display: "Группа крови A"}
	group.Note = "Повторно не определять"

	wbc := base("6690-2", "Лейкоциты", 3*time.Minute)
	wbc.ValueRange = &domain.Range{Low: f64(2.5), Unit: "10*9/L"}
	wbc.Interpretation = domain.InterpHigh
	wbc.Status = "preliminary"
	wbc.ReferenceRange = &domain.ReferenceRange{Low: f64(4), High: f64(9)}

	hct := base("4544-3", "Гематокрит", 3*time.Minute)
	hct.ValueRange = &domain.Range{High: f64(7.25), Unit: "%"}

	plt := base("26515-7", "Тромбоциты", 4*time.Minute)
	plt.ValueRange = &domain.Range{Low: f64(1.5e-3), High: f64(2.0), Unit: "10*12/L"}
	plt.Interpretation = domain.InterpCriticalLow

	f.obs = []domain.Observation{glucose, crp, hbs, group, wbc, hct, plt}
	f.report = &domain.DiagnosticReport{
		OrganizationID: f.org.ID,
		PatientID:      f.patient.ID,
		RequestID:      f.order.ID,
		MessageID:      messageID,
		Code:           domain.Coding{System: domain.SystemLOINC, Code: "24323-8", Display: "Биохимический анализ крови"},
		Status:         "final",
		Effective:      t0,
		Issued:         issued,
		Conclusion:     "Без особенностей",
	}
	f.audit = NewAudit(f.org.ID, domain.ActionCreate, "report.create")
	f.audit.PatientID, f.audit.ResourceType = f.patient.ID, "DiagnosticReport"
	if err := e.s.SaveReport(e.ctx, f.report, f.obs, f.audit); err != nil {
		e.t.Fatalf("SaveReport: %v", err)
	}
	return f
}

// want returns the observations as they must come back, in chart order.
func (f *resultFixture) want() []domain.Observation {
	out := make([]domain.Observation, len(f.obs))
	for i, o := range f.obs {
		o.ReportID, o.PatientID, o.OrganizationID = f.report.ID, f.patient.ID, f.org.ID
		out[i] = normObs(o)
	}
	slices.SortFunc(out, func(a, b domain.Observation) int {
		if c := a.Effective.Compare(b.Effective); c != 0 {
			return c
		}
		return cmpInt(a.ID, b.ID)
	})
	return out
}

func testResults(t *testing.T, open opener) {
	t.Run("SaveReportSetsIDs", func(t *testing.T) {
		e := begin(t, open)
		f := newResultFixture(e)
		if f.report.ID == 0 {
			t.Error("SaveReport did not set the report ID")
		}
		seen := map[int64]bool{}
		for i, o := range f.obs {
			if o.ID == 0 || seen[o.ID] {
				t.Errorf("observation %d: ID %d (missing or repeated)", i, o.ID)
			}
			seen[o.ID] = true
			if o.ReportID != f.report.ID {
				t.Errorf("observation %d: ReportID %d, want %d", i, o.ReportID, f.report.ID)
			}
		}
		if f.audit.ResourceID != f.report.ID {
			t.Errorf("audit passed to SaveReport: ResourceID %d, want %d", f.audit.ResourceID, f.report.ID)
		}
		got := e.wantOneAudit(ids(f.org.ID), "report.create")
		if got.ResourceID != f.report.ID || got.PatientID != f.patient.ID {
			t.Errorf("stored audit: ResourceID %d, PatientID %d; want %d, %d", got.ResourceID, got.PatientID, f.report.ID, f.patient.ID)
		}
	})
	t.Run("Chart", func(t *testing.T) {
		e := begin(t, open)
		f := newResultFixture(e)
		// Another patient's results stay out of this chart.
		other := e.patient(f.org.ID, "Петров", "Пётр")
		rep := &domain.DiagnosticReport{OrganizationID: f.org.ID, PatientID: other.ID, Code: f.report.Code, Status: "final", Effective: T0, Issued: T0}
		obs := []domain.Observation{{Code: f.obs[0].Code, Status: "final", ValueQuantity: &domain.Quantity{Value: 7, Unit: "mmol/L"}, Effective: T0, Issued: T0}}
		if err := e.s.SaveReport(e.ctx, rep, obs, nil); err != nil {
			t.Fatalf("SaveReport(other patient): %v", err)
		}
		if obs[0].PatientID != 0 && obs[0].PatientID != other.ID {
			t.Errorf("observation PatientID set to %d, want %d", obs[0].PatientID, other.ID)
		}
		chart, err := e.s.PatientChart(e.ctx, ids(f.org.ID), f.patient.ID)
		if err != nil {
			t.Fatalf("PatientChart: %v", err)
		}
		sameJSON(t, "chart patient", normPatient(*f.patient), normPatient(chart.Patient))
		if len(chart.Reports) != 1 {
			t.Fatalf("chart has %d reports, want 1", len(chart.Reports))
		}
		wantReport := *f.report
		wantReport.Result = nil
		for _, o := range f.obs {
			wantReport.Result = append(wantReport.Result, o.ID)
		}
		sameJSON(t, "chart report", normReport(wantReport), normReport(chart.Reports[0]))
		checkUTC(t, "report Effective", chart.Reports[0].Effective)
		checkUTC(t, "report Issued", chart.Reports[0].Issued)
		want := f.want()
		if len(chart.Observations) != len(want) {
			t.Fatalf("chart has %d observations, want %d: %s", len(chart.Observations), len(want), js(chart.Observations))
		}
		for i := range want {
			got := chart.Observations[i]
			sameJSON(t, "chart observation "+want[i].Code.Code, want[i], normObs(got))
			checkUTC(t, "observation Effective", got.Effective)
			checkUTC(t, "observation Issued", got.Issued)
		}
		if len(chart.Studies) != 0 {
			t.Errorf("chart has %d studies, want none", len(chart.Studies))
		}
	})
	t.Run("EmptyChart", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		chart, err := e.s.PatientChart(e.ctx, ids(org.ID), p.ID)
		if err != nil {
			t.Fatalf("PatientChart: %v", err)
		}
		if chart.Patient.ID != p.ID || len(chart.Reports)+len(chart.Observations)+len(chart.Studies) != 0 {
			t.Errorf("chart of a new patient: %s", js(chart))
		}
	})
	t.Run("PatientObservationsByCode", func(t *testing.T) {
		e := begin(t, open)
		f := newResultFixture(e)
		// A second glucose, earlier, from a second report.
		rep := &domain.DiagnosticReport{OrganizationID: f.org.ID, PatientID: f.patient.ID, Code: f.report.Code, Status: "final", Effective: T0.Add(-72 * time.Hour), Issued: T0}
		obs := []domain.Observation{{Code: f.obs[0].Code, Status: "final", ValueQuantity: &domain.Quantity{Value: 6.3, Unit: "mmol/L"},
			Interpretation: domain.InterpHigh, Effective: T0.Add(-72 * time.Hour), Issued: T0}}
		if err := e.s.SaveReport(e.ctx, rep, obs, nil); err != nil {
			t.Fatalf("SaveReport: %v", err)
		}
		// Another patient's glucose stays out.
		other := e.patient(f.org.ID, "Петров", "Пётр")
		orep := &domain.DiagnosticReport{OrganizationID: f.org.ID, PatientID: other.ID, Code: f.report.Code, Status: "final", Effective: T0, Issued: T0}
		if err := e.s.SaveReport(e.ctx, orep, []domain.Observation{{Code: f.obs[0].Code, Status: "final",
			ValueQuantity: &domain.Quantity{Value: 4.4}, Effective: T0, Issued: T0}}, nil); err != nil {
			t.Fatalf("SaveReport: %v", err)
		}
		got, err := e.s.PatientObservations(e.ctx, ids(f.org.ID), f.patient.ID, "2345-7")
		if err != nil {
			t.Fatalf("PatientObservations: %v", err)
		}
		var gotIDs []int64
		for _, o := range got {
			gotIDs = append(gotIDs, o.ID)
			if o.Code.Code != "2345-7" {
				t.Errorf("PatientObservations(2345-7) returned code %q", o.Code.Code)
			}
		}
		sameIDs(t, "PatientObservations(2345-7) oldest first", ids(obs[0].ID, f.obs[0].ID), gotIDs)
		if len(got) == 2 {
			sameJSON(t, "observation", f.want()[slices.IndexFunc(f.want(), func(o domain.Observation) bool { return o.ID == f.obs[0].ID })], normObs(got[1]))
		}
		none, err := e.s.PatientObservations(e.ctx, ids(f.org.ID), f.patient.ID, "no-such-code")
		if err != nil || len(none) != 0 {
			t.Errorf("PatientObservations(unknown code) = %d observations, %v; want none", len(none), err)
		}
	})
	// What a result and a report keep besides the value: a LOINC code
	// beside the clinic's own, the instrument (HL7 OBX-18), the QC mark.
	t.Run("LOINCEquipmentQC", func(t *testing.T) {
		e := begin(t, open)
		f := newResultFixture(e)
		// A later glucose coded by the clinic's own code, LOINC beside it,
		// and one coded by its own code alone.
		at := T0.Add(time.Hour)
		rep := &domain.DiagnosticReport{OrganizationID: f.org.ID, PatientID: f.patient.ID, Code: f.report.Code, Status: "final",
			Effective: at, Issued: at, QC: true}
		obs := []domain.Observation{
			{Code: domain.Coding{System: domain.SystemLocalCode, Code: "GLU-L", Display: "Глюкоза"}, LOINC: "2345-7", Status: "final",
				ValueQuantity: &domain.Quantity{Value: 6.3, Unit: "mmol/L"}, Effective: at, Issued: at, Equipment: "XN-20 (SYSMEX)"},
			{Code: domain.Coding{System: domain.SystemLocalCode, Code: "ESR-L"}, Status: "final",
				ValueQuantity: &domain.Quantity{Value: 12, Unit: "mm/h"}, Effective: at, Issued: at},
		}
		if err := e.s.SaveReport(e.ctx, rep, obs, nil); err != nil {
			t.Fatalf("SaveReport: %v", err)
		}
		chart, err := e.s.PatientChart(e.ctx, ids(f.org.ID), f.patient.ID)
		if err != nil {
			t.Fatalf("PatientChart: %v", err)
		}
		i := slices.IndexFunc(chart.Observations, func(o domain.Observation) bool { return o.ID == obs[0].ID })
		if i < 0 {
			t.Fatalf("chart lacks observation %d", obs[0].ID)
		}
		want := obs[0]
		want.ReportID, want.PatientID, want.OrganizationID = rep.ID, f.patient.ID, f.org.ID
		sameJSON(t, "chart observation with LOINC", normObs(want), normObs(chart.Observations[i]))
		for _, r := range chart.Reports {
			if r.QC != (r.ID == rep.ID) {
				t.Errorf("report %d: QC %v", r.ID, r.QC)
			}
		}
		// A trend by the LOINC code takes in both codings, oldest first; by
		// the own code, only the own.
		got, err := e.s.PatientObservations(e.ctx, ids(f.org.ID), f.patient.ID, "2345-7")
		if err != nil {
			t.Fatalf("PatientObservations: %v", err)
		}
		var gotIDs []int64
		for _, o := range got {
			gotIDs = append(gotIDs, o.ID)
		}
		sameIDs(t, "PatientObservations(2345-7)", ids(f.obs[0].ID, obs[0].ID), gotIDs)
		if len(got) == 2 && got[1].LOINC != "2345-7" {
			t.Errorf("PatientObservations: LOINC %q, want 2345-7", got[1].LOINC)
		}
		for code, want := range map[string][]int64{"GLU-L": ids(obs[0].ID), "ESR-L": ids(obs[1].ID)} {
			got, err := e.s.PatientObservations(e.ctx, ids(f.org.ID), f.patient.ID, code)
			if err != nil || len(got) != len(want) || len(got) > 0 && got[0].ID != want[0] {
				t.Errorf("PatientObservations(%s) = %s, %v; want ids %v", code, js(got), err, want)
			}
		}
	})
	t.Run("Scoped", func(t *testing.T) {
		e := begin(t, open)
		f := newResultFixture(e)
		other := ids(f.other.ID)
		_, err := e.s.PatientChart(e.ctx, other, f.patient.ID)
		wantNotFound(t, "PatientChart from another organization", err)
		_, err = e.s.PatientObservations(e.ctx, other, f.patient.ID, "2345-7")
		wantNotFound(t, "PatientObservations from another organization", err)
		_, err = e.s.PatientStudies(e.ctx, other, f.patient.ID)
		wantNotFound(t, "PatientStudies from another organization", err)
		_, err = e.s.PatientChart(e.ctx, nil, f.patient.ID)
		wantNotFound(t, "PatientChart with no organizations", err)
		_, err = e.s.PatientChart(e.ctx, ids(f.org.ID), 987654321)
		wantNotFound(t, "PatientChart(unknown patient)", err)
	})
}
