package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	goflag "flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

var update = goflag.Bool("update", false, "rewrite testdata/hl7/*/mapped.json from what the mapping does now")

const goldenDir = "../testdata/hl7"

// TestGoldenMapping runs every HL7 case (the shared corpus and the
// synthetic Cyrillic messages) through the parser and the mapping, as the
// pipeline does, and compares what it produced — or the error — with
// mapped.json in the case folder.
//
// The device is "golden-lis" (id 7) of organization 1, with the case's
// charset (options.json) and no code map. The Lookup is an in-memory
// organization, empty at the start of each case, that takes the patients
// and orders each message creates, so that the later messages of a
// multi-message case (09: an order placed, its status changed, changed
// again, completed) see what the earlier ones wrote.
func TestGoldenMapping(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "*", "input.hl7"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := goldenMap(t, dir, raw)
			path := filepath.Join(dir, "mapped.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("mapping differs from mapped.json (run go test ./mapping -update and review the diff):\n%s", lineDiff(string(want), string(got)))
			}
		})
	}
}

// goldenCodeMap maps a few of the corpus's codes, so that the golden files
// show mapped results (unit, range, interpretation) and mapped order codes
// next to unmapped ones.
var goldenCodeMap = func() *domain.CodeMap {
	f := func(v float64) *float64 { return &v }
	return &domain.CodeMap{Name: "golden", Entries: []domain.CodeMapEntry{
		{DeviceCode: "718-7", System: domain.SystemLOINC, Code: "718-7", Display: "Гемоглобин", Unit: "g/L", Ranges: []domain.RangeRule{
			{Sex: domain.GenderMale, Low: f(130), High: f(170)}, {Sex: domain.GenderFemale, Low: f(120), High: f(150)}}},
		{DeviceCode: "6690-2", System: domain.SystemLOINC, Code: "6690-2", Display: "Лейкоциты", Unit: "10*9/L",
			Ranges: []domain.RangeRule{{Low: f(4), High: f(9)}}},
		{DeviceCode: "14996-3", System: domain.SystemLOINC, Code: "14996-3", Display: "Glucose pre 75 g glucose PO", Unit: "umol/L"},
		{DeviceCode: "82951", Code: "GTT", Display: "Глюкозотолерантный тест"},
	}}
}()

// caseProfile is options.json: the charset the case's device is set to and
// the parser's lenient switches for it.
type caseProfile struct {
	DefaultCharset string      `json:"default_charset"`
	Lenient        hl7.Lenient `json:"lenient"`
}

