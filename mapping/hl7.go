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
// an offset, and tolerance for units such as 10^9/L sent unescaped (unless
// the device is set to strict-delimiters).
func HL7Options(dev *domain.Device, loc *time.Location) hl7.Options {
	opts := hl7.Options{Location: loc}
	opts.Lenient.UnescapedDelimiters = true
	if dev != nil && dev.Encoding != "" {
		opts.DefaultCharset = dev.Encoding
	}
	if dev != nil {
		for _, l := range dev.Lenient {
			switch l {
			case "glued-segments":
				opts.Lenient.GluedSegments = true
			case "ignore-msh18":
				opts.Lenient.IgnoreMSH18 = true
			case "sniff-utf8":
				opts.Lenient.SniffUTF8 = true
			case "unknown-charset":
				opts.Lenient.UnknownCharset = true
			case "strict-delimiters":
				opts.Lenient.UnescapedDelimiters = false
			}
		}
	}
	return opts
}

// HL7Results maps an HL7 v2 result message (ORU^R01, OUL^R22) into
// resources through BuildLab: per OBR group, the sample ID (SPM-2, else
// OBR-3) and the placer order number (OBR-2) lead to the order (by
// medgate's accession number, a specimen barcode, or a placer/filler number
// an outside system gave the order); PID-2/PID-3 identifiers, with systems
// by PatientIdentifier's rules, lead to the patient. OBX lines of text
// without a test code (a narrative report) become the report's conclusion;
// OBX of type ED (a PDF report, a histogram image) become the report's
// presentedForm, their decoded bytes in Attachment.Data for the processor
// to store (see hl7Attachment).
// Results of a message marked for QC (MSH-11 "Q…") never reach a chart. A
// message that does not parse, or is of another type, is a
// *listeners.InvalidError. The pipeline's processor takes every inbound
// type through HL7Inbound; HL7Results is the results-only entry.
func HL7Results(ctx context.Context, in LabInput, raw []byte, loc *time.Location) (*domain.IngestResult, error) {
	msg, err := ParseHL7(raw, in.Device, loc)
	if err != nil {
		return nil, err
	}
	typ := msg.MSH().MessageType()
	switch typ.Code + "^" + typ.Trigger {
	case "ORU^R01", "OUL^R22":
	default:
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true,
			Reason: fmt.Sprintf("message type %s^%s is not taken on this interface (ORU^R01, OUL^R22)", typ.Code, typ.Trigger)}
	}
	return hl7ResultsOf(ctx, HL7Input{LabInput: in}, msg)
}

// hl7ResultsOf maps a parsed ORU^R01 or OUL^R22 (see HL7Results).
func hl7ResultsOf(ctx context.Context, hin HL7Input, msg *hl7.Message) (*domain.IngestResult, error) {
	in := hin.LabInput
	if in.Device != nil && !in.Device.SendsResults {
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true,
			Reason: fmt.Sprintf("results (%s) are not taken from this device: it is not set to send results", msgType(msg))}
	}
	msh := msg.MSH()
	qc := strings.HasPrefix(strings.ToUpper(msh.ProcessingID()), "Q")
	sent, _ := msh.DateTime()
	var reports []LabReport
	var skipped []string // attachments that could not be kept
	for gi, g := range msg.ObservationGroups() {
		lr := LabReport{QC: qc, Keys: hl7Keys(g, in.Device), Subject: hl7Subject(g.PID)}
		lr.QC = lr.QC || QCSample(in.Device, lr.Keys.Barcode)
		if len(g.Specimens) > 0 {
			// A collection time that does not read leaves the results be.
			lr.SpecimenType, lr.Collected, _ = specimenOf(g.Specimens[0])
		}
		svc := g.OBR.UniversalServiceID()
		lr.Code = domain.Coding{System: domain.SystemDevice, Code: svc.Code, Display: svc.Text}
		lr.Status = reportStatus(g.OBR.ResultStatus())
		if t, err := g.OBR.ObservationDateTime(); err == nil && !t.IsZero() {
			lr.Effective = t.Time
		} else {
			lr.Effective = sent.Time
		}
		var narrative []string
		for oi, o := range g.Observations {
			if text, ok := narrativeLine(o); ok {
				narrative = append(narrative, text)
				continue
			}
			if o.OBX.ValueType() == "ED" {
				a, err := hl7Attachment(o, hin.maxAttachment())
				if err != nil {
					// The results stand without it: a histogram that does not
					// decode must not keep a blood count from the chart. The
					// message's reason says what was left out; its raw bytes
					// keep the attachment as sent.
					skipped = append(skipped, fmt.Sprintf("OBR group %d, OBX %d: %v", gi+1, oi+1, err))
					continue
				}
				lr.Attachments = append(lr.Attachments, *a)
				continue
			}
			r, err := hl7Result(o, lr.Effective)
			if err != nil {
				return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("OBR group %d, OBX %d: %v", gi+1, oi+1, err)}
			}
			if r != nil {
				lr.Results = append(lr.Results, *r)
			}
		}
		// The order's own notes (NTE after OBR: "hemolysed", "fasting")
		// follow the narrative: R4's DiagnosticReport has no note, and a
		// doctor must see them with the results.
		for _, n := range g.Notes {
			if c := strings.TrimSpace(n.Comment()); c != "" {
				narrative = append(narrative, c)
			}
		}
		lr.Conclusion = strings.TrimSpace(strings.Join(narrative, "\n"))
		if len(lr.Results) > 0 || lr.Conclusion != "" || len(lr.Attachments) > 0 {
			reports = append(reports, lr)
		}
	}
	if len(reports) == 0 {
		reason := "the message carries no OBX results"
		if len(skipped) > 0 {
			reason += "; attachments not kept: " + strings.Join(skipped, "; ")
		}
		return nil, &listeners.InvalidError{Stage: "map", Reason: reason}
	}
	res, err := BuildLab(ctx, in, reports)
	if err == nil && len(skipped) > 0 {
		res.Reason = "attachments not kept: " + strings.Join(skipped, "; ")
	}
	return res, err
}

