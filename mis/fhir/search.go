package fhir

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dt "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/audit_event_go_proto"
	bcr "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	devpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/device_go_proto"
	drpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/diagnostic_report_go_proto"
	ispb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/imaging_study_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	ptpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	srpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"
	sppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/specimen_go_proto"
)

// entry is one resource of a search result.
type entry struct {
	id  int64
	res proto.Message
}

// matches wraps one page of store rows as search matches.
func matches[T any, R proto.Message](list []T, next string, total int, err error, id func(*T) int64, resource func(*T) R) (*result, error) {
	if err != nil {
		return nil, err
	}
	res := &result{next: next, total: total}
	for i := range list {
		res.match = append(res.match, entry{id(&list[i]), resource(&list[i])})
	}
	return res, nil
}

// result is one page of a search.
type result struct {
	match, include []entry
	next           string
	total          int
}

// resourceType is one served resource type: who may read it, its search
// parameters, and how to read and search it.
type resourceType struct {
	name    string
	perms   []auth.Permission // any of them grants reading
	audited bool              // patient data: every read and search is audited
	params  []param
	include []string // supported _include values
	read    func(s *Server, ctx context.Context, orgs []int64, id int64) (res proto.Message, patientID, orgID int64, err error)
	search  func(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error)
}

func (t *resourceType) param(name string) *param {
	for i := range t.params {
		if t.params[i].name == name {
			return &t.params[i]
		}
	}
	return nil
}

func (t *resourceType) paramNames() string {
	names := []string{"_id"}
	for _, p := range t.params {
		names = append(names, p.name)
	}
	names = append(names, "_count", "_total", "_format", "_pretty")
	return strings.Join(names, ", ") + include(t)
}

func include(t *resourceType) string {
	if len(t.include) == 0 {
		return ""
	}
	return ", _include=" + strings.Join(t.include, ",")
}

var (
	pPatient  = param{"patient", kindReference, "The patient: Patient/<id> or <id>"}
	pSubject  = param{"subject", kindReference, "The subject, a patient: Patient/<id> or <id>"}
	pCode     = param{"code", kindToken, "A code, [system|]code, comma-separated alternatives"}
	pStatus   = param{"status", kindToken, "Status code(s), comma-separated"}
	pBasedOn  = param{"based-on", kindReference, "The order fulfilled: ServiceRequest/<id>"}
	pCategory = param{"category", kindToken, "Category code(s)"}
)

// resourceTypes are the served types by name.
var resourceTypes = newResourceTypes()

// typeOrder lists the types as the CapabilityStatement shows them.
var typeOrder = []string{"Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport", "ImagingStudy", "Device", "AuditEvent"}

