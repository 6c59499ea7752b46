package render

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
)

// desc is the validated Image Pixel module.
type desc struct {
	rows, cols  int
	spp         int
	bitsAlloc   int
	bitsStored  int
	highBit     int
	signed      bool
	planar      int
	frames      int
	photometric string
}

func (d *desc) pixels() int { return d.rows * d.cols }

// samplesPerFrame counts stored samples: YBR_FULL_422 stores two luma and
// one pair of chroma samples per two pixels.
func (d *desc) samplesPerFrame() int {
	if d.photometric == "YBR_FULL_422" && d.spp == 3 {
		return d.pixels() * 2
	}
	return d.pixels() * d.spp
}

func (p *parser) describe() (*desc, error) {
	if !p.pixel.found {
		return nil, ErrNoPixelData
	}
	if p.ts.codec == codecNone {
		return nil, &UnsupportedTransferSyntaxError{UID: p.tsUID, Name: p.ts.name}
	}
	if p.pixel.tag != tagPixelData {
		return nil, unsupportedImage(p.pixel.tag, "float pixel data")
	}
	t := &p.top
	d := &desc{
		rows:        t.num(tagRows, 0),
		cols:        t.num(tagColumns, 0),
		spp:         t.num(tagSamplesPerPixel, 1),
		bitsAlloc:   t.num(tagBitsAllocated, 0),
		signed:      t.num(tagPixelRepresent, 0) == 1,
		planar:      t.num(tagPlanarConfig, 0),
		frames:      max(1, t.num(tagNumberOfFrames, 1)),
		photometric: t.photometric,
	}
	d.bitsStored = t.num(tagBitsStored, d.bitsAlloc)
	d.highBit = t.num(tagHighBit, d.bitsStored-1)
	if d.rows <= 0 || d.cols <= 0 {
		return nil, malformed(-1, tagRows, "Rows and Columns must be present and positive")
	}
	if d.pixels() > MaxPixels {
		return nil, &FormatError{Offset: -1, Tag: tagRows, Frame: -1, Err: ErrTooLarge,
			Msg: fmt.Sprintf("%d×%d pixels exceed the limit of %d", d.cols, d.rows, MaxPixels)}
	}
	switch d.bitsAlloc {
	case 1, 8, 16:
	case 32:
		return nil, unsupportedImage(tagBitsAllocated, "32-bit samples")
	default:
		return nil, malformed(-1, tagBitsAllocated, "Bits Allocated %d", d.bitsAlloc)
	}
	if d.bitsStored < 1 || d.bitsStored > d.bitsAlloc || d.highBit < d.bitsStored-1 || d.highBit >= d.bitsAlloc {
		return nil, malformed(-1, tagBitsStored, "Bits Stored %d / High Bit %d do not fit Bits Allocated %d", d.bitsStored, d.highBit, d.bitsAlloc)
	}
	if d.photometric == "" {
		if d.spp == 1 {
			d.photometric = "MONOCHROME2"
		} else {
			d.photometric = "RGB"
		}
	}
	switch d.photometric {
	case "MONOCHROME1", "MONOCHROME2", "PALETTE COLOR":
		if d.spp != 1 {
			return nil, malformed(-1, tagSamplesPerPixel, "%d samples per pixel for %s", d.spp, d.photometric)
		}
	case "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT":
		if d.spp != 3 {
			return nil, malformed(-1, tagSamplesPerPixel, "%d samples per pixel for %s", d.spp, d.photometric)
		}
		if d.bitsAlloc == 1 {
			return nil, unsupportedImage(tagBitsAllocated, "1-bit color")
		}
		if d.photometric == "YBR_FULL_422" && d.cols%2 != 0 && (p.ts.codec == codecNative || p.ts.codec == codecEncapRaw) {
			return nil, malformed(-1, tagColumns, "YBR_FULL_422 with an odd number of columns")
		}
	default:
		return nil, unsupportedImage(tagPhotometric, "photometric interpretation %q", d.photometric)
	}
	if d.photometric == "PALETTE COLOR" && p.effectivePaletteErr() != nil {
		return nil, p.effectivePaletteErr()
	}
	return d, nil
}

