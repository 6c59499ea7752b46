package hl7

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// charset identifies one of the character sets the parser decodes.
type charset uint8

const (
	csUTF8 charset = iota
	csASCII
	csLatin1
	csLatin2
	csLatin3
	csLatin4
	csCyrillic // ISO-8859-5
	csArabic
	csGreek
	csHebrew
	csLatin5
	csLatin9
	csWindows1251
	csCP866
	csKOI8R
	numCharsets
)

var charsetNames = [numCharsets]string{
	csUTF8:        "utf-8",
	csASCII:       "ascii",
	csLatin1:      "iso-8859-1",
	csLatin2:      "iso-8859-2",
	csLatin3:      "iso-8859-3",
	csLatin4:      "iso-8859-4",
	csCyrillic:    "iso-8859-5",
	csArabic:      "iso-8859-6",
	csGreek:       "iso-8859-7",
	csHebrew:      "iso-8859-8",
	csLatin5:      "iso-8859-9",
	csLatin9:      "iso-8859-15",
	csWindows1251: "windows-1251",
	csCP866:       "cp866",
	csKOI8R:       "koi8-r",
}

// charmaps is read-only after package initialisation; nil for the two
// charsets that need no table.
var charmaps = [numCharsets]*charmap.Charmap{
	csLatin1:      charmap.ISO8859_1,
	csLatin2:      charmap.ISO8859_2,
	csLatin3:      charmap.ISO8859_3,
	csLatin4:      charmap.ISO8859_4,
	csCyrillic:    charmap.ISO8859_5,
	csArabic:      charmap.ISO8859_6,
	csGreek:       charmap.ISO8859_7,
	csHebrew:      charmap.ISO8859_8,
	csLatin5:      charmap.ISO8859_9,
	csLatin9:      charmap.ISO8859_15,
	csWindows1251: charmap.Windows1251,
	csCP866:       charmap.CodePage866,
	csKOI8R:       charmap.KOI8R,
}

func (c charset) String() string { return charsetNames[c] }

// singleByte reports whether each input byte is one character, which is
// what lets original offsets be recovered by counting runes.
func (c charset) singleByte() bool { return c != csUTF8 }

// lookupCharset accepts the HL7 table 0211 values (UNICODE UTF-8, 8859/5,
// ASCII, ...), the names devices put in MSH-18 instead (UTF-8, CP1251,
// WINDOWS-1251) and the names used in device configuration. Case, spaces,
// hyphens, underscores and slashes are ignored.
func lookupCharset(name string) (charset, bool) {
	var buf [32]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == ' ' || c == '-' || c == '_' || c == '/' || c == '.':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if n == len(buf) {
			return 0, false
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "", "UTF8", "UNICODEUTF8", "UNICODE", "ISOIR192":
		// Table 0211's bare UNICODE means ISO 10646; the Mindray analyzers
		// that send it write UTF-8.
		return csUTF8, true
	case "ASCII", "USASCII", "ISOIR6":
		return csASCII, true
	case "88591", "ISO88591", "LATIN1", "ISOIR100":
		return csLatin1, true
	case "88592", "ISO88592", "LATIN2", "ISOIR101":
		return csLatin2, true
	case "88593", "ISO88593", "ISOIR109":
		return csLatin3, true
	case "88594", "ISO88594", "ISOIR110":
		return csLatin4, true
	case "88595", "ISO88595", "ISOIR144", "CYRILLIC":
		return csCyrillic, true
	case "88596", "ISO88596", "ISOIR127":
		return csArabic, true
	case "88597", "ISO88597", "ISOIR126":
		return csGreek, true
	case "88598", "ISO88598", "ISOIR138":
		return csHebrew, true
	case "88599", "ISO88599", "ISOIR148":
		return csLatin5, true
	case "885915", "ISO885915", "LATIN9":
		return csLatin9, true
	case "CP1251", "WINDOWS1251", "WIN1251", "1251", "MSCYRL":
		return csWindows1251, true
	case "CP866", "IBM866", "866", "DOS866", "CP866DOS":
		return csCP866, true
	case "KOI8R", "KOI8":
		return csKOI8R, true
	}
	return 0, false
}

// CanonicalCharset returns the name Message.Charset uses for a charset
// name or MSH-18 value, and false when the parser cannot decode it.
func CanonicalCharset(name string) (string, bool) {
	c, ok := lookupCharset(name)
	if !ok {
		return "", false
	}
	return c.String(), true
}

// badByte describes the first byte the charset cannot decode.
type badByte struct {
	off int // offset in the decoded input slice
	b   byte
}

// decode converts data to UTF-8 text once. It fails rather than
// substituting U+FFFD: a result stored with replacement characters cannot be
// corrected later, while a refused message can be reprocessed with the right
// device encoding.
func decode(data []byte, cs charset) (string, *badByte) {
	switch cs {
	case csUTF8:
		if utf8.Valid(data) {
			return string(data), nil
		}
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", &badByte{i, data[i]}
			}
			i += n
		}
		return string(data), nil // unreachable: Valid said otherwise
	case csASCII:
		for i, b := range data {
			if b >= 0x80 {
				return "", &badByte{i, b}
			}
		}
		return string(data), nil
	}
	cm := charmaps[cs]
	high := 0
	for _, b := range data {
		if b >= 0x80 {
			high++
		}
	}
	if high == 0 {
		return string(data), nil
	}
	var sb strings.Builder
	sb.Grow(len(data) + 2*high)
	for i, b := range data {
		if b < 0x80 {
			sb.WriteByte(b)
			continue
		}
		r := cm.DecodeByte(b)
		if r == utf8.RuneError {
			return "", &badByte{i, b}
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

// decodeHex turns the bytes of a \Xhh..\ escape into text in the message's
// charset; ok is false when they are not valid there.
func decodeHex(raw []byte, cs charset) (string, bool) {
	s, bad := decode(raw, cs)
	return s, bad == nil
}

// encodeText converts UTF-8 text to the named charset. With strict, a
// character the charset lacks is an error naming its offset; otherwise it
// becomes '?'.
func encodeText(text string, cs charset, strict bool) ([]byte, error) {
	if cs == csUTF8 {
		return []byte(text), nil
	}
	out := make([]byte, 0, len(text))
	for i, r := range text {
		if r < 0x80 {
			out = append(out, byte(r))
			continue
		}
		var b byte
		ok := false
		if cm := charmaps[cs]; cm != nil {
			b, ok = cm.EncodeRune(r)
		}
		if !ok {
			if strict {
				return nil, fmt.Errorf("hl7: character U+%04X at byte %d has no %s encoding: %w", r, i, cs, ErrCharset)
			}
			b = '?'
		}
		out = append(out, b)
	}
	return out, nil
}
