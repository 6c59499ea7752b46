package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/domain"
)

const testENP = "7700000000000001"

func TestCreatePatient(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		body := patientJSON("  Иванов ", "Пётр", "patronymic", "Сергеевич", "snils", testSNILS, "enp", testENP,
			"gender", "male", "phone", "+7 (495) 123-45-67", "address", "г. Москва, ул. Тверская, д. 1",
			"identifier", []domain.Identifier{{System: medCardSystem, Value: "МК-0001"}, {System: "urn:oid:1.2.643.100.8", Value: "4510 123456"}})
		r := e.call(http.MethodPost, "/api/v1/patients", e.admin, body)
		var p domain.Patient
		want(t, r, http.StatusCreated, &p)
		if loc := r.Header.Get("Location"); loc != patientPath(p.ID, "") {
			t.Errorf("Location %q, want %q", loc, patientPath(p.ID, ""))
		}
		wantIDs := []domain.Identifier{{System: medCardSystem, Value: "МК-0001"}, {System: "urn:oid:1.2.643.100.8", Value: "4510 123456"}}
		check := func(how string, p domain.Patient) {
			t.Helper()
			if p.Family != "Иванов" || p.Given != "Пётр" || p.Patronymic != "Сергеевич" || p.BirthDate != "1980-05-17" ||
				p.Gender != domain.GenderMale || p.ENP != testENP || p.OrganizationID != e.org || p.Version != 1 || !p.Active {
				t.Errorf("%s: %+v", how, p)
			}
			if p.SNILS != testSNILS {
				t.Errorf("%s: СНИЛС shown as %q, want %q", how, p.SNILS, testSNILS)
			}
			if !reflect.DeepEqual(p.Identifiers, wantIDs) {
				t.Errorf("%s: identifiers %+v, want %+v", how, p.Identifiers, wantIDs)
			}
		}
		check("POST answer", p)
		var got domain.Patient
		want(t, e.get(patientPath(p.ID, ""), e.admin), http.StatusOK, &got)
		check("GET", got)

		stored, err := e.st.GetPatient(e.ctx, []int64{e.org}, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.SNILS != "11223344595" || stored.Family != "Иванов" {
			t.Errorf("stored СНИЛС %q family %q, want 11223344595, Иванов", stored.SNILS, stored.Family)
		}
		if n := e.auditCount("patient.create", func(ev domain.AuditEvent) bool {
			return ev.PatientID == p.ID && ev.OrganizationID == e.org && ev.Action == domain.ActionCreate && ev.Outcome == 0
		}); n != 1 {
			t.Errorf("%d patient.create audit rows for the patient, want 1", n)
		}
		for _, ev := range e.audit() {
			if strings.Contains(ev.Detail, "Иванов") || strings.Contains(ev.Detail, "11223344595") {
				t.Errorf("audit detail carries patient data: %+v", ev)
			}
		}
	})
}

