// Package fhir serves medgate's records as a read-only FHIR R4 API under
// /fhir/r4: the CapabilityStatement at /metadata, and read and search for
// Patient, ServiceRequest, Specimen, Observation, DiagnosticReport,
// ImagingStudy, Device and AuditEvent, in JSON (application/fhir+json)
// produced with github.com/google/fhir/go.
//
// Authentication, organization scoping and auditing are those of /api/v1: a
// bearer token from POST /api/v1/login; a user reads only the organizations
// where a role grants the resource's permission; another organization's
// record answers 404 exactly like a missing one; every read and search of
// patient data writes an audit event ("fhir.<type>.read" or
// "fhir.<type>.search"), refused ones included.
package fhir

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
)

// Prefix is the path the API is served under.
const Prefix = "/fhir/r4"

// ContentType is the media type of every response.
const ContentType = "application/fhir+json; charset=utf-8"

// Server is the FHIR API's state. Zero-value fields take the documented
// defaults; fields must not change once Handler has been called.
type Server struct {
	Store store.Store
	// Authenticate resolves a request to its user; an error wrapping
	// api.ErrUnauthenticated answers 401. Typically (*api.Server).Authenticate.
	Authenticate func(*http.Request) (*domain.User, error)
	Logger       *slog.Logger // default: discard
	// BaseURL is the absolute URL of the API as clients reach it, e.g.
	// "https://mis.clinic.ru/fhir/r4"; it prefixes fullUrl and links.
	// Default: http(s)://<Host of the request>/fhir/r4.
	BaseURL string
	// Location is the time zone of dates written without one in search
	// values (date=2025-03-14) and of the times in resources. Default time.Local.
	Location *time.Location
	// DefaultCount and MaxCount are the page size without _count and the
	// most _count may ask for (larger values are lowered). Defaults 50, 500.
	DefaultCount, MaxCount int
	Now                    func() time.Time // default time.Now

	once          sync.Once
	plain, pretty *jsonformat.Marshaller
	initErr       error
}

func (s *Server) init() {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.DefaultCount <= 0 {
		s.DefaultCount = 50
	}
	if s.MaxCount <= 0 || s.MaxCount > 500 {
		s.MaxCount = 500
	}
	if s.DefaultCount > s.MaxCount {
		s.DefaultCount = s.MaxCount
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.plain, s.initErr = jsonformat.NewMarshaller(false, "", "", fhirversion.R4); s.initErr == nil {
		s.pretty, s.initErr = jsonformat.NewPrettyMarshaller(fhirversion.R4)
	}
}

func (s *Server) location() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.Local
}

// Handler returns the API's routes, all under /fhir/r4/.
func (s *Server) Handler() http.Handler {
	s.once.Do(s.init)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/metadata", s.metadata)
	mux.HandleFunc("GET "+Prefix+"/{type}", s.authed(s.search))
	mux.HandleFunc("POST "+Prefix+"/{type}/_search", s.authed(s.search))
	mux.HandleFunc("GET "+Prefix+"/{type}/{id}", s.authed(s.read))
	return s.recover(s.negotiate(outcomeMisses(mux)))
}

// reply is an error answered as an OperationOutcome.
type reply struct {
	status int
	code   cpb.IssueTypeCode_Value
	msg    string
}

func (e *reply) Error() string { return e.msg }

func invalid(format string, args ...any) *reply {
	return &reply{http.StatusBadRequest, cpb.IssueTypeCode_INVALID, fmt.Sprintf(format, args...)}
}

func notSupported(format string, args ...any) *reply {
	return &reply{http.StatusBadRequest, cpb.IssueTypeCode_NOT_SUPPORTED, fmt.Sprintf(format, args...)}
}

func notFound(typ string, id string) *reply {
	return &reply{http.StatusNotFound, cpb.IssueTypeCode_NOT_FOUND, fmt.Sprintf("%s/%s is not known", typ, id)}
}

var (
	errUnauthorized = &reply{http.StatusUnauthorized, cpb.IssueTypeCode_LOGIN,
		"sign in first: send Authorization: Bearer <token> from POST /api/v1/login"}
	errInternal = &reply{http.StatusInternalServerError, cpb.IssueTypeCode_EXCEPTION,
		"internal error; the server log has details"}
)

