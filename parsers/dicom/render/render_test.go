package render

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

func renderBytes(t testing.TB, b []byte, opt Options) image.Image {
	t.Helper()
	img, err := Render(bytes.NewReader(b), int64(len(b)), opt)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return img
}

func f64(v float64) *float64 { return &v }

// refLinear is PS3.3 C.11.2.1.2.1 written out for the tests.
func refLinear(x, c, w float64) uint8 {
	switch {
	case x <= c-0.5-(w-1)/2:
		return 0
	case x > c-0.5+(w-1)/2:
		return 255
	}
	return uint8(math.Round(((x-(c-0.5))/(w-1) + 0.5) * 255))
}

func grayPix(t testing.TB, img image.Image) []uint8 {
	t.Helper()
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("image is %T, want *image.Gray", img)
	}
	return g.Pix
}

// ctValues are signed 16-bit stored values; with intercept -1024 they are
// HU = v - 1024 and span the edges of a 40/400 window.
var ctValues = []int16{
	-1000, 0, 864, 865, // far below, HU -1024, HU -160 (lower edge), just above
	1024, 1063, 1064, 1065, // HU 0, 39, 40, 41
	1263, 1264, 1265, 2000, // HU 239, 240 (upper edge), 241, far above
	3071, -2048, 1100, 900,
}

func ctFile(ts string, extra ...el) []byte {
	words := make([]uint16, len(ctValues))
	for i, v := range ctValues {
		words[i] = uint16(v)
	}
	s := imgSpec{rows: 4, cols: 4, bitsAlloc: 16, bitsStored: 16, highBit: -1, signed: true, photometric: "MONOCHROME2",
		extra: append([]el{
			{tag: tagRescaleIntercept, vr: "DS", val: "-1024"},
			{tag: tagRescaleSlope, vr: "DS", val: "1"},
			{tag: tagWindowCenter, vr: "DS", val: "40\\-600"},
			{tag: tagWindowWidth, vr: "DS", val: "400\\1500"},
			{tag: tagWindowExplanation, vr: "LO", val: "SOFT\\LUNG"},
		}, extra...)}
	return writePart10(ts, s.els(nativePixel(16, words)))
}

func TestCTWindowExact(t *testing.T) {
	for _, ts := range []string{uidExplicitLE, uidImplicitLE, uidExplicitBE, uidDeflatedLE} {
		t.Run(syntaxes[ts].name, func(t *testing.T) {
			pix := grayPix(t, renderBytes(t, ctFile(ts), Options{}))
			// Hand-computed for c=40, w=400: lower edge HU -160 → 0,
			// upper edge HU 240 → 255, HU 40 → (0.5/399+0.5)·255 = 127.82,
			// HU 0 → (-39.5/399+0.5)·255 = 102.26.
			want := map[int]uint8{0: 0, 1: 0, 2: 0, 4: 102, 6: 128, 9: 255, 10: 255, 11: 255, 13: 0}
			for i, w := range want {
				if pix[i] != w {
					t.Errorf("pixel %d (stored %d): got %d, want %d", i, ctValues[i], pix[i], w)
				}
			}
			for i, v := range ctValues {
				if w := refLinear(float64(v)-1024, 40, 400); pix[i] != w {
					t.Errorf("pixel %d (HU %d): got %d, want %d", i, int(v)-1024, pix[i], w)
				}
			}
		})
	}
}

