package fhir

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"

	cpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	dt "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/audit_event_go_proto"
	devpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/device_go_proto"
	drpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/diagnostic_report_go_proto"
	ispb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/imaging_study_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
	ptpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	srpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"
	sppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/specimen_go_proto"
)

// Code systems the mapping uses beyond those in package domain.
const (
	systemV2IdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	systemV2DiagService    = "http://terminology.hl7.org/CodeSystem/v2-0074"
	systemObsCategory      = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemInterpretation   = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	systemSNOMED           = "http://snomed.info/sct"
	systemAuditEventType   = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemAuditEntityType  = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole       = "http://terminology.hl7.org/CodeSystem/object-role"
	systemRFC3986          = "urn:ietf:rfc:3986"
	// SystemOrderCategory codes a ServiceRequest's category as medgate
	// keeps it ("lab", "imaging"), next to its SNOMED CT coding.
	SystemOrderCategory = "urn:medgate:order-category"
	// SystemAuditEvent codes a medgate audit event's name, e.g. "fhir.patient.read".
	SystemAuditEvent = "urn:medgate:audit-event"
)

// Primitive constructors.

func fstr(s string) *dt.String { return &dt.String{Value: s} }
func furi(s string) *dt.Uri    { return &dt.Uri{Value: s} }
func fcode(s string) *dt.Code  { return &dt.Code{Value: s} }
func fid(n int64) *dt.Id       { return &dt.Id{Value: strconv.FormatInt(n, 10)} }
func fmarkdown(s string) *dt.Markdown {
	return &dt.Markdown{Value: s}
}

func fdecimal(f float64) *dt.Decimal {
	return &dt.Decimal{Value: strconv.FormatFloat(f, 'f', -1, 64)}
}

func fuint(n int) *dt.UnsignedInt {
	if n < 0 {
		n = 0
	}
	return &dt.UnsignedInt{Value: uint32(n)}
}

// ref is a relative literal reference, "Type/id".
func ref(typ string, id int64) *dt.Reference {
	return &dt.Reference{Reference: &dt.Reference_Uri{Uri: fstr(typ + "/" + strconv.FormatInt(id, 10))}}
}

func coding(system, code, display string) *dt.Coding {
	c := &dt.Coding{Code: fcode(code)}
	if system != "" {
		c.System = furi(system)
	}
	if display != "" {
		c.Display = fstr(display)
	}
	return c
}

func concept(text string, codings ...*dt.Coding) *dt.CodeableConcept {
	cc := &dt.CodeableConcept{Coding: codings}
	if text != "" {
		cc.Text = fstr(text)
	}
	return cc
}

// domainConcept is one domain coding as a CodeableConcept, its display as text.
func domainConcept(c domain.Coding) *dt.CodeableConcept {
	if c.Code == "" {
		return concept(c.Display)
	}
	return concept(c.Display, coding(c.System, c.Code, c.Display))
}

func identifier(system, value string) *dt.Identifier {
	id := &dt.Identifier{System: furi(system)}
	if value != "" { // FHIR strings are never empty
		id.Value = fstr(value)
	}
	return id
}

// accessionIdentifier is an accession number typed ACSN (v2-0203).
func accessionIdentifier(value string) *dt.Identifier {
	id := identifier(domain.SystemAccession, value)
	id.Type = concept("", coding(systemV2IdentifierType, "ACSN", "Accession ID"))
	return id
}

// zone is the timezone of instants in the server's location, as FHIR
// writes it: "Z" or "+03:00".
func (s *Server) zone(t time.Time) (time.Time, string) {
	t = t.In(s.location())
	_, off := t.Zone()
	if off == 0 {
		return t, "Z"
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return t, fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60)
}

func (s *Server) dateTime(t time.Time) *dt.DateTime {
	t, tz := s.zone(t)
	p := dt.DateTime_MICROSECOND
	switch us := t.Nanosecond() / 1000; {
	case us == 0:
		p = dt.DateTime_SECOND
	case us%1000 == 0:
		p = dt.DateTime_MILLISECOND
	}
	return &dt.DateTime{ValueUs: t.UnixMicro(), Timezone: tz, Precision: p}
}

