package api_test

import (
	"net/http"
	"testing"

	"github.com/medgate/medgate/mis/domain"
)

func TestHealthz(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		var body map[string]string
		want(t, e.get("/healthz", ""), http.StatusOK, &body)
		if body["status"] != "ok" {
			t.Errorf("healthz %v", body)
		}
		if err := e.st.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
		want(t, e.get("/healthz", ""), http.StatusServiceUnavailable, &body)
		if body["status"] == "ok" {
			t.Errorf("healthz with a closed store: %v", body)
		}
	})
}

func TestUnknownAPIPath(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		for _, c := range []struct{ method, path, token string }{
			{http.MethodGet, "/api/v1/nope", ""},
			{http.MethodGet, "/api/v1/nope", e.admin},
			{http.MethodPost, "/api/v2/patients", e.admin},
			{http.MethodGet, "/api/v1/patients/1/nope", e.admin},
		} {
			wantError(t, e.call(c.method, c.path, c.token, nil), http.StatusNotFound, "")
		}
		// A malformed id is a record that does not exist.
		wantError(t, e.get("/api/v1/patients/abc", e.admin), http.StatusNotFound, "")
		wantError(t, e.get("/api/v1/patients/0", e.admin), http.StatusNotFound, "")
	})
}

// TestAuditTrail checks an organization's auditor sees every event about
// its patient through GET /api/v1/audit: creation, reads, updates, orders
// and their status changes.
func TestAuditTrail(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p := e.createPatient(e.admin, patientJSON("Иванов", "Иван"))
		want(t, e.get(patientPath(p.ID, ""), e.admin), http.StatusOK, nil)
		want(t, e.call(http.MethodPut, patientPath(p.ID, ""), e.admin, patientJSON("Иванов", "Иван", "phone", "+7 900 000-00-00", "version", 1)), http.StatusOK, nil)
		o := e.createOrder(e.admin, labOrder(p.ID))
		want(t, e.call(http.MethodPost, "/api/v1/orders/"+id(o.ID)+"/cancel", e.admin, nil), http.StatusOK, nil)

		var out struct {
			Items []domain.AuditEvent `json:"items"`
		}
		want(t, e.get("/api/v1/audit?patient="+id(p.ID), e.admin), http.StatusOK, &out)
		seen := map[string]bool{}
		for _, ev := range out.Items {
			seen[ev.Event] = true
			if ev.PatientID != p.ID {
				t.Errorf("audit?patient=%d answered %+v", p.ID, ev)
			}
		}
		for _, event := range []string{"patient.create", "patient.read", "patient.update", "order.create", "order.status.cancelled"} {
			if !seen[event] {
				t.Errorf("the organization's audit trail lacks %s for the patient", event)
			}
		}
		wantError(t, e.get("/api/v1/audit?patient=abc", e.admin), http.StatusBadRequest, "patient")
	})
}
