package dicom

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinels for what callers branch on. Errors returned by this package
// wrap one of them (use errors.Is).
var (
	// ErrTruncated: the input ends inside an element, item or sequence.
	ErrTruncated = errors.New("truncated data")
	// ErrMalformed: the bytes do not follow PS3.5 (bad VR, bad item tag,
	// length overrunning its container, duplicate tag, nesting too deep).
	ErrMalformed = errors.New("malformed data")
	// ErrTooLarge: an element or the input exceeds a configured limit.
	ErrTooLarge = errors.New("too large")
	// ErrTransferSyntax: the transfer syntax is not one this codec reads
	// or writes.
	ErrTransferSyntax = errors.New("unsupported transfer syntax")
	// ErrCharset: an unknown Specific Character Set, bytes that are not
	// valid in the character set, or text that cannot be encoded in it.
	ErrCharset = errors.New("bad character set")
	// ErrValue: a value is not valid for its VR (a date that is not a
	// date, a number that is not a number).
	ErrValue = errors.New("invalid value")
	// ErrNotDICOM: the file is not a DICOM Part 10 file (no DICM prefix)
	// or its meta header or dataset cannot be parsed. A C-STORE SCP
	// answers 0xC000 (cannot understand).
	ErrNotDICOM = errors.New("not a DICOM file")
	// ErrMismatch: the dataset's SOP Class or Instance UID disagrees with
	// the command's or with its own file meta header. A C-STORE SCP
	// answers 0xA900 (data set does not match SOP class).
	ErrMismatch = errors.New("data set does not match")
)

// DecodeError says where in the input a problem is. Its message names the
// byte offset and the tag, never the value.
type DecodeError struct {
	Offset int64 // byte offset in the input (for deflated data: in the inflated stream)
	Tag    Tag   // element being read; 0 when not known yet
	Path   []Tag // enclosing sequence tags, outermost first
	Msg    string
	Err    error // one of the sentinels
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("dicom: ")
	for _, t := range e.Path {
		b.WriteString(t.String())
		b.WriteString(" > ")
	}
	if e.Tag != 0 || len(e.Path) > 0 {
		b.WriteString(e.Tag.String())
		b.WriteByte(' ')
	}
	b.WriteString("at byte ")
	b.WriteString(strconv.FormatInt(e.Offset, 10))
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError names the element that could not be encoded.
type EncodeError struct {
	Tag Tag
	Msg string
	Err error
}

func (e *EncodeError) Error() string {
	return "dicom: encode " + e.Tag.String() + ": " + e.Msg
}

func (e *EncodeError) Unwrap() error { return e.Err }

// CharsetError reports text that cannot be decoded from or encoded into a
// character set. Offset is a byte offset into the value for decoding and a
// rune index into the string for encoding. The offending character is not
// quoted.
type CharsetError struct {
	Charset string // e.g. "ISO_IR 144"
	Tag     Tag    // set by Dataset.String and the response builder; 0 otherwise
	Offset  int
	Msg     string
}

func (e *CharsetError) Error() string {
	var b strings.Builder
	b.WriteString("dicom: ")
	if e.Tag != 0 {
		b.WriteString(e.Tag.String())
		b.WriteByte(' ')
	}
	b.WriteString(e.Charset)
	b.WriteString(" at ")
	b.WriteString(strconv.Itoa(e.Offset))
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *CharsetError) Unwrap() error { return ErrCharset }

// MismatchError is returned by Header.CheckAgainst. Command and Dataset
// hold the two UIDs (identifiers, not names); Error() names the
// attributes only, so it fits a DIMSE Error Comment (64 characters).
type MismatchError struct {
	Attribute string // "SOP Class UID", "SOP Instance UID", "Media Storage SOP Class UID", ...
	Against   string // "command" or "file meta"
	Want, Got string
}

func (e *MismatchError) Error() string {
	if e.Got == "" {
		return e.Attribute + " missing in data set"
	}
	return e.Attribute + " differs from " + e.Against
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// QueryError reports a C-FIND identifier the SCP cannot use (a sequence
// key with several items, a range on a VR that has none, text that does
// not decode). A C-FIND SCP answers 0xA900 (identifier does not match SOP
// class) or 0xC000 with it; Error() names the tag only.
type QueryError struct {
	Path []Tag // enclosing sequence keys, outermost first
	Tag  Tag
	Msg  string
	Err  error // ErrValue or ErrCharset
}

func (e *QueryError) Error() string {
	var b strings.Builder
	b.WriteString("dicom: query key ")
	for _, t := range e.Path {
		b.WriteString(t.String())
		b.WriteString(" > ")
	}
	b.WriteString(e.Tag.String())
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *QueryError) Unwrap() error { return e.Err }