func forbidden(typ string) *reply {
	return &reply{http.StatusForbidden, cpb.IssueTypeCode_FORBIDDEN, "your roles do not allow reading " + typ}
}

// outcomeMisses answers the mux's own 404 and 405 as OperationOutcomes.
func outcomeMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		e := &reply{rec.Code, cpb.IssueTypeCode_NOT_FOUND, "no such endpoint: " + r.URL.Path}
		if rec.Code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			e.code, e.msg = cpb.IssueTypeCode_NOT_SUPPORTED, r.Method+" is not supported here: this FHIR API is read-only (use "+rec.Header().Get("Allow")+")"
		}
		writeOutcome(w, r, e)
	})
}

// recover answers a panic with 500 and logs it (never the URL, which
// carries names and СНИЛС).
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.Logger.Error("panic in FHIR handler", "route", r.Pattern, "panic", v)
				writeOutcome(w, r, errInternal)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// jsonFormats are the _format values and media types this API produces.
var jsonFormats = map[string]bool{
	"json": true, "application/json": true, "application/fhir+json": true, "application/json+fhir": true,
}

// negotiate refuses with 406 a request whose _format or Accept header asks
// for anything but JSON, and with 415 a _search body that is not a form.
func (s *Server) negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := r.URL.Query().Get("_format"); f != "" {
			mt := f
			if parsed, _, err := mime.ParseMediaType(f); err == nil {
				mt = parsed
			}
			if !jsonFormats[strings.ToLower(mt)] {
				writeOutcome(w, r, &reply{http.StatusNotAcceptable, cpb.IssueTypeCode_NOT_SUPPORTED,
					fmt.Sprintf("_format %q is not supported: this server speaks JSON only (_format=json)", f)})
				return
			}
		} else if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
			writeOutcome(w, r, &reply{http.StatusNotAcceptable, cpb.IssueTypeCode_NOT_SUPPORTED,
				"this server answers application/fhir+json only; Accept was " + strconv.Quote(accept)})
			return
		}
		if r.Method == http.MethodPost {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/x-www-form-urlencoded" {
				writeOutcome(w, r, &reply{http.StatusUnsupportedMediaType, cpb.IssueTypeCode_NOT_SUPPORTED,
					"send search parameters as Content-Type: application/x-www-form-urlencoded"})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				writeOutcome(w, r, invalid("cannot read the form body: %v", err))
				return
			}
			if f := r.PostForm.Get("_format"); f != "" && !jsonFormats[strings.ToLower(f)] {
				writeOutcome(w, r, &reply{http.StatusNotAcceptable, cpb.IssueTypeCode_NOT_SUPPORTED,
					fmt.Sprintf("_format %q is not supported: this server speaks JSON only", f)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// acceptsJSON reports whether an Accept header admits a JSON response.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v <= 0 {
				continue
			}
		}
		if mt == "*/*" || mt == "application/*" || jsonFormats[mt] {
			return true
		}
	}
	return false
}

// user is the authenticated caller of a request.
type user struct {
	*domain.User
	address string
}

