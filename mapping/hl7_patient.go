package mapping

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// Patient identifiers from HL7 (PID-2, PID-3 repetitions, MRG-1), each
// given a system by the first rule that fits:
//
//  1. СНИЛС: assigning authority OID 1.2.643.100.3, authority namespace
//     "SNILS"/"СНИЛС" or its issuer "ПФР"/"СФР" (PFR, SFR), or identifier
//     type (CX-5) "SNILS"/"СНИЛС" → domain.SystemSNILS (the patient's
//     snils field, separators dropped, check number validated).
//  2. ЕНП: authority OID 1.2.643.100.114, or namespace/type "ENP", "ЕНП",
//     "OMS", "ОМС" → domain.SystemENP (the enp field, 16 digits).
//  3. An authority universal ID (CX-4.2): "urn:oid:<oid>" when its type is
//     ISO or it looks like an OID, "urn:uuid:<uuid>" for UUID, the ID itself
//     when it is a URI, else "urn:medgate:hl7:authority:<id>".
//  4. An authority namespace only (CX-4.1, e.g. "HOSP_MRN"):
//     "urn:medgate:hl7:authority:<namespace>". Namespaces are names the
//     clinic's systems agree on, so the HIS's ADT and the lab's results name
//     one patient alike; identifiers are kept per organization.
//  5. No authority at all: the sending device's own number,
//     "urn:medgate:device:<device id>:<type>" with the CX-5 type in lower
//     case ("mr" when none in PID-3, "external" in PID-2). The device id, not its name, so renaming a
//     device keeps its patients matched. Such identifiers match only
//     messages of the same device.
//
// Parts that go into a URN are path-escaped.

const (
	systemHL7Authority = "urn:medgate:hl7:authority:"
	systemDevicePrefix = "urn:medgate:device:"
)

// PatientIdentifier gives an HL7 CX identifier its system (see the rules
// above). dev may be nil: then identifiers without an authority are not
// taken.
func PatientIdentifier(cx hl7.CX, dev *domain.Device) (domain.Identifier, bool) {
	value := strings.TrimSpace(cx.ID)
	if value == "" {
		return domain.Identifier{}, false
	}
	a := cx.AssigningAuthority
	ns, uid, typ := strings.TrimSpace(a.NamespaceID), strings.TrimSpace(a.UniversalID), strings.TrimSpace(cx.TypeCode)
	switch {
	case uid == "1.2.643.100.3" || oneOf(ns, "SNILS", "СНИЛС", "ПФР", "СФР", "PFR", "SFR") || oneOf(typ, "SNILS", "СНИЛС"):
		return domain.Identifier{System: domain.SystemSNILS, Value: strings.NewReplacer("-", "", " ", "").Replace(value)}, true
	case uid == "1.2.643.100.114" || oneOf(ns, "ENP", "ЕНП", "OMS", "ОМС") || oneOf(typ, "ENP", "ЕНП", "OMS", "ОМС"):
		return domain.Identifier{System: domain.SystemENP, Value: strings.ReplaceAll(value, " ", "")}, true
	case uid == "" && strings.EqualFold(ns, Application):
		// medgate's own patient ID, as its outbound orders send it.
		return domain.Identifier{System: domain.SystemPatientID, Value: value}, true
	case uid != "":
		return domain.Identifier{System: universalSystem(uid, a.UniversalIDType, systemHL7Authority), Value: value}, true
	case ns != "":
		return domain.Identifier{System: systemHL7Authority + url.PathEscape(ns), Value: value}, true
	case dev != nil && dev.ID != 0:
		if typ == "" {
			typ = "mr"
		}
		return domain.Identifier{System: deviceSystem(dev, strings.ToLower(typ)), Value: value}, true
	}
	return domain.Identifier{}, false
}

func deviceSystem(dev *domain.Device, kind string) string {
	return systemDevicePrefix + strconv.FormatInt(dev.ID, 10) + ":" + url.PathEscape(kind)
}