func (s *Server) instant(t time.Time) *dt.Instant {
	t, tz := s.zone(t)
	p := dt.Instant_MICROSECOND
	switch us := t.Nanosecond() / 1000; {
	case us == 0:
		p = dt.Instant_SECOND
	case us%1000 == 0:
		p = dt.Instant_MILLISECOND
	}
	return &dt.Instant{ValueUs: t.UnixMicro(), Timezone: tz, Precision: p}
}

func (s *Server) meta(updated time.Time, version int64) *dt.Meta {
	if updated.IsZero() {
		return nil
	}
	m := &dt.Meta{LastUpdated: s.instant(updated)}
	if version > 0 {
		m.VersionId = fid(version)
	}
	return m
}

// date is a YYYY-MM-DD day, or nil when it does not parse.
func date(day string) *dt.Date {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil
	}
	return &dt.Date{ValueUs: t.UnixMicro(), Timezone: "Z", Precision: dt.Date_DAY}
}

// enumCode maps a FHIR code ("entered-in-error") to its proto enum value
// (ENTERED_IN_ERROR) through the enum's name map; ok is false for a code the
// value set does not have.
func enumCode(code string, names map[string]int32) (int32, bool) {
	if code == "" {
		return 0, false
	}
	v, ok := names[strings.ToUpper(strings.ReplaceAll(code, "-", "_"))]
	return v, ok && v != 0
}

// Resources.

func (s *Server) patientResource(p *domain.Patient) *ptpb.Patient {
	out := &ptpb.Patient{
		Id:     fid(p.ID),
		Meta:   s.meta(p.Updated, p.Version),
		Active: &dt.Boolean{Value: p.Active},
	}
	out.Identifier = append(out.Identifier, &dt.Identifier{
		Use: &dt.Identifier_UseCode{Value: cpb.IdentifierUseCode_USUAL}, System: furi(domain.SystemPatientID),
		Value: fstr(strconv.FormatInt(p.ID, 10))})
	if p.SNILS != "" {
		id := identifier(domain.SystemSNILS, p.SNILS)
		id.Use = &dt.Identifier_UseCode{Value: cpb.IdentifierUseCode_OFFICIAL}
		out.Identifier = append(out.Identifier, id)
	}
	if p.ENP != "" {
		id := identifier(domain.SystemENP, p.ENP)
		id.Use = &dt.Identifier_UseCode{Value: cpb.IdentifierUseCode_OFFICIAL}
		out.Identifier = append(out.Identifier, id)
	}
	for _, id := range p.Identifiers {
		out.Identifier = append(out.Identifier, identifier(id.System, id.Value))
	}
	name := &dt.HumanName{Use: &dt.HumanName_UseCode{Value: cpb.NameUseCode_OFFICIAL}}
	if text := strings.Join(strings.Fields(p.Family+" "+p.Given+" "+p.Patronymic), " "); text != "" {
		name.Text = fstr(text)
	}
	if p.Family != "" {
		name.Family = fstr(p.Family)
	}
	for _, g := range []string{p.Given, p.Patronymic} {
		if g != "" {
			name.Given = append(name.Given, fstr(g))
		}
	}
	out.Name = []*dt.HumanName{name}
	if p.Phone != "" {
		out.Telecom = []*dt.ContactPoint{{System: &dt.ContactPoint_SystemCode{Value: cpb.ContactPointSystemCode_PHONE}, Value: fstr(p.Phone)}}
	}
	if v, ok := enumCode(string(p.Gender), cpb.AdministrativeGenderCode_Value_value); ok {
		out.Gender = &ptpb.Patient_GenderCode{Value: cpb.AdministrativeGenderCode_Value(v)}
	}
	out.BirthDate = date(p.BirthDate)
	if p.Address != "" {
		out.Address = []*dt.Address{{Text: fstr(p.Address)}}
	}
	if p.OrganizationID != 0 {
		out.ManagingOrganization = ref("Organization", p.OrganizationID)
	}
	return out
}