// narrativeLine reads an OBX without a test code whose value is text (TX,
// FT, ST, or no type): a line of a narrative report, as systems send a
// report's text one OBX per line. The report keeps it as its conclusion.
func narrativeLine(o hl7.Observation) (string, bool) {
	x := o.OBX
	if x.ObservationID().Code != "" {
		return "", false
	}
	v := x.Value()
	switch v.Type {
	case "TX", "FT", "ST", "":
		return v.Text, true
	}
	return "", false
}

func hl7Keys(g hl7.ObservationGroup, dev *domain.Device) Keys {
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
	if k.Barcode == "" {
		k.Barcode = g.ORC.FillerOrderNumber().ID
	}
	k.Identifiers = pidIdentifiers(g.PID, dev)
	if names := g.PID.Names(); len(names) > 0 {
		k.Family, k.Given = names[0].Family, names[0].Given
	}
	s := hl7Subject(g.PID)
	k.BirthDate, k.Gender = s.BirthDate, s.Gender
	return k
}

func hl7Subject(pid hl7.PID) Subject {
	var s Subject
	if bd, err := pid.BirthDate(); err == nil && !bd.IsZero() {
		s.BirthDate = bd.Time.Format(time.DateOnly)
	}
	s.Gender = domain.GenderFromCode(pid.Sex())
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
	for _, f := range x.AbnormalFlags() {
		if r.Flag = flag(f); r.Flag != "" {
			break // the first flag medgate knows (OBX-8 repeats from v2.5)
		}
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
	case "RP":
		return nil, nil // a reference pointer to data elsewhere: kept in the raw message; not a result value
	default:
		r.Text = v.Text
	}
	var notes []string
	for _, n := range o.Notes {
		notes = append(notes, n.Comment())
	}
	r.Note = strings.Join(notes, "\n")
	for _, ei := range x.EquipmentInstanceIDs() {
		if ei.ID != "" {
			r.Equipment = ei.ID
			if ei.NamespaceID != "" {
				r.Equipment += " (" + ei.NamespaceID + ")"
			}
			break
		}
	}
	return r, nil
}

// flag reads an HL7 table 0078 abnormal flag: its codes are FHIR v3
// ObservationInterpretation codes; "" for one medgate does not know.
func flag(f string) string {
	f = strings.ToUpper(strings.TrimSpace(f))
	if f != "" && domain.ValidInterpretation(f) {
		return f
	}
	return ""
}

// observationStatus maps HL7 table 0085 (OBX-11) to FHIR observation
// status as the HL7 v2-to-FHIR concept map does.
func observationStatus(s string) string {
	switch strings.ToUpper(s) {
	case "C":
		return "corrected"
	case "A":
		return "amended"
	case "P", "R", "S":
		return "preliminary"
	case "I", "O":
		return "registered"
	case "D", "W":
		return "entered-in-error"
	case "X":
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
