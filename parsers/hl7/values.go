package hl7

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NumStatus says whether a Number can be used.
type NumStatus uint8

const (
	// NumEmpty: no value was sent.
	NumEmpty NumStatus = iota
	// NumOK: Value holds the number.
	NumOK
	// NumMasked: the device masked the value (***.**, .***), typically
	// because it was out of the measuring range or the run failed.
	NumMasked
	// NumInvalid: text that is not a number; Value is 0 and meaningless.
	NumInvalid
)

var numStatusNames = [...]string{"empty", "ok", "masked", "invalid"}

func (s NumStatus) String() string { return numStatusNames[s] }

// MarshalText makes the status readable in JSON.
func (s NumStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Number is a numeric result as devices send it. Value is meaningful only
// when Status is NumOK; a masked or unparseable result is never a zero.
type Number struct {
	Status     NumStatus `json:"status"`
	Comparator string    `json:"comparator,omitempty"` // "<", "<=", ">", ">=", "=", "<>"
	Value      float64   `json:"value"`
	// Text is the number as sent with a '.' decimal point and no
	// comparator, keeping trailing zeros that carry precision ("5.20").
	Text         string `json:"text,omitempty"`
	DecimalComma bool   `json:"decimal_comma,omitempty"`
}

// IsZero reports an empty number.
func (n Number) IsZero() bool { return n == Number{} }

// ParseNumber reads an NM value the way devices write it: optional sign,
// digits with a '.' or ',' decimal separator, optionally preceded by a
// comparator ("<2", ">= 10"). Exponents and thousands separators are not
// NM and make the value invalid.
func ParseNumber(s string) Number {
	s = strings.TrimSpace(s)
	if s == "" || s == `""` {
		return Number{}
	}
	var n Number
	for _, cmp := range [...]string{"<=", ">=", "<>", "<", ">", "="} {
		if strings.HasPrefix(s, cmp) {
			n.Comparator = cmp
			s = strings.TrimSpace(s[len(cmp):])
			break
		}
	}
	if isMasked(s) {
		n.Status = NumMasked
		return n
	}
	digits, seps := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '.' || c == ',':
			seps++
			if c == ',' {
				n.DecimalComma = true
			}
		case (c == '+' || c == '-') && i == 0:
		default:
			return Number{Status: NumInvalid, Comparator: n.Comparator}
		}
	}
	if digits == 0 || seps > 1 {
		return Number{Status: NumInvalid, Comparator: n.Comparator}
	}
	text := s
	if n.DecimalComma {
		text = strings.Replace(s, ",", ".", 1)
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return Number{Status: NumInvalid, Comparator: n.Comparator}
	}
	n.Status, n.Value, n.Text = NumOK, v, strings.TrimPrefix(text, "+")
	return n
}

// isMasked: only asterisks and decimal separators, at least one asterisk.
func isMasked(s string) bool {
	star := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			star = true
		case '.', ',':
		default:
			return false
		}
	}
	return star
}

// SN is a structured numeric: ">^100", "^1^:^128" (a ratio), "^10^-^20"
// (a range), "^2^+" (2+).
type SN struct {
	Comparator string `json:"comparator,omitempty"`
	Num1       Number `json:"num1,omitzero"`
	Separator  string `json:"separator,omitempty"` // "-", "+", "/", ".", ":"
	Num2       Number `json:"num2,omitzero"`
}

// IsZero reports an empty SN.
func (s SN) IsZero() bool { return s == SN{} }

func readSN(v Value) (SN, error) {
	sn := SN{
		Comparator: strings.TrimSpace(v.Comp(1).String()),
		Num1:       ParseNumber(v.Comp(2).String()),
		Separator:  strings.TrimSpace(v.Comp(3).String()),
		Num2:       ParseNumber(v.Comp(4).String()),
	}
	switch sn.Comparator {
	case "", "<", ">", "<=", ">=", "=", "<>":
	default:
		return sn, errors.New("SN comparator is not one of < > <= >= = <>")
	}
	if sn.Num1.Status == NumInvalid || sn.Num2.Status == NumInvalid {
		return sn, errors.New("SN number is not numeric")
	}
	return sn, nil
}

// Precision is how much of a timestamp was sent.
type Precision uint8

const (
	PrecisionNone Precision = iota
	PrecisionYear
	PrecisionMonth
	PrecisionDay
	PrecisionHour
	PrecisionMinute
	PrecisionSecond
	// PrecisionFraction: seconds with a fraction (Time.FracDigits digits).
	PrecisionFraction
)

var precisionNames = [...]string{"none", "year", "month", "day", "hour", "minute", "second", "fraction"}

func (p Precision) String() string { return precisionNames[p] }

// MarshalText makes the precision readable in JSON.
func (p Precision) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Time is an HL7 DT/DTM/TS value: the instant and how precisely it was
// sent. Without an offset the wall clock is read in Options.Location (UTC
// when unset) and HasZone is false.
type Time struct {
	Time       time.Time `json:"time"`
	Precision  Precision `json:"precision"`
	FracDigits int       `json:"frac_digits,omitempty"`
	HasZone    bool      `json:"has_zone,omitempty"`
}

// IsZero reports that no time was sent.
func (t Time) IsZero() bool { return t.Precision == PrecisionNone }