// requestStatus maps an order's status; FHIR calls a cancelled request revoked.
func requestStatus(st domain.RequestStatus) cpb.RequestStatusCode_Value {
	if st == domain.StatusCancelled {
		return cpb.RequestStatusCode_REVOKED
	}
	if v, ok := enumCode(string(st), cpb.RequestStatusCode_Value_value); ok {
		return cpb.RequestStatusCode_Value(v)
	}
	return cpb.RequestStatusCode_UNKNOWN
}

// orderCategory is an order's category as SNOMED CT and as medgate codes it.
func orderCategory(c domain.Category) *dt.CodeableConcept {
	switch c {
	case domain.CategoryLab:
		return concept("", coding(systemSNOMED, "108252007", "Laboratory procedure"), coding(SystemOrderCategory, "lab", "Лабораторное исследование"))
	case domain.CategoryImaging:
		return concept("", coding(systemSNOMED, "363679005", "Imaging"), coding(SystemOrderCategory, "imaging", "Лучевая диагностика"))
	}
	return concept(string(c))
}

func (s *Server) serviceRequestResource(r *domain.ServiceRequest) *srpb.ServiceRequest {
	out := &srpb.ServiceRequest{
		Id:         fid(r.ID),
		Meta:       s.meta(r.Updated, 0),
		Identifier: []*dt.Identifier{accessionIdentifier(r.AccessionNumber)},
		Status:     &srpb.ServiceRequest_StatusCode{Value: requestStatus(r.Status)},
		Intent:     &srpb.ServiceRequest_IntentCode{Value: cpb.RequestIntentCode_ORDER},
		Category:   []*dt.CodeableConcept{orderCategory(r.Category)},
		Subject:    ref("Patient", r.PatientID),
		AuthoredOn: s.dateTime(r.AuthoredOn),
	}
	if r.StudyInstanceUID != "" {
		out.Identifier = append(out.Identifier, identifier(domain.SystemDICOMUID, "urn:oid:"+r.StudyInstanceUID))
	}
	if v, ok := enumCode(string(r.Priority), cpb.RequestPriorityCode_Value_value); ok {
		out.Priority = &srpb.ServiceRequest_PriorityCode{Value: cpb.RequestPriorityCode_Value(v)}
	}
	// A lab order for several tests lists them all as codings of its code.
	code := &dt.CodeableConcept{}
	var displays []string
	for _, c := range r.Codes {
		code.Coding = append(code.Coding, coding(c.System, c.Code, c.Display))
		if c.Display != "" {
			displays = append(displays, c.Display)
		}
	}
	switch {
	case r.Procedure != "":
		code.Text = fstr(r.Procedure)
	case len(displays) > 0:
		code.Text = fstr(strings.Join(displays, ", "))
	}
	if len(code.Coding) > 0 || code.Text != nil {
		out.Code = code
	}
	if r.Modality != "" {
		out.OrderDetail = []*dt.CodeableConcept{concept("", coding(domain.SystemModality, r.Modality, ""))}
	}
	if r.RequesterID != 0 {
		out.Requester = ref("Practitioner", r.RequesterID)
	}
	if r.Scheduled != nil {
		out.Occurrence = &srpb.ServiceRequest_OccurrenceX{Choice: &srpb.ServiceRequest_OccurrenceX_DateTime{DateTime: s.dateTime(*r.Scheduled)}}
	}
	for _, sp := range r.Specimens {
		out.Specimen = append(out.Specimen, ref("Specimen", sp.ID))
	}
	if r.BodySite != "" {
		out.BodySite = []*dt.CodeableConcept{concept(r.BodySite)}
	}
	if r.Note != "" {
		out.Note = []*dt.Annotation{{Text: fmarkdown(r.Note)}}
	}
	return out
}

