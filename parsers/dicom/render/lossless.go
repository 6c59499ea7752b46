package render

// A decoder for JPEG lossless, non-hierarchical, Huffman coded (ITU T.81
// process 14, SOF3), the codec of DICOM transfer syntaxes .4.57 and .4.70.
//
// Each sample is predicted from its reconstructed neighbours, Ra (left),
// Rb (above) and Rc (above left), with the predictor the scan header's
// selection value names (T.81 Table H.1); the difference from the
// prediction is Huffman coded as a magnitude category SSSS (0..16) followed
// by SSSS extra bits (none for 16, which means 32768). Reconstruction is
// modulo 2^16. The first line of a scan, and of each restart interval,
// predicts from Ra; the first sample of other lines from Rb; the very first
// sample from 2^(P-Pt-1). The point transform Pt scales output by 2^Pt.

import (
	"errors"
)

const codecLossless = "JPEG lossless"

// llFrame is a decoded lossless frame: width × height pixels of ncomp
// interleaved samples, each at most 16 bits.
type llFrame struct {
	width, height, ncomp int
	precision            int
	samples              []uint16
}

type llComp struct {
	id   byte
	done bool
}

type huffTable struct {
	present bool
	// fast maps the next 9 bits to len<<8|value for codes up to 9 bits;
	// 0 for longer codes.
	fast    [1 << 9]uint16
	maxcode [18]int32 // largest code of each length, -1 if none
	valptr  [17]int32 // index in vals of the first code of each length
	mincode [17]int32
	vals    []byte
}

type llDecoder struct {
	data      []byte
	frame     *llFrame
	comps     []llComp
	tables    [4]huffTable
	restart   int // restart interval in MCUs, 0 when none
	maxPixels int
}

func llErr(off int, format string, args ...any) error {
	return codecError(codecLossless, off, ErrMalformed, format, args...)
}

// decodeLossless decodes one JPEG lossless image. Frames of more than
// maxPixels pixels are rejected before allocation, as are frames whose
// scan data cannot hold one bit per sample, so the output buffer is
// bounded by both the limit and 16 × the input length.
func decodeLossless(data []byte, maxPixels int) (*llFrame, error) {
	d := &llDecoder{data: data, maxPixels: maxPixels}
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, llErr(0, "no SOI marker")
	}
	pos := 2
	for {
		// Find the next marker, skipping fill bytes.
		if pos >= len(data) {
			if d.frame != nil && d.allDone() {
				return d.frame, nil // EOI missing: tolerated
			}
			return nil, llErr(pos, "data ends before EOI")
		}
		if data[pos] != 0xFF {
			return nil, llErr(pos, "expected a marker, found %#02x", data[pos])
		}
		for pos < len(data) && data[pos] == 0xFF {
			pos++
		}
		if pos >= len(data) {
			return nil, llErr(pos, "data ends inside a marker")
		}
		m := data[pos]
		pos++
		switch {
		case m == 0xD9: // EOI
			if d.frame == nil {
				return nil, llErr(pos-2, "EOI before a frame header")
			}
			if !d.allDone() {
				return nil, llErr(pos-2, "EOI before every component was decoded")
			}
			return d.frame, nil
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue // stray SOI/TEM/RSTn: no length
		}
		if pos+2 > len(data) {
			return nil, llErr(pos, "truncated marker segment")
		}
		l := int(data[pos])<<8 | int(data[pos+1])
		if l < 2 || pos+l > len(data) {
			return nil, llErr(pos, "marker segment length %d runs past the data", l)
		}
		seg := data[pos+2 : pos+l]
		segOff := pos + 2
		pos += l
		var err error
		switch {
		case m == 0xC3:
			err = d.sof(seg, segOff)
		case m == 0xC4:
			err = d.dht(seg, segOff)
		case m == 0xDD:
			if len(seg) < 2 {
				return nil, llErr(segOff, "short DRI segment")
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case m == 0xDA:
			pos, err = d.sos(seg, segOff, pos)
		case m >= 0xC0 && m <= 0xCF && m != 0xC8 && m != 0xCC:
			return nil, llErr(pos-l-2, "SOF%d is not a lossless Huffman frame", m-0xC0)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (d *llDecoder) allDone() bool {
	for _, c := range d.comps {
		if !c.done {
			return false
		}
	}
	return len(d.comps) > 0
}

func (d *llDecoder) sof(seg []byte, off int) error {
	if d.frame != nil {
		return llErr(off, "second frame header")
	}
	if len(seg) < 6 {
		return llErr(off, "short SOF3 segment")
	}
	p := int(seg[0])
	h := int(seg[1])<<8 | int(seg[2])
	w := int(seg[3])<<8 | int(seg[4])
	nf := int(seg[5])
	if p < 2 || p > 16 {
		return llErr(off, "sample precision %d outside 2..16", p)
	}
	if h == 0 || w == 0 {
		return llErr(off, "frame of %d×%d (a DNL-defined height is not supported)", w, h)
	}
	if nf < 1 || nf > 4 || len(seg) < 6+3*nf {
		return llErr(off, "%d components", nf)
	}
	if w*h > d.maxPixels {
		return &FormatError{Codec: codecLossless, Offset: int64(off), Frame: -1, Err: ErrTooLarge,
			Msg: "frame exceeds the pixel limit"}
	}
	// Every sample takes at least one bit of scan data.
	if uint64(w)*uint64(h)*uint64(nf) > 8*uint64(len(d.data)) {
		return &FormatError{Codec: codecLossless, Offset: int64(off), Frame: -1, Err: ErrMalformed,
			Msg: "frame is larger than its data can encode"}
	}
	for i := 0; i < nf; i++ {
		c := seg[6+3*i:]
		if nf > 1 && c[1] != 0x11 {
			return &FormatError{Codec: codecLossless, Offset: int64(off), Frame: -1, Err: ErrUnsupportedImage,
				Msg: "subsampled components"}
		}
		for _, o := range d.comps {
			if o.id == c[0] {
				return llErr(off, "duplicate component id %d", c[0])
			}
		}
		d.comps = append(d.comps, llComp{id: c[0]})
	}
	d.frame = &llFrame{width: w, height: h, ncomp: nf, precision: p, samples: make([]uint16, w*h*nf)}
	return nil
}

func (d *llDecoder) dht(seg []byte, off int) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return llErr(off, "short DHT segment")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return llErr(off, "Huffman table class %d id %d", tc, th)
		}
		var counts [17]int
		total := 0
		for i := 1; i <= 16; i++ {
			counts[i] = int(seg[i])
			total += counts[i]
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return llErr(off, "Huffman table with %d codes", total)
		}
		if tc == 0 { // lossless scans use DC-class tables; AC ones are ignored
			if err := d.tables[th].build(counts, seg[17:17+total]); err != nil {
				return llErr(off, "%v", err)
			}
		}
		seg = seg[17+total:]
		off += 17 + total
	}
	return nil
}

// build derives the decoding tables of T.81 Annex C and F.2.2.3.
func (t *huffTable) build(counts [17]int, vals []byte) error {
	*t = huffTable{present: true, vals: append([]byte(nil), vals...)}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		t.valptr[l] = k
		t.mincode[l] = code
		n := int32(counts[l])
		if n > 0 {
			if code+n > 1<<l {
				return errors.New("Huffman code lengths overflow")
			}
			if l <= 9 {
				for i := int32(0); i < n; i++ {
					c := code + i
					lo := c << (9 - l)
					for j := int32(0); j < 1<<(9-l); j++ {
						t.fast[lo+j] = uint16(l)<<8 | uint16(vals[k+i])
					}
				}
			}
			code += n
			k += n
			t.maxcode[l] = code - 1
		} else {
			t.maxcode[l] = -1
		}
		code <<= 1
	}
	t.maxcode[17] = 0x7FFFFFFF
	return nil
}

// bitReader reads entropy-coded bits, removing stuffed zero bytes. At a
// marker it supplies zero bits and counts them in pad: consuming any
// means the scan data was short.
type bitReader struct {
	data   []byte
	pos    int
	acc    uint64
	n      int // valid bits in acc (low bits)
	pad    int // how many of the low-order bits in acc are padding
	marker bool
}

func (b *bitReader) fill() {
	for b.n <= 56 {
		var c byte
		if !b.marker && b.pos < len(b.data) {
			c = b.data[b.pos]
			if c == 0xFF {
				if b.pos+1 < len(b.data) && b.data[b.pos+1] == 0x00 {
					b.pos += 2
				} else {
					b.marker = true // b.pos stays on the marker
					c = 0
					b.pad += 8
				}
			} else {
				b.pos++
			}
		} else {
			b.pad += 8
		}
		b.acc = b.acc<<8 | uint64(c)
		b.n += 8
	}
}

// overrun reports whether padding bits were consumed.
func (b *bitReader) overrun() bool { return b.n < b.pad }

func (b *bitReader) decode(t *huffTable) (int, bool) {
	// Caller guarantees b.n >= 32.
	e := t.fast[(b.acc>>(b.n-9))&0x1FF]
	if e != 0 {
		b.n -= int(e >> 8)
		return int(e & 0xFF), true
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32((b.acc>>(b.n-l))&1)
		if code <= t.maxcode[l] {
			b.n -= l
			i := t.valptr[l] + code - t.mincode[l]
			if int(i) >= len(t.vals) {
				return 0, false
			}
			return int(t.vals[i]), true
		}
	}
	return 0, false
}

// restartAt discards the current interval's last bits and consumes the
// RSTn marker expected at the data position.
func (b *bitReader) restartAt() bool {
	p := b.pos
	for p < len(b.data) && b.data[p] != 0xFF {
		p++ // unread data left over from a corrupt interval
	}
	for p+1 < len(b.data) && b.data[p] == 0xFF && b.data[p+1] == 0xFF {
		p++
	}
	if p+1 >= len(b.data) || b.data[p] != 0xFF || b.data[p+1] < 0xD0 || b.data[p+1] > 0xD7 {
		return false
	}
	*b = bitReader{data: b.data, pos: p + 2}
	return true
}