func goldenMap(t *testing.T, dir string, raw []byte) []byte {
	t.Helper()
	var prof caseProfile
	if b, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
		if err := json.Unmarshal(b, &prof); err != nil {
			t.Fatalf("options.json: %v", err)
		}
	}
	dev := &domain.Device{ID: 7, OrganizationID: 1, Name: "golden-lis", Protocol: domain.ProtocolHL7, Encoding: prof.DefaultCharset, SendsResults: true,
		CodeMap: goldenCodeMap.Name}
	opts := HL7Options(dev, time.UTC)
	lenient := prof.Lenient
	lenient.UnescapedDelimiters = lenient.UnescapedDelimiters || opts.Lenient.UnescapedDelimiters
	opts.Lenient = lenient

	ctx := context.Background()
	w := newGoldenWorld()
	out := goldenOut{}
	// A frame may hold a batch or several bare messages: each is mapped as
	// if it had come alone, in order.
	msgs, perr := hl7.ParseBatch(raw, opts)
	if len(msgs) == 0 {
		out.Messages = append(out.Messages, goldenMsg{Index: 1, Error: goldenErr(&listeners.InvalidError{Stage: "parse", Reason: perr.Error()})})
	}
	for i, msg := range msgs {
		gm := goldenMsg{Index: i + 1}
		if msg == nil {
			gm.Error = goldenErr(&listeners.InvalidError{Stage: "parse", Reason: batchError(perr, i+1)})
			out.Messages = append(out.Messages, gm)
			continue
		}
		gm.Type, gm.ControlID = msg.MSH().MessageType().String(), msg.MSH().ControlID()
		res, err := HL7Inbound(ctx, HL7Input{LabInput: LabInput{Lookup: w, Device: dev, DeviceID: dev.ID, CodeMap: goldenCodeMap}, Location: time.UTC}, msg)
		if err != nil {
			var inv *listeners.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("message %d: a fault, not an invalid message: %v", i+1, err)
			}
			gm.Error = goldenErr(inv)
		} else {
			gm.Result = goldenResultOf(res)
			w.apply(res)
		}
		out.Messages = append(out.Messages, gm)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	b, err = json.MarshalIndent(dropZeroTimes(v), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func batchError(err error, index int) string {
	var pe *hl7.ParseError
	for _, e := range unjoin(err) {
		if errors.As(e, &pe) && pe.MessageIndex == index {
			return e.Error()
		}
	}
	if err != nil {
		return err.Error()
	}
	return "not parsed"
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

type goldenOut struct {
	Messages []goldenMsg `json:"messages"`
}

type goldenMsg struct {
	Index     int           `json:"index"`
	Type      string        `json:"type,omitempty"`
	ControlID string        `json:"controlId,omitempty"`
	Error     *goldenError  `json:"error,omitempty"`
	Result    *goldenResult `json:"result,omitempty"`
}

type goldenError struct {
	Stage       string `json:"stage"`
	Reason      string `json:"reason"`
	Unsupported bool   `json:"unsupported,omitempty"`
	Ack         string `json:"ack"` // the HL7 acknowledgement code it earns
}

func goldenErr(e *listeners.InvalidError) *goldenError {
	g := &goldenError{Stage: e.Stage, Reason: e.Reason, Unsupported: e.Unsupported, Ack: "AE"}
	if e.Unsupported {
		g.Ack = "AR"
	}
	return g
}

type goldenResult struct {
	Status   string                 `json:"status"` // as the pipeline sets it
	Patients []domain.PatientUpsert `json:"patients,omitempty"`
	Orders   []domain.OrderUpsert   `json:"orders,omitempty"`
	Reports  []goldenReport         `json:"reports,omitempty"`
	Recon    []goldenRecon          `json:"recon,omitempty"`
}

type goldenReport struct {
	Report       domain.DiagnosticReport `json:"report"`
	Observations []domain.Observation    `json:"observations"`
}

type goldenRecon struct {
	Item   domain.ReconItem `json:"item"`
	Report int              `json:"report"`
}

func goldenResultOf(r *domain.IngestResult) *goldenResult {
	g := &goldenResult{Status: r.Status, Patients: r.Patients, Orders: r.Orders}
	if g.Status == "" {
		g.Status = domain.MessageProcessed
		if len(r.Recon) > 0 {
			g.Status = domain.MessageQueued
		}
	}
	for _, rs := range r.Reports {
		g.Reports = append(g.Reports, goldenReport{Report: rs.Report, Observations: rs.Observations})
	}
	for _, d := range r.Recon {
		g.Recon = append(g.Recon, goldenRecon{Item: d.Item, Report: d.Report})
	}
	return g
}

// dropZeroTimes removes the zero times of fields the store fills
// (created, updated, issued), which say nothing about the mapping.
func dropZeroTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s == "0001-01-01T00:00:00Z" {
				delete(x, k)
				continue
			}
			x[k] = dropZeroTimes(e)
		}
	case []any:
		for i := range x {
			x[i] = dropZeroTimes(x[i])
		}
	}
	return v
}

func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// goldenWorld is one organization in memory: a Lookup (and OrderLookup)
// that takes the patients and orders the mapping writes, as the store
// would.
type goldenWorld struct {
	patients []domain.Patient
	orders   []domain.ServiceRequest
	orderIDs map[domain.Identifier]int64
}

func newGoldenWorld() *goldenWorld { return &goldenWorld{orderIDs: map[domain.Identifier]int64{}} }