func (s *Server) specimenResource(sp *domain.Specimen) *sppb.Specimen {
	out := &sppb.Specimen{
		Id:                  fid(sp.ID),
		AccessionIdentifier: identifier(domain.SystemBarcode, sp.Barcode),
		Subject:             ref("Patient", sp.PatientID),
		Request:             []*dt.Reference{ref("ServiceRequest", sp.RequestID)},
	}
	if v, ok := enumCode(sp.Status, cpb.SpecimenStatusCode_Value_value); ok {
		out.Status = &sppb.Specimen_StatusCode{Value: cpb.SpecimenStatusCode_Value(v)}
	}
	if sp.Type.Code != "" || sp.Type.Display != "" {
		out.Type = domainConcept(sp.Type)
	}
	if sp.Collected != nil {
		out.Collection = &sppb.Specimen_Collection{Collected: &sppb.Specimen_Collection_CollectedX{
			Choice: &sppb.Specimen_Collection_CollectedX_DateTime{DateTime: s.dateTime(*sp.Collected)}}}
	}
	return out
}

var comparators = map[string]cpb.QuantityComparatorCode_Value{
	"<": cpb.QuantityComparatorCode_LESS_THAN, "<=": cpb.QuantityComparatorCode_LESS_THAN_OR_EQUAL_TO,
	">=": cpb.QuantityComparatorCode_GREATER_THAN_OR_EQUAL_TO, ">": cpb.QuantityComparatorCode_GREATER_THAN,
}

// simpleQuantity is a value in a UCUM unit.
func simpleQuantity(v float64, unit string) *dt.SimpleQuantity {
	q := &dt.SimpleQuantity{Value: fdecimal(v)}
	if unit != "" {
		q.Unit, q.System, q.Code = fstr(unit), furi(domain.SystemUCUM), fcode(unit)
	}
	return q
}

func observationStatus(st string) cpb.ObservationStatusCode_Value {
	if v, ok := enumCode(st, cpb.ObservationStatusCode_Value_value); ok {
		return cpb.ObservationStatusCode_Value(v)
	}
	return cpb.ObservationStatusCode_UNKNOWN
}

func (s *Server) observationResource(o *domain.Observation) *obspb.Observation {
	out := &obspb.Observation{
		Id:       fid(o.ID),
		Status:   &obspb.Observation_StatusCode{Value: observationStatus(o.Status)},
		Category: []*dt.CodeableConcept{concept("", coding(systemObsCategory, "laboratory", "Laboratory"))},
		Code:     domainConcept(o.Code),
		Subject:  ref("Patient", o.PatientID),
	}
	if o.LOINC != "" && (o.Code.System != domain.SystemLOINC || o.Code.Code != o.LOINC) {
		// The same test in LOINC, beside the clinic's own code. No display:
		// the entry's is the clinic's name for the test, not LOINC's.
		out.Code.Coding = append(out.Code.Coding, coding(domain.SystemLOINC, o.LOINC, ""))
	}
	if o.RequestID != 0 {
		out.BasedOn = []*dt.Reference{ref("ServiceRequest", o.RequestID)}
	}
	if !o.Effective.IsZero() {
		out.Effective = &obspb.Observation_EffectiveX{Choice: &obspb.Observation_EffectiveX_DateTime{DateTime: s.dateTime(o.Effective)}}
	}
	if !o.Issued.IsZero() {
		out.Issued = s.instant(o.Issued)
	}
	unit := ""
	switch {
	case o.ValueQuantity != nil:
		q := o.ValueQuantity
		unit = q.Unit
		v := &dt.Quantity{Value: fdecimal(q.Value)}
		if c, ok := comparators[q.Comparator]; ok {
			v.Comparator = &dt.Quantity_ComparatorCode{Value: c}
		}
		if q.Unit != "" {
			v.Unit, v.System, v.Code = fstr(q.Unit), furi(domain.SystemUCUM), fcode(q.Unit)
		}
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{Quantity: v}}
	case o.ValueCoding != nil:
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_CodeableConcept{CodeableConcept: domainConcept(*o.ValueCoding)}}
	case o.ValueRange != nil:
		unit = o.ValueRange.Unit
		rg := &dt.Range{}
		if o.ValueRange.Low != nil {
			rg.Low = simpleQuantity(*o.ValueRange.Low, unit)
		}
		if o.ValueRange.High != nil {
			rg.High = simpleQuantity(*o.ValueRange.High, unit)
		}
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Range{Range: rg}}
	case o.ValueString != "":
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_StringValue{StringValue: fstr(o.ValueString)}}
	}
	if o.Interpretation != "" {
		out.Interpretation = []*dt.CodeableConcept{concept("", coding(systemInterpretation, o.Interpretation, domain.Interpretations[o.Interpretation]))}
	}
	if o.Note != "" {
		out.Note = []*dt.Annotation{{Text: fmarkdown(o.Note)}}
	}
	if o.SpecimenID != 0 {
		out.Specimen = ref("Specimen", o.SpecimenID)
	}
	if o.DeviceID != 0 {
		out.Device = ref("Device", o.DeviceID)
		if o.Equipment != "" { // the instrument behind the registered device
			out.Device.Display = fstr(o.Equipment)
		}
	}
	if rr := o.ReferenceRange; rr != nil && (rr.Low != nil || rr.High != nil || rr.Text != "") {
		r := &obspb.Observation_ReferenceRange{}
		if rr.Low != nil {
			r.Low = simpleQuantity(*rr.Low, unit)
		}
		if rr.High != nil {
			r.High = simpleQuantity(*rr.High, unit)
		}
		if rr.Text != "" {
			r.Text = fstr(rr.Text)
		}
		out.ReferenceRange = []*obspb.Observation_ReferenceRange{r}
	}
	return out
}

