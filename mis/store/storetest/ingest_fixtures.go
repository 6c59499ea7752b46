package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// NewInboundMessage returns a message as the ingest pipeline hands it to
// SaveMessage: raw bytes with their SHA-256 (the caller computes it) and the
// provenance the protocol carries. device 0 is an unregistered device.
func NewInboundMessage(org, device int64, protocol, key string, raw []byte) *domain.Message {
	sum := sha256.Sum256(raw)
	m := &domain.Message{
		OrganizationID: org,
		DeviceID:       device,
		Protocol:       protocol,
		Listener:       protocol + "-main",
		Peer:           "10.0.5.21:50412",
		Key:            key,
		Received:       T0,
		SHA256:         hex.EncodeToString(sum[:]),
		Raw:            raw,
	}
	switch protocol {
	case domain.ProtocolDICOM:
		m.CallingAE, m.CalledAE, m.Type = "CBCT_PLANMECA", "MEDGATE", ctImageStorage
	case domain.ProtocolHL7:
		m.SendingApplication, m.SendingFacility, m.Type = "XN-350", "LAB", "ORU^R01"
	case domain.ProtocolASTM:
		m.Sender, m.Type = "BS-240", "R"
	}
	return m
}

// hl7Bytes is an ORU^R01 with control ID key and one result value, so that
// messages differ by key, by value or by both.
func hl7Bytes(key, value string) []byte {
	return []byte("MSH|^~\\&|XN-350|LAB|MEDGATE|CLINIC|20250314092653||ORU^R01|" + key + "|P|2.5.1\r" +
		"PID|1||12345^^^CLINIC^MR||Иванов^Иван||19800517|M\r" +
		"OBR|1||0000000018|24323-8^Биохимия^LN\r" +
		"OBX|1|NM|2345-7^Глюкоза^LN||" + value + "|mmol/L|3.9-6.1|N|||F\r")
}

// ienv adds the ingest helpers to env.
type ienv struct{ *env }

func beginIngest(t *testing.T, open opener) *ienv {
	t.Helper()
	return &ienv{begin(t, open)}
}

// save stores m and fails the test on error.
func (e *ienv) save(m *domain.Message) *domain.Message {
	e.t.Helper()
	orig, err := e.s.SaveMessage(e.ctx, m)
	if err != nil {
		e.t.Fatalf("SaveMessage(key %q): %v", m.Key, err)
	}
	if m.ID == 0 {
		e.t.Fatalf("SaveMessage(key %q) did not set ID", m.Key)
	}
	return orig
}

// saveNew stores a fresh HL7 message of dev and checks it is an original.
func (e *ienv) saveNew(org, dev int64, key, value string) *domain.Message {
	e.t.Helper()
	m := NewInboundMessage(org, dev, domain.ProtocolHL7, key, hl7Bytes(key, value))
	if orig := e.save(m); orig != nil || m.Status != domain.MessageReceived {
		e.t.Fatalf("SaveMessage(key %q): status %q, orig %v; want a new original", key, m.Status, js(orig))
	}
	return m
}

func (e *ienv) getMsg(orgs []int64, id int64) *domain.Message {
	e.t.Helper()
	m, err := e.s.GetMessage(e.ctx, orgs, id)
	if err != nil {
		e.t.Fatalf("GetMessage(%v, %d): %v", orgs, id, err)
	}
	return m
}

func (e *ienv) apply(id int64, r *store.IngestResult) {
	e.t.Helper()
	if err := e.s.ApplyIngest(e.ctx, id, r); err != nil {
		e.t.Fatalf("ApplyIngest(%d): %v", id, err)
	}
}

func (e *ienv) getRecon(orgs []int64, id int64) *domain.ReconItem {
	e.t.Helper()
	it, err := e.s.GetRecon(e.ctx, orgs, id)
	if err != nil {
		e.t.Fatalf("GetRecon(%v, %d): %v", orgs, id, err)
	}
	return it
}

func (e *ienv) getDevice(orgs []int64, id int64) *domain.Device {
	e.t.Helper()
	d, err := e.s.GetDevice(e.ctx, orgs, id)
	if err != nil {
		e.t.Fatalf("GetDevice(%v, %d): %v", orgs, id, err)
	}
	return d
}

