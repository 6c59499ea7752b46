package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
)

func loginBody(login, password string) map[string]string {
	return map[string]string{"login": login, "password": password}
}

func TestLogin(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		var out struct {
			Token   string      `json:"token"`
			Expires time.Time   `json:"expires"`
			User    domain.User `json:"user"`
		}
		r := e.call(http.MethodPost, "/api/v1/login", "", loginBody("admin", adminPassword))
		want(t, r, http.StatusOK, &out)
		if out.Token == "" || out.User.Login != "admin" || out.Expires.Before(e.clock.Now()) {
			t.Errorf("login answered %s", r.Body)
		}
		if bytes.Contains(r.Body, []byte("argon2")) {
			t.Errorf("login answer carries the password hash: %s", r.Body)
		}
		var me domain.User
		want(t, e.get("/api/v1/me", out.Token), http.StatusOK, &me)
		if me.Login != "admin" || len(me.Memberships) != 1 || me.Memberships[0].OrganizationID != e.org {
			t.Errorf("/me = %+v", me)
		}

		// The login name is case-insensitive.
		if tok := e.login("ADMIN", adminPassword); tok == out.Token {
			t.Error("two logins got the same token")
		}

		// Wrong password and unknown login answer alike.
		wrong := wantError(t, e.call(http.MethodPost, "/api/v1/login", "", loginBody("admin", "not-the-password")), http.StatusUnauthorized, "")
		unknown := wantError(t, e.call(http.MethodPost, "/api/v1/login", "", loginBody("nobody", adminPassword)), http.StatusUnauthorized, "")
		if wrong.Message != unknown.Message {
			t.Errorf("wrong password %q and unknown login %q answer differently", wrong.Message, unknown.Message)
		}

		// Audit: two successful sign-ins, two failed ones.
		ok := e.auditCount("user.login", func(ev domain.AuditEvent) bool { return ev.Outcome == domain.OutcomeSuccess })
		failed := e.auditCount("user.login", func(ev domain.AuditEvent) bool { return ev.Outcome == domain.OutcomeMinorFailure })
		if ok != 3 || failed != 2 { // newEnv signed in once too
			t.Errorf("user.login audit: %d successes, %d failures; want 3, 2", ok, failed)
		}
		for _, ev := range e.audit() {
			if strings.Contains(ev.Detail, adminPassword) || strings.Contains(ev.Detail, "not-the-password") {
				t.Errorf("audit detail carries a password: %+v", ev)
			}
		}
	})
}

func TestLoginLockout(t *testing.T) {
	const max = 3
	eachStore(t, func(t *testing.T, e *env) {
		failures := func() int {
			return e.auditCount("user.login", func(ev domain.AuditEvent) bool { return ev.Outcome == domain.OutcomeMinorFailure })
		}
		for i := 0; i < max; i++ {
			wantError(t, e.call(http.MethodPost, "/api/v1/login", "", loginBody("admin", "wrong-password")), http.StatusUnauthorized, "")
		}
		before := failures()
		if before != max {
			t.Errorf("%d failed sign-ins audited, want %d", before, max)
		}
		// Locked: even the right password, under any case of the login.
		for _, login := range []string{"admin", "Admin"} {
			wantError(t, e.call(http.MethodPost, "/api/v1/login", "", loginBody(login, adminPassword)), http.StatusTooManyRequests, "")
		}
		if got := failures(); got != before+2 {
			t.Errorf("refused sign-ins while locked: %d audit rows with outcome 4, want %d", got-before, 2)
		}
		// The lock lifts after the period.
		e.clock.Advance(16 * time.Minute)
		e.login("admin", adminPassword)
	}, func(s *api.Server) { s.Lockout = &auth.Lockout{Max: max, Period: 15 * time.Minute} })
}

func TestLoginBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		post := func(body string) *response { return e.call(http.MethodPost, "/api/v1/login", "", body) }
		wantError(t, post(`{"login": "admin", "password": `), http.StatusBadRequest, "")
		wantError(t, post(`not json`), http.StatusBadRequest, "")
		wantError(t, post(``), http.StatusBadRequest, "")
		wantError(t, post(`{"password": "`+adminPassword+`"}`), http.StatusBadRequest, "login")
		wantError(t, post(`{"login": "admin"}`), http.StatusBadRequest, "password")
		wantError(t, post(`{"login": "admin", "password": "`+adminPassword+`", "otp": "123456"}`), http.StatusBadRequest, "otp")
		wantError(t, post(`{"login": 5, "password": "x"}`), http.StatusBadRequest, "login")
		wantError(t, e.raw(http.MethodPost, "/api/v1/login", "", "text/plain",
			strings.NewReader(`{"login": "admin", "password": "`+adminPassword+`"}`)), http.StatusUnsupportedMediaType, "")
	})
}

func TestSessionExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		tok := e.login("admin", adminPassword)
		e.clock.Advance(59 * time.Minute)
		want(t, e.get("/api/v1/me", tok), http.StatusOK, nil)
		e.clock.Advance(2 * time.Minute)
		wantError(t, e.get("/api/v1/me", tok), http.StatusUnauthorized, "")
		wantError(t, e.get("/api/v1/patients?name=x", tok), http.StatusUnauthorized, "")
	}, func(s *api.Server) { s.SessionTTL = time.Hour })
}

func TestLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		other := e.login("admin", adminPassword)
		want(t, e.call(http.MethodPost, "/api/v1/logout", e.admin, nil), http.StatusNoContent, nil)
		wantError(t, e.get("/api/v1/me", e.admin), http.StatusUnauthorized, "")
		wantError(t, e.call(http.MethodPost, "/api/v1/logout", e.admin, nil), http.StatusUnauthorized, "")
		// Another session of the same user lives on.
		want(t, e.get("/api/v1/me", other), http.StatusOK, nil)
	})
}

func TestBearer(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		for _, path := range []string{"/api/v1/me", "/api/v1/patients?name=x", "/api/v1/orders", "/api/v1/audit"} {
			wantError(t, e.get(path, ""), http.StatusUnauthorized, "")
			wantError(t, e.get(path, "garbage"), http.StatusUnauthorized, "")
		}
		for _, h := range []string{"Basic YWRtaW46eA==", "Bearer ", "Bearer", "Token " + e.admin, e.admin} {
			req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/me", nil)
			req.Header.Set("Authorization", h)
			res, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("Authorization %q: status %d, want 401", h, res.StatusCode)
			}
		}
		// A forged POST without a token writes nothing.
		wantError(t, e.call(http.MethodPost, "/api/v1/patients", "", patientJSON("Иванов", "Иван")), http.StatusUnauthorized, "")
		if n := e.patientCount(e.org); n != 0 {
			t.Errorf("%d patients after an unauthenticated create", n)
		}
	})
}
