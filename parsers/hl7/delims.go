package hl7

import (
	"strconv"
	"strings"
)

// Delimiters are the separators a message declares in MSH-1 and MSH-2. A
// zero byte means the message declares no such character.
type Delimiters struct {
	Field        byte // MSH-1, usually '|'
	Component    byte // usually '^'
	Repetition   byte // usually '~'
	Escape       byte // usually '\'; 0 when MSH-2 has only three characters
	Subcomponent byte // usually '&'
	Truncation   byte // v2.7 fifth MSH-2 character, usually '#'; 0 before v2.7
}

// DefaultDelimiters returns |^~\& — what builders use unless told otherwise.
func DefaultDelimiters() Delimiters {
	return Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&'}
}

// EncodingCharacters returns MSH-2 as it must be written for d.
func (d Delimiters) EncodingCharacters() string {
	b := make([]byte, 0, 5)
	b = append(b, d.Component, d.Repetition)
	if d.Escape != 0 {
		b = append(b, d.Escape)
	}
	if d.Subcomponent != 0 {
		b = append(b, d.Subcomponent)
	}
	if d.Truncation != 0 {
		b = append(b, d.Truncation)
	}
	return string(b)
}

// String returns MSH-1 followed by MSH-2, e.g. `|^~\&`.
func (d Delimiters) String() string { return string(d.Field) + d.EncodingCharacters() }

func isDelimCandidate(c byte) bool {
	// Letters, digits, space and control characters cannot be separators:
	// they occur in data, and a device that "declares" them has sent
	// something else than an MSH.
	return c > ' ' && c < 0x7f &&
		!('0' <= c && c <= '9') && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z')
}

// parseDelimiters reads MSH-1 and MSH-2 from the header line (which starts
// with "MSH", "FHS" or "BHS"). It returns the delimiters or a message and
// the offset in line of the offending byte.
func parseDelimiters(line []byte) (Delimiters, string, int) {
	var d Delimiters
	if len(line) < 4 || !isDelimCandidate(line[3]) {
		return d, "field separator must be a punctuation character", 3
	}
	d.Field = line[3]
	enc := line[4:]
	for i, c := range enc {
		if c == d.Field || c == '\r' || c == '\n' {
			enc = enc[:i]
			break
		}
	}
	if len(enc) < 2 {
		return d, "need at least component and repetition separators", 4
	}
	if len(enc) > 5 {
		return d, "more than five encoding characters", 4
	}
	for i, c := range enc {
		if !isDelimCandidate(c) {
			return d, "encoding character must be a punctuation character", 4 + i
		}
		for j := 0; j < i; j++ {
			if enc[j] == c {
				return d, "encoding characters repeat", 4 + i
			}
		}
	}
	d.Component, d.Repetition = enc[0], enc[1]
	switch len(enc) {
	case 2:
	case 3:
		// Three characters: the standard's order would make the third the
		// escape character, but senders that write three drop the escape
		// (^~& and, in the corpus, ^~} next to ^~\} from the same system).
		// A backslash is the one character that is always an escape.
		if enc[2] == '\\' {
			d.Escape = enc[2]
		} else {
			d.Subcomponent = enc[2]
		}
	default:
		d.Escape, d.Subcomponent = enc[2], enc[3]
		if len(enc) == 5 {
			d.Truncation = enc[4]
		}
	}
	return d, "", 0
}

// Encode returns s with every delimiter and line break written as an
// escape sequence, ready to be placed in a primitive value.
func (d Delimiters) Encode(s string) string { return d.escape(s, false) }

// EncodeText is Encode for the formatted text types (TX, FT): line breaks
// become \.br\ instead of hex escapes.
func (d Delimiters) EncodeText(s string) string { return d.escape(s, true) }

func (d Delimiters) needsEscape(c byte) byte {
	switch c {
	case 0:
		return 0
	case d.Field:
		return 'F'
	case d.Component:
		return 'S'
	case d.Repetition:
		return 'R'
	case d.Escape:
		return 'E'
	case d.Subcomponent:
		return 'T'
	case d.Truncation:
		return 'P'
	}
	return 0
}

