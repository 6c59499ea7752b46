// Package mllp implements the HL7 Minimal Lower Layer Protocol: the
// 0x0B … 0x1C 0x0D framing (Reader and Writer, shared with the simulator)
// and a Server that hands each framed message to a listeners.Handler and
// answers it with an HL7 acknowledgment once the handler returns.
package mllp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Frame bytes.
const (
	StartBlock = 0x0B // VT: starts a frame
	EndBlock   = 0x1C // FS: ends a frame, followed by CarriageReturn
	CR         = 0x0D
)

// DefaultMaxSize is the frame size limit when MaxSize is zero.
const DefaultMaxSize = 16 << 20

// PrefixSize is how many leading bytes of an oversized frame a
// TooLargeError keeps: enough for the MSH segment, so the frame can still be
// acknowledged with MSA-2 = MSH-10.
const PrefixSize = 64 << 10

// ErrTooLarge is what a *TooLargeError matches with errors.Is.
var ErrTooLarge = errors.New("mllp: frame too large")

// ErrFrameByte: WriteMessage was given a message containing a start block
// byte or an end block sequence, which the receiver would split on.
var ErrFrameByte = errors.New("mllp: message contains a frame delimiter")

// TooLargeError reports a frame whose content exceeds the Reader's MaxSize.
// Prefix holds the first bytes of the content: at most PrefixSize, and at
// most Limit, so it is the same however the input was split into reads.
type TooLargeError struct {
	Limit  int
	Prefix []byte
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("mllp: frame larger than %d bytes", e.Limit)
}