// universalSystem makes a system URI of an HD/EI universal ID.
func universalSystem(uid, typ, fallback string) string {
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "ISO":
		return "urn:oid:" + uid
	case "UUID", "GUID":
		return "urn:uuid:" + strings.ToLower(uid)
	}
	switch {
	case isOID(uid):
		return "urn:oid:" + uid
	case strings.Contains(uid, ":"):
		return uid
	}
	return fallback + url.PathEscape(uid)
}

func isOID(s string) bool {
	if s == "" || !strings.Contains(s, ".") {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
	}
	return true
}

func oneOf(s string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(s, n) {
			return true
		}
	}
	return false
}

// pidIdentifiers lists PID-2 and every PID-3 repetition with their
// systems, without repeats.
func pidIdentifiers(pid hl7.PID, dev *domain.Device) []domain.Identifier {
	var out []domain.Identifier
	add := func(cx hl7.CX) {
		if id, ok := PatientIdentifier(cx, dev); ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	ext := pid.ExternalID()
	if ext.TypeCode == "" {
		ext.TypeCode = "external" // PID-2 is another number than PID-3's
	}
	add(ext)
	for _, cx := range pid.Identifiers() {
		add(cx)
	}
	return out
}

// fieldOf names the HL7 field a domain.Patient field comes from.
var fieldOf = map[string]string{
	"family": "PID-5.1", "given": "PID-5.2", "patronymic": "PID-5.3", "birthDate": "PID-7", "gender": "PID-8",
	"snils": "PID-3 СНИЛС", "enp": "PID-3 ЕНП", "phone": "PID-13", "address": "PID-11",
}

// patientError makes a validation failure an invalid-message error naming
// the HL7 field and medgate's.
func patientError(err error) error {
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		where := fieldOf[fe.Field]
		if where == "" && strings.HasPrefix(fe.Field, "identifier") {
			where = "PID-3"
		}
		if where != "" {
			return &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s (%s): %s", where, fe.Field, fe.Message)}
		}
	}
	return &listeners.InvalidError{Stage: "map", Reason: err.Error()}
}

// hl7Patient reads what a PID says about the patient: only the fields it
// carries are set (Gender stays empty when PID-8 is), normalized as the
// API normalizes them. A field that is present but unreadable (a birth date
// that is not a date) is an error naming it.
func hl7Patient(pid hl7.PID, dev *domain.Device) (domain.Patient, error) {
	var p domain.Patient
	if n, ok := pickName(pid.Names()); ok {
		p.Family, p.Given, p.Patronymic = n.Family, n.Given, n.Middle
	}
	bd, err := pid.BirthDate()
	switch {
	case err != nil:
		return p, &domain.FieldError{Field: "birthDate", Message: "not an HL7 date (YYYYMMDD)"}
	case !bd.IsZero() && bd.Precision < hl7.PrecisionDay:
		return p, &domain.FieldError{Field: "birthDate", Message: "the birth date has no day"}
	case !bd.IsZero():
		p.BirthDate = bd.Time.Format(time.DateOnly)
	}
	p.Gender = domain.GenderFromCode(pid.Sex())
	p.Address = address(pid.Addresses())
	p.Phone = phone(pid.HomePhones())
	if p.Phone == "" {
		p.Phone = phone(pid.BusinessPhones())
	}
	for _, id := range pidIdentifiers(pid, dev) {
		switch id.System {
		case domain.SystemSNILS:
			if p.SNILS != "" && p.SNILS != id.Value {
				return p, &domain.FieldError{Field: "snils", Message: "two different СНИЛС in PID-3"}
			}
			p.SNILS = id.Value
		case domain.SystemENP:
			if p.ENP != "" && p.ENP != id.Value {
				return p, &domain.FieldError{Field: "enp", Message: "two different ЕНП in PID-3"}
			}
			p.ENP = id.Value
		case domain.SystemPatientID:
			// medgate's own ID finds the patient; it is not kept as an
			// identifier the patient has elsewhere.
		default:
			p.Identifiers = append(p.Identifiers, id)
		}
	}
	g := p.Gender
	p.Normalize()
	p.Gender = g // Normalize defaults it; an update must not erase it
	return p, nil
}