func (e *ienv) chart(orgs []int64, patient int64) *domain.Chart {
	e.t.Helper()
	c, err := e.s.PatientChart(e.ctx, orgs, patient)
	if err != nil {
		e.t.Fatalf("PatientChart(%v, %d): %v", orgs, patient, err)
	}
	return c
}

// messagesAll follows every page of a message listing.
func (e *ienv) messagesAll(q store.MessageQuery) []domain.Message {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	return concat(walk(e.t, "ListMessages", func(cursor string) ([]domain.Message, string, error) {
		q.Cursor = cursor
		return e.s.ListMessages(e.ctx, q)
	}))
}

// reconAll follows every page of a reconciliation listing.
func (e *ienv) reconAll(q store.ReconQuery) []domain.ReconItem {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	return concat(walk(e.t, "ListRecon", func(cursor string) ([]domain.ReconItem, string, error) {
		q.Cursor = cursor
		return e.s.ListRecon(e.ctx, q)
	}))
}

// wantMessage checks a stored message's status (and, when set, reason
// fragment and attempts).
func (e *ienv) wantStatus(id int64, status string) *domain.Message {
	e.t.Helper()
	m := e.getMsg(nil, id)
	if m.Status != status {
		e.t.Errorf("message %d: status %q (reason %q), want %q", id, m.Status, m.Reason, status)
	}
	return m
}

