package hl7

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinels for what callers branch on. Every error Parse returns is a
// *ParseError wrapping one of them.
var (
	// ErrNoMSH: the input does not start with an MSH segment (or is empty).
	ErrNoMSH = errors.New("no MSH segment")
	// ErrDelimiters: MSH-1/MSH-2 do not declare usable separators.
	ErrDelimiters = errors.New("bad delimiters")
	// ErrCharset: the character set is unknown, or the bytes are not valid
	// in the declared or configured one.
	ErrCharset = errors.New("bad character set")
	// ErrTooLarge: the input exceeds Options.MaxSize.
	ErrTooLarge = errors.New("message too large")
	// ErrBatch: Parse was given a batch or several messages; use ParseBatch.
	ErrBatch = errors.New("more than one message")
	// ErrSegment: a segment does not start with a valid three-character ID.
	ErrSegment = errors.New("malformed segment")
	// ErrRequired: a field the parser needs (MSH-9) is empty.
	ErrRequired = errors.New("required field missing")
	// ErrValue: a field's text is not valid for its data type (a date that
	// is not a date, base64 that does not decode).
	ErrValue = errors.New("invalid value")
)

// ParseError says where in the input a problem is. Messages never quote
// field values: errors end up in logs, and values may be patient data.
type ParseError struct {
	MessageIndex int    // 1-based position in a batch; 0 outside ParseBatch
	Segment      string // segment ID, e.g. "MSH"; "" when not inside a segment
	SegmentIndex int    // 1-based position of the segment in its message; 0 if unknown
	// Occurrence is the 1-based occurrence of the segment ID in its
	// message (the third OBX is 3): what ERR-2.2 reports. 0 if unknown.
	Occurrence int
	Field      int // field number (MSH-1 is the field separator); 0 for the whole segment
	Component  int // component number; 0 for the whole field
	Offset     int // byte offset in the input given to Parse or ParseBatch
	Msg        string
	Err        error // one of the sentinels above
}

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.MessageIndex > 0 {
		b.WriteString("message ")
		b.WriteString(strconv.Itoa(e.MessageIndex))
		b.WriteString(": ")
	}
	if e.Segment != "" {
		b.WriteString(e.Segment)
		if e.Field > 0 {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(e.Field))
			if e.Component > 0 {
				b.WriteByte('.')
				b.WriteString(strconv.Itoa(e.Component))
			}
		}
		if e.SegmentIndex > 1 {
			b.WriteString(" (segment ")
			b.WriteString(strconv.Itoa(e.SegmentIndex))
			b.WriteByte(')')
		}
		b.WriteByte(' ')
	}
	b.WriteString("at byte ")
	b.WriteString(strconv.Itoa(e.Offset))
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }
