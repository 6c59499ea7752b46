package dicom

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Charset decodes and encodes the text of a dataset according to its
// Specific Character Set (0008,0005), PS3.5 6.1, or according to a
// per-device override. A nil *Charset is the default repertoire (ASCII).
// A Charset is immutable and safe for concurrent use.
type Charset struct {
	name  string   // for errors: the terms joined by '\', or the override name
	terms []string // values for (0008,0005)
	mode  csMode
	one   *sbcs   // csSingle: the set for bytes >= 0x80
	g1    []*sbcs // csISO2022: the G1 sets the terms allow, in term order
	init  *sbcs   // csISO2022: G1 designated at the start of each value (nil: none)
}

type csMode uint8

const (
	csDefault csMode = iota
	csSingle
	csUTF8
	csISO2022
)

// sbcs is an 8-bit character set: ASCII in the lower half and a table for
// the upper half.
type sbcs struct {
	name  string // DICOM defined term without the ISO_IR / ISO 2022 prefix, e.g. "IR 144"
	cm    *charmap.Charmap
	final byte // ESC 02/13 final byte designating it as G1 (ISO 2022)
	iso   bool // an ISO 8859 part: 0x80–0x9F are not characters
}

// The ISO 8859 parts DICOM defines (PS3.3 C.12.1.1.2) and the 8-bit code
// pages Russian devices use without declaring them.
var (
	irLatin1   = &sbcs{"IR 100", charmap.ISO8859_1, 'A', true}
	irLatin2   = &sbcs{"IR 101", charmap.ISO8859_2, 'B', true}
	irLatin3   = &sbcs{"IR 109", charmap.ISO8859_3, 'C', true}
	irLatin4   = &sbcs{"IR 110", charmap.ISO8859_4, 'D', true}
	irCyrillic = &sbcs{"IR 144", charmap.ISO8859_5, 'L', true}
	irArabic   = &sbcs{"IR 127", charmap.ISO8859_6, 'G', true}
	irGreek    = &sbcs{"IR 126", charmap.ISO8859_7, 'F', true}
	irHebrew   = &sbcs{"IR 138", charmap.ISO8859_8, 'H', true}
	irLatin5   = &sbcs{"IR 148", charmap.ISO8859_9, 'M', true}
	irLatin9   = &sbcs{"IR 203", charmap.ISO8859_15, 'b', true}
	cpWin1251  = &sbcs{"windows-1251", charmap.Windows1251, 0, false}
	cpKOI8R    = &sbcs{"koi8-r", charmap.KOI8R, 0, false}
	cp866      = &sbcs{"cp866", charmap.CodePage866, 0, false}
)

var isoSets = []*sbcs{irLatin1, irLatin2, irLatin3, irLatin4, irCyrillic, irArabic, irGreek, irHebrew, irLatin5, irLatin9}

// compactName upper-cases a character set name and drops spaces,
// hyphens, underscores, slashes and dots, so that "ISO_IR 144",
// "ISO-IR 144", "iso_ir144" and "ISO IR 144" compare equal.
func compactName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(strings.TrimSpace(s)) {
		switch r {
		case ' ', '-', '_', '/', '.':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// term is one parsed value of (0008,0005).
type term struct {
	iso2022 bool
	set     *sbcs // nil: IR 6 (ASCII)
	utf8    bool
	name    string // standard spelling
}

func parseTerm(v string) (term, bool) {
	c := compactName(v)
	switch c {
	case "", "ISOIR6", "ISO646", "ASCII", "USASCII":
		return term{name: ""}, true
	case "ISO2022IR6":
		return term{iso2022: true, name: "ISO 2022 IR 6"}, true
	case "ISOIR192", "UTF8", "ISO10646", "UNICODE", "UNICODEUTF8":
		return term{utf8: true, name: "ISO_IR 192"}, true
	case "ISO88595", "ISO88595:1988", "CYRILLIC":
		return term{set: irCyrillic, name: "ISO_IR 144"}, true
	case "ISO88591", "LATIN1":
		return term{set: irLatin1, name: "ISO_IR 100"}, true
	case "WINDOWS1251", "CP1251", "WIN1251", "CP1251CYRILLIC":
		return term{set: cpWin1251, name: "windows-1251"}, true
	case "KOI8R", "KOI8":
		return term{set: cpKOI8R, name: "koi8-r"}, true
	case "CP866", "IBM866", "DOS866":
		return term{set: cp866, name: "cp866"}, true
	}
	for _, s := range isoSets {
		num := strings.TrimPrefix(s.name, "IR ")
		switch c {
		case "ISOIR" + num:
			return term{set: s, name: "ISO_IR " + num}, true
		case "ISO2022IR" + num:
			return term{iso2022: true, set: s, name: "ISO 2022 IR " + num}, true
		}
	}
	return term{}, false
}

// ParseCharset builds the Charset for the values of Specific Character
// Set (0008,0005). Besides the defined terms of PS3.3 C.12.1.1.2 for the
// single-byte sets (ISO_IR 100, 101, 109, 110, 126, 127, 138, 144, 148,
// 203, their ISO 2022 forms, and ISO_IR 192), it accepts the spellings
// devices send instead ("ISO-IR 144", "ISO_IR144", "ISO-8859-5", "UTF-8")
// and the undeclared code pages windows-1251, koi8-r and cp866. Several
// values, or any ISO 2022 term, select ISO 2022 code extensions with the
// first value designated at the start of each value. Multi-byte sets
// (Japanese, Korean, Chinese) are rejected with ErrCharset.
func ParseCharset(values []string) (*Charset, error) {
	for len(values) > 1 && strings.TrimSpace(values[len(values)-1]) == "" {
		values = values[:len(values)-1]
	}
	if len(values) == 0 {
		return nil, nil
	}
	terms := make([]term, len(values))
	iso2022 := len(values) > 1
	for i, v := range values {
		t, ok := parseTerm(v)
		if !ok {
			return nil, &CharsetError{Charset: "Specific Character Set", Offset: i, Msg: "unsupported value " + quoteUID(v), Tag: TagSpecificCharacterSet}
		}
		if t.utf8 && len(values) > 1 {
			return nil, &CharsetError{Charset: "Specific Character Set", Offset: i, Msg: "ISO_IR 192 cannot be combined with other values", Tag: TagSpecificCharacterSet}
		}
		iso2022 = iso2022 || t.iso2022
		terms[i] = t
	}
	cs := &Charset{}
	for _, t := range terms {
		name := t.name
		if iso2022 && !t.iso2022 && t.set != nil && t.set.iso {
			name = "ISO 2022 " + t.set.name
		}
		if iso2022 && name == "" && len(cs.terms) > 0 {
			name = "ISO 2022 IR 6"
		}
		cs.terms = append(cs.terms, name)
	}
	cs.name = strings.Join(cs.terms, `\`)
	switch {
	case terms[0].utf8:
		cs.mode = csUTF8
	case iso2022:
		cs.mode = csISO2022
		for _, t := range terms {
			if t.set != nil && !t.set.iso {
				return nil, &CharsetError{Charset: cs.name, Msg: t.name + " cannot be used with ISO 2022 code extensions", Tag: TagSpecificCharacterSet}
			}
			if t.set != nil {
				cs.g1 = append(cs.g1, t.set)
			}
		}
		cs.init = terms[0].set
	case terms[0].set != nil:
		cs.mode = csSingle
		cs.one = terms[0].set
		if !cs.one.iso {
			cs.terms = nil // an undeclared code page: nothing standard to declare
		}
	default:
		return nil, nil // the default repertoire
	}
	return cs, nil
}

// NewCharset returns a character set by name, for a device profile's
// override: a DICOM defined term ("ISO_IR 144", "ISO 2022 IR 144") or a
// code page name ("windows-1251", "cp1251", "koi8-r", "cp866",
// "iso-8859-5", "utf-8"). The result ignores what datasets declare.
func NewCharset(name string) (*Charset, error) {
	return ParseCharset([]string{name})
}

// CharsetFor returns the charset to read ds with: the override when it is
// not empty, else ds's Specific Character Set.
func CharsetFor(ds *Dataset, override string) (*Charset, error) {
	if strings.TrimSpace(override) != "" {
		return NewCharset(override)
	}
	vals, err := ds.Strings(TagSpecificCharacterSet, nil)
	if err != nil {
		return nil, err
	}
	return ParseCharset(vals)
}

// Name returns the character set's name for messages: its defined terms
// joined by '\' ("ISO_IR 144"), or the code page ("windows-1251"), or
// "ISO_IR 6" for the default repertoire.
func (c *Charset) Name() string {
	if c == nil || c.mode == csDefault {
		return "ISO_IR 6"
	}
	if c.mode == csSingle && !c.one.iso {
		return c.one.name
	}
	return c.name
}

// Terms returns the values to write in Specific Character Set (0008,0005)
// for text encoded with c; nil for the default repertoire and for
// undeclared code pages.
func (c *Charset) Terms() []string {
	if c == nil {
		return nil
	}
	return append([]string(nil), c.terms...)
}

// WithTerms returns a copy of c that declares terms in (0008,0005): for a
// device that wants windows-1251 bytes under a "ISO_IR 144" label.
func (c *Charset) WithTerms(terms ...string) *Charset {
	if c == nil {
		c = &Charset{}
	}
	cp := *c
	cp.terms = append([]string(nil), terms...)
	return &cp
}

// IsUnicode reports whether c can encode any text (ISO_IR 192).
func (c *Charset) IsUnicode() bool { return c != nil && c.mode == csUTF8 }

func (c *Charset) errAt(off int, msg string) error {
	return &CharsetError{Charset: c.Name(), Offset: off, Msg: msg}
}

// control reports whether b is a control character DICOM text may not
// hold (everything below 0x20 but TAB, LF, FF, CR and, in ISO 2022, ESC).
func control(b byte) bool {
	return b < 0x20 && b != '\t' && b != '\n' && b != '\f' && b != '\r' && b != 0x1B || b == 0x7F
}

// Decode converts the bytes of a value of VR vr to a string. Only SH, LO,
// ST, LT, UC, UT and PN use the character set; the other VRs hold the
// default repertoire. Bytes that are not characters of the set (and
// control characters other than TAB, LF, FF, CR) are errors naming their
// offset; nothing is replaced by U+FFFD. Padding is not trimmed.
func (c *Charset) Decode(b []byte, vr string) (string, error) {
	mode := csDefault
	if c != nil && charsetVR(vr) {
		mode = c.mode
	}
	switch mode {
	case csUTF8:
		for i := 0; i < len(b); {
			if b[i] < 0x80 {
				if control(b[i]) || b[i] == 0x1B {
					return "", c.errAt(i, "control character")
				}
				i++
				continue
			}
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", c.errAt(i, "invalid UTF-8")
			}
			i += n
		}
		return string(b), nil
	case csSingle:
		return decodeSingle(b, c.one, c)
	case csISO2022:
		return c.decode2022(b, vr)
	}
	for i, x := range b {
		if x >= 0x80 || control(x) || x == 0x1B {
			return "", &CharsetError{Charset: "ISO_IR 6", Offset: i, Msg: "byte outside the default repertoire"}
		}
	}
	return string(b), nil
}

func decodeSingle(b []byte, s *sbcs, c *Charset) (string, error) {
	ascii := true
	for _, x := range b {
		if x >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		for i, x := range b {
			if control(x) || x == 0x1B {
				return "", c.errAt(i, "control character")
			}
		}
		return string(b), nil
	}
	var out strings.Builder
	out.Grow(len(b) * 2)
	for i, x := range b {
		if x < 0x80 {
			if control(x) || x == 0x1B {
				return "", c.errAt(i, "control character")
			}
			out.WriteByte(x)
			continue
		}
		r := s.cm.DecodeByte(x)
		if (s.iso && x < 0xA0) || r == utf8.RuneError {
			return "", c.errAt(i, "byte is not a character of the set")
		}
		out.WriteRune(r)
	}
	return out.String(), nil
}

// isReset reports whether, before byte x, an ISO 2022 value returns to
// its initial designation (PS3.5 6.1.2.5.3).
func isReset(x byte, vr string) bool {
	switch x {
	case '\r', '\n', '\f', '\t', '\\':
		return true
	case '^', '=':
		return vr == "PN"
	}
	return false
}

func (c *Charset) decode2022(b []byte, vr string) (string, error) {
	var out strings.Builder
	out.Grow(len(b) * 2)
	g1 := c.init
	for i := 0; i < len(b); i++ {
		x := b[i]
		switch {
		case x == 0x1B:
			if i+2 >= len(b) {
				return "", c.errAt(i, "truncated escape sequence")
			}
			switch {
			case b[i+1] == '(' && b[i+2] == 'B':
				// G0 = ISO 646 (ASCII), which is the only G0 supported.
			case b[i+1] == '-':
				// Only the sets (0008,0005) lists may be designated.
				var set *sbcs
				for _, s := range c.g1 {
					if s.final == b[i+2] {
						set = s
					}
				}
				if set == nil {
					return "", c.errAt(i, "escape sequence designates a character set not in Specific Character Set")
				}
				g1 = set
			default:
				return "", c.errAt(i, "unsupported escape sequence")
			}
			i += 2
		case x < 0x80:
			if control(x) {
				return "", c.errAt(i, "control character")
			}
			if isReset(x, vr) {
				g1 = c.init
			}
			out.WriteByte(x)
		case x < 0xA0:
			return "", c.errAt(i, "byte is not a character of the set")
		default:
			if g1 == nil {
				return "", c.errAt(i, "8-bit byte with no G1 set designated")
			}
			r := g1.cm.DecodeByte(x)
			if r == utf8.RuneError {
				return "", c.errAt(i, "byte is not a character of the set")
			}
			out.WriteRune(r)
		}
	}
	return out.String(), nil
}

// Encode converts s to the bytes of a value of VR vr (no padding added).
// Characters the set cannot represent are errors naming their rune index.
// In ISO 2022 mode, escape sequences designate the G1 set each character
// needs, and the initial designation is restored before every delimiter
// (CR, LF, FF, TAB, '\', and '^' and '=' in PN) and at the end.
func (c *Charset) Encode(s string, vr string) ([]byte, error) {
	mode := csDefault
	if c != nil && charsetVR(vr) {
		mode = c.mode
	}
	if !utf8.ValidString(s) {
		return nil, &CharsetError{Charset: c.Name(), Offset: runeIndexOfInvalid(s), Msg: "string is not valid UTF-8"}
	}
	switch mode {
	case csUTF8:
		for i, r := range []rune(s) {
			if r < 0x80 && (control(byte(r)) || r == 0x1B) {
				return nil, c.errAt(i, "control character")
			}
		}
		return []byte(s), nil
	case csSingle:
		out := make([]byte, 0, len(s))
		i := 0
		for _, r := range s {
			if r < 0x80 {
				if control(byte(r)) || r == 0x1B {
					return nil, c.errAt(i, "control character")
				}
				out = append(out, byte(r))
			} else if x, ok := c.one.cm.EncodeRune(r); ok && (!c.one.iso || x >= 0xA0) {
				out = append(out, x)
			} else {
				return nil, c.errAt(i, "character not in "+c.Name())
			}
			i++
		}
		return out, nil
	case csISO2022:
		return c.encode2022(s, vr)
	}
	out := make([]byte, 0, len(s))
	for i, r := range []rune(s) {
		if r >= 0x80 || control(byte(r)) || r == 0x1B {
			return nil, &CharsetError{Charset: "ISO_IR 6", Offset: i, Msg: "character outside the default repertoire"}
		}
		out = append(out, byte(r))
	}
	return out, nil
}

func runeIndexOfInvalid(s string) int {
	n := 0
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return n
			}
		}
		n++
	}
	return n
}

func (c *Charset) encode2022(s string, vr string) ([]byte, error) {
	out := make([]byte, 0, len(s)+8)
	g1 := c.init
	restore := func() {
		if g1 == c.init {
			return
		}
		if c.init == nil {
			out = append(out, 0x1B, '(', 'B')
		} else {
			out = append(out, 0x1B, '-', c.init.final)
		}
		g1 = c.init
	}
	i := 0
	for _, r := range s {
		switch {
		case r < 0x80:
			x := byte(r)
			if control(x) || x == 0x1B {
				return nil, c.errAt(i, "control character")
			}
			if isReset(x, vr) {
				restore()
			}
			out = append(out, x)
		default:
			var x byte
			ok := false
			if g1 != nil {
				x, ok = g1.cm.EncodeRune(r)
				ok = ok && x >= 0xA0
			}
			if !ok {
				for _, set := range c.g1 {
					if y, found := set.cm.EncodeRune(r); found && y >= 0xA0 {
						out = append(out, 0x1B, '-', set.final)
						g1, x, ok = set, y, true
						break
					}
				}
			}
			if !ok {
				return nil, c.errAt(i, "character not in "+c.Name())
			}
			out = append(out, x)
		}
		i++
	}
	restore()
	return out, nil
}

// CanEncode reports whether every character of s can be encoded in c for
// a text VR such as PN or LO.
func (c *Charset) CanEncode(s string) bool {
	_, err := c.Encode(s, "LO")
	return err == nil
}
