package hl7

import "fmt"

// Encode writes the message with \r after each segment, in m.Charset.
// Segments are written as their raw text, so the result parses back to an
// Equal message. A character the charset cannot represent (possible only
// in built messages) becomes '?'; use EncodeCharset to get an error
// instead.
func (m *Message) Encode() []byte {
	cs, ok := lookupCharset(m.Charset)
	if !ok {
		cs = csUTF8
	}
	b, _ := encodeText(m.text(), cs, false)
	return b
}

// EncodeCharset writes the message in the named charset and fails on a
// character the charset lacks. MSH-18 is not changed: set it to match
// when the receiver reads it.
func (m *Message) EncodeCharset(name string) ([]byte, error) {
	cs, ok := lookupCharset(name)
	if !ok {
		return nil, fmt.Errorf("hl7: unknown charset %q: %w", name, ErrCharset)
	}
	return encodeText(m.text(), cs, true)
}

func (m *Message) text() string {
	n := 0
	for i := range m.Segments {
		n += len(m.Segments[i].text) + 1
	}
	b := make([]byte, 0, n)
	for i := range m.Segments {
		b = append(b, m.Segments[i].text...)
		b = append(b, '\r')
	}
	return string(b)
}

// Equal reports whether two messages have the same delimiters and the
// same segments with the same text, which is the same tree of
// repetitions, components and subcomponents. Offsets and the charset
// the bytes came in are not compared.
func (m *Message) Equal(o *Message) bool {
	if m == nil || o == nil {
		return m == o
	}
	if m.c.d != o.c.d || len(m.Segments) != len(o.Segments) {
		return false
	}
	for i := range m.Segments {
		if m.Segments[i].Name != o.Segments[i].Name || m.Segments[i].text != o.Segments[i].text {
			return false
		}
	}
	return true
}
