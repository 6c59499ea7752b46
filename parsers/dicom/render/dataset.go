package render

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"
)

// This file reads the few attributes rendering needs and the position of
// Pixel Data, walking the dataset element by element. Values that are not
// needed are skipped with a seek (or discarded from the inflated stream for
// Deflated Explicit VR LE), so a multi-gigabyte instance costs a few reads,
// and the pixel data itself is never read here.

const (
	tagTransferSyntax     = 0x00020010
	tagSamplesPerPixel    = 0x00280002
	tagPhotometric        = 0x00280004
	tagPlanarConfig       = 0x00280006
	tagNumberOfFrames     = 0x00280008
	tagRows               = 0x00280010
	tagColumns            = 0x00280011
	tagBitsAllocated      = 0x00280100
	tagBitsStored         = 0x00280101
	tagHighBit            = 0x00280102
	tagPixelRepresent     = 0x00280103
	tagPixelPadding       = 0x00280120
	tagWindowCenter       = 0x00281050
	tagWindowWidth        = 0x00281051
	tagRescaleIntercept   = 0x00281052
	tagRescaleSlope       = 0x00281053
	tagWindowExplanation  = 0x00281055
	tagVOILUTFunction     = 0x00281056
	tagRedDescriptor      = 0x00281101
	tagGreenDescriptor    = 0x00281102
	tagBlueDescriptor     = 0x00281103
	tagRedData            = 0x00281201
	tagGreenData          = 0x00281202
	tagBlueData           = 0x00281203
	tagSegRedData         = 0x00281221
	tagModalityLUTSeq     = 0x00283000
	tagLUTDescriptor      = 0x00283002
	tagLUTExplanation     = 0x00283003
	tagLUTData            = 0x00283006
	tagVOILUTSeq          = 0x00283010
	tagFrameVOILUTSeq     = 0x00289132
	tagPixelValueTransSeq = 0x00289145
	tagSharedFGSeq        = 0x52009229
	tagPerFrameFGSeq      = 0x52009230
	tagExtOffsetTable     = 0x7FE00001
	tagExtOffsetLengths   = 0x7FE00002
	tagFloatPixelData     = 0x7FE00008
	tagDoublePixelData    = 0x7FE00009
	tagPixelData          = 0x7FE00010
	tagItem               = 0xFFFEE000
	tagItemDelim          = 0xFFFEE00D
	tagSeqDelim           = 0xFFFEE0DD

	undefinedLength = 0xFFFFFFFF
	maxDepth        = 32
	maxValueLen     = 1 << 20 // longest attribute value read into memory (LUT data)
)

// lutAttrs is one LUT: a VOI or Modality LUT Sequence item, or one palette
// channel.
type lutAttrs struct {
	desc        []byte // LUT Descriptor, raw (3 × US/SS)
	descVR      string // "US", "SS", or "" in implicit VR
	data        []byte // LUT Data, raw
	explanation string
}

// attrs are the attributes found at one level: the top-level dataset, the
// Shared Functional Groups item, or the requested frame's Per-Frame item.
type attrs struct {
	nums         map[uint32]int // US/IS attributes: rows, columns, bits...
	photometric  string
	centers      []float64
	widths       []float64
	explanations []string
	voiFunction  string
	slope        *float64
	intercept    *float64
	padding      []byte // Pixel Padding Value, raw
	palette      [3]lutAttrs
	segmented    bool
	voiLUT       *lutAttrs
	modalityLUT  *lutAttrs
}

func (a *attrs) num(tag uint32, def int) int {
	if v, ok := a.nums[tag]; ok {
		return v
	}
	return def
}

// mode is how elements at one level are encoded.
type mode struct {
	explicit bool
	bo       binary.ByteOrder
}

// input is the byte source: a bufio.Reader over the file (seekable) or
// over the inflated dataset. off is the logical offset of the next byte.
type input struct {
	ra   io.ReaderAt
	size int64
	sec  *io.SectionReader // nil once reading an inflated stream
	br   *bufio.Reader
	off  int64
	tmp  [12]byte
}

