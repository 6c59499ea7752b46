package dicom

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// MaxDepth is how deeply sequences may nest before Decode gives up.
const MaxDepth = 16

const undefinedLength = 0xFFFFFFFF

// source is what the element reader reads from: a byte slice (Decode) or
// a stream (DecodeReader, ReadHeader).
type source interface {
	// readFull fills p or fails with io.ErrUnexpectedEOF / io.EOF (the
	// latter only when nothing at all was left).
	readFull(p []byte) error
	// take returns the next n bytes. From a slice they alias the input;
	// from a stream they are read into a buffer that grows as bytes
	// arrive, so a forged length cannot allocate more than the input.
	take(n int64) ([]byte, error)
	skip(n int64) error
	pos() int64
	// left is the number of bytes left, or -1 when unknown.
	left() int64
}

type sliceSource struct {
	b   []byte
	off int
}

func (s *sliceSource) readFull(p []byte) error {
	if s.off == len(s.b) {
		return io.EOF
	}
	if len(s.b)-s.off < len(p) {
		s.off = len(s.b)
		return io.ErrUnexpectedEOF
	}
	copy(p, s.b[s.off:])
	s.off += len(p)
	return nil
}

func (s *sliceSource) take(n int64) ([]byte, error) {
	if n > int64(len(s.b)-s.off) {
		return nil, io.ErrUnexpectedEOF
	}
	v := s.b[s.off : s.off+int(n) : s.off+int(n)]
	s.off += int(n)
	return v, nil
}

func (s *sliceSource) skip(n int64) error {
	_, err := s.take(n)
	return err
}

func (s *sliceSource) pos() int64  { return int64(s.off) }
func (s *sliceSource) left() int64 { return int64(len(s.b) - s.off) }

type streamSource struct {
	r    *bufio.Reader
	seek io.Seeker // non-nil when skips may seek the underlying reader
	base io.Reader // the reader r wraps, for Reset after a seek
	off  int64
	size int64 // total size when known, else -1
}

