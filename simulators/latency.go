// Package simulators holds what the device simulators (simulators/hl7,
// simulators/dicom) report alike: latency percentiles.
package simulators

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Latency summarises how long answers took.
type Latency struct {
	N    int           `json:"n"`
	P50  time.Duration `json:"-"`
	P90  time.Duration `json:"-"`
	P99  time.Duration `json:"-"`
	Max  time.Duration `json:"-"`
	Mean time.Duration `json:"-"`
}

// MarshalJSON writes latencies in milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return json.Marshal(map[string]any{"n": l.N, "p50_ms": ms(l.P50), "p90_ms": ms(l.P90), "p99_ms": ms(l.P99),
		"max_ms": ms(l.Max), "mean_ms": ms(l.Mean)})
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Summarize computes Latency from samples (sorted in place).
func Summarize(samples []time.Duration) Latency {
	slices.Sort(samples)
	l := Latency{N: len(samples)}
	if len(samples) == 0 {
		return l
	}
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	l.P50, l.P90, l.P99 = Percentile(samples, 50), Percentile(samples, 90), Percentile(samples, 99)
	l.Max, l.Mean = samples[len(samples)-1], sum/time.Duration(len(samples))
	return l
}