// pickName takes the legal name (XPN-7 "L") when one is marked, else the
// first name with a family name.
func pickName(names []hl7.XPN) (hl7.XPN, bool) {
	for _, n := range names {
		if strings.EqualFold(n.TypeCode, "L") && n.Family != "" {
			return n, true
		}
	}
	for _, n := range names {
		if n.Family != "" || n.Given != "" {
			return n, true
		}
	}
	return hl7.XPN{}, false
}

// address writes PID-11 as one line: the home address (XAD-7 "H") when one
// is marked, else the first.
func address(list []hl7.XAD) string {
	pick := -1
	for i, a := range list {
		if a.IsZero() {
			continue
		}
		if pick < 0 || strings.EqualFold(a.TypeCode, "H") && !strings.EqualFold(list[pick].TypeCode, "H") {
			pick = i
		}
	}
	if pick < 0 {
		return ""
	}
	a := list[pick]
	var parts []string
	for _, s := range []string{a.Street, a.Other, a.City, a.State, a.Zip, a.Country} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// phone writes the first telephone number of PID-13/14 (XTN-1, else the
// parts, else the unformatted number).
func phone(list []hl7.XTN) string {
	for _, t := range list {
		if s := strings.TrimSpace(t.Number); s != "" {
			return s
		}
		if t.Local != "" {
			s := t.Local
			if t.AreaCode != "" {
				s = "(" + t.AreaCode + ") " + s
			}
			if t.CountryCode != "" {
				s = "+" + strings.TrimPrefix(t.CountryCode, "+") + " " + s
			}
			if t.Extension != "" {
				s += " ext. " + t.Extension
			}
			return s
		}
		if s := strings.TrimSpace(t.Unformatted); s != "" {
			return s
		}
	}
	return ""
}

// patientMatch is what the identifiers of a message found.
type patientMatch struct {
	Patient    *domain.Patient // the one patient, or nil
	Reason     string          // ReasonAmbiguousPatient when the identifiers disagree
	Key        string
	Detail     string
	Candidates []int64
}

// findPatient looks for the patient a message's identifiers name in org:
// every identifier must lead to the same patient (or to none). An earlier
// attach decision under the same key settles an ambiguity.
func findPatient(ctx context.Context, lk Lookup, org int64, ids []domain.Identifier, decisions []domain.ReconItem) (patientMatch, error) {
	var m patientMatch
	found := map[int64]domain.Patient{}
	for _, id := range ids {
		ps, err := lk.FindPatientsByIdentifier(ctx, org, id)
		if err != nil && !isNotFound(err) {
			return m, err
		}
		if len(ps) > 1 && m.Reason == "" {
			m.Reason, m.Key = domain.ReasonAmbiguousPatient, "pid:"+id.System+"|"+id.Value
			m.Detail = fmt.Sprintf("%d patients share identifier %s", len(ps), id.System)
		}
		for _, p := range ps {
			found[p.ID] = p
		}
	}
	for id := range found {
		m.Candidates = append(m.Candidates, id)
	}
	slices.Sort(m.Candidates)
	if m.Reason == "" && len(found) > 1 {
		m.Reason, m.Key = domain.ReasonAmbiguousPatient, "pid:"+ids[0].System+"|"+ids[0].Value
		m.Detail = fmt.Sprintf("the message's identifiers belong to %d different patients", len(found))
	}
	if m.Reason != "" {
		if d, ok := decided(decisions, m.Key); ok {
			if p, ok := found[d.PatientID]; ok {
				return patientMatch{Patient: &p}, nil
			}
		}
		return m, nil
	}
	m.Candidates = nil
	for _, p := range found {
		m.Patient = &p
	}
	return m, nil
}

// keyConflict reports a СНИЛС or ЕНП the message gives that differs from
// the matched patient's: a key is never overwritten by a message.
func keyConflict(cur *domain.Patient, carried domain.Patient) string {
	switch {
	case carried.SNILS != "" && cur.SNILS != "" && carried.SNILS != cur.SNILS:
		return "СНИЛС"
	case carried.ENP != "" && cur.ENP != "" && carried.ENP != cur.ENP:
		return "ЕНП"
	}
	return ""
}

// mergePatient is the patient after an update: the stored one with every
// field the message carries, identifiers added. The store applies the same
// rule to the row it reads in its transaction.
func mergePatient(cur domain.Patient, carried domain.Patient) domain.Patient {
	m := cur
	m.Identifiers = slices.Clone(cur.Identifiers)
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&m.Family, carried.Family}, {&m.Given, carried.Given}, {&m.Patronymic, carried.Patronymic},
		{&m.BirthDate, carried.BirthDate}, {&m.SNILS, carried.SNILS}, {&m.ENP, carried.ENP},
		{&m.Phone, carried.Phone}, {&m.Address, carried.Address},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if carried.Gender != "" {
		m.Gender = carried.Gender
	}
	for _, id := range carried.Identifiers {
		if !slices.Contains(m.Identifiers, id) {
			m.Identifiers = append(m.Identifiers, id)
		}
	}
	return m
}

