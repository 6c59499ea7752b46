package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
)

// A report's attachment downloads as stored, with its type, for the
// report's organization only, audited each time; the chart lists it
// without bytes.
func TestReportAttachmentDownload(t *testing.T) {
	blobs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.4\n% test report\n%%EOF\n")
	html := []byte("<script>alert(1)</script>")
	put := func(t *testing.T, data []byte) (key, sum string) {
		f, err := os.CreateTemp(blobs.TempDir(), "att-*")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
		f.Close()
		d := sha256.Sum256(data)
		key, err = blobs.Put(t.Context(), f.Name(), d)
		if err != nil {
			t.Fatal(err)
		}
		return key, hex.EncodeToString(d[:])
	}
	eachStore(t, func(t *testing.T, e *env) {
		report := func(org int64, family string, forms ...domain.Attachment) *domain.DiagnosticReport {
			t.Helper()
			p := &domain.Patient{OrganizationID: org, Family: family, Given: "Пётр", BirthDate: "1980-05-17", Gender: domain.GenderMale, Active: true}
			if err := e.st.CreatePatient(e.ctx, p, 0, nil); err != nil {
				t.Fatal(err)
			}
			r := &domain.DiagnosticReport{OrganizationID: org, PatientID: p.ID, Status: "final",
				Code: domain.Coding{Code: "CBC"}, Effective: e.clock.Now(), PresentedForm: forms}
			if err := e.st.SaveReport(e.ctx, r, nil, nil); err != nil {
				t.Fatal(err)
			}
			return r
		}
		pdfKey, pdfSum := put(t, pdf)
		htmlKey, htmlSum := put(t, html)
		rep := report(e.org, "Иванов",
			domain.Attachment{ContentType: "application/pdf", Title: "Заключение", Size: int64(len(pdf)), SHA256: pdfSum, Location: pdfKey},
			domain.Attachment{ContentType: "text/html", Size: int64(len(html)), SHA256: htmlSum, Location: htmlKey})
		_, doctor := e.createUser("doctor", e.org, domain.RoleDoctor)
		_, registrar := e.createUser("registrar", e.org, domain.RoleRegistrar)
		path := "/api/v1/reports/" + id(rep.ID) + "/attachments/"

		r := e.get(path+"0", doctor)
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, pdf) {
			t.Fatalf("download: %s", r)
		}
		for h, want := range map[string]string{"Content-Type": "application/pdf", "Cache-Control": "private, no-store",
			"X-Content-Type-Options": "nosniff", "Content-Length": id(int64(len(pdf)))} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if d := r.Header.Get("Content-Disposition"); !strings.HasPrefix(d, "inline") {
			t.Errorf("Content-Disposition %q", d)
		}
		if n := e.auditCount("report.attachment.read", func(ev domain.AuditEvent) bool {
			return ev.ResourceID == rep.ID && ev.PatientID == rep.PatientID && ev.OrganizationID == e.org && ev.Outcome == domain.OutcomeSuccess
		}); n != 1 {
			t.Errorf("%d report.attachment.read events, want 1", n)
		}

		// What a device names HTML is never shown in place.
		r = e.get(path+"1", doctor)
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, html) || r.Header.Get("Content-Type") != "application/octet-stream" ||
			!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("HTML attachment: %s %v", r, r.Header)
		}

		wantError(t, e.get(path+"2", doctor), http.StatusNotFound, "")
		wantError(t, e.get(path+"x", doctor), http.StatusNotFound, "")
		wantError(t, e.get("/api/v1/reports/999999/attachments/0", doctor), http.StatusNotFound, "")
		wantError(t, e.get(path+"0", registrar), http.StatusForbidden, "")
		wantError(t, e.get(path+"0", ""), http.StatusUnauthorized, "")

		// Another organization's report is not found, and the probe audited.
		other := e.createOrg("ООО «Клиника Б»")
		theirs := report(other, "Петров", domain.Attachment{ContentType: "application/pdf", Size: int64(len(pdf)), SHA256: pdfSum, Location: pdfKey})
		wantError(t, e.get("/api/v1/reports/"+id(theirs.ID)+"/attachments/0", doctor), http.StatusNotFound, "")
		if n := e.auditCount("report.attachment.read", func(ev domain.AuditEvent) bool {
			return ev.ResourceID == theirs.ID && ev.Outcome == domain.OutcomeMinorFailure && ev.OrganizationID == e.org
		}); n != 1 {
			t.Errorf("%d refused report.attachment.read events, want 1", n)
		}

		// The chart lists the attachments, never their bytes.
		var chart struct {
			Reports []struct {
				ID            int64            `json:"id"`
				PresentedForm []map[string]any `json:"presentedForm"`
			} `json:"reports"`
		}
		want(t, e.get("/api/v1/patients/"+id(rep.PatientID)+"/chart", doctor), http.StatusOK, &chart)
		if len(chart.Reports) != 1 || len(chart.Reports[0].PresentedForm) != 2 {
			t.Fatalf("chart %+v", chart)
		}
		a := chart.Reports[0].PresentedForm[0]
		if a["contentType"] != "application/pdf" || a["title"] != "Заключение" || a["size"] != float64(len(pdf)) || a["data"] != nil {
			t.Errorf("chart attachment %v", a)
		}
	}, func(s *api.Server) { s.Blobs = blobs })
}