func (p *parser) effectivePaletteErr() error {
	if p.top.segmented {
		return unsupportedImage(tagSegRedData, "segmented palette color lookup tables")
	}
	for i, l := range p.top.palette {
		if len(l.desc) < 6 || len(l.data) == 0 {
			return malformed(-1, tagRedDescriptor+uint32(i), "palette color lookup table missing")
		}
	}
	return nil
}

// decoded is one frame: stored sample values (interleaved, masked to Bits
// Stored, two's complement not yet undone), or a finished color image.
type decoded struct {
	codes []uint16
	img   image.Image
}

func (p *parser) decodeFrame(d *desc, frame int) (*decoded, error) {
	fr, err := p.decodeFrame1(d, frame)
	var fe *FormatError
	if errors.As(err, &fe) && fe.Frame < 0 {
		fe.Frame = frame
	}
	return fr, err
}

func (p *parser) decodeFrame1(d *desc, frame int) (*decoded, error) {
	if p.ts.codec == codecNative {
		if p.pixel.length == undefinedLength {
			return nil, malformed(p.pixel.off, tagPixelData, "encapsulated pixel data in a native transfer syntax")
		}
		return p.nativeFrame(d, frame)
	}
	if p.pixel.length != undefinedLength {
		return nil, malformed(p.pixel.off, tagPixelData, "native pixel data in an encapsulated transfer syntax")
	}
	data, err := p.fragmentData(d, frame)
	if err != nil {
		return nil, err
	}
	switch p.ts.codec {
	case codecEncapRaw:
		need := (d.samplesPerFrame()*d.bitsAlloc + 7) / 8
		if len(data) < need {
			return nil, malformed(-1, tagPixelData, "frame has %d bytes, %d needed", len(data), need)
		}
		return &decoded{codes: extract(d, data, 0, binary.LittleEndian)}, nil
	case codecRLE:
		if d.bitsAlloc == 1 {
			return nil, unsupportedImage(tagBitsAllocated, "1-bit RLE")
		}
		codes, err := decodeRLE(data, d.rows, d.cols, d.spp, d.bitsAlloc/8)
		if err != nil {
			return nil, err
		}
		maskCodes(d, codes)
		return &decoded{codes: codes}, nil
	case codecJPEG:
		return p.jpegFrame(d, data)
	}
	return nil, &UnsupportedTransferSyntaxError{UID: p.tsUID, Name: p.ts.name}
}

// nativeFrame reads exactly the bytes of one frame.
func (p *parser) nativeFrame(d *desc, frame int) (*decoded, error) {
	frameBits := int64(d.samplesPerFrame()) * int64(d.bitsAlloc)
	startBit := int64(frame) * frameBits
	start := startBit / 8
	end := (startBit + frameBits + 7) / 8
	// Big endian OW holds 8-bit samples byte-swapped within 16-bit words.
	swap8 := p.ts.bigEndian && d.bitsAlloc == 8 && p.pixel.vr == "OW"
	if swap8 {
		start &^= 1
		end = (end + 1) &^ 1
	}
	if end > int64(p.pixel.length) {
		return nil, malformed(p.pixel.off, tagPixelData, "pixel data has %d bytes, frame %d ends at %d", p.pixel.length, frame, end)
	}
	var buf []byte
	if p.in.sec == nil { // inflated stream, positioned at the value
		if err := p.in.skip(start); err != nil {
			return nil, malformed(p.in.off, tagPixelData, "deflated pixel data ends early")
		}
		// Grow with the data rather than trust the header.
		var bb bytes.Buffer
		bb.Grow(int(min(end-start, 1<<20)))
		n, _ := io.CopyN(&bb, p.in.br, end-start)
		p.in.off += n
		if n != end-start {
			return nil, malformed(p.in.off, tagPixelData, "deflated pixel data ends early")
		}
		buf = bb.Bytes()
	} else {
		if p.pixel.off+end > p.in.size {
			return nil, malformed(p.pixel.off, tagPixelData, "pixel data runs past the end of the file")
		}
		buf = make([]byte, end-start)
		if err := readAt(p.in.ra, buf, p.pixel.off+start); err != nil {
			return nil, malformed(p.pixel.off+start, tagPixelData, "pixel data runs past the end of the file")
		}
	}
	if swap8 {
		for i := 0; i+1 < len(buf); i += 2 {
			buf[i], buf[i+1] = buf[i+1], buf[i]
		}
	}
	return &decoded{codes: extract(d, buf, int(startBit-start*8), p.mode.bo)}, nil
}

