package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinels for what callers branch on. Errors about the content of a file
// are *FormatError values wrapping ErrMalformed, ErrTooLarge or
// ErrUnsupportedImage; errors.Is works through them.
var (
	// ErrNotDICOM: the input is not a DICOM Part 10 file (no "DICM" prefix
	// and no File Meta Information group at the start).
	ErrNotDICOM = errors.New("not a DICOM Part 10 file")
	// ErrNoPixelData: the dataset has no Pixel Data (7FE0,0010) element
	// (a structured report, a PDF, a presentation state...).
	ErrNoPixelData = errors.New("no pixel data")
	// ErrFrameOutOfRange: Options.Frame is negative or not below the
	// instance's Number of Frames.
	ErrFrameOutOfRange = errors.New("frame out of range")
	// ErrMalformed: the dataset or a compressed frame violates its encoding.
	ErrMalformed = errors.New("malformed data")
	// ErrTooLarge: the frame exceeds MaxPixels, or its declared size is
	// not backed by the data that carries it.
	ErrTooLarge = errors.New("image too large")
	// ErrUnsupportedImage: the pixel data is well formed but describes an
	// image this package does not render (32-bit or float samples,
	// segmented palettes, YBR_PARTIAL_420...).
	ErrUnsupportedImage = errors.New("unsupported image")
)

// MaxPixels bounds Rows × Columns of one frame. Larger frames are rejected
// with ErrTooLarge before any pixel buffer is allocated.
const MaxPixels = 1 << 26 // 8192 × 8192

// UnsupportedTransferSyntaxError reports pixel data this package cannot
// decode: JPEG-LS, JPEG 2000, HTJ2K, video, a 12-bit JPEG Extended stream
// and the like. An HTTP layer answers 415 naming the syntax; the instance
// itself is fine.
type UnsupportedTransferSyntaxError struct {
	UID    string // transfer syntax UID from the file meta information
	Name   string // its standard name, "" when the UID is unknown
	Detail string // why, when the syntax is supported but this stream is not; else ""
}

func (e *UnsupportedTransferSyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("dicom render: transfer syntax ")
	b.WriteString(e.UID)
	if e.Name != "" {
		b.WriteString(" (")
		b.WriteString(e.Name)
		b.WriteByte(')')
	}
	b.WriteString(" cannot be rendered")
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// FormatError says where a problem is. Messages never quote element values
// (they may be patient data), only tags, offsets and sizes.
type FormatError struct {
	// Codec is "" for errors in the dataset encoding, else the frame
	// codec ("JPEG lossless", "JPEG", "RLE").
	Codec string
	// Offset is a byte offset: in the file (in the inflated dataset for
	// Deflated Explicit VR Little Endian) when Codec is "", in the frame's
	// compressed bytes otherwise; -1 when unknown.
	Offset int64
	// Tag is the element concerned as 0xGGGGEEEE, 0 when none.
	Tag   uint32
	Frame int // 0-based frame, -1 when not frame specific
	Msg   string
	Err   error // ErrMalformed, ErrTooLarge or ErrUnsupportedImage
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("dicom render: ")
	if e.Codec != "" {
		b.WriteString(e.Codec)
		b.WriteString(": ")
	}
	if e.Frame >= 0 {
		b.WriteString("frame ")
		b.WriteString(strconv.Itoa(e.Frame))
		b.WriteString(": ")
	}
	if e.Tag != 0 {
		fmt.Fprintf(&b, "(%04X,%04X): ", e.Tag>>16, e.Tag&0xFFFF)
	}
	if e.Offset >= 0 {
		b.WriteString("offset ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FormatError) Unwrap() error { return e.Err }

func malformed(off int64, tag uint32, format string, args ...any) *FormatError {
	return &FormatError{Offset: off, Tag: tag, Frame: -1, Msg: fmt.Sprintf(format, args...), Err: ErrMalformed}
}

func unsupportedImage(tag uint32, format string, args ...any) *FormatError {
	return &FormatError{Offset: -1, Tag: tag, Frame: -1, Msg: fmt.Sprintf(format, args...), Err: ErrUnsupportedImage}
}

// codecError is what the frame decoders return; render fills in Frame.
func codecError(codec string, off int, err error, format string, args ...any) *FormatError {
	return &FormatError{Codec: codec, Offset: int64(off), Frame: -1, Msg: fmt.Sprintf(format, args...), Err: err}
}
