package mapping

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// Orders from an outside LIS or HIS (ORM^O01, OML^O21).
//
// One ORC with the OBR segments that follow it (up to the next ORC) is one
// medgate lab order: every OBR-4 code (repetitions included) is a requested
// test of it, so an ORC with sixteen OBRs sharing one placer number is one
// order of sixteen tests.
//
// medgate keeps its own accession number. The placer number (ORC-2, else
// OBR-2) and the filler number (ORC-3, else OBR-3) are identifiers of the
// order, their system naming who assigned them:
// "urn:medgate:order:placer:<EI namespace>" (or "urn:oid:<EI universal ID>";
// with neither, "urn:medgate:device:<device id>:placer"), and "filler"
// likewise. A later message of the same system finds the order by them;
// results (ORU/OUL and ASTM) find it by either number, by value, as well as
// by medgate's accession number, which an outside system may echo as its
// placer number.
//
// ORC-1 decides: NW (and SN) create the order, or update it if it exists
// already (a resend); XO, XR and XX change it; CA, OC, DC, CR, OD cancel it;
// SC moves it to the status in ORC-5 (CM completed, CA/DC cancelled,
// IP/SC/A active). A change, cancel or status for an order medgate does not
// hold goes to reconciliation (no_order); other control codes refuse the
// message. Specimens: SPM-2 (placer-assigned ID, else filler) with SPM-4
// type and SPM-17 collection time; without SPM, a new order takes OBR-3
// (the filler's sample number, as analyzers and lab middleware use it) as
// its specimen barcode. Priority: TQ1-9, else OBR-27.6, ORC-7.6, OBR-5
// (S stat, A asap, R routine, P and T urgent). OBR-4 codes go through the
// device's code map when it has them; else they stay device codes (LOINC
// when OBR-4.3 says LN).
//
// The patient is matched or registered as for ADT (HL7Patient). For an
// existing order without a PID, the order's patient stays. A patient who
// cannot be registered (no identifier, name or birth date) or whom the
// identifiers do not name unambiguously queues the order (unknown_patient,
// ambiguous_patient); a PID naming another patient than the order's queues
// it too. An earlier attach decision under the same key is followed.

const (
	systemOrderPrefix = "urn:medgate:order:"
)

// orderGroup is one ORC with its OBRs and what belongs to them.
type orderGroup struct {
	PID   hl7.PID
	ORC   hl7.ORC
	OBRs  []hl7.OBR
	TQ1   []hl7.TQ1
	Notes []hl7.NTE
	SPMs  []hl7.SPM
}

func orderGroups(msg *hl7.Message) []orderGroup {
	var groups []orderGroup
	var pid hl7.PID
	var cur *orderGroup
	afterOBX := false
	open := func() {
		groups = append(groups, orderGroup{PID: pid})
		cur = &groups[len(groups)-1]
	}
	for i := range msg.Segments {
		s := &msg.Segments[i]
		switch s.Name {
		case "PID":
			pid, cur = hl7.PID{Segment: s}, nil
		case "ORC":
			open()
			cur.ORC = hl7.ORC{Segment: s}
		case "OBR":
			if cur == nil {
				open()
			}
			cur.OBRs = append(cur.OBRs, hl7.OBR{Segment: s})
		case "TQ1":
			if cur != nil {
				cur.TQ1 = append(cur.TQ1, hl7.TQ1{Segment: s})
			}
		case "NTE":
			if cur != nil && len(cur.OBRs) > 0 && !afterOBX {
				cur.Notes = append(cur.Notes, hl7.NTE{Segment: s})
			}
		case "SPM":
			if cur != nil {
				cur.SPMs = append(cur.SPMs, hl7.SPM{Segment: s})
			}
		}
		switch s.Name {
		case "OBX":
			afterOBX = true
		case "NTE":
		default:
			afterOBX = false
		}
	}
	return groups
}

// orderNumbers are a group's placer and filler numbers.
type orderNumbers struct {
	Placer, Filler []hl7.EI
}

