package mapping

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// HL7Options are the parser options for a device: its configured charset
// when MSH-18 is empty, the clinic's time zone for timestamps sent without
// an offset, and tolerance for units such as 10^9/L sent unescaped.
func HL7Options(dev *domain.Device, loc *time.Location) hl7.Options {
	opts := hl7.Options{Location: loc}
	opts.Lenient.UnescapedDelimiters = true
	if dev != nil && dev.Encoding != "" {
		opts.DefaultCharset = dev.Encoding
	}
	return opts
}

// HL7Results maps an HL7 v2 result message (ORU^R01, OUL^R22) into
// resources through BuildLab: per OBR group, the sample ID (SPM-2, else
// OBR-3) and the placer order number (OBR-2) lead to the order; PID-3
// identifiers with an issuer lead to the patient. Results of a message
// marked for QC (MSH-11 "Q…") never reach a chart. A message that does not
// parse, or is of another type, is a *listeners.InvalidError.
func HL7Results(ctx context.Context, in LabInput, raw []byte, loc *time.Location) (*domain.IngestResult, error) {
	msg, err := hl7.Parse(raw, HL7Options(in.Device, loc))
	if err != nil {
		return nil, &listeners.InvalidError{Stage: "parse", Reason: err.Error()}
	}
	msh := msg.MSH()
	typ := msh.MessageType()
	switch typ.Code + "^" + typ.Trigger {
	case "ORU^R01", "OUL^R22":
	default:
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true,
			Reason: fmt.Sprintf("message type %s^%s is not taken on this interface (ORU^R01, OUL^R22)", typ.Code, typ.Trigger)}
	}
	qc := strings.HasPrefix(strings.ToUpper(msh.ProcessingID()), "Q")
	sent, _ := msh.DateTime()
	var reports []LabReport
	for gi, g := range msg.ObservationGroups() {
		lr := LabReport{QC: qc, Keys: hl7Keys(g), Subject: hl7Subject(g.PID)}
		svc := g.OBR.UniversalServiceID()
		lr.Code = domain.Coding{System: domain.SystemDevice, Code: svc.Code, Display: svc.Text}
		lr.Status = reportStatus(g.OBR.ResultStatus())
		if t, err := g.OBR.ObservationDateTime(); err == nil && !t.IsZero() {
			lr.Effective = t.Time
		} else {
			lr.Effective = sent.Time
		}
		for oi, o := range g.Observations {
			r, err := hl7Result(o, lr.Effective)
			if err != nil {
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("OBR group %d, OBX %d: %v", gi+1, oi+1, err)}
			}
			if r != nil {
				lr.Results = append(lr.Results, *r)
			}
		}
		if len(lr.Results) > 0 {
			reports = append(reports, lr)
		}
	}
	if len(reports) == 0 {
		return nil, &listeners.InvalidError{Stage: "map", Reason: "the message carries no OBX results"}
	}
	return BuildLab(ctx, in, reports)
}

func hl7Keys(g hl7.ObservationGroup) Keys {
	k := Keys{Accession: g.OBR.PlacerOrderNumber().ID, Barcode: g.OBR.FillerOrderNumber().ID}
	for _, sp := range g.Specimens {
		id := sp.SpecimenID()
		if id.Filler.ID != "" {
			k.Barcode = id.Filler.ID
		} else if id.Placer.ID != "" {
			k.Barcode = id.Placer.ID
		}
	}
	if k.Accession == "" {
		k.Accession = g.ORC.PlacerOrderNumber().ID
	}
	for _, cx := range g.PID.Identifiers() {
		if id, ok := identifierOf(cx); ok {
			k.Identifiers = append(k.Identifiers, id)
		}
	}
	if names := g.PID.Names(); len(names) > 0 {
		k.Family, k.Given = names[0].Family, names[0].Given
	}
	s := hl7Subject(g.PID)
	k.BirthDate, k.Gender = s.BirthDate, s.Gender
	return k
}

