package dicom

import (
	"strings"
	"time"
)

// MatchString reports whether value matches pattern, where '*' matches
// any run of characters (including none) and '?' exactly one character
// (runes, so Cyrillic letters count as one). With caseInsensitive both
// sides are compared after Fold (Cyrillic case and ё=е).
func MatchString(pattern, value string, caseInsensitive bool) bool {
	if caseInsensitive {
		pattern, value = Fold(pattern), Fold(value)
	}
	p, v := []rune(pattern), []rune(value)
	// Iterative wildcard matching with single backtrack point: linear in
	// practice, O(len(p)*len(v)) at worst, no recursion.
	pi, vi := 0, 0
	star, mark := -1, 0
	for vi < len(v) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, vi
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == v[vi]):
			pi++
			vi++
		case star >= 0:
			pi = star + 1
			mark++
			vi = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// HasWildcard reports whether s holds '*' or '?'.
func HasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// LikePattern turns a C-FIND wildcard pattern into a SQL LIKE pattern to
// be used with ESCAPE '\': '*' → '%', '?' → '_', and '%', '_' and '\'
// escaped. prefix is the literal text before the first wildcard, for an
// index range scan (value >= prefix AND value < prefix+"\U0010FFFF");
// exact is true when the pattern has no wildcard at all.
func LikePattern(pattern string) (like, prefix string, exact bool) {
	var b strings.Builder
	wild := -1
	for i, r := range pattern {
		switch r {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
			continue
		default:
			b.WriteRune(r)
			continue
		}
		if wild < 0 {
			wild = i
		}
	}
	if wild < 0 {
		return b.String(), pattern, true
	}
	return b.String(), pattern[:wild], false
}

// splitRange splits "a-b", "-b", "a-" (and "a", which gives a==b). ok is
// false when s has more than one '-'.
func splitRange(s string) (lo, hi string, isRange, ok bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexByte(s, '-')
	if i < 0 {
		return s, s, false, true
	}
	if strings.IndexByte(s[i+1:], '-') >= 0 {
		return "", "", true, false
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), true, true
}

// MatchDateRange reports whether the DA value matches a DA key: a single
// date, "a-b", "-b" or "a-" (bounds inclusive). An empty key matches
// everything; an empty or invalid value matches only an empty key.
func MatchDateRange(key, value string) bool {
	key = strings.TrimSpace(key)
	if key == "" {
		return true
	}
	v, ok := normDA(value)
	if !ok {
		return false
	}
	lo, hi, _, ok := splitRange(key)
	if !ok {
		return false
	}
	if lo != "" {
		l, ok := normDA(lo)
		if !ok || v < l {
			return false
		}
	}
	if hi != "" {
		h, ok := normDA(hi)
		if !ok || v > h {
			return false
		}
	}
	return true
}

// tmBound returns the TM as nanoseconds since midnight, the earliest
// instant it denotes (upper=false) or the latest (upper=true): "10" as an
// upper bound means until 10:59:59.999999.
func tmBound(s string, upper bool) (int64, bool) {
	h, m, sec, nanos, prec, ok := tmParts(s)
	if !ok {
		return 0, false
	}
	t := (int64(h)*3600+int64(m)*60+int64(sec))*1e9 + int64(nanos)
	if upper {
		switch prec {
		case 1:
			t += 3600e9 - 1
		case 2:
			t += 60e9 - 1
		case 3:
			t += 1e9 - 1
		default:
			frac := strings.TrimSpace(s)
			frac = frac[strings.IndexByte(frac, '.')+1:]
			t += pow10(9-len(frac)) - 1
		}
	}
	return t, true
}

