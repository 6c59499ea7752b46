package render

import (
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"math/bits"
)

// present turns decoded codes into an image: the grayscale pipeline
// (modality LUT, VOI LUT, MONOCHROME1 inversion) or a color conversion.
func (p *parser) present(d *desc, codes []uint16, opt Options) (image.Image, error) {
	switch d.photometric {
	case "MONOCHROME1", "MONOCHROME2":
		return p.gray(d, codes, opt), nil
	case "PALETTE COLOR":
		return p.palette(d, codes)
	}
	return colorImage(d, codes), nil
}

// signedValue undoes two's complement at Bits Stored.
func signedValue(d *desc, c uint16) int32 {
	v := int32(c)
	if d.signed && d.bitsStored < 32 && v&(1<<(d.bitsStored-1)) != 0 {
		v -= 1 << d.bitsStored
	}
	return v
}

// lutTable is a parsed LUT Descriptor with its data.
type lutTable struct {
	n     int   // entries
	first int32 // first stored value mapped
	bits  int
	data  []byte // little endian 16-bit entries (or bytes when byte8)
	byte8 bool
}

func parseLUT(l *lutAttrs, signedFirst bool, bo binary.ByteOrder) lutTable {
	if l.descVR == "SS" {
		signedFirst = true
	} else if l.descVR == "US" {
		signedFirst = false
	}
	// desc was normalized to little endian by the parser only for palette
	// descriptors; VOI/Modality LUT descriptors arrive in dataset order.
	n := int(bo.Uint16(l.desc[0:]))
	if n == 0 {
		n = 1 << 16
	}
	first := int32(bo.Uint16(l.desc[2:]))
	if signedFirst {
		first = int32(int16(first))
	}
	t := lutTable{n: n, first: first, bits: int(bo.Uint16(l.desc[4:])), data: l.data}
	if t.bits == 8 && len(l.data) < 2*n {
		t.byte8 = true
	}
	return t
}

func (t *lutTable) at(v int32, bo binary.ByteOrder) int32 {
	i := int(v - t.first)
	if i < 0 {
		i = 0
	}
	if i >= t.n {
		i = t.n - 1
	}
	if t.byte8 {
		if i >= len(t.data) {
			i = len(t.data) - 1
		}
		return int32(t.data[i])
	}
	if 2*i+1 >= len(t.data) {
		i = len(t.data)/2 - 1
		if i < 0 {
			return 0
		}
	}
	return int32(bo.Uint16(t.data[2*i:]))
}

func (t *lutTable) maxOut() float64 {
	if t.bits <= 0 || t.bits > 16 {
		return 65535
	}
	return float64(int(1)<<t.bits - 1)
}

// voiFunc maps a modality value to [0, ymax].
type voiFunc func(x float64) float64

// windowFunc is the VOI LUT function of PS3.3 C.11.2.1.2 (LINEAR and
// LINEAR_EXACT) and C.11.2.1.3.1 (SIGMOID).
func windowFunc(fn string, c, w, ymax float64) voiFunc {
	switch fn {
	case "LINEAR_EXACT":
		if w <= 0 {
			w = math.SmallestNonzeroFloat64
		}
		lo, hi := c-w/2, c+w/2
		return func(x float64) float64 {
			switch {
			case x <= lo:
				return 0
			case x > hi:
				return ymax
			}
			return ((x-c)/w + 0.5) * ymax
		}
	case "SIGMOID":
		if w <= 0 {
			w = math.SmallestNonzeroFloat64
		}
		return func(x float64) float64 {
			return ymax / (1 + math.Exp(-4*(x-c)/w))
		}
	}
	// LINEAR: width below 1 is invalid; 1 makes a threshold at c - 0.5.
	if w < 1 {
		w = 1
	}
	lo := c - 0.5 - (w-1)/2
	hi := c - 0.5 + (w-1)/2
	return func(x float64) float64 {
		switch {
		case x <= lo:
			return 0
		case x > hi:
			return ymax
		}
		return ((x-(c-0.5))/(w-1) + 0.5) * ymax
	}
}

