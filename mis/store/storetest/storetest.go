// Package storetest is the conformance suite every store.Store implementation
// runs (sqlite and postgres alike). It checks the contract documented in
// package store: identifiers assigned by the store, uniqueness, per-organization
// limits and scoping, optimistic versions, order lifecycles, atomic audit
// records, keyset pagination and behaviour under concurrent writers.
//
// The store does not validate fields (the API layer normalizes and validates
// before calling it), so the fixtures here are all valid.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Run runs the conformance suite against fresh stores made by open; each
// subtest calls open(t) for its own empty, migrated store (cleanup is open's
// job).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Ping", func(t *testing.T) { testPing(t, open) })
	t.Run("Organizations", func(t *testing.T) { testOrganizations(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open) })
	t.Run("Patients", func(t *testing.T) { testPatients(t, open) })
	t.Run("UpdatePatient", func(t *testing.T) { testUpdatePatient(t, open) })
	t.Run("SearchPatients", func(t *testing.T) { testSearchPatients(t, open) })
	t.Run("Orders", func(t *testing.T) { testOrders(t, open) })
	t.Run("ListServiceRequests", func(t *testing.T) { testListOrders(t, open) })
	t.Run("SetServiceRequestStatus", func(t *testing.T) { testOrderStatus(t, open) })
	t.Run("Results", func(t *testing.T) { testResults(t, open) })
	t.Run("Imaging", func(t *testing.T) { testImaging(t, open) })
	t.Run("ImagingDICOM", func(t *testing.T) { testImagingDICOM(t, open) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open) })
	t.Run("Devices", func(t *testing.T) { testDevices(t, open) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Searchers", func(t *testing.T) { testSearchers(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Ingest", func(t *testing.T) { testIngest(t, open) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
	t.Run("IngestUpserts", func(t *testing.T) { testIngestUpserts(t, open) })
	t.Run("Outbound", func(t *testing.T) { testOutbound(t, open) })
	t.Run("Attachments", func(t *testing.T) { testAttachments(t, open) })
}

type opener = func(t *testing.T) store.Store

// env is one subtest's store and the helpers that fail the test on error.
type env struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
}

func begin(t *testing.T, open opener) *env {
	t.Helper()
	s := open(t)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return &env{t: t, s: s, ctx: t.Context()}
}

func ids(v ...int64) []int64 { return v }

func (e *env) org(name string, mods ...func(*domain.Organization)) *domain.Organization {
	e.t.Helper()
	o := NewOrganization(name)
	for _, m := range mods {
		m(o)
	}
	if err := e.s.CreateOrganization(e.ctx, o); err != nil {
		e.t.Fatalf("CreateOrganization(%q): %v", name, err)
	}
	return o
}

func withUIDRoot(root string) func(*domain.Organization) {
	return func(o *domain.Organization) { o.UIDRoot = root }
}

func (e *env) user(login string, ms ...domain.Membership) *domain.User {
	e.t.Helper()
	u := NewUser(login, ms...)
	if err := e.s.CreateUser(e.ctx, u); err != nil {
		e.t.Fatalf("CreateUser(%q): %v", login, err)
	}
	return u
}

func (e *env) patient(org int64, family, given string, mods ...func(*domain.Patient)) *domain.Patient {
	e.t.Helper()
	p := NewPatient(org, family, given)
	for _, m := range mods {
		m(p)
	}
	if err := e.s.CreatePatient(e.ctx, p, 0, nil); err != nil {
		e.t.Fatalf("CreatePatient(%s %s): %v", family, given, err)
	}
	return p
}

func (e *env) order(r *domain.ServiceRequest) *domain.ServiceRequest {
	e.t.Helper()
	if err := e.s.CreateServiceRequest(e.ctx, r, nil); err != nil {
		e.t.Fatalf("CreateServiceRequest(%s): %v", r.Category, err)
	}
	return r
}

func (e *env) device(org int64, name, protocol string) *domain.Device {
	e.t.Helper()
	d := NewDevice(org, name, protocol)
	if err := e.s.CreateDevice(e.ctx, d, nil); err != nil {
		e.t.Fatalf("CreateDevice(%q): %v", name, err)
	}
	return d
}

// getPatient fetches a patient that must be visible.
func (e *env) getPatient(orgs []int64, id int64) *domain.Patient {
	e.t.Helper()
	p, err := e.s.GetPatient(e.ctx, orgs, id)
	if err != nil {
		e.t.Fatalf("GetPatient(%v, %d): %v", orgs, id, err)
	}
	return p
}

func (e *env) getOrder(orgs []int64, id int64) *domain.ServiceRequest {
	e.t.Helper()
	r, err := e.s.GetServiceRequest(e.ctx, orgs, id)
	if err != nil {
		e.t.Fatalf("GetServiceRequest(%v, %d): %v", orgs, id, err)
	}
	return r
}

// searchAll follows every page of a patient search.
func (e *env) searchAll(q store.PatientQuery) []domain.Patient {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	return concat(walk(e.t, "SearchPatients", func(cursor string) ([]domain.Patient, string, error) {
		q.Cursor = cursor
		return e.s.SearchPatients(e.ctx, q)
	}))
}

// ordersAll follows every page of an order listing.
func (e *env) ordersAll(q store.OrderQuery) []domain.ServiceRequest {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	return concat(walk(e.t, "ListServiceRequests", func(cursor string) ([]domain.ServiceRequest, string, error) {
		q.Cursor = cursor
		return e.s.ListServiceRequests(e.ctx, q)
	}))
}

// auditAll follows every page of an audit listing.
func (e *env) auditAll(q store.AuditQuery) []domain.AuditEvent {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	return concat(walk(e.t, "ListAudit", func(cursor string) ([]domain.AuditEvent, string, error) {
		q.Cursor = cursor
		return e.s.ListAudit(e.ctx, q)
	}))
}

// auditEvents returns the audit events of orgs whose Event is event.
func (e *env) auditEvents(orgs []int64, event string) []domain.AuditEvent {
	e.t.Helper()
	var out []domain.AuditEvent
	for _, ev := range e.auditAll(store.AuditQuery{Orgs: orgs}) {
		if ev.Event == event {
			out = append(out, ev)
		}
	}
	return out
}

// wantNoAudit fails if an audit event named event was written in orgs.
func (e *env) wantNoAudit(orgs []int64, event string) {
	e.t.Helper()
	if got := e.auditEvents(orgs, event); len(got) != 0 {
		e.t.Errorf("audit event %q was written by a call that failed: %s", event, js(got))
	}
}

// wantOneAudit returns the single audit event named event in orgs.
func (e *env) wantOneAudit(orgs []int64, event string) domain.AuditEvent {
	e.t.Helper()
	got := e.auditEvents(orgs, event)
	if len(got) != 1 {
		e.t.Fatalf("audit events %q: got %d, want 1: %s", event, len(got), js(got))
	}
	if got[0].Time.IsZero() {
		e.t.Errorf("audit event %q: Time was not set", event)
	}
	checkUTC(e.t, "audit Time", got[0].Time)
	return got[0]
}

// walk fetches pages until the cursor is empty, failing on errors and on
// cursors that do not advance.
func walk[T any](t *testing.T, what string, fetch func(cursor string) ([]T, string, error)) [][]T {
	t.Helper()
	var pages [][]T
	cursor := ""
	seen := map[string]bool{"": true}
	for {
		if len(pages) == 1000 {
			t.Fatalf("%s: more than 1000 pages, the cursor never ends", what)
		}
		list, next, err := fetch(cursor)
		if err != nil {
			t.Fatalf("%s (page %d, cursor %q): %v", what, len(pages)+1, cursor, err)
		}
		pages = append(pages, list)
		if next == "" {
			return pages
		}
		if seen[next] {
			t.Fatalf("%s: page %d returned cursor %q again", what, len(pages), next)
		}
		seen[next] = true
		cursor = next
	}
}

func concat[T any](pages [][]T) []T {
	var out []T
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

func pageSizes[T any](pages [][]T) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

// Error expectations.

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got error %v, want store.ErrNotFound", what, err)
	}
}

func wantConflict(t *testing.T, what string, err error, field string) {
	t.Helper()
	wantConflictFunc(t, what, err, field, func(f string) bool { return f == field })
}

func wantConflictPrefix(t *testing.T, what string, err error, prefix string) {
	t.Helper()
	wantConflictFunc(t, what, err, prefix+"…", func(f string) bool { return strings.HasPrefix(f, prefix) })
}

func wantConflictFunc(t *testing.T, what string, err error, field string, ok func(string) bool) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want a ConflictError on %q", what, field)
		return
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("%s: got error %v, want errors.Is(err, store.ErrConflict)", what, err)
	}
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("%s: got error %v (%T), want a *store.ConflictError", what, err, err)
		return
	}
	if !ok(ce.Field) {
		t.Errorf("%s: ConflictError.Field = %q, want %q", what, ce.Field, field)
	}
}

// Comparison helpers. Values are compared through their JSON form after
// normalization, which makes differences readable.

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func sameJSON(t *testing.T, what string, want, got any) bool {
	t.Helper()
	w, g := js(want), js(got)
	if w != g {
		t.Errorf("%s differs:\n got  %s\n want %s", what, g, w)
		return false
	}
	return true
}

func checkUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if !tm.IsZero() && tm.Location() != time.UTC {
		t.Errorf("%s = %v: location %q, want UTC", what, tm, tm.Location())
	}
}