func messageIDs(ms []domain.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func reconIDs(its []domain.ReconItem) []int64 {
	out := make([]int64, len(its))
	for i, it := range its {
		out[i] = it.ID
	}
	return out
}

func deviceIDs(ds []domain.Device) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func sortedIDs(v []int64) []int64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

// normMessage leaves out the raw bytes (compared on their own) and the
// store-kept Updated time.
func normMessage(m domain.Message) domain.Message {
	m.Received = us(m.Received)
	m.Updated = time.Time{}
	m.Raw = nil
	return m
}

// normRecon leaves out the store-kept Created time.
func normRecon(it domain.ReconItem) domain.ReconItem {
	it.Created = time.Time{}
	it.Decided = us(it.Decided)
	if len(it.Candidates) == 0 {
		it.Candidates = nil
	}
	return it
}

func normRecons(its []domain.ReconItem) []domain.ReconItem {
	out := []domain.ReconItem{}
	for _, it := range its {
		out = append(out, normRecon(it))
	}
	return out
}

// normFullDevice also leaves out Updated (see normDevice).
func normFullDevice(d domain.Device) domain.Device {
	d = normDevice(d)
	d.Updated = time.Time{}
	return d
}

func normCodeMap(m domain.CodeMap) domain.CodeMap {
	m.Updated = us(m.Updated)
	return m
}

func sameBytes(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if !bytes.Equal(want, got) {
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		t.Errorf("%s: %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
	}
}

// wantFieldError expects a *domain.FieldError naming field.
func wantFieldError(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *domain.FieldError
	switch {
	case err == nil:
		t.Errorf("%s: succeeded, want a FieldError on %q", what, field)
	case !errors.As(err, &fe):
		t.Errorf("%s: got error %v (%T), want a *domain.FieldError on %q", what, err, err, field)
	case fe.Field != field:
		t.Errorf("%s: FieldError.Field = %q, want %q (%v)", what, fe.Field, field, err)
	}
}

// wantAnyConflict expects a ConflictError on whatever field.
func wantAnyConflict(t *testing.T, what string, err error) {
	t.Helper()
	wantConflictFunc(t, what, err, "any field", func(string) bool { return true })
}

// wantMiss accepts what a lookup may answer for "nothing": ErrNotFound or
// an empty list.
func wantMiss[T any](t *testing.T, what string, list []T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: %v, want no match", what, err)
	}
	if len(list) != 0 {
		t.Errorf("%s: %d matches, want none: %s", what, len(list), js(list))
	}
}

// Result builders for ApplyIngest.

func glucose(value float64) domain.Observation {
	return domain.Observation{
		Code:           domain.Coding{System: domain.SystemLOINC, Code: "2345-7", Display: "Глюкоза"},
		Status:         "final",
		ValueQuantity:  &domain.Quantity{Value: value, Unit: "mmol/L"},
		ReferenceRange: &domain.ReferenceRange{Low: f64(3.9), High: f64(6.1)},
		Interpretation: domain.InterpNormal,
		Effective:      T0.Add(-time.Hour),
		Issued:         T0,
	}
}

func crp(value float64) domain.Observation {
	return domain.Observation{
		Code:          domain.Coding{System: domain.SystemLOINC, Code: "1988-5", Display: "С-реактивный белок"},
		Status:        "final",
		ValueQuantity: &domain.Quantity{Value: value, Unit: "mg/L"},
		Effective:     T0.Add(-time.Hour),
		Issued:        T0,
	}
}

// labReport is a report of org for patient and request (0: not matched)
// with the given observations.
func labReport(org, patient, request int64, obs ...domain.Observation) store.ReportSet {
	for i := range obs {
		obs[i].RequestID = request
	}
	return store.ReportSet{
		Report: domain.DiagnosticReport{
			OrganizationID: org,
			PatientID:      patient,
			RequestID:      request,
			Code:           domain.Coding{System: domain.SystemLOINC, Code: "24323-8", Display: "Биохимический анализ крови"},
			Status:         "final",
			Effective:      T0.Add(-time.Hour),
			Issued:         T0,
		},
		Observations: obs,
	}
}

// unmatchedStudy is a study of org attached to no patient yet.
func unmatchedStudy(org int64, uid string) domain.ImagingStudy {
	return *newStudy(org, 0, 0, uid, "", domain.ImagingSeries{UID: uid + ".1", Number: 1, Modality: "CT",
		Instances: []domain.ImagingInstance{instance(uid+".1", 1), instance(uid+".1", 2)}})
}

// draft is a reconciliation item to queue; report and study index the
// result's reports and studies (-1: none).
func draft(kind, reason, key string, report, study int) store.ReconDraft {
	return store.ReconDraft{
		Item:   domain.ReconItem{Kind: kind, Reason: reason, Key: key, Detail: fmt.Sprintf("%s: %s", reason, key)},
		Report: report,
		Study:  study,
	}
}

// queueSpec is one item queued by queue: with an unmatched report, an
// unmatched study, or neither.
type queueSpec struct {
	kind, reason, key string
	report, study     bool
}

// queue stores a message of dev and applies a result that queues one item
// per spec; it returns the message, the applied result (IDs set) and the
// message's items, oldest first.
func (e *ienv) queue(dev *domain.Device, n int, specs ...queueSpec) (*domain.Message, *store.IngestResult, []domain.ReconItem) {
	e.t.Helper()
	key := fmt.Sprintf("Q%05d", n)
	m := e.saveNew(dev.OrganizationID, dev.ID, key, fmt.Sprintf("%d.5", n))
	r := &store.IngestResult{Status: domain.MessageQueued, Reason: fmt.Sprintf("%d item(s) queued", len(specs))}
	for i, s := range specs {
		rep, st := -1, -1
		if s.report {
			rep = len(r.Reports)
			r.Reports = append(r.Reports, labReport(dev.OrganizationID, 0, 0, glucose(5+float64(i)), crp(0.5)))
		}
		if s.study {
			st = len(r.Studies)
			r.Studies = append(r.Studies, unmatchedStudy(dev.OrganizationID, fmt.Sprintf("%s.7.%d.%d", UIDRoot, n, i)))
		}
		r.Recon = append(r.Recon, draft(s.kind, s.reason, s.key, rep, st))
	}
	e.apply(m.ID, r)
	items := e.reconAll(store.ReconQuery{Orgs: ids(dev.OrganizationID), MessageID: m.ID, Status: domain.ReconOpen})
	if len(items) != len(specs) {
		e.t.Fatalf("message %d: %d open items after ApplyIngest, want %d: %s", m.ID, len(items), len(specs), js(items))
	}
	return m, r, items
}
