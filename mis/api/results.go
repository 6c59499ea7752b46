package api

import (
	"net/http"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"strconv"
)

func (s *Server) patientObservations(w http.ResponseWriter, r *http.Request, c *caller) {
	p, ok := s.readPatient(w, r, c, auth.ResultRead, "patient.observations")
	if !ok {
		return
	}
	list, err := s.Store.PatientObservations(r.Context(), []int64{p.OrganizationID}, p.ID, r.URL.Query().Get("code"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (s *Server) patientStudies(w http.ResponseWriter, r *http.Request, c *caller) {
	p, ok := s.readPatient(w, r, c, auth.ResultRead, "patient.studies")
	if !ok {
		return
	}
	list, err := s.Store.PatientStudies(r.Context(), []int64{p.OrganizationID}, p.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (s *Server) patientChart(w http.ResponseWriter, r *http.Request, c *caller) {
	p, ok := s.readPatient(w, r, c, auth.ResultRead, "patient.chart")
	if !ok {
		return
	}
	chart, err := s.Store.PatientChart(r.Context(), []int64{p.OrganizationID}, p.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	chart.Patient = patientView(chart.Patient)
	writeJSON(w, http.StatusOK, chart)
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.AuditRead)
	if !ok {
		return
	}
	q := store.AuditQuery{Orgs: orgs}
	var e *apiError
	if q.Page, e = page(r); e != nil {
		writeError(w, e)
		return
	}
	for name, dst := range map[string]*int64{"patient": &q.PatientID, "user": &q.UserID} {
		if v := r.URL.Query().Get(name); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				writeError(w, invalid(name, name+" is an id"))
				return
			}
			*dst = id
		}
	}
	list, next, err := s.Store.ListAudit(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list, "next": next})
}
