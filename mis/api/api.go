// Package api serves medgate's REST JSON API under /api/v1: sign-in,
// patients, orders, results and studies, audit. Every read and write of
// patient data is audited; a user sees only the organizations they belong
// to, and another organization's record answers 404, not 403.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Server is the API's state. Zero-value fields take the documented defaults.
type Server struct {
	Store  store.Store
	Hasher *auth.Hasher // default: auth.DefaultParams, 2 at a time
	Logger *slog.Logger // default: discard

	MaxPatients  int           // per organization; 0 = unlimited
	SessionTTL   time.Duration // default 12h
	MaxBodyBytes int64         // default 1 MiB
	Lockout      *auth.Lockout // default: 5 failures lock a login for 15 minutes

	Now func() time.Time // default time.Now

	// Ingest reprocesses stored messages (POST /messages/{id}/reprocess);
	// nil answers 503 there.
	Ingest Reprocessor
	// Blobs holds DICOM instances for download and rendering; nil answers
	// 503 there.
	Blobs *blob.FS

	studyAudits      sync.Map // "user/study" → time of the last audited image read
	studyAuditWrites atomic.Uint64

	defaultsOnce sync.Once
	dummyOnce    sync.Once
	dummy        string
}

// dummyHash is verified against when a login does not exist, so a wrong
// login and a wrong password take the same time.
func (s *Server) dummyHash(ctx context.Context) string {
	s.dummyOnce.Do(func() { s.dummy, _ = s.Hasher.Hash(ctx, auth.GeneratePassword()) })
	return s.dummy
}

func (s *Server) defaults() {
	s.defaultsOnce.Do(s.setDefaults)
}