func (in *input) read(p []byte) error {
	n, err := io.ReadFull(in.br, p)
	in.off += int64(n)
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func (in *input) skip(n int64) error {
	if n <= int64(in.br.Buffered()) {
		m, _ := in.br.Discard(int(n))
		in.off += int64(m)
		return nil
	}
	if in.sec != nil {
		t := in.off + n
		if t > in.size {
			return io.ErrUnexpectedEOF
		}
		if _, err := in.sec.Seek(t, io.SeekStart); err != nil {
			return err
		}
		in.br.Reset(in.sec)
		in.off = t
		return nil
	}
	m, err := io.CopyN(io.Discard, in.br, n)
	in.off += m
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// pixelInfo locates the top-level Pixel Data element.
type pixelInfo struct {
	found  bool
	tag    uint32
	vr     string
	length uint32 // undefinedLength when encapsulated
	off    int64  // logical offset of the value
}

type parser struct {
	in     input
	tsUID  string
	ts     syntax
	mode   mode
	target int // frame whose Per-Frame Functional Groups item is kept
	top    attrs
	shared attrs
	frame  attrs
	pixel  pixelInfo
	// Extended Offset Table and its lengths: value positions, read on demand.
	eotOff, eotLenOff int64
	eotLen, eotLenLen uint32
}

type scopeKind int

const (
	scopeNone scopeKind = iota
	scopeTop
	scopeFG // a functional group item: its attributes go to a
	scopeLUT
)

type scope struct {
	kind scopeKind
	a    *attrs
	lut  *lutAttrs
}

var errStop = errors.New("stop")

// parse reads the file meta information and the dataset up to Pixel Data.
func parse(ra io.ReaderAt, size int64, target int) (*parser, error) {
	p := &parser{target: target}
	p.in.ra, p.in.size = ra, size
	p.in.sec = io.NewSectionReader(ra, 0, size)
	p.in.br = bufio.NewReaderSize(p.in.sec, 16<<10)
	for _, a := range []*attrs{&p.top, &p.shared, &p.frame} {
		a.nums = map[uint32]int{}
	}
	if err := p.meta(); err != nil {
		return nil, err
	}
	if p.ts.deflated {
		start := p.in.off
		p.in.sec = nil
		p.in.br = bufio.NewReaderSize(flate.NewReader(io.NewSectionReader(ra, start, size-start)), 32<<10)
	}
	err := p.dataset(scope{kind: scopeTop, a: &p.top}, p.mode, -2, 0)
	if err == errStop || err == nil {
		return p, nil
	}
	return nil, err
}

func (p *parser) meta() error {
	head, err := p.in.br.Peek(132)
	switch {
	case err == nil && string(head[128:132]) == "DICM":
		p.in.skip(132)
	case len(head) >= 4 && head[0] == 2 && head[1] == 0:
		// File meta information without the preamble.
	default:
		return ErrNotDICOM
	}
	le := mode{explicit: true, bo: binary.LittleEndian}
	for {
		b, err := p.in.br.Peek(2)
		if err != nil || binary.LittleEndian.Uint16(b) != 0x0002 {
			break
		}
		off := p.in.off
		tag, _, length, err := p.header(le)
		if err != nil {
			return malformed(off, 0, "truncated file meta information")
		}
		if length == undefinedLength {
			return malformed(off, tag, "undefined length in file meta information")
		}
		if tag == tagTransferSyntax && length < 256 {
			v, err := p.value(length)
			if err != nil {
				return malformed(off, tag, "truncated value")
			}
			p.tsUID = trimString(v)
			continue
		}
		if err := p.in.skip(int64(length)); err != nil {
			return malformed(off, tag, "truncated value")
		}
	}
	if p.tsUID == "" {
		return malformed(p.in.off, tagTransferSyntax, "file meta information has no transfer syntax")
	}
	// An unknown or unrenderable syntax reads as explicit VR LE, which
	// every encapsulated syntax uses, so Info still works.
	ts := syntaxes[p.tsUID]
	p.ts = ts
	p.mode = mode{explicit: !ts.implicit, bo: binary.LittleEndian}
	if ts.bigEndian {
		p.mode.bo = binary.BigEndian
	}
	return nil
}

// header reads one element header. Items and delimiters have no VR in any
// transfer syntax.
func (p *parser) header(m mode) (tag uint32, vr string, length uint32, err error) {
	b := p.in.tmp[:8]
	if err = p.in.read(b); err != nil {
		return
	}
	tag = uint32(m.bo.Uint16(b[0:]))<<16 | uint32(m.bo.Uint16(b[2:]))
	if tag>>16 == 0xFFFE {
		return tag, "", m.bo.Uint32(b[4:]), nil
	}
	if !m.explicit {
		return tag, "", m.bo.Uint32(b[4:]), nil
	}
	if b[4] < 'A' || b[4] > 'Z' || b[5] < 'A' || b[5] > 'Z' {
		return tag, "", 0, malformed(p.in.off-8, tag, "invalid VR bytes %#02x %#02x", b[4], b[5])
	}
	vr = string(b[4:6])
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		b4 := p.in.tmp[8:12]
		if err = p.in.read(b4); err != nil {
			return tag, vr, 0, io.ErrUnexpectedEOF
		}
		return tag, vr, m.bo.Uint32(b4), nil
	}
	return tag, vr, uint32(m.bo.Uint16(b[6:])), nil
}

func (p *parser) value(length uint32) ([]byte, error) {
	if length > maxValueLen {
		return nil, errors.New("value too long")
	}
	v := make([]byte, length)
	if err := p.in.read(v); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return v, nil
}

// knownSQ lists the sequences whose contents matter; in implicit VR a
// defined-length sequence is otherwise indistinguishable from bytes.
func knownSQ(tag uint32) bool {
	switch tag {
	case tagSharedFGSeq, tagPerFrameFGSeq, tagFrameVOILUTSeq, tagPixelValueTransSeq, tagVOILUTSeq, tagModalityLUTSeq:
		return true
	}
	return false
}

// dataset parses elements until the logical offset end, or until an Item
// Delimitation Item when end == -1, or until end of input / Pixel Data at
// the top level (end == -2).
func (p *parser) dataset(sc scope, m mode, end int64, depth int) error {
	if depth > maxDepth {
		return malformed(p.in.off, 0, "sequences nested deeper than %d", maxDepth)
	}
	for {
		if end >= 0 && p.in.off >= end {
			if p.in.off > end {
				return malformed(p.in.off, 0, "element overruns its item")
			}
			return nil
		}
		off := p.in.off
		tag, vr, length, err := p.header(m)
		if err != nil {
			if err == io.EOF && end == -2 {
				return nil // clean end of a dataset without pixel data
			}
			if fe, ok := err.(*FormatError); ok {
				return fe
			}
			return malformed(off, 0, "truncated element header")
		}
		switch tag {
		case tagItemDelim:
			if end == -1 {
				return nil
			}
			return malformed(off, tag, "unexpected item delimitation item")
		case tagSeqDelim, tagItem:
			return malformed(off, tag, "unexpected item tag in a dataset")
		}
		if sc.kind == scopeTop {
			switch tag {
			case tagPixelData, tagFloatPixelData, tagDoublePixelData:
				p.pixel = pixelInfo{found: true, tag: tag, vr: vr, length: length, off: p.in.off}
				return errStop
			}
			if tag > tagPixelData {
				return nil
			}
		}
		if length == undefinedLength || vr == "SQ" || (!m.explicit && knownSQ(tag)) {
			cm := m
			if vr == "UN" {
				// UN of undefined length holds implicit VR LE (PS3.5 6.2.2).
				cm = mode{explicit: false, bo: binary.LittleEndian}
			}
			if err := p.sequence(sc, tag, cm, length, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := p.element(sc, m, tag, vr, length, off); err != nil {
			return err
		}
	}
}

func (p *parser) sequence(parent scope, seqTag uint32, m mode, length uint32, depth int) error {
	end := int64(-1)
	if length != undefinedLength {
		end = p.in.off + int64(length)
	}
	for idx := 0; ; idx++ {
		if end >= 0 && p.in.off >= end {
			if p.in.off > end {
				return malformed(p.in.off, seqTag, "item overruns its sequence")
			}
			return nil
		}
		off := p.in.off
		tag, _, l, err := p.header(mode{explicit: false, bo: m.bo})
		if err != nil {
			return malformed(off, seqTag, "truncated sequence")
		}
		if tag == tagSeqDelim {
			if end == -1 {
				return nil
			}
			return malformed(off, seqTag, "sequence delimiter in a defined-length sequence")
		}
		if tag != tagItem {
			return malformed(off, seqTag, "expected an item, found (%04X,%04X)", tag>>16, tag&0xFFFF)
		}
		sc := p.itemScope(parent, seqTag, idx)
		if sc.kind == scopeNone && l != undefinedLength {
			if err := p.in.skip(int64(l)); err != nil {
				return malformed(off, seqTag, "truncated item")
			}
			continue
		}
		itemEnd := int64(-1)
		if l != undefinedLength {
			itemEnd = p.in.off + int64(l)
		}
		if err := p.dataset(sc, m, itemEnd, depth); err != nil {
			return err
		}
	}
}

func (p *parser) itemScope(parent scope, seqTag uint32, idx int) scope {
	switch parent.kind {
	case scopeTop:
		switch seqTag {
		case tagSharedFGSeq:
			if idx == 0 {
				return scope{kind: scopeFG, a: &p.shared}
			}
		case tagPerFrameFGSeq:
			if idx == p.target {
				return scope{kind: scopeFG, a: &p.frame}
			}
		}
	case scopeFG:
		if (seqTag == tagFrameVOILUTSeq || seqTag == tagPixelValueTransSeq) && idx == 0 {
			return parent
		}
	}
	if (parent.kind == scopeTop || parent.kind == scopeFG) && idx == 0 {
		switch seqTag {
		case tagVOILUTSeq:
			parent.a.voiLUT = &lutAttrs{}
			return scope{kind: scopeLUT, lut: parent.a.voiLUT}
		case tagModalityLUTSeq:
			parent.a.modalityLUT = &lutAttrs{}
			return scope{kind: scopeLUT, lut: parent.a.modalityLUT}
		}
	}
	return scope{}
}

func wanted(sc scope, tag uint32) bool {
	switch sc.kind {
	case scopeLUT:
		return tag == tagLUTDescriptor || tag == tagLUTData || tag == tagLUTExplanation
	case scopeTop, scopeFG:
		switch tag {
		case tagSamplesPerPixel, tagPhotometric, tagPlanarConfig, tagNumberOfFrames, tagRows, tagColumns,
			tagBitsAllocated, tagBitsStored, tagHighBit, tagPixelRepresent, tagPixelPadding,
			tagWindowCenter, tagWindowWidth, tagRescaleIntercept, tagRescaleSlope, tagWindowExplanation,
			tagVOILUTFunction, tagRedDescriptor, tagGreenDescriptor, tagBlueDescriptor,
			tagRedData, tagGreenData, tagBlueData:
			return true
		}
	}
	return false
}

func (p *parser) element(sc scope, m mode, tag uint32, vr string, length uint32, off int64) error {
	if sc.kind == scopeTop && (tag == tagExtOffsetTable || tag == tagExtOffsetLengths) {
		if tag == tagExtOffsetTable {
			p.eotOff, p.eotLen = p.in.off, length
		} else {
			p.eotLenOff, p.eotLenLen = p.in.off, length
		}
	}
	if sc.a != nil && (tag == tagSegRedData || tag == tagSegRedData+1 || tag == tagSegRedData+2) {
		sc.a.segmented = true
	}
	if !wanted(sc, tag) {
		if err := p.in.skip(int64(length)); err != nil {
			return malformed(off, tag, "value of %d bytes runs past the end of the data", length)
		}
		return nil
	}
	v, err := p.value(length)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return malformed(off, tag, "value of %d bytes runs past the end of the data", length)
		}
		return malformed(off, tag, "value of %d bytes is longer than %d", length, maxValueLen)
	}
	if sc.kind == scopeLUT {
		switch tag {
		case tagLUTDescriptor:
			sc.lut.desc, sc.lut.descVR = v, vr
		case tagLUTData:
			sc.lut.data = v
		case tagLUTExplanation:
			sc.lut.explanation = trimString(v)
		}
		return nil
	}
	a := sc.a
	switch tag {
	case tagSamplesPerPixel, tagPlanarConfig, tagRows, tagColumns, tagBitsAllocated, tagBitsStored, tagHighBit, tagPixelRepresent:
		if len(v) < 2 {
			return malformed(off, tag, "US value of %d bytes", len(v))
		}
		a.nums[tag] = int(m.bo.Uint16(v))
	case tagNumberOfFrames:
		s := trimString(v)
		if i := strings.IndexByte(s, '\\'); i >= 0 {
			s = s[:i]
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return malformed(off, tag, "Number of Frames is not a non-negative integer")
		}
		a.nums[tag] = n
	case tagPhotometric:
		a.photometric = strings.ToUpper(trimString(v))
	case tagVOILUTFunction:
		a.voiFunction = strings.ToUpper(trimString(v))
	case tagWindowCenter:
		a.centers = parseDS(v)
	case tagWindowWidth:
		a.widths = parseDS(v)
	case tagWindowExplanation:
		a.explanations = strings.Split(trimString(v), "\\")
	case tagRescaleIntercept, tagRescaleSlope:
		ds := parseDS(v)
		if len(ds) == 0 {
			return malformed(off, tag, "not a decimal string")
		}
		f := ds[0]
		if tag == tagRescaleSlope {
			a.slope = &f
		} else {
			a.intercept = &f
		}
	case tagPixelPadding:
		a.padding = fixEndian(v, m)
	case tagRedDescriptor, tagGreenDescriptor, tagBlueDescriptor:
		a.palette[tag-tagRedDescriptor].desc = fixEndian(v, m)
	case tagRedData, tagGreenData, tagBlueData:
		a.palette[tag-tagRedData].data = fixEndian(v, m)
	}
	return nil
}

// fixEndian returns 16-bit values as little endian bytes.
func fixEndian(v []byte, m mode) []byte {
	if m.bo == binary.BigEndian {
		for i := 0; i+1 < len(v); i += 2 {
			v[i], v[i+1] = v[i+1], v[i]
		}
	}
	return v
}

func trimString(v []byte) string {
	return string(bytes.Trim(v, " \x00"))
}

// parseDS parses a multi-valued decimal string, skipping values that do
// not parse.
func parseDS(v []byte) []float64 {
	var out []float64
	for _, s := range strings.Split(trimString(v), "\\") {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err == nil && !isNaNOrInf(f) {
			out = append(out, f)
		}
	}
	return out
}

func isNaNOrInf(f float64) bool { return f != f || f > 1e300 || f < -1e300 }
