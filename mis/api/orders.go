package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

type specimenInput struct {
	Barcode   string        `json:"barcode"`
	Type      domain.Coding `json:"type"`
	Collected *time.Time    `json:"collected"`
}

type orderInput struct {
	Patient            int64           `json:"patient"`
	Branch             int64           `json:"branch"`
	Category           domain.Category `json:"category"`
	AccessionNumber    string          `json:"accessionNumber"`
	Code               []domain.Coding `json:"code"`
	Procedure          string          `json:"procedure"`
	Modality           string          `json:"modality"`
	BodySite           string          `json:"bodySite"`
	Priority           domain.Priority `json:"priority"`
	Status             string          `json:"status"`
	StudyInstanceUID   string          `json:"studyInstanceUid"`
	ScheduledStationAE string          `json:"scheduledStationAeTitle"`
	Occurrence         *time.Time      `json:"occurrence"`
	Note               string          `json:"note"`
	Specimen           []specimenInput `json:"specimen"`
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.OrderWrite)
	if !ok {
		return
	}
	var in orderInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	o := &domain.ServiceRequest{PatientID: in.Patient, BranchID: in.Branch, Category: in.Category,
		AccessionNumber: in.AccessionNumber, Codes: in.Code, Procedure: in.Procedure, Modality: in.Modality,
		BodySite: in.BodySite, Priority: in.Priority, Status: domain.RequestStatus(in.Status), StudyInstanceUID: in.StudyInstanceUID,
		ScheduledStationAE: in.ScheduledStationAE, Scheduled: in.Occurrence, Note: in.Note, RequesterID: c.user.ID}
	o.Normalize()
	if err := o.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(in.Specimen) > 0 && o.Category != domain.CategoryLab {
		writeError(w, invalid("specimen", "only lab orders have specimens"))
		return
	}
	for i, sp := range in.Specimen {
		if sp.Barcode != "" && !domain.ValidBarcode(sp.Barcode) {
			writeError(w, invalid("specimen["+strconv.Itoa(i)+"].barcode", "a barcode is digits ending in a Luhn check digit; leave it empty to have one assigned"))
			return
		}
		o.Specimens = append(o.Specimens, domain.Specimen{Barcode: sp.Barcode, Type: sp.Type, Collected: sp.Collected})
	}
	p, err := s.Store.GetPatient(r.Context(), orgs, o.PatientID)
	if err != nil {
		if ae, ok := toAPIError(err); ok && ae.Status == http.StatusNotFound {
			writeError(w, &apiError{Status: http.StatusBadRequest, Code: "invalid", Field: "patient", Message: "no such patient in your organizations"})
			return
		}
		s.fail(w, r, err)
		return
	}
	o.OrganizationID = p.OrganizationID
	if o.BranchID != 0 {
		b, err := s.Store.GetOrganization(r.Context(), o.BranchID)
		if err != nil || b.PartOf != o.OrganizationID {
			writeError(w, invalid("branch", "not a branch of the patient's organization"))
			return
		}
	}
	ev := c.audit(domain.ActionCreate, "order.create")
	ev.OrganizationID = o.OrganizationID
	if err := s.Store.CreateServiceRequest(r.Context(), o, ev); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/orders/"+strconv.FormatInt(o.ID, 10))
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.OrderRead)
	if !ok {
		return
	}
	id := pathID(r)
	o, err := s.Store.GetServiceRequest(r.Context(), orgs, id)
	ev := c.audit(domain.ActionRead, "order.read")
	ev.ResourceType, ev.ResourceID = "ServiceRequest", id
	if err != nil {
		ev.OrganizationID, ev.Outcome, ev.Detail = orgs[0], domain.OutcomeMinorFailure, "not found or not visible"
		_ = s.writeAudit(r.Context(), ev)
		s.notFoundOr(w, r, err, "order")
		return
	}
	ev.OrganizationID, ev.PatientID = o.OrganizationID, o.PatientID
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// notFoundOr answers 404 naming what for a missing record, else fails.
func (s *Server) notFoundOr(w http.ResponseWriter, r *http.Request, err error, what string) {
	if ae, ok := toAPIError(err); ok && ae.Status == http.StatusNotFound {
		writeError(w, notFound(what))
		return
	}
	s.fail(w, r, err)
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.OrderRead)
	if !ok {
		return
	}
	q := r.URL.Query()
	oq := store.OrderQuery{Orgs: orgs, Status: domain.RequestStatus(q.Get("status")), Category: domain.Category(q.Get("category"))}
	var e *apiError
	if oq.Page, e = page(r); e != nil {
		writeError(w, e)
		return
	}
	switch oq.Status {
	case "", domain.StatusDraft, domain.StatusActive, domain.StatusCompleted, domain.StatusCancelled, domain.StatusEnteredInError:
	default:
		writeError(w, invalid("status", "status is draft, active, completed, cancelled or entered-in-error"))
		return
	}
	switch oq.Category {
	case "", domain.CategoryLab, domain.CategoryImaging:
	default:
		writeError(w, invalid("category", `category is "lab" or "imaging"`))
		return
	}
	if v := q.Get("patient"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			writeError(w, invalid("patient", "patient is a patient id"))
			return
		}
		oq.PatientID = id
	}
	s.writeOrders(w, r, c, oq)
}

// patientOrders lists one patient's orders, 404 when the patient is not visible.
func (s *Server) patientOrders(w http.ResponseWriter, r *http.Request, c *caller) {
	p, ok := s.readPatient(w, r, c, auth.OrderRead, "patient.orders")
	if !ok {
		return
	}
	oq := store.OrderQuery{Orgs: []int64{p.OrganizationID}, PatientID: p.ID}
	var e *apiError
	if oq.Page, e = page(r); e != nil {
		writeError(w, e)
		return
	}
	s.writeOrders(w, r, c, oq)
}

func (s *Server) writeOrders(w http.ResponseWriter, r *http.Request, c *caller, oq store.OrderQuery) {
	list, next, err := s.Store.ListServiceRequests(r.Context(), oq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev := c.audit(domain.ActionRead, "order.search")
	ev.PatientID, ev.OrganizationID, ev.Detail = oq.PatientID, oq.Orgs[0], strconv.Itoa(len(list))+" found"
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []domain.ServiceRequest{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list, "next": next})
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request, c *caller) {
	if orgs, ok := scope(w, c, auth.OrderWrite); ok {
		s.moveOrder(w, r, c, orgs, domain.StatusCancelled)
	}
}

type statusInput struct {
	Status domain.RequestStatus `json:"status"`
}

func (s *Server) setOrderStatus(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.OrderWrite)
	if !ok {
		return
	}
	var in statusInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	switch in.Status {
	case domain.StatusActive, domain.StatusCompleted, domain.StatusCancelled, domain.StatusEnteredInError:
		s.moveOrder(w, r, c, orgs, in.Status)
	default:
		writeError(w, invalid("status", "status is active, completed, cancelled or entered-in-error"))
	}
}

func (s *Server) moveOrder(w http.ResponseWriter, r *http.Request, c *caller, orgs []int64, to domain.RequestStatus) {
	ev := c.audit(domain.ActionUpdate, "order.status."+string(to))
	o, err := s.Store.SetServiceRequestStatus(r.Context(), orgs, pathID(r), to, ev)
	if err != nil {
		s.notFoundOr(w, r, err, "order")
		return
	}
	writeJSON(w, http.StatusOK, o)
}
