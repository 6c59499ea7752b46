package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testSearchSecondCoding checks observations coded with the clinic's own
// code and a LOINC code beside it (domain.Observation.LOINC): the LOINC
// code is stored and read back, and the code searches find it as a second
// coding under http://loinc.org — system|code, a bare code, system| — as
// they find a LOINC code that is the observation's only one.
func testSearchSecondCoding(t *testing.T, open opener) {
	e := begin(t, open)
	f, err := SeedSearch(e.ctx, e.s)
	if err != nil {
		t.Fatalf("SeedSearch: %v", err)
	}
	org, all := ids(f.Org.ID), ids(f.Org.ID, f.Other.ID)
	at := T0.Add(-time.Hour)
	local := func(code, loinc string, v float64) domain.Observation {
		return domain.Observation{Code: domain.Coding{System: domain.SystemLocalCode, Code: code, Display: code},
			LOINC: loinc, Status: "final", Effective: at, ValueQuantity: &domain.Quantity{Value: v}}
	}
	// Иванов's CBC coded by the clinic's own codes, two with LOINC beside.
	obs := []domain.Observation{local("HGB-L", LOINCHemoglobin, 131), local("WBC-L", LOINCWBC, 6.1), local("ESR-L", "", 12)}
	rep := &domain.DiagnosticReport{OrganizationID: f.Org.ID, PatientID: f.Ivanov.ID, Status: "final",
		Code: domain.Coding{System: domain.SystemLocalCode, Code: "CBC-L"}, Effective: at, Issued: T0}
	// The same hemoglobin of Сидоров (another organization) and one in
	// reconciliation (no patient): neither is found from Org.
	other := []domain.Observation{local("HGB-L", LOINCHemoglobin, 140)}
	otherRep := &domain.DiagnosticReport{OrganizationID: f.Other.ID, PatientID: f.Sidorov.ID, Status: "final",
		Code: rep.Code, Effective: at, Issued: T0}
	waiting := []domain.Observation{local("HGB-L", LOINCHemoglobin, 99)}
	waitingRep := &domain.DiagnosticReport{OrganizationID: f.Org.ID, Status: "final", Code: rep.Code, Effective: at, Issued: T0}
	for _, rs := range []struct {
		r   *domain.DiagnosticReport
		obs []domain.Observation
	}{{rep, obs}, {otherRep, other}, {waitingRep, waiting}} {
		if err := e.s.SaveReport(e.ctx, rs.r, rs.obs, nil); err != nil {
			t.Fatalf("SaveReport: %v", err)
		}
	}
	hgb, wbc, esr := obs[0].ID, obs[1].ID, obs[2].ID
	petrova := f.PetrovaObs[0].ID // hemoglobin with LOINC as its only code
	lab := func(i int) int64 { return f.LabObs[i].ID }

	t.Run("ReadBack", func(t *testing.T) {
		for i, o := range obs {
			got, err := e.s.GetObservation(e.ctx, org, o.ID)
			if err != nil {
				t.Fatalf("GetObservation: %v", err)
			}
			want := o
			want.ReportID, want.PatientID, want.OrganizationID, want.Issued = rep.ID, f.Ivanov.ID, f.Org.ID, T0
			sameJSON(t, "observation "+o.Code.Code, normObs(want), normObs(*got))
			if got.LOINC != o.LOINC {
				t.Errorf("observation %d: LOINC %q, want %q", i, got.LOINC, o.LOINC)
			}
		}
		list, _, _, err := e.s.SearchObservations(e.ctx, store.ObservationQuery{Orgs: org, IDs: ids(hgb, petrova)})
		if err != nil || len(list) != 2 {
			t.Fatalf("SearchObservations by ids: %d, %v", len(list), err)
		}
		if list[0].LOINC != "" || list[1].LOINC != LOINCHemoglobin {
			t.Errorf("searched: LOINC %q and %q, want none and %s", list[0].LOINC, list[1].LOINC, LOINCHemoglobin)
		}
	})

	t.Run("Codes", func(t *testing.T) {
		search := func(what string, q store.ObservationQuery, want ...int64) {
			t.Helper()
			q.SearchPage = store.SearchPage{Total: true}
			list, next, n, err := e.s.SearchObservations(e.ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			var got []int64
			for _, o := range list {
				got = append(got, o.ID)
			}
			sameIDs(t, what, sorted(want), got)
			if n != len(got) || next != "" {
				t.Errorf("%s: total %d, next %q for %d hits", what, n, next, len(got))
			}
		}
		tok := func(system, code string) store.Token { return store.Token{System: system, Code: code, HasSystem: true} }
		loinc := func(code string) store.Token { return tok(domain.SystemLOINC, code) }
		bare := func(code string) store.Token { return store.Token{Code: code} }
		codes := func(ts ...store.Token) []store.Token { return ts }

		search("LOINC system|code: first or second coding", store.ObservationQuery{Orgs: org, Codes: codes(loinc(LOINCHemoglobin))}, petrova, hgb)
		search("bare LOINC code", store.ObservationQuery{Orgs: org, Codes: codes(bare(LOINCHemoglobin))}, petrova, hgb)
		search("bare own code", store.ObservationQuery{Orgs: org, Codes: codes(bare("HGB-L"))}, hgb)
		search("own system|code", store.ObservationQuery{Orgs: org, Codes: codes(tok(domain.SystemLocalCode, "HGB-L"))}, hgb)
		search("own system with the LOINC code", store.ObservationQuery{Orgs: org, Codes: codes(tok(domain.SystemLocalCode, LOINCHemoglobin))})
		search("LOINC system with the own code", store.ObservationQuery{Orgs: org, Codes: codes(loinc("HGB-L"))})
		search("another system", store.ObservationQuery{Orgs: org, Codes: codes(tok("http://example.org/codes", LOINCHemoglobin))})
		search("|code (no system)", store.ObservationQuery{Orgs: org, Codes: codes(tok("", LOINCHemoglobin))})
		search("LOINC system| (any LOINC code)", store.ObservationQuery{Orgs: org, PatientID: f.Ivanov.ID,
			Codes: codes(tok(domain.SystemLOINC, ""))}, lab(0), lab(1), lab(2), lab(3), lab(4), f.LaterObs[0].ID, hgb, wbc)
		search("own system| (any own code)", store.ObservationQuery{Orgs: org, Codes: codes(tok(domain.SystemLocalCode, ""))}, hgb, wbc, esr)
		search("alternatives ORed", store.ObservationQuery{Orgs: org, Codes: codes(loinc(LOINCWBC), bare("ESR-L"))}, lab(4), wbc, esr)
		search("both organizations", store.ObservationQuery{Orgs: all, Codes: codes(loinc(LOINCHemoglobin))}, petrova, hgb, other[0].ID)
		search("another organization", store.ObservationQuery{Orgs: ids(f.Other.ID), Codes: codes(bare(LOINCHemoglobin))}, other[0].ID)
		// The alternatives stay together under the other criteria (AND).
		search("code and patient", store.ObservationQuery{Orgs: org, PatientID: f.Petrova.ID, Codes: codes(loinc(LOINCHemoglobin))}, petrova)
		search("code and date", store.ObservationQuery{Orgs: org, Codes: codes(loinc(LOINCHemoglobin), bare(LOINCWBC)),
			Date: []store.DateParam{{Prefix: "ge", Start: at, End: at.Add(time.Second)}}}, hgb, wbc)
		search("code and status", store.ObservationQuery{Orgs: org, Codes: codes(bare(LOINCHemoglobin)), Status: []string{"preliminary"}}, petrova)
	})

	t.Run("Paging", func(t *testing.T) {
		var totals []int
		pages := walk(t, "LOINC pages", func(cursor string) ([]domain.Observation, string, error) {
			list, next, n, err := e.s.SearchObservations(e.ctx, store.ObservationQuery{Orgs: all,
				Codes:      []store.Token{{System: domain.SystemLOINC, Code: LOINCHemoglobin, HasSystem: true}},
				SearchPage: store.SearchPage{Page: store.Page{Limit: 1, Cursor: cursor}, Total: true}})
			totals = append(totals, n)
			return list, next, err
		})
		var got []int64
		for _, o := range concat(pages) {
			got = append(got, o.ID)
		}
		sameIDs(t, "pages", sorted(ids(petrova, hgb, other[0].ID)), got)
		if !slices.Equal(totals, []int{3, 3, 3}) {
			t.Errorf("totals %v, want 3 on each page", totals)
		}
	})
}