func (p *parser) gray(d *desc, codes []uint16, opt Options) image.Image {
	e := p.effective()
	bo := p.mode.bo
	// Modality transform.
	var modality func(int32) float64
	if e.modalityLUT != nil {
		t := parseLUT(e.modalityLUT, d.signed, bo)
		modality = func(v int32) float64 { return float64(t.at(v, bo)) }
	} else {
		slope, icpt := e.slope, e.intercept
		modality = func(v int32) float64 { return float64(v)*slope + icpt }
	}
	ymax := 255.0
	if opt.Gray16 {
		ymax = 65535
	}
	fn := e.voiFunction
	if opt.VOIFunction != "" {
		fn = opt.VOIFunction
	}
	var voi voiFunc
	c, w, haveC, haveW := 0.0, 0.0, false, false
	if len(e.centers) > 0 && len(e.widths) > 0 {
		c, w, haveC, haveW = e.centers[0], e.widths[0], true, true
	}
	if opt.WindowCenter != nil {
		c, haveC = *opt.WindowCenter, true
	}
	if opt.WindowWidth != nil {
		w, haveW = *opt.WindowWidth, true
	}
	switch {
	case haveC && haveW:
		voi = windowFunc(fn, c, w, ymax)
	case !haveC && !haveW && e.voiLUT != nil:
		t := parseLUT(e.voiLUT, d.signed || e.intercept < 0, bo)
		scale := ymax / t.maxOut()
		voi = func(x float64) float64 {
			return float64(t.at(int32(math.Max(math.Min(math.Round(x), math.MaxInt32), math.MinInt32)), bo)) * scale
		}
	default:
		lo, hi := p.modalityRange(d, codes, modality)
		if !haveW {
			w = hi - lo + 1
		}
		if !haveC {
			c = lo + (hi-lo+1)/2
		}
		if fn == "LINEAR_EXACT" && !haveW {
			w = hi - lo
		}
		if fn == "LINEAR_EXACT" && !haveC {
			c = (lo + hi) / 2
		}
		voi = windowFunc(fn, c, w, ymax)
	}
	invert := d.photometric == "MONOCHROME1"
	mapValue := func(code uint16) float64 {
		y := voi(modality(signedValue(d, code)))
		if y < 0 {
			y = 0
		} else if y > ymax {
			y = ymax
		}
		if invert {
			y = ymax - y
		}
		return math.Round(y)
	}
	// The LUT is filled only for the codes present: a 16-bit CT slice
	// holds a few thousand distinct values, not 65536.
	seen := presentCodes(codes[:d.pixels()])
	n := d.pixels()
	if opt.Gray16 {
		lut := make([]uint16, 1<<d.bitsStored)
		seen.each(func(c uint16) { lut[c] = uint16(mapValue(c)) })
		img := image.NewGray16(image.Rect(0, 0, d.cols, d.rows))
		for i, c := range codes[:n] {
			img.Pix[2*i] = byte(lut[c] >> 8)
			img.Pix[2*i+1] = byte(lut[c])
		}
		return img
	}
	lut := make([]uint8, 1<<d.bitsStored)
	seen.each(func(c uint16) { lut[c] = uint8(mapValue(c)) })
	img := image.NewGray(image.Rect(0, 0, d.cols, d.rows))
	pix := img.Pix[:n]
	for i, c := range codes[:n] {
		pix[i] = lut[c]
	}
	return img
}

// codeSet is a bitmap of 16-bit codes.
type codeSet [65536 / 64]uint64

func presentCodes(codes []uint16) *codeSet {
	var s codeSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return &s
}

func (s *codeSet) each(fn func(uint16)) {
	for w, set := range s {
		for set != 0 {
			b := set & -set
			set ^= b
			fn(uint16(w*64 + bits.TrailingZeros64(b)))
		}
	}
}

// modalityRange is the range of the frame's modality values, ignoring
// Pixel Padding Value.
func (p *parser) modalityRange(d *desc, codes []uint16, modality func(int32) float64) (lo, hi float64) {
	pad, hasPad := int32(0), false
	if b := p.top.padding; len(b) >= 2 {
		pad, hasPad = int32(binary.LittleEndian.Uint16(b)), true
		if d.signed {
			pad = int32(int16(pad))
		}
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	presentCodes(codes[:d.pixels()]).each(func(code uint16) {
		v := signedValue(d, code)
		if hasPad && v == pad {
			return
		}
		m := modality(v)
		lo, hi = math.Min(lo, m), math.Max(hi, m)
	})
	if lo > hi { // only padding
		return 0, 0
	}
	return lo, hi
}

func (p *parser) palette(d *desc, codes []uint16) (image.Image, error) {
	var t [3]lutTable
	for i := range t {
		t[i] = parseLUT(&p.top.palette[i], false, binary.LittleEndian)
	}
	// 16-bit entries are scaled to 8 bits; some writers put 8-bit values
	// in 16-bit words, which the maximum entry reveals.
	shift := [3]uint{}
	for i := range t {
		if t[i].byte8 {
			continue
		}
		mx := int32(0)
		for j := 0; j < t[i].n && 2*j+1 < len(t[i].data); j++ {
			mx = max(mx, int32(binary.LittleEndian.Uint16(t[i].data[2*j:])))
		}
		if mx > 255 {
			shift[i] = 8
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, d.cols, d.rows))
	for i, c := range codes[:d.pixels()] {
		v := signedValue(d, c)
		o := img.Pix[4*i : 4*i+4 : 4*i+4]
		o[0] = uint8(t[0].at(v, binary.LittleEndian) >> shift[0])
		o[1] = uint8(t[1].at(v, binary.LittleEndian) >> shift[1])
		o[2] = uint8(t[2].at(v, binary.LittleEndian) >> shift[2])
		o[3] = 0xFF
	}
	return img, nil
}

// colorImage converts 3-sample codes (RGB, or YBR_FULL after expansion of
// 4:2:2) to RGBA, scaling samples of more than 8 bits down.
func colorImage(d *desc, codes []uint16) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, d.cols, d.rows))
	shift := uint(0)
	if d.bitsStored > 8 {
		shift = uint(d.bitsStored - 8)
	}
	ybr := d.photometric == "YBR_FULL" || d.photometric == "YBR_FULL_422"
	n := d.pixels()
	for i := 0; i < n; i++ {
		s := codes[3*i : 3*i+3 : 3*i+3]
		a, b, c := uint8(s[0]>>shift), uint8(s[1]>>shift), uint8(s[2]>>shift)
		if ybr {
			a, b, c = color.YCbCrToRGB(a, b, c)
		}
		o := img.Pix[4*i : 4*i+4 : 4*i+4]
		o[0], o[1], o[2], o[3] = a, b, c, 0xFF
	}
	return img
}