// extract turns native sample bytes into codes: interleaved (planar
// configuration 1 and YBR_FULL_422 are rearranged), shifted by High Bit
// and masked to Bits Stored. bitOff is the first sample's bit for 1-bit
// data.
func extract(d *desc, b []byte, bitOff int, bo binary.ByteOrder) []uint16 {
	n := d.samplesPerFrame()
	raw := make([]uint16, n)
	switch d.bitsAlloc {
	case 1:
		for i := range raw {
			bit := bitOff + i
			raw[i] = uint16(b[bit>>3]>>(bit&7)) & 1
		}
	case 8:
		for i := range raw {
			raw[i] = uint16(b[i])
		}
	case 16:
		if bo == binary.LittleEndian {
			for i := range raw {
				raw[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			}
		} else {
			for i := range raw {
				raw[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			}
		}
	}
	maskCodes(d, raw)
	if d.spp == 3 && d.photometric == "YBR_FULL_422" {
		out := make([]uint16, d.pixels()*3)
		for i, o := 0, 0; i+3 < len(raw); i, o = i+4, o+6 {
			y0, y1, cb, cr := raw[i], raw[i+1], raw[i+2], raw[i+3]
			out[o], out[o+1], out[o+2] = y0, cb, cr
			out[o+3], out[o+4], out[o+5] = y1, cb, cr
		}
		return out
	}
	if d.spp == 3 && d.planar == 1 {
		np := d.pixels()
		out := make([]uint16, np*3)
		for i := 0; i < np; i++ {
			out[3*i], out[3*i+1], out[3*i+2] = raw[i], raw[np+i], raw[2*np+i]
		}
		return out
	}
	return raw
}

// maskCodes applies High Bit and Bits Stored in place.
func maskCodes(d *desc, c []uint16) {
	shift := uint(d.highBit + 1 - d.bitsStored)
	mask := uint16(1<<d.bitsStored - 1)
	if shift == 0 && mask == 0xFFFF {
		return
	}
	for i, v := range c {
		c[i] = (v >> shift) & mask
	}
}

// fragmentData returns the compressed bytes of one frame: located with the
// Basic Offset Table when it has entries, else the Extended Offset Table,
// else by walking the fragments (one per frame, or for JPEG, a new frame at
// each fragment starting with SOI).
func (p *parser) fragmentData(d *desc, frame int) ([]byte, error) {
	if p.in.sec == nil {
		return nil, malformed(p.pixel.off, tagPixelData, "encapsulated pixel data in a deflated dataset")
	}
	ra, size := p.in.ra, p.in.size
	le := binary.LittleEndian
	var hdr [8]byte
	itemAt := func(off int64) (uint32, int64, error) {
		if err := readAt(ra, hdr[:], off); err != nil {
			return 0, 0, malformed(off, tagPixelData, "truncated encapsulated pixel data")
		}
		tag := uint32(le.Uint16(hdr[0:]))<<16 | uint32(le.Uint16(hdr[2:]))
		l := int64(le.Uint32(hdr[4:]))
		if tag == tagSeqDelim {
			return tag, 0, nil
		}
		if tag != tagItem {
			return 0, 0, malformed(off, tagPixelData, "expected a fragment item, found (%04X,%04X)", tag>>16, tag&0xFFFF)
		}
		if l == undefinedLength || off+8+l > size {
			return 0, 0, malformed(off, tagPixelData, "fragment of %d bytes runs past the end of the file", l)
		}
		return tag, l, nil
	}
	botOff := p.pixel.off
	_, botLen, err := itemAt(botOff)
	if err != nil {
		return nil, err
	}
	first := botOff + 8 + botLen
	// collect reads fragments from off until stop (exclusive; -1: until
	// the sequence delimiter).
	collect := func(off, stop int64) ([]byte, error) {
		var total int64
		var spans [][2]int64
		for stop < 0 || off < stop {
			tag, l, err := itemAt(off)
			if err != nil {
				return nil, err
			}
			if tag == tagSeqDelim {
				break
			}
			spans = append(spans, [2]int64{off + 8, l})
			total += l
			off += 8 + l
		}
		if len(spans) == 0 {
			return nil, malformed(off, tagPixelData, "frame has no fragments")
		}
		buf := make([]byte, 0, total)
		for _, s := range spans {
			n := len(buf)
			buf = buf[:n+int(s[1])]
			if err := readAt(ra, buf[n:], s[0]); err != nil {
				return nil, malformed(s[0], tagPixelData, "truncated fragment")
			}
		}
		return buf, nil
	}
	// Basic Offset Table.
	if nbot := botLen / 4; nbot >= int64(d.frames) && nbot > int64(frame) {
		var b [8]byte
		n := 8
		if int64(frame)+1 >= nbot {
			n = 4
		}
		if err := readAt(ra, b[:n], botOff+8+4*int64(frame)); err != nil {
			return nil, malformed(botOff, tagPixelData, "truncated basic offset table")
		}
		start := first + int64(le.Uint32(b[0:]))
		stop := int64(-1)
		if n == 8 {
			stop = first + int64(le.Uint32(b[4:]))
			if stop <= start {
				return nil, malformed(botOff, tagPixelData, "basic offset table is not increasing at frame %d", frame)
			}
		}
		return collect(start, stop)
	}
	// Extended Offset Table.
	if int64(p.eotLen) >= 8*int64(d.frames) && int64(p.eotLenLen) >= 8*int64(d.frames) && p.eotLen > 0 {
		var b [8]byte
		if err := readAt(ra, b[:], p.eotOff+8*int64(frame)); err != nil {
			return nil, malformed(p.eotOff, tagExtOffsetTable, "truncated extended offset table")
		}
		off := le.Uint64(b[:])
		if err := readAt(ra, b[:], p.eotLenOff+8*int64(frame)); err != nil {
			return nil, malformed(p.eotLenOff, tagExtOffsetLengths, "truncated extended offset table lengths")
		}
		n := le.Uint64(b[:])
		if off > uint64(size) || n > uint64(size) {
			return nil, malformed(p.eotOff, tagExtOffsetTable, "extended offset table points past the end of the file")
		}
		_, l, err := itemAt(first + int64(off))
		if err != nil {
			return nil, err
		}
		if int64(n) > l {
			return nil, malformed(first+int64(off), tagExtOffsetLengths, "frame length %d exceeds its fragment's %d", n, l)
		}
		buf := make([]byte, n)
		if err := readAt(ra, buf, first+int64(off)+8); err != nil {
			return nil, malformed(first+int64(off), tagPixelData, "truncated fragment")
		}
		return buf, nil
	}
	if d.frames == 1 {
		return collect(first, -1)
	}
	// No table: walk the fragment headers.
	type frag struct{ off, l int64 }
	var frags []frag
	var starts []int // fragment index starting each frame (JPEG SOI)
	for off := first; ; {
		tag, l, err := itemAt(off)
		if err != nil {
			return nil, err
		}
		if tag == tagSeqDelim {
			break
		}
		if p.ts.codec == codecJPEG && l >= 2 {
			var soi [2]byte
			if err := readAt(ra, soi[:], off+8); err == nil && soi[0] == 0xFF && soi[1] == 0xD8 {
				starts = append(starts, len(frags))
			}
		}
		frags = append(frags, frag{off, l})
		off += 8 + l
	}
	switch {
	case len(frags) == d.frames:
		if frame >= len(frags) {
			break
		}
		f := frags[frame]
		return collect(f.off, f.off+8+f.l)
	case len(starts) == d.frames && starts[0] == 0:
		a := frags[starts[frame]].off
		stop := int64(-1)
		if frame+1 < len(starts) {
			stop = frags[starts[frame+1]].off
		}
		return collect(a, stop)
	}
	return nil, malformed(first, tagPixelData, "%d fragments for %d frames and no offset table", len(frags), d.frames)
}

// jpegFrame decodes a JPEG frame by its SOF marker, whatever the
// transfer syntax claims: lossless (SOF3) with the decoder in this
// package, 8-bit DCT with image/jpeg.
func (p *parser) jpegFrame(d *desc, data []byte) (*decoded, error) {
	sof, prec := jpegSOF(data)
	switch sof {
	case 0xC3:
		f, err := decodeLossless(data, MaxPixels)
		if err != nil {
			return nil, err
		}
		if f.width != d.cols || f.height != d.rows || f.ncomp != d.spp {
			return nil, &FormatError{Codec: codecLossless, Offset: -1, Frame: -1, Err: ErrMalformed,
				Msg: fmt.Sprintf("JPEG frame is %d×%d×%d, the dataset says %d×%d×%d", f.width, f.height, f.ncomp, d.cols, d.rows, d.spp)}
		}
		maskCodes(d, f.samples)
		return &decoded{codes: f.samples}, nil
	case 0xC0, 0xC1, 0xC2:
		if prec != 8 {
			return nil, &UnsupportedTransferSyntaxError{UID: p.tsUID, Name: p.ts.name,
				Detail: fmt.Sprintf("%d-bit DCT JPEG", prec)}
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, codecError("JPEG", -1, ErrMalformed, "%v", err)
		}
		if cfg.Width != d.cols || cfg.Height != d.rows {
			return nil, codecError("JPEG", -1, ErrMalformed, "JPEG frame is %d×%d, the dataset says %d×%d", cfg.Width, cfg.Height, d.cols, d.rows)
		}
		// Every 8×8 block costs at least one bit per scan: bound what
		// image/jpeg allocates by the data before it allocates.
		if int64(cfg.Width)*int64(cfg.Height) > 512*int64(len(data)) {
			return nil, codecError("JPEG", -1, ErrMalformed, "JPEG frame of %d×%d in %d bytes", cfg.Width, cfg.Height, len(data))
		}
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, codecError("JPEG", -1, ErrMalformed, "%v", err)
		}
		if g, ok := img.(*image.Gray); ok && d.spp == 1 {
			codes := make([]uint16, d.pixels())
			for y := 0; y < d.rows; y++ {
				row := g.Pix[y*g.Stride : y*g.Stride+d.cols]
				for x, v := range row {
					codes[y*d.cols+x] = uint16(v)
				}
			}
			maskCodes(d, codes)
			return &decoded{codes: codes}, nil
		}
		return &decoded{img: toRGBA(img)}, nil
	case 0:
		return nil, codecError("JPEG", 0, ErrMalformed, "no JPEG frame header (SOF) found")
	}
	return nil, &UnsupportedTransferSyntaxError{UID: p.tsUID, Name: p.ts.name,
		Detail: fmt.Sprintf("JPEG process with marker SOF%d", sof-0xC0)}
}

// jpegSOF finds the first SOFn marker and its sample precision.
func jpegSOF(b []byte) (marker byte, precision int) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0, 0
	}
	for i := 2; i+3 < len(b); {
		if b[i] != 0xFF {
			return 0, 0
		}
		m := b[i+1]
		if m == 0xFF {
			i++
			continue
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			i += 2
			continue
		}
		l := int(b[i+2])<<8 | int(b[i+3])
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			if i+4 < len(b) {
				return m, int(b[i+4])
			}
			return m, 0
		}
		if m == 0xDA || m == 0xD9 {
			return 0, 0
		}
		i += 2 + l
	}
	return 0, 0
}

// readAt fills b from r at off; io.EOF with a full read is success.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}
