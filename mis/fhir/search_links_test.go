package fhir_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/fhir"
	"github.com/medgate/medgate/mis/store/storetest"
)

// The ap prefix on every date parameter: the value's range widened by a
// tenth of the gap between now and it. Now is ten days after T0 here, at
// midnight in Moscow, the server's zone.
func TestSearchDateApproximately(t *testing.T) {
	now := time.Date(2025, 3, 24, 0, 0, 0, 0, storetest.MSK)
	eachStore(t, func(t *testing.T, e *env) {
		f := e.f
		lab := func(is ...int) []string {
			var out []string
			for _, i := range is {
				out = append(out, id(f.LabObs[i].ID))
			}
			return out
		}
		later, petrova := id(f.LaterObs[0].ID), id(f.PetrovaObs[0].ID)
		// Petrova's at 03-12 09:26:53, the lab report's at 03-13 09:26:53,
		// the later glucose at 03-14 09:26:53 (MSK).
		// 2025-03-14 is 9 days before now: ±21.6 h, [03-13 02:24, 03-15 21:36).
		e.expectSearch(t, "/fhir/r4/Observation?date=ap2025-03-14", e.doctor, append(lab(0, 1, 2, 3, 4), later)...)
		e.expectSearch(t, "/fhir/r4/Observation?date=eq2025-03-14", e.doctor, later)
		// 2025-03-11 is 12 days before: ±28.8 h, [03-09 19:12, 03-13 04:48).
		e.expectSearch(t, "/fhir/r4/Observation?date=ap2025-03-11", e.doctor, petrova)
		// To the second, with a zone.
		e.expectSearch(t, "/fhir/r4/Observation?date=ap2025-03-12T06:26:53Z", e.doctor, append(lab(0, 1, 2, 3, 4), petrova)...)
		// Now within the year: the year itself.
		e.expectSearch(t, "/fhir/r4/Observation?date=ap2025", e.doctor, append(lab(0, 1, 2, 3, 4), later, petrova)...)
		e.expectSearch(t, "/fhir/r4/Observation?date=ap2024", e.doctor)
		// ANDed with other bounds as any date value.
		e.expectSearch(t, "/fhir/r4/Observation?date=ap2025-03-14&date=lt2025-03-14", e.doctor, lab(0, 1, 2, 3, 4)...)

		// The other date parameters.
		e.expectSearch(t, "/fhir/r4/Patient?birthdate=ap1980-05-20", e.doctor, id(f.Ivanov.ID))
		e.expectSearch(t, "/fhir/r4/Patient?birthdate=ap1989", e.doctor, id(f.Petrova.ID))
		e.expectSearch(t, "/fhir/r4/DiagnosticReport?issued=ap2025-03-14", e.doctor, id(f.LabReport.ID), id(f.LaterReport.ID))
		e.expectSearch(t, "/fhir/r4/DiagnosticReport?date=ap2025-03-11", e.doctor, id(f.PetrovaReport.ID))
		e.expectSearch(t, "/fhir/r4/ImagingStudy?started=ap2025-03-13", e.doctor, id(f.Study.ID))
		e.expectSearch(t, "/fhir/r4/ImagingStudy?started=eq2025-03-13", e.doctor)
		e.expectSearch(t, "/fhir/r4/ServiceRequest?occurrence=ap2025-03-13", e.doctor, id(f.ImagingOrder.ID))
		e.expectSearch(t, "/fhir/r4/Specimen?collected=ap2025-03-12", e.doctor, id(f.LabOrder.Specimens[0].ID))
		e.expectSearch(t, "/fhir/r4/Specimen?collected=eq2025-03-12", e.doctor)
		// Audit events are written with the real clock, long after now here.
		r := e.get("/fhir/r4/AuditEvent?date=ap"+time.Now().Format(time.DateOnly), e.admin)
		want(t, r, http.StatusOK)
		if len(entries(r.JSON, "match")) == 0 {
			t.Errorf("AuditEvent date=ap today: none found: %s", r.Body)
		}
		wantOutcome(t, e.get("/fhir/r4/Observation?date=ax2025", e.doctor), http.StatusBadRequest, "invalid", "ap")
	}, func(s *fhir.Server) { s.Now = func() time.Time { return now } })
}

// Every page's self link is the search that gives that page: the same
// matches, the same next link.
func TestSelfLinkReproducesPage(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		for _, first := range []string{
			"/fhir/r4/Observation?patient=" + id(e.f.Ivanov.ID) + "&_count=2",
			"/fhir/r4/Observation?code=http://loinc.org|&_count=3&_total=none",
			"/fhir/r4/DiagnosticReport?patient=" + id(e.f.Ivanov.ID) + "&_include=DiagnosticReport:result&_count=1",
		} {
			u := e.ts.URL + first
			for n := 0; u != ""; n++ {
				if n == 10 {
					t.Fatalf("%s: more than 10 pages", first)
				}
				r := e.get(strings.TrimPrefix(u, e.ts.URL), e.doctor)
				want(t, r, http.StatusOK)
				self := link(r.JSON, "self")
				su, err := url.Parse(self)
				if err != nil || !strings.HasPrefix(self, e.ts.URL+"/fhir/r4/") {
					t.Fatalf("page %d of %s: self link %q", n+1, first, self)
				}
				if got := su.Query().Get("_cursor"); (n == 0) != (got == "") {
					t.Errorf("page %d of %s: self link %q, _cursor %q", n+1, first, self, got)
				}
				again := e.get(strings.TrimPrefix(self, e.ts.URL), e.doctor)
				want(t, again, http.StatusOK)
				for _, mode := range []string{"match", "include"} {
					if a, b := ids(entries(r.JSON, mode)), ids(entries(again.JSON, mode)); !slices.Equal(a, b) {
						t.Errorf("page %d of %s: %s %v; its self link %s gives %v", n+1, first, mode, a, self, b)
					}
				}
				if a, b := link(r.JSON, "next"), link(again.JSON, "next"); a != b || link(again.JSON, "self") != self {
					t.Errorf("page %d of %s: next %q, self's next %q; self %q, self's self %q", n+1, first, a, b, self, link(again.JSON, "self"))
				}
				u = link(r.JSON, "next")
			}
		}
	})
}