func TestWindowOverrideAndFunctions(t *testing.T) {
	f := ctFile(uidExplicitLE)
	pix := grayPix(t, renderBytes(t, f, Options{WindowCenter: f64(-600), WindowWidth: f64(1500)}))
	for i, v := range ctValues {
		if w := refLinear(float64(v)-1024, -600, 1500); pix[i] != w {
			t.Errorf("pixel %d: got %d, want %d", i, pix[i], w)
		}
	}
	// LINEAR_EXACT: c - w/2 .. c + w/2.
	pix = grayPix(t, renderBytes(t, f, Options{WindowCenter: f64(0), WindowWidth: f64(100), VOIFunction: "LINEAR_EXACT"}))
	for i, v := range ctValues {
		x := float64(v) - 1024
		var w uint8
		switch {
		case x <= -50:
			w = 0
		case x > 50:
			w = 255
		default:
			w = uint8(math.Round((x/100 + 0.5) * 255))
		}
		if pix[i] != w {
			t.Errorf("LINEAR_EXACT pixel %d (HU %v): got %d, want %d", i, x, pix[i], w)
		}
	}
	// SIGMOID at the center is half way.
	pix = grayPix(t, renderBytes(t, f, Options{WindowCenter: f64(0), WindowWidth: f64(100), VOIFunction: "SIGMOID"}))
	if pix[4] != 128 { // HU 0
		t.Errorf("SIGMOID at center: %d", pix[4])
	}
	// Width 1 is a threshold at c - 0.5.
	pix = grayPix(t, renderBytes(t, f, Options{WindowCenter: f64(40), WindowWidth: f64(1)}))
	if pix[5] != 0 || pix[6] != 255 { // HU 39, 40
		t.Errorf("threshold: %d %d", pix[5], pix[6])
	}
}

func TestMinMaxWindowAndMonochrome1(t *testing.T) {
	// No window in the dataset: the frame's range maps onto 0..255.
	words := []uint16{100, 200, 300, 400}
	s := imgSpec{rows: 2, cols: 2, bitsAlloc: 16, bitsStored: 12, highBit: -1, photometric: "MONOCHROME2"}
	f := writePart10(uidExplicitLE, s.els(nativePixel(16, words)))
	pix := grayPix(t, renderBytes(t, f, Options{}))
	if pix[0] != 0 || pix[3] != 255 || pix[1] != 85 || pix[2] != 170 {
		t.Errorf("min/max window: %v", pix)
	}
	s.photometric = "MONOCHROME1"
	f = writePart10(uidExplicitLE, s.els(nativePixel(16, words)))
	pix = grayPix(t, renderBytes(t, f, Options{}))
	if pix[0] != 255 || pix[3] != 0 || pix[1] != 170 || pix[2] != 85 {
		t.Errorf("MONOCHROME1: %v", pix)
	}
	// Pixel Padding Value is left out of the range.
	s.photometric = "MONOCHROME2"
	s.extra = []el{{tag: tagPixelPadding, vr: "US", val: []uint16{4000}}}
	f = writePart10(uidExplicitLE, s.els(nativePixel(16, []uint16{100, 200, 4000, 400})))
	pix = grayPix(t, renderBytes(t, f, Options{}))
	if pix[0] != 0 || pix[3] != 255 || pix[2] != 255 {
		t.Errorf("padding: %v", pix)
	}
}

func TestBitsStoredHighBitSigned(t *testing.T) {
	// 12 bits stored at bits 11..0 with garbage above (overlay bits).
	words := []uint16{0xF000 | 0, 0xA000 | 2047, 0x5000 | 2048, 0xF000 | 4095}
	s := imgSpec{rows: 2, cols: 2, bitsAlloc: 16, bitsStored: 12, highBit: -1, signed: true, photometric: "MONOCHROME2",
		extra: []el{{tag: tagWindowCenter, vr: "DS", val: "0"}, {tag: tagWindowWidth, vr: "DS", val: "4096"}}}
	pix := grayPix(t, renderBytes(t, writePart10(uidExplicitLE, s.els(nativePixel(16, words))), Options{}))
	// Signed at 12 bits: 0, 2047, -2048, -1.
	for i, v := range []float64{0, 2047, -2048, -1} {
		if w := refLinear(v, 0, 4096); pix[i] != w {
			t.Errorf("signed 12-bit pixel %d: got %d want %d", i, pix[i], w)
		}
	}
	// High bit 15, bits stored 12: the sample sits in bits 15..4.
	s = imgSpec{rows: 2, cols: 2, bitsAlloc: 16, bitsStored: 12, highBit: 15, photometric: "MONOCHROME2",
		extra: []el{{tag: tagWindowCenter, vr: "DS", val: "2048"}, {tag: tagWindowWidth, vr: "DS", val: "4096"}}}
	words = []uint16{0 << 4, 1024<<4 | 0xF, 2048 << 4, 4095<<4 | 0x3}
	pix = grayPix(t, renderBytes(t, writePart10(uidExplicitLE, s.els(nativePixel(16, words))), Options{}))
	for i, v := range []float64{0, 1024, 2048, 4095} {
		if w := refLinear(v, 2048, 4096); pix[i] != w {
			t.Errorf("high bit 15 pixel %d: got %d want %d", i, pix[i], w)
		}
	}
}

