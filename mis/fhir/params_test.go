package fhir

import (
	"testing"
	"time"
)

// ap (approximately) searches the value's own range widened on each side
// by a tenth of the gap between now and that range; now within the range
// leaves it as it is. Birth dates widen to whole days.
func TestParseDateApproximately(t *testing.T) {
	now := time.Date(2025, 3, 24, 0, 0, 0, 0, time.UTC)
	q := &query{s: &Server{Location: time.UTC, Now: func() time.Time { return now }}}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		raw        string
		dayOnly    bool
		start, end string
	}{
		// A day 9 days ago: ±21.6 h.
		{"ap2025-03-14", false, "2025-03-13T02:24:00Z", "2025-03-15T21:36:00Z"},
		// A day 10 days ahead: the gap runs to its start, ±24 h.
		{"ap2025-04-03", false, "2025-04-02T00:00:00Z", "2025-04-05T00:00:00Z"},
		// Now within the month: the month itself.
		{"ap2025-03", false, "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"},
		// A year that ended 82 days ago: ±8.2 days.
		{"ap2024", false, "2023-12-23T19:12:00Z", "2025-01-09T04:48:00Z"},
		// An instant (a second's range) 10 days ago, with its own zone.
		{"ap2025-03-14T02:59:59+03:00", false, "2025-03-12T23:59:59Z", "2025-03-15T00:00:00Z"},
		// A birth date 16,381 days before now: ±1,638.1 days, whole days.
		{"ap1980-05-17", true, "1975-11-21T00:00:00Z", "1984-11-12T00:00:00Z"},
		// Now, to the second: no widening.
		{"ap2025-03-24T00:00:00Z", false, "2025-03-24T00:00:00Z", "2025-03-24T00:00:01Z"},
	} {
		d, err := q.parseDate(c.raw, c.dayOnly)
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if d.Prefix != "eq" || !d.Start.Equal(at(c.start)) || !d.End.Equal(at(c.end)) {
			t.Errorf("%s: %s [%s, %s), want eq [%s, %s)", c.raw, d.Prefix, d.Start.UTC().Format(time.RFC3339Nano),
				d.End.UTC().Format(time.RFC3339Nano), c.start, c.end)
		}
	}
}