// endOfScan returns the position of the marker after the scan data.
func (b *bitReader) endOfScan() int {
	p := b.pos
	for p+1 < len(b.data) {
		if b.data[p] == 0xFF {
			n := b.data[p+1]
			if n != 0 && n != 0xFF && !(n >= 0xD0 && n <= 0xD7) {
				return p
			}
		}
		p++
	}
	return len(b.data)
}

type scanComp struct {
	idx int // index in the frame's components
	tab *huffTable
}

// sos parses a scan header and decodes the scan that follows at pos.
func (d *llDecoder) sos(seg []byte, off, pos int) (int, error) {
	f := d.frame
	if f == nil {
		return 0, llErr(off, "scan before the frame header")
	}
	if len(seg) < 1 {
		return 0, llErr(off, "short SOS segment")
	}
	ns := int(seg[0])
	if ns < 1 || ns > len(d.comps) || len(seg) < 1+2*ns+3 {
		return 0, llErr(off, "scan of %d components", ns)
	}
	sc := make([]scanComp, ns)
	for i := 0; i < ns; i++ {
		id, td := seg[1+2*i], seg[2+2*i]>>4
		idx := -1
		for j, c := range d.comps {
			if c.id == id {
				idx = j
			}
		}
		if idx < 0 || d.comps[idx].done {
			return 0, llErr(off, "scan names unknown or repeated component %d", id)
		}
		for _, o := range sc[:i] {
			if o.idx == idx {
				return 0, llErr(off, "scan names component %d twice", id)
			}
		}
		if td > 3 || !d.tables[td].present {
			return 0, llErr(off, "scan uses undefined Huffman table %d", td)
		}
		sc[i] = scanComp{idx: idx, tab: &d.tables[td]}
	}
	ps := int(seg[1+2*ns])
	pt := int(seg[3+2*ns] & 15)
	if ps < 1 || ps > 7 {
		return 0, llErr(off, "predictor selection value %d", ps)
	}
	if pt >= f.precision {
		return 0, llErr(off, "point transform %d for %d-bit samples", pt, f.precision)
	}
	br := &bitReader{data: d.data, pos: pos}
	if err := d.decodeScan(br, sc, ps, pt); err != nil {
		return 0, err
	}
	for _, c := range sc {
		d.comps[c.idx].done = true
	}
	if pt > 0 {
		for _, c := range sc {
			for i := c.idx; i < len(f.samples); i += f.ncomp {
				f.samples[i] <<= uint(pt)
			}
		}
	}
	return br.endOfScan(), nil
}

func (d *llDecoder) decodeScan(br *bitReader, sc []scanComp, ps, pt int) error {
	f := d.frame
	w, h, nc := f.width, f.height, f.ncomp
	out := f.samples
	mask := int32(1)<<(f.precision-pt) - 1
	initial := int32(1) << (f.precision - pt - 1)
	stride := w * nc
	left := d.restart // MCUs left in the restart interval
	firstLine := 0    // row where the current restart interval started
	reset := true     // next MCU starts a restart interval
	for y := 0; y < h; y++ {
		row := y * stride
		for x := 0; x < w; x++ {
			if d.restart > 0 {
				if left == 0 {
					if !br.restartAt() {
						return llErr(br.pos, "expected RSTn marker at row %d column %d", y, x)
					}
					left = d.restart
					firstLine = y
					reset = true
				}
				left--
			}
			for _, c := range sc {
				if br.n < 32 {
					br.fill()
				}
				s, ok := br.decode(c.tab)
				if !ok || s > 16 {
					return llErr(br.pos, "invalid Huffman code at row %d column %d", y, x)
				}
				var diff int32
				switch {
				case s == 0:
				case s == 16:
					diff = 32768
				default:
					v := int32((br.acc >> (br.n - s)) & (1<<s - 1))
					br.n -= s
					if v < 1<<(s-1) {
						v += -(1 << s) + 1
					}
					diff = v
				}
				i := row + x*nc + c.idx
				var px int32
				switch {
				case reset:
					px = initial
				case y == firstLine:
					px = int32(out[i-nc])
				case x == 0:
					px = int32(out[i-stride])
				default:
					ra, rb, rc := int32(out[i-nc]), int32(out[i-stride]), int32(out[i-stride-nc])
					switch ps {
					case 1:
						px = ra
					case 2:
						px = rb
					case 3:
						px = rc
					case 4:
						px = ra + rb - rc
					case 5:
						px = ra + (rb-rc)>>1
					case 6:
						px = rb + (ra-rc)>>1
					case 7:
						px = (ra + rb) >> 1
					}
				}
				out[i] = uint16((px + diff) & 0xFFFF & mask)
			}
			reset = false
		}
		if br.overrun() {
			return llErr(br.pos, "scan data ends at row %d of %d", y, h)
		}
	}
	return nil
}
