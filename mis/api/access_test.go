package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/medgate/medgate/mis/domain"
)

// TestRoles holds the API to the matrix in mis/auth/roles.go.
func TestRoles(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, registrar := e.createUser("registrar", e.org, domain.RoleRegistrar)
		_, doctor := e.createUser("doctor", e.org, domain.RoleDoctor)
		_, lab := e.createUser("lab", e.org, domain.RoleLab)
		_, it := e.createUser("it", e.org, domain.RoleIT)

		// Only an admin manages users.
		for _, tok := range []string{registrar, doctor, lab, it} {
			wantError(t, e.call(http.MethodPost, "/api/v1/users", tok, map[string]any{
				"login": "mallory", "password": userPassword,
				"memberships": []domain.Membership{{OrganizationID: e.org, Roles: []domain.Role{domain.RoleAdmin}}},
			}), http.StatusForbidden, "")
			wantError(t, e.call(http.MethodPost, "/api/v1/organizations", tok, map[string]any{"name": "ООО Другая"}), http.StatusForbidden, "")
		}

		// Registrar: creates and updates patients, creates orders, no results.
		p := e.createPatient(registrar, patientJSON("Иванов", "Иван"))
		upd := patientJSON("Иванов", "Иван", "phone", "+7 900 000-00-00", "version", p.Version)
		want(t, e.call(http.MethodPut, patientPath(p.ID, ""), registrar, upd), http.StatusOK, nil)
		order := e.createOrder(registrar, labOrder(p.ID))
		for _, sub := range []string{"chart", "observations", "studies"} {
			wantError(t, e.get(patientPath(p.ID, sub), registrar), http.StatusForbidden, "")
		}
		want(t, e.get(patientPath(p.ID, ""), registrar), http.StatusOK, nil)

		// Doctor: reads charts, orders; cannot register or edit patients.
		want(t, e.get(patientPath(p.ID, "chart"), doctor), http.StatusOK, nil)
		want(t, e.get(patientPath(p.ID, "observations"), doctor), http.StatusOK, nil)
		e.createOrder(doctor, imagingOrder(p.ID))
		wantError(t, e.call(http.MethodPost, "/api/v1/patients", doctor, patientJSON("Петров", "Пётр")), http.StatusForbidden, "")
		wantError(t, e.call(http.MethodPut, patientPath(p.ID, ""), doctor,
			patientJSON("Иванов", "Иван", "version", 2)), http.StatusForbidden, "")

		// Lab: reads patients, charts and orders; cannot order or cancel.
		want(t, e.get(patientPath(p.ID, ""), lab), http.StatusOK, nil)
		want(t, e.get(patientPath(p.ID, "chart"), lab), http.StatusOK, nil)
		want(t, e.get("/api/v1/orders/"+id(order.ID), lab), http.StatusOK, nil)
		want(t, e.get("/api/v1/orders?patient="+id(p.ID), lab), http.StatusOK, nil)
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", lab, labOrder(p.ID)), http.StatusForbidden, "")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders/"+id(order.ID)+"/cancel", lab, nil), http.StatusForbidden, "")
		wantError(t, e.call(http.MethodPost, "/api/v1/patients", lab, patientJSON("Петров", "Пётр")), http.StatusForbidden, "")

		// IT: devices, no clinical data at all.
		wantError(t, e.get("/api/v1/patients?name=иван", it), http.StatusForbidden, "")
		wantError(t, e.get(patientPath(p.ID, ""), it), http.StatusForbidden, "")
		wantError(t, e.get(patientPath(p.ID, "chart"), it), http.StatusForbidden, "")
		wantError(t, e.call(http.MethodPost, "/api/v1/patients", it, patientJSON("Петров", "Пётр")), http.StatusForbidden, "")
		wantError(t, e.get("/api/v1/orders/"+id(order.ID), it), http.StatusForbidden, "")
		want(t, e.get("/api/v1/audit", it), http.StatusOK, nil) // AuditRead

		// Nothing the refusals touched was written.
		if n := e.patientCount(e.org); n != 1 {
			t.Errorf("%d patients, want 1", n)
		}
		if n := e.orderCount(e.org); n != 2 {
			t.Errorf("%d orders, want 2", n)
		}
		cur, err := e.st.GetPatient(e.ctx, []int64{e.org}, p.ID)
		if err != nil || cur.Version != 2 {
			t.Errorf("patient after the doctor's refused update: %+v, %v", cur, err)
		}
		got, err := e.st.GetServiceRequest(e.ctx, []int64{e.org}, order.ID)
		if err != nil || got.Status != domain.StatusActive {
			t.Errorf("order after the lab's refused cancel: %+v, %v", got, err)
		}
	})
}

