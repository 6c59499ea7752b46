package fhir_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store/storetest"
)

// saveLocalCBC saves, for Иванов, a result coded by the clinic's own code
// with LOINC beside it (as a code-map entry "code: HGB-L, loinc: 718-7"
// maps it) and one coded by its own code alone; it returns their ids.
func (e *env) saveLocalCBC(t *testing.T) (hgb, esr string, report string) {
	t.Helper()
	at := storetest.T0.Add(-time.Hour)
	obs := []domain.Observation{
		{Code: domain.Coding{System: domain.SystemLocalCode, Code: "HGB-L", Display: "Гемоглобин"}, LOINC: storetest.LOINCHemoglobin,
			Status: "final", Effective: at, ValueQuantity: &domain.Quantity{Value: 131, Unit: "g/L"}},
		{Code: domain.Coding{System: domain.SystemLocalCode, Code: "ESR-L", Display: "СОЭ"},
			Status: "final", Effective: at, ValueQuantity: &domain.Quantity{Value: 12, Unit: "mm/h"}},
	}
	rep := &domain.DiagnosticReport{OrganizationID: e.f.Org.ID, PatientID: e.f.Ivanov.ID, Status: "final",
		Code: domain.Coding{System: domain.SystemLocalCode, Code: "CBC-L", Display: "ОАК"}, Effective: at, Issued: storetest.T0}
	if err := e.st.SaveReport(e.ctx, rep, obs, nil); err != nil {
		t.Fatalf("SaveReport: %v", err)
	}
	return id(obs[0].ID), id(obs[1].ID), id(rep.ID)
}

// A result mapped with "code: HGB-L, loinc: 718-7" shows both codings and
// is found by either, as LOINC results coded by LOINC alone are.
func TestObservationLOINCBesideOwnCode(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		f := e.f
		hgb, esr, rep := e.saveLocalCBC(t)
		petrova := id(f.PetrovaObs[0].ID) // hemoglobin coded by LOINC alone

		r := e.get("/fhir/r4/Observation/"+hgb, e.doctor)
		want(t, r, http.StatusOK)
		codings := list(path(r.JSON, "code", "coding"))
		if len(codings) != 2 || path(r.JSON, "code", "text") != "Гемоглобин" ||
			path(codings[0], "system") != domain.SystemLocalCode || path(codings[0], "code") != "HGB-L" || path(codings[0], "display") != "Гемоглобин" ||
			path(codings[1], "system") != domain.SystemLOINC || path(codings[1], "code") != storetest.LOINCHemoglobin || path(codings[1], "display") != nil {
			t.Errorf("code %v, want the own coding then LOINC's", r.JSON["code"])
		}
		for _, one := range []string{petrova, esr} {
			r := e.get("/fhir/r4/Observation/"+one, e.doctor)
			want(t, r, http.StatusOK)
			if n := len(list(path(r.JSON, "code", "coding"))); n != 1 {
				t.Errorf("observation %s: %d codings, want 1: %v", one, n, r.JSON["code"])
			}
		}

		ivanov := "/fhir/r4/Observation?patient=" + id(f.Ivanov.ID)
		e.expectSearch(t, "/fhir/r4/Observation?code=http://loinc.org|"+storetest.LOINCHemoglobin, e.doctor, petrova, hgb)
		e.expectSearch(t, "/fhir/r4/Observation?code="+storetest.LOINCHemoglobin, e.doctor, petrova, hgb)
		e.expectSearch(t, "/fhir/r4/Observation?code=HGB-L", e.doctor, hgb)
		e.expectSearch(t, "/fhir/r4/Observation?code="+url.QueryEscape(domain.SystemLocalCode+"|HGB-L"), e.doctor, hgb)
		e.expectSearch(t, "/fhir/r4/Observation?code="+url.QueryEscape(domain.SystemLocalCode+"|"+storetest.LOINCHemoglobin), e.doctor)
		e.expectSearch(t, "/fhir/r4/Observation?code=|"+storetest.LOINCHemoglobin, e.doctor)
		e.expectSearch(t, ivanov+"&code=http://loinc.org|"+storetest.LOINCHemoglobin, e.doctor, hgb)
		e.expectSearch(t, ivanov+"&code=http://loinc.org|"+storetest.LOINCHemoglobin+",ESR-L&_count=1", e.doctor, hgb, esr)
		lab := func(i int) string { return id(f.LabObs[i].ID) }
		e.expectSearch(t, ivanov+"&code=http://loinc.org|", e.doctor, lab(0), lab(1), lab(2), lab(3), lab(4), id(f.LaterObs[0].ID), hgb)
		// The code alternatives stay ANDed with the rest.
		e.expectSearch(t, "/fhir/r4/Observation?code="+storetest.LOINCHemoglobin+"&status=preliminary", e.doctor, petrova)
		e.expectSearch(t, "/fhir/r4/Observation?code="+storetest.LOINCHemoglobin+"&date=2025-03-14", e.doctor, hgb)

		// Included with its report: the same two codings.
		r = e.get("/fhir/r4/DiagnosticReport?_id="+rep+"&_include=DiagnosticReport:result", e.doctor)
		want(t, r, http.StatusOK)
		inc := entries(r.JSON, "include")
		if len(inc) != 2 || len(list(path(inc[0], "code", "coding"))) != 2 || path(inc[0], "code", "coding", 1, "code") != storetest.LOINCHemoglobin {
			t.Errorf("included results: %s", r.Body)
		}
	})
}