func (s *streamSource) readFull(p []byte) error {
	n, err := io.ReadFull(s.r, p)
	s.off += int64(n)
	if err == io.EOF && n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (s *streamSource) take(n int64) ([]byte, error) {
	if s.size >= 0 && n > s.size-s.off {
		return nil, io.ErrUnexpectedEOF
	}
	if n <= 4096 {
		p := make([]byte, n)
		err := s.readFull(p)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return p, err
	}
	var buf bytes.Buffer
	m, err := io.CopyN(&buf, s.r, n)
	s.off += m
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return buf.Bytes(), err
}

func (s *streamSource) skip(n int64) error {
	if s.size >= 0 && n > s.size-s.off {
		return io.ErrUnexpectedEOF
	}
	if s.seek != nil && n > int64(s.r.Buffered()) {
		if _, err := s.seek.Seek(s.off+n, io.SeekStart); err != nil {
			return err
		}
		s.r.Reset(s.base)
		s.off += n
		return nil
	}
	m, err := s.r.Discard(int(min(n, 1<<30)))
	s.off += int64(m)
	for err == nil && int64(m) < n {
		n -= int64(m)
		m, err = s.r.Discard(int(min(n, 1<<30)))
		s.off += int64(m)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (s *streamSource) pos() int64 { return s.off }
func (s *streamSource) left() int64 {
	if s.size < 0 {
		return -1
	}
	return s.size - s.off
}

// decoder reads elements in one transfer syntax.
type decoder struct {
	src  source
	syn  syntax
	path []Tag
	// keep, when set, is asked for each element with a defined length
	// whether its value is worth reading; false skips it (the element is
	// dropped). The header reader uses it to bound memory.
	keep func(t Tag, vr string, length uint32) bool
	// stop, when set, ends the top-level dataset before an element the
	// function accepts (its header has been read, its value has not).
	stop func(t Tag) bool
	// stopped records the element header stop accepted.
	stopped    *Element
	stoppedLen uint32
	hdr        [12]byte
}

func (d *decoder) errAt(off int64, t Tag, sentinel error, msg string) *DecodeError {
	return &DecodeError{Offset: off, Tag: t, Path: append([]Tag(nil), d.path...), Msg: msg, Err: sentinel}
}

func (d *decoder) ioErr(off int64, t Tag, err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errAt(off, t, ErrTruncated, "input ends inside "+what)
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Offset: off, Tag: t, Path: append([]Tag(nil), d.path...), Msg: "reading " + what + ": " + err.Error(), Err: ErrTruncated}
}

// readTagLen reads a tag and, for item/delimiter tags, the 4-byte length
// that always follows them.
func (d *decoder) readTag() (Tag, error) {
	if err := d.src.readFull(d.hdr[:4]); err != nil {
		return 0, err
	}
	bo := d.syn.bo
	return Tag(uint32(bo.Uint16(d.hdr[0:2]))<<16 | uint32(bo.Uint16(d.hdr[2:4]))), nil
}

// readDataset reads elements until the limit (end offset, or -1 for "to
// the end of input / until an item delimiter") is reached. When
// untilDelim is set the dataset is an undefined-length item and ends with
// (FFFE,E00D).
func (d *decoder) readDataset(end int64, untilDelim bool, top bool) (*Dataset, error) {
	ds := &Dataset{}
	sorted := true
	var last Tag
	for {
		if end >= 0 && d.src.pos() >= end {
			if d.src.pos() > end {
				return nil, d.errAt(d.src.pos(), last, ErrMalformed, "element overruns its item")
			}
			if untilDelim {
				return nil, d.errAt(d.src.pos(), last, ErrMalformed, "item has no delimiter")
			}
			break
		}
		start := d.src.pos()
		t, err := d.readTag()
		if err == io.EOF && end < 0 && !untilDelim {
			break
		}
		if err != nil {
			return nil, d.ioErr(start, 0, err, "an element tag")
		}
		if t == TagItemDelimitationItem {
			if !untilDelim {
				return nil, d.errAt(start, t, ErrMalformed, "item delimiter outside an undefined-length item")
			}
			if err := d.src.readFull(d.hdr[4:8]); err != nil {
				return nil, d.ioErr(start, t, err, "an item delimiter")
			}
			break
		}
		if t == TagItem || t == TagSequenceDelimitationItem {
			return nil, d.errAt(start, t, ErrMalformed, "item tag outside a sequence")
		}
		if top && d.stop != nil && d.stop(t) {
			vr, length, err := d.readVRLen(t, start)
			if err != nil {
				return nil, err
			}
			d.stopped = &Element{Tag: t, VR: vr}
			d.stoppedLen = length
			break
		}
		e, err := d.readElement(t, start)
		if err != nil {
			return nil, err
		}
		if e == nil {
			continue // skipped by keep
		}
		if len(ds.Elements) > 0 && t <= last {
			if t == last {
				return nil, d.errAt(start, t, ErrMalformed, "duplicate tag")
			}
			sorted = false
		}
		last = max(last, t)
		ds.Elements = append(ds.Elements, e)
	}
	if !sorted {
		ds.Sort()
		for i := 1; i < len(ds.Elements); i++ {
			if ds.Elements[i].Tag == ds.Elements[i-1].Tag {
				return nil, d.errAt(d.src.pos(), ds.Elements[i].Tag, ErrMalformed, "duplicate tag")
			}
		}
	}
	return ds, nil
}

// readVRLen reads the VR (explicit syntaxes) and the value length.
func (d *decoder) readVRLen(t Tag, start int64) (string, uint32, error) {
	bo := d.syn.bo
	if d.syn.implicit {
		if err := d.src.readFull(d.hdr[4:8]); err != nil {
			return "", 0, d.ioErr(start, t, err, "an element header")
		}
		length := bo.Uint32(d.hdr[4:8])
		vr := DictVR(t)
		if length == undefinedLength && vr != "SQ" && t != TagPixelData {
			vr = "SQ" // PS3.5 7.1.3: undefined length in implicit VR is a sequence
		}
		return vr, length, nil
	}
	if err := d.src.readFull(d.hdr[4:8]); err != nil {
		return "", 0, d.ioErr(start, t, err, "an element header")
	}
	vr := string(d.hdr[4:6])
	info, ok := vrs[vr]
	if !ok {
		return "", 0, d.errAt(start+4, t, ErrMalformed, "unknown VR")
	}
	if !info.long {
		return vr, uint32(bo.Uint16(d.hdr[6:8])), nil
	}
	if err := d.src.readFull(d.hdr[8:12]); err != nil {
		return "", 0, d.ioErr(start, t, err, "an element header")
	}
	return vr, bo.Uint32(d.hdr[8:12]), nil
}

func (d *decoder) readElement(t Tag, start int64) (*Element, error) {
	vr, length, err := d.readVRLen(t, start)
	if err != nil {
		return nil, err
	}
	valStart := d.src.pos()
	if length == undefinedLength {
		switch {
		case vr == "SQ":
			return d.readSequence(t, vr, -1, valStart)
		case vr == "UN":
			// PS3.5 6.2.2: an undefined-length UN is a sequence encoded
			// in Implicit VR Little Endian.
			saved := d.syn
			d.syn = syntax{implicit: true, bo: binary.LittleEndian}
			e, err := d.readSequence(t, "SQ", -1, valStart)
			d.syn = saved
			return e, err
		case vr == "OB" || vr == "OW":
			return d.readFragments(t, vr, valStart)
		}
		return nil, d.errAt(start, t, ErrMalformed, "undefined length on a "+vr+" element")
	}
	if l := d.src.left(); l >= 0 && int64(length) > l {
		return nil, d.errAt(start, t, ErrTruncated, "value length exceeds the remaining input")
	}
	if vr == "SQ" {
		return d.readSequence(t, vr, int64(length), valStart)
	}
	if d.keep != nil && !d.keep(t, vr, length) {
		if err := d.src.skip(int64(length)); err != nil {
			return nil, d.ioErr(valStart, t, err, "a value")
		}
		return nil, nil
	}
	v, err := d.src.take(int64(length))
	if err != nil {
		return nil, d.ioErr(valStart, t, err, "a value")
	}
	if unit := vrs[vr].swap; unit > 1 && d.syn.bo == binary.BigEndian {
		if _, ok := d.src.(*sliceSource); ok {
			v = append([]byte(nil), v...) // never write into the caller's slice
		}
		swapUnit(v, int(unit))
	}
	return &Element{Tag: t, VR: vr, Value: v}, nil
}

// readItemHeader reads an item or delimiter tag and its length.
func (d *decoder) readItemHeader() (Tag, uint32, int64, error) {
	start := d.src.pos()
	t, err := d.readTag()
	if err != nil {
		return 0, 0, start, d.ioErr(start, 0, err, "an item header")
	}
	if err := d.src.readFull(d.hdr[4:8]); err != nil {
		return 0, 0, start, d.ioErr(start, t, err, "an item header")
	}
	return t, d.syn.bo.Uint32(d.hdr[4:8]), start, nil
}

func (d *decoder) readSequence(t Tag, vr string, length int64, valStart int64) (*Element, error) {
	if len(d.path) >= MaxDepth {
		return nil, d.errAt(valStart, t, ErrMalformed, "sequences nested too deeply")
	}
	d.path = append(d.path, t)
	defer func() { d.path = d.path[:len(d.path)-1] }()
	e := &Element{Tag: t, VR: vr, Items: []*Dataset{}}
	end := int64(-1)
	if length >= 0 {
		end = valStart + length
	}
	for {
		if end >= 0 {
			p := d.src.pos()
			if p == end {
				break
			}
			if p > end {
				return nil, d.errAt(p, t, ErrMalformed, "item overruns its sequence")
			}
		}
		it, ilen, istart, err := d.readItemHeader()
		if err != nil {
			return nil, err
		}
		if it == TagSequenceDelimitationItem {
			if end >= 0 {
				return nil, d.errAt(istart, it, ErrMalformed, "sequence delimiter in a defined-length sequence")
			}
			break
		}
		if it != TagItem {
			return nil, d.errAt(istart, it, ErrMalformed, "expected an item")
		}
		var item *Dataset
		if ilen == undefinedLength {
			item, err = d.readDataset(-1, true, false)
		} else {
			iend := d.src.pos() + int64(ilen)
			if end >= 0 && iend > end {
				return nil, d.errAt(istart, it, ErrMalformed, "item overruns its sequence")
			}
			if l := d.src.left(); l >= 0 && int64(ilen) > l {
				return nil, d.errAt(istart, it, ErrTruncated, "item length exceeds the remaining input")
			}
			item, err = d.readDataset(iend, false, false)
		}
		if err != nil {
			return nil, err
		}
		e.Items = append(e.Items, item)
	}
	return e, nil
}

// readFragments reads encapsulated pixel data: items of defined length up
// to a sequence delimiter. The first fragment is the Basic Offset Table.
func (d *decoder) readFragments(t Tag, vr string, valStart int64) (*Element, error) {
	e := &Element{Tag: t, VR: vr, Fragments: [][]byte{}}
	keepAll := d.keep == nil
	for {
		it, ilen, istart, err := d.readItemHeader()
		if err != nil {
			return nil, err
		}
		if it == TagSequenceDelimitationItem {
			break
		}
		if it != TagItem || ilen == undefinedLength {
			return nil, d.errAt(istart, it, ErrMalformed, "expected a defined-length fragment item")
		}
		if l := d.src.left(); l >= 0 && int64(ilen) > l {
			return nil, d.errAt(istart, it, ErrTruncated, "fragment length exceeds the remaining input")
		}
		if !keepAll && !d.keep(t, vr, ilen) {
			if err := d.src.skip(int64(ilen)); err != nil {
				return nil, d.ioErr(istart, t, err, "a fragment")
			}
			e.Fragments = nil
			continue
		}
		v, err := d.src.take(int64(ilen))
		if err != nil {
			return nil, d.ioErr(istart, t, err, "a fragment")
		}
		if e.Fragments != nil {
			e.Fragments = append(e.Fragments, v)
		}
	}
	if e.Fragments == nil {
		return nil, nil
	}
	return e, nil
}

// Decode reads a dataset (no preamble, no file meta header) encoded in
// Implicit VR Little Endian, Explicit VR Little Endian or Explicit VR Big
// Endian. Element values alias a private copy of b. Errors are
// *DecodeError wrapping ErrTruncated, ErrMalformed or ErrTransferSyntax.
func Decode(b []byte, transferSyntaxUID string) (*Dataset, error) {
	syn, ok := lookupSyntax(transferSyntaxUID, false)
	if !ok {
		return nil, &DecodeError{Msg: "transfer syntax " + quoteUID(transferSyntaxUID) + " not supported", Err: ErrTransferSyntax}
	}
	buf := make([]byte, len(b))
	copy(buf, b)
	d := &decoder{src: &sliceSource{b: buf}, syn: syn}
	return d.readDataset(-1, false, true)
}

// DecodeReader is Decode for a stream: it reads r to its end, never
// holding more than limit bytes (limit <= 0 means 64 MiB). It returns the
// same dataset as Decode of the same bytes.
func DecodeReader(r io.Reader, transferSyntaxUID string, limit int64) (*Dataset, error) {
	syn, ok := lookupSyntax(transferSyntaxUID, false)
	if !ok {
		return nil, &DecodeError{Msg: "transfer syntax " + quoteUID(transferSyntaxUID) + " not supported", Err: ErrTransferSyntax}
	}
	if limit <= 0 {
		limit = 64 << 20
	}
	lr := &limitedReader{r: r, n: limit}
	d := &decoder{src: &streamSource{r: bufio.NewReader(lr), size: -1}, syn: syn}
	ds, err := d.readDataset(-1, false, true)
	if lr.hit && (err != nil || lr.extra()) {
		return nil, &DecodeError{Offset: limit, Msg: "input exceeds the size limit", Err: ErrTooLarge}
	}
	return ds, err
}

// limitedReader fails with ErrTooLarge past n bytes rather than reporting
// a quiet EOF, so a too-long input is not mistaken for a complete one.
type limitedReader struct {
	r   io.Reader
	n   int64
	hit bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.hit = true
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// extra reports whether the underlying reader had more bytes.
func (l *limitedReader) extra() bool {
	var b [1]byte
	n, _ := io.ReadFull(l.r, b[:])
	return n > 0
}

func quoteUID(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "\"" + s + "\""
}