func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, u *user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.initErr != nil {
			s.fail(w, r, s.initErr)
			return
		}
		if s.Authenticate == nil {
			s.fail(w, r, errors.New("fhir.Server.Authenticate is not set"))
			return
		}
		u, err := s.Authenticate(r)
		if errors.Is(err, api.ErrUnauthenticated) || err == nil && u == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="medgate"`)
			writeOutcome(w, r, errUnauthorized)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), apiBaseKey{}, strings.TrimSuffix(s.baseURL(r), Prefix)))
		h(w, r, &user{User: u, address: api.RemoteHost(r)})
	}
}

// apiBaseKey holds, in a request's context, the absolute base of the REST
// API (the FHIR base without Prefix: the two are served side by side),
// for links to what only the REST API serves, such as report attachments.
type apiBaseKey struct{}

func apiBase(ctx context.Context) string {
	b, _ := ctx.Value(apiBaseKey{}).(string)
	return b
}

// fail answers err: a reply as itself, store errors by kind, the rest 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *reply
	switch {
	case errors.As(err, &e):
	case errors.Is(err, store.ErrBadCursor):
		e = invalid("_cursor is not a cursor this server issued: follow the 'next' link of the previous page")
	case r.Context().Err() != nil:
		return // the client went away
	default:
		s.Logger.Error("FHIR request failed", "method", r.Method, "route", r.Pattern, "err", err)
		e = errInternal
	}
	writeOutcome(w, r, e)
}

// baseURL is the absolute base of links and fullUrls.
func (s *Server) baseURL(r *http.Request) string {
	if s.BaseURL != "" {
		return strings.TrimSuffix(s.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Prefix
}

// write answers a resource.
func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, res proto.Message) {
	m := s.plain
	if v := r.FormValue("_pretty"); v == "true" {
		m = s.pretty
	}
	b, err := m.MarshalResource(res)
	if err != nil {
		s.Logger.Error("FHIR marshal failed", "route", r.Pattern, "err", err)
		writeOutcome(w, r, errInternal)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// outcomeMarshaller writes OperationOutcomes even when a Server's own
// marshallers could not be made.
var outcomeMarshaller, _ = jsonformat.NewMarshaller(false, "", "", fhirversion.R4)

func writeOutcome(w http.ResponseWriter, r *http.Request, e *reply) {
	b, err := outcomeMarshaller.MarshalResource(outcome(cpb.IssueSeverityCode_ERROR, e.code, e.msg))
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	if err == nil {
		_, _ = w.Write(b)
	}
}

// audit records a read or search of patient data. A failed audit write
// fails the request: an unaudited read of patient data must not happen.
func (s *Server) audit(ctx context.Context, ev *domain.AuditEvent) error {
	if err := s.Store.WriteAudit(ctx, ev); err != nil {
		s.Logger.Error("audit write failed", "event", ev.Event, "err", err)
		return err
	}
	return nil
}

func (u *user) event(typ *resourceType, what string) *domain.AuditEvent {
	return &domain.AuditEvent{UserID: u.ID, Login: u.Login, Action: domain.ActionRead,
		Event: "fhir." + strings.ToLower(typ.name) + "." + what, Address: u.address, ResourceType: typ.name}
}

// scope lists the organizations where the user may read typ.
func (u *user) scope(typ *resourceType) []int64 {
	var orgs []int64
	for _, p := range typ.perms {
		for _, o := range auth.OrgsWith(u.User, p) {
			if !containsID(orgs, o) {
				orgs = append(orgs, o)
			}
		}
	}
	return orgs
}

// refuse audits a refused request of patient data and answers e.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, u *user, typ *resourceType, ev *domain.AuditEvent, e *reply, detail string) {
	if typ.audited {
		ev.Outcome, ev.Detail = domain.OutcomeMinorFailure, detail
		if ev.OrganizationID == 0 {
			if ids := u.OrgIDs(); len(ids) > 0 {
				ev.OrganizationID = ids[0]
			}
		}
		if err := s.audit(r.Context(), ev); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeOutcome(w, r, e)
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, u *user) {
	if r.PathValue("id") == "_search" {
		s.search(w, r, u)
		return
	}
	typ, ok := resourceTypes[r.PathValue("type")]
	if !ok {
		writeOutcome(w, r, unknownType(r.PathValue("type")))
		return
	}
	ev := u.event(typ, "read")
	rawID := r.PathValue("id")
	id, err := strconv.ParseInt(rawID, 10, 64)
	if err != nil || id <= 0 {
		id = 0
	}
	ev.ResourceID = id
	orgs := u.scope(typ)
	if len(orgs) == 0 {
		s.refuse(w, r, u, typ, ev, forbidden(typ.name), "forbidden: no role grants "+typ.name)
		return
	}
	ev.OrganizationID = orgs[0]
	var res proto.Message
	var patientID, orgID int64
	if id != 0 {
		res, patientID, orgID, err = typ.read(s, r.Context(), orgs, id)
	} else {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		// Recorded in the caller's own organization: the one whose
		// auditors should see a user probing for records.
		s.refuse(w, r, u, typ, ev, notFound(typ.name, rawID), "not found or not visible")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if typ.audited {
		ev.PatientID, ev.OrganizationID = patientID, orgID
		if err := s.audit(r.Context(), ev); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.write(w, r, http.StatusOK, res)
}

func unknownType(name string) *reply {
	return &reply{http.StatusNotFound, cpb.IssueTypeCode_NOT_SUPPORTED,
		fmt.Sprintf("resource type %q is not served here; see %s/metadata for the supported types", name, Prefix)}
}

func containsID(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// newUUID is a random RFC 4122 version 4 UUID as a URN.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