// patientPlan is what a message's PID leads to: an upsert, or a
// reconciliation item saying why not.
type patientPlan struct {
	Upsert  *domain.PatientUpsert
	Match   *domain.Patient // the existing patient, if any
	Recon   *domain.ReconItem
	Missing string // why a new patient cannot be registered (a required field absent)
}

// planPatient decides what to do with the patient a PID describes: update
// the one patient its identifiers name, or register a new one. Validation
// failures of data the message carries are errors (the message is
// refused); missing data needed to register a patient is reported in
// Missing for the caller to decide.
func planPatient(ctx context.Context, in HL7Input, pid hl7.PID, kind, detail string) (patientPlan, error) {
	var plan patientPlan
	carried, err := hl7Patient(pid, in.Device)
	if err != nil {
		return plan, patientError(err)
	}
	ids := carried.AllIdentifiers()
	if len(ids) == 0 {
		plan.Missing = "PID-3 (no patient identifier)"
		return plan, nil
	}
	m, err := findPatient(ctx, in.Lookup, in.org(), ids, in.Decisions)
	if err != nil {
		return plan, err
	}
	if m.Reason != "" {
		plan.Recon = &domain.ReconItem{Kind: kind, Reason: m.Reason, Key: m.Key, Detail: m.Detail, Candidates: m.Candidates}
		return plan, nil
	}
	up := &domain.PatientUpsert{Patient: carried, MaxPatients: in.MaxPatients, Source: "hl7", Detail: detail}
	up.Patient.OrganizationID = in.org()
	if m.Patient != nil {
		if k := keyConflict(m.Patient, carried); k != "" {
			plan.Recon = &domain.ReconItem{Kind: kind, Reason: domain.ReasonAmbiguousPatient, Key: "pid:" + ids[0].System + "|" + ids[0].Value,
				Detail:     fmt.Sprintf("the message's %s differs from the one patient %d has: a person decides which is right", k, m.Patient.ID),
				Candidates: []int64{m.Patient.ID}}
			return plan, nil
		}
		merged := mergePatient(*m.Patient, carried)
		if err := merged.Validate(); err != nil {
			return plan, patientError(err)
		}
		up.ID = m.Patient.ID
		plan.Upsert, plan.Match = up, m.Patient
		return plan, nil
	}
	p := carried
	p.Normalize()
	for _, f := range []struct{ v, field string }{{p.Family, "PID-5.1 family name"}, {p.Given, "PID-5.2 given name"}, {p.BirthDate, "PID-7 birth date"}} {
		if f.v == "" {
			plan.Missing = f.field
			return plan, nil
		}
	}
	if err := p.Validate(); err != nil {
		return plan, patientError(err)
	}
	up.Patient.Active = true
	if up.Patient.Gender == "" {
		up.Patient.Gender = domain.GenderUnknown
	}
	plan.Upsert = up
	return plan, nil
}