// Format writes the time back at its own precision, with the offset if it
// had one.
func (t Time) Format() string {
	if t.IsZero() {
		return ""
	}
	layout := [...]string{"", "2006", "200601", "20060102", "2006010215", "200601021504", "20060102150405", "20060102150405"}[t.Precision]
	s := t.Time.Format(layout)
	if t.Precision == PrecisionFraction && t.FracDigits > 0 {
		frac := fmt.Sprintf("%09d", t.Time.Nanosecond())
		s += "." + frac[:min(t.FracDigits, 9)]
	}
	if t.HasZone {
		s += t.Time.Format("-0700")
	}
	return s
}

// ParseTime reads YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]. The
// pre-v2.6 TS degree-of-precision component is ignored (pass the first
// component). loc is used when no offset is given (nil: UTC).
func ParseTime(s string, loc *time.Location) (Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == `""` {
		return Time{}, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	body, zone := s, ""
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		body, zone = s[:i], s[i:]
	}
	main, frac, hasFrac := strings.Cut(body, ".")
	if !allDigits(main) {
		return Time{}, errors.New("date/time has characters other than digits")
	}
	var t Time
	switch len(main) {
	case 4:
		t.Precision = PrecisionYear
	case 6:
		t.Precision = PrecisionMonth
	case 8:
		t.Precision = PrecisionDay
	case 10:
		t.Precision = PrecisionHour
	case 12:
		t.Precision = PrecisionMinute
	case 14:
		t.Precision = PrecisionSecond
	default:
		return Time{}, fmt.Errorf("date/time has %d digits; want 4, 6, 8, 10, 12 or 14", len(main))
	}
	nsec := 0
	if hasFrac {
		if t.Precision != PrecisionSecond || frac == "" || len(frac) > 9 || !allDigits(frac) {
			return Time{}, errors.New("fractional seconds must follow seconds and have 1 to 9 digits")
		}
		t.Precision, t.FracDigits = PrecisionFraction, len(frac)
		nsec, _ = strconv.Atoi((frac + "000000000")[:9])
	}
	num := func(from, to, def int) int {
		if len(main) < to {
			return def
		}
		n, _ := strconv.Atoi(main[from:to])
		return n
	}
	year, month, day := num(0, 4, 0), num(4, 6, 1), num(6, 8, 1)
	hour, minute, sec := num(8, 10, 0), num(10, 12, 0), num(12, 14, 0)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return Time{}, errors.New("date/time out of range")
	}
	if zone != "" {
		if len(zone) != 5 || !allDigits(zone[1:]) {
			return Time{}, errors.New("time zone offset must be +HHMM or -HHMM")
		}
		zh, _ := strconv.Atoi(zone[1:3])
		zm, _ := strconv.Atoi(zone[3:5])
		if zh > 23 || zm > 59 {
			return Time{}, errors.New("time zone offset out of range")
		}
		off := zh*3600 + zm*60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
		t.HasZone = true
	}
	t.Time = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	return t, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// FormatTime writes t for an HL7 DTM field at precision p (PrecisionNone
// or a zero t give ""), with its offset when zone is true.
func FormatTime(t time.Time, p Precision, zone bool) string {
	if t.IsZero() || p == PrecisionNone {
		return ""
	}
	return Time{Time: t, Precision: p, FracDigits: 3, HasZone: zone}.Format()
}

// ED is encapsulated data: a PDF report, a histogram image. Data holds
// the decoded bytes.
type ED struct {
	Source   HD     `json:"source,omitzero"`
	Type     string `json:"type,omitempty"`     // ED-2 type of data: AP, IM, Image, ...
	Subtype  string `json:"subtype,omitempty"`  // ED-3: PDF, JPEG, BMP, ...
	Encoding string `json:"encoding,omitempty"` // ED-4: Base64, Hex, A
	Data     []byte `json:"data,omitempty"`
}

// IsZero reports an empty ED.
func (e ED) IsZero() bool {
	return e.Source.IsZero() && e.Type == "" && e.Subtype == "" && e.Encoding == "" && len(e.Data) == 0
}

func readED(v Value) (ED, error) {
	ed := ED{
		Source:   readHD(v.Comp(1)),
		Type:     v.Comp(2).String(),
		Subtype:  v.Comp(3).String(),
		Encoding: v.Comp(4).String(),
	}
	data := v.Comp(5).String()
	switch strings.ToUpper(ed.Encoding) {
	case "BASE64":
		b, err := decodeBase64(data)
		if err != nil {
			return ed, errors.New("ED data is not valid base64")
		}
		ed.Data = b
	case "HEX":
		b, err := hex.DecodeString(strings.Join(strings.Fields(data), ""))
		if err != nil {
			return ed, errors.New("ED data is not valid hex")
		}
		ed.Data = b
	case "A", "":
		ed.Data = []byte(data)
	default:
		return ed, errors.New("ED encoding is not Base64, Hex or A")
	}
	return ed, nil
}

// Encode returns the ED as a field, data in base64 unless Encoding says
// Hex or A.
func (e ED) Encode(d Delimiters) string {
	enc, data := e.Encoding, ""
	switch strings.ToUpper(enc) {
	case "HEX":
		data = strings.ToUpper(hex.EncodeToString(e.Data))
	case "A":
		data = d.Encode(string(e.Data))
	default:
		enc = "Base64"
		data = base64.StdEncoding.EncodeToString(e.Data)
	}
	return d.join(d.Component, e.Source.enc(d, d.Subcomponent), d.Encode(e.Type), d.Encode(e.Subtype), enc, data)
}

// decodeBase64 accepts line breaks (written as escapes and decoded by
// now), spaces and missing padding, which devices produce.
func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(clean); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
}
