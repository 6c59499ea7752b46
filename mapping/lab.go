package mapping

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// LabReport is one group of lab results as a device sent it (an HL7 OBR
// with its OBX, an ASTM O record with its R records), protocol-neutral.
type LabReport struct {
	Keys      Keys
	Subject   Subject
	Code      domain.Coding // the panel or order code as sent
	Status    string        // FHIR DiagnosticReport status; default final
	Effective time.Time
	Results   []LabResult
	// Conclusion is narrative text the device sent without a test code
	// (HL7 TX/FT/ST lines with an empty OBX-3): the report's conclusion.
	Conclusion string
	// Attachments are documents and images sent with the results (HL7
	// OBX-2 ED), with their bytes in Data: the report's presentedForm.
	Attachments []domain.Attachment
	// QC marks quality-control results: stored, never put in a chart.
	QC bool
	// SpecimenType and Collected are what the message says of the sample
	// (HL7 SPM-4, SPM-17), written to a matched specimen that lacks them.
	SpecimenType domain.Coding
	Collected    *time.Time
}

// LabResult is one result value as the device sent it.
type LabResult struct {
	DeviceCode    string
	DeviceDisplay string
	Quantity      *domain.Quantity // numeric value with the device's unit
	Text          string           // text value, when not numeric or coded
	Coded         *domain.Coding
	Flag          string // normalized interpretation (N, L, H, LL, HH, A) when the device sent one
	RangeText     string // the device's own range text, kept when the map has none
	Status        string // final, preliminary, corrected
	Effective     time.Time
	Note          string
	Equipment     string // the instrument that produced it (HL7 OBX-18)
}

// LabInput is everything BuildLab needs besides the reports.
type LabInput struct {
	Lookup    Lookup
	Device    *domain.Device
	CodeMap   *domain.CodeMap
	Decisions []domain.ReconItem // earlier attach decisions on this message
	DeviceID  int64
}

// BuildLab maps lab reports into resources: matched reports are attached to
// their patient and order; unmatched ones are stored unattached with a
// reconciliation item saying why; results whose device code the code map
// does not know go, never dropped, into an unattached report of their own
// under reason unmapped_code, so that fixing the map and reprocessing
// attaches them.
func BuildLab(ctx context.Context, in LabInput, reports []LabReport) (*domain.IngestResult, error) {
	res := &domain.IngestResult{}
	policy := domain.MatchStrict
	if in.Device != nil && in.Device.MatchingPolicy != "" {
		policy = in.Device.MatchingPolicy
	}
	for _, lr := range reports {
		if in.Device != nil {
			lr.Keys.Org = in.Device.OrganizationID
		}
		m, err := Find(ctx, in.Lookup, policy, lr.Keys)
		if err != nil {
			return nil, err
		}
		if !m.Matched() {
			if d, ok := decided(in.Decisions, m.Key); ok {
				m = Match{PatientID: d.PatientID, RequestID: d.RequestID}
			}
		}
		if lr.QC {
			m = Match{Reason: "qc"} // never in a chart
		}
		var mapped, unmapped []domain.Observation
		var unknown, wrongUnit []string
		for _, r := range lr.Results {
			o := observation(r, lr, in.DeviceID)
			e, ok := Entry(in.CodeMap, r.DeviceCode)
			if ok && !unitFits(e, r) {
				// Converting a value sent in another unit than the map's
				// would store a wrong number with a wrong flag.
				ok = false
				wrongUnit = append(wrongUnit, fmt.Sprintf("%s sent in %s, the map converts from %s", r.DeviceCode, r.Quantity.Unit, e.DeviceUnit))
			} else if !ok {
				unknown = append(unknown, r.DeviceCode)
			}
			if ok {
				Apply(&o, e, lr.Subject, r.Flag)
				mapped = append(mapped, o)
				continue
			}
			o.Code = domain.Coding{System: domain.SystemDevice, Code: r.DeviceCode, Display: r.DeviceDisplay}
			o.Interpretation = r.Flag
			unmapped = append(unmapped, o)
		}
		if len(mapped) > 0 || lr.Conclusion != "" || len(lr.Attachments) > 0 {
			if m.Matched() {
				for i := range mapped {
					mapped[i].SpecimenID = m.SpecimenID
				}
			}
			rep := report(lr, m)
			rep.PresentedForm = slices.Clone(lr.Attachments) // with the main report only, never twice
			if m.Matched() && m.SpecimenID != 0 && (lr.SpecimenType.Code != "" || lr.Collected != nil) {
				res.Specimens = append(res.Specimens, domain.SpecimenUpdate{ID: m.SpecimenID, Type: lr.SpecimenType, Collected: lr.Collected})
			}
			res.Reports = append(res.Reports, domain.ReportSet{Report: rep, Observations: mapped})
			if !m.Matched() && !lr.QC {
				res.Recon = append(res.Recon, domain.ReconDraft{Item: domain.ReconItem{Kind: "lab", Reason: m.Reason,
					Detail: m.Detail, Key: m.Key, Candidates: m.Candidates}, Report: len(res.Reports) - 1, Study: -1})
			}
		}
		if len(unmapped) > 0 && lr.QC {
			// QC never reaches a chart: its unmapped codes wait for nobody.
			rep := report(lr, Match{})
			res.Reports = append(res.Reports, domain.ReportSet{Report: rep, Observations: unmapped})
		} else if len(unmapped) > 0 {
			rep := report(lr, Match{}) // unattached until the map knows these codes
			res.Reports = append(res.Reports, domain.ReportSet{Report: rep, Observations: unmapped})
			var codes []string
			for _, o := range unmapped {
				codes = append(codes, o.Code.Code)
			}
			sort.Strings(codes)
			codes = slices.Compact(codes)
			sort.Strings(unknown)
			unknown = slices.Compact(unknown)
			name := "(none)"
			if in.CodeMap != nil {
				name = in.CodeMap.Name
			}
			var detail []string
			if len(unknown) > 0 {
				detail = append(detail, fmt.Sprintf("code map %s has no entry for %s", name, strings.Join(unknown, ", ")))
			}
			if len(wrongUnit) > 0 {
				detail = append(detail, fmt.Sprintf("code map %s: %s", name, strings.Join(slices.Compact(wrongUnit), "; ")))
			}
			res.Recon = append(res.Recon, domain.ReconDraft{Item: domain.ReconItem{Kind: "lab", Reason: domain.ReasonUnmappedCode,
				Detail: strings.Join(detail, "; "),
				Key:    "codes:" + strings.Join(codes, ",")}, Report: len(res.Reports) - 1, Study: -1})
		}
	}
	if res.Reason == "" && slices.ContainsFunc(reports, func(lr LabReport) bool { return lr.QC }) {
		res.Reason = "quality-control run: stored as QC, never attached"
	}
	return res, nil
}

