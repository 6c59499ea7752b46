package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// patientInput is what a client may send; server-owned fields (id,
// created, updated) are not accepted.
type patientInput struct {
	Organization int64               `json:"organization"`
	Family       string              `json:"family"`
	Given        string              `json:"given"`
	Patronymic   string              `json:"patronymic"`
	BirthDate    string              `json:"birthDate"`
	Gender       domain.Gender       `json:"gender"`
	SNILS        string              `json:"snils"`
	ENP          string              `json:"enp"`
	Identifier   []domain.Identifier `json:"identifier"`
	Phone        string              `json:"phone"`
	Address      string              `json:"address"`
	Active       *bool               `json:"active"`
	Version      int64               `json:"version"`
}

func (in *patientInput) patient() *domain.Patient {
	p := &domain.Patient{OrganizationID: in.Organization, Family: in.Family, Given: in.Given, Patronymic: in.Patronymic,
		BirthDate: in.BirthDate, Gender: in.Gender, SNILS: in.SNILS, ENP: in.ENP, Identifiers: in.Identifier,
		Phone: in.Phone, Address: in.Address, Active: in.Active == nil || *in.Active, Version: in.Version}
	p.Normalize()
	return p
}

// patientView is a patient as the API shows it: СНИЛС formatted.
func patientView(p domain.Patient) domain.Patient {
	p.SNILS = domain.FormatSNILS(p.SNILS)
	if p.Identifiers == nil {
		p.Identifiers = []domain.Identifier{}
	}
	return p
}

// scope lists the organizations where the caller holds perm, or answers 403.
func scope(w http.ResponseWriter, c *caller, perm auth.Permission) ([]int64, bool) {
	orgs := auth.OrgsWith(c.user, perm)
	if len(orgs) == 0 {
		writeError(w, errForbidden)
		return nil, false
	}
	return orgs, true
}

// pathID reads {id}; a malformed id is simply a record that does not exist.
func pathID(r *http.Request) int64 {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

func page(r *http.Request) (store.Page, *apiError) {
	p := store.Page{Cursor: r.URL.Query().Get("cursor")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return p, invalid("limit", "limit must be a number from 1 to 500")
		}
		p.Limit = n
	}
	return p, nil
}

func (s *Server) createPatient(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.PatientWrite)
	if !ok {
		return
	}
	var in patientInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	p := in.patient()
	switch {
	case p.OrganizationID == 0 && len(orgs) == 1:
		p.OrganizationID = orgs[0]
	case p.OrganizationID == 0:
		writeError(w, invalid("organization", "you work in several organizations: say which one the patient belongs to"))
		return
	case !containsID(orgs, p.OrganizationID):
		writeError(w, invalid("organization", "you cannot register patients in this organization"))
		return
	}
	if p.Version != 0 {
		writeError(w, invalid("version", "a new patient has no version"))
		return
	}
	if err := p.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	ev := c.audit(domain.ActionCreate, "patient.create")
	ev.OrganizationID = p.OrganizationID
	if err := s.Store.CreatePatient(r.Context(), p, s.MaxPatients, ev); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/patients/"+strconv.FormatInt(p.ID, 10))
	writeJSON(w, http.StatusCreated, patientView(*p))
}

// readPatient loads a patient visible to the caller under perm and audits
// the access, a refused one included.
func (s *Server) readPatient(w http.ResponseWriter, r *http.Request, c *caller, perm auth.Permission, event string) (*domain.Patient, bool) {
	orgs, ok := scope(w, c, perm)
	if !ok {
		return nil, false
	}
	id := pathID(r)
	p, err := s.Store.GetPatient(r.Context(), orgs, id)
	ev := c.audit(domain.ActionRead, event)
	ev.ResourceType, ev.ResourceID = "Patient", id
	if err != nil {
		// Recorded in the caller's own organization: the one whose
		// auditors should see a user probing for records.
		ev.OrganizationID, ev.Outcome, ev.Detail = orgs[0], domain.OutcomeMinorFailure, "not found or not visible"
		_ = s.writeAudit(r.Context(), ev)
		if ae, ok := toAPIError(err); ok && ae.Status == http.StatusNotFound {
			writeError(w, notFound("patient"))
		} else {
			s.fail(w, r, err)
		}
		return nil, false
	}
	ev.OrganizationID, ev.PatientID = p.OrganizationID, p.ID
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return p, true
}

