package api_test

// The harness: every test runs once per store dialect (SQLite always,
// PostgreSQL when pgtest allows), each run on a fresh database with one
// organization and its admin, behind a real HTTP server.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/bootstrap"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/storetest"
)

var dialects = storetest.Dialects

const (
	adminPassword = "admin-password-1"
	userPassword  = "user-password-1"
	testSNILS     = "112-233-445 95" // valid check number 95
	medCardSystem = "urn:oid:1.2.643.5.1.13.13.12.2.77.8001.100"
)

// option configures the Server before its handler is built, so no field is
// written while the server's goroutines may read it.
type option func(*api.Server)

// eachStore runs fn on every dialect, each on a fresh environment.
func eachStore(t *testing.T, fn func(t *testing.T, e *env), opts ...option) {
	t.Helper()
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, d.Open(t), opts...))
		})
	}
}

// clock is the server's movable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	srv   *api.Server
	ts    *httptest.Server
	clock *clock
	org   int64  // the first organization
	admin string // the admin's bearer token
}

func newEnv(t *testing.T, st store.Store, opts ...option) *env {
	t.Helper()
	ctx := context.Background()
	h := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	res, err := bootstrap.FirstRun(ctx, st, h, domain.Organization{Name: "ООО «Клиника А»"}, adminPassword)
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	clk := &clock{now: time.Now()}
	srv := &api.Server{Store: st, Hasher: h, Now: clk.Now}
	for _, o := range opts {
		o(srv)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e := &env{t: t, ctx: ctx, st: st, srv: srv, ts: ts, clock: clk, org: res.Organization.ID}
	e.admin = e.login("admin", adminPassword)
	return e
}

// response is an answer read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// raw sends a request with the body and Content-Type as given.
func (e *env) raw(method, path, token, contentType string, body io.Reader) *response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// call sends body as JSON: a string is sent as is, nil sends no body.
func (e *env) call(method, path, token string, body any) *response {
	e.t.Helper()
	switch b := body.(type) {
	case nil:
		return e.raw(method, path, token, "", nil)
	case string:
		return e.raw(method, path, token, "application/json", strings.NewReader(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		return e.raw(method, path, token, "application/json", bytes.NewReader(j))
	}
}

func (e *env) get(path, token string) *response { return e.call(http.MethodGet, path, token, nil) }

// want checks the status and decodes the JSON body into v (when not nil).
func want(t *testing.T, r *response, status int, v any) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if v == nil {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// apiError is the error body's inner object.
type apiError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// wantError checks r is the JSON error {"error":{status,code,field,message}}
// with the given HTTP status and field ("" for none). It reports with
// t.Errorf, so later checks in the test still run.
func wantError(t *testing.T, r *response, status int, field string) apiError {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d (field %q); body: %s", r.Status, status, field, r.Body)
		return apiError{}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error *apiError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil {
		t.Errorf("error body %s is not {\"error\":{...}}: %v", r.Body, err)
		return apiError{}
	}
	ae := *body.Error
	if ae.Status != status {
		t.Errorf("error.status %d, want %d", ae.Status, status)
	}
	if ae.Code == "" || ae.Message == "" {
		t.Errorf("error %s lacks code or message", r.Body)
	}
	if ae.Field != field {
		t.Errorf("error.field %q, want %q; body: %s", ae.Field, field, r.Body)
	}
	return ae
}

// login signs in and returns the token.
func (e *env) login(login, password string) string {
	e.t.Helper()
	var out struct {
		Token   string      `json:"token"`
		Expires time.Time   `json:"expires"`
		User    domain.User `json:"user"`
	}
	want(e.t, e.call(http.MethodPost, "/api/v1/login", "", map[string]string{"login": login, "password": password}), http.StatusOK, &out)
	if out.Token == "" {
		e.t.Fatal("login answered no token")
	}
	return out.Token
}

// createUser adds a user with roles in org (as admin) and signs them in.
func (e *env) createUser(login string, org int64, roles ...domain.Role) (domain.User, string) {
	e.t.Helper()
	var u domain.User
	want(e.t, e.call(http.MethodPost, "/api/v1/users", e.admin, map[string]any{
		"login": login, "name": "Сотрудник " + login, "password": userPassword,
		"memberships": []domain.Membership{{OrganizationID: org, Roles: roles}},
	}), http.StatusCreated, &u)
	if u.ID == 0 || u.Login != login {
		e.t.Fatalf("created user %+v", u)
	}
	return u, e.login(login, userPassword)
}

// createOrg creates a new legal entity as admin.
func (e *env) createOrg(name string) int64 {
	e.t.Helper()
	var o domain.Organization
	want(e.t, e.call(http.MethodPost, "/api/v1/organizations", e.admin, map[string]any{"name": name}), http.StatusCreated, &o)
	if o.ID == 0 {
		e.t.Fatal("organization without id")
	}
	return o.ID
}

// patientJSON is a valid patient body; extra pairs override or add fields.
func patientJSON(family, given string, kv ...any) map[string]any {
	m := map[string]any{"family": family, "given": given, "birthDate": "1980-05-17", "gender": "male"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func (e *env) createPatient(token string, body map[string]any) domain.Patient {
	e.t.Helper()
	var p domain.Patient
	want(e.t, e.call(http.MethodPost, "/api/v1/patients", token, body), http.StatusCreated, &p)
	if p.ID == 0 || p.Version != 1 {
		e.t.Fatalf("created patient %+v", p)
	}
	return p
}

func (e *env) createOrder(token string, body map[string]any) domain.ServiceRequest {
	e.t.Helper()
	var o domain.ServiceRequest
	want(e.t, e.call(http.MethodPost, "/api/v1/orders", token, body), http.StatusCreated, &o)
	if o.ID == 0 {
		e.t.Fatalf("created order %+v", o)
	}
	return o
}

func labOrder(patient int64) map[string]any {
	return map[string]any{"patient": patient, "category": "lab",
		"code": []domain.Coding{{System: domain.SystemLOINC, Code: "2345-7", Display: "Глюкоза"}}}
}

func imagingOrder(patient int64) map[string]any {
	return map[string]any{"patient": patient, "category": "imaging", "modality": "CT", "procedure": "КЛКТ верхней челюсти"}
}

// patientCount counts the patients stored in org, read from the store.
func (e *env) patientCount(org int64) int {
	e.t.Helper()
	n, cursor := 0, ""
	for {
		list, next, err := e.st.SearchPatients(e.ctx, store.PatientQuery{Orgs: []int64{org}, Page: store.Page{Limit: 500, Cursor: cursor}})
		if err != nil {
			e.t.Fatalf("SearchPatients: %v", err)
		}
		n += len(list)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// orderCount counts the orders stored in org.
func (e *env) orderCount(org int64) int {
	e.t.Helper()
	n, cursor := 0, ""
	for {
		list, next, err := e.st.ListServiceRequests(e.ctx, store.OrderQuery{Orgs: []int64{org}, Page: store.Page{Limit: 500, Cursor: cursor}})
		if err != nil {
			e.t.Fatalf("ListServiceRequests: %v", err)
		}
		n += len(list)
		if next == "" {
			return n
		}
		cursor = next
	}
}

// audit lists every audit event in the store, newest first.
func (e *env) audit() []domain.AuditEvent {
	e.t.Helper()
	var all []domain.AuditEvent
	cursor := ""
	for {
		list, next, err := e.st.ListAudit(e.ctx, store.AuditQuery{Page: store.Page{Limit: 500, Cursor: cursor}})
		if err != nil {
			e.t.Fatalf("ListAudit: %v", err)
		}
		all = append(all, list...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// auditCount counts the events named event that match (all when match is nil).
func (e *env) auditCount(event string, match func(domain.AuditEvent) bool) int {
	e.t.Helper()
	n := 0
	for _, ev := range e.audit() {
		if ev.Event == event && (match == nil || match(ev)) {
			n++
		}
	}
	return n
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func patientPath(p int64, sub string) string {
	s := "/api/v1/patients/" + id(p)
	if sub != "" {
		s += "/" + sub
	}
	return s
}

// search runs GET /api/v1/patients with the query and returns the items.
func (e *env) search(token string, q url.Values) ([]domain.Patient, string) {
	e.t.Helper()
	var out struct {
		Items []domain.Patient `json:"items"`
		Next  string           `json:"next"`
	}
	want(e.t, e.get("/api/v1/patients?"+q.Encode(), token), http.StatusOK, &out)
	return out.Items, out.Next
}

func ids[T any](list []T, idOf func(T) int64) []int64 {
	out := make([]int64, len(list))
	for i, v := range list {
		out[i] = idOf(v)
	}
	return out
}

func patientIDs(list []domain.Patient) []int64 {
	return ids(list, func(p domain.Patient) int64 { return p.ID })
}
