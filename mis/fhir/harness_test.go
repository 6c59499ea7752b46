package fhir_test

// The harness: every test runs once per store dialect (SQLite always,
// PostgreSQL when pgtest allows) on a fresh database seeded with
// storetest.SeedSearch, behind a real HTTP server that serves /api/v1 (for
// sign-in) and /fhir/r4. Every answer of the FHIR API is parsed back with
// jsonformat's R4 unmarshaller.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/fhir"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/storetest"
)

var dialects = storetest.Dialects

const password = "fhir-test-password"

type env struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	ts  *httptest.Server
	f   *storetest.SearchFixture

	// Bearer tokens: a doctor, an IT engineer and an admin of Org, and a
	// doctor of Other.
	doctor, it, admin, otherDoctor string
	users                          map[string]*domain.User
}

// eachStore runs fn on every dialect, each on a fresh environment; opts
// set up the FHIR server (a clock, say) before it serves.
func eachStore(t *testing.T, fn func(t *testing.T, e *env), opts ...func(*fhir.Server)) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, d.Open(t), opts...))
		})
	}
}

func newEnv(t *testing.T, st store.Store, opts ...func(*fhir.Server)) *env {
	t.Helper()
	ctx := context.Background()
	f, err := storetest.SeedSearch(ctx, st)
	if err != nil {
		t.Fatalf("SeedSearch: %v", err)
	}
	h := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	a := &api.Server{Store: st, Hasher: h}
	fs := &fhir.Server{Store: st, Authenticate: a.Authenticate, Location: storetest.MSK}
	for _, o := range opts {
		o(fs)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", a.Handler())
	mux.Handle(fhir.Prefix+"/", fs.Handler())
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	e := &env{t: t, ctx: ctx, st: st, ts: ts, f: f, users: map[string]*domain.User{}}
	hash, err := h.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(login string, org int64, roles ...domain.Role) string {
		u := storetest.NewUser(login, domain.Membership{OrganizationID: org, Roles: roles})
		u.PasswordHash = hash
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", login, err)
		}
		e.users[login] = u
		return e.login(login)
	}
	e.doctor = mk("doctor", f.Org.ID, domain.RoleDoctor)
	e.it = mk("it", f.Org.ID, domain.RoleIT)
	e.admin = mk("admin", f.Org.ID, domain.RoleAdmin)
	e.otherDoctor = mk("other-doctor", f.Other.ID, domain.RoleDoctor)
	return e
}

func (e *env) login(login string) string {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"login": login, "password": password})
	res, err := e.ts.Client().Post(e.ts.URL+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
		e.t.Fatalf("login %s: status %d, %v", login, res.StatusCode, err)
	}
	return out.Token
}

// response is a FHIR answer read in full and decoded loosely.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// unmarshaller parses every answer back (round-trip check).
var unmarshaller = func() *jsonformat.Unmarshaller {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		panic(err)
	}
	return u
}()

// do sends a request to the FHIR API and checks what every answer must
// be: FHIR JSON that jsonformat's R4 unmarshaller accepts.
func (e *env) do(req *http.Request, token string) *response {
	e.t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &response{Status: res.StatusCode, Header: res.Header, Body: b}
	if ct := res.Header.Get("Content-Type"); ct != fhir.ContentType {
		e.t.Fatalf("%s %s: Content-Type %q, want %q; body %s", req.Method, req.URL, ct, fhir.ContentType, b)
	}
	if err := json.Unmarshal(b, &r.JSON); err != nil {
		e.t.Fatalf("%s %s: body is not JSON: %v; %s", req.Method, req.URL, err, b)
	}
	if _, err := unmarshaller.Unmarshal(b); err != nil {
		e.t.Fatalf("%s %s: the R4 unmarshaller rejects the answer: %v\n%s", req.Method, req.URL, err, b)
	}
	return r
}

func (e *env) get(path, token string) *response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req, token)
}

func (e *env) post(path, token, contentType string, form url.Values) *response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return e.do(req, token)
}

// want checks the status.
func want(t *testing.T, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
}

// wantOutcome checks an error answer: the status and an OperationOutcome
// whose issue has the code and whose diagnostics contain each of text.
func wantOutcome(t *testing.T, r *response, status int, code string, text ...string) {
	t.Helper()
	want(t, r, status)
	if r.JSON["resourceType"] != "OperationOutcome" {
		t.Fatalf("want an OperationOutcome, got %s", r.Body)
	}
	issue := obj(list(r.JSON["issue"])[0])
	if issue["code"] != code || issue["severity"] != "error" {
		t.Errorf("issue %v, want code %q severity error", issue, code)
	}
	for _, s := range text {
		if d, _ := issue["diagnostics"].(string); !strings.Contains(d, s) {
			t.Errorf("diagnostics %q do not mention %q", d, s)
		}
	}
}

// JSON navigation.

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// path walks keys and list indexes: path(m, "name", 0, "given", 1).
func path(v any, steps ...any) any {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			v = obj(v)[k]
		case int:
			l := list(v)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// entries returns the bundle's resources with the given search mode.
func entries(b map[string]any, mode string) []map[string]any {
	var out []map[string]any
	for _, en := range list(b["entry"]) {
		if path(en, "search", "mode") == mode {
			out = append(out, obj(obj(en)["resource"]))
		}
	}
	return out
}

func ids(rs []map[string]any) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r["id"].(string))
	}
	return out
}

func link(b map[string]any, rel string) string {
	for _, l := range list(b["link"]) {
		if obj(l)["relation"] == rel {
			return obj(l)["url"].(string)
		}
	}
	return ""
}

// audits lists the audit events recorded under event, oldest first.
func (e *env) audits(event string) []domain.AuditEvent {
	e.t.Helper()
	list, _, err := e.st.ListAudit(e.ctx, store.AuditQuery{Page: store.Page{Limit: 500}})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []domain.AuditEvent
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Event == event {
			out = append(out, list[i])
		}
	}
	return out
}
