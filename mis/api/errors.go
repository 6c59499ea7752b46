package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// apiError is the JSON error every failure answers with:
// {"error": {"status": 400, "code": "invalid", "field": "snils", "message": "..."}}.
type apiError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

var (
	errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "sign in first: send Authorization: Bearer <token> from POST /api/v1/login"}
	errForbidden    = &apiError{Status: http.StatusForbidden, Code: "forbidden", Message: "your roles do not allow this"}
	errInternal     = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; the server log has details"}
)

func invalid(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid", Field: field, Message: msg}
}

func notFound(what string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: what + " not found"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

// toAPIError maps domain and store errors to HTTP; ok is false for
// unexpected errors, which the caller logs and answers with 500.
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	var fe *domain.FieldError
	var ce *store.ConflictError
	var le *store.LimitError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.As(err, &fe):
		return invalid(fe.Field, fe.Message), true
	case errors.As(err, &ce):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Field: ce.Field, Message: ce.Message}, true
	case errors.As(err, &le):
		return &apiError{Status: http.StatusConflict, Code: "limit", Message: le.Error() + "; nothing was written"}, true
	case errors.Is(err, store.ErrBadCursor):
		return invalid("cursor", "invalid page cursor: pass back the 'next' value of the previous page"), true
	case errors.Is(err, store.ErrNotFound):
		return notFound("record"), true
	}
	return nil, false
}

// fail answers err, logging what is not the client's fault.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if ae, ok := toAPIError(err); ok {
		writeError(w, ae)
		return
	}
	if r.Context().Err() != nil {
		return // client went away
	}
	s.Logger.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	writeError(w, errInternal)
}

// decode reads one JSON object into v strictly: unknown fields, wrong
// types, trailing data and oversized bodies are errors naming the field or
// the byte offset.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send Content-Type: application/json"}
		}
	}
	body := http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return invalid("", "request body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("request body exceeds %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return invalid("", "request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &syn):
		return invalid("", fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error()))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return invalid("", fmt.Sprintf("expected a JSON %s, got %s", typ.Type.Kind(), typ.Value))
		}
		return invalid(field, fmt.Sprintf("%s must be %s, got %s", field, jsonKind(typ.Type.Kind().String()), typ.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return invalid(name, fmt.Sprintf("unknown field %q", name))
	}
	return invalid("", "malformed JSON: "+err.Error())
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	case goKind == "slice":
		return "an array"
	}
	return "an object"
}