func notFound(what string) error { return fmt.Errorf("%s: %w", what, domain.ErrNotFound) }

func (w *goldenWorld) FindSpecimen(_ context.Context, _ int64, barcode string) (*domain.Specimen, error) {
	for _, o := range w.orders {
		for _, sp := range o.Specimens {
			if sp.Barcode == barcode {
				return &sp, nil
			}
		}
	}
	return nil, notFound("specimen")
}

func (w *goldenWorld) FindOrderByAccession(_ context.Context, _ int64, acc string) (*domain.ServiceRequest, error) {
	for _, o := range w.orders {
		if o.AccessionNumber == acc {
			return &o, nil
		}
	}
	return nil, notFound("order")
}

func (w *goldenWorld) FindOrderByStudyUID(context.Context, int64, string) (*domain.ServiceRequest, error) {
	return nil, notFound("order")
}

func (w *goldenWorld) FindPatientsByIdentifier(_ context.Context, _ int64, id domain.Identifier) ([]domain.Patient, error) {
	var out []domain.Patient
	for _, p := range w.patients {
		if slices.Contains(p.AllIdentifiers(), id) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (w *goldenWorld) FindPatientsByDemographics(context.Context, int64, string, string, string, domain.Gender) ([]domain.Patient, error) {
	return nil, nil
}

func (w *goldenWorld) FindOrdersByIdentifier(_ context.Context, _ int64, value string) ([]domain.OrderRef, error) {
	var ids []domain.Identifier
	for id := range w.orderIDs {
		if id.Value == value {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].System < ids[j].System })
	var out []domain.OrderRef
	for _, id := range ids {
		for _, o := range w.orders {
			if o.ID == w.orderIDs[id] {
				out = append(out, domain.OrderRef{Identifier: id, Order: o})
			}
		}
	}
	return out, nil
}

// apply writes a result as the store's ApplyIngest would (patients and
// orders only; results are not looked up by the mapping).
func (w *goldenWorld) apply(r *domain.IngestResult) {
	pids := make([]int64, len(r.Patients))
	for i, u := range r.Patients {
		if u.ID == 0 {
			p := u.Patient
			p.ID = int64(len(w.patients) + 1)
			w.patients = append(w.patients, p)
			pids[i] = p.ID
			continue
		}
		pids[i] = u.ID
		for j := range w.patients {
			if w.patients[j].ID == u.ID {
				w.patients[j] = mergePatient(w.patients[j], u.Patient)
			}
		}
	}
	for _, u := range r.Orders {
		if u.Patient >= 0 {
			u.Request.PatientID = pids[u.Patient]
		}
		if u.ID == 0 {
			o := u.Request
			o.Specimens = slices.Clone(o.Specimens)
			o.ID = int64(len(w.orders) + 1)
			o.AccessionNumber = domain.AccessionNumber(domain.CategoryLab, o.ID)
			if len(o.Specimens) == 0 {
				o.Specimens = []domain.Specimen{{Barcode: domain.SpecimenBarcode(o.ID)}}
			}
			for i := range o.Specimens {
				o.Specimens[i].RequestID, o.Specimens[i].PatientID = o.ID, o.PatientID
			}
			w.orders = append(w.orders, o)
			for _, id := range u.Identifiers {
				w.orderIDs[id] = o.ID
			}
			continue
		}
		for j := range w.orders {
			o := &w.orders[j]
			if o.ID != u.ID {
				continue
			}
			if len(u.Request.Codes) > 0 {
				o.Codes = u.Request.Codes
			}
			if u.Request.Priority != "" {
				o.Priority = u.Request.Priority
			}
			if u.Status != "" {
				o.Status = u.Status
			}
			for _, sp := range u.Request.Specimens {
				sp.RequestID, sp.PatientID = o.ID, o.PatientID
				o.Specimens = append(o.Specimens, sp)
			}
			for _, id := range u.Identifiers {
				w.orderIDs[id] = o.ID
			}
		}
	}
}