// TestOrganizations checks that another legal entity's records are invisible
// (404, never 403) to users of the first.
func TestOrganizations(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		orgB := e.createOrg("ООО «Клиника Б»")
		var orgs struct {
			Items []domain.Organization `json:"items"`
		}
		want(t, e.get("/api/v1/organizations", e.admin), http.StatusOK, &orgs)
		if len(orgs.Items) != 2 {
			t.Errorf("admin sees %d organizations, want 2 (the creator administers the new one)", len(orgs.Items))
		}
		// The admin now belongs to two organizations: a patient needs one named.
		wantError(t, e.call(http.MethodPost, "/api/v1/patients", e.admin, patientJSON("Смирнов", "Олег")), http.StatusBadRequest, "organization")
		pB := e.createPatient(e.admin, patientJSON("Смирнов", "Олег", "organization", orgB, "snils", testSNILS))
		if pB.OrganizationID != orgB {
			t.Fatalf("patient of B in organization %d", pB.OrganizationID)
		}
		orderB := e.createOrder(e.admin, labOrder(pB.ID))
		pA := e.createPatient(e.admin, patientJSON("Смирнов", "Антон", "organization", e.org))

		docUser, doctor := e.createUser("doctor.a", e.org, domain.RoleDoctor)
		_, registrar := e.createUser("registrar.a", e.org, domain.RoleRegistrar)
		// An admin adds users only where they administer: B's admin is the
		// same person here, so check with an org that does not exist for them.
		wantError(t, e.call(http.MethodPost, "/api/v1/users", e.admin, map[string]any{
			"login": "stranger", "password": userPassword,
			"memberships": []domain.Membership{{OrganizationID: orgB + 1000, Roles: []domain.Role{domain.RoleDoctor}}},
		}), http.StatusBadRequest, "memberships[0].organization")

		for _, path := range []string{
			patientPath(pB.ID, ""), patientPath(pB.ID, "chart"), patientPath(pB.ID, "observations"),
			patientPath(pB.ID, "studies"), patientPath(pB.ID, "orders"), "/api/v1/orders/" + id(orderB.ID),
		} {
			wantError(t, e.get(path, doctor), http.StatusNotFound, "")
		}
		wantError(t, e.call(http.MethodPut, patientPath(pB.ID, ""), registrar,
			patientJSON("Смирнов", "Олег", "version", 1)), http.StatusNotFound, "")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders/"+id(orderB.ID)+"/cancel", registrar, nil), http.StatusNotFound, "")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, labOrder(pB.ID)), http.StatusBadRequest, "patient")

		// Search does not reach into B, by name or by СНИЛС.
		got, _ := e.search(doctor, url.Values{"name": {"смирнов"}})
		if ids := patientIDs(got); len(ids) != 1 || ids[0] != pA.ID {
			t.Errorf("doctor of A searching 'смирнов' found %v, want only %d", ids, pA.ID)
		}
		got, _ = e.search(doctor, url.Values{"snils": {testSNILS}})
		if len(got) != 0 {
			t.Errorf("doctor of A found B's patient by СНИЛС: %v", patientIDs(got))
		}
		var orders struct {
			Items []domain.ServiceRequest `json:"items"`
		}
		want(t, e.get("/api/v1/orders", doctor), http.StatusOK, &orders)
		if len(orders.Items) != 0 {
			t.Errorf("doctor of A lists %d orders of B", len(orders.Items))
		}
		wantError(t, e.get("/api/v1/patients?name=смирнов&organization="+id(orgB), doctor), http.StatusBadRequest, "organization")

		// The admin of both sees both, and can narrow to one.
		got, _ = e.search(e.admin, url.Values{"name": {"смирнов"}})
		if len(got) != 2 {
			t.Errorf("admin of A and B found %d Смирновs, want 2", len(got))
		}
		got, _ = e.search(e.admin, url.Values{"name": {"смирнов"}, "organization": {id(orgB)}})
		if ids := patientIDs(got); len(ids) != 1 || ids[0] != pB.ID {
			t.Errorf("admin searching in B found %v, want [%d]", ids, pB.ID)
		}

		// Refused reads are audited as minor failures, naming the resource.
		refused := func(event string, resource int64) int {
			return e.auditCount(event, func(ev domain.AuditEvent) bool {
				return ev.UserID == docUser.ID && ev.ResourceID == resource && ev.Outcome == domain.OutcomeMinorFailure
			})
		}
		for _, event := range []string{"patient.read", "patient.chart", "patient.orders"} {
			if refused(event, pB.ID) != 1 {
				t.Errorf("refused %s of B's patient: not audited with outcome 4", event)
			}
		}
		if refused("order.read", orderB.ID) != 1 {
			t.Error("refused order.read of B's order: not audited with outcome 4")
		}
		// No refused read leaks B's patient id into the audit trail.
		for _, ev := range e.audit() {
			if ev.UserID == docUser.ID && ev.PatientID == pB.ID {
				t.Errorf("audit row of a refused read names the patient: %+v", ev)
			}
		}
	})
}