func TestOneBit(t *testing.T) {
	// 3×3, 2 frames, bits packed LSB first across the frame boundary.
	bits := []int{1, 0, 1, 0, 1, 0, 1, 0, 1 /* frame 1 */, 0, 0, 1, 1, 0, 0, 1, 1, 0}
	b := make([]byte, 4)
	for i, v := range bits {
		b[i/8] |= byte(v << (i % 8))
	}
	s := imgSpec{rows: 3, cols: 3, frames: 2, bitsAlloc: 1, bitsStored: 1, highBit: -1, photometric: "MONOCHROME2"}
	f := writePart10(uidExplicitLE, s.els(el{tag: tagPixelData, vr: "OB", val: b}))
	for fr := 0; fr < 2; fr++ {
		pix := grayPix(t, renderBytes(t, f, Options{Frame: fr}))
		for i := range pix {
			if want := uint8(255 * bits[fr*9+i]); pix[i] != want {
				t.Errorf("frame %d pixel %d: %d want %d", fr, i, pix[i], want)
			}
		}
	}
}

func TestMultiFrameNative(t *testing.T) {
	const n = 5
	var words []uint16
	for f := 0; f < n; f++ {
		for i := 0; i < 6; i++ {
			words = append(words, uint16(f*100+i))
		}
	}
	s := imgSpec{rows: 2, cols: 3, frames: n, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2",
		extra: []el{{tag: tagWindowCenter, vr: "DS", val: "250"}, {tag: tagWindowWidth, vr: "DS", val: "500"}}}
	for _, ts := range []string{uidExplicitLE, uidExplicitBE, uidDeflatedLE} {
		f := writePart10(ts, s.els(nativePixel(16, words)))
		for fr := 0; fr < n; fr++ {
			pix := grayPix(t, renderBytes(t, f, Options{Frame: fr}))
			for i := range pix {
				if w := refLinear(float64(fr*100+i), 250, 500); pix[i] != w {
					t.Fatalf("%s frame %d pixel %d: %d want %d", ts, fr, i, pix[i], w)
				}
			}
		}
		for _, fr := range []int{-1, n} {
			if _, err := Render(bytes.NewReader(f), int64(len(f)), Options{Frame: fr}); !errors.Is(err, ErrFrameOutOfRange) {
				t.Errorf("frame %d: %v", fr, err)
			}
		}
	}
}

// countingReader records how many bytes are read.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestReadsOnlyTheFrame(t *testing.T) {
	const n, side = 40, 128
	words := make([]uint16, n*side*side)
	s := imgSpec{rows: side, cols: side, frames: n, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2"}
	f := writePart10(uidExplicitLE, s.els(nativePixel(16, words)))
	cr := &countingReader{r: bytes.NewReader(f)}
	if _, err := Render(cr, int64(len(f)), Options{Frame: 17}); err != nil {
		t.Fatal(err)
	}
	frame := int64(side * side * 2)
	if got := cr.n.Load(); got > frame+32<<10 {
		t.Errorf("read %d bytes of a %d-byte file for one %d-byte frame", got, len(f), frame)
	}
}

func rgbTestPixels() (r, g, b []uint16) {
	for i := 0; i < 6; i++ {
		r = append(r, uint16(i*40))
		g = append(g, uint16(255-i*40))
		b = append(b, uint16(i*7+3))
	}
	return
}

