package fhir_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/fhir"
	"github.com/medgate/medgate/mis/store/storetest"
)

func id(n int64) string { return strconv.FormatInt(n, 10) }

func TestMetadata(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		r := e.get("/fhir/r4/metadata", "") // no sign-in needed
		want(t, r, http.StatusOK)
		if r.JSON["resourceType"] != "CapabilityStatement" || r.JSON["fhirVersion"] != "4.0.1" || r.JSON["kind"] != "instance" {
			t.Fatalf("capability statement: %s", r.Body)
		}
		var types []string
		for _, res := range list(path(r.JSON, "rest", 0, "resource")) {
			types = append(types, obj(res)["type"].(string))
			var params []string
			for _, p := range list(obj(res)["searchParam"]) {
				params = append(params, obj(p)["name"].(string))
			}
			if !slices.Contains(params, "_id") {
				t.Errorf("%s: no _id search parameter", obj(res)["type"])
			}
			if obj(res)["type"] == "Observation" && !slices.Contains(params, "date") {
				t.Errorf("Observation search parameters %v lack date", params)
			}
		}
		wantTypes := []string{"Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport", "ImagingStudy", "Device", "AuditEvent"}
		if !slices.Equal(types, wantTypes) {
			t.Errorf("resources %v, want %v", types, wantTypes)
		}
		if got := path(r.JSON, "rest", 0, "resource", 4, "searchInclude", 0); got != "DiagnosticReport:result" {
			t.Errorf("DiagnosticReport searchInclude %v", got)
		}
		if got := path(r.JSON, "implementation", "url"); got != e.ts.URL+"/fhir/r4" {
			t.Errorf("implementation.url %v", got)
		}
	})
}

