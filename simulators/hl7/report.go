package hl7

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/medgate/medgate/simulators"
)

// Report is what a Run saw. Every answer is checked: its MSA-2 must equal
// the MSH-10 sent on that connection (never matched by position).
type Report struct {
	Addr    string `json:"addr"`
	Kind    string `json:"kind"`
	Variant string `json:"variant,omitempty"`
	Conns   int    `json:"conns"`
	// Sent counts messages written in full that expect an answer.
	Sent int64 `json:"sent"`
	// Acked counts answers whose MSA-2 matched, by MSA-1 (AA, AE, AR, CA,
	// CE, CR, or whatever the receiver wrote).
	Acked map[string]int64 `json:"acked"`
	// Mismatched counts answers whose MSA-2 differed from the MSH-10 sent.
	Mismatched int64 `json:"mismatched"`
	// Timeouts counts messages with no answer within Config.Timeout.
	Timeouts int64 `json:"timeouts"`
	// Closed counts messages whose connection was closed before an answer.
	Closed int64 `json:"closed"`
	// Errors counts failures to connect or write, and answers without MSA.
	Errors int64 `json:"errors"`
	// Unanswered counts messages still waiting when the run was interrupted.
	Unanswered int64 `json:"unanswered"`
	// Expect, when set, is the MSA-1 every answer must have; Unexpected
	// counts the matched answers that had another.
	Expect     string `json:"expect,omitempty"`
	Unexpected int64  `json:"unexpected"`

	Elapsed time.Duration `json:"-"`
	// Throughput is matched answers per second of Elapsed.
	Throughput float64            `json:"throughput_per_s"`
	Latency    simulators.Latency `json:"latency"`

	// Samples of what went wrong (first few distinct), and of the reasons
	// negative answers gave (MSA-3 or ERR text): no patient data comes
	// back in medgate's reasons.
	ErrorSamples []string `json:"error_samples,omitempty"`
	NackReasons  []string `json:"nack_reasons,omitempty"`
	Interrupted  bool     `json:"interrupted,omitempty"`
}

// MarshalJSON adds elapsed seconds and the failure list.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		*plain
		ElapsedS float64  `json:"elapsed_s"`
		OK       bool     `json:"ok"`
		Failures []string `json:"failures,omitempty"`
	}{(*plain)(r), math.Round(r.Elapsed.Seconds()*1e3) / 1e3, len(r.Failures()) == 0, r.Failures()})
}

// AckedTotal is the number of answers whose MSA-2 matched.
func (r *Report) AckedTotal() int64 {
	var n int64
	for _, v := range r.Acked {
		n += v
	}
	return n
}

// Failures lists why the run failed: mismatched MSA-2, timeouts,
// connections closed before an answer, errors, answers other than
// Expect, or nothing sent. Empty means success.
func (r *Report) Failures() []string {
	var f []string
	if r.Mismatched > 0 {
		f = append(f, fmt.Sprintf("%d answers with MSA-2 not equal to the MSH-10 sent", r.Mismatched))
	}
	if r.Timeouts > 0 {
		f = append(f, fmt.Sprintf("%d messages without an answer in time", r.Timeouts))
	}
	if r.Closed > 0 {
		f = append(f, fmt.Sprintf("%d messages whose connection closed before an answer", r.Closed))
	}
	if r.Errors > 0 {
		f = append(f, fmt.Sprintf("%d errors", r.Errors))
	}
	if r.Unexpected > 0 {
		f = append(f, fmt.Sprintf("%d answers other than %s", r.Unexpected, r.Expect))
	}
	if r.Sent == 0 && !r.Interrupted {
		f = append(f, "nothing was sent")
	}
	return f
}

// OK reports a run without failures.
func (r *Report) OK() bool { return len(r.Failures()) == 0 }

func codesText(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("  ")
		}
		name := k
		if name == "" {
			name = `""`
		}
		fmt.Fprintf(&b, "%s %d", name, m[k])
	}
	return b.String()
}

func msText(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	what := r.Kind
	if r.Variant != "" {
		what += ", variant " + r.Variant
	}
	fmt.Fprintf(&b, "medgate-sim hl7: %s to %s over %d connection(s)", what, r.Addr, r.Conns)
	if r.Interrupted {
		b.WriteString(" (interrupted: partial report)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  sent:         %d\n", r.Sent)
	fmt.Fprintf(&b, "  acked:        %s\n", codesText(r.Acked))
	fmt.Fprintf(&b, "  mismatched:   %d (MSA-2 not the MSH-10 sent)\n", r.Mismatched)
	fmt.Fprintf(&b, "  timeouts:     %d\n", r.Timeouts)
	fmt.Fprintf(&b, "  closed:       %d (connection closed before the answer)\n", r.Closed)
	fmt.Fprintf(&b, "  errors:       %d\n", r.Errors)
	if r.Unanswered > 0 {
		fmt.Fprintf(&b, "  unanswered:   %d (in flight when interrupted)\n", r.Unanswered)
	}
	if r.Expect != "" {
		fmt.Fprintf(&b, "  unexpected:   %d (answers other than %s)\n", r.Unexpected, r.Expect)
	}
	fmt.Fprintf(&b, "  elapsed:      %s\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  throughput:   %.1f msgs/s\n", r.Throughput)
	l := r.Latency
	fmt.Fprintf(&b, "  ACK latency:  p50 %s  p90 %s  p99 %s  max %s  (n=%d)\n", msText(l.P50), msText(l.P90), msText(l.P99), msText(l.Max), l.N)
	for _, s := range r.NackReasons {
		fmt.Fprintf(&b, "  reason given: %s\n", s)
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "  error:        %s\n", s)
	}
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(&b, "  result:       FAILED: %s\n", strings.Join(f, "; "))
	} else {
		fmt.Fprintf(&b, "  result:       OK\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
