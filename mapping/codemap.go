package mapping

import (
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// Entry finds a device code in a code map.
func Entry(cm *domain.CodeMap, deviceCode string) (*domain.CodeMapEntry, bool) {
	if cm == nil {
		return nil, false
	}
	for i := range cm.Entries {
		if cm.Entries[i].DeviceCode == deviceCode {
			return &cm.Entries[i], true
		}
	}
	return nil, false
}

// Subject is what range selection needs to know of the patient.
type Subject struct {
	Gender    domain.Gender
	BirthDate string // YYYY-MM-DD; empty: unknown
}

// ageDays is the subject's age in days at t, or -1 when unknown.
func (s Subject) ageDays(t time.Time) int {
	bd, err := time.Parse(time.DateOnly, s.BirthDate)
	if err != nil || t.IsZero() {
		return -1
	}
	return int(t.Sub(bd).Hours() / 24)
}

// Range picks the entry's reference range for the subject at time t: the
// first rule whose sex and age band fit. With unknown age, only rules
// without an age band fit; with unknown sex, only rules for any sex.
func Range(e *domain.CodeMapEntry, s Subject, t time.Time) *domain.RangeRule {
	age := s.ageDays(t)
	for i := range e.Ranges {
		r := &e.Ranges[i]
		if r.Sex != "" && r.Sex != s.Gender {
			continue
		}
		banded := r.AgeFromDays != 0 || r.AgeToDays != 0
		if banded && (age < 0 || age < r.AgeFromDays || r.AgeToDays != 0 && age >= r.AgeToDays) {
			continue
		}
		return r
	}
	return nil
}

// Apply makes an observation's code, value, unit, range snapshot and
// interpretation from a code-map entry. A numeric value is converted to the
// entry's unit; the device's own flag wins over the range's verdict.
//
// The entry's own code leads. Its LOINC code travels beside it in
// o.LOINC (FHIR's second coding of Observation.code), or is the code
// itself when the entry has no other; an entry coded in LOINC needs none
// beside.
func Apply(o *domain.Observation, e *domain.CodeMapEntry, s Subject, deviceFlag string) {
	system := e.System
	if system == "" {
		system = domain.SystemLocalCode
	}
	o.Code = domain.Coding{System: system, Code: e.Code, Display: e.Display}
	o.LOINC = ""
	if e.LOINC != "" && system != domain.SystemLOINC {
		if e.Code == "" {
			o.Code = domain.Coding{System: domain.SystemLOINC, Code: e.LOINC, Display: e.Display}
		} else {
			o.LOINC = e.LOINC
		}
	}
	if q := o.ValueQuantity; q != nil {
		if e.Factor != 0 && e.Factor != 1 {
			q.Value *= e.Factor
		}
		if e.Unit != "" {
			q.Unit = e.Unit
		}
	}
	if r := Range(e, s, o.Effective); r != nil {
		o.ReferenceRange = &domain.ReferenceRange{Low: r.Low, High: r.High, Text: r.Text}
		if deviceFlag == "" && o.ValueQuantity != nil && o.ValueQuantity.Comparator == "" {
			o.Interpretation = Interpret(o.ValueQuantity.Value, r)
		}
	}
	if deviceFlag != "" {
		o.Interpretation = deviceFlag
	}
}

// Interpret judges a value against a range: LL/HH beyond the critical
// limits, L/H outside the range, N inside it.
func Interpret(v float64, r *domain.RangeRule) string {
	switch {
	case r.CriticalLow != nil && v < *r.CriticalLow:
		return domain.InterpCriticalLow
	case r.CriticalHigh != nil && v > *r.CriticalHigh:
		return domain.InterpCriticalHigh
	case r.Low != nil && v < *r.Low:
		return domain.InterpLow
	case r.High != nil && v > *r.High:
		return domain.InterpHigh
	case r.Low != nil || r.High != nil:
		return domain.InterpNormal
	}
	return ""
}
