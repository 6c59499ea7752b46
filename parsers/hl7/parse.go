package hl7

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxSize is the input size limit when Options.MaxSize is zero.
const DefaultMaxSize = 16 << 20

// Options configure parsing. The zero value reads UTF-8, strictly.
type Options struct {
	// DefaultCharset is the device's configured encoding, used when MSH-18
	// is empty: "utf-8" (default), "windows-1251", "iso-8859-5", "cp866",
	// "ascii", "iso-8859-1" and the other names CanonicalCharset accepts.
	DefaultCharset string
	// MaxSize limits the input in bytes: 0 means DefaultMaxSize, a
	// negative value means no limit.
	MaxSize int
	// Location is the time zone of timestamps sent without an offset
	// (nil: UTC). Devices usually send clinic-local time without one.
	Location *time.Location
	// Lenient switches on tolerance for specific real-world deviations.
	Lenient Lenient
}

// Lenient flags, each for a deviation seen from real devices. They are
// per device profile: none is safe to switch on for every sender.
type Lenient struct {
	// UnescapedDelimiters: the sender does not escape separators inside
	// values. OBX-6 units such as 10^9/L are read whole (see OBX.Units)
	// and ST values are read as the field's whole text.
	UnescapedDelimiters bool
	// GluedSegments: a logger or gateway replaced segment terminators by
	// spaces, leaving "...| OBX|..." inside one line. A field that is a
	// space followed by a known segment ID starts a new segment.
	GluedSegments bool
	// IgnoreMSH18: the configured DefaultCharset wins over MSH-18 (for
	// devices that declare one encoding and send another).
	IgnoreMSH18 bool
	// SniffUTF8: input that is valid UTF-8 and contains multi-byte
	// sequences is read as UTF-8 whatever MSH-18 or DefaultCharset say
	// (for senders that declare 8859/1 and write UTF-8). Valid UTF-8 is
	// very unlikely to be meaningful Windows-1251 or ISO-8859 text.
	SniffUTF8 bool
	// UnknownCharset: an MSH-18 value the parser does not know falls back
	// to DefaultCharset instead of failing.
	UnknownCharset bool
}

func (o *Options) maxSize() int {
	if o.MaxSize == 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// Parse parses one message. The input is not modified or retained.
// Several messages, or a batch envelope, are an ErrBatch error: use
// ParseBatch for those. Every error is a *ParseError.
func Parse(data []byte, opts Options) (*Message, error) {
	if limit := opts.maxSize(); limit > 0 && len(data) > limit {
		return nil, &ParseError{Offset: limit, Msg: fmt.Sprintf("input of %d bytes exceeds the %d-byte limit", len(data), limit), Err: ErrTooLarge}
	}
	return parseOne(data, 0, &opts, true)
}

// ParseBatch splits the input into messages — a FHS/BHS batch (BTS/FTS
// trailers optional) or several bare MSH messages — and parses each. The
// result has one entry per message found, nil where that message failed;
// err joins the failures (each a *ParseError with MessageIndex set), so
// errors.Is works on it.
func ParseBatch(data []byte, opts Options) ([]*Message, error) {
	if limit := opts.maxSize(); limit > 0 && len(data) > limit {
		return nil, &ParseError{Offset: limit, Msg: fmt.Sprintf("input of %d bytes exceeds the %d-byte limit", len(data), limit), Err: ErrTooLarge}
	}
	start := 0
	if bytes.HasPrefix(data, utf8BOM) {
		start = len(utf8BOM)
	}
	chunks, _, err := splitBatch(data, start)
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		return nil, &ParseError{Offset: start, Msg: "no MSH segment in input", Err: ErrNoMSH}
	}
	msgs := make([]*Message, len(chunks))
	var errs []error
	for i, ch := range chunks {
		m, err := parseOne(data[ch.from:ch.to], ch.from, &opts, false)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				pe.MessageIndex = i + 1
			}
			errs = append(errs, err)
			continue
		}
		msgs[i] = m
	}
	return msgs, errors.Join(errs...)
}

// span is a part of the input: data[from:to].
type span struct{ from, to int }