func newResourceTypes() map[string]*resourceType {
	types := map[string]*resourceType{}
	for _, t := range []*resourceType{
		{name: "Patient", perms: []auth.Permission{auth.PatientRead}, audited: true, read: readPatient, search: searchPatients,
			params: []param{
				{"identifier", kindToken, "An identifier, system|value: СНИЛС " + domain.SystemSNILS + ", ЕНП " + domain.SystemENP + ", medgate's id " + domain.SystemPatientID},
				{"name", kindString, "Any part of the name, or the full name \"Family Given Patronymic\", starting with the value; case-insensitive, ё = е"},
				{"birthdate", kindDate, "Birth date, with prefixes eq ne lt gt le ge sa eb ap"},
				{"gender", kindToken, "male | female | other | unknown"},
			}},
		{name: "ServiceRequest", perms: []auth.Permission{auth.OrderRead}, audited: true, read: readServiceRequest, search: searchServiceRequests,
			params: []param{pPatient, pSubject,
				{"identifier", kindToken, "Accession number (" + domain.SystemAccession + ") or Study Instance UID (" + domain.SystemDICOMUID + "|urn:oid:<uid>)"},
				pCode, {"status", kindToken, "draft | active | completed | revoked | entered-in-error"},
				{"category", kindToken, "lab | imaging (" + SystemOrderCategory + "), or SNOMED CT 108252007 | 363679005"},
				{"authored", kindDate, "When the order was placed"},
				{"occurrence", kindDate, "When it is scheduled"},
			}},
		{name: "Specimen", perms: []auth.Permission{auth.OrderRead}, audited: true, read: readSpecimen, search: searchSpecimens,
			params: []param{pPatient, pSubject,
				{"identifier", kindToken, "The barcode (" + domain.SystemBarcode + ")"},
				{"accession", kindToken, "The barcode, as the accession identifier"},
				{"type", kindToken, "Specimen type code"},
				{"status", kindToken, "available | unavailable | unsatisfactory | entered-in-error"},
				{"collected", kindDate, "When it was collected"},
			}},
		{name: "Observation", perms: []auth.Permission{auth.ResultRead}, audited: true, read: readObservation, search: searchObservations,
			params: []param{pPatient, pSubject,
				{"code", kindToken, "A code, [system|]code, comma-separated alternatives; a LOINC code (" + domain.SystemLOINC +
					"|code, or a bare code) also finds results coded by the clinic's own code with that LOINC code beside it"},
				{"date", kindDate, "The effective time, with prefixes eq ne lt gt le ge sa eb ap"},
				{"status", kindToken, "registered | preliminary | final | amended | corrected | cancelled | entered-in-error"},
				{"category", kindToken, "laboratory (every observation here is a lab result)"},
				pBasedOn,
				{"specimen", kindReference, "Specimen/<id>"},
				{"device", kindReference, "Device/<id>"},
			}},
		{name: "DiagnosticReport", perms: []auth.Permission{auth.ResultRead}, audited: true, read: readReport, search: searchReports,
			include: []string{"DiagnosticReport:result"},
			params: []param{pPatient, pSubject, pCode,
				{"date", kindDate, "The effective time, with prefixes"},
				{"issued", kindDate, "When the report was issued"},
				{"status", kindToken, "registered | partial | preliminary | final | corrected | cancelled | …"},
				{"category", kindToken, "LAB | RAD (" + systemV2DiagService + ")"},
				pBasedOn,
			}},
		{name: "ImagingStudy", perms: []auth.Permission{auth.ResultRead}, audited: true, read: readStudy, search: searchStudies,
			params: []param{pPatient, pSubject,
				{"identifier", kindToken, "Study Instance UID (" + domain.SystemDICOMUID + "|urn:oid:<uid>) or accession number"},
				{"modality", kindToken, "DICOM modality (" + domain.SystemModality + ")"},
				{"started", kindDate, "When the study started"},
				{"status", kindToken, "registered | available | cancelled | entered-in-error"},
				{"basedon", kindReference, "The order: ServiceRequest/<id>"},
				pBasedOn,
			}},
		{name: "Device", perms: []auth.Permission{auth.DeviceAdmin, auth.ResultRead}, read: readDevice, search: searchDevices,
			params: []param{
				{"identifier", kindToken, "Name, AE title, HL7 sending application or ASTM sender, under the urn:medgate systems"},
				{"device-name", kindString, "Name prefix, case-insensitive"},
				{"status", kindToken, "active | inactive"},
			}},
		{name: "AuditEvent", perms: []auth.Permission{auth.AuditRead}, audited: true, read: readAuditEvent, search: searchAuditEvents,
			params: []param{
				{"patient", kindReference, "The patient whose data was touched"},
				{"date", kindDate, "When it was recorded"},
				{"action", kindToken, "C | R | U | D | E"},
				{"agent", kindReference, "The user: Practitioner/<id>"},
			}},
	} {
		types[t.name] = t
	}
	return types
}