// MatchTimeRange reports whether the TM value matches a TM key: a single
// time, "a-b", "-b" or "a-". Bounds given with less precision cover their
// whole unit ("0800-0900" includes 09:00:59). A single time matches
// values within the unit it names ("10" matches "1030").
func MatchTimeRange(key, value string) bool {
	key = strings.TrimSpace(key)
	if key == "" {
		return true
	}
	v, ok := tmBound(value, false)
	if !ok {
		return false
	}
	lo, hi, _, ok := splitRange(key)
	if !ok {
		return false
	}
	if lo != "" {
		l, ok := tmBound(lo, false)
		if !ok || v < l {
			return false
		}
	}
	if hi != "" {
		h, ok := tmBound(hi, true)
		if !ok || v > h {
			return false
		}
	}
	return true
}

// MatchDateTimeRange reports whether the DT value matches a DT key
// ("a-b", "-b", "a-" or a single DT); values and bounds without a UTC
// offset are in loc (nil: UTC).
func MatchDateTimeRange(key, value string, loc *time.Location) bool {
	key = strings.TrimSpace(key)
	if key == "" {
		return true
	}
	v, _, err := ParseDT(value, loc)
	if err != nil {
		return false
	}
	// A '-' inside a DT may be a UTC offset: split on the range '-' only,
	// which is the one not followed by exactly four digits and the end or
	// another bound.
	lo, hi, ok := splitDTRange(key)
	if !ok {
		return false
	}
	if lo != "" {
		l, _, err := ParseDT(lo, loc)
		if err != nil || v.Before(l) {
			return false
		}
	}
	if hi != "" {
		_, h, err := ParseDT(hi, loc)
		if err != nil || v.After(h) {
			return false
		}
	}
	return true
}

// splitDTRange finds the range separator in a DT key, which may also
// contain '-' in UTC offsets ("20240101120000-0300-20240102").
func splitDTRange(s string) (lo, hi string, ok bool) {
	var cands []int
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return s, s, true
	}
	for _, i := range cands {
		l, h := s[:i], s[i+1:]
		if (l == "" || validDT(l)) && (h == "" || validDT(h)) && !(l == "" && h == "") {
			return l, h, true
		}
	}
	return "", "", false
}

func validDT(s string) bool {
	_, _, err := ParseDT(s, nil)
	return err == nil
}

// MatchDateTime is PS3.4 C.2.2.2.5 combined date-time range matching of a
// DA key and a TM key (e.g. Scheduled Procedure Step Start Date and Time)
// against a date and a time: "20240101-20240102" with "0800-1000" means
// from 2024-01-01 08:00 to 2024-01-02 10:00. With either key empty it is
// the plain date or time match.
func MatchDateTime(dateKey, timeKey, date, tm string) bool {
	dateKey, timeKey = strings.TrimSpace(dateKey), strings.TrimSpace(timeKey)
	if dateKey == "" || timeKey == "" {
		return MatchDateRange(dateKey, date) && MatchTimeRange(timeKey, tm)
	}
	dlo, dhi, dr, ok1 := splitRange(dateKey)
	tlo, thi, tr, ok2 := splitRange(timeKey)
	if !ok1 || !ok2 || (!dr && !tr) {
		return MatchDateRange(dateKey, date) && MatchTimeRange(timeKey, tm)
	}
	d, ok := normDA(date)
	if !ok {
		return false
	}
	t := int64(0)
	if strings.TrimSpace(tm) != "" {
		if t, ok = tmBound(tm, false); !ok {
			return false
		}
	}
	if dlo != "" {
		l, ok := normDA(dlo)
		if !ok {
			return false
		}
		lt := int64(0)
		if tlo != "" {
			if lt, ok = tmBound(tlo, false); !ok {
				return false
			}
		}
		if d < l || (d == l && t < lt) {
			return false
		}
	}
	if dhi != "" {
		h, ok := normDA(dhi)
		if !ok {
			return false
		}
		ht := int64(86400e9)
		if thi != "" {
			if ht, ok = tmBound(thi, true); !ok {
				return false
			}
		}
		if d > h || (d == h && t > ht) {
			return false
		}
	}
	return true
}
