package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testSearchers checks store.Searcher, the FHIR API's searches and reads,
// over the SearchFixture population.
func testSearchers(t *testing.T, open opener) {
	e := begin(t, open)
	f, err := SeedSearch(e.ctx, e.s)
	if err != nil {
		t.Fatalf("SeedSearch: %v", err)
	}
	org, all := ids(f.Org.ID), ids(f.Org.ID, f.Other.ID)
	lab := func(i int) int64 { return f.LabObs[i].ID }
	day := func(prefix string, d time.Time) store.DateParam {
		start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, d.Location())
		return store.DateParam{Prefix: prefix, Start: start, End: start.AddDate(0, 0, 1)}
	}
	loinc := func(code string) store.Token {
		return store.Token{System: domain.SystemLOINC, Code: code, HasSystem: true}
	}
	code := func(c string) store.Token { return store.Token{Code: c} }
	total := store.SearchPage{Total: true}

	t.Run("Observations", func(t *testing.T) {
		obs := func(q store.ObservationQuery) ([]int64, int) {
			t.Helper()
			q.SearchPage = total
			list, next, n, err := e.s.SearchObservations(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchObservations(%+v): %v", q, err)
			}
			if next != "" {
				t.Errorf("SearchObservations(%+v): a next cursor on the only page", q)
			}
			got := make([]int64, len(list))
			for i, o := range list {
				got[i] = o.ID
				if o.PatientID == 0 {
					t.Errorf("observation %d without a patient returned", o.ID)
				}
			}
			if n != len(got) {
				t.Errorf("SearchObservations(%+v): total %d for %d hits", q, n, len(got))
			}
			return got, n
		}
		ivanov := append(ids(lab(0), lab(1), lab(2), lab(3), lab(4)), f.LaterObs[0].ID)
		got, _ := obs(store.ObservationQuery{Orgs: org, PatientID: f.Ivanov.ID})
		sameIDs(t, "patient", ivanov, got)
		got, _ = obs(store.ObservationQuery{Orgs: org})
		sameIDs(t, "organization (unattached left out)", append(slices.Clone(ivanov), f.PetrovaObs[0].ID), got)
		got, _ = obs(store.ObservationQuery{Orgs: ids(f.Other.ID), PatientID: f.Ivanov.ID})
		sameIDs(t, "patient of another organization", nil, got)
		got, _ = obs(store.ObservationQuery{Orgs: nil})
		sameIDs(t, "no organization", nil, got)

		got, _ = obs(store.ObservationQuery{Orgs: org, Codes: []store.Token{code(LOINCGlucose)}})
		sameIDs(t, "code any system", ids(lab(0), f.LaterObs[0].ID), got)
		got, _ = obs(store.ObservationQuery{Orgs: all, Codes: []store.Token{loinc(LOINCGlucose)}})
		if len(got) != 3 {
			t.Errorf("system|code over both organizations: %v, want 3 hits", got)
		}
		got, _ = obs(store.ObservationQuery{Orgs: org, Codes: []store.Token{{Code: LOINCGlucose, HasSystem: true}}})
		sameIDs(t, "|code (no system)", nil, got)
		got, _ = obs(store.ObservationQuery{Orgs: org, Codes: []store.Token{{System: domain.SystemLOINC, HasSystem: true}}, PatientID: f.Petrova.ID})
		sameIDs(t, "system| (any code)", ids(f.PetrovaObs[0].ID), got)
		got, _ = obs(store.ObservationQuery{Orgs: org, Codes: []store.Token{code(LOINCCRP), loinc(LOINCHemoglobin)}})
		sameIDs(t, "codes ORed", sorted(ids(f.PetrovaObs[0].ID, lab(1))), got)

		day1 := T0.Add(-24 * time.Hour)
		for _, c := range []struct {
			name  string
			dates []store.DateParam
			want  []int64
		}{
			{"eq day", []store.DateParam{day("eq", day1)}, ids(lab(0), lab(1), lab(2), lab(3), lab(4))},
			{"empty prefix is eq", []store.DateParam{day("", T0)}, ids(f.LaterObs[0].ID)},
			{"ne", []store.DateParam{day("ne", day1)}, ids(f.PetrovaObs[0].ID, f.LaterObs[0].ID)},
			{"lt", []store.DateParam{day("lt", day1)}, ids(f.PetrovaObs[0].ID)},
			{"eb", []store.DateParam{day("eb", day1)}, ids(f.PetrovaObs[0].ID)},
			{"le", []store.DateParam{day("le", day1)}, ids(f.PetrovaObs[0].ID, lab(0), lab(1), lab(2), lab(3), lab(4))},
			{"gt", []store.DateParam{day("gt", day1)}, ids(f.LaterObs[0].ID)},
			{"sa", []store.DateParam{day("sa", day1)}, ids(f.LaterObs[0].ID)},
			{"ge", []store.DateParam{day("ge", day1)}, ids(lab(0), lab(1), lab(2), lab(3), lab(4), f.LaterObs[0].ID)},
			{"range ANDed", []store.DateParam{day("ge", T0.Add(-48*time.Hour)), day("lt", T0)},
				ids(f.PetrovaObs[0].ID, lab(0), lab(1), lab(2), lab(3), lab(4))},
			{"instant", []store.DateParam{{Prefix: "eq", Start: us(T0), End: us(T0).Add(time.Microsecond)}}, ids(f.LaterObs[0].ID)},
		} {
			got, _ := obs(store.ObservationQuery{Orgs: org, Date: c.dates})
			sameIDs(t, "date "+c.name, sorted(c.want), got)
		}

		got, _ = obs(store.ObservationQuery{Orgs: org, Status: []string{"preliminary"}})
		sameIDs(t, "status", sorted(ids(f.PetrovaObs[0].ID, lab(4))), got)
		got, _ = obs(store.ObservationQuery{Orgs: org, RequestIDs: ids(f.LabOrder.ID)})
		sameIDs(t, "based-on", ids(lab(0), lab(1), lab(2), lab(3), lab(4)), got)
		got, _ = obs(store.ObservationQuery{Orgs: org, SpecimenIDs: ids(f.LabOrder.Specimens[0].ID), Codes: []store.Token{code(LOINCCRP)}})
		sameIDs(t, "specimen and code", ids(lab(1)), got)
		got, _ = obs(store.ObservationQuery{Orgs: org, DeviceIDs: ids(f.Analyzer.ID), PatientID: f.Petrova.ID})
		sameIDs(t, "device", ids(f.PetrovaObs[0].ID), got)
		got, _ = obs(store.ObservationQuery{Orgs: org, IDs: ids(lab(2), f.UnattachedObs[0].ID)})
		sameIDs(t, "ids", ids(lab(2)), got)
		got, _ = obs(store.ObservationQuery{Orgs: org, IDs: []int64{}})
		sameIDs(t, "empty id list", nil, got)

		// Paging: every page carries the total over all pages.
		var totals []int
		pages := walk(t, "observation pages", func(cursor string) ([]domain.Observation, string, error) {
			list, next, n, err := e.s.SearchObservations(e.ctx, store.ObservationQuery{Orgs: org,
				SearchPage: store.SearchPage{Page: store.Page{Limit: 2, Cursor: cursor}, Total: true}})
			totals = append(totals, n)
			return list, next, err
		})
		if want := []int{2, 2, 2, 1}; !slices.Equal(pageSizes(pages), want) {
			t.Errorf("page sizes %v, want %v", pageSizes(pages), want)
		}
		if !slices.Equal(totals, []int{7, 7, 7, 7}) {
			t.Errorf("totals per page %v, want 7 each", totals)
		}
		var gotIDs []int64
		for _, o := range concat(pages) {
			gotIDs = append(gotIDs, o.ID)
		}
		sameIDs(t, "pages in id order", sorted(append(slices.Clone(ivanov), f.PetrovaObs[0].ID)), gotIDs)
		if _, _, n, err := e.s.SearchObservations(e.ctx, store.ObservationQuery{Orgs: org}); err != nil || n != -1 {
			t.Errorf("without Total: total %d, err %v; want -1", n, err)
		}
		if _, _, _, err := e.s.SearchObservations(e.ctx, store.ObservationQuery{Orgs: org,
			SearchPage: store.SearchPage{Page: store.Page{Cursor: "!!not-a-cursor"}}}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("bad cursor: %v, want ErrBadCursor", err)
		}

		o, err := e.s.GetObservation(e.ctx, org, lab(1))
		if err != nil {
			t.Fatalf("GetObservation: %v", err)
		}
		want := f.LabObs[1]
		sameJSON(t, "GetObservation", normObs(want), normObs(*o))
		_, err = e.s.GetObservation(e.ctx, ids(f.Other.ID), lab(1))
		wantNotFound(t, "GetObservation of another organization", err)
		_, err = e.s.GetObservation(e.ctx, org, f.UnattachedObs[0].ID)
		wantNotFound(t, "GetObservation unattached", err)
	})

	t.Run("Reports", func(t *testing.T) {
		reports := func(q store.ReportQuery) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchReports(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchReports(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchReports(%+v): total %d for %d hits", q, n, len(list))
			}
			var got []int64
			for _, r := range list {
				got = append(got, r.ID)
			}
			return got
		}
		sameIDs(t, "organization", ids(f.LabReport.ID, f.LaterReport.ID, f.PetrovaReport.ID), reports(store.ReportQuery{Orgs: org}))
		sameIDs(t, "patient", ids(f.LabReport.ID, f.LaterReport.ID), reports(store.ReportQuery{Orgs: org, PatientID: f.Ivanov.ID}))
		sameIDs(t, "category lab (with and without order)", ids(f.LabReport.ID, f.LaterReport.ID, f.PetrovaReport.ID),
			reports(store.ReportQuery{Orgs: org, Category: []domain.Category{domain.CategoryLab}}))
		sameIDs(t, "category imaging", nil, reports(store.ReportQuery{Orgs: org, Category: []domain.Category{domain.CategoryImaging}}))
		sameIDs(t, "based-on", ids(f.LabReport.ID), reports(store.ReportQuery{Orgs: org, RequestIDs: ids(f.LabOrder.ID)}))
		sameIDs(t, "code", ids(f.LaterReport.ID), reports(store.ReportQuery{Orgs: org, Codes: []store.Token{loinc(LOINCGlucose)}}))
		sameIDs(t, "status", ids(f.PetrovaReport.ID), reports(store.ReportQuery{Orgs: org, Status: []string{"preliminary"}}))
		sameIDs(t, "date ge", ids(f.LabReport.ID, f.LaterReport.ID),
			reports(store.ReportQuery{Orgs: org, Date: []store.DateParam{day("ge", T0.Add(-24*time.Hour))}}))
		sameIDs(t, "issued", ids(f.PetrovaReport.ID),
			reports(store.ReportQuery{Orgs: org, Issued: []store.DateParam{day("lt", T0.Add(-24*time.Hour))}}))
		sameIDs(t, "unattached by id", nil, reports(store.ReportQuery{Orgs: org, IDs: ids(f.Unattached.ID)}))

		r, err := e.s.GetReport(e.ctx, org, f.LabReport.ID)
		if err != nil {
			t.Fatalf("GetReport: %v", err)
		}
		sameJSON(t, "GetReport", normReport(*f.LabReport), normReport(*r))
		_, err = e.s.GetReport(e.ctx, ids(f.Other.ID), f.LabReport.ID)
		wantNotFound(t, "GetReport of another organization", err)
		_, err = e.s.GetReport(e.ctx, org, f.Unattached.ID)
		wantNotFound(t, "GetReport unattached", err)
	})

	t.Run("ServiceRequests", func(t *testing.T) {
		orders := func(q store.ServiceRequestQuery) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchServiceRequests(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchServiceRequests(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchServiceRequests(%+v): total %d for %d hits", q, n, len(list))
			}
			return orderIDs(list)
		}
		labID, imgID := f.LabOrder.ID, f.ImagingOrder.ID
		sameIDs(t, "organization", ids(labID, imgID), orders(store.ServiceRequestQuery{Orgs: org}))
		sameIDs(t, "accession", ids(imgID), orders(store.ServiceRequestQuery{Orgs: org,
			Identifiers: []store.Token{{System: domain.SystemAccession, Code: f.ImagingOrder.AccessionNumber, HasSystem: true}}}))
		sameIDs(t, "accession, any system", ids(labID), orders(store.ServiceRequestQuery{Orgs: org,
			Identifiers: []store.Token{code(f.LabOrder.AccessionNumber)}}))
		// Each organization numbers its own orders: the same accession is another order there.
		sameIDs(t, "accession in another organization", ids(f.OtherOrder.ID), orders(store.ServiceRequestQuery{Orgs: ids(f.Other.ID),
			Identifiers: []store.Token{code(f.LabOrder.AccessionNumber)}}))
		sameIDs(t, "study uid", ids(imgID), orders(store.ServiceRequestQuery{Orgs: org,
			Identifiers: []store.Token{{System: domain.SystemDICOMUID, Code: "urn:oid:" + f.ImagingOrder.StudyInstanceUID, HasSystem: true}}}))
		sameIDs(t, "unknown identifier system", nil, orders(store.ServiceRequestQuery{Orgs: org,
			Identifiers: []store.Token{{System: "urn:x", Code: f.LabOrder.AccessionNumber, HasSystem: true}}}))
		sameIDs(t, "code", ids(labID), orders(store.ServiceRequestQuery{Orgs: org, Codes: []store.Token{code(LOINCHemoglobin)}}))
		sameIDs(t, "system|code", ids(labID), orders(store.ServiceRequestQuery{Orgs: org, Codes: []store.Token{loinc(LOINCGlucose)}}))
		sameIDs(t, "code is not a prefix", nil, orders(store.ServiceRequestQuery{Orgs: org, Codes: []store.Token{code("2345")}}))
		sameIDs(t, "|code", nil, orders(store.ServiceRequestQuery{Orgs: org, Codes: []store.Token{{Code: LOINCGlucose, HasSystem: true}}}))
		sameIDs(t, "system|", ids(labID), orders(store.ServiceRequestQuery{Orgs: org,
			Codes: []store.Token{{System: domain.SystemLOINC, HasSystem: true}}}))
		sameIDs(t, "status", ids(imgID), orders(store.ServiceRequestQuery{Orgs: org, Status: []domain.RequestStatus{domain.StatusCancelled}}))
		sameIDs(t, "category", ids(imgID), orders(store.ServiceRequestQuery{Orgs: org, Category: []domain.Category{domain.CategoryImaging}}))
		sameIDs(t, "patient", nil, orders(store.ServiceRequestQuery{Orgs: org, PatientID: f.Petrova.ID}))
		sameIDs(t, "occurrence", ids(imgID), orders(store.ServiceRequestQuery{Orgs: org,
			Occurrence: []store.DateParam{day("eq", T0)}}))
		sameIDs(t, "authored in the past", nil, orders(store.ServiceRequestQuery{Orgs: org,
			Authored: []store.DateParam{day("lt", T0)}}))
		list, _, _, err := e.s.SearchServiceRequests(e.ctx, store.ServiceRequestQuery{Orgs: org, IDs: ids(labID)})
		if err != nil || len(list) != 1 || len(list[0].Specimens) != 1 || list[0].Specimens[0].Barcode != BarcodeIvanov {
			t.Errorf("order with specimens: %+v, %v", list, err)
		}
	})

	t.Run("Specimens", func(t *testing.T) {
		specimens := func(q store.SpecimenQuery) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchSpecimens(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchSpecimens(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchSpecimens(%+v): total %d for %d hits", q, n, len(list))
			}
			var got []int64
			for _, sp := range list {
				got = append(got, sp.ID)
			}
			return got
		}
		sp := f.LabOrder.Specimens[0]
		sameIDs(t, "organization", ids(sp.ID), specimens(store.SpecimenQuery{Orgs: org}))
		sameIDs(t, "barcode", ids(sp.ID), specimens(store.SpecimenQuery{Orgs: all,
			Identifiers: []store.Token{{System: domain.SystemBarcode, Code: BarcodeIvanov, HasSystem: true}}}))
		sameIDs(t, "type", ids(sp.ID), specimens(store.SpecimenQuery{Orgs: org, Types: []store.Token{code(SNOMEDPlasma)}}))
		sameIDs(t, "collected", ids(sp.ID), specimens(store.SpecimenQuery{Orgs: org,
			Collected: []store.DateParam{day("le", T0.Add(-25*time.Hour))}}))
		sameIDs(t, "collected, none later", nil, specimens(store.SpecimenQuery{Orgs: org, Collected: []store.DateParam{day("gt", T0)}}))
		sameIDs(t, "based-on", ids(sp.ID), specimens(store.SpecimenQuery{Orgs: org, RequestIDs: ids(f.LabOrder.ID)}))
		sameIDs(t, "patient", nil, specimens(store.SpecimenQuery{Orgs: org, PatientID: f.Petrova.ID}))
		got, err := e.s.GetSpecimen(e.ctx, org, sp.ID)
		if err != nil {
			t.Fatalf("GetSpecimen: %v", err)
		}
		sp.Collected = usp(sp.Collected)
		sameJSON(t, "GetSpecimen", sp, *got)
		_, err = e.s.GetSpecimen(e.ctx, ids(f.Other.ID), sp.ID)
		wantNotFound(t, "GetSpecimen of another organization", err)
	})

	t.Run("Studies", func(t *testing.T) {
		studies := func(q store.StudyQuery) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchStudies(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchStudies(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchStudies(%+v): total %d for %d hits", q, n, len(list))
			}
			var got []int64
			for _, st := range list {
				got = append(got, st.ID)
			}
			return got
		}
		id := f.Study.ID
		sameIDs(t, "organization (unattached left out)", ids(id), studies(store.StudyQuery{Orgs: org}))
		sameIDs(t, "uid", ids(id), studies(store.StudyQuery{Orgs: org,
			Identifiers: []store.Token{{System: domain.SystemDICOMUID, Code: "urn:oid:" + f.Study.StudyInstanceUID, HasSystem: true}}}))
		sameIDs(t, "uid without urn:oid: nor system", nil, studies(store.StudyQuery{Orgs: org, Identifiers: []store.Token{code(f.Study.StudyInstanceUID)}}))
		sameIDs(t, "uid under its system without urn:oid:", ids(id), studies(store.StudyQuery{Orgs: org,
			Identifiers: []store.Token{{System: domain.SystemDICOMUID, Code: f.Study.StudyInstanceUID, HasSystem: true}}}))
		sameIDs(t, "accession", ids(id), studies(store.StudyQuery{Orgs: org, Identifiers: []store.Token{code(f.ImagingOrder.AccessionNumber)}}))
		sameIDs(t, "unattached uid", nil, studies(store.StudyQuery{Orgs: org, Identifiers: []store.Token{code("urn:oid:" + f.UnattachedStudy.StudyInstanceUID)}}))
		sameIDs(t, "modality", ids(id), studies(store.StudyQuery{Orgs: org, Modalities: []string{"SR"}}))
		sameIDs(t, "modality is exact", nil, studies(store.StudyQuery{Orgs: org, Modalities: []string{"S"}}))
		sameIDs(t, "started", ids(id), studies(store.StudyQuery{Orgs: org, Started: []store.DateParam{day("eq", T0)}}))
		sameIDs(t, "based-on", ids(id), studies(store.StudyQuery{Orgs: org, RequestIDs: ids(f.ImagingOrder.ID)}))
		sameIDs(t, "status", nil, studies(store.StudyQuery{Orgs: org, Status: []string{"registered"}}))
		st, err := e.s.GetStudy(e.ctx, org, id)
		if err != nil {
			t.Fatalf("GetStudy: %v", err)
		}
		sameJSON(t, "GetStudy", normStudy(*f.Study), normStudy(*st))
		_, err = e.s.GetStudy(e.ctx, ids(f.Other.ID), id)
		wantNotFound(t, "GetStudy of another organization", err)
		_, err = e.s.GetStudy(e.ctx, org, f.UnattachedStudy.ID)
		wantNotFound(t, "GetStudy unattached", err)
	})

	t.Run("Patients", func(t *testing.T) {
		patients := func(q store.PatientSearch) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchPatientRecords(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchPatientRecords(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchPatientRecords(%+v): total %d for %d hits", q, n, len(list))
			}
			return patientIDs(list)
		}
		iv, pe := f.Ivanov.ID, f.Petrova.ID
		sameIDs(t, "organization", ids(iv, pe), patients(store.PatientSearch{Orgs: org}))
		sameIDs(t, "name: family prefix", ids(iv), patients(store.PatientSearch{Orgs: org, Name: "ИВАН"}))
		sameIDs(t, "name: given", ids(pe), patients(store.PatientSearch{Orgs: org, Name: "анна"}))
		sameIDs(t, "name: patronymic and family", ids(iv, pe), patients(store.PatientSearch{Orgs: org, Name: "Петр"}))
		sameIDs(t, "name: full", ids(iv), patients(store.PatientSearch{Orgs: org, Name: "иванов иван п"}))
		sameIDs(t, "name: not inside a word", nil, patients(store.PatientSearch{Orgs: org, Name: "ванов"}))
		sameIDs(t, "name: wildcard is literal", nil, patients(store.PatientSearch{Orgs: org, Name: "%"}))
		sameIDs(t, "name: ё as е", ids(f.Sidorov.ID), patients(store.PatientSearch{Orgs: ids(f.Other.ID), Name: "ПЁТР"}))
		sameIDs(t, "birthdate eq", ids(iv), patients(store.PatientSearch{Orgs: org, BirthDate: []store.DateParam{day("eq", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC))}}))
		year := store.DateParam{Prefix: "ge", Start: time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(1986, 1, 1, 0, 0, 0, 0, time.UTC)}
		sameIDs(t, "birthdate ge year", ids(pe), patients(store.PatientSearch{Orgs: org, BirthDate: []store.DateParam{year}}))
		year.Prefix = "lt"
		sameIDs(t, "birthdate lt year", ids(iv), patients(store.PatientSearch{Orgs: org, BirthDate: []store.DateParam{year}}))
		sameIDs(t, "gender", ids(pe), patients(store.PatientSearch{Orgs: org, Gender: []domain.Gender{domain.GenderFemale}}))
		sameIDs(t, "СНИЛС", ids(iv), patients(store.PatientSearch{Orgs: org,
			Identifiers: []store.Token{{System: domain.SystemSNILS, Code: f.Ivanov.SNILS, HasSystem: true}}}))
		sameIDs(t, "ЕНП any system", ids(iv), patients(store.PatientSearch{Orgs: org, Identifiers: []store.Token{code(f.Ivanov.ENP)}}))
		sameIDs(t, "СНИЛС under the wrong system", nil, patients(store.PatientSearch{Orgs: org,
			Identifiers: []store.Token{{System: domain.SystemENP, Code: f.Ivanov.SNILS, HasSystem: true}}}))
		sameIDs(t, "medical card", ids(iv), patients(store.PatientSearch{Orgs: org,
			Identifiers: []store.Token{{System: SystemMedCard, Code: MedCardIvanov, HasSystem: true}}}))
		sameIDs(t, "identifier of another organization", nil, patients(store.PatientSearch{Orgs: ids(f.Other.ID),
			Identifiers: []store.Token{code(f.Ivanov.SNILS)}}))
		list, _, _, err := e.s.SearchPatientRecords(e.ctx, store.PatientSearch{Orgs: org, IDs: ids(iv)})
		if err != nil || len(list) != 1 {
			t.Fatalf("patient by id: %v, %v", list, err)
		}
		sameJSON(t, "patient identifiers", normPatient(*e.getPatient(org, iv)), normPatient(list[0]))
	})

	t.Run("Devices", func(t *testing.T) {
		devices := func(q store.DeviceQuery) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchDevices(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchDevices(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchDevices(%+v): total %d for %d hits", q, n, len(list))
			}
			var got []int64
			for _, d := range list {
				got = append(got, d.ID)
			}
			return got
		}
		sameIDs(t, "organization", ids(f.Analyzer.ID, f.Scanner.ID), devices(store.DeviceQuery{Orgs: org}))
		sameIDs(t, "other organization", nil, devices(store.DeviceQuery{Orgs: ids(f.Other.ID)}))
		sameIDs(t, "name prefix", ids(f.Analyzer.ID), devices(store.DeviceQuery{Orgs: org, Name: "XN"}))
		sameIDs(t, "AE title", ids(f.Scanner.ID), devices(store.DeviceQuery{Orgs: org,
			Identifiers: []store.Token{{System: store.SystemAETitle, Code: "CT1", HasSystem: true}}}))
		sameIDs(t, "sender, any system", ids(f.Analyzer.ID), devices(store.DeviceQuery{Orgs: org, Identifiers: []store.Token{code("XN-550")}}))
		inactive := false
		sameIDs(t, "inactive", nil, devices(store.DeviceQuery{Orgs: org, Active: &inactive}))
	})

	t.Run("AuditEvents", func(t *testing.T) {
		ev1 := NewAudit(f.Org.ID, domain.ActionRead, "fhir.patient.read")
		ev1.PatientID, ev1.Time = f.Ivanov.ID, T0
		ev2 := NewAudit(f.Org.ID, domain.ActionCreate, "patient.create")
		ev2.Time = T0.Add(48 * time.Hour)
		ev3 := NewAudit(f.Other.ID, domain.ActionRead, "patient.read")
		ev3.PatientID = f.Sidorov.ID
		for _, ev := range []*domain.AuditEvent{ev1, ev2, ev3} {
			if err := e.s.WriteAudit(e.ctx, ev); err != nil {
				t.Fatalf("WriteAudit: %v", err)
			}
		}
		audits := func(q store.AuditEventQuery) []int64 {
			t.Helper()
			q.SearchPage = total
			list, _, n, err := e.s.SearchAuditEvents(e.ctx, q)
			if err != nil {
				t.Fatalf("SearchAuditEvents(%+v): %v", q, err)
			}
			if n != len(list) {
				t.Errorf("SearchAuditEvents(%+v): total %d for %d hits", q, n, len(list))
			}
			var got []int64
			for _, ev := range list {
				got = append(got, ev.ID)
			}
			return got
		}
		sameIDs(t, "organization", ids(ev1.ID, ev2.ID), audits(store.AuditEventQuery{Orgs: org}))
		sameIDs(t, "patient", ids(ev1.ID), audits(store.AuditEventQuery{Orgs: org, PatientID: f.Ivanov.ID}))
		sameIDs(t, "action", ids(ev2.ID), audits(store.AuditEventQuery{Orgs: org, Action: []string{domain.ActionCreate}}))
		sameIDs(t, "date", ids(ev2.ID), audits(store.AuditEventQuery{Orgs: org, Date: []store.DateParam{day("gt", T0)}}))
		got, err := e.s.GetAuditEvent(e.ctx, org, ev1.ID)
		if err != nil {
			t.Fatalf("GetAuditEvent: %v", err)
		}
		sameJSON(t, "GetAuditEvent", normAudit(*ev1), normAudit(*got))
		_, err = e.s.GetAuditEvent(e.ctx, org, ev3.ID)
		wantNotFound(t, "GetAuditEvent of another organization", err)
	})

	t.Run("ObservationSecondCoding", func(t *testing.T) { testSearchSecondCoding(t, open) })
}

func sorted(v []int64) []int64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}