// search answers GET [type]?… and POST [type]/_search.
func (s *Server) search(w http.ResponseWriter, r *http.Request, u *user) {
	typ, ok := resourceTypes[r.PathValue("type")]
	if !ok {
		writeOutcome(w, r, unknownType(r.PathValue("type")))
		return
	}
	ev := u.event(typ, "search")
	orgs := u.scope(typ)
	if len(orgs) == 0 {
		s.refuse(w, r, u, typ, ev, forbidden(typ.name), "forbidden: no role grants "+typ.name)
		return
	}
	ev.OrganizationID = orgs[0]
	q, err := s.newQuery(r, typ)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var patientID int64
	if typ.param("patient") != nil {
		if patientID, err = q.patient(); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var res *result
	if patientID != 0 {
		// Only a visible patient is recorded; another organization's
		// patient is searched like a missing one: nothing is found.
		p, err := s.Store.GetPatient(r.Context(), orgs, patientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			ev.Outcome = domain.OutcomeMinorFailure
			res = &result{}
		case err != nil:
			s.fail(w, r, err)
			return
		default:
			ev.PatientID, ev.OrganizationID = p.ID, p.OrganizationID
		}
	}
	if res == nil {
		res, err = typ.search(s, r.Context(), orgs, q, patientID)
	} else {
		// The other parameters are still read, so that errors and unknown
		// parameters are answered alike.
		_, err = typ.search(s, r.Context(), nil, q, -1)
	}
	if err == nil {
		err = q.unknown()
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if q.count == 0 {
		res.match, res.include, res.next = nil, nil, ""
	}
	if typ.audited {
		ev.Detail = "by " + strings.Join(q.used, ",")
		if len(q.used) == 0 {
			ev.Detail = "all"
		}
		if ev.Outcome != 0 {
			ev.Detail += "; patient not found or not visible"
		}
		ev.Detail += "; " + strconv.Itoa(len(res.match)) + " found"
		if len(res.include) > 0 {
			ev.Detail += ", " + strconv.Itoa(len(res.include)) + " included"
		}
		if err := s.audit(r.Context(), ev); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.write(w, r, http.StatusOK, s.bundle(r, typ, q, res))
}

// bundle makes the searchset.
func (s *Server) bundle(r *http.Request, typ *resourceType, q *query, res *result) *bcr.Bundle {
	base := s.baseURL(r)
	b := &bcr.Bundle{
		Id:        &dt.Id{Value: strings.TrimPrefix(newUUID(), "urn:uuid:")},
		Type:      &bcr.Bundle_TypeCode{Value: cpb.BundleTypeCode_SEARCHSET},
		Timestamp: s.instant(s.Now()),
	}
	if res.total >= 0 && (q.total || q.count == 0) {
		b.Total = fuint(res.total)
	}
	link := func(rel string, v url.Values) *bcr.Bundle_Link {
		u := base + "/" + typ.name
		if enc := v.Encode(); enc != "" {
			u += "?" + enc
		}
		return &bcr.Bundle_Link{Relation: fstr(rel), Url: furi(u)}
	}
	b.Link = append(b.Link, link("self", q.self))
	if res.next != "" {
		next := url.Values{}
		for k, v := range q.self {
			next[k] = v
		}
		if next.Get("_count") == "" {
			next.Set("_count", strconv.Itoa(q.count))
		}
		next.Set("_cursor", res.next)
		b.Link = append(b.Link, link("next", next))
	}
	add := func(list []entry, mode cpb.SearchEntryModeCode_Value, typeName func(proto.Message) string) {
		for _, e := range list {
			name := typeName(e.res)
			b.Entry = append(b.Entry, &bcr.Bundle_Entry{
				FullUrl:  furi(base + "/" + name + "/" + strconv.FormatInt(e.id, 10)),
				Resource: contain(e.res),
				Search:   &bcr.Bundle_Entry_Search{Mode: &bcr.Bundle_Entry_Search_ModeCode{Value: mode}},
			})
		}
	}
	nameOf := func(m proto.Message) string { return string(m.ProtoReflect().Descriptor().Name()) }
	add(res.match, cpb.SearchEntryModeCode_MATCH, nameOf)
	add(res.include, cpb.SearchEntryModeCode_INCLUDE, nameOf)
	if len(q.ignored) > 0 {
		oo := outcome(cpb.IssueSeverityCode_WARNING, cpb.IssueTypeCode_NOT_SUPPORTED,
			"ignored, not supported for "+typ.name+": "+strings.Join(q.ignored, ", ")+
				" (send Prefer: handling=strict to have them refused); supported: "+typ.paramNames())
		b.Entry = append(b.Entry, &bcr.Bundle_Entry{
			FullUrl:  furi(newUUID()),
			Resource: contain(oo),
			Search:   &bcr.Bundle_Entry_Search{Mode: &bcr.Bundle_Entry_Search_ModeCode{Value: cpb.SearchEntryModeCode_OUTCOME}},
		})
	}
	return b
}

// outcome is an OperationOutcome with one issue.
func outcome(sev cpb.IssueSeverityCode_Value, code cpb.IssueTypeCode_Value, msg string) *oopb.OperationOutcome {
	return &oopb.OperationOutcome{Issue: []*oopb.OperationOutcome_Issue{{
		Severity:    &oopb.OperationOutcome_Issue_SeverityCode{Value: sev},
		Code:        &oopb.OperationOutcome_Issue_CodeType{Value: code},
		Diagnostics: fstr(msg),
	}}}
}

// contain wraps a resource for a bundle entry.
func contain(m proto.Message) *bcr.ContainedResource {
	c := &bcr.ContainedResource{}
	switch r := m.(type) {
	case *ptpb.Patient:
		c.OneofResource = &bcr.ContainedResource_Patient{Patient: r}
	case *srpb.ServiceRequest:
		c.OneofResource = &bcr.ContainedResource_ServiceRequest{ServiceRequest: r}
	case *sppb.Specimen:
		c.OneofResource = &bcr.ContainedResource_Specimen{Specimen: r}
	case *obspb.Observation:
		c.OneofResource = &bcr.ContainedResource_Observation{Observation: r}
	case *drpb.DiagnosticReport:
		c.OneofResource = &bcr.ContainedResource_DiagnosticReport{DiagnosticReport: r}
	case *ispb.ImagingStudy:
		c.OneofResource = &bcr.ContainedResource_ImagingStudy{ImagingStudy: r}
	case *devpb.Device:
		c.OneofResource = &bcr.ContainedResource_Device{Device: r}
	case *aepb.AuditEvent:
		c.OneofResource = &bcr.ContainedResource_AuditEvent{AuditEvent: r}
	case *oopb.OperationOutcome:
		c.OneofResource = &bcr.ContainedResource_OperationOutcome{OperationOutcome: r}
	case *bcr.Bundle:
		c.OneofResource = &bcr.ContainedResource_Bundle{Bundle: r}
	}
	return c
}

// Per-type reads and searches. A search with orgs nil only reads its
// parameters (for a patient that is not visible): it finds nothing.

func readPatient(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	p, err := s.Store.GetPatient(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.patientResource(p), p.ID, p.OrganizationID, nil
}

func searchPatients(s *Server, ctx context.Context, orgs []int64, q *query, _ int64) (*result, error) {
	sq := store.PatientSearch{Orgs: orgs, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Identifiers, err = q.tokens("identifier"); err != nil {
		return nil, err
	}
	// medgate's own id is the resource id, not an indexed identifier.
	var own []int64
	var others []store.Token
	for _, t := range sq.Identifiers {
		switch {
		case t.HasSystem && t.System == domain.SystemPatientID:
			n, err := strconv.ParseInt(t.Code, 10, 64)
			if err != nil || n <= 0 {
				n = -1
			}
			own = append(own, n)
		case t.HasSystem && t.System == domain.SystemSNILS:
			t.Code = strings.NewReplacer("-", "", " ", "").Replace(t.Code) // 112-233-445 95
			others = append(others, t)
		default:
			others = append(others, t)
		}
	}
	switch {
	case own != nil && others != nil:
		return nil, notSupported("identifier: search by %s alone, or by other identifiers", domain.SystemPatientID)
	case own != nil && sq.IDs != nil:
		var both []int64
		for _, n := range own {
			if containsID(sq.IDs, n) {
				both = append(both, n)
			}
		}
		sq.IDs, sq.Identifiers = append([]int64{}, both...), nil
	case own != nil:
		sq.IDs, sq.Identifiers = own, nil
	default:
		sq.Identifiers = others
	}
	if sq.Name, err = q.str("name"); err != nil {
		return nil, err
	}
	if len([]rune(sq.Name)) > 200 {
		return nil, invalid("name is too long")
	}
	if sq.BirthDate, err = q.dates("birthdate", true); err != nil {
		return nil, err
	}
	genders, err := q.codes("gender", "http://hl7.org/fhir/administrative-gender", "male", "female", "other", "unknown")
	if err != nil {
		return nil, err
	}
	for _, g := range genders {
		sq.Gender = append(sq.Gender, domain.Gender(g))
	}
	if orgs == nil {
		return &result{}, nil
	}
	list, next, total, err := s.Store.SearchPatientRecords(ctx, sq)
	return matches(list, next, total, err, func(r *domain.Patient) int64 { return r.ID }, s.patientResource)
}

func readServiceRequest(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	o, err := s.Store.GetServiceRequest(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.serviceRequestResource(o), o.PatientID, o.OrganizationID, nil
}

// requestStatuses maps FHIR request status codes to medgate's.
var requestStatuses = map[string]domain.RequestStatus{
	"draft": domain.StatusDraft, "active": domain.StatusActive, "completed": domain.StatusCompleted,
	"revoked": domain.StatusCancelled, "entered-in-error": domain.StatusEnteredInError,
	"on-hold": "", "unknown": "",
}

func searchServiceRequests(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error) {
	sq := store.ServiceRequestQuery{Orgs: orgs, PatientID: patientID, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Identifiers, err = q.tokens("identifier"); err != nil {
		return nil, err
	}
	if sq.Codes, err = q.tokens("code"); err != nil {
		return nil, err
	}
	statuses, err := q.codes("status", "http://hl7.org/fhir/request-status", "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
	if err != nil {
		return nil, err
	}
	if statuses != nil {
		sq.Status = []domain.RequestStatus{}
		for _, st := range statuses {
			if v := requestStatuses[st]; v != "" {
				sq.Status = append(sq.Status, v)
			}
		}
		if len(sq.Status) == 0 {
			orgs = nil // no order is ever on-hold or unknown
		}
	}
	cats, err := q.tokens("category")
	if err != nil {
		return nil, err
	}
	if cats != nil {
		for _, t := range cats {
			switch {
			case (!t.HasSystem || t.System == SystemOrderCategory) && (t.Code == "lab" || t.Code == "imaging"):
				sq.Category = append(sq.Category, domain.Category(t.Code))
			case (!t.HasSystem || t.System == systemSNOMED) && t.Code == "108252007":
				sq.Category = append(sq.Category, domain.CategoryLab)
			case (!t.HasSystem || t.System == systemSNOMED) && t.Code == "363679005":
				sq.Category = append(sq.Category, domain.CategoryImaging)
			}
		}
		if len(sq.Category) == 0 {
			orgs = nil
		}
	}
	if sq.Authored, err = q.dates("authored", false); err != nil {
		return nil, err
	}
	if sq.Occurrence, err = q.dates("occurrence", false); err != nil {
		return nil, err
	}
	if orgs == nil || patientID < 0 {
		return &result{total: 0}, nil
	}
	sq.Orgs = orgs
	list, next, total, err := s.Store.SearchServiceRequests(ctx, sq)
	return matches(list, next, total, err, func(r *domain.ServiceRequest) int64 { return r.ID }, s.serviceRequestResource)
}

func readSpecimen(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	sp, err := s.Store.GetSpecimen(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.specimenResource(sp), sp.PatientID, sp.OrganizationID, nil
}

func searchSpecimens(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error) {
	sq := store.SpecimenQuery{Orgs: orgs, PatientID: patientID, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Identifiers, err = q.tokens("identifier"); err != nil {
		return nil, err
	}
	acc, err := q.tokens("accession")
	if err != nil {
		return nil, err
	}
	if acc != nil {
		if sq.Identifiers != nil {
			return nil, notSupported("give identifier or accession, not both")
		}
		sq.Identifiers = acc
	}
	if sq.Types, err = q.tokens("type"); err != nil {
		return nil, err
	}
	if sq.Status, err = q.codes("status", "http://hl7.org/fhir/specimen-status", "available", "unavailable", "unsatisfactory", "entered-in-error"); err != nil {
		return nil, err
	}
	if sq.Collected, err = q.dates("collected", false); err != nil {
		return nil, err
	}
	if orgs == nil || patientID < 0 {
		return &result{}, nil
	}
	list, next, total, err := s.Store.SearchSpecimens(ctx, sq)
	return matches(list, next, total, err, func(r *domain.Specimen) int64 { return r.ID }, s.specimenResource)
}

func readObservation(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	o, err := s.Store.GetObservation(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.observationResource(o), o.PatientID, o.OrganizationID, nil
}

func searchObservations(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error) {
	sq := store.ObservationQuery{Orgs: orgs, PatientID: patientID, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Codes, err = q.tokens("code"); err != nil {
		return nil, err
	}
	if sq.Date, err = q.dates("date", false); err != nil {
		return nil, err
	}
	if sq.Status, err = q.codes("status", "http://hl7.org/fhir/observation-status", "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"); err != nil {
		return nil, err
	}
	cats, err := q.tokens("category")
	if err != nil {
		return nil, err
	}
	if cats != nil && !matchesAny(cats, systemObsCategory, "laboratory") {
		orgs = nil // every observation here is a lab result
	}
	if sq.RequestIDs, err = q.refIDs("based-on", "ServiceRequest"); err != nil {
		return nil, err
	}
	if sq.SpecimenIDs, err = q.refIDs("specimen", "Specimen"); err != nil {
		return nil, err
	}
	if sq.DeviceIDs, err = q.refIDs("device", "Device"); err != nil {
		return nil, err
	}
	if orgs == nil || patientID < 0 {
		return &result{}, nil
	}
	sq.Orgs = orgs
	list, next, total, err := s.Store.SearchObservations(ctx, sq)
	return matches(list, next, total, err, func(r *domain.Observation) int64 { return r.ID }, s.observationResource)
}

// matchesAny reports whether a token list names code in system.
func matchesAny(ts []store.Token, system, code string) bool {
	for _, t := range ts {
		if (!t.HasSystem || t.System == system) && (t.Code == code || t.Code == "" && t.HasSystem) {
			return true
		}
	}
	return false
}

func readReport(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	r, err := s.Store.GetReport(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	cats, err := s.categories(ctx, orgs, []domain.DiagnosticReport{*r})
	if err != nil {
		return nil, 0, 0, err
	}
	return s.reportResource(ctx, r, cats[r.RequestID]), r.PatientID, r.OrganizationID, nil
}

// categories reads the category of the reports' orders.
func (s *Server) categories(ctx context.Context, orgs []int64, reports []domain.DiagnosticReport) (map[int64]domain.Category, error) {
	var ids []int64
	for _, r := range reports {
		if r.RequestID != 0 && !containsID(ids, r.RequestID) {
			ids = append(ids, r.RequestID)
		}
	}
	out := map[int64]domain.Category{}
	err := eachPage(func(cursor string) (string, error) {
		list, next, _, err := s.Store.SearchServiceRequests(ctx, store.ServiceRequestQuery{Orgs: orgs, IDs: ids,
			SearchPage: store.SearchPage{Page: store.Page{Limit: 500, Cursor: cursor}}})
		for _, o := range list {
			out[o.ID] = o.Category
		}
		return next, err
	}, len(ids) > 0)
	return out, err
}

// eachPage calls fetch until it returns no cursor.
func eachPage(fetch func(cursor string) (string, error), run bool) error {
	cursor := ""
	for run {
		next, err := fetch(cursor)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
	return nil
}

func searchReports(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error) {
	sq := store.ReportQuery{Orgs: orgs, PatientID: patientID, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Codes, err = q.tokens("code"); err != nil {
		return nil, err
	}
	if sq.Date, err = q.dates("date", false); err != nil {
		return nil, err
	}
	if sq.Issued, err = q.dates("issued", false); err != nil {
		return nil, err
	}
	if sq.Status, err = q.codes("status", "http://hl7.org/fhir/diagnostic-report-status", "registered", "partial", "preliminary", "final", "amended", "corrected", "appended", "cancelled", "entered-in-error", "unknown"); err != nil {
		return nil, err
	}
	cats, err := q.tokens("category")
	if err != nil {
		return nil, err
	}
	if cats != nil {
		if matchesAny(cats, systemV2DiagService, "LAB") {
			sq.Category = append(sq.Category, domain.CategoryLab)
		}
		if matchesAny(cats, systemV2DiagService, "RAD") {
			sq.Category = append(sq.Category, domain.CategoryImaging)
		}
		if len(sq.Category) == 0 {
			orgs = nil
		}
	}
	if sq.RequestIDs, err = q.refIDs("based-on", "ServiceRequest"); err != nil {
		return nil, err
	}
	if orgs == nil || patientID < 0 {
		return &result{}, nil
	}
	sq.Orgs = orgs
	list, next, total, err := s.Store.SearchReports(ctx, sq)
	if err != nil {
		return nil, err
	}
	cat, err := s.categories(ctx, orgs, list)
	if err != nil {
		return nil, err
	}
	res := &result{next: next, total: total}
	var resultIDs []int64
	for i := range list {
		res.match = append(res.match, entry{list[i].ID, s.reportResource(ctx, &list[i], cat[list[i].RequestID])})
		resultIDs = append(resultIDs, list[i].Result...)
	}
	if q.include && len(resultIDs) > 0 {
		err := eachPage(func(cursor string) (string, error) {
			obs, next, _, err := s.Store.SearchObservations(ctx, store.ObservationQuery{Orgs: orgs, IDs: resultIDs,
				SearchPage: store.SearchPage{Page: store.Page{Limit: 500, Cursor: cursor}}})
			for i := range obs {
				res.include = append(res.include, entry{obs[i].ID, s.observationResource(&obs[i])})
			}
			return next, err
		}, true)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func readStudy(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	st, err := s.Store.GetStudy(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.studyResource(st), st.PatientID, st.OrganizationID, nil
}

func searchStudies(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error) {
	sq := store.StudyQuery{Orgs: orgs, PatientID: patientID, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Identifiers, err = q.tokens("identifier"); err != nil {
		return nil, err
	}
	if sq.Modalities, err = q.codes("modality", domain.SystemModality); err != nil {
		return nil, err
	}
	if sq.Started, err = q.dates("started", false); err != nil {
		return nil, err
	}
	if sq.Status, err = q.codes("status", "http://hl7.org/fhir/imagingstudy-status", "registered", "available", "cancelled", "entered-in-error", "unknown"); err != nil {
		return nil, err
	}
	for _, name := range []string{"basedon", "based-on"} {
		ids, err := q.refIDs(name, "ServiceRequest")
		if err != nil {
			return nil, err
		}
		if ids != nil && sq.RequestIDs != nil {
			return nil, notSupported("give basedon or based-on, not both")
		}
		if ids != nil {
			sq.RequestIDs = ids
		}
	}
	if orgs == nil || patientID < 0 {
		return &result{}, nil
	}
	list, next, total, err := s.Store.SearchStudies(ctx, sq)
	return matches(list, next, total, err, func(r *domain.ImagingStudy) int64 { return r.ID }, s.studyResource)
}

func readDevice(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	d, err := s.Store.GetDevice(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.deviceResource(d), 0, d.OrganizationID, nil
}

func searchDevices(s *Server, ctx context.Context, orgs []int64, q *query, _ int64) (*result, error) {
	sq := store.DeviceQuery{Orgs: orgs, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Identifiers, err = q.tokens("identifier"); err != nil {
		return nil, err
	}
	if sq.Name, err = q.str("device-name"); err != nil {
		return nil, err
	}
	statuses, err := q.codes("status", "http://hl7.org/fhir/device-status", "active", "inactive", "entered-in-error", "unknown")
	if err != nil {
		return nil, err
	}
	if statuses != nil {
		active, inactive := false, false
		for _, st := range statuses {
			active = active || st == "active"
			inactive = inactive || st == "inactive"
		}
		switch {
		case active && !inactive:
			sq.Active = &active
		case inactive && !active:
			sq.Active = &active
		case !active && !inactive:
			orgs = nil
		}
	}
	if orgs == nil {
		return &result{}, nil
	}
	sq.Orgs = orgs
	list, next, total, err := s.Store.SearchDevices(ctx, sq)
	return matches(list, next, total, err, func(r *domain.Device) int64 { return r.ID }, s.deviceResource)
}

func readAuditEvent(s *Server, ctx context.Context, orgs []int64, id int64) (proto.Message, int64, int64, error) {
	ev, err := s.Store.GetAuditEvent(ctx, orgs, id)
	if err != nil {
		return nil, 0, 0, err
	}
	return s.auditEventResource(ev), ev.PatientID, ev.OrganizationID, nil
}

func searchAuditEvents(s *Server, ctx context.Context, orgs []int64, q *query, patientID int64) (*result, error) {
	sq := store.AuditEventQuery{Orgs: orgs, PatientID: patientID, SearchPage: q.page()}
	var err error
	if sq.IDs, err = q.ids(); err != nil {
		return nil, err
	}
	if sq.Date, err = q.dates("date", false); err != nil {
		return nil, err
	}
	if sq.Action, err = q.codes("action", "http://hl7.org/fhir/audit-event-action", "C", "R", "U", "D", "E"); err != nil {
		return nil, err
	}
	agents, err := q.refIDs("agent", "Practitioner")
	if err != nil {
		return nil, err
	}
	switch len(agents) {
	case 0:
	case 1:
		sq.UserID = agents[0]
	default:
		return nil, notSupported("agent: one user at a time")
	}
	if orgs == nil || patientID < 0 {
		return &result{}, nil
	}
	list, next, total, err := s.Store.SearchAuditEvents(ctx, sq)
	return matches(list, next, total, err, func(r *domain.AuditEvent) int64 { return r.ID }, s.auditEventResource)
}
