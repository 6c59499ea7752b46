package fhir

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/store"
)

// paramKind is a search parameter's FHIR type.
type paramKind string

const (
	kindToken     paramKind = "token"
	kindReference paramKind = "reference"
	kindDate      paramKind = "date"
	kindString    paramKind = "string"
)

// param describes one supported search parameter.
type param struct {
	name string
	kind paramKind
	doc  string
}

// control parameters every search accepts besides its own.
var controlParams = map[string]bool{
	"_count": true, "_include": true, "_total": true, "_format": true, "_pretty": true, "_cursor": true,
}

// query reads one search's parameters. Type-specific code asks for the
// parameters it knows; what nobody asked for is unknown.
type query struct {
	s      *Server
	typ    *resourceType
	values url.Values
	strict bool
	asked  map[string]bool
	used   []string   // parameters that shaped the search, for the audit detail
	self   url.Values // the search as performed, for the self and next links

	ignored []string // unknown parameters and unsupported _include values, lenient mode
	count   int      // page size; 0 asks for the total only
	total   bool
	cursor  string
	include bool // _include=DiagnosticReport:result
}

// preferStrict reports whether the client asked for strict handling of
// unknown parameters (Prefer: handling=strict).
func preferStrict(r *http.Request) bool {
	for _, h := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(part), " ", ""), "handling=strict") {
				return true
			}
		}
	}
	return false
}

func (s *Server) newQuery(r *http.Request, typ *resourceType) (*query, error) {
	values := r.URL.Query()
	if r.Method == http.MethodPost {
		values = r.Form
	}
	q := &query{s: s, typ: typ, values: values, strict: preferStrict(r), asked: map[string]bool{},
		self: url.Values{}, count: s.DefaultCount, total: true}
	// Modifiers: only the type modifier on patient references is known.
	for key := range values {
		name, mod, ok := strings.Cut(key, ":")
		if !ok {
			continue
		}
		known := typ.param(name) != nil || controlParams[name] || name == "_id"
		switch {
		case known && typ.param(name) != nil && typ.param(name).kind == kindReference && mod == "Patient" && name != "based-on" && name != "basedon":
			if _, dup := values[name]; dup {
				return nil, invalid("give %s once", name)
			}
			values[name] = values[key]
			delete(values, key)
		case known:
			return nil, notSupported("search parameter %s does not support the modifier :%s", name, mod)
		}
	}
	if err := q.control(); err != nil {
		return nil, err
	}
	return q, nil
}

// control reads _count, _total, _cursor and _include.
func (q *query) control() error {
	if v, ok := q.one("_count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid("_count must be a whole number, 0 or more; got %q", v)
		}
		q.count = min(n, q.s.MaxCount)
		q.self.Set("_count", strconv.Itoa(q.count))
	}
	if v, ok := q.one("_total"); ok {
		switch v {
		case "none":
			q.total = false
		case "estimate", "accurate":
		default:
			return invalid(`_total must be "none", "estimate" or "accurate"; got %q`, v)
		}
		q.self.Set("_total", v)
	}
	if v, ok := q.one("_cursor"); ok {
		q.cursor = v
		q.self.Set("_cursor", v) // the self link is the page it is on
	}
	for _, v := range q.values["_include"] {
		if v == "" {
			continue
		}
		if q.typ.name == "DiagnosticReport" && (v == "DiagnosticReport:result" || v == "DiagnosticReport:result:Observation") {
			q.include = true
			q.self.Add("_include", v)
			continue
		}
		if q.strict {
			return notSupported("_include=%s is not supported; this server includes DiagnosticReport:result only", v)
		}
		q.ignored = append(q.ignored, "_include="+v)
	}
	return nil
}

// one is a parameter given at most once; an empty value is absent.
func (q *query) one(name string) (string, bool) {
	q.asked[name] = true
	vs := q.values[name]
	if len(vs) == 0 || vs[len(vs)-1] == "" {
		return "", false
	}
	return vs[len(vs)-1], true
}

// single is a parameter that may not repeat (repeats would AND, which
// single-valued elements cannot satisfy in a useful way).
func (q *query) single(name string) (string, bool, error) {
	q.asked[name] = true
	var vs []string
	for _, v := range q.values[name] {
		if v != "" {
			vs = append(vs, v)
		}
	}
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
		q.use(name, vs[0])
		return vs[0], true, nil
	}
	return "", false, invalid("give %s once; separate alternatives with commas (%s=a,b)", name, name)
}

func (q *query) use(name, raw string) {
	if !slices.Contains(q.used, name) {
		q.used = append(q.used, name)
	}
	q.self.Add(name, raw)
}