func (d Delimiters) escape(s string, text bool) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || d.needsEscape(c) != 0 {
			break
		}
	}
	if i == len(s) {
		return s
	}
	if d.Escape == 0 {
		// Without an escape character nothing can be escaped; the
		// separators are dropped rather than corrupting the structure.
		var b strings.Builder
		for j := 0; j < len(s); j++ {
			if c := s[j]; c != '\r' && c != '\n' && d.needsEscape(c) == 0 {
				b.WriteByte(c)
			} else if c == '\n' {
				b.WriteByte(' ')
			}
		}
		return b.String()
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' && text && i+1 < len(s) && s[i+1] == '\n':
			// \r\n is one line break
		case (c == '\n' || c == '\r') && text:
			b.WriteByte(d.Escape)
			b.WriteString(".br")
			b.WriteByte(d.Escape)
		case c == '\n' || c == '\r':
			b.WriteByte(d.Escape)
			b.WriteString("X0")
			b.WriteByte("0123456789ABCDEF"[c])
			b.WriteByte(d.Escape)
		default:
			if e := d.needsEscape(c); e != 0 {
				b.WriteByte(d.Escape)
				b.WriteByte(e)
				b.WriteByte(d.Escape)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// join escapes parts and joins them with sep, dropping trailing empty parts
// (HL7 lets a sender omit trailing separators, and receivers expect it).
// A separator the message does not declare (sep 0: MSH-2 without a
// subcomponent separator) cannot be written, so only the first part is.
func (d Delimiters) join(sep byte, parts ...string) string {
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	switch {
	case n == 0:
		return ""
	case n == 1 || sep == 0:
		return parts[0]
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(parts[i])
	}
	return b.String()
}

// unescape modes: which escape sequences apply depends on the data type.
type escMode uint8

const (
	// modePlain: ST and every non-text type. Delimiter escapes and \X..\
	// are decoded, highlighting (\H\ \N\) is dropped, formatting commands
	// are kept literally because they have no meaning outside FT.
	modePlain escMode = iota
	// modeFormatted: TX, FT, CF. Formatting commands become line breaks
	// and spaces or are dropped, as do locally defined \Z..\ sequences.
	modeFormatted
)

// unescape decodes escape sequences. Unknown or unterminated sequences are
// kept literally: a stray escape character in device data is more likely
// data than a protocol violation, and losing it would change the value.
func unescape(s string, c *ctx, mode escMode) string {
	esc := c.d.Escape
	if esc == 0 || strings.IndexByte(s, esc) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, esc)
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		j := strings.IndexByte(s, esc)
		if j < 0 {
			b.WriteByte(esc)
			b.WriteString(s)
			break
		}
		seq := s[:j]
		s = s[j+1:]
		if !applyEscape(&b, seq, c, mode) {
			b.WriteByte(esc)
			b.WriteString(seq)
			b.WriteByte(esc)
		}
	}
	return b.String()
}

// applyEscape writes the meaning of one escape sequence (without its escape
// characters) and reports whether it knew it.
func applyEscape(b *strings.Builder, seq string, c *ctx, mode escMode) bool {
	d := &c.d
	switch seq {
	case "F":
		b.WriteByte(d.Field)
		return true
	case "S":
		b.WriteByte(d.Component)
		return true
	case "T":
		if d.Subcomponent == 0 {
			return false
		}
		b.WriteByte(d.Subcomponent)
		return true
	case "R":
		b.WriteByte(d.Repetition)
		return true
	case "E":
		b.WriteByte(d.Escape)
		return true
	case "P":
		if d.Truncation == 0 {
			return false
		}
		b.WriteByte(d.Truncation)
		return true
	case "H", "N":
		// Start/end highlighting: display markup with no plain-text form.
		return true
	}
	if seq == "" {
		return false
	}
	switch seq[0] {
	case 'X':
		hex := seq[1:]
		if len(hex) == 0 || len(hex)%2 != 0 {
			return false
		}
		raw := make([]byte, len(hex)/2)
		for i := range raw {
			hi, ok1 := unhex(hex[2*i])
			lo, ok2 := unhex(hex[2*i+1])
			if !ok1 || !ok2 {
				return false
			}
			raw[i] = hi<<4 | lo
		}
		text, ok := decodeHex(raw, c.cs)
		if !ok {
			return false
		}
		b.WriteString(text)
		return true
	case 'Z':
		// Locally defined: meaningless here. Dropped from formatted text
		// (display-oriented), kept in plain values so a mapper can see it.
		return mode == modeFormatted && len(seq) > 1
	case '.':
		if mode != modeFormatted {
			return false
		}
		return applyFormatting(b, seq[1:])
	}
	return false
}

// applyFormatting renders an FT formatting command for plain-text display.
func applyFormatting(b *strings.Builder, cmd string) bool {
	name, arg, _ := strings.Cut(cmd, " ")
	if len(cmd) >= 2 && name == cmd {
		// \.sp2\ and \.in+4\ are written without a space by some senders.
		name, arg = cmd[:2], cmd[2:]
	}
	n := 1
	if arg = strings.TrimSpace(arg); arg != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(arg, "+"))
		if err != nil {
			return false
		}
		n = v
	}
	switch name {
	case "br", "ce":
		if arg != "" {
			return false
		}
		b.WriteByte('\n')
	case "sp":
		// End the line and skip n lines; an empty line per n is the plain
		// text equivalent, and at least the line ends.
		for i := 0; i < max(1, min(n, 100)); i++ {
			b.WriteByte('\n')
		}
	case "sk":
		for i := 0; i < max(0, min(n, 100)); i++ {
			b.WriteByte(' ')
		}
	case "in", "ti":
		// Indentation has no stable plain-text form; dropped.
	case "fi", "nf":
		if arg != "" {
			return false
		}
	default:
		return false
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