// us is a time as the store keeps it: to the microsecond, in UTC.
func us(tm time.Time) time.Time {
	if tm.IsZero() {
		return time.Time{}
	}
	return tm.Truncate(time.Microsecond).UTC()
}

func usp(tm *time.Time) *time.Time {
	if tm == nil {
		return nil
	}
	v := us(*tm)
	return &v
}

func sameInstant(t *testing.T, what string, want, got time.Time) {
	t.Helper()
	if !us(want).Equal(us(got)) {
		t.Errorf("%s = %v, want %v (to the microsecond)", what, got, want)
	}
	checkUTC(t, what, got)
}

func normOrg(o domain.Organization) domain.Organization {
	o.Created = us(o.Created)
	return o
}

// normUser compares memberships and roles as sets and leaves Created out
// (the contract does not say whether CreateUser sets it on u).
func normUser(u domain.User) domain.User {
	u.Created = time.Time{}
	ms := make([]domain.Membership, 0, len(u.Memberships))
	for _, m := range u.Memberships {
		m.Roles = slices.Clone(m.Roles)
		slices.Sort(m.Roles)
		if len(m.Roles) == 0 {
			m.Roles = nil
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b domain.Membership) int { return cmpInt(a.OrganizationID, b.OrganizationID) })
	if len(ms) == 0 {
		ms = nil
	}
	u.Memberships = ms
	return u
}

// normPatient compares the extra identifiers as a set.
func normPatient(p domain.Patient) domain.Patient {
	p.Created, p.Updated = us(p.Created), us(p.Updated)
	p.Identifiers = sortedIdentifiers(p.Identifiers)
	return p
}

func sortedIdentifiers(in []domain.Identifier) []domain.Identifier {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b domain.Identifier) int {
		if c := strings.Compare(a.System, b.System); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

// normOrder leaves out the store-kept times and the specimens, which are
// checked on their own.
func normOrder(r domain.ServiceRequest) domain.ServiceRequest {
	r.AuthoredOn, r.Updated = time.Time{}, time.Time{}
	r.Scheduled = usp(r.Scheduled)
	r.Specimens = nil
	if len(r.Codes) == 0 {
		r.Codes = nil
	}
	return r
}

func normObs(o domain.Observation) domain.Observation {
	o.Effective, o.Issued = us(o.Effective), us(o.Issued)
	return o
}

func normReport(r domain.DiagnosticReport) domain.DiagnosticReport {
	r.Effective, r.Issued = us(r.Effective), us(r.Issued)
	r.Result = slices.Clone(r.Result)
	slices.Sort(r.Result)
	if len(r.Result) == 0 {
		r.Result = nil
	}
	return r
}

// normStudy compares series and instances as sets and leaves Updated out.
func normStudy(s domain.ImagingStudy) domain.ImagingStudy {
	s.Updated = time.Time{}
	s.Started = usp(s.Started)
	series := make([]domain.ImagingSeries, 0, len(s.Series))
	for _, se := range s.Series {
		se.Instances = slices.Clone(se.Instances)
		slices.SortFunc(se.Instances, func(a, b domain.ImagingInstance) int {
			return strings.Compare(a.SOPInstanceUID, b.SOPInstanceUID)
		})
		if len(se.Instances) == 0 {
			se.Instances = nil
		}
		series = append(series, se)
	}
	slices.SortFunc(series, func(a, b domain.ImagingSeries) int { return strings.Compare(a.UID, b.UID) })
	if len(series) == 0 {
		series = nil
	}
	s.Series = series
	return s
}

func normDevice(d domain.Device) domain.Device {
	d.Created = time.Time{}
	if len(d.Addresses) == 0 {
		d.Addresses = nil
	}
	return d
}

// normAudit leaves out the ID (the contract does not say whether WriteAudit
// sets it on ev).
func normAudit(a domain.AuditEvent) domain.AuditEvent {
	a.ID = 0
	a.Time = us(a.Time)
	return a
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func patientIDs(ps []domain.Patient) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func orderIDs(rs []domain.ServiceRequest) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func sameIDs(t *testing.T, what string, want, got []int64) {
	t.Helper()
	if !slices.Equal(want, got) {
		t.Errorf("%s: got ids %v, want %v", what, got, want)
	}
}

func noDuplicates(t *testing.T, what string, got []int64) {
	t.Helper()
	seen := map[int64]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("%s: id %d returned twice in %v", what, id, got)
		}
		seen[id] = true
	}
}
