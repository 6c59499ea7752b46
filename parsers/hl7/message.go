package hl7

import (
	"strings"
	"time"
	"unicode/utf8"
)

// ctx is what reading a value needs besides its text. One per message;
// segments and values point at it.
type ctx struct {
	d   Delimiters
	cs  charset        // charset the text was decoded from (for \X..\)
	lax bool           // Lenient.UnescapedDelimiters
	loc *time.Location // zone for timestamps without an offset
}

// Message is one parsed (or built) HL7 v2 message.
type Message struct {
	// Charset is the canonical name of the character set the message was
	// decoded from ("utf-8", "windows-1251", ...). Encode writes it.
	Charset string
	// Segments in the order they came, Z-segments and unexpected ones
	// included. Pointers into it stay valid until segments are added.
	Segments []Segment

	c ctx
}

// Delimiters returns the separators from MSH-1 and MSH-2.
func (m *Message) Delimiters() Delimiters { return m.c.d }

// Lenient reports whether the message was parsed with
// Lenient.UnescapedDelimiters, which changes what some typed accessors
// return (see OBX.Units).
func (m *Message) Lenient() bool { return m.c.lax }

// Segment returns the first segment with the given ID, or nil.
func (m *Message) Segment(name string) *Segment {
	for i := range m.Segments {
		if m.Segments[i].Name == name {
			return &m.Segments[i]
		}
	}
	return nil
}

// All returns every segment with the given ID, in order.
func (m *Message) All(name string) []*Segment {
	var out []*Segment
	for i := range m.Segments {
		if m.Segments[i].Name == name {
			out = append(out, &m.Segments[i])
		}
	}
	return out
}

// Segment is one segment: its ID, its raw text and where its field
// separators are.
type Segment struct {
	Name string
	// Offset is the byte offset of the segment's first byte in the input
	// given to Parse or ParseBatch (0 for built segments).
	Offset int
	// Index is the 1-based position of the segment in its message.
	Index int

	text string  // raw text without terminator, starting with Name
	seps []int32 // positions of the field separators in text
	c    *ctx
}

// Raw returns the segment's text as received (decoded to UTF-8, escapes
// intact, without the terminator).
func (s *Segment) Raw() string {
	if s == nil {
		return ""
	}
	return s.text
}

// isHeader: in MSH, FHS and BHS the first field is the separator itself,
// so field numbers are shifted by one against the text.
func isHeader(name string) bool { return name == "MSH" || name == "FHS" || name == "BHS" }

// NumFields returns the number of the last field present (0 for a segment
// that is only an ID).
func (s *Segment) NumFields() int {
	if s == nil {
		return 0
	}
	if isHeader(s.Name) {
		return len(s.seps) + 1
	}
	return len(s.seps)
}

// element returns the n-th separator-delimited element of the text
// (0 = segment ID).
func (s *Segment) element(n int) (string, int, bool) {
	if n < 0 || n > len(s.seps) {
		return "", 0, false
	}
	start := 0
	if n > 0 {
		start = int(s.seps[n-1]) + 1
	}
	end := len(s.text)
	if n < len(s.seps) {
		end = int(s.seps[n])
	}
	return s.text[start:end], start, true
}

// Field returns field n (1-based, HL7 numbering: MSH-1 is the field
// separator, MSH-2 the encoding characters). Field(0) is the segment ID.
// A field past the end of the segment is absent, which State reports.
func (s *Segment) Field(n int) Value {
	if s == nil || n < 0 {
		return Value{}
	}
	if isHeader(s.Name) && n > 0 {
		if n == 1 {
			return Value{raw: string(s.c.d.Field), c: s.c, level: lvOpaque, present: true}
		}
		n--
		if n == 1 {
			raw, _, ok := s.element(1)
			return Value{raw: raw, c: s.c, level: lvOpaque, present: ok}
		}
	}
	raw, _, ok := s.element(n)
	if !ok {
		return Value{c: s.c}
	}
	if n == 0 {
		return Value{raw: raw, c: s.c, level: lvOpaque, present: true}
	}
	return Value{raw: raw, c: s.c, level: lvField, present: true}
}

// fieldOffset returns the input byte offset of field n's first byte.
func (s *Segment) fieldOffset(n int) int {
	if isHeader(s.Name) && n > 0 {
		if n == 1 {
			return s.Offset + 3
		}
		n--
	}
	if n > len(s.seps) { // absent: point at the end of the segment
		return s.Offset + s.origLen(len(s.text))
	}
	_, start, _ := s.element(n)
	return s.Offset + s.origLen(start)
}

// origLen converts a length in the decoded text to a length in the input:
// equal for UTF-8, one byte per character for single-byte charsets.
func (s *Segment) origLen(n int) int {
	if s.c.cs.singleByte() {
		return utf8.RuneCountInString(s.text[:n])
	}
	return n
}