// reportCategory is a report's diagnostic service section (v2-0074).
func reportCategory(c domain.Category) *dt.CodeableConcept {
	if c == domain.CategoryImaging {
		return concept("", coding(systemV2DiagService, "RAD", "Radiology"))
	}
	return concept("", coding(systemV2DiagService, "LAB", "Laboratory"))
}

// reportResource is a report as FHIR. Its documents and images
// (presentedForm) are links to the REST API's
// /api/v1/reports/{id}/attachments/{n}, never inline data; ctx gives
// that API's base (apiBase).
func (s *Server) reportResource(ctx context.Context, r *domain.DiagnosticReport, category domain.Category) *drpb.DiagnosticReport {
	status := cpb.DiagnosticReportStatusCode_UNKNOWN
	if v, ok := enumCode(r.Status, cpb.DiagnosticReportStatusCode_Value_value); ok {
		status = cpb.DiagnosticReportStatusCode_Value(v)
	}
	out := &drpb.DiagnosticReport{
		Id:       fid(r.ID),
		Status:   &drpb.DiagnosticReport_StatusCode{Value: status},
		Category: []*dt.CodeableConcept{reportCategory(category)},
		Code:     domainConcept(r.Code),
		Subject:  ref("Patient", r.PatientID),
	}
	if r.Code.Code == "" && r.Code.Display == "" {
		out.Code = concept("Лабораторное исследование")
	}
	if r.RequestID != 0 {
		out.BasedOn = []*dt.Reference{ref("ServiceRequest", r.RequestID)}
	}
	if !r.Effective.IsZero() {
		out.Effective = &drpb.DiagnosticReport_EffectiveX{Choice: &drpb.DiagnosticReport_EffectiveX_DateTime{DateTime: s.dateTime(r.Effective)}}
	}
	if !r.Issued.IsZero() {
		out.Issued = s.instant(r.Issued)
	}
	for _, id := range r.Result {
		out.Result = append(out.Result, ref("Observation", id))
	}
	if r.Conclusion != "" {
		out.Conclusion = fstr(r.Conclusion)
	}
	for i, a := range r.PresentedForm {
		att := &dt.Attachment{
			ContentType: &dt.Attachment_ContentTypeCode{Value: a.ContentType},
			Url:         &dt.Url{Value: fmt.Sprintf("%s/api/v1/reports/%d/attachments/%d", apiBase(ctx), r.ID, i)},
		}
		if a.Size > 0 && a.Size <= math.MaxUint32 {
			att.Size = &dt.UnsignedInt{Value: uint32(a.Size)}
		}
		if a.Title != "" {
			att.Title = fstr(a.Title)
		}
		if a.Created != nil && !a.Created.IsZero() {
			att.Creation = s.dateTime(*a.Created)
		}
		out.PresentedForm = append(out.PresentedForm, att)
	}
	return out
}