// unitFits reports whether a result's value may be converted by e: its
// unit is the one the entry converts from (compared as devices spell
// units: case and ^ for * aside), or the device sent none, or the entry
// names none.
func unitFits(e *domain.CodeMapEntry, r LabResult) bool {
	if r.Quantity == nil || e.DeviceUnit == "" || strings.TrimSpace(r.Quantity.Unit) == "" {
		return true
	}
	norm := func(u string) string { return strings.ReplaceAll(strings.TrimSpace(u), "^", "*") }
	return strings.EqualFold(norm(r.Quantity.Unit), norm(e.DeviceUnit))
}

// QCSample reports whether a sample ID is one of the device's quality-
// control runs (its QCPrefix).
func QCSample(dev *domain.Device, sampleID string) bool {
	return dev != nil && dev.QCPrefix != "" && strings.HasPrefix(sampleID, dev.QCPrefix)
}

func decided(ds []domain.ReconItem, key string) (domain.ReconItem, bool) {
	for _, d := range ds {
		if key != "" && d.Key == key && d.Status == domain.ReconAttached && d.PatientID != 0 {
			return d, true
		}
	}
	return domain.ReconItem{}, false
}

func report(lr LabReport, m Match) domain.DiagnosticReport {
	status := lr.Status
	if status == "" {
		status = "final"
	}
	r := domain.DiagnosticReport{OrganizationID: lr.Keys.Org, Code: lr.Code, Status: status, Effective: lr.Effective,
		Conclusion: lr.Conclusion, QC: lr.QC}
	if m.Matched() {
		r.PatientID, r.RequestID = m.PatientID, m.RequestID
	}
	return r
}

func observation(r LabResult, lr LabReport, device int64) domain.Observation {
	o := domain.Observation{OrganizationID: lr.Keys.Org, DeviceID: device, Status: r.Status, Effective: r.Effective, Note: r.Note,
		Equipment: r.Equipment}
	if o.Status == "" {
		o.Status = "final"
	}
	if o.Effective.IsZero() {
		o.Effective = lr.Effective
	}
	switch {
	case r.Quantity != nil:
		q := *r.Quantity
		o.ValueQuantity = &q
	case r.Coded != nil:
		c := *r.Coded
		o.ValueCoding = &c
	default:
		o.ValueString = r.Text
	}
	if r.RangeText != "" {
		o.ReferenceRange = &domain.ReferenceRange{Text: r.RangeText}
	}
	return o
}