// Unwrap makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// Reader reads MLLP frames from an io.Reader through its own buffer, so
// partial reads and several frames per read are both handled.
//
// Bytes outside frames (noise, NULs, line feeds some senders put between
// frames) are skipped and counted by Skipped. A start byte inside a frame
// abandons the frame so far (it was truncated) and starts a new one; the
// abandoned bytes count as skipped too. The end of a frame is 0x1C 0x0D;
// a 0x1C followed by anything else is content.
//
// A frame longer than MaxSize makes ReadMessage return a *TooLargeError as
// soon as the limit is passed, without waiting for the end of the frame,
// so a server can answer and close at once. The Reader stays usable: the
// next ReadMessage first discards the rest of that frame (counted by
// Skipped). Memory stays bounded by MaxSize plus a read chunk.
type Reader struct {
	// MaxSize limits a frame's content in bytes; 0 means DefaultMaxSize.
	// Set it before the first ReadMessage.
	MaxSize int

	r       io.Reader
	buf     []byte
	rd, wr  int // unread data is buf[rd:wr]
	inFrame bool
	scan    int // in a frame: buf[rd:scan] holds no frame byte
	discard bool
	skipped int64
	err     error
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Skipped returns how many bytes so far were not part of a returned frame:
// noise and NULs between frames, abandoned partial frames and the rest of
// oversized frames.
func (r *Reader) Skipped() int64 { return r.skipped }

// Buffered reports whether the Reader holds bytes of an unfinished frame.
func (r *Reader) Buffered() bool { return r.inFrame }

func (r *Reader) maxSize() int {
	if r.MaxSize > 0 {
		return r.MaxSize
	}
	return DefaultMaxSize
}

var frameBytes = string([]byte{StartBlock, EndBlock})

// ReadMessage returns the content of the next frame, without the start and
// end bytes, in a newly allocated slice the caller owns. At the end of the
// input it returns io.EOF, or io.ErrUnexpectedEOF when the input ends
// inside a frame. Errors from the underlying reader (a deadline, say) are
// returned as they are; the bytes read so far stay buffered, so a later
// call may continue.
func (r *Reader) ReadMessage() ([]byte, error) {
	limit := r.maxSize()
outer:
	for {
		if !r.inFrame {
			if i := bytes.IndexByte(r.buf[r.rd:r.wr], StartBlock); i >= 0 {
				r.skipped += int64(i)
				r.rd += i + 1
				r.inFrame, r.scan, r.discard = true, r.rd, false
			} else {
				r.skipped += int64(r.wr - r.rd)
				r.rd, r.wr = 0, 0
			}
		}
		if r.inFrame {
			for {
				i := bytes.IndexAny(r.buf[r.scan:r.wr], frameBytes)
				if i < 0 {
					r.scan = r.wr
					break
				}
				j := r.scan + i
				if r.buf[j] == StartBlock {
					if !r.discard && j-r.rd > limit {
						// Report the oversized truncated frame first.
						err := r.tooLarge(r.buf[r.rd:j], limit)
						r.skipped += int64(j - r.rd)
						r.rd, r.inFrame = j, false
						return nil, err
					}
					// A new frame starts: the one so far was truncated.
					r.skipped += int64(j + 1 - r.rd)
					r.rd, r.scan, r.discard = j+1, j+1, false
					continue
				}
				if j+1 == r.wr {
					r.scan = j // need the next byte to decide
					break
				}
				if r.buf[j+1] != CR {
					r.scan = j + 1
					continue
				}
				content := r.buf[r.rd:j]
				r.rd, r.inFrame = j+2, false
				if r.discard {
					r.discard = false
					r.skipped += int64(len(content)) + 2
					continue outer
				}
				if len(content) > limit {
					return nil, r.tooLarge(content, limit)
				}
				msg := bytes.Clone(content)
				r.shrink()
				return msg, nil
			}
			if r.discard {
				// Drop what was scanned; keep a trailing 0x1C.
				r.skipped += int64(r.scan - r.rd)
				r.rd = r.scan
			} else if r.scan-r.rd > limit {
				err := r.tooLarge(r.buf[r.rd:r.scan], limit)
				r.skipped += int64(r.scan - r.rd)
				r.rd, r.discard = r.scan, true
				return nil, err
			}
		}
		if err := r.fill(); err != nil {
			if err == io.EOF && r.inFrame && !r.discard {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func (r *Reader) tooLarge(content []byte, limit int) error {
	n := min(len(content), PrefixSize, limit)
	return &TooLargeError{Limit: limit, Prefix: bytes.Clone(content[:n])}
}

// fill reads more data into the buffer, compacting or growing it first.
// It returns the pending error once the buffered data has been consumed.
// keepBuffer is the largest buffer a Reader keeps between frames: one
// large message must not leave each connection holding up to MaxSize.
const keepBuffer = 256 << 10

// shrink gives back a buffer grown for a large frame once that frame is
// returned, keeping the unread bytes.
func (r *Reader) shrink() {
	if len(r.buf) <= keepBuffer || r.wr-r.rd > keepBuffer/2 {
		return
	}
	nb := make([]byte, keepBuffer)
	r.wr = copy(nb, r.buf[r.rd:r.wr])
	r.buf, r.rd, r.scan = nb, 0, 0
}

func (r *Reader) fill() error {
	if r.err != nil {
		err := r.err
		r.err = nil
		return err
	}
	if r.rd > 0 {
		n := copy(r.buf, r.buf[r.rd:r.wr])
		r.scan -= r.rd
		r.wr, r.rd = n, 0
	}
	if r.wr == len(r.buf) {
		size := max(2*len(r.buf), 4096)
		if lim := r.maxSize() + 2; size > lim && lim > len(r.buf) {
			size = lim
		}
		if size <= len(r.buf) {
			size = len(r.buf) + 4096
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.wr])
		r.buf = nb
	}
	for range 100 {
		n, err := r.r.Read(r.buf[r.wr:])
		r.wr += n
		if n > 0 {
			r.err = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Writer writes MLLP frames.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteMessage writes msg as one frame, in one Write call. A message
// holding a start byte or an end sequence is refused with ErrFrameByte.
func (w *Writer) WriteMessage(msg []byte) error {
	if bytes.IndexByte(msg, StartBlock) >= 0 || bytes.Contains(msg, []byte{EndBlock, CR}) {
		return ErrFrameByte
	}
	w.buf = append(w.buf[:0], StartBlock)
	w.buf = append(w.buf, msg...)
	w.buf = append(w.buf, EndBlock, CR)
	_, err := w.w.Write(w.buf)
	if cap(w.buf) > 64<<10 {
		w.buf = nil
	}
	return err
}