// TestCreatePatientRejected checks every refused create answers the right
// error and writes nothing: no patient, no patient.create audit row.
func TestCreatePatientRejected(t *testing.T) {
	const maxBody = 4096
	valid := `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02"}`
	cases := []struct {
		name        string
		contentType string
		body        string
		status      int
		field       string
	}{
		{"snils checksum", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "snils": "112-233-445 96"}`, 400, "snils"},
		{"snils letters", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "snils": "112-233-44A 95"}`, 400, "snils"},
		{"enp 15 digits", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "enp": "770000000000001"}`, 400, "enp"},
		{"birthDate number", "", `{"family": "Петров", "given": "Иван", "birthDate": 19900102}`, 400, "birthDate"},
		{"birthDate not a date", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-02-30"}`, 400, "birthDate"},
		{"family missing", "", `{"given": "Иван", "birthDate": "1990-01-02"}`, 400, "family"},
		{"gender unknown", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "gender": "m"}`, 400, "gender"},
		{"unknown field", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "middleName": "Ильич"}`, 400, "middleName"},
		{"server-owned id", "", `{"id": 7, "family": "Петров", "given": "Иван", "birthDate": "1990-01-02"}`, 400, "id"},
		{"version on create", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "version": 3}`, 400, "version"},
		{"snils as identifier", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": "11223344595"}]}`, 400, "identifier[0].system"},
		{"malformed JSON", "", `{"family": "Петров", "given": `, 400, ""},
		{"not JSON", "", `family=Петров`, 400, ""},
		{"empty body", "", ``, 400, ""},
		{"two objects", "", valid + valid, 400, ""},
		{"array", "", `[` + valid + `]`, 400, ""},
		{"text/plain", "text/plain", valid, 415, ""},
		{"form", "application/x-www-form-urlencoded", valid, 415, ""},
		{"too large", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "address": "` + strings.Repeat("д", maxBody) + `"}`, 413, ""},
		{"duplicate snils", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "snils": "11223344595"}`, 409, "snils"},
		{"duplicate enp", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "enp": "` + testENP + `"}`, 409, "enp"},
		{"duplicate identifier", "", `{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "identifier": [{"system": "` + medCardSystem + `", "value": "МК-1"}]}`, 409, "identifier[0]"},
	}
	eachStore(t, func(t *testing.T, e *env) {
		// The patient the duplicates collide with.
		first := e.createPatient(e.admin, patientJSON("Иванов", "Иван", "snils", testSNILS, "enp", testENP,
			"identifier", []domain.Identifier{{System: medCardSystem, Value: "МК-1"}}))
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				patients, created := e.patientCount(e.org), e.auditCount("patient.create", nil)
				ct := c.contentType
				if ct == "" {
					ct = "application/json"
				}
				r := e.raw(http.MethodPost, "/api/v1/patients", e.admin, ct, strings.NewReader(c.body))
				wantError(t, r, c.status, c.field)
				if n := e.patientCount(e.org); n != patients {
					t.Errorf("%d patients after a refused create, want %d", n, patients)
				}
				if n := e.auditCount("patient.create", nil); n != created {
					t.Errorf("%d patient.create audit rows after a refused create, want %d", n, created)
				}
			})
		}
		// The limit is the configured one: a body just under it is accepted.
		small := fmt.Sprintf(`{"family": "Петров", "given": "Иван", "birthDate": "1990-01-02", "address": "%s"}`, strings.Repeat("a", 1000))
		want(t, e.raw(http.MethodPost, "/api/v1/patients", e.admin, "application/json; charset=utf-8", strings.NewReader(small)), http.StatusCreated, nil)
		// The collided-with patient is untouched.
		cur, err := e.st.GetPatient(e.ctx, []int64{e.org}, first.ID)
		if err != nil || cur.Version != 1 || cur.SNILS != "11223344595" {
			t.Errorf("first patient now %+v, %v", cur, err)
		}
	}, func(s *api.Server) { s.MaxBodyBytes = maxBody })
}

func TestPatientLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		for i, given := range []string{"Анна", "Борис", "Вера"} {
			e.createPatient(e.admin, patientJSON("Кузнецов", given, "snils", snils(200000001+i)))
		}
		ae := wantError(t, e.call(http.MethodPost, "/api/v1/patients", e.admin, patientJSON("Кузнецов", "Глеб")), http.StatusConflict, "")
		if !strings.Contains(ae.Message, "3") || !strings.Contains(ae.Message, "limit") {
			t.Errorf("limit message %q does not name the limit of 3", ae.Message)
		}
		if n := e.patientCount(e.org); n != 3 {
			t.Errorf("%d patients, want 3", n)
		}
		if n := e.auditCount("patient.create", nil); n != 3 {
			t.Errorf("%d patient.create audit rows, want 3", n)
		}
		// The limit is per organization.
		orgB := e.createOrg("ООО «Клиника Б»")
		e.createPatient(e.admin, patientJSON("Кузнецов", "Глеб", "organization", orgB))
		if n := e.patientCount(orgB); n != 1 {
			t.Errorf("%d patients in B, want 1", n)
		}
	}, func(s *api.Server) { s.MaxPatients = 3 })
}

// snils makes a valid СНИЛС from nine digits.
func snils(n int) string {
	body := fmt.Sprintf("%09d", n)
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(body[i]-'0') * (9 - i)
	}
	check := sum % 101
	if check == 100 {
		check = 0
	}
	return fmt.Sprintf("%s%02d", body, check)
}

func TestUpdatePatient(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p := e.createPatient(e.admin, patientJSON("Иванов", "Пётр", "snils", testSNILS))
		path := patientPath(p.ID, "")

		var upd domain.Patient
		want(t, e.call(http.MethodPut, path, e.admin, patientJSON("Иванов", "Пётр", "patronymic", "Ильич",
			"snils", testSNILS, "phone", "+7 900 111-22-33", "version", 1)), http.StatusOK, &upd)
		if upd.Version != 2 || upd.Patronymic != "Ильич" || upd.SNILS != testSNILS || upd.ID != p.ID {
			t.Errorf("PUT answered %+v", upd)
		}

		// Stale version: 409 on "version", nothing changes.
		wantError(t, e.call(http.MethodPut, path, e.admin, patientJSON("Иванов", "Павел", "version", 1)), http.StatusConflict, "version")
		// No version: 400 on "version".
		wantError(t, e.call(http.MethodPut, path, e.admin, patientJSON("Иванов", "Павел")), http.StatusBadRequest, "version")
		// Invalid data with the current version.
		wantError(t, e.call(http.MethodPut, path, e.admin, patientJSON("Иванов", "Павел", "enp", "123", "version", 2)), http.StatusBadRequest, "enp")
		// Moving to another organization is refused.
		orgB := e.createOrg("ООО «Клиника Б»")
		wantError(t, e.call(http.MethodPut, path, e.admin, patientJSON("Иванов", "Павел", "organization", orgB, "version", 2)), http.StatusBadRequest, "organization")
		// A patient that does not exist.
		wantError(t, e.call(http.MethodPut, patientPath(p.ID+1000, ""), e.admin, patientJSON("Иванов", "Павел", "version", 1)), http.StatusNotFound, "")

		var got domain.Patient
		want(t, e.get(path, e.admin), http.StatusOK, &got)
		if got.Version != 2 || got.Given != "Пётр" || got.Patronymic != "Ильич" || got.Phone != "+7 900 111-22-33" || got.OrganizationID != e.org {
			t.Errorf("after the refused updates: %+v", got)
		}
		if n := e.auditCount("patient.update", func(ev domain.AuditEvent) bool { return ev.PatientID == p.ID && ev.Outcome == 0 }); n != 1 {
			t.Errorf("%d successful patient.update audit rows, want 1", n)
		}
		// The new name is what search finds.
		found, _ := e.search(e.admin, url.Values{"name": {"иванов петр ильич"}})
		if len(found) != 1 {
			t.Errorf("search by the updated name found %d", len(found))
		}
	})
}

func TestSearchPatients(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ivanov := e.createPatient(e.admin, patientJSON("Иванов", "Пётр", "patronymic", "Сергеевич", "snils", testSNILS,
			"identifier", []domain.Identifier{{System: medCardSystem, Value: "МК-0042"}}))
		ivanova := e.createPatient(e.admin, patientJSON("Иванова", "Анна", "patronymic", "Петровна", "birthDate", "1985-01-02", "gender", "female"))
		ivanenko := e.createPatient(e.admin, patientJSON("Иваненко", "Олег"))
		fedorov := e.createPatient(e.admin, patientJSON("Фёдоров", "Семён", "birthDate", "1990-03-03"))
		fedorova := e.createPatient(e.admin, patientJSON("Федорова", "Алёна", "birthDate", "1991-03-03", "gender", "female"))
		e.createPatient(e.admin, patientJSON("Петров", "Иван", "birthDate", "1970-07-07"))

		cases := []struct {
			query url.Values
			want  []int64 // in order: by folded full name
		}{
			{url.Values{"name": {"иван"}}, []int64{ivanenko.ID, ivanov.ID, ivanova.ID}},
			{url.Values{"name": {"ИВАН"}}, []int64{ivanenko.ID, ivanov.ID, ivanova.ID}},
			{url.Values{"name": {"Иванов"}}, []int64{ivanov.ID, ivanova.ID}},
			{url.Values{"name": {"Иванов Пе"}}, []int64{ivanov.ID}},
			{url.Values{"name": {"иванов  пё"}}, []int64{ivanov.ID}},
			{url.Values{"name": {"иванов петр сергеевич"}}, []int64{ivanov.ID}},
			{url.Values{"name": {"федоров"}}, []int64{fedorov.ID, fedorova.ID}},
			{url.Values{"name": {"Фёдоров"}}, []int64{fedorov.ID, fedorova.ID}},
			{url.Values{"name": {"ФЕДОРОВА АЛЁ"}}, []int64{fedorova.ID}},
			{url.Values{"name": {"ивановаа"}}, nil},
			{url.Values{"snils": {testSNILS}}, []int64{ivanov.ID}},
			{url.Values{"snils": {"11223344595"}}, []int64{ivanov.ID}},
			{url.Values{"birthDate": {"1980-05-17"}}, []int64{ivanenko.ID, ivanov.ID}},
			{url.Values{"name": {"иван"}, "birthDate": {"1980-05-17"}}, []int64{ivanenko.ID, ivanov.ID}},
			{url.Values{"identifier": {medCardSystem + "|МК-0042"}}, []int64{ivanov.ID}},
			{url.Values{"identifier": {medCardSystem + "|МК-0043"}}, nil},
			{url.Values{"identifier": {"urn:oid:1.2.643.100.3|11223344595"}}, []int64{ivanov.ID}},
		}
		for _, c := range cases {
			before := e.auditCount("patient.search", nil)
			got, next := e.search(e.admin, c.query)
			if ids := patientIDs(got); !slices.Equal(ids, c.want) && !(len(ids) == 0 && len(c.want) == 0) {
				t.Errorf("search %s = %v, want %v", c.query.Encode(), ids, c.want)
			}
			if next != "" {
				t.Errorf("search %s: next %q on a short result", c.query.Encode(), next)
			}
			if after := e.auditCount("patient.search", func(ev domain.AuditEvent) bool {
				return ev.Action == domain.ActionRead && ev.OrganizationID == e.org
			}); after != before+1 {
				t.Errorf("search %s: %d new patient.search audit rows, want 1", c.query.Encode(), after-before)
			}
		}
		// Found patients show СНИЛС formatted.
		got, _ := e.search(e.admin, url.Values{"snils": {"11223344595"}})
		if len(got) == 1 && got[0].SNILS != testSNILS {
			t.Errorf("search shows СНИЛС %q, want %q", got[0].SNILS, testSNILS)
		}
		// Audit rows name the criteria, never the values.
		for _, ev := range e.audit() {
			if ev.Event == "patient.search" && (strings.Contains(ev.Detail, "иван") || strings.Contains(ev.Detail, "11223344595")) {
				t.Errorf("patient.search audit carries the search values: %q", ev.Detail)
			}
		}

		bad := []struct {
			query string
			field string
		}{
			{"name=иван&cursor=" + url.QueryEscape("!!garbage!!"), "cursor"},
			{"name=иван&cursor=Z2FyYmFnZQ", "cursor"}, // base64 of "garbage"
			{"name=иван&limit=0", "limit"},
			{"name=иван&limit=501", "limit"},
			{"name=иван&limit=-1", "limit"},
			{"name=иван&limit=ten", "limit"},
			{"", "name"},
			{"name=++", "name"},
			{"snils=112-233-445+96", "snils"},
			{"birthDate=17.05.1980", "birthDate"},
			{"identifier=МК-0042", "identifier"},
			{"identifier=" + url.QueryEscape(medCardSystem+"|"), "identifier"},
		}
		for _, c := range bad {
			wantError(t, e.get("/api/v1/patients?"+c.query, e.admin), http.StatusBadRequest, c.field)
		}
	})
}

func TestSearchPagination(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		var all []int64
		// Three identical names test the id tiebreak of the keyset.
		for _, given := range []string{"Иван", "Иван", "Иван", "Борис", "Ёлка", "Яков", "Андрей"} {
			all = append(all, e.createPatient(e.admin, patientJSON("Сидоров", given)).ID)
		}
		e.createPatient(e.admin, patientJSON("Смирнов", "Иван"))
		for _, limit := range []int{1, 2, 3, 7} {
			var seen []int64
			cursor, pages := "", 0
			for {
				q := url.Values{"name": {"сидоров"}, "limit": {fmt.Sprint(limit)}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				got, next := e.search(e.admin, q)
				pages++
				if len(got) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(got))
				}
				seen = append(seen, patientIDs(got)...)
				if next == "" {
					break
				}
				if pages > 10 {
					t.Fatalf("limit %d: paging does not end", limit)
				}
				cursor = next
			}
			if want := (len(all) + limit - 1) / limit; pages != want {
				t.Errorf("limit %d: %d pages, want %d", limit, pages, want)
			}
			sorted := slices.Clone(seen)
			slices.Sort(sorted)
			if !slices.Equal(sorted, all) {
				t.Errorf("limit %d: pages gave %v, want each of %v once", limit, seen, all)
			}
		}
	})
}

// TestPatientLimitConcurrent checks the limit holds when creates race.
func TestPatientLimitConcurrent(t *testing.T) {
	const max, tries = 3, 12
	eachStore(t, func(t *testing.T, e *env) {
		statuses := make(chan int, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, _ := json.Marshal(patientJSON("Кузнецов", "Глеб", "snils", snils(300000001+i)))
				req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/api/v1/patients", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+e.admin)
				res, err := e.ts.Client().Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				res.Body.Close()
				statuses <- res.StatusCode
			}()
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for s := range statuses {
			counts[s]++
		}
		if counts[http.StatusCreated] != max || counts[http.StatusConflict] != tries-max {
			t.Errorf("statuses %v, want %d × 201 and %d × 409", counts, max, tries-max)
		}
		if n := e.patientCount(e.org); n != max {
			t.Errorf("%d patients, want %d", n, max)
		}
		if n := e.auditCount("patient.create", nil); n != max {
			t.Errorf("%d patient.create audit rows, want %d", n, max)
		}
	}, func(s *api.Server) { s.MaxPatients = max })
}