func (g orderGroup) numbers() orderNumbers {
	var n orderNumbers
	add := func(list *[]hl7.EI, ei hl7.EI) {
		ei.ID = strings.TrimSpace(ei.ID)
		if ei.ID != "" && !slices.Contains(*list, ei) {
			*list = append(*list, ei)
		}
	}
	add(&n.Placer, g.ORC.PlacerOrderNumber())
	add(&n.Filler, g.ORC.FillerOrderNumber())
	for _, obr := range g.OBRs {
		add(&n.Placer, obr.PlacerOrderNumber())
		add(&n.Filler, obr.FillerOrderNumber())
	}
	return n
}

// OrderIdentifier gives a placer or filler number (role "placer" or
// "filler") its system (see the package comment of the order mapping).
func OrderIdentifier(ei hl7.EI, role string, dev *domain.Device) (domain.Identifier, bool) {
	value := strings.TrimSpace(ei.ID)
	if value == "" {
		return domain.Identifier{}, false
	}
	prefix := systemOrderPrefix + role + ":"
	switch ns, uid := strings.TrimSpace(ei.NamespaceID), strings.TrimSpace(ei.UniversalID); {
	case uid != "":
		return domain.Identifier{System: universalSystem(uid, ei.UniversalIDType, prefix), Value: value}, true
	case ns != "":
		return domain.Identifier{System: prefix + url.PathEscape(ns), Value: value}, true
	case dev != nil && dev.ID != 0:
		return domain.Identifier{System: deviceSystem(dev, role), Value: value}, true
	}
	return domain.Identifier{}, false
}