func (s *Server) setDefaults() {
	if s.Hasher == nil {
		s.Hasher = auth.NewHasher(auth.DefaultParams, 2)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.SessionTTL <= 0 {
		s.SessionTTL = 12 * time.Hour
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.Lockout == nil {
		s.Lockout = &auth.Lockout{Max: 5, Period: 15 * time.Minute}
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

// Handler returns the API's routes, /healthz included.
func (s *Server) Handler() http.Handler {
	s.defaults()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /api/v1/login", s.login)
	mux.HandleFunc("POST /api/v1/logout", s.authed(s.logout))
	mux.HandleFunc("GET /api/v1/me", s.authed(s.me))

	mux.HandleFunc("GET /api/v1/organizations", s.authed(s.listOrganizations))
	mux.HandleFunc("POST /api/v1/organizations", s.authed(s.createOrganization))
	mux.HandleFunc("POST /api/v1/users", s.authed(s.createUser))

	mux.HandleFunc("POST /api/v1/patients", s.authed(s.createPatient))
	mux.HandleFunc("GET /api/v1/patients", s.authed(s.searchPatients))
	mux.HandleFunc("GET /api/v1/patients/{id}", s.authed(s.getPatient))
	mux.HandleFunc("PUT /api/v1/patients/{id}", s.authed(s.updatePatient))
	mux.HandleFunc("GET /api/v1/patients/{id}/orders", s.authed(s.patientOrders))
	mux.HandleFunc("GET /api/v1/patients/{id}/observations", s.authed(s.patientObservations))
	mux.HandleFunc("GET /api/v1/patients/{id}/studies", s.authed(s.patientStudies))
	mux.HandleFunc("GET /api/v1/patients/{id}/chart", s.authed(s.patientChart))
	mux.HandleFunc("GET /api/v1/reports/{id}/attachments/{n}", s.authed(s.getReportAttachment))

	mux.HandleFunc("POST /api/v1/orders", s.authed(s.createOrder))
	mux.HandleFunc("GET /api/v1/orders", s.authed(s.listOrders))
	mux.HandleFunc("GET /api/v1/orders/{id}", s.authed(s.getOrder))
	mux.HandleFunc("POST /api/v1/orders/{id}/cancel", s.authed(s.cancelOrder))
	mux.HandleFunc("POST /api/v1/orders/{id}/status", s.authed(s.setOrderStatus))

	mux.HandleFunc("GET /api/v1/audit", s.authed(s.listAudit))

	mux.HandleFunc("GET /api/v1/devices", s.authed(s.listDevices))
	mux.HandleFunc("POST /api/v1/devices", s.authed(s.createDevice))
	mux.HandleFunc("GET /api/v1/devices/export", s.authed(s.exportDevices))
	mux.HandleFunc("POST /api/v1/devices/import", s.authed(s.importDevices))
	mux.HandleFunc("GET /api/v1/devices/{id}", s.authed(s.getDevice))
	mux.HandleFunc("PUT /api/v1/devices/{id}", s.authed(s.updateDevice))
	mux.HandleFunc("DELETE /api/v1/devices/{id}", s.authed(s.deleteDevice))
	mux.HandleFunc("GET /api/v1/codemaps", s.authed(s.listCodeMaps))
	mux.HandleFunc("GET /api/v1/codemaps/{name}", s.authed(s.getCodeMap))
	mux.HandleFunc("PUT /api/v1/codemaps/{name}", s.authed(s.putCodeMap))
	mux.HandleFunc("GET /api/v1/messages", s.authed(s.listMessages))
	mux.HandleFunc("GET /api/v1/messages/{id}", s.authed(s.getMessage))
	mux.HandleFunc("GET /api/v1/messages/{id}/raw", s.authed(s.getMessageRaw))
	mux.HandleFunc("POST /api/v1/messages/{id}/reprocess", s.authed(s.reprocessMessage))
	mux.HandleFunc("GET /api/v1/reconciliation", s.authed(s.listRecon))
	mux.HandleFunc("GET /api/v1/reconciliation/{id}", s.authed(s.getRecon))
	mux.HandleFunc("POST /api/v1/reconciliation/{id}/attach", s.authed(s.attachRecon))
	mux.HandleFunc("POST /api/v1/reconciliation/{id}/reject", s.authed(s.rejectRecon))
	s.imagingRoutes(mux)

	return s.logRequests(jsonMisses(mux))
}

// jsonMisses answers the mux's own 404 and 405 in the API's JSON error
// shape, keeping its Allow header.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		e := &apiError{Status: rec.Code, Code: "not_found", Message: "no such endpoint: " + r.URL.Path}
		if rec.Code == http.StatusMethodNotAllowed {
			e.Code, e.Message = "method_not_allowed", r.Method+" is not allowed here; use "+rec.Header().Get("Allow")
		}
		writeError(w, e)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.Warn("health check: database unreachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": "ok"})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// logRequests logs method, route pattern, status and duration. Never the
// URL: query strings carry names and СНИЛС.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				s.Logger.Error("panic in handler", "route", r.Pattern, "panic", v)
				if sw.status == 0 {
					writeError(sw, errInternal)
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			s.Logger.Debug("http", "method", r.Method, "route", r.Pattern, "status", sw.status, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// caller is the signed-in user of a request.
type caller struct {
	user    *domain.User
	address string
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *caller)

// ErrUnauthenticated means the request carries no valid bearer token.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticate resolves the request's bearer token to an active user. Other
// HTTP surfaces (the FHIR API, the UI) share it, so one session works for all.
func (s *Server) Authenticate(r *http.Request) (*domain.User, error) {
	s.defaults()
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return nil, ErrUnauthenticated
	}
	sess, err := s.Store.GetSession(r.Context(), auth.HashToken(strings.TrimSpace(token)))
	if errors.Is(err, store.ErrNotFound) || err == nil && s.Now().After(sess.Expires) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	u, err := s.Store.GetUser(r.Context(), sess.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.Active {
		return nil, ErrUnauthenticated
	}
	return u, err
}

// authed resolves the bearer token to a user, or answers 401.
func (s *Server) authed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := s.Authenticate(r)
		if errors.Is(err, ErrUnauthenticated) {
			writeError(w, errUnauthorized)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, &caller{user: u, address: remoteHost(r)})
	}
}

// RemoteHost is the client's address as audit events record it.
func RemoteHost(r *http.Request) string { return remoteHost(r) }

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit returns an event about the caller with the given action and event
// name; handlers fill in the resource.
func (c *caller) audit(action, event string) *domain.AuditEvent {
	return &domain.AuditEvent{UserID: c.user.ID, Login: c.user.Login, Action: action, Event: event, Address: c.address}
}

// writeAudit records an event that is not part of a store transaction
// (reads, refusals). An audit failure on a read is logged; the read is
// still refused, since an unaudited read of patient data must not happen.
func (s *Server) writeAudit(ctx context.Context, ev *domain.AuditEvent) error {
	if err := s.Store.WriteAudit(ctx, ev); err != nil {
		s.Logger.Error("audit write failed", "event", ev.Event, "err", err)
		return err
	}
	return nil
}