func TestRGBPlanar(t *testing.T) {
	r, g, b := rgbTestPixels()
	var inter, planar []uint16
	for i := range r {
		inter = append(inter, r[i], g[i], b[i])
	}
	planar = append(append(append(planar, r...), g...), b...)
	for _, tc := range []struct {
		planar int
		words  []uint16
		ts     string
	}{{0, inter, uidExplicitLE}, {1, planar, uidExplicitLE}, {0, inter, uidExplicitBE}, {1, planar, uidImplicitLE}} {
		s := imgSpec{rows: 2, cols: 3, spp: 3, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "RGB", planar: tc.planar}
		img := renderBytes(t, writePart10(tc.ts, s.els(nativePixel(8, tc.words))), Options{})
		rgba, ok := img.(*image.RGBA)
		if !ok {
			t.Fatalf("%T", img)
		}
		for i := range r {
			got := rgba.RGBAAt(i%3, i/3)
			if want := (color.RGBA{uint8(r[i]), uint8(g[i]), uint8(b[i]), 255}); got != want {
				t.Errorf("planar %d %s pixel %d: %v want %v", tc.planar, tc.ts, i, got, want)
			}
		}
	}
}

func TestYBRNative(t *testing.T) {
	// YBR_FULL and YBR_FULL_422 of the same content.
	ys := []uint16{20, 60, 100, 140, 180, 220}
	cb := []uint16{90, 90, 160, 160, 128, 128}
	cr := []uint16{200, 200, 70, 70, 128, 128}
	var full, sub []uint16
	for i := range ys {
		full = append(full, ys[i], cb[i], cr[i])
	}
	for i := 0; i < len(ys); i += 2 {
		sub = append(sub, ys[i], ys[i+1], cb[i], cr[i])
	}
	for _, tc := range []struct {
		pi    string
		words []uint16
	}{{"YBR_FULL", full}, {"YBR_FULL_422", sub}} {
		s := imgSpec{rows: 2, cols: 3 * 2 / 2, spp: 3, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: tc.pi}
		s.cols = 3
		s.rows = 2
		if tc.pi == "YBR_FULL_422" {
			s.cols, s.rows = 6, 1
		} else {
			s.cols, s.rows = 6, 1
		}
		rgba := renderBytes(t, writePart10(uidExplicitLE, s.els(nativePixel(8, tc.words))), Options{}).(*image.RGBA)
		for i := range ys {
			r, g, b := color.YCbCrToRGB(uint8(ys[i]), uint8(cb[i]), uint8(cr[i]))
			if got := rgba.RGBAAt(i, 0); got != (color.RGBA{r, g, b, 255}) {
				t.Errorf("%s pixel %d: %v want %v", tc.pi, i, got, color.RGBA{r, g, b, 255})
			}
		}
	}
}

func TestPaletteColor(t *testing.T) {
	// 4 entries starting at stored value 10, 16-bit entries.
	lut := func(vals ...uint16) []uint16 { return vals }
	s := imgSpec{rows: 1, cols: 4, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "PALETTE COLOR", extra: []el{
		{tag: tagRedDescriptor, vr: "US", val: []uint16{4, 10, 16}},
		{tag: tagGreenDescriptor, vr: "US", val: []uint16{4, 10, 16}},
		{tag: tagBlueDescriptor, vr: "US", val: []uint16{4, 10, 16}},
		{tag: tagRedData, vr: "OW", val: lut(0x0000, 0xFFFF, 0x8000, 0x1000)},
		{tag: tagGreenData, vr: "OW", val: lut(0xFFFF, 0x0000, 0x8000, 0x2000)},
		{tag: tagBlueData, vr: "OW", val: lut(0x0000, 0x0000, 0x8000, 0x3000)},
	}}
	for _, ts := range []string{uidExplicitLE, uidExplicitBE} {
		rgba := renderBytes(t, writePart10(ts, s.els(nativePixel(8, []uint16{10, 11, 12, 200}))), Options{}).(*image.RGBA)
		want := []color.RGBA{{0, 255, 0, 255}, {255, 0, 0, 255}, {128, 128, 128, 255}, {0x10, 0x20, 0x30, 255}}
		for i, w := range want {
			if got := rgba.RGBAAt(i, 0); got != w {
				t.Errorf("%s palette pixel %d: %v want %v", ts, i, got, w)
			}
		}
	}
}

