package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// SearchFixture is a small clinic population for the FHIR searches: two
// organizations, patients with identifiers, lab and imaging orders, two
// attached lab reports with every kind of value, an imaging study, and
// results and a study that wait in reconciliation (no patient), which no
// search may return.
type SearchFixture struct {
	Org, Other *domain.Organization

	Ivanov  *domain.Patient // Иванов Иван Петрович, male, 1980-05-17, СНИЛС, ЕНП, medical card number
	Petrova *domain.Patient // Петрова Анна, female, 1990-02-03
	Sidorov *domain.Patient // of Other

	LabOrder     *domain.ServiceRequest // Иванов: glucose and hemoglobin; its specimen collected at T0-25h
	ImagingOrder *domain.ServiceRequest // Иванов: CT chest, scheduled at T0-3h
	OtherOrder   *domain.ServiceRequest // Сидоров

	Analyzer *domain.Device // ASTM, of Org
	Scanner  *domain.Device // DICOM, of Org

	// LabReport belongs to LabOrder (Иванов), effective T0-24h. Its
	// observations: glucose 7.2 mmol/L H; CRP <0.1 mg/L; HBsAg
	// "отрицательно"; blood group (coded); WBC range; all final except WBC
	// (preliminary).
	LabReport *domain.DiagnosticReport
	LabObs    []domain.Observation
	// LaterReport is Иванов's glucose alone, no order, effective T0.
	LaterReport *domain.DiagnosticReport
	LaterObs    []domain.Observation
	// PetrovaReport is Петрова's hemoglobin, effective T0-48h, preliminary.
	PetrovaReport *domain.DiagnosticReport
	PetrovaObs    []domain.Observation
	// OtherReport is Сидоров's, in Other.
	OtherReport *domain.DiagnosticReport
	// Unattached is a report of Org with no patient (in reconciliation).
	Unattached    *domain.DiagnosticReport
	UnattachedObs []domain.Observation

	Study           *domain.ImagingStudy // Иванов's CT, of ImagingOrder, two series, three instances
	UnattachedStudy *domain.ImagingStudy
}

// Fixture codes.
const (
	LOINCGlucose    = "2345-7"
	LOINCHemoglobin = "718-7"
	LOINCCRP        = "1988-5"
	LOINCHBsAg      = "5196-1"
	LOINCBloodGroup = "883-9"
	LOINCWBC        = "6690-2"
	LOINCPanel      = "24323-8" // comprehensive metabolic panel
	MedCardIvanov   = "МК-2025-0001"
	CTImageStorage  = "1.2.840.10008.5.1.4.1.1.2"
	LOINCCBCPanel   = "58410-2"
	SNOMEDBloodType = "112144000"
	SNOMEDPlasma    = "119361006"
	BarcodeIvanov   = "0000000125" // Luhn-valid, assigned by hand
)

func ptr[T any](v T) *T { return &v }

