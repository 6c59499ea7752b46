package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// A known path with the wrong method answers 405 in the API's JSON shape
// with an Allow header; media types compare case-insensitively.
func TestMethodNotAllowedAndMediaType(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		r := e.call(http.MethodGet, "/api/v1/login", "", nil)
		wantError(t, r, http.StatusMethodNotAllowed, "")
		if !strings.Contains(r.Header.Get("Allow"), "POST") {
			t.Errorf("Allow = %q", r.Header.Get("Allow"))
		}
		r = e.raw(http.MethodPost, "/api/v1/login", "", "Application/JSON; charset=UTF-8",
			strings.NewReader(`{"login":"admin","password":"`+adminPassword+`"}`))
		if r.Status != http.StatusOK {
			t.Errorf("login with Application/JSON: %s", r)
		}
		wantError(t, e.raw(http.MethodPost, "/api/v1/login", "", "application/json-patch+json", strings.NewReader(`{}`)),
			http.StatusUnsupportedMediaType, "")
	})
}