func (s *Server) studyResource(st *domain.ImagingStudy) *ispb.ImagingStudy {
	status := cpb.ImagingStudyStatusCode_UNKNOWN
	if v, ok := enumCode(st.Status, cpb.ImagingStudyStatusCode_Value_value); ok {
		status = cpb.ImagingStudyStatusCode_Value(v)
	}
	out := &ispb.ImagingStudy{
		Id:                fid(st.ID),
		Meta:              s.meta(st.Updated, 0),
		Identifier:        []*dt.Identifier{identifier(domain.SystemDICOMUID, "urn:oid:"+st.StudyInstanceUID)},
		Status:            &ispb.ImagingStudy_StatusCode{Value: status},
		Subject:           ref("Patient", st.PatientID),
		NumberOfSeries:    fuint(st.NumberOfSeries),
		NumberOfInstances: fuint(st.NumberOfInstances),
	}
	if st.AccessionNumber != "" {
		out.Identifier = append(out.Identifier, accessionIdentifier(st.AccessionNumber))
	}
	for _, m := range st.Modalities {
		out.Modality = append(out.Modality, coding(domain.SystemModality, m, ""))
	}
	if st.Started != nil {
		out.Started = s.dateTime(*st.Started)
	}
	if st.RequestID != 0 {
		out.BasedOn = []*dt.Reference{ref("ServiceRequest", st.RequestID)}
	}
	if st.Description != "" {
		out.Description = fstr(st.Description)
	}
	for _, se := range st.Series {
		series := &ispb.ImagingStudy_Series{
			Uid:               &dt.Id{Value: se.UID},
			Modality:          coding(domain.SystemModality, se.Modality, ""),
			NumberOfInstances: fuint(se.NumberOfInstances),
		}
		if se.Modality == "" {
			series.Modality = coding(domain.SystemModality, "OT", "Other")
		}
		if se.Number > 0 {
			series.Number = fuint(se.Number)
		}
		if se.Description != "" {
			series.Description = fstr(se.Description)
		}
		if se.BodyPart != "" {
			// DICOM Body Part Examined, a defined term rather than a SNOMED code.
			series.BodySite = &dt.Coding{Code: fcode(se.BodyPart), Display: fstr(se.BodyPart)}
		}
		for _, in := range se.Instances {
			inst := &ispb.ImagingStudy_Series_Instance{
				Uid:      &dt.Id{Value: in.SOPInstanceUID},
				SopClass: coding(systemRFC3986, "urn:oid:"+in.SOPClassUID, ""),
			}
			if in.Number > 0 {
				inst.Number = fuint(in.Number)
			}
			series.Instance = append(series.Instance, inst)
		}
		out.Series = append(out.Series, series)
	}
	return out
}

func (s *Server) deviceResource(d *domain.Device) *devpb.Device {
	out := &devpb.Device{
		Id:         fid(d.ID),
		Meta:       s.meta(d.Updated, 0),
		Identifier: []*dt.Identifier{identifier(store.SystemDeviceName, d.Name)},
		DeviceName: []*devpb.Device_DeviceName{{Name: fstr(d.Name),
			Type: &devpb.Device_DeviceName_TypeCode{Value: cpb.DeviceNameTypeCode_USER_FRIENDLY_NAME}}},
		Owner: ref("Organization", d.OrganizationID),
	}
	for _, id := range []struct{ system, value string }{
		{store.SystemAETitle, d.AETitle}, {store.SystemSendingApp, d.SendingApplication}, {store.SystemASTMSender, d.Sender},
	} {
		if id.value != "" {
			out.Identifier = append(out.Identifier, identifier(id.system, id.value))
		}
	}
	status := cpb.FHIRDeviceStatusCode_INACTIVE
	if d.Active {
		status = cpb.FHIRDeviceStatusCode_ACTIVE
	}
	out.Status = &devpb.Device_StatusCode{Value: status}
	if d.Protocol != "" {
		out.Type = concept(strings.ToUpper(d.Protocol))
	}
	return out
}