// SeedSearch writes the SearchFixture into an empty store.
func SeedSearch(ctx context.Context, s store.Store) (*SearchFixture, error) {
	f := &SearchFixture{Org: NewOrganization("ООО «Клиника А»"), Other: NewOrganization("ООО «Клиника Б»")}
	f.Org.UIDRoot = UIDRoot
	for _, o := range []*domain.Organization{f.Org, f.Other} {
		if err := s.CreateOrganization(ctx, o); err != nil {
			return nil, fmt.Errorf("organization: %w", err)
		}
	}
	f.Ivanov = NewPatient(f.Org.ID, "Иванов", "Иван")
	f.Ivanov.Patronymic = "Петрович"
	f.Ivanov.SNILS, f.Ivanov.ENP = SNILS(112233445), ENP(1)
	f.Ivanov.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: MedCardIvanov}}
	f.Ivanov.Phone, f.Ivanov.Address = "+7 900 000-00-01", "г. Москва, ул. Тверская, д. 1"
	f.Petrova = NewPatient(f.Org.ID, "Петрова", "Анна")
	f.Petrova.Gender, f.Petrova.BirthDate = domain.GenderFemale, "1990-02-03"
	f.Sidorov = NewPatient(f.Other.ID, "Сидоров", "Пётр")
	for _, p := range []*domain.Patient{f.Ivanov, f.Petrova, f.Sidorov} {
		if err := s.CreatePatient(ctx, p, 0, nil); err != nil {
			return nil, fmt.Errorf("patient %s: %w", p.Family, err)
		}
	}

	collected := T0.Add(-25 * time.Hour)
	f.LabOrder = NewLabOrder(f.Org.ID, f.Ivanov.ID, LOINCGlucose, LOINCHemoglobin)
	f.LabOrder.Codes[0].Display = "Глюкоза"
	f.LabOrder.Priority = domain.PriorityUrgent
	f.LabOrder.Specimens = []domain.Specimen{{Barcode: BarcodeIvanov, Collected: &collected,
		Type: domain.Coding{System: SystemSNOMED, Code: SNOMEDPlasma, Display: "Плазма"}}}
	scheduled := T0.Add(-3 * time.Hour)
	f.ImagingOrder = NewImagingOrder(f.Org.ID, f.Ivanov.ID, "CT", "КТ органов грудной клетки")
	f.ImagingOrder.BodySite = "CHEST"
	f.ImagingOrder.Scheduled = &scheduled
	f.OtherOrder = NewLabOrder(f.Other.ID, f.Sidorov.ID, LOINCGlucose)
	for _, r := range []*domain.ServiceRequest{f.LabOrder, f.ImagingOrder, f.OtherOrder} {
		if err := s.CreateServiceRequest(ctx, r, nil); err != nil {
			return nil, fmt.Errorf("order: %w", err)
		}
	}
	if _, err := s.SetServiceRequestStatus(ctx, []int64{f.Org.ID}, f.ImagingOrder.ID, domain.StatusCancelled, nil); err != nil {
		return nil, fmt.Errorf("cancel imaging order: %w", err)
	}
	f.ImagingOrder.Status = domain.StatusCancelled

	f.Analyzer = NewDevice(f.Org.ID, "xn-550", domain.ProtocolASTM)
	f.Analyzer.Sender = "XN-550"
	f.Scanner = NewDevice(f.Org.ID, "ct-1", domain.ProtocolDICOM)
	f.Scanner.AETitle = "CT1"
	for _, d := range []*domain.Device{f.Analyzer, f.Scanner} {
		if err := s.CreateDevice(ctx, d, nil); err != nil {
			return nil, fmt.Errorf("device: %w", err)
		}
	}

	spec := f.LabOrder.Specimens[0].ID
	day1 := T0.Add(-24 * time.Hour)
	obs := func(code, display string, at time.Time) domain.Observation {
		return domain.Observation{SpecimenID: spec, DeviceID: f.Analyzer.ID,
			Code: domain.Coding{System: domain.SystemLOINC, Code: code, Display: display}, Status: "final", Effective: at}
	}
	glucose := obs(LOINCGlucose, "Глюкоза", day1)
	glucose.ValueQuantity = &domain.Quantity{Value: 7.2, Unit: "mmol/L"}
	glucose.ReferenceRange = &domain.ReferenceRange{Low: ptr(3.9), High: ptr(6.1), Text: "3,9–6,1 ммоль/л"}
	glucose.Interpretation = domain.InterpHigh
	crp := obs(LOINCCRP, "С-реактивный белок", day1)
	crp.ValueQuantity = &domain.Quantity{Value: 0.1, Comparator: "<", Unit: "mg/L"}
	crp.ReferenceRange = &domain.ReferenceRange{High: ptr(5.0)}
	crp.Interpretation = domain.InterpNormal
	hbs := obs(LOINCHBsAg, "HBsAg", day1)
	hbs.ValueString = "отрицательно"
	group := obs(LOINCBloodGroup, "Группа крови", day1)
	group.ValueCoding = &domain.Coding{System: SystemSNOMED, Code: SNOMEDBloodType, Display: "Группа крови A"}
	group.Note = "Повторно не определять"
	wbc := obs(LOINCWBC, "Лейкоциты", day1)
	wbc.ValueRange = &domain.Range{Low: ptr(2.5), High: ptr(3.0), Unit: "10*9/L"}
	wbc.Status = "preliminary"
	wbc.Interpretation = domain.InterpLow
	f.LabObs = []domain.Observation{glucose, crp, hbs, group, wbc}
	f.LabReport = &domain.DiagnosticReport{OrganizationID: f.Org.ID, PatientID: f.Ivanov.ID, RequestID: f.LabOrder.ID,
		Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCPanel, Display: "Биохимия"}, Status: "final",
		Effective: day1, Issued: day1.Add(time.Hour), Conclusion: "Гипергликемия"}

	later := obs(LOINCGlucose, "Глюкоза", T0)
	later.SpecimenID = 0
	later.ValueQuantity = &domain.Quantity{Value: 5.1, Unit: "mmol/L"}
	later.Interpretation = domain.InterpNormal
	f.LaterObs = []domain.Observation{later}
	f.LaterReport = &domain.DiagnosticReport{OrganizationID: f.Org.ID, PatientID: f.Ivanov.ID,
		Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCGlucose, Display: "Глюкоза"}, Status: "final",
		Effective: T0, Issued: T0.Add(time.Minute)}

	hb := obs(LOINCHemoglobin, "Гемоглобин", T0.Add(-48*time.Hour))
	hb.SpecimenID = 0
	hb.Status = "preliminary"
	hb.ValueQuantity = &domain.Quantity{Value: 128, Unit: "g/L"}
	f.PetrovaObs = []domain.Observation{hb}
	f.PetrovaReport = &domain.DiagnosticReport{OrganizationID: f.Org.ID, PatientID: f.Petrova.ID,
		Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCCBCPanel, Display: "ОАК"}, Status: "preliminary",
		Effective: T0.Add(-48 * time.Hour), Issued: T0.Add(-47 * time.Hour)}

	otherObs := []domain.Observation{{Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCGlucose}, Status: "final",
		Effective: T0, ValueQuantity: &domain.Quantity{Value: 4.4, Unit: "mmol/L"}}}
	f.OtherReport = &domain.DiagnosticReport{OrganizationID: f.Other.ID, PatientID: f.Sidorov.ID, RequestID: f.OtherOrder.ID,
		Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCGlucose}, Status: "final", Effective: T0, Issued: T0}

	f.UnattachedObs = []domain.Observation{{Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCGlucose}, Status: "final",
		Effective: T0, ValueQuantity: &domain.Quantity{Value: 9.9, Unit: "mmol/L"}}}
	f.Unattached = &domain.DiagnosticReport{OrganizationID: f.Org.ID,
		Code: domain.Coding{System: domain.SystemLOINC, Code: LOINCGlucose}, Status: "final", Effective: T0, Issued: T0}

	for _, rs := range []struct {
		r   *domain.DiagnosticReport
		obs *[]domain.Observation
	}{{f.LabReport, &f.LabObs}, {f.LaterReport, &f.LaterObs}, {f.PetrovaReport, &f.PetrovaObs},
		{f.OtherReport, &otherObs}, {f.Unattached, &f.UnattachedObs}} {
		if err := s.SaveReport(ctx, rs.r, *rs.obs, nil); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}

	uid := f.ImagingOrder.StudyInstanceUID
	started := T0.Add(-2 * time.Hour)
	inst := func(series string, n int) domain.ImagingInstance {
		return domain.ImagingInstance{SOPInstanceUID: fmt.Sprintf("%s.%d", series, n), SOPClassUID: CTImageStorage, Number: n,
			TransferSyntax: "1.2.840.10008.1.2.1", Size: 524288, Location: fmt.Sprintf("dicom/%s/%d.dcm", series, n)}
	}
	f.Study = &domain.ImagingStudy{OrganizationID: f.Org.ID, PatientID: f.Ivanov.ID, RequestID: f.ImagingOrder.ID,
		StudyInstanceUID: uid, AccessionNumber: f.ImagingOrder.AccessionNumber, Modalities: []string{"CT", "SR"},
		Description: "КТ органов грудной клетки", Started: &started, Status: "available",
		Series: []domain.ImagingSeries{
			{UID: uid + ".1", Number: 1, Modality: "CT", Description: "Аксиальные 1 мм", BodyPart: "CHEST", NumberOfInstances: 2,
				Instances: []domain.ImagingInstance{inst(uid+".1", 1), inst(uid+".1", 2)}},
			{UID: uid + ".2", Number: 2, Modality: "SR", Description: "Дозовый отчёт", NumberOfInstances: 1,
				Instances: []domain.ImagingInstance{inst(uid+".2", 1)}},
		}}
	f.UnattachedStudy = &domain.ImagingStudy{OrganizationID: f.Org.ID, StudyInstanceUID: "2.25.1234567890",
		Modalities: []string{"CT"}, Status: "available", Started: &started}
	for _, st := range []*domain.ImagingStudy{f.Study, f.UnattachedStudy} {
		if err := s.SaveImagingStudy(ctx, st, nil); err != nil {
			return nil, fmt.Errorf("study: %w", err)
		}
	}
	return f, nil
}