// HL7Patient maps ADT^A01, A04, A08, A28 and A31: the patient PID
// describes is updated when its identifiers name one patient of the
// device's organization (only the fields the message carries), else
// registered. Identifiers naming several patients go to reconciliation;
// data that fails the API's validation (a СНИЛС with a wrong check number)
// refuses the message with the field named.
func HL7Patient(ctx context.Context, in HL7Input, msg *hl7.Message) (*domain.IngestResult, error) {
	typ := msgType(msg)
	pid := msg.PID()
	if pid.Segment == nil {
		return nil, &listeners.InvalidError{Stage: "map", Reason: typ + " has no PID segment"}
	}
	plan, err := planPatient(ctx, in, pid, "patient", typ)
	if err != nil {
		return nil, err
	}
	res := &domain.IngestResult{}
	switch {
	case plan.Recon != nil:
		res.Recon = append(res.Recon, domain.ReconDraft{Item: *plan.Recon, Report: -1, Study: -1})
	case plan.Missing != "":
		return nil, &listeners.InvalidError{Stage: "map", Reason: plan.Missing + " is required to register a patient"}
	default:
		res.Patients = append(res.Patients, *plan.Upsert)
	}
	return res, nil
}

// HL7Merge maps ADT^A40 (and its patient-ID-only forerunner ADT^A34):
// medgate never merges patients on a message. The request goes to the
// reconciliation queue (reason merge_request) naming the records it found,
// for a person to confirm and merge.
func HL7Merge(ctx context.Context, in HL7Input, msg *hl7.Message) (*domain.IngestResult, error) {
	typ := msgType(msg)
	pid := msg.PID()
	seg := msg.Segment("MRG")
	if pid.Segment == nil || seg == nil {
		return nil, &listeners.InvalidError{Stage: "map", Reason: typ + " needs a PID (the surviving patient) and an MRG (the record merged into it)"}
	}
	mrg := hl7.MRG{Segment: seg}
	surviving := pidIdentifiers(pid, in.Device)
	var prior []domain.Identifier
	for _, cx := range append(mrg.PriorIdentifiers(), mrg.PriorPatientID()) {
		if id, ok := PatientIdentifier(cx, in.Device); ok && !slices.Contains(prior, id) {
			prior = append(prior, id)
		}
	}
	if len(surviving) == 0 || len(prior) == 0 {
		return nil, &listeners.InvalidError{Stage: "map", Reason: typ + ": PID-3 and MRG-1 must each name the patient"}
	}
	describe := func(what, field string, ids []domain.Identifier) (string, []int64, error) {
		m, err := findPatient(ctx, in.Lookup, in.org(), ids, nil)
		if err != nil {
			return "", nil, err
		}
		switch {
		case m.Patient != nil:
			return fmt.Sprintf("%s (%s) is patient %d", what, field, m.Patient.ID), []int64{m.Patient.ID}, nil
		case len(m.Candidates) > 0:
			return fmt.Sprintf("%s (%s) matches %d patients", what, field, len(m.Candidates)), m.Candidates, nil
		}
		return fmt.Sprintf("%s (%s) is not known here", what, field), nil, nil
	}
	s, sIDs, err := describe("the surviving record", "PID-3", surviving)
	if err != nil {
		return nil, err
	}
	p, pIDs, err := describe("the record to merge into it", "MRG-1", prior)
	if err != nil {
		return nil, err
	}
	var cands []int64
	for _, id := range append(sIDs, pIDs...) {
		if !slices.Contains(cands, id) {
			cands = append(cands, id)
		}
	}
	item := domain.ReconItem{Kind: "patient", Reason: domain.ReasonMergeRequest, Candidates: cands,
		Key:    "merge:" + prior[0].System + "|" + prior[0].Value + ">" + surviving[0].System + "|" + surviving[0].Value,
		Detail: fmt.Sprintf("%s asks to merge two patient records: %s; %s. medgate merges nothing on a message: confirm and merge by hand", typ, s, p)}
	return &domain.IngestResult{Recon: []domain.ReconDraft{{Item: item, Report: -1, Study: -1}}}, nil
}

func msgType(msg *hl7.Message) string {
	t := msg.MSH().MessageType()
	return t.Code + "^" + t.Trigger
}