func (s *Server) getPatient(w http.ResponseWriter, r *http.Request, c *caller) {
	if p, ok := s.readPatient(w, r, c, auth.PatientRead, "patient.read"); ok {
		writeJSON(w, http.StatusOK, patientView(*p))
	}
}

func (s *Server) updatePatient(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.PatientWrite)
	if !ok {
		return
	}
	var in patientInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	p := in.patient()
	p.ID = pathID(r)
	if p.Version <= 0 {
		writeError(w, invalid("version", "send the version you read, so a concurrent change is not overwritten"))
		return
	}
	if err := p.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Organization != 0 {
		// Moving a patient between data controllers is not an update.
		if cur, err := s.Store.GetPatient(r.Context(), orgs, p.ID); err == nil && cur.OrganizationID != in.Organization {
			writeError(w, invalid("organization", "a patient cannot move to another organization"))
			return
		}
	}
	ev := c.audit(domain.ActionUpdate, "patient.update")
	ev.ResourceType, ev.ResourceID, ev.PatientID = "Patient", p.ID, p.ID
	if err := s.Store.UpdatePatient(r.Context(), orgs, p, ev); err != nil {
		if ae, ok := toAPIError(err); ok && ae.Status == http.StatusNotFound {
			ev.PatientID, ev.OrganizationID, ev.Outcome, ev.Detail = 0, orgs[0], domain.OutcomeMinorFailure, "not found or not visible"
			_ = s.writeAudit(r.Context(), ev)
			writeError(w, notFound("patient"))
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, patientView(*p))
}

func (s *Server) searchPatients(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.PatientRead)
	if !ok {
		return
	}
	q := r.URL.Query()
	pq := store.PatientQuery{Orgs: orgs, Name: q.Get("name"), BirthDate: q.Get("birthDate")}
	var e *apiError
	if pq.Page, e = page(r); e != nil {
		writeError(w, e)
		return
	}
	if org := q.Get("organization"); org != "" {
		id, _ := strconv.ParseInt(org, 10, 64)
		if !containsID(orgs, id) {
			writeError(w, invalid("organization", "not one of your organizations"))
			return
		}
		pq.Orgs = []int64{id}
	}
	if v := q.Get("snils"); v != "" {
		pq.SNILS = strings.NewReplacer("-", "", " ", "").Replace(v)
		if err := domain.ValidateSNILS(pq.SNILS); err != nil {
			writeError(w, invalid("snils", err.Error()))
			return
		}
	}
	if pq.BirthDate != "" {
		if err := domain.ValidateDate("birthDate", pq.BirthDate); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if v := q.Get("identifier"); v != "" {
		system, value, ok := strings.Cut(v, "|")
		if !ok || system == "" || value == "" {
			writeError(w, invalid("identifier", "identifier is system|value, e.g. urn:oid:1.2.643.100.3|11223344595"))
			return
		}
		pq.Identifier = &domain.Identifier{System: system, Value: value}
	}
	if len([]rune(pq.Name)) > 200 {
		writeError(w, invalid("name", "name is too long"))
		return
	}
	if strings.TrimSpace(pq.Name) == "" && pq.SNILS == "" && pq.BirthDate == "" && pq.Identifier == nil {
		writeError(w, invalid("name", "give at least one of name, snils, birthDate, identifier"))
		return
	}
	list, next, err := s.Store.SearchPatients(r.Context(), pq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev := c.audit(domain.ActionRead, "patient.search")
	ev.OrganizationID = pq.Orgs[0]
	ev.Detail = "by " + searchKinds(pq) + "; " + strconv.Itoa(len(list)) + " found"
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]domain.Patient, len(list))
	for i, p := range list {
		items[i] = patientView(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next": next})
}

// searchKinds names the criteria used, never their values.
func searchKinds(q store.PatientQuery) string {
	var kinds []string
	if q.Name != "" {
		kinds = append(kinds, "name")
	}
	if q.SNILS != "" {
		kinds = append(kinds, "snils")
	}
	if q.BirthDate != "" {
		kinds = append(kinds, "birthDate")
	}
	if q.Identifier != nil {
		kinds = append(kinds, "identifier")
	}
	return strings.Join(kinds, ",")
}