func TestRead(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		f := e.f
		t.Run("Patient", func(t *testing.T) {
			r := e.get("/fhir/r4/Patient/"+id(f.Ivanov.ID), e.doctor)
			want(t, r, http.StatusOK)
			p := r.JSON
			if p["resourceType"] != "Patient" || p["id"] != id(f.Ivanov.ID) || p["gender"] != "male" || p["birthDate"] != "1980-05-17" {
				t.Errorf("patient: %s", r.Body)
			}
			if path(p, "name", 0, "family") != "Иванов" || path(p, "name", 0, "given", 0) != "Иван" ||
				path(p, "name", 0, "given", 1) != "Петрович" || path(p, "name", 0, "text") != "Иванов Иван Петрович" {
				t.Errorf("name: %v", p["name"])
			}
			systems := map[string]string{}
			for _, i := range list(p["identifier"]) {
				systems[obj(i)["system"].(string)] = obj(i)["value"].(string)
			}
			for system, value := range map[string]string{domain.SystemSNILS: f.Ivanov.SNILS, domain.SystemENP: f.Ivanov.ENP,
				domain.SystemPatientID: id(f.Ivanov.ID), storetest.SystemMedCard: storetest.MedCardIvanov} {
				if systems[system] != value {
					t.Errorf("identifier %s = %q, want %q (all: %v)", system, systems[system], value, systems)
				}
			}
			if path(p, "telecom", 0, "system") != "phone" || path(p, "address", 0, "text") != f.Ivanov.Address ||
				path(p, "managingOrganization", "reference") != "Organization/"+id(f.Org.ID) {
				t.Errorf("telecom, address, organization: %s", r.Body)
			}
			if path(p, "meta", "versionId") != "1" {
				t.Errorf("meta: %v", p["meta"])
			}
			ev := e.audits("fhir.patient.read")
			if len(ev) != 1 || ev[0].PatientID != f.Ivanov.ID || ev[0].Action != "R" || ev[0].Outcome != 0 ||
				ev[0].UserID != e.users["doctor"].ID || ev[0].OrganizationID != f.Org.ID || ev[0].ResourceID != f.Ivanov.ID {
				t.Errorf("audit: %+v", ev)
			}
		})
		t.Run("ServiceRequest", func(t *testing.T) {
			r := e.get("/fhir/r4/ServiceRequest/"+id(f.ImagingOrder.ID), e.doctor)
			want(t, r, http.StatusOK)
			sr := r.JSON
			if sr["status"] != "revoked" || sr["intent"] != "order" || sr["priority"] != "routine" ||
				path(sr, "subject", "reference") != "Patient/"+id(f.Ivanov.ID) {
				t.Errorf("service request: %s", r.Body)
			}
			if path(sr, "identifier", 0, "type", "coding", 0, "code") != "ACSN" || path(sr, "identifier", 0, "value") != f.ImagingOrder.AccessionNumber ||
				path(sr, "identifier", 1, "value") != "urn:oid:"+f.ImagingOrder.StudyInstanceUID {
				t.Errorf("identifiers: %v", sr["identifier"])
			}
			if path(sr, "category", 0, "coding", 1, "code") != "imaging" || path(sr, "code", "text") != "КТ органов грудной клетки" ||
				path(sr, "orderDetail", 0, "coding", 0, "code") != "CT" || sr["occurrenceDateTime"] != "2025-03-14T06:26:53.589793+03:00" {
				t.Errorf("category, code, occurrence: %s", r.Body)
			}
			r = e.get("/fhir/r4/ServiceRequest/"+id(f.LabOrder.ID), e.doctor)
			want(t, r, http.StatusOK)
			if path(r.JSON, "priority") != "urgent" || len(list(path(r.JSON, "code", "coding"))) != 2 ||
				path(r.JSON, "specimen", 0, "reference") != "Specimen/"+id(f.LabOrder.Specimens[0].ID) {
				t.Errorf("lab order: %s", r.Body)
			}
			if n := len(e.audits("fhir.servicerequest.read")); n != 2 {
				t.Errorf("%d audit events, want 2", n)
			}
		})
		t.Run("Specimen", func(t *testing.T) {
			r := e.get("/fhir/r4/Specimen/"+id(f.LabOrder.Specimens[0].ID), e.doctor)
			want(t, r, http.StatusOK)
			sp := r.JSON
			if path(sp, "accessionIdentifier", "value") != storetest.BarcodeIvanov || sp["status"] != "available" ||
				path(sp, "type", "coding", 0, "code") != storetest.SNOMEDPlasma ||
				path(sp, "request", 0, "reference") != "ServiceRequest/"+id(f.LabOrder.ID) ||
				path(sp, "collection", "collectedDateTime") != "2025-03-13T08:26:53.589793+03:00" {
				t.Errorf("specimen: %s", r.Body)
			}
		})
		t.Run("Observation", func(t *testing.T) {
			crp := f.LabObs[1]
			r := e.get("/fhir/r4/Observation/"+id(crp.ID), e.doctor)
			want(t, r, http.StatusOK)
			o := r.JSON
			vq := obj(o["valueQuantity"])
			if vq["value"] != 0.1 || vq["comparator"] != "<" || vq["unit"] != "mg/L" || vq["system"] != domain.SystemUCUM || vq["code"] != "mg/L" {
				t.Errorf("valueQuantity: %v", vq)
			}
			if o["status"] != "final" || path(o, "code", "coding", 0, "code") != storetest.LOINCCRP ||
				path(o, "category", 0, "coding", 0, "code") != "laboratory" ||
				path(o, "interpretation", 0, "coding", 0, "system") != "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation" ||
				path(o, "interpretation", 0, "coding", 0, "code") != "N" || path(o, "referenceRange", 0, "high", "value") != 5.0 ||
				path(o, "basedOn", 0, "reference") != "ServiceRequest/"+id(f.LabOrder.ID) ||
				path(o, "device", "reference") != "Device/"+id(f.Analyzer.ID) ||
				path(o, "specimen", "reference") != "Specimen/"+id(f.LabOrder.Specimens[0].ID) ||
				o["effectiveDateTime"] != "2025-03-13T09:26:53.589793+03:00" {
				t.Errorf("observation: %s", r.Body)
			}
			for i, check := range []func(map[string]any) bool{
				0: func(o map[string]any) bool {
					return path(o, "referenceRange", 0, "low", "value") == 3.9 && path(o, "referenceRange", 0, "text") == "3,9–6,1 ммоль/л" &&
						path(o, "interpretation", 0, "coding", 0, "code") == "H"
				},
				2: func(o map[string]any) bool { return o["valueString"] == "отрицательно" },
				3: func(o map[string]any) bool {
					return path(o, "valueCodeableConcept", "coding", 0, "code") == storetest.SNOMEDBloodType && path(o, "note", 0, "text") != nil
				},
				4: func(o map[string]any) bool {
					return path(o, "valueRange", "low", "value") == 2.5 && path(o, "valueRange", "high", "unit") == "10*9/L" && o["status"] == "preliminary"
				},
			} {
				if check == nil {
					continue
				}
				r := e.get("/fhir/r4/Observation/"+id(f.LabObs[i].ID), e.doctor)
				want(t, r, http.StatusOK)
				if !check(r.JSON) {
					t.Errorf("observation %d: %s", i, r.Body)
				}
			}
		})
		t.Run("DiagnosticReport", func(t *testing.T) {
			r := e.get("/fhir/r4/DiagnosticReport/"+id(f.LabReport.ID), e.doctor)
			want(t, r, http.StatusOK)
			d := r.JSON
			if d["status"] != "final" || path(d, "category", 0, "coding", 0, "code") != "LAB" || d["conclusion"] != "Гипергликемия" ||
				len(list(d["result"])) != 5 || path(d, "result", 0, "reference") != "Observation/"+id(f.LabObs[0].ID) ||
				path(d, "basedOn", 0, "reference") != "ServiceRequest/"+id(f.LabOrder.ID) || d["issued"] == nil {
				t.Errorf("report: %s", r.Body)
			}
		})
		t.Run("ImagingStudy", func(t *testing.T) {
			r := e.get("/fhir/r4/ImagingStudy/"+id(f.Study.ID), e.doctor)
			want(t, r, http.StatusOK)
			st := r.JSON
			if path(st, "identifier", 0, "system") != domain.SystemDICOMUID || path(st, "identifier", 0, "value") != "urn:oid:"+f.Study.StudyInstanceUID ||
				st["status"] != "available" || st["numberOfSeries"] != 2.0 || st["numberOfInstances"] != 3.0 ||
				path(st, "modality", 1, "code") != "SR" || path(st, "modality", 1, "system") != domain.SystemModality ||
				path(st, "basedOn", 0, "reference") != "ServiceRequest/"+id(f.ImagingOrder.ID) {
				t.Errorf("study: %s", r.Body)
			}
			s1 := obj(path(st, "series", 0))
			if s1["uid"] != f.Study.Series[0].UID || path(s1, "modality", "code") != "CT" || path(s1, "bodySite", "code") != "CHEST" ||
				s1["numberOfInstances"] != 2.0 || path(s1, "instance", 1, "uid") != f.Study.Series[0].Instances[1].SOPInstanceUID ||
				path(s1, "instance", 0, "sopClass", "code") != "urn:oid:"+storetest.CTImageStorage {
				t.Errorf("series: %v", s1)
			}
		})
		t.Run("Device", func(t *testing.T) {
			r := e.get("/fhir/r4/Device/"+id(f.Scanner.ID), e.it)
			want(t, r, http.StatusOK)
			d := r.JSON
			if d["status"] != "active" || path(d, "deviceName", 0, "name") != "ct-1" || path(d, "deviceName", 0, "type") != "user-friendly-name" ||
				path(d, "identifier", 1, "value") != "CT1" {
				t.Errorf("device: %s", r.Body)
			}
			want(t, e.get("/fhir/r4/Device/"+id(f.Analyzer.ID), e.doctor), http.StatusOK) // results name their device
			if n := len(e.audits("fhir.device.read")); n != 0 {
				t.Errorf("device reads audited: %d", n) // not patient data
			}
		})
		t.Run("AuditEvent", func(t *testing.T) {
			ev := e.audits("fhir.patient.read")
			if len(ev) == 0 {
				t.Skip("needs the Patient read above")
			}
			r := e.get("/fhir/r4/AuditEvent/"+id(ev[0].ID), e.it)
			want(t, r, http.StatusOK)
			a := r.JSON
			if a["action"] != "R" || a["outcome"] != "0" || path(a, "subtype", 0, "code") != "fhir.patient.read" ||
				path(a, "agent", 0, "who", "reference") != "Practitioner/"+id(e.users["doctor"].ID) ||
				path(a, "agent", 0, "requestor") != true || path(a, "agent", 0, "network", "address") != "127.0.0.1" ||
				path(a, "agent", 0, "network", "type") != "2" ||
				path(a, "entity", 0, "what", "reference") != "Patient/"+id(f.Ivanov.ID) || path(a, "source", "observer", "display") != "medgate" {
				t.Errorf("audit event: %s", r.Body)
			}
		})
	})
}

func TestReadRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		f := e.f
		t.Run("NoToken", func(t *testing.T) {
			r := e.get("/fhir/r4/Patient/"+id(f.Ivanov.ID), "")
			wantOutcome(t, r, http.StatusUnauthorized, "login", "/api/v1/login")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
			wantOutcome(t, e.get("/fhir/r4/Observation?patient="+id(f.Ivanov.ID), "not-a-token"), http.StatusUnauthorized, "login")
		})
		t.Run("AnotherOrganization", func(t *testing.T) {
			other := e.get("/fhir/r4/Patient/"+id(f.Ivanov.ID), e.otherDoctor)
			missing := e.get("/fhir/r4/Patient/999999", e.otherDoctor)
			wantOutcome(t, other, http.StatusNotFound, "not-found")
			wantOutcome(t, missing, http.StatusNotFound, "not-found")
			// Indistinguishable but for the id asked for.
			if strings.ReplaceAll(string(other.Body), id(f.Ivanov.ID), "X") != strings.ReplaceAll(string(missing.Body), "999999", "X") {
				t.Errorf("another organization's patient answers differently from a missing one:\n%s\n%s", other.Body, missing.Body)
			}
			for _, p := range []string{"Observation/" + id(f.LabObs[0].ID), "DiagnosticReport/" + id(f.LabReport.ID),
				"ImagingStudy/" + id(f.Study.ID), "Specimen/" + id(f.LabOrder.Specimens[0].ID), "ServiceRequest/" + id(f.LabOrder.ID),
				"Device/" + id(f.Analyzer.ID)} {
				wantOutcome(t, e.get("/fhir/r4/"+p, e.otherDoctor), http.StatusNotFound, "not-found")
			}
			ev := e.audits("fhir.patient.read")
			if len(ev) != 2 || ev[0].Outcome != domain.OutcomeMinorFailure || ev[0].PatientID != 0 || ev[0].OrganizationID != f.Other.ID {
				t.Errorf("refused reads audited as %+v", ev)
			}
		})
		t.Run("Unattached", func(t *testing.T) {
			wantOutcome(t, e.get("/fhir/r4/DiagnosticReport/"+id(f.Unattached.ID), e.doctor), http.StatusNotFound, "not-found")
			wantOutcome(t, e.get("/fhir/r4/Observation/"+id(f.UnattachedObs[0].ID), e.doctor), http.StatusNotFound, "not-found")
			wantOutcome(t, e.get("/fhir/r4/ImagingStudy/"+id(f.UnattachedStudy.ID), e.doctor), http.StatusNotFound, "not-found")
			wantOutcome(t, e.get("/fhir/r4/Observation/not-a-number", e.doctor), http.StatusNotFound, "not-found")
		})
		t.Run("Role", func(t *testing.T) {
			for _, p := range []string{"Patient/" + id(f.Ivanov.ID), "Observation/" + id(f.LabObs[0].ID), "Patient?name=иван",
				"DiagnosticReport?patient=" + id(f.Ivanov.ID), "ImagingStudy/" + id(f.Study.ID)} {
				wantOutcome(t, e.get("/fhir/r4/"+p, e.it), http.StatusForbidden, "forbidden")
			}
			ev := e.audits("fhir.patient.read")
			if len(ev) == 0 || ev[len(ev)-1].Outcome != domain.OutcomeMinorFailure || ev[len(ev)-1].UserID != e.users["it"].ID {
				t.Errorf("refused read by role audited as %+v", ev)
			}
			if ev := e.audits("fhir.patient.search"); len(ev) != 1 || ev[0].Outcome != domain.OutcomeMinorFailure {
				t.Errorf("refused search by role audited as %+v", ev)
			}
			wantOutcome(t, e.get("/fhir/r4/AuditEvent", e.doctor), http.StatusForbidden, "forbidden")
		})
	})
}