// toRGBA converts a decoded JPEG (YCbCr, RGBA, CMYK) to *image.RGBA.
// Subsampled chroma (4:2:2, 4:2:0) is upsampled with the triangle filter
// libjpeg uses by default, so colors match what dcmtk and most viewers
// show; image/jpeg's own At would replicate chroma samples.
func toRGBA(src image.Image) image.Image {
	if g, ok := src.(*image.Gray); ok {
		return g
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if yc, ok := src.(*image.YCbCr); ok && b.Min == (image.Point{}) {
		var cb, cr []byte // full resolution
		switch yc.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
			cb, cr = planeCopy(yc.Cb, yc.CStride, w, h), planeCopy(yc.Cr, yc.CStride, w, h)
		case image.YCbCrSubsampleRatio422:
			cb, cr = upsampleH2V1(yc.Cb, yc.CStride, w, h), upsampleH2V1(yc.Cr, yc.CStride, w, h)
		case image.YCbCrSubsampleRatio420:
			cb, cr = upsampleH2V2(yc.Cb, yc.CStride, w, h), upsampleH2V2(yc.Cr, yc.CStride, w, h)
		}
		if cb != nil {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					i := y*w + x
					r, g, bb := color.YCbCrToRGB(yc.Y[y*yc.YStride+x], cb[i], cr[i])
					o := img.Pix[4*i : 4*i+4 : 4*i+4]
					o[0], o[1], o[2], o[3] = r, g, bb, 0xFF
				}
			}
			return img
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, src.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return img
}

func planeCopy(p []byte, stride, w, h int) []byte {
	out := make([]byte, w*h)
	for y := 0; y < h; y++ {
		copy(out[y*w:(y+1)*w], p[y*stride:])
	}
	return out
}

// upsampleRow doubles a chroma row of cw samples into w outputs: each
// output is 3/4 of its nearer input plus 1/4 of the next farther one, with
// rounding biases alternating between the two outputs of an input. in are
// the inputs scaled by scale (1, or 4 for vertically pre-filtered sums),
// and bias is the rounding added before dividing by 4·scale.
func upsampleRow(in []int, out []byte, w int, scale int) {
	cw := len(in)
	shift := uint(2)
	if scale == 4 {
		shift = 4
	}
	lo, hi := 1, 2 // rounding biases for h2v1
	if scale == 4 {
		lo, hi = 8, 7
	}
	for i := 0; i < cw; i++ {
		left, right := in[i], in[i]
		if i > 0 {
			left = in[i-1]
		}
		if i+1 < cw {
			right = in[i+1]
		}
		a := (3*in[i] + left + lo) >> shift
		b := (3*in[i] + right + hi) >> shift
		if 2*i < w {
			out[2*i] = byte(a)
		}
		if 2*i+1 < w {
			out[2*i+1] = byte(b)
		}
	}
}

func upsampleH2V1(p []byte, stride, w, h int) []byte {
	cw := (w + 1) / 2
	out := make([]byte, w*h)
	row := make([]int, cw)
	for y := 0; y < h; y++ {
		for i := range row {
			row[i] = int(p[y*stride+i])
		}
		upsampleRow(row, out[y*w:(y+1)*w], w, 1)
	}
	return out
}

func upsampleH2V2(p []byte, stride, w, h int) []byte {
	cw, ch := (w+1)/2, (h+1)/2
	out := make([]byte, w*h)
	sum := make([]int, cw)
	for y := 0; y < h; y++ {
		near := y / 2
		far := near - 1 // upper output row of a pair looks up
		if y%2 == 1 {
			far = near + 1
		}
		far = min(max(far, 0), ch-1)
		for i := range sum {
			sum[i] = 3*int(p[near*stride+i]) + int(p[far*stride+i])
		}
		upsampleRow(sum, out[y*w:(y+1)*w], w, 4)
	}
	return out
}
