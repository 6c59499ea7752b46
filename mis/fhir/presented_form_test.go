package fhir_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// A report's documents and images (presentedForm) are links to the REST
// API's attachment download, with type, size, title and creation, never
// inline bytes; the resource stays valid R4.
func TestReportPresentedForm(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		created := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
		rep := &domain.DiagnosticReport{OrganizationID: e.f.Org.ID, PatientID: e.f.Ivanov.ID, Status: "final",
			Code: domain.Coding{System: domain.SystemLOINC, Code: "58410-2", Display: "CBC panel"}, Effective: created,
			PresentedForm: []domain.Attachment{
				{ContentType: "application/pdf", Title: "Заключение", Size: 1234, Created: &created,
					SHA256:   strings.Repeat("ab", 32),
					Location: "ab/ab/" + strings.Repeat("ab", 32)},
				{ContentType: "image/bmp", Size: 56, SHA256: strings.Repeat("cd", 32), Location: "cd/cd/" + strings.Repeat("cd", 32)},
			}}
		if err := e.st.SaveReport(e.ctx, rep, nil, nil); err != nil {
			t.Fatal(err)
		}
		r := e.get("/fhir/r4/DiagnosticReport/"+id(rep.ID), e.doctor)
		want(t, r, http.StatusOK)
		forms := list(r.JSON["presentedForm"])
		if len(forms) != 2 {
			t.Fatalf("presentedForm %v", r.JSON["presentedForm"])
		}
		a := obj(forms[0])
		base := e.ts.URL + "/api/v1/reports/" + id(rep.ID) + "/attachments/"
		if a["contentType"] != "application/pdf" || a["size"] != 1234.0 || a["title"] != "Заключение" ||
			a["url"] != base+"0" || a["creation"] != "2025-03-14T12:30:00+03:00" || a["data"] != nil {
			t.Errorf("presentedForm[0] %v", a)
		}
		if b := obj(forms[1]); b["contentType"] != "image/bmp" || b["url"] != base+"1" || b["title"] != nil {
			t.Errorf("presentedForm[1] %v", b)
		}
		// The same in a search.
		s := e.get("/fhir/r4/DiagnosticReport?_id="+id(rep.ID), e.doctor)
		want(t, s, http.StatusOK)
		if m := entries(s.JSON, "match"); len(m) != 1 || len(list(m[0]["presentedForm"])) != 2 {
			t.Errorf("search: %s", s.Body)
		}
		// The link leads to the download, which needs its own sign-in.
		if res, err := e.ts.Client().Get(base + "0"); err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("attachment without a token: %v %v", res.StatusCode, err)
		}

		if !strings.HasSuffix(t.Name(), "/sqlite") { // validated once
			return
		}
		node, script := nodeValidator(t)
		p := filepath.Join(t.TempDir(), "DiagnosticReport-presentedForm.json")
		if err := os.WriteFile(p, r.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(node, script, p).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok "+p) {
			t.Errorf("validate.js: %v\n%s", err, out)
		}
	})
}