// Set replaces field n with raw text (already escaped; see
// Delimiters.Encode and the data types' Encode methods), adding empty
// fields as needed. MSH-1 and MSH-2 cannot be set: delimiters are fixed
// when the message is created.
func (s *Segment) Set(n int, raw string) {
	if n < 1 || (isHeader(s.Name) && n <= 2) {
		return
	}
	if isHeader(s.Name) {
		n--
	}
	parts := s.elements()
	for len(parts) <= n {
		parts = append(parts, "")
	}
	parts[n] = raw
	s.setElements(parts)
}

func (s *Segment) elements() []string {
	parts := make([]string, 0, len(s.seps)+1)
	for i := 0; i <= len(s.seps); i++ {
		e, _, _ := s.element(i)
		parts = append(parts, e)
	}
	return parts
}

func (s *Segment) setElements(parts []string) {
	n := len(parts)
	for n > 1 && parts[n-1] == "" && !(isHeader(s.Name) && n <= 2) {
		n--
	}
	s.text = strings.Join(parts[:n], string(s.c.d.Field))
	s.seps = scanSeps(s.text, s.c.d.Field, nil)
}

func scanSeps(text string, fs byte, seps []int32) []int32 {
	for i := 0; ; {
		j := strings.IndexByte(text[i:], fs)
		if j < 0 {
			return seps
		}
		i += j
		seps = append(seps, int32(i))
		i++
	}
}

// State says whether a value is there, empty, or an explicit null.
type State uint8

const (
	// Absent: past the last separator, not sent at all.
	Absent State = iota
	// Empty: its separators are there, nothing between them.
	Empty
	// Null: the HL7 explicit null "" — the sender says "delete this".
	Null
	// Valued: anything else.
	Valued
)

func (s State) String() string {
	return [...]string{"absent", "empty", "null", "valued"}[s]
}

const (
	lvField  = iota // children: repetitions
	lvRep           // children: components
	lvComp          // children: subcomponents
	lvSub           // no children
	lvOpaque        // MSH-1, MSH-2, segment ID: never split
)

// Value is a view of a field, repetition, component or subcomponent. It
// is a string and a pointer; splitting and unescaping happen on access.
// HL7's rule that a value without further separators is its own first
// part holds throughout: Comp(1) of a simple field is the field.
type Value struct {
	raw     string
	c       *ctx
	level   uint8
	present bool
}

// State reports absent, empty, null or valued.
func (v Value) State() State {
	switch {
	case !v.present:
		return Absent
	case v.raw == "":
		return Empty
	case v.raw == `""`:
		return Null
	}
	return Valued
}

// IsNull reports the explicit null "".
func (v Value) IsNull() bool { return v.raw == `""` }

// IsEmpty reports an absent, empty or null value.
func (v Value) IsEmpty() bool { return v.raw == "" || v.raw == `""` }

// Raw returns the text as received, separators and escapes intact.
func (v Value) Raw() string { return v.raw }

func (v Value) childSep() byte {
	if v.c == nil {
		return 0
	}
	switch v.level {
	case lvField:
		return v.c.d.Repetition
	case lvRep:
		return v.c.d.Component
	case lvComp:
		return v.c.d.Subcomponent
	}
	return 0
}

// nth returns the i-th (1-based) part of s split at sep.
func nth(s string, sep byte, i int) (string, bool) {
	for k := 1; k < i; k++ {
		j := strings.IndexByte(s, sep)
		if j < 0 {
			return "", false
		}
		s = s[j+1:]
	}
	if j := strings.IndexByte(s, sep); j >= 0 {
		return s[:j], true
	}
	return s, true
}

func (v Value) child(i int) Value {
	if i < 1 || !v.present {
		return Value{c: v.c, level: v.level + 1}
	}
	sep := v.childSep()
	if sep == 0 {
		if i == 1 {
			return Value{raw: v.raw, c: v.c, level: v.level + 1, present: true}
		}
		return Value{c: v.c, level: v.level + 1}
	}
	part, ok := nth(v.raw, sep, i)
	return Value{raw: part, c: v.c, level: v.level + 1, present: ok}
}

func (v Value) count() int {
	if v.raw == "" {
		return 0
	}
	sep := v.childSep()
	if sep == 0 {
		return 1
	}
	return strings.Count(v.raw, string(sep)) + 1
}

// Rep returns repetition i (1-based) of a field. For anything below a
// field, Rep(1) is the value itself.
func (v Value) Rep(i int) Value {
	if v.level == lvField {
		return v.child(i)
	}
	if i == 1 || v.level == lvOpaque {
		return v
	}
	return Value{c: v.c, level: v.level}
}

// Comp returns component j (1-based) of the first repetition, or of this
// repetition.
func (v Value) Comp(j int) Value {
	switch v.level {
	case lvField:
		return v.child(1).child(j)
	case lvRep:
		return v.child(j)
	}
	if j == 1 || v.level == lvOpaque {
		return v
	}
	return Value{c: v.c, level: v.level}
}

// Sub returns subcomponent k (1-based) of the first component, or of this
// component.
func (v Value) Sub(k int) Value {
	switch v.level {
	case lvField, lvRep:
		return v.Comp(1).child(k)
	case lvComp:
		return v.child(k)
	}
	if k == 1 || v.level == lvOpaque {
		return v
	}
	return Value{c: v.c, level: v.level}
}