// searchAll follows next links from path, checking that every page has the
// same total, and returns the matches' ids and the pages' sizes.
func (e *env) searchAll(t *testing.T, first, token string) (got []string, sizes []int, total float64) {
	t.Helper()
	u := e.ts.URL + first
	for n := 0; u != ""; n++ {
		if n == 100 {
			t.Fatal("more than 100 pages")
		}
		if !strings.HasPrefix(u, e.ts.URL+"/fhir/r4/") {
			t.Fatalf("link %q is not under the server's base", u)
		}
		r := e.get(strings.TrimPrefix(u, e.ts.URL), token)
		want(t, r, http.StatusOK)
		if r.JSON["type"] != "searchset" {
			t.Fatalf("bundle type %v", r.JSON["type"])
		}
		if n == 0 {
			total, _ = r.JSON["total"].(float64)
		} else if r.JSON["total"] != total {
			t.Errorf("page %d total %v, first page %v", n+1, r.JSON["total"], total)
		}
		if link(r.JSON, "self") == "" {
			t.Errorf("page %d has no self link", n+1)
		}
		m := entries(r.JSON, "match")
		for _, en := range list(r.JSON["entry"]) {
			if path(en, "search", "mode") == "match" {
				res := obj(obj(en)["resource"])
				if want := e.ts.URL + "/fhir/r4/" + res["resourceType"].(string) + "/" + res["id"].(string); obj(en)["fullUrl"] != want {
					t.Errorf("fullUrl %v, want %s", obj(en)["fullUrl"], want)
				}
			}
		}
		got = append(got, ids(m)...)
		sizes = append(sizes, len(m))
		u = link(r.JSON, "next")
	}
	return got, sizes, total
}

// expectSearch follows every page of a search and checks the ids of the
// matches, in order, and the total.
func (e *env) expectSearch(t *testing.T, path, token string, wantIDs ...string) {
	t.Helper()
	got, _, total := e.searchAll(t, path, token)
	if !slices.Equal(got, wantIDs) {
		t.Errorf("%s: ids %v, want %v", path, got, wantIDs)
	}
	if int(total) != len(wantIDs) {
		t.Errorf("%s: total %v, want %d", path, total, len(wantIDs))
	}
}