// identifierOf gives a PID-3 identifier its system: the assigning
// authority's OID, or СНИЛС by name. One without an issuer matches nothing.
func identifierOf(cx hl7.CX) (domain.Identifier, bool) {
	a := cx.AssigningAuthority
	if cx.ID == "" {
		return domain.Identifier{}, false
	}
	ns := strings.ToUpper(a.NamespaceID)
	switch {
	case a.UniversalID == "1.2.643.100.3" || ns == "SNILS" || ns == "СНИЛС" || strings.EqualFold(cx.TypeCode, "SNILS"):
		return domain.Identifier{System: domain.SystemSNILS, Value: strings.NewReplacer("-", "", " ", "").Replace(cx.ID)}, true
	case a.UniversalID != "" && strings.EqualFold(a.UniversalIDType, "ISO"):
		return domain.Identifier{System: "urn:oid:" + a.UniversalID, Value: cx.ID}, true
	case a.UniversalID != "":
		return domain.Identifier{System: a.UniversalID, Value: cx.ID}, true
	}
	return domain.Identifier{}, false
}

func hl7Subject(pid hl7.PID) Subject {
	var s Subject
	if bd, err := pid.BirthDate(); err == nil && !bd.IsZero() {
		s.BirthDate = bd.Time.Format(time.DateOnly)
	}
	switch strings.ToUpper(pid.Sex()) {
	case "M":
		s.Gender = domain.GenderMale
	case "F":
		s.Gender = domain.GenderFemale
	case "O", "A":
		s.Gender = domain.GenderOther
	}
	return s
}

// hl7Result reads one OBX by its value type. A masked or unparseable number
// is kept as the text the device sent, never as a zero.
func hl7Result(o hl7.Observation, effective time.Time) (*LabResult, error) {
	x := o.OBX
	id := x.ObservationID()
	if id.Code == "" {
		return nil, fmt.Errorf("OBX-3 has no code")
	}
	r := &LabResult{DeviceCode: id.Code, DeviceDisplay: id.Text, RangeText: x.ReferenceRange(),
		Status: observationStatus(x.ResultStatus()), Effective: effective}
	if t, err := x.ObservationDateTime(); err == nil && !t.IsZero() {
		r.Effective = t.Time
	}
	if flags := x.AbnormalFlags(); len(flags) > 0 {
		r.Flag = flag(flags[0])
	}
	unit := x.Units().Code
	if unit == "" {
		unit = x.Units().Text
	}
	v := x.Value()
	switch v.Type {
	case "NM", "":
		if v.Number.Status == hl7.NumOK {
			r.Quantity = &domain.Quantity{Value: v.Number.Value, Comparator: v.Number.Comparator, Unit: unit}
		} else {
			r.Text = v.Text
		}
	case "SN":
		if v.SN.Separator == "" && v.SN.Num1.Status == hl7.NumOK {
			r.Quantity = &domain.Quantity{Value: v.SN.Num1.Value, Comparator: v.SN.Comparator, Unit: unit}
		} else {
			r.Text = v.Text
		}
	case "CE", "CWE", "CNE":
		c := v.Coded
		r.Coded = &domain.Coding{System: c.System, Code: c.Code, Display: c.Text}
	case "ED", "RP":
		return nil, nil // attachments: kept in the raw message; not a result value
	default:
		r.Text = v.Text
	}
	var notes []string
	for _, n := range o.Notes {
		notes = append(notes, n.Comment())
	}
	r.Note = strings.Join(notes, "\n")
	return r, nil
}

// flag normalizes an HL7 table 0078 abnormal flag to medgate's set.
func flag(f string) string {
	switch strings.ToUpper(f) {
	case "N":
		return domain.InterpNormal
	case "L", "<":
		return domain.InterpLow
	case "H", ">":
		return domain.InterpHigh
	case "LL":
		return domain.InterpCriticalLow
	case "HH":
		return domain.InterpCriticalHigh
	case "A", "AA":
		return domain.InterpAbnormal
	}
	return ""
}

// observationStatus maps HL7 table 0085 to FHIR observation status.
func observationStatus(s string) string {
	switch strings.ToUpper(s) {
	case "C":
		return "corrected"
	case "P", "R", "S", "I":
		return "preliminary"
	case "X", "D", "W":
		return "cancelled"
	}
	return "final"
}

// reportStatus maps HL7 table 0123 (OBR-25) to FHIR report status.
func reportStatus(s string) string {
	switch strings.ToUpper(s) {
	case "C":
		return "corrected"
	case "P", "R", "S", "I", "A":
		return "partial"
	case "X":
		return "cancelled"
	}
	return "final"
}