// splitBatch finds the messages in data from start on — each from its MSH
// to the next MSH or envelope segment — and the FHS and BHS lines.
func splitBatch(data []byte, start int) (msgs, headers []span, err error) {
	cur := -1
	for pos := start; pos < len(data); {
		end := lineEnd(data, pos)
		line := data[pos:end]
		if !isBlank(line) {
			switch {
			case hasID(line, "MSH"):
				if cur >= 0 {
					msgs = append(msgs, span{cur, pos})
				}
				cur = pos
			case hasID(line, "FHS") || hasID(line, "BHS") || hasID(line, "BTS") || hasID(line, "FTS"):
				// Envelope segments: they close the current message and
				// carry nothing a message needs.
				if cur >= 0 {
					msgs = append(msgs, span{cur, pos})
					cur = -1
				}
				if hasID(line, "FHS") || hasID(line, "BHS") {
					headers = append(headers, span{pos, end})
				}
			case cur < 0:
				return nil, nil, &ParseError{Segment: printableID(line), Offset: pos, Msg: "segment outside any message (expected MSH, FHS or BHS)", Err: ErrNoMSH}
			}
		}
		pos = skipTerminator(data, end)
	}
	if cur >= 0 {
		msgs = append(msgs, span{cur, len(data)})
	}
	return msgs, headers, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineEnd returns the index of the next \r or \n at or after pos, or
// len(data). A byte loop, not two IndexByte calls: searching for a
// terminator the input does not use would rescan the rest of the input for
// every line.
func lineEnd(data []byte, pos int) int {
	for i := pos; i < len(data); i++ {
		if c := data[i]; c == '\r' || c == '\n' {
			return i
		}
	}
	return len(data)
}

func skipTerminator(data []byte, end int) int {
	if end < len(data) && data[end] == '\r' && end+1 < len(data) && data[end+1] == '\n' {
		return end + 2
	}
	return end + 1
}

// isBlank: empty lines and lines of spaces and tabs are not segments
// (senders and loggers add them between messages).
func isBlank[T string | []byte](line T) bool {
	for i := 0; i < len(line); i++ {
		if line[i] != ' ' && line[i] != '\t' {
			return false
		}
	}
	return true
}

// hasID reports whether line is a segment with the given ID.
func hasID(line []byte, id string) bool {
	return len(line) >= 3 && string(line[:3]) == id && (len(line) == 3 || !isIDChar(line[3]))
}

func isIDChar(c byte) bool { return 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }

// printableID returns the segment ID of a line if it looks like one, for
// error messages; never data.
func printableID[T string | []byte](line T) string {
	if len(line) < 3 {
		return ""
	}
	for i := 0; i < 3; i++ {
		if !isIDChar(line[i]) {
			return ""
		}
	}
	return string(line[:3])
}

// parseOne parses the message in data, which starts at byte base of the
// caller's input.
func parseOne(data []byte, base int, opts *Options, single bool) (*Message, error) {
	if bytes.HasPrefix(data, utf8BOM) {
		data = data[len(utf8BOM):]
		base += len(utf8BOM)
	}
	// Leading line breaks are framing leftovers, not content.
	skip := 0
	for skip < len(data) && (data[skip] == '\r' || data[skip] == '\n') {
		skip++
	}
	data = data[skip:]
	base += skip

	if len(data) == 0 {
		return nil, &ParseError{Offset: base, Msg: "empty input", Err: ErrNoMSH}
	}
	id := printableID(data)
	if id != "MSH" {
		if id == "FHS" || id == "BHS" {
			return nil, &ParseError{Segment: id, SegmentIndex: 1, Offset: base, Msg: "batch header; use ParseBatch", Err: ErrBatch}
		}
		return nil, &ParseError{Segment: id, SegmentIndex: 1, Offset: base, Msg: "message does not start with MSH", Err: ErrNoMSH}
	}
	header := data[:lineEnd(data, 0)]
	d, msg, at := parseDelimiters(header)
	if msg != "" {
		f := 2
		if at == 3 {
			f = 1
		}
		return nil, &ParseError{Segment: "MSH", SegmentIndex: 1, Field: f, Offset: base + at, Msg: msg, Err: ErrDelimiters}
	}

	cs, err := chooseCharset(data, header, d, base, opts)
	if err != nil {
		return nil, err
	}
	text, bad := decode(data, cs)
	if bad != nil {
		return nil, charsetError(data, d, base, bad, cs)
	}

	m := &Message{Charset: cs.String()}
	m.c = ctx{d: d, cs: cs, lax: opts.Lenient.UnescapedDelimiters, loc: opts.Location}
	if err := m.split(text, base, opts.Lenient.GluedSegments, single); err != nil {
		return nil, err
	}
	msh := &m.Segments[0]
	if msh.Field(9).Comp(1).IsEmpty() {
		return nil, &ParseError{Segment: "MSH", SegmentIndex: 1, Field: 9, Offset: msh.fieldOffset(9), Msg: "message type is empty", Err: ErrRequired}
	}
	return m, nil
}

// chooseCharset reads MSH-18 from the raw header bytes: the header itself
// is ASCII in every charset the parser knows, so it can be read before the
// message is decoded.
func chooseCharset(data, header []byte, d Delimiters, base int, opts *Options) (charset, error) {
	def, ok := lookupCharset(opts.DefaultCharset)
	if !ok {
		return 0, &ParseError{Offset: base, Msg: fmt.Sprintf("unknown default charset %q", opts.DefaultCharset), Err: ErrCharset}
	}
	cs := def
	if !opts.Lenient.IgnoreMSH18 {
		if v, off, ok := headerField(header, d, 18); ok && len(v) > 0 {
			name := v
			if i := bytes.IndexByte(name, d.Repetition); i >= 0 {
				name = name[:i] // further repetitions are alternates for \C..\ switching
			}
			if i := bytes.IndexByte(name, d.Component); i >= 0 {
				name = name[:i]
			}
			name = bytes.TrimSpace(name)
			for _, c := range name {
				if c >= 0x80 {
					return 0, &ParseError{Segment: "MSH", SegmentIndex: 1, Field: 18, Offset: base + off, Msg: "character set name is not ASCII", Err: ErrCharset}
				}
			}
			if len(name) > 0 {
				c, ok := lookupCharset(string(name))
				switch {
				case ok:
					cs = c
				case !opts.Lenient.UnknownCharset:
					return 0, &ParseError{Segment: "MSH", SegmentIndex: 1, Field: 18, Offset: base + off, Msg: fmt.Sprintf("unsupported character set %q", name), Err: ErrCharset}
				}
			}
		}
	}
	if opts.Lenient.SniffUTF8 && cs != csUTF8 && hasHighByte(data) && utf8.Valid(data) {
		cs = csUTF8
	}
	return cs, nil
}

func hasHighByte(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// headerField returns MSH-n of the raw header line and its offset.
func headerField(header []byte, d Delimiters, n int) ([]byte, int, bool) {
	pos := 3 // the field separator before MSH-2
	for f := 2; f <= n; f++ {
		if pos >= len(header) {
			return nil, 0, false
		}
		start := pos + 1
		end := bytes.IndexByte(header[start:], d.Field)
		if end < 0 {
			end = len(header)
		} else {
			end += start
		}
		if f == n {
			return header[start:end], start, true
		}
		pos = end
	}
	return nil, 0, false
}

// charsetError names the segment and field holding the first bad byte.
func charsetError(data []byte, d Delimiters, base int, bad *badByte, cs charset) error {
	e := &ParseError{Offset: base + bad.off, Err: ErrCharset}
	how := "is not valid " + cs.String()
	switch cs {
	case csUTF8:
		how = "is not valid UTF-8"
	case csASCII:
		how = "is not ASCII"
	default:
		how = "is undefined in " + cs.String()
	}
	e.Msg = fmt.Sprintf("byte 0x%02X %s (charset %s)", bad.b, how, cs)
	// Walk the raw bytes up to the bad one; separators and terminators are
	// ASCII, so this is exact without decoding.
	segStart, segIdx := 0, 0
	for pos := 0; pos <= bad.off; {
		end := lineEnd(data, pos)
		if !isBlank(data[pos:end]) {
			segIdx++
			segStart = pos
		}
		if end >= bad.off {
			break
		}
		pos = skipTerminator(data, end)
	}
	line := data[segStart:bad.off]
	e.Segment = printableID(data[segStart:])
	e.SegmentIndex = segIdx
	if e.Segment != "" {
		// The occurrence of this segment ID up to the bad one (ERR-2.2).
		for pos := 0; pos <= segStart; {
			end := lineEnd(data, pos)
			if hasID(data[pos:end], e.Segment) {
				e.Occurrence++
			}
			pos = skipTerminator(data, end)
		}
		e.Field = bytes.Count(line, []byte{d.Field})
		if isHeader(e.Segment) && e.Field > 0 {
			e.Field++
		}
	}
	return e
}

// split cuts the decoded text into segments and records field separator
// positions in one shared slice.
func (m *Message) split(text string, base int, glue, single bool) error {
	fs := m.c.d.Field
	nseg := strings.Count(text, "\r") + strings.Count(text, "\n") + 1
	m.Segments = make([]Segment, 0, nseg)
	seps := make([]int32, 0, strings.Count(text, string(fs)))
	single8 := m.c.cs.singleByte() && len(text) != 0
	decPos, origPos := 0, base // for single-byte charsets: last known pair

	origOf := func(p int) int {
		if !single8 {
			return base + p
		}
		origPos += utf8.RuneCountInString(text[decPos:p])
		decPos = p
		return origPos
	}

	// add records one line as a segment; the separators of the line are
	// already in seps from index from on.
	add := func(line string, at, from int) error {
		off := origOf(at)
		id := printableID(line)
		if id == "" || (len(line) > 3 && line[3] != fs) {
			return &ParseError{SegmentIndex: len(m.Segments) + 1, Offset: off, Msg: "segment does not start with a three-character ID and a field separator", Err: ErrSegment}
		}
		if len(m.Segments) > 0 && (isHeader(id) || id == "BTS" || id == "FTS") {
			occ := 1
			for i := range m.Segments {
				if m.Segments[i].Name == id {
					occ++
				}
			}
			if single {
				return &ParseError{Segment: id, SegmentIndex: len(m.Segments) + 1, Occurrence: occ, Offset: off, Msg: "second message or batch segment in one input; use ParseBatch", Err: ErrBatch}
			}
			return &ParseError{Segment: id, SegmentIndex: len(m.Segments) + 1, Occurrence: occ, Offset: off, Msg: "unexpected header segment inside a message", Err: ErrSegment}
		}
		m.Segments = append(m.Segments, Segment{
			Name:   id,
			Offset: off,
			Index:  len(m.Segments) + 1,
			text:   line,
			seps:   seps[from:len(seps):len(seps)],
			c:      &m.c,
		})
		return nil
	}

	// finish handles the line text[start:end] whose separators are
	// seps[from:].
	finish := func(start, end, from int) error {
		line := text[start:end]
		if isBlank(line) {
			seps = seps[:from]
			return nil
		}
		if glue && gluePoint(line, fs) >= 0 {
			// Rare path: rescan each piece once (never the rest of the
			// line per piece, which would be quadratic on hostile input).
			seps = seps[:from]
			for {
				k := gluePoint(line, fs)
				if k < 0 {
					break
				}
				seps = scanSeps(line[:k], fs, seps)
				if err := add(line[:k], start, from); err != nil {
					return err
				}
				from = len(seps)
				start += k + 1
				line = line[k+1:]
			}
			seps = scanSeps(line, fs, seps)
		}
		return add(line, start, from)
	}

	// One pass over the bytes finds both terminators and field separators:
	// fields are a few bytes long, so a plain loop beats a search call per
	// separator.
	var special [256]bool
	special[fs], special['\r'], special['\n'] = true, true, true
	start, from := 0, 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !special[c] {
			continue
		}
		if c == fs {
			seps = append(seps, int32(i-start))
			continue
		}
		if err := finish(start, i, from); err != nil {
			return err
		}
		start, from = i+1, len(seps)
	}
	if start < len(text) {
		return finish(start, len(text), from)
	}
	return nil
}

// gluePoint finds "| XYZ|" (or "| XYZ" at the end) where XYZ is a known
// non-header segment ID, returning the index of the space, or -1.
func gluePoint(line string, fs byte) int {
	for i := 1; i+4 <= len(line); i++ {
		j := strings.IndexByte(line[i:], ' ')
		if j < 0 {
			return -1
		}
		i += j
		if i+4 > len(line) {
			return -1
		}
		if line[i-1] == fs && (i+4 == len(line) || line[i+4] == fs) && knownSegment(line[i+1:i+4]) {
			return i
		}
	}
	return -1
}

// knownSegment lists the IDs a glued-segment split may start: the common
// standard segments and any Z-segment. Header segments are excluded so a
// split never creates a second message.
func knownSegment(id string) bool {
	if len(id) != 3 {
		return false
	}
	if id[0] == 'Z' && isIDChar(id[1]) && isIDChar(id[2]) {
		return true
	}
	switch id {
	case "ACC", "AL1", "DG1", "DSC", "ERR", "EVN", "GT1", "IN1", "IN2", "MRG", "MSA", "NK1", "NTE",
		"OBR", "OBX", "ORC", "PD1", "PID", "PR1", "PV1", "PV2", "QAK", "QPD", "QRD", "QRF", "RCP",
		"SAC", "SFT", "SPM", "TCD", "TQ1", "TQ2", "UAC", "FT1", "ROL", "CTD", "CTI", "INV", "EQU":
		return true
	}
	return false
}

// ParseHeader reads only the MSH segment, decoding it with replacement
// characters where bytes are invalid. It exists so that a message Parse
// refuses can still be acknowledged with MSA-2 = MSH-10; use Parse for
// anything else.
func ParseHeader(data []byte, opts Options) (*Message, error) {
	if limit := opts.maxSize(); limit > 0 && len(data) > limit {
		data = data[:limit]
	}
	base := 0
	if bytes.HasPrefix(data, utf8BOM) {
		base = len(utf8BOM)
	}
	for base < len(data) && (data[base] == '\r' || data[base] == '\n') {
		base++
	}
	data = data[base:]
	if printableID(data) != "MSH" {
		return nil, &ParseError{Offset: base, Msg: "message does not start with MSH", Err: ErrNoMSH}
	}
	header := data[:lineEnd(data, 0)]
	d, msg, at := parseDelimiters(header)
	if msg != "" {
		f := 2
		if at == 3 {
			f = 1 // the field separator itself
		}
		return nil, &ParseError{Segment: "MSH", SegmentIndex: 1, Field: f, Offset: base + at, Msg: msg, Err: ErrDelimiters}
	}
	o := opts
	o.Lenient.UnknownCharset = true
	cs, err := chooseCharset(header, header, d, base, &o)
	if err != nil {
		cs = csUTF8
	}
	text := decodeLossy(header, cs)
	m := &Message{Charset: cs.String()}
	m.c = ctx{d: d, cs: cs, lax: opts.Lenient.UnescapedDelimiters, loc: opts.Location}
	m.Segments = []Segment{{Name: "MSH", Offset: base, Index: 1, text: text, seps: scanSeps(text, d.Field, nil), c: &m.c}}
	return m, nil
}

// decodeLossy decodes a header line, replacing bytes invalid in cs with
// U+FFFD: enough to read the fields an acknowledgment needs.
func decodeLossy(header []byte, cs charset) string {
	text, bad := decode(header, cs)
	if bad == nil {
		return text
	}
	if cs == csUTF8 || cs == csASCII {
		return strings.ToValidUTF8(string(header), "\uFFFD")
	}
	var b strings.Builder
	for _, c := range header {
		if r := charmaps[cs].DecodeByte(c); c < 0x80 || r != utf8.RuneError {
			if c < 0x80 {
				r = rune(c)
			}
			b.WriteRune(r)
		} else {
			b.WriteRune(utf8.RuneError)
		}
	}
	return b.String()
}