func TestEnhancedFunctionalGroups(t *testing.T) {
	// Two frames with per-frame rescale and window, shared nothing.
	frameItem := func(c, w, icpt string) []el {
		return []el{
			{tag: tagFrameVOILUTSeq, val: [][]el{{
				{tag: tagWindowCenter, vr: "DS", val: c},
				{tag: tagWindowWidth, vr: "DS", val: w},
			}}},
			{tag: tagPixelValueTransSeq, val: [][]el{{
				{tag: tagRescaleIntercept, vr: "DS", val: icpt},
				{tag: tagRescaleSlope, vr: "DS", val: "1"},
			}}, defined: true},
		}
	}
	words := []uint16{0, 100, 200, 300, 0, 100, 200, 300}
	s := imgSpec{rows: 2, cols: 2, frames: 2, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2", extra: []el{
		{tag: tagSharedFGSeq, val: [][]el{{{tag: 0x00209071, val: [][]el{{{tag: 0x00209072, vr: "CS", val: "L"}}}}}}},
		{tag: tagPerFrameFGSeq, val: [][]el{frameItem("150", "300", "0"), frameItem("0", "100", "-1000")}},
	}}
	for _, ts := range []string{uidExplicitLE, uidImplicitLE} {
		f := writePart10(ts, s.els(nativePixel(16, words)))
		p0 := grayPix(t, renderBytes(t, f, Options{Frame: 0}))
		p1 := grayPix(t, renderBytes(t, f, Options{Frame: 1}))
		for i := 0; i < 4; i++ {
			v := float64(words[i])
			if w := refLinear(v, 150, 300); p0[i] != w {
				t.Errorf("%s frame 0 pixel %d: %d want %d", ts, i, p0[i], w)
			}
			if w := refLinear(v-1000, 0, 100); p1[i] != w {
				t.Errorf("%s frame 1 pixel %d: %d want %d", ts, i, p1[i], w)
			}
		}
		info, err := Info(bytes.NewReader(f), int64(len(f)))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Windows) != 1 || info.Windows[0].Center != 150 || info.Frames != 2 {
			t.Errorf("%s info: %+v", ts, info)
		}
	}
}

func TestSkipsSequencesAndUN(t *testing.T) {
	nested := [][]el{{{tag: 0x00081150, vr: "UI", val: "1.2.3"}, {tag: 0x00081155, vr: "UI", val: "1.2.3.4"},
		{tag: 0x00089215, val: [][]el{{{tag: 0x00080100, vr: "SH", val: "X"}}, {}}}}}
	extra := []el{
		{tag: 0x00081140, val: nested},                // undefined-length SQ
		{tag: 0x00081115, val: nested, defined: true}, // defined-length SQ
		{tag: 0x00091010, vr: "UN", val: nested},      // private UN of undefined length
		{tag: 0x00091011, vr: "LO", val: "private"},
	}
	for _, ts := range []string{uidExplicitLE, uidImplicitLE, uidExplicitBE} {
		pix := grayPix(t, renderBytes(t, ctFile(ts, extra...), Options{}))
		if pix[6] != 128 {
			t.Errorf("%s: pixel 6 = %d", ts, pix[6])
		}
	}
}

func TestGray16AndDownscale(t *testing.T) {
	f := ctFile(uidExplicitLE)
	img := renderBytes(t, f, Options{Gray16: true})
	g16, ok := img.(*image.Gray16)
	if !ok {
		t.Fatalf("%T", img)
	}
	if v := g16.Gray16At(2, 1).Y; v != uint16(math.Round((0.5/399+0.5)*65535)) { // HU 40
		t.Errorf("Gray16 at HU 40: %d", v)
	}
	// 4×4 → 2×2: each output pixel averages a 2×2 box.
	full := grayPix(t, renderBytes(t, f, Options{}))
	small := grayPix(t, renderBytes(t, f, Options{Size: 2}))
	if len(small) != 4 {
		t.Fatalf("thumbnail has %d pixels", len(small))
	}
	for oy := 0; oy < 2; oy++ {
		for ox := 0; ox < 2; ox++ {
			sum := 0
			for y := 2 * oy; y < 2*oy+2; y++ {
				for x := 2 * ox; x < 2*ox+2; x++ {
					sum += int(full[y*4+x])
				}
			}
			if want := uint8((sum + 2) / 4); small[oy*2+ox] != want {
				t.Errorf("thumbnail (%d,%d) = %d, want %d", ox, oy, small[oy*2+ox], want)
			}
		}
	}
	if b := renderBytes(t, f, Options{Size: 100}).Bounds(); b.Dx() != 4 {
		t.Errorf("Size larger than the image changed it: %v", b)
	}
}

