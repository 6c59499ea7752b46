package dicom

import (
	"strconv"
	"strings"
	"time"
)

// ValidUID reports whether s is a valid UID (PS3.5 9.1): 1–64 characters,
// components of digits separated by '.', no leading zero in a component
// of more than one digit.
func ValidUID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	compStart := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			n := i - compStart
			if n == 0 || (n > 1 && s[compStart] == '0') {
				return false
			}
			compStart = i + 1
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normDA accepts "YYYYMMDD" and the ACR-NEMA form "YYYY.MM.DD".
func normDA(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 10 && s[4] == '.' && s[7] == '.' {
		s = s[:4] + s[5:7] + s[8:]
	}
	if len(s) != 8 || !digits(s) {
		return "", false
	}
	return s, true
}

// ParseDA parses a DA value (YYYYMMDD; the old YYYY.MM.DD is accepted) to
// midnight in loc (nil: UTC).
func ParseDA(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	n, ok := normDA(s)
	if !ok {
		return time.Time{}, &EncodeError{Msg: "DA is not YYYYMMDD", Err: ErrValue}
	}
	t, err := time.ParseInLocation("20060102", n, loc)
	if err != nil {
		return time.Time{}, &EncodeError{Msg: "DA is not a calendar date", Err: ErrValue}
	}
	return t, nil
}

// tmParts splits a TM value "HH[MM[SS[.F{1,6}]]]" (colons of the old
// HH:MM:SS form accepted) into its fields; prec is the number of fields
// given (1 = hours … 4 = fraction).
func tmParts(s string) (h, m, sec, nanos, prec int, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, ":", "")
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i+1:]
		if len(s) != 6 || len(frac) == 0 || len(frac) > 6 || !digits(frac) {
			return 0, 0, 0, 0, 0, false
		}
	}
	if !digits(s) || len(s)%2 != 0 || len(s) == 0 || len(s) > 6 {
		return 0, 0, 0, 0, 0, false
	}
	h, _ = strconv.Atoi(s[0:2])
	prec = 1
	if len(s) >= 4 {
		m, _ = strconv.Atoi(s[2:4])
		prec = 2
	}
	if len(s) == 6 {
		sec, _ = strconv.Atoi(s[4:6])
		prec = 3
	}
	if frac != "" {
		f, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		nanos = f
		prec = 4
	}
	if h > 23 || m > 59 || sec > 60 {
		return 0, 0, 0, 0, 0, false
	}
	return h, m, sec, nanos, prec, true
}

// ParseTM parses a TM value to a duration since midnight.
func ParseTM(s string) (time.Duration, error) {
	h, m, sec, nanos, _, ok := tmParts(s)
	if !ok {
		return 0, &EncodeError{Msg: "TM is not HHMMSS.FFFFFF", Err: ErrValue}
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(nanos), nil
}

// ParseDateTime combines a DA and a TM value (either TM may be empty) into
// a time in loc (nil: UTC), e.g. Study Date + Study Time.
func ParseDateTime(da, tm string, loc *time.Location) (time.Time, error) {
	d, err := ParseDA(da, loc)
	if err != nil || strings.TrimSpace(tm) == "" {
		return d, err
	}
	off, err := ParseTM(tm)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, d.Location()).Add(off), nil
}

// ParseDT parses a DT value "YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]".
// Without an offset the time is in loc (nil: UTC). It also returns the
// end of the period the value denotes (a DT of "2024" covers the year),
// which range matching needs.
func ParseDT(s string, loc *time.Location) (start, end time.Time, err error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	bad := func() (time.Time, time.Time, error) {
		return time.Time{}, time.Time{}, &EncodeError{Msg: "DT is not YYYYMMDDHHMMSS.FFFFFF&ZZXX", Err: ErrValue}
	}
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		z := s[i:]
		s = s[:i]
		if len(z) != 5 || !digits(z[1:]) {
			return bad()
		}
		hh, _ := strconv.Atoi(z[1:3])
		mm, _ := strconv.Atoi(z[3:5])
		if hh > 14 || mm > 59 {
			return bad()
		}
		off := hh*3600 + mm*60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("UTC"+z, off)
	}
	date, clock := s, ""
	if len(s) > 8 {
		date, clock = s[:8], s[8:]
	}
	if !digits(date) || (len(date) != 4 && len(date) != 6 && len(date) != 8) {
		return bad()
	}
	y, _ := strconv.Atoi(date[:4])
	mo, d := 1, 1
	step := func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	if len(date) >= 6 {
		mo, _ = strconv.Atoi(date[4:6])
		step = func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	}
	if len(date) == 8 {
		d, _ = strconv.Atoi(date[6:8])
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return bad()
	}
	start = time.Date(y, time.Month(mo), d, 0, 0, 0, 0, loc)
	if start.Day() != d {
		return bad()
	}
	if clock == "" {
		return start, step(start).Add(-time.Nanosecond), nil
	}
	h, m, sec, nanos, prec, ok := tmParts(clock)
	if !ok {
		return bad()
	}
	start = start.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(nanos))
	var width time.Duration
	switch prec {
	case 1:
		width = time.Hour
	case 2:
		width = time.Minute
	case 3:
		width = time.Second
	default:
		width = time.Duration(pow10(9 - (len(clock) - 7)))
	}
	return start, start.Add(width - time.Nanosecond), nil
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// FormatDA formats t as a DA value.
func FormatDA(t time.Time) string { return t.Format("20060102") }

// FormatTM formats t's clock as a TM value (HHMMSS).
func FormatTM(t time.Time) string { return t.Format("150405") }

// FormatDT formats t as a DT value with its UTC offset.
func FormatDT(t time.Time) string { return t.Format("20060102150405.000000-0700") }

// PersonName is a PN value: the five components of its alphabetic group
// and the ideographic and phonetic groups as written.
type PersonName struct {
	Family, Given, Middle, Prefix, Suffix string
	Ideographic, Phonetic                 string
}

// ParsePersonName splits a decoded PN value into its groups and the
// alphabetic group into its components.
func ParsePersonName(s string) PersonName {
	groups := strings.SplitN(s, "=", 3)
	var p PersonName
	comps := strings.SplitN(groups[0], "^", 5)
	for i, c := range comps {
		c = strings.TrimSpace(c)
		switch i {
		case 0:
			p.Family = c
		case 1:
			p.Given = c
		case 2:
			p.Middle = c
		case 3:
			p.Prefix = c
		case 4:
			p.Suffix = c
		}
	}
	if len(groups) > 1 {
		p.Ideographic = groups[1]
	}
	if len(groups) > 2 {
		p.Phonetic = groups[2]
	}
	return p
}

// String encodes the name as a PN value, dropping trailing empty
// components and groups.
func (p PersonName) String() string {
	alpha := strings.TrimRight(strings.Join([]string{p.Family, p.Given, p.Middle, p.Prefix, p.Suffix}, "^"), "^")
	return strings.TrimRight(strings.Join([]string{alpha, p.Ideographic, p.Phonetic}, "="), "=")
}

// FormatPN builds a PN value from family, given and middle names
// (patronymic, for Russian names), e.g. "Иванов^Иван^Иванович".
func FormatPN(family, given, middle string) string {
	return PersonName{Family: family, Given: given, Middle: middle}.String()
}

// TrimPN drops trailing empty components and groups ("A^B^^" → "A^B"),
// which PS3.5 makes equivalent.
func TrimPN(s string) string {
	groups := strings.Split(s, "=")
	for i, g := range groups {
		groups[i] = strings.TrimRight(g, "^ ")
	}
	return strings.TrimRight(strings.Join(groups, "="), "=")
}