// auditable are the resource types an audit event's entity may reference.
var auditable = map[string]bool{
	"Patient": true, "ServiceRequest": true, "Specimen": true, "Observation": true, "DiagnosticReport": true,
	"ImagingStudy": true, "Device": true, "Organization": true, "Practitioner": true,
}

func (s *Server) auditEventResource(ev *domain.AuditEvent) *aepb.AuditEvent {
	out := &aepb.AuditEvent{
		Id:       fid(ev.ID),
		Type:     coding(systemAuditEventType, "rest", "RESTful Operation"),
		Recorded: s.instant(ev.Time),
		Source:   &aepb.AuditEvent_Source{Site: fstr("medgate"), Observer: &dt.Reference{Display: fstr("medgate")}},
	}
	if ev.Event != "" {
		out.Subtype = []*dt.Coding{coding(SystemAuditEvent, ev.Event, "")}
	}
	if v, ok := enumCode(ev.Action, cpb.AuditEventActionCode_Value_value); ok {
		out.Action = &aepb.AuditEvent_ActionCode{Value: cpb.AuditEventActionCode_Value(v)}
	}
	outcome := cpb.AuditEventOutcomeCode_SUCCESS
	switch {
	case ev.Outcome >= 12:
		outcome = cpb.AuditEventOutcomeCode_MAJOR_FAILURE
	case ev.Outcome >= 8:
		outcome = cpb.AuditEventOutcomeCode_SERIOUS_FAILURE
	case ev.Outcome >= 4:
		outcome = cpb.AuditEventOutcomeCode_MINOR_FAILURE
	}
	out.Outcome = &aepb.AuditEvent_OutcomeCode{Value: outcome}
	if ev.Detail != "" {
		out.OutcomeDesc = fstr(ev.Detail)
	}
	agent := &aepb.AuditEvent_Agent{Requestor: &dt.Boolean{Value: ev.UserID != 0}}
	if ev.UserID != 0 {
		agent.Who = ref("Practitioner", ev.UserID)
		if ev.Login != "" {
			agent.Who.Display = fstr(ev.Login)
			agent.AltId = fstr(ev.Login)
		}
	} else {
		agent.Who = &dt.Reference{Display: fstr("medgate")}
	}
	if ev.Address != "" {
		agent.Network = &aepb.AuditEvent_Agent_Network{Address: fstr(ev.Address),
			Type: &aepb.AuditEvent_Agent_Network_TypeCode{Value: cpb.AuditEventAgentNetworkTypeCode_IP_ADDRESS}}
	}
	out.Agent = []*aepb.AuditEvent_Agent{agent}
	if ev.PatientID != 0 {
		out.Entity = append(out.Entity, &aepb.AuditEvent_Entity{
			What: ref("Patient", ev.PatientID),
			Type: coding(systemAuditEntityType, "1", "Person"),
			Role: coding(systemObjectRole, "1", "Patient"),
		})
	}
	if ev.ResourceType != "" && ev.ResourceID != 0 && !(ev.ResourceType == "Patient" && ev.ResourceID == ev.PatientID) {
		e := &aepb.AuditEvent_Entity{Type: coding(systemAuditEntityType, "2", "System Object")}
		if auditable[ev.ResourceType] {
			e.What = ref(ev.ResourceType, ev.ResourceID)
		} else {
			e.What = &dt.Reference{Display: fstr(ev.ResourceType + " " + strconv.FormatInt(ev.ResourceID, 10))}
		}
		out.Entity = append(out.Entity, e)
	}
	return out
}