func TestCreateUser(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		u, tok := e.createUser("Doctor.Ivanova", e.org, domain.RoleDoctor, domain.RoleLab)
		if len(u.Memberships) != 1 || len(u.Memberships[0].Roles) != 2 {
			t.Errorf("created user %+v", u)
		}
		var me domain.User
		want(t, e.get("/api/v1/me", tok), http.StatusOK, &me)
		if me.ID != u.ID {
			t.Errorf("/me = %+v, want user %d", me, u.ID)
		}
		e.login("doctor.ivanova", userPassword)

		user := func(login, password string, roles ...domain.Role) map[string]any {
			return map[string]any{"login": login, "password": password,
				"memberships": []domain.Membership{{OrganizationID: e.org, Roles: roles}}}
		}
		post := func(body any) *response { return e.call(http.MethodPost, "/api/v1/users", e.admin, body) }
		wantError(t, post(user("DOCTOR.IVANOVA", userPassword, domain.RoleDoctor)), http.StatusConflict, "login")
		wantError(t, post(user("иванова", userPassword, domain.RoleDoctor)), http.StatusBadRequest, "login")
		wantError(t, post(user("petrov", "short", domain.RoleDoctor)), http.StatusBadRequest, "password")
		wantError(t, post(user("petrov", userPassword)), http.StatusBadRequest, "memberships[0].roles")
		wantError(t, post(user("petrov", userPassword, "surgeon")), http.StatusBadRequest, "memberships[0].roles[0]")
		wantError(t, post(map[string]any{"login": "petrov", "password": userPassword}), http.StatusBadRequest, "memberships")
		wantError(t, post(map[string]any{"login": "petrov", "password": userPassword, "passwordHash": "x",
			"memberships": []domain.Membership{{OrganizationID: e.org, Roles: []domain.Role{domain.RoleDoctor}}}}), http.StatusBadRequest, "passwordHash")
		if _, err := e.st.GetUserByLogin(e.ctx, "petrov"); err == nil {
			t.Error("a refused user was stored")
		}
		if n := e.auditCount("user.create", func(ev domain.AuditEvent) bool { return ev.ResourceID == u.ID && ev.OrganizationID == e.org }); n != 1 {
			t.Errorf("%d user.create audit rows, want 1", n)
		}
	})
}