func (n orderNumbers) identifiers(dev *domain.Device) []domain.Identifier {
	var out []domain.Identifier
	for _, p := range []struct {
		role string
		list []hl7.EI
	}{{"placer", n.Placer}, {"filler", n.Filler}} {
		for _, ei := range p.list {
			if id, ok := OrderIdentifier(ei, p.role, dev); ok && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// orderFound is what a group's numbers found.
type orderFound struct {
	Order     *domain.ServiceRequest
	Ambiguous []int64
}

// findOrder looks for the order a group's numbers name: medgate's own
// accession number (echoed as a placer number), or an identifier with the
// same system and value.
func findOrder(ctx context.Context, lk Lookup, org int64, n orderNumbers, ids []domain.Identifier) (orderFound, error) {
	found := map[int64]domain.ServiceRequest{}
	for _, ei := range n.Placer {
		o, err := lk.FindOrderByAccession(ctx, org, ei.ID)
		if err != nil && !isNotFound(err) {
			return orderFound{}, err
		}
		if err == nil {
			found[o.ID] = *o
		}
	}
	if ol, ok := lk.(OrderLookup); ok {
		for _, id := range ids {
			refs, err := ol.FindOrdersByIdentifier(ctx, org, id.Value)
			if err != nil && !isNotFound(err) {
				return orderFound{}, err
			}
			for _, r := range refs {
				if r.Identifier == id {
					found[r.Order.ID] = r.Order
				}
			}
		}
	}
	var f orderFound
	for id, o := range found {
		f.Ambiguous = append(f.Ambiguous, id)
		f.Order = &o
	}
	slices.Sort(f.Ambiguous)
	if len(found) > 1 {
		f.Order = nil
		return f, nil
	}
	f.Ambiguous = nil
	return f, nil
}

// orderControl classifies ORC-1.
func orderControl(code string) string {
	switch code {
	case "NW", "SN", "":
		return "new"
	case "XO", "XR", "XX":
		return "change"
	case "CA", "OC", "DC", "CR", "OD":
		return "cancel"
	case "SC":
		return "status"
	}
	return ""
}

// orderStatus maps ORC-5 (HL7 table 0038) to a medgate order status; ""
// when it says nothing medgate keeps.
func orderStatus(s string) domain.RequestStatus {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CM":
		return domain.StatusCompleted
	case "CA", "DC":
		return domain.StatusCancelled
	case "IP", "SC", "A":
		return domain.StatusActive
	}
	return ""
}

// priority maps HL7 table 0485 to FHIR request priority.
func priority(s string) domain.Priority {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "S":
		return domain.PriorityStat
	case "A":
		return domain.PriorityASAP
	case "R":
		return domain.PriorityRoutine
	case "P", "T":
		return domain.PriorityUrgent
	}
	return ""
}

func (g orderGroup) priority() domain.Priority {
	for _, t := range g.TQ1 {
		for _, c := range t.Priorities() {
			if p := priority(c.Code); p != "" {
				return p
			}
		}
	}
	for _, obr := range g.OBRs {
		if p := priority(obr.QuantityTimingPriority()); p != "" {
			return p
		}
	}
	if p := priority(g.ORC.Priority()); p != "" {
		return p
	}
	for _, obr := range g.OBRs {
		if p := priority(obr.Priority()); p != "" {
			return p
		}
	}
	return ""
}

// codes reads every OBR-4 repetition, through the device's code map.
func (g orderGroup) codes(cm *domain.CodeMap) ([]domain.Coding, error) {
	var out []domain.Coding
	for i, obr := range g.OBRs {
		for _, rep := range obr.Field(4).Reps() {
			code, text, system := strings.TrimSpace(rep.Comp(1).String()), rep.Comp(2).String(), rep.Comp(3).String()
			if code == "" {
				if text == "" {
					continue
				}
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("OBR %d: OBR-4 names a test without its code", i+1)}
			}
			c := domain.Coding{System: domain.SystemDevice, Code: code, Display: text}
			if e, ok := Entry(cm, code); ok {
				c = domain.Coding{System: e.System, Code: e.Code, Display: e.Display}
				if c.System == "" {
					c.System = domain.SystemLocalCode
				}
				if e.Code == "" && e.LOINC != "" {
					c = domain.Coding{System: domain.SystemLOINC, Code: e.LOINC, Display: e.Display}
				}
				if c.Display == "" {
					c.Display = text
				}
			} else if strings.EqualFold(system, "LN") {
				c.System = domain.SystemLOINC
			}
			if !slices.ContainsFunc(out, func(o domain.Coding) bool { return o.System == c.System && o.Code == c.Code }) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// specimens reads SPM segments; without them, a new order takes the
// filler number as its barcode.
func (g orderGroup) specimens(n orderNumbers, creating bool) ([]domain.Specimen, error) {
	var out []domain.Specimen
	seen := map[string]bool{}
	for i, spm := range g.SPMs {
		id := spm.SpecimenID()
		barcode := strings.TrimSpace(id.Placer.ID)
		if barcode == "" {
			barcode = strings.TrimSpace(id.Filler.ID)
		}
		if barcode == "" || seen[barcode] {
			continue
		}
		seen[barcode] = true
		sp := domain.Specimen{Barcode: barcode}
		var err error
		if sp.Type, sp.Collected, err = specimenOf(spm); err != nil {
			return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("SPM %d: %v", i+1, err)}
		}
		out = append(out, sp)
	}
	if len(out) == 0 && creating && len(n.Filler) > 0 {
		sp := domain.Specimen{Barcode: n.Filler[0].ID}
		for _, obr := range g.OBRs {
			if t := obr.SpecimenSource(); t.Code != "" {
				sp.Type = domain.Coding{System: hl7System(t.System), Code: t.Code, Display: t.Text}
				break
			}
		}
		out = append(out, sp)
	}
	return out, nil
}

// specimenOf reads a specimen's type (SPM-4) and collection time
// (SPM-17.1).
func specimenOf(spm hl7.SPM) (typ domain.Coding, collected *time.Time, err error) {
	if t := spm.SpecimenType(); t.Code != "" {
		typ = domain.Coding{System: hl7System(t.System), Code: t.Code, Display: t.Text}
	}
	c, err := spm.CollectionDateTime()
	if err == nil && !c.IsZero() {
		at := c.Time
		collected = &at
	}
	return typ, collected, err
}

// hl7System names a few HL7 coding systems by their URI; others are kept
// as sent.
func hl7System(s string) string {
	switch strings.ToUpper(s) {
	case "LN":
		return domain.SystemLOINC
	case "HL70487":
		return "http://terminology.hl7.org/CodeSystem/v2-0487"
	}
	return s
}

// scheduled is when the order is to be done: TQ1-7, else OBR-27.4.
func (g orderGroup) scheduled(loc *time.Location) *time.Time {
	for _, t := range g.TQ1 {
		if s, err := t.StartDateTime(); err == nil && !s.IsZero() {
			return &s.Time
		}
	}
	for _, obr := range g.OBRs {
		v := obr.Field(27).Comp(4).String()
		if v == "" {
			continue
		}
		if s, err := hl7.ParseTime(v, loc); err == nil && !s.IsZero() {
			return &s.Time
		}
	}
	return nil
}

func (g orderGroup) note() string {
	var lines []string
	for _, n := range g.Notes {
		if c := strings.TrimSpace(n.Comment()); c != "" {
			lines = append(lines, c)
		}
	}
	return strings.Join(lines, "\n")
}

// HL7Orders maps ORM^O01 and OML^O21 (see the comment at the top of this
// file).
func HL7Orders(ctx context.Context, in HL7Input, msg *hl7.Message) (*domain.IngestResult, error) {
	typ := msgType(msg)
	groups := orderGroups(msg)
	if len(groups) == 0 {
		return nil, &listeners.InvalidError{Stage: "map", Reason: typ + " has no ORC or OBR segment"}
	}
	res := &domain.IngestResult{}
	// A PID repeated in several groups is one patient: planned once.
	plans := map[*hl7.Segment]patientPlan{}
	upserted := map[*hl7.Segment]int{}
	barcodes := map[string]int{}
	for gi, g := range groups {
		where := fmt.Sprintf("order %d", gi+1)
		control := strings.ToUpper(strings.TrimSpace(g.ORC.OrderControl()))
		action := orderControl(control)
		if action == "" {
			return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: ORC-1 order control %q is not taken (NW, XO, CA, DC, SC)", where, control)}
		}
		if len(g.OBRs) == 0 && action != "cancel" && action != "status" {
			return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: ORC-1 %s needs an OBR", where, control)}
		}
		detail := typ + " " + control
		n := g.numbers()
		ids := n.identifiers(in.Device)
		if len(ids) == 0 {
			return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: no placer (ORC-2/OBR-2) or filler (ORC-3/OBR-3) order number", where)}
		}
		key := "order:" + ids[0].System + "|" + ids[0].Value
		queue := func(reason, text string, cands []int64) {
			res.Recon = append(res.Recon, domain.ReconDraft{Item: domain.ReconItem{Kind: "lab", Reason: reason, Key: key,
				Detail: fmt.Sprintf("%s (%s): %s", detail, where, text), Candidates: cands}, Report: -1, Study: -1})
		}
		found, err := findOrder(ctx, in.Lookup, in.org(), n, ids)
		if err != nil {
			return nil, err
		}
		if len(found.Ambiguous) > 0 {
			queue(domain.ReasonNoOrder, fmt.Sprintf("the order numbers name %d different orders", len(found.Ambiguous)), nil)
			continue
		}
		existing := found.Order
		if existing == nil && action != "new" {
			queue(domain.ReasonNoOrder, "no order with these order numbers to change", nil)
			continue
		}

		// The patient.
		var plan patientPlan
		if g.PID.Segment != nil {
			p, ok := plans[g.PID.Segment]
			if !ok {
				if p, err = planPatient(ctx, in, g.PID, "lab", typ); err != nil {
					return nil, err
				}
				plans[g.PID.Segment] = p
			}
			plan = p
		}
		up := domain.OrderUpsert{Patient: -1, Identifiers: ids, Source: "hl7", Detail: detail}
		up.Request.OrganizationID = in.org()
		switch {
		case existing != nil && plan.Match != nil && plan.Match.ID != existing.PatientID:
			queue(domain.ReasonAmbiguousPatient, fmt.Sprintf("the order is patient %d's but PID names patient %d", existing.PatientID, plan.Match.ID),
				[]int64{existing.PatientID, plan.Match.ID})
			continue
		case existing != nil:
			up.ID, up.Request.PatientID = existing.ID, existing.PatientID
			if plan.Match != nil && plan.Upsert != nil {
				up.Patient = addPatient(res, upserted, g.PID.Segment, plan.Upsert)
			}
		case plan.Recon != nil:
			if d, ok := decided(in.Decisions, plan.Recon.Key); ok {
				up.Request.PatientID = d.PatientID
				break
			}
			r := *plan.Recon
			r.Detail = fmt.Sprintf("%s (%s): %s", detail, where, r.Detail)
			res.Recon = append(res.Recon, domain.ReconDraft{Item: r, Report: -1, Study: -1})
			continue
		case plan.Upsert != nil:
			up.Patient = addPatient(res, upserted, g.PID.Segment, plan.Upsert)
			up.Request.PatientID = plan.Upsert.ID
		default:
			pkey := key
			why := "the message names no patient"
			if g.PID.Segment != nil {
				why = "no patient with these identifiers, and " + plan.Missing + " is missing to register one"
				if ids := pidIdentifiers(g.PID, in.Device); len(ids) > 0 {
					pkey = "pid:" + ids[0].System + "|" + ids[0].Value
				}
			}
			if d, ok := decided(in.Decisions, pkey); ok {
				up.Request.PatientID = d.PatientID
				break
			}
			res.Recon = append(res.Recon, domain.ReconDraft{Item: domain.ReconItem{Kind: "lab", Reason: domain.ReasonUnknownPatient, Key: pkey,
				Detail: fmt.Sprintf("%s (%s): %s", detail, where, why)}, Report: -1, Study: -1})
			continue
		}

		// The order.
		r := &up.Request
		if len(g.OBRs) > 0 {
			if r.Codes, err = g.codes(in.CodeMap); err != nil {
				return nil, err
			}
			r.Priority, r.Note = g.priority(), g.note()
			if s := g.scheduled(in.Location); s != nil {
				r.Scheduled = s
			}
		}
		if r.Specimens, err = g.specimens(n, existing == nil); err != nil {
			return nil, err
		}
		for _, sp := range r.Specimens {
			if prev, ok := barcodes[sp.Barcode]; ok && prev != gi {
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: specimen barcode repeated from order %d", where, prev+1)}
			}
			barcodes[sp.Barcode] = gi
			s, err := in.Lookup.FindSpecimen(ctx, in.org(), sp.Barcode)
			switch {
			case err != nil && !isNotFound(err):
				return nil, err
			case err == nil && (existing == nil || s.RequestID != existing.ID):
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: a specimen barcode of the message already labels another order", where)}
			}
		}
		if existing != nil {
			up.Request.Specimens = newSpecimens(existing, r.Specimens)
			switch action {
			case "cancel":
				up.Status = domain.StatusCancelled
			case "status":
				up.Status = orderStatus(g.ORC.OrderStatus())
			}
			if up.Status == domain.StatusCancelled && existing.Status == domain.StatusCompleted {
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: the order is completed; it cannot be cancelled", where)}
			}
			if up.Status == existing.Status || up.Status != "" && !existing.Status.CanMove(up.Status) {
				up.Status = "" // nothing to move, or a move the lifecycle forbids: kept as it is
			}
		} else {
			r.Category, r.Status = domain.CategoryLab, domain.StatusActive
			if r.Priority == "" {
				r.Priority = domain.PriorityRoutine
			}
			r.Normalize()
			check := *r
			if check.PatientID == 0 {
				check.PatientID = 1 // registered by this message: any id passes
			}
			if err := check.Validate(); err != nil {
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("%s: %v", where, err)}
			}
		}
		res.Orders = append(res.Orders, up)
	}
	return res, nil
}

// addPatient adds a patient upsert once per PID segment and returns its
// index in the result.
func addPatient(res *domain.IngestResult, seen map[*hl7.Segment]int, pid *hl7.Segment, up *domain.PatientUpsert) int {
	if i, ok := seen[pid]; ok {
		return i
	}
	res.Patients = append(res.Patients, *up)
	seen[pid] = len(res.Patients) - 1
	return seen[pid]
}

// newSpecimens keeps the specimens the order does not have yet.
func newSpecimens(o *domain.ServiceRequest, list []domain.Specimen) []domain.Specimen {
	var out []domain.Specimen
	for _, sp := range list {
		if !slices.ContainsFunc(o.Specimens, func(h domain.Specimen) bool { return h.Barcode == sp.Barcode }) {
			out = append(out, sp)
		}
	}
	return out
}