func TestInfo(t *testing.T) {
	f := ctFile(uidExplicitLE)
	info, err := Info(bytes.NewReader(f), int64(len(f)))
	if err != nil {
		t.Fatal(err)
	}
	want := ImageInfo{TransferSyntaxUID: uidExplicitLE, TransferSyntaxName: "Explicit VR Little Endian", Renderable: true,
		Rows: 4, Columns: 4, Frames: 1, SamplesPerPixel: 1, Photometric: "MONOCHROME2", BitsAllocated: 16, BitsStored: 16,
		HighBit: 15, Signed: true, RescaleSlope: 1, RescaleIntercept: -1024,
		Windows: []Window{{40, 400, "SOFT"}, {-600, 1500, "LUNG"}}}
	if got := *info; !equalInfo(got, want) {
		t.Errorf("Info:\n got %+v\nwant %+v", got, want)
	}
}

func equalInfo(a, b ImageInfo) bool { return reflect.DeepEqual(a, b) }

func TestErrors(t *testing.T) {
	// Not DICOM.
	junk := bytes.Repeat([]byte("x"), 300)
	if _, err := Render(bytes.NewReader(junk), 300, Options{}); !errors.Is(err, ErrNotDICOM) {
		t.Errorf("junk: %v", err)
	}
	// No pixel data.
	f := writePart10(uidExplicitLE, []el{{tag: 0x00080016, vr: "UI", val: "1.2.840.10008.5.1.4.1.1.88.22"}})
	if _, err := Render(bytes.NewReader(f), int64(len(f)), Options{}); !errors.Is(err, ErrNoPixelData) {
		t.Errorf("no pixel data: %v", err)
	}
	// JPEG 2000: named, and Info still works.
	s := imgSpec{rows: 2, cols: 2, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2"}
	f = writePart10("1.2.840.10008.1.2.4.90", s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{{0xFF, 0x4F, 0xFF, 0x51}}}}))
	_, err := Render(bytes.NewReader(f), int64(len(f)), Options{})
	var ue *UnsupportedTransferSyntaxError
	if !errors.As(err, &ue) || ue.UID != "1.2.840.10008.1.2.4.90" || ue.Name != "JPEG 2000 Image Compression (Lossless Only)" {
		t.Errorf("JPEG 2000: %v", err)
	}
	if info, err := Info(bytes.NewReader(f), int64(len(f))); err != nil || info.Renderable || info.Rows != 2 {
		t.Errorf("Info on JPEG 2000: %+v %v", info, err)
	}
	// 12-bit JPEG Extended: the syntax renders, this stream does not.
	sof1 := []byte{0xFF, 0xD8, 0xFF, 0xC1, 0, 11, 12, 0, 2, 0, 2, 1, 1, 0x11, 0, 0xFF, 0xD9}
	f = writePart10(uidJPEGExt, s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{sof1}}}))
	_, err = Render(bytes.NewReader(f), int64(len(f)), Options{})
	if !errors.As(err, &ue) || ue.UID != uidJPEGExt || ue.Detail != "12-bit DCT JPEG" {
		t.Errorf("12-bit JPEG: %v", err)
	}
	// A corrupt lossless frame names the codec and the frame.
	s.frames = 2
	good := llEncode(pattern(2, 2, 1, 16, 1), 2, 2, 1, 16, 1, 0, 0)
	f = writePart10(uidJPEGLL14, s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{good, good[:12]}}}))
	_, err = Render(bytes.NewReader(f), int64(len(f)), Options{Frame: 1})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Codec != codecLossless || fe.Frame != 1 || !errors.Is(err, ErrMalformed) {
		t.Errorf("corrupt lossless frame: %v", err)
	}
	if _, err = Render(bytes.NewReader(f), int64(len(f)), Options{Frame: 0}); err != nil {
		t.Errorf("good frame next to a corrupt one: %v", err)
	}
	if msg := fe.Error(); !strings.HasPrefix(msg, "dicom render: JPEG lossless: frame 1: offset ") {
		t.Errorf("message: %q", msg)
	}
	if msg := ue.Error(); msg != "dicom render: transfer syntax 1.2.840.10008.1.2.4.51 (JPEG Extended (Process 2 & 4)) cannot be rendered: 12-bit DCT JPEG" {
		t.Errorf("message: %q", msg)
	}
	// Truncated pixel data names the tag.
	s = imgSpec{rows: 4, cols: 4, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2"}
	f = writePart10(uidExplicitLE, s.els(nativePixel(16, make([]uint16, 8))))
	_, err = Render(bytes.NewReader(f), int64(len(f)), Options{})
	if !errors.As(err, &fe) || fe.Tag != tagPixelData || !errors.Is(err, ErrMalformed) {
		t.Errorf("short pixel data: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "(7FE0,0010)") || strings.Contains(msg, "Synthetic") {
		t.Errorf("message: %q", msg)
	}
	// Too large.
	s = imgSpec{rows: 65535, cols: 65535, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2"}
	f = writePart10(uidExplicitLE, s.els(nativePixel(16, make([]uint16, 8))))
	if _, err = Render(bytes.NewReader(f), int64(len(f)), Options{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge: %v", err)
	}
	// Every truncation of a valid file fails cleanly.
	f = ctFile(uidExplicitLE)
	for n := 0; n < len(f); n++ {
		Render(bytes.NewReader(f[:n]), int64(n), Options{})
	}
}

// jpegEncap wraps frames as encapsulated pixel data.
func TestJPEGBaseline(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 16, 8))
	rgb := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			gray.SetGray(x, y, color.Gray{uint8(x*16 + y)})
			rgb.SetRGBA(x, y, color.RGBA{uint8(x * 16), uint8(y * 32), 128, 255})
		}
	}
	enc := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	gj, cj := enc(gray), enc(rgb)
	ref := func(b []byte) image.Image {
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	// Monochrome 8-bit: stored values are the JPEG samples; window 0..255.
	s := imgSpec{rows: 8, cols: 16, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "MONOCHROME2",
		extra: []el{{tag: tagWindowCenter, vr: "DS", val: "128"}, {tag: tagWindowWidth, vr: "DS", val: "256"}}}
	f := writePart10(uidJPEGBase, s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{gj}}}))
	pix := grayPix(t, renderBytes(t, f, Options{}))
	rg := ref(gj).(*image.Gray)
	for i := range pix {
		if w := refLinear(float64(rg.Pix[i]), 128, 256); pix[i] != w {
			t.Fatalf("gray pixel %d: %d want %d", i, pix[i], w)
		}
	}
	// Color, two frames in fragments split in two without a BOT, and
	// with a BOT: frames are told apart by SOI.
	s = imgSpec{rows: 8, cols: 16, frames: 2, spp: 3, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "YBR_FULL_422"}
	halves := func(b []byte) [][]byte { return [][]byte{b[:len(b)/2&^1], b[len(b)/2&^1:]} }
	bot, frags := botFor([][][]byte{halves(gj), halves(cj)})
	for name, pd := range map[string]encap{
		"no BOT":    {frags: append(halves(gj), halves(cj)...)},
		"BOT":       {bot: bot, frags: frags},
		"per frame": {frags: [][]byte{gj, cj}},
	} {
		f = writePart10(uidJPEGBase, s.els(el{tag: tagPixelData, val: pd}))
		img := renderBytes(t, f, Options{Frame: 1})
		// Lossy: compare with the source (image/jpeg's own At replicates
		// subsampled chroma; the renderer interpolates like libjpeg).
		var want image.Image = rgb
		for y := 0; y < 8; y++ {
			for x := 0; x < 16; x++ {
				r1, g1, b1, _ := img.At(x, y).RGBA()
				r2, g2, b2, _ := want.At(x, y).RGBA()
				for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
					if d > 16 || d < -16 {
						t.Fatalf("%s: color (%d,%d): %v want %v", name, x, y, img.At(x, y), color.RGBAModel.Convert(want.At(x, y)))
					}
				}
			}
		}
	}
}