// parts fills dst with the children one level down from where composite
// data types start — components of a field (its first repetition) or
// repetition, subcomponents of a component — in one pass. One reader thus
// decodes CX as a field and HD inside it, and a 9-component CWE costs one
// scan, not nine.
func (v Value) parts(dst []Value) {
	base := v
	switch v.level {
	case lvField:
		base = v.child(1)
	case lvRep, lvComp:
	default:
		for i := range dst {
			if i == 0 {
				dst[i] = v
			} else {
				dst[i] = Value{c: v.c, level: v.level}
			}
		}
		return
	}
	sep, lvl := base.childSep(), base.level+1
	s, present := base.raw, base.present
	for i := range dst {
		switch {
		case !present:
			dst[i] = Value{c: v.c, level: lvl}
		case sep == 0:
			dst[i] = Value{raw: s, c: v.c, level: lvl, present: true}
			present = false
		default:
			j := strings.IndexByte(s, sep)
			if j < 0 {
				dst[i] = Value{raw: s, c: v.c, level: lvl, present: true}
				present = false
				continue
			}
			dst[i] = Value{raw: s[:j], c: v.c, level: lvl, present: true}
			s = s[j+1:]
		}
	}
}

// NumReps, NumComps and NumSubs count the parts present (0 when empty).
func (v Value) NumReps() int {
	if v.level != lvField {
		if v.raw == "" {
			return 0
		}
		return 1
	}
	return v.count()
}

// NumComps counts the components of the first repetition (or of this one).
func (v Value) NumComps() int {
	switch v.level {
	case lvField:
		return v.child(1).count()
	case lvRep:
		return v.count()
	}
	if v.raw == "" {
		return 0
	}
	return 1
}

// NumSubs counts the subcomponents of the first component (or of this one).
func (v Value) NumSubs() int {
	switch v.level {
	case lvField, lvRep:
		return v.Comp(1).count()
	case lvComp:
		return v.count()
	}
	if v.raw == "" {
		return 0
	}
	return 1
}

// Reps returns all repetitions of a field (one pass; indexing Rep(i) in a
// loop is quadratic in the number of repetitions).
func (v Value) Reps() []Value {
	if v.level != lvField {
		if v.raw == "" {
			return nil
		}
		return []Value{v}
	}
	return v.children()
}

// Comps returns all components of the first repetition (or of this one).
func (v Value) Comps() []Value {
	switch v.level {
	case lvField:
		return v.child(1).children()
	case lvRep:
		return v.children()
	}
	if v.raw == "" {
		return nil
	}
	return []Value{v}
}

// Subs returns all subcomponents of the first component (or of this one).
func (v Value) Subs() []Value {
	switch v.level {
	case lvField, lvRep:
		return v.Comp(1).children()
	case lvComp:
		return v.children()
	}
	if v.raw == "" {
		return nil
	}
	return []Value{v}
}

// children splits v one level down in a single pass.
func (v Value) children() []Value {
	if v.raw == "" {
		return nil
	}
	sep := v.childSep()
	if sep == 0 {
		return []Value{{raw: v.raw, c: v.c, level: v.level + 1, present: true}}
	}
	out := make([]Value, 0, strings.Count(v.raw, string(sep))+1)
	s := v.raw
	for {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return append(out, Value{raw: s, c: v.c, level: v.level + 1, present: true})
		}
		out = append(out, Value{raw: s[:i], c: v.c, level: v.level + 1, present: true})
		s = s[i+1:]
	}
}

// String returns the first primitive value (first repetition, component
// and subcomponent) unescaped; "" for the explicit null.
func (v Value) String() string {
	if v.level == lvOpaque {
		return v.raw
	}
	leaf := v
	if v.level < lvSub {
		leaf = v.Sub(1)
	}
	if leaf.raw == `""` || leaf.c == nil {
		return ""
	}
	return unescape(leaf.raw, leaf.c, modePlain)
}

// Text returns the whole raw text with escape sequences decoded and the
// separators left in place. It is how to read a free-text field whose
// sender forgot to escape its separators ("R&D Engineer", "10^9/L").
func (v Value) Text() string {
	if v.level == lvOpaque {
		return v.raw
	}
	if v.c == nil || v.raw == `""` {
		return ""
	}
	return unescape(v.raw, v.c, modePlain)
}

// TextAs is Text for a given HL7 data type: TX, FT and CF apply formatting
// commands (\.br\ becomes a line break); other types read as Text.
func (v Value) TextAs(dataType string) string {
	if v.level == lvOpaque {
		return v.raw
	}
	if v.c == nil || v.raw == `""` {
		return ""
	}
	return unescape(v.raw, v.c, modeFor(dataType))
}

func modeFor(dataType string) escMode {
	switch dataType {
	case "TX", "FT", "CF":
		return modeFormatted
	}
	return modePlain
}
