package dicom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/simulators"
)

// Report is what a Run saw.
type Report struct {
	Addr      string `json:"addr"`
	CalledAE  string `json:"called_ae"`
	CallingAE string `json:"calling_ae"`
	Kind      string `json:"kind"`
	SOPClass  string `json:"sop_class"`
	// TransferSyntaxes the peer accepted for the storage context.
	TransferSyntaxes []string `json:"transfer_syntaxes"`
	Assocs           int      `json:"assocs"`
	// Echo is "ok", "skipped" or "failed: …".
	Echo string `json:"echo"`
	// WorklistItems is how many items the worklist query returned (the
	// first one is used).
	WorklistItems int `json:"worklist_items"`
	// NoWorklist: the worklist was not asked; the patient was invented.
	NoWorklist bool `json:"no_worklist,omitempty"`
	// What the series were sent for (no names: IDs only).
	PatientID        string `json:"patient_id"`
	Accession        string `json:"accession"`
	StudyInstanceUID string `json:"study_instance_uid"`

	Series    int `json:"series"`
	Instances int `json:"instances"`
	// Sent counts C-STOREs answered; Bytes the data set bytes written.
	Sent  int64 `json:"sent"`
	Bytes int64 `json:"bytes"`
	// Statuses counts C-STORE-RSP statuses ("0x0000", "0xB007", "0xA700"...).
	Statuses map[string]int64 `json:"statuses"`
	// Success, Warnings (0x0001, 0xBxxx) and Failures (the rest).
	Success  int64 `json:"success"`
	Warnings int64 `json:"warnings"`
	Failures int64 `json:"failures"`
	// FailureComments are the distinct "status: Error Comment" of
	// failures and warnings (first few).
	FailureComments []string `json:"failure_comments,omitempty"`
	// Errors counts associations that could not be made and operations
	// without a response; NotSent the instances never sent.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	NotSent      int64    `json:"not_sent"`

	Generation      time.Duration      `json:"-"`
	Elapsed         time.Duration      `json:"-"`
	InstancesPerSec float64            `json:"instances_per_s"`
	MBPerSec        float64            `json:"mb_per_s"`
	Latency         simulators.Latency `json:"latency"`
	Interrupted     bool               `json:"interrupted,omitempty"`

	lost         int64 // operations that errored (counted in Errors, not in NotSent)
	lastResponse time.Time
}

// MarshalJSON adds the durations in seconds, ok and the failure list.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	round := func(d time.Duration) float64 { return math.Round(d.Seconds()*1e3) / 1e3 }
	return json.Marshal(struct {
		*plain
		GenerationS float64  `json:"generation_s"`
		ElapsedS    float64  `json:"elapsed_s"`
		OK          bool     `json:"ok"`
		Problems    []string `json:"problems,omitempty"`
	}{(*plain)(r), round(r.Generation), round(r.Elapsed), r.OK(), r.Problems()})
}

const maxSamples = 8

// record counts one C-STORE-RSP (the caller holds the lock).
func (r *Report) record(status uint16, comment string) {
	r.Statuses[fmt.Sprintf("0x%04X", status)]++
	switch {
	case status == 0x0000:
		r.Success++
		return
	case status == 0x0001 || status&0xF000 == 0xB000:
		r.Warnings++
	default:
		r.Failures++
	}
	s := fmt.Sprintf("0x%04X", status)
	if comment != "" {
		s += ": " + comment
	}
	if len(r.FailureComments) < maxSamples && !slices.Contains(r.FailureComments, s) {
		r.FailureComments = append(r.FailureComments, s)
	}
}

func (r *Report) addError(ctx context.Context, mu *sync.Mutex, err error) {
	mu.Lock()
	defer mu.Unlock()
	if ctx.Err() != nil {
		r.Interrupted = true
		return
	}
	r.Errors++
	if strings.HasPrefix(err.Error(), "C-STORE") {
		r.lost++
	}
	if s := err.Error(); len(r.ErrorSamples) < maxSamples && !slices.Contains(r.ErrorSamples, s) {
		r.ErrorSamples = append(r.ErrorSamples, s)
	}
}

// fatal records an error that stopped the run before storage.
func (r *Report) fatal(ctx context.Context, err error) {
	var mu sync.Mutex
	r.addError(ctx, &mu, err)
}

// Problems lists why the run failed: failure statuses, errors, instances
// not sent. Warnings are not failures. Empty means success.
func (r *Report) Problems() []string {
	var p []string
	if r.Failures > 0 {
		p = append(p, fmt.Sprintf("%d C-STORE failure statuses", r.Failures))
	}
	if r.Errors > 0 {
		p = append(p, fmt.Sprintf("%d errors", r.Errors))
	}
	if r.NotSent > 0 && !r.Interrupted {
		p = append(p, fmt.Sprintf("%d instances not sent", r.NotSent))
	}
	if r.Sent == 0 && !r.Interrupted && r.Errors == 0 {
		p = append(p, "nothing was sent")
	}
	return p
}

// OK reports a run without failures.
func (r *Report) OK() bool { return len(r.Problems()) == 0 }

func msText(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "medgate-sim modality: %s as %s to %s at %s over %d association(s)", r.Kind, r.CallingAE, r.CalledAE, r.Addr, r.Assocs)
	if r.Interrupted {
		b.WriteString(" (interrupted: partial report)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  C-ECHO:       %s\n", r.Echo)
	if r.NoWorklist {
		fmt.Fprintf(&b, "  worklist:     skipped (invented patient)\n")
	} else {
		fmt.Fprintf(&b, "  worklist:     %d item(s), the first one used\n", r.WorklistItems)
	}
	if r.StudyInstanceUID != "" {
		fmt.Fprintf(&b, "  study:        %s (accession %s, patient ID %s)\n", r.StudyInstanceUID, r.Accession, r.PatientID)
	}
	if r.SOPClass != "" {
		fmt.Fprintf(&b, "  series:       %d × %d instance(s) of %s, generated in %s\n", r.Series, r.Instances/max(r.Series, 1), r.SOPClass, r.Generation.Round(time.Millisecond))
		fmt.Fprintf(&b, "  transfer:     %s\n", strings.Join(r.TransferSyntaxes, ", "))
	}
	fmt.Fprintf(&b, "  sent:         %d of %d (%.1f MB)\n", r.Sent, r.Instances, float64(r.Bytes)/1e6)
	fmt.Fprintf(&b, "  statuses:     %s\n", statusText(r.Statuses))
	fmt.Fprintf(&b, "  success %d, warnings %d, failures %d, errors %d, not sent %d\n", r.Success, r.Warnings, r.Failures, r.Errors, r.NotSent)
	for _, s := range r.FailureComments {
		fmt.Fprintf(&b, "  status given: %s\n", s)
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "  error:        %s\n", s)
	}
	fmt.Fprintf(&b, "  elapsed:      %s\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  throughput:   %.1f instances/s, %.1f MB/s\n", r.InstancesPerSec, r.MBPerSec)
	l := r.Latency
	fmt.Fprintf(&b, "  C-STORE latency: p50 %s  p90 %s  p99 %s  max %s  (n=%d)\n", msText(l.P50), msText(l.P90), msText(l.P99), msText(l.Max), l.N)
	if p := r.Problems(); len(p) > 0 {
		fmt.Fprintf(&b, "  result:       FAILED: %s\n", strings.Join(p, "; "))
	} else {
		fmt.Fprintf(&b, "  result:       OK\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func statusText(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s × %d", k, m[k]))
	}
	return strings.Join(parts, "  ")
}