// unknown lists the parameters nobody asked for: in strict mode the first
// is an error naming it.
func (q *query) unknown() error {
	var names []string
	for key := range q.values {
		if !q.asked[key] && !controlParams[key] {
			names = append(names, key)
		}
	}
	slices.Sort(names)
	if len(names) > 0 && q.strict {
		return invalid("unknown search parameter %q for %s (Prefer: handling=strict); supported: %s",
			names[0], q.typ.name, q.typ.paramNames())
	}
	for _, n := range names {
		q.ignored = append(q.ignored, n)
	}
	return nil
}

// splitValues splits a comma-separated list; "\," escapes a comma.
func splitValues(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && (v[i+1] == ',' || v[i+1] == '|' || v[i+1] == '\\' || v[i+1] == '$'):
			cur.WriteByte(v[i+1])
			i++
		case v[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(out, cur.String())
}

// tokens reads a token parameter: [system|]code, comma-separated.
func (q *query) tokens(name string) ([]store.Token, error) {
	v, ok, err := q.single(name)
	if !ok || err != nil {
		return nil, err
	}
	var out []store.Token
	for _, item := range splitValues(v) {
		t, err := parseToken(item)
		if err != nil {
			return nil, invalid("%s: %v", name, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func parseToken(v string) (store.Token, error) {
	// An escaped "\|" is part of the code.
	idx := -1
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' {
			i++
			continue
		}
		if v[i] == '|' {
			idx = i
			break
		}
	}
	unescape := strings.NewReplacer(`\|`, `|`, `\,`, `,`, `\$`, `$`, `\\`, `\`).Replace
	if idx < 0 {
		if v == "" {
			return store.Token{}, fmt.Errorf("empty value")
		}
		return store.Token{Code: unescape(v)}, nil
	}
	t := store.Token{System: unescape(v[:idx]), Code: unescape(v[idx+1:]), HasSystem: true}
	if t.System == "" && t.Code == "" {
		return t, fmt.Errorf("%q names neither a system nor a code", v)
	}
	return t, nil
}

// codes reads a token parameter whose values are plain codes (status,
// gender): a system, when given, must be the expected one.
func (q *query) codes(name, system string, allowed ...string) ([]string, error) {
	ts, err := q.tokens(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		if t.HasSystem && system != "" && t.System != system {
			return nil, invalid("%s: system must be %s", name, system)
		}
		if len(allowed) > 0 && !slices.Contains(allowed, t.Code) {
			return nil, invalid("%s: %q is not one of %s", name, t.Code, strings.Join(allowed, ", "))
		}
		out = append(out, t.Code)
	}
	return out, nil
}

// refIDs reads a reference parameter of type typ ("Patient/1", "1" or an
// absolute URL ending so), comma-separated. An id that is not a number
// names nothing here and is kept as -1, which matches nothing.
func (q *query) refIDs(name, typ string) ([]int64, error) {
	v, ok, err := q.single(name)
	if !ok || err != nil {
		return nil, err
	}
	var out []int64
	for _, item := range splitValues(v) {
		id, err := parseRef(item, typ)
		if err != nil {
			return nil, invalid("%s: %v", name, err)
		}
		out = append(out, id)
	}
	return out, nil
}

func parseRef(v, typ string) (int64, error) {
	v = strings.TrimSuffix(v, "/")
	if i := strings.Index(v, "/_history/"); i >= 0 {
		v = v[:i]
	}
	idPart := v
	if i := strings.LastIndex(v, "/"); i >= 0 {
		idPart = v[i+1:]
		head := v[:i]
		if j := strings.LastIndex(head, "/"); j >= 0 {
			head = head[j+1:]
		}
		if head != typ {
			return 0, fmt.Errorf("%q does not reference a %s", v, typ)
		}
	}
	if idPart == "" {
		return 0, fmt.Errorf("empty reference")
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return -1, nil
	}
	return id, nil
}

// patient reads the patient a search is about: patient or subject, given
// once between them. 0 means none given.
func (q *query) patient() (int64, error) {
	var id int64
	for _, name := range []string{"patient", "subject"} {
		if q.typ.param(name) == nil {
			continue
		}
		ids, err := q.refIDs(name, "Patient")
		if err != nil {
			return 0, err
		}
		switch {
		case len(ids) > 1:
			return 0, notSupported("%s: one patient at a time", name)
		case len(ids) == 1 && id != 0 && id != ids[0]:
			return -1, nil // two different patients: nothing matches
		case len(ids) == 1:
			id = ids[0]
		}
	}
	return id, nil
}

// ids reads _id: a comma-separated list of ids; nil when absent.
func (q *query) ids() ([]int64, error) {
	v, ok, err := q.single("_id")
	if !ok || err != nil {
		return nil, err
	}
	out := []int64{}
	for _, item := range splitValues(v) {
		if id, err := strconv.ParseInt(item, 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out, nil
}

var (
	dateRE = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)
)

// dates reads a date parameter: each occurrence one value with an optional
// prefix; occurrences AND. dayOnly refuses times (birthdate) and reads the
// days in UTC, as birth dates are stored.
func (q *query) dates(name string, dayOnly bool) ([]store.DateParam, error) {
	q.asked[name] = true
	var out []store.DateParam
	for _, raw := range q.values[name] {
		if raw == "" {
			continue
		}
		if strings.Contains(raw, ",") {
			return nil, notSupported("%s: one date per parameter; repeat %s to combine (AND) bounds", name, name)
		}
		d, err := q.parseDate(raw, dayOnly)
		if err != nil {
			return nil, invalid("%s: %v", name, err)
		}
		out = append(out, d)
		q.use(name, raw)
	}
	return out, nil
}

// datePrefixes are the prefixes a date value may carry: the store's, and
// ap, which the API turns into an eq range (see approximately).
var datePrefixes = append(slices.Clone(store.DatePrefixes), "ap")

func (q *query) parseDate(raw string, dayOnly bool) (store.DateParam, error) {
	v := raw
	prefix := "eq"
	if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix = v[:2]
		if !slices.Contains(datePrefixes, prefix) {
			return store.DateParam{}, fmt.Errorf("unknown prefix %q (use one of %s)", prefix, strings.Join(datePrefixes, ", "))
		}
		v = v[2:]
	}
	m := dateRE.FindStringSubmatch(v)
	if m == nil {
		return store.DateParam{}, fmt.Errorf("%q is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|±hh:mm])", raw)
	}
	if dayOnly && m[4] != "" {
		return store.DateParam{}, fmt.Errorf("%q: give a date without a time", raw)
	}
	loc := q.s.location()
	if dayOnly {
		loc = time.UTC
	}
	if m[8] != "" {
		if m[8] == "Z" {
			loc = time.UTC
		} else {
			h, _ := strconv.Atoi(m[8][1:3])
			mi, _ := strconv.Atoi(m[8][4:6])
			off := h*3600 + mi*60
			if m[8][0] == '-' {
				off = -off
			}
			loc = time.FixedZone(m[8], off)
		}
	}
	num := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	year, month, day := num(m[1], 0), num(m[2], 1), num(m[3], 1)
	hour, minute, sec := num(m[4], 0), num(m[5], 0), num(m[6], 0)
	nanos := 0
	if m[7] != "" {
		frac := (m[7][1:] + "000000000")[:9]
		nanos, _ = strconv.Atoi(frac)
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return store.DateParam{}, fmt.Errorf("%q is out of range", raw)
	}
	start := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if start.Day() != day {
		return store.DateParam{}, fmt.Errorf("%q is not a calendar date", raw)
	}
	var end time.Time
	switch {
	case m[2] == "":
		end = start.AddDate(1, 0, 0)
	case m[3] == "":
		end = start.AddDate(0, 1, 0)
	case m[4] == "":
		end = start.AddDate(0, 0, 1)
	case m[6] == "":
		end = start.Add(time.Minute)
	case m[7] == "":
		end = start.Add(time.Second)
	default:
		unit := time.Duration(1)
		for i := len(m[7]) - 1; i < 9; i++ {
			unit *= 10
		}
		end = start.Add(unit)
	}
	if prefix == "ap" {
		start, end = q.approximately(start, end, dayOnly)
		prefix = "eq"
	}
	return store.DateParam{Prefix: prefix, Start: start, End: end}, nil
}

// approximately is the range an ap (approximately) date value searches.
// FHIR R4 recommends 10% of the gap between now and the date
// (search.html#prefix); here the gap runs from now to the nearer end of
// the value's own range [start, end), and the range grows by a tenth of
// it on each side. Now within the range leaves it as it is, so an
// imprecise date (ap2025-03) is at least its own range. Birth dates, kept
// as days, widen to whole days (in UTC, as dayOnly values are read).
func (q *query) approximately(start, end time.Time, dayOnly bool) (time.Time, time.Time) {
	now := time.Now()
	if q.s.Now != nil {
		now = q.s.Now()
	}
	var gap time.Duration
	switch {
	case now.Before(start):
		gap = start.Sub(now)
	case !now.Before(end):
		gap = now.Sub(end)
	}
	start, end = start.Add(-gap/10), end.Add(gap/10)
	if dayOnly {
		day := func(t time.Time) time.Time {
			t = t.UTC()
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		if start = day(start); day(end).Before(end) {
			end = day(end).AddDate(0, 0, 1)
		}
	}
	return start, end
}

// str reads a string parameter given once.
func (q *query) str(name string) (string, error) {
	v, _, err := q.single(name)
	return v, err
}

// page is the store paging of the query.
func (q *query) page() store.SearchPage {
	limit := q.count
	if limit == 0 {
		limit = 1
	}
	return store.SearchPage{Page: store.Page{Limit: limit, Cursor: q.cursor}, Total: q.total || q.count == 0}
}