func TestSearch(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		f := e.f
		ivanov := id(f.Ivanov.ID)
		labIDs := func(is ...int) []string {
			var out []string
			for _, i := range is {
				out = append(out, id(f.LabObs[i].ID))
			}
			return out
		}
		later, petrova := id(f.LaterObs[0].ID), id(f.PetrovaObs[0].ID)
		search := e.expectSearch

		t.Run("ObservationPaging", func(t *testing.T) {
			got, sizes, total := e.searchAll(t, "/fhir/r4/Observation?patient=Patient/"+ivanov+"&_count=2", e.doctor)
			want := append(labIDs(0, 1, 2, 3, 4), later)
			if !slices.Equal(got, want) || !slices.Equal(sizes, []int{2, 2, 2}) || total != 6 {
				t.Errorf("pages %v of %v (total %v), want %v", sizes, got, total, want)
			}
			r := e.get("/fhir/r4/Observation?subject="+ivanov+"&_count=4", e.doctor)
			next := link(r.JSON, "next")
			u, _ := url.Parse(next)
			if u.Query().Get("_cursor") == "" || u.Query().Get("subject") != ivanov || u.Query().Get("_count") != "4" {
				t.Errorf("next link %q", next)
			}
			if self := link(r.JSON, "self"); !strings.Contains(self, "subject="+ivanov) || strings.Contains(self, "_cursor") {
				t.Errorf("self link %q", self)
			}
			ev := e.audits("fhir.observation.search")
			last := ev[len(ev)-1]
			if last.PatientID != f.Ivanov.ID || last.OrganizationID != f.Org.ID || last.Action != "R" ||
				last.Detail != "by subject; 4 found" {
				t.Errorf("search audit %+v", last)
			}
			if len(ev) != 4 {
				t.Errorf("%d search audit events, want one per page (4)", len(ev))
			}
			r = e.get("/fhir/r4/Observation?patient="+ivanov+"&_count=0", e.doctor)
			if r.JSON["total"] != 6.0 || len(list(r.JSON["entry"])) != 0 || link(r.JSON, "next") != "" {
				t.Errorf("_count=0: %s", r.Body)
			}
			r = e.get("/fhir/r4/Observation?patient="+ivanov+"&_total=none", e.doctor)
			if _, ok := r.JSON["total"]; ok || len(entries(r.JSON, "match")) != 6 {
				t.Errorf("_total=none: %s", r.Body)
			}
		})
		t.Run("ObservationParameters", func(t *testing.T) {
			p := "/fhir/r4/Observation?patient=" + ivanov
			search(t, p+"&code=http://loinc.org|"+storetest.LOINCGlucose, e.doctor, labIDs(0)[0], later)
			search(t, p+"&code="+storetest.LOINCCRP+","+storetest.LOINCHBsAg, e.doctor, labIDs(1, 2)...)
			search(t, p+"&code=|"+storetest.LOINCCRP, e.doctor)
			search(t, "/fhir/r4/Observation?code=http://loinc.org|", e.doctor, append(append(labIDs(0, 1, 2, 3, 4), later), petrova)...)
			// Dates are read in the server's zone (Moscow here); T0 is 2025-03-14 09:26:53 MSK.
			search(t, p+"&date=2025-03-13", e.doctor, labIDs(0, 1, 2, 3, 4)...)
			search(t, p+"&date=eq2025-03-14", e.doctor, later)
			search(t, p+"&date=ne2025-03-13", e.doctor, later)
			search(t, "/fhir/r4/Observation?date=lt2025-03-13", e.doctor, petrova)
			search(t, "/fhir/r4/Observation?date=eb2025-03-13", e.doctor, petrova)
			search(t, p+"&date=gt2025-03-13", e.doctor, later)
			search(t, p+"&date=sa2025-03", e.doctor)
			search(t, p+"&date=ge2025-03-14T09:26", e.doctor, later)
			search(t, p+"&date=le2025-03-14T06:26:53Z", e.doctor, append(labIDs(0, 1, 2, 3, 4), later)...) // 09:26:53 MSK is 06:26:53 UTC
			search(t, p+"&date=lt2025-03-14T06:26:53Z", e.doctor, labIDs(0, 1, 2, 3, 4)...)
			search(t, "/fhir/r4/Observation?date=ge2025-03-12&date=lt2025-03-14", e.doctor, append(labIDs(0, 1, 2, 3, 4), petrova)...)
			search(t, "/fhir/r4/Observation?date=2025", e.doctor, append(append(labIDs(0, 1, 2, 3, 4), later), petrova)...)
			search(t, p+"&status=preliminary", e.doctor, labIDs(4)...)
			search(t, p+"&status=final,preliminary&_count=3", e.doctor, append(labIDs(0, 1, 2, 3, 4), later)...)
			search(t, p+"&category=laboratory", e.doctor, append(labIDs(0, 1, 2, 3, 4), later)...)
			search(t, p+"&category=vital-signs", e.doctor)
			search(t, "/fhir/r4/Observation?based-on=ServiceRequest/"+id(f.LabOrder.ID), e.doctor, labIDs(0, 1, 2, 3, 4)...)
			search(t, "/fhir/r4/Observation?specimen="+id(f.LabOrder.Specimens[0].ID)+"&code="+storetest.LOINCWBC, e.doctor, labIDs(4)...)
			search(t, "/fhir/r4/Observation?device=Device/"+id(f.Analyzer.ID)+"&patient=Patient/"+id(f.Petrova.ID), e.doctor, petrova)
			search(t, "/fhir/r4/Observation?_id="+labIDs(2)[0]+","+id(f.UnattachedObs[0].ID), e.doctor, labIDs(2)...)
			search(t, "/fhir/r4/Observation?patient="+id(f.Sidorov.ID), e.doctor) // another organization's patient
			search(t, "/fhir/r4/Observation?patient="+id(f.Sidorov.ID), e.otherDoctor, id(f.OtherReport.Result[0]))
			search(t, "/fhir/r4/Observation?patient:Patient="+ivanov+"&code="+storetest.LOINCBloodGroup, e.doctor, labIDs(3)...)
			search(t, "/fhir/r4/Observation?patient="+e.ts.URL+"/fhir/r4/Patient/"+ivanov+"&code="+storetest.LOINCBloodGroup, e.doctor, labIDs(3)...)
			// The same search as a form.
			r := e.post("/fhir/r4/Observation/_search", e.doctor, "application/x-www-form-urlencoded",
				url.Values{"patient": {ivanov}, "code": {storetest.LOINCCRP}})
			want(t, r, http.StatusOK)
			if got := ids(entries(r.JSON, "match")); !slices.Equal(got, labIDs(1)) || r.JSON["total"] != 1.0 {
				t.Errorf("POST _search: %s", r.Body)
			}
			ev := e.audits("fhir.observation.search")
			if last := ev[len(ev)-1]; last.Detail != "by patient,code; 1 found" || last.PatientID != f.Ivanov.ID {
				t.Errorf("search audit %+v", last)
			}
			for _, ev := range e.audits("fhir.observation.search") {
				if ev.PatientID == f.Sidorov.ID && ev.UserID == e.users["doctor"].ID {
					t.Errorf("another organization's patient recorded in the searcher's audit: %+v", ev)
				}
			}
		})
		t.Run("DiagnosticReportInclude", func(t *testing.T) {
			r := e.get("/fhir/r4/DiagnosticReport?patient="+ivanov+"&_include=DiagnosticReport:result", e.doctor)
			want(t, r, http.StatusOK)
			if got := ids(entries(r.JSON, "match")); !slices.Equal(got, []string{id(f.LabReport.ID), id(f.LaterReport.ID)}) {
				t.Errorf("matches %v", got)
			}
			if got := ids(entries(r.JSON, "include")); !slices.Equal(got, append(labIDs(0, 1, 2, 3, 4), later)) {
				t.Errorf("included %v", got)
			}
			if r.JSON["total"] != 2.0 || !strings.Contains(link(r.JSON, "self"), "_include=DiagnosticReport%3Aresult") {
				t.Errorf("total or self: %s", r.Body)
			}
			search(t, "/fhir/r4/DiagnosticReport?category=LAB&status=final", e.doctor, id(f.LabReport.ID), id(f.LaterReport.ID))
			search(t, "/fhir/r4/DiagnosticReport?category=RAD", e.doctor)
			search(t, "/fhir/r4/DiagnosticReport?based-on="+id(f.LabOrder.ID), e.doctor, id(f.LabReport.ID))
			search(t, "/fhir/r4/DiagnosticReport?code=http://loinc.org|"+storetest.LOINCCBCPanel, e.doctor, id(f.PetrovaReport.ID))
			search(t, "/fhir/r4/DiagnosticReport?date=ge2025-03-13&issued=lt2025-03-14", e.doctor, id(f.LabReport.ID))
			ev := e.audits("fhir.diagnosticreport.search")
			if ev[0].Detail != "by patient; 2 found, 6 included" {
				t.Errorf("audit detail %q", ev[0].Detail)
			}
		})
		t.Run("Patient", func(t *testing.T) {
			search(t, "/fhir/r4/Patient?identifier="+domain.SystemSNILS+"|"+f.Ivanov.SNILS, e.doctor, ivanov)
			search(t, "/fhir/r4/Patient?identifier="+url.QueryEscape(domain.SystemSNILS+"|"+f.Ivanov.SNILS[:3]+"-"+f.Ivanov.SNILS[3:6]+"-"+f.Ivanov.SNILS[6:9]+" "+f.Ivanov.SNILS[9:]), e.doctor, ivanov)
			search(t, "/fhir/r4/Patient?identifier="+url.QueryEscape(storetest.SystemMedCard+"|"+storetest.MedCardIvanov), e.doctor, ivanov)
			search(t, "/fhir/r4/Patient?identifier="+domain.SystemPatientID+"|"+ivanov, e.doctor, ivanov)
			search(t, "/fhir/r4/Patient?name="+url.QueryEscape("Петр"), e.doctor, ivanov, id(f.Petrova.ID))
			search(t, "/fhir/r4/Patient?name="+url.QueryEscape("петр")+"&gender=female", e.doctor, id(f.Petrova.ID))
			search(t, "/fhir/r4/Patient?birthdate=1980-05-17", e.doctor, ivanov)
			search(t, "/fhir/r4/Patient?birthdate=ge1985", e.doctor, id(f.Petrova.ID))
			search(t, "/fhir/r4/Patient?birthdate=lt1985-01", e.doctor, ivanov)
			search(t, "/fhir/r4/Patient?_id="+ivanov+","+id(f.Sidorov.ID), e.doctor, ivanov)
			search(t, "/fhir/r4/Patient", e.otherDoctor, id(f.Sidorov.ID))
			ev := e.audits("fhir.patient.search")
			if ev[0].Detail != "by identifier; 1 found" || ev[0].PatientID != 0 {
				t.Errorf("patient search audit %+v", ev[0])
			}
		})
		t.Run("Orders", func(t *testing.T) {
			lab, img := id(f.LabOrder.ID), id(f.ImagingOrder.ID)
			search(t, "/fhir/r4/ServiceRequest?identifier="+url.QueryEscape(domain.SystemAccession+"|"+f.ImagingOrder.AccessionNumber), e.doctor, img)
			search(t, "/fhir/r4/ServiceRequest?identifier="+domain.SystemDICOMUID+"|urn:oid:"+f.ImagingOrder.StudyInstanceUID, e.doctor, img)
			search(t, "/fhir/r4/ServiceRequest?status=revoked", e.doctor, img)
			search(t, "/fhir/r4/ServiceRequest?status=on-hold", e.doctor)
			search(t, "/fhir/r4/ServiceRequest?category=lab&patient="+ivanov, e.doctor, lab)
			search(t, "/fhir/r4/ServiceRequest?category=http://snomed.info/sct|363679005", e.doctor, img)
			search(t, "/fhir/r4/ServiceRequest?code="+storetest.LOINCHemoglobin, e.doctor, lab)
			search(t, "/fhir/r4/ServiceRequest?occurrence=2025-03-14", e.doctor, img)
			search(t, "/fhir/r4/Specimen?identifier="+storetest.BarcodeIvanov, e.doctor, id(f.LabOrder.Specimens[0].ID))
			search(t, "/fhir/r4/Specimen?accession="+url.QueryEscape(domain.SystemBarcode+"|"+storetest.BarcodeIvanov)+"&collected=2025-03-13", e.doctor, id(f.LabOrder.Specimens[0].ID))
			search(t, "/fhir/r4/Specimen?patient="+id(f.Petrova.ID), e.doctor)
		})
		t.Run("Studies", func(t *testing.T) {
			st := id(f.Study.ID)
			search(t, "/fhir/r4/ImagingStudy?identifier="+domain.SystemDICOMUID+"|urn:oid:"+f.Study.StudyInstanceUID, e.doctor, st)
			search(t, "/fhir/r4/ImagingStudy?patient="+ivanov+"&modality=SR", e.doctor, st)
			search(t, "/fhir/r4/ImagingStudy?modality="+domain.SystemModality+"|MR", e.doctor)
			search(t, "/fhir/r4/ImagingStudy?basedon=ServiceRequest/"+id(f.ImagingOrder.ID)+"&started=2025-03-14", e.doctor, st)
			search(t, "/fhir/r4/ImagingStudy", e.doctor, st) // the unattached study is not shown
		})
		t.Run("DevicesAndAudit", func(t *testing.T) {
			search(t, "/fhir/r4/Device?device-name=xn", e.it, id(f.Analyzer.ID))
			search(t, "/fhir/r4/Device?identifier=urn:medgate:dicom-ae-title|CT1", e.it, id(f.Scanner.ID))
			search(t, "/fhir/r4/Device?status=inactive", e.it)
			search(t, "/fhir/r4/Device", e.otherDoctor)
			e.get("/fhir/r4/Patient/"+id(f.Petrova.ID), e.doctor)
			read := e.audits("fhir.patient.read")
			r := e.get("/fhir/r4/AuditEvent?patient="+id(f.Petrova.ID)+"&action=R", e.admin)
			want(t, r, http.StatusOK)
			if got := ids(entries(r.JSON, "match")); !slices.Contains(got, id(read[len(read)-1].ID)) {
				t.Errorf("audit search %v lacks %d", got, read[len(read)-1].ID)
			}
			search(t, "/fhir/r4/AuditEvent?patient="+id(f.Petrova.ID)+"&agent=Practitioner/"+id(e.users["it"].ID), e.admin)
		})
	})
}

func TestSearchErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ivanov := id(e.f.Ivanov.ID)
		t.Run("UnknownParameterLenient", func(t *testing.T) {
			r := e.get("/fhir/r4/Observation?patient="+ivanov+"&foo=1&_sort=date", e.doctor)
			want(t, r, http.StatusOK)
			oo := entries(r.JSON, "outcome")
			if len(oo) != 1 || oo[0]["resourceType"] != "OperationOutcome" {
				t.Fatalf("no outcome entry: %s", r.Body)
			}
			d, _ := path(oo[0], "issue", 0, "diagnostics").(string)
			if path(oo[0], "issue", 0, "severity") != "warning" || !strings.Contains(d, "_sort") || !strings.Contains(d, "foo") {
				t.Errorf("outcome %v", oo[0])
			}
			if len(entries(r.JSON, "match")) != 6 || strings.Contains(link(r.JSON, "self"), "foo") {
				t.Errorf("ignored parameters changed the search: %s", r.Body)
			}
			r = e.get("/fhir/r4/Observation?patient="+ivanov+"&_include=Observation:patient", e.doctor)
			if oo := entries(r.JSON, "outcome"); len(oo) != 1 || !strings.Contains(path(oo[0], "issue", 0, "diagnostics").(string), "Observation:patient") {
				t.Errorf("unsupported _include not reported: %s", r.Body)
			}
		})
		t.Run("UnknownParameterStrict", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/fhir/r4/Observation?patient="+ivanov+"&foo=1", nil)
			req.Header.Set("Prefer", "handling=strict")
			wantOutcome(t, e.do(req, e.doctor), http.StatusBadRequest, "invalid", `"foo"`, "code")
			req, _ = http.NewRequest(http.MethodGet, e.ts.URL+"/fhir/r4/DiagnosticReport?_include=DiagnosticReport:subject", nil)
			req.Header.Set("Prefer", "return=representation, handling=strict")
			wantOutcome(t, e.do(req, e.doctor), http.StatusBadRequest, "not-supported", "DiagnosticReport:subject")
		})
		for _, c := range []struct {
			path, code string
			status     int
			text       []string
		}{
			{"Observation?date=2025-13-01", "invalid", 400, []string{"date"}},
			{"Observation?date=xx2025", "invalid", 400, []string{"prefix"}},
			{"Observation?date=2025-02-30", "invalid", 400, []string{"calendar"}},
			{"Patient?birthdate=1980-05-17T10:00", "invalid", 400, []string{"birthdate"}},
			{"Observation?_count=-1", "invalid", 400, []string{"_count"}},
			{"Observation?_count=many", "invalid", 400, []string{"_count"}},
			{"Observation?_total=maybe", "invalid", 400, []string{"_total"}},
			{"Observation?_cursor=garbage!", "invalid", 400, []string{"_cursor"}},
			{"Observation?code:text=glucose", "not-supported", 400, []string{"code", ":text"}},
			{"Observation?code=a&code=b", "invalid", 400, []string{"code"}},
			{"Observation?subject=Group/1", "invalid", 400, []string{"Patient"}},
			{"Observation?status=done", "invalid", 400, []string{"status"}},
			{"Patient?gender=m", "invalid", 400, []string{"gender"}},
			{"Encounter?patient=1", "not-supported", 404, []string{"Encounter"}},
			{"Encounter/1", "not-supported", 404, []string{"Encounter"}},
		} {
			wantOutcome(t, e.get("/fhir/r4/"+c.path, e.doctor), c.status, c.code, c.text...)
		}
		t.Run("Formats", func(t *testing.T) {
			wantOutcome(t, e.get("/fhir/r4/Patient/"+ivanov+"?_format=xml", e.doctor), http.StatusNotAcceptable, "not-supported", "xml")
			want(t, e.get("/fhir/r4/Patient/"+ivanov+"?_format=json", e.doctor), http.StatusOK)
			want(t, e.get("/fhir/r4/Patient/"+ivanov+"?_format="+url.QueryEscape("application/fhir+json"), e.doctor), http.StatusOK)
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/fhir/r4/Patient/"+ivanov, nil)
			req.Header.Set("Accept", "application/fhir+xml")
			wantOutcome(t, e.do(req, e.doctor), http.StatusNotAcceptable, "not-supported")
			req, _ = http.NewRequest(http.MethodGet, e.ts.URL+"/fhir/r4/Patient/"+ivanov, nil)
			req.Header.Set("Accept", "application/fhir+xml;q=0.9, application/fhir+json")
			want(t, e.do(req, e.doctor), http.StatusOK)
			r := e.get("/fhir/r4/Patient/"+ivanov+"?_pretty=true", e.doctor)
			if !strings.Contains(string(r.Body), "\n  \"") {
				t.Errorf("_pretty=true not indented: %s", r.Body)
			}
			wantOutcome(t, e.post("/fhir/r4/Observation/_search", e.doctor, "application/json", nil), http.StatusUnsupportedMediaType, "not-supported")
			req, _ = http.NewRequest(http.MethodPut, e.ts.URL+"/fhir/r4/Patient/"+ivanov, strings.NewReader("{}"))
			r = e.do(req, e.doctor)
			wantOutcome(t, r, http.StatusMethodNotAllowed, "not-supported", "read-only")
			if r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	})
}

func TestServerDefaults(t *testing.T) {
	s := &fhir.Server{}
	h := s.Handler()
	if h == nil || s.DefaultCount != 50 || s.MaxCount != 500 {
		t.Errorf("defaults: count %d max %d", s.DefaultCount, s.MaxCount)
	}
	_ = fmt.Sprint(h)
}
