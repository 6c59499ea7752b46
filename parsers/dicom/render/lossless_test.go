package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/parsers/dicom/dcmtktest"
)

// pattern makes deterministic test samples: a CT-like phantom (a disc,
// a brighter insert) with noise, plus a few extreme values so that 16-bit
// frames exercise the largest difference categories. Samples are
// interleaved, nc per pixel, each below 1<<bits. Integer arithmetic only:
// the committed fixtures must regenerate bit for bit on any platform.
func pattern(w, h, nc, bits int, seed uint32) []uint16 {
	out := make([]uint16, w*h*nc)
	top := int64(1)<<bits - 1
	x32 := seed | 1
	rnd := func() int64 { x32 ^= x32 << 13; x32 ^= x32 >> 17; x32 ^= x32 << 5; return int64(x32 % 64) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := int64(x-w/2)*1000/int64(w), int64(y-h/2)*1000/int64(h)
			for c := 0; c < nc; c++ {
				level := int64(50) // per mille of full scale
				if dx*dx+dy*dy < 160000 {
					level = 350 + 50*int64(c)
				}
				if (dx-100)*(dx-100)+dy*dy < 10000 {
					level = 800
				}
				s := level*top/1000 + (rnd()-32)*(top/2048+1)
				out[(y*w+x)*nc+c] = uint16(min(max(s, 0), top))
			}
		}
	}
	// Extremes next to each other: differences of ±max.
	for i := 0; i+nc < len(out) && i < 8*nc; i += 2 * nc {
		out[i], out[i+nc] = 0, uint16(top)
	}
	if n := len(out); n > 4 {
		out[n-1], out[n-2] = uint16(top), 0
	}
	return out
}

func TestLosslessRoundTrip(t *testing.T) {
	type tc struct{ w, h, nc, prec, ps, pt, restart int }
	var cases []tc
	for ps := 1; ps <= 7; ps++ {
		for _, prec := range []int{2, 8, 12, 16} {
			cases = append(cases, tc{13, 7, 1, prec, ps, 0, 0})
		}
		cases = append(cases,
			tc{16, 9, 3, 8, ps, 0, 0},
			tc{10, 10, 1, 16, ps, 2, 0},
			tc{12, 8, 1, 12, ps, 0, 12}, // restart every row
			tc{12, 8, 1, 16, ps, 0, 36}, // every three rows
			tc{12, 8, 3, 8, ps, 1, 24},  // color, every two rows
			tc{12, 8, 1, 16, ps, 0, 5},  // mid-row restarts (not T.81-conformant, decoded consistently)
			tc{1, 1, 1, 16, ps, 0, 0},   // one pixel
			tc{300, 2, 1, 16, ps, 0, 0}) // wide
	}
	for _, c := range cases {
		name := fmt.Sprintf("%dx%dx%d_P%d_SV%d_Pt%d_R%d", c.w, c.h, c.nc, c.prec, c.ps, c.pt, c.restart)
		src := pattern(c.w, c.h, c.nc, c.prec, uint32(c.w*c.ps+c.prec))
		want := make([]uint16, len(src))
		for i, s := range src {
			want[i] = s >> uint(c.pt) << uint(c.pt)
		}
		data := llEncode(src, c.w, c.h, c.nc, c.prec, c.ps, c.pt, c.restart)
		f, err := decodeLossless(data, MaxPixels)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.width != c.w || f.height != c.h || f.ncomp != c.nc || f.precision != c.prec {
			t.Errorf("%s: header %+v", name, f)
		}
		for i := range want {
			if f.samples[i] != want[i] {
				t.Errorf("%s: sample %d = %d, want %d", name, i, f.samples[i], want[i])
				break
			}
		}
		// Any cut of the stream fails without panicking.
		for _, n := range []int{len(data) / 3, len(data) / 2, len(data) - 3} {
			if _, err := decodeLossless(data[:n], MaxPixels); err == nil && n < len(data)-2 {
				t.Errorf("%s: decoding %d of %d bytes succeeded", name, n, len(data))
			}
		}
	}
}

func TestLosslessRejects(t *testing.T) {
	good := llEncode(pattern(8, 8, 1, 12, 1), 8, 8, 1, 12, 1, 0, 0)
	// A frame header claiming 60000×60000 in a tiny stream.
	huge := append([]byte(nil), good...)
	i := bytes.Index(huge, []byte{0xFF, 0xC3})
	huge[i+5], huge[i+6], huge[i+7], huge[i+8] = 0xEA, 0x60, 0xEA, 0x60
	if _, err := decodeLossless(huge, MaxPixels); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge frame: %v", err)
	}
	huge[i+5], huge[i+6], huge[i+7], huge[i+8] = 0x04, 0x00, 0x04, 0x00 // 1024×1024
	if _, err := decodeLossless(huge, MaxPixels); !errors.Is(err, ErrMalformed) {
		t.Errorf("frame larger than its data: %v", err)
	}
	// Baseline DCT is not lossless.
	bad := append([]byte(nil), good...)
	bad[i+1] = 0xC0
	if _, err := decodeLossless(bad, MaxPixels); err == nil {
		t.Error("SOF0 accepted")
	}
	var fe *FormatError
	if _, err := decodeLossless(good[:len(good)/2], MaxPixels); !errors.As(err, &fe) || fe.Codec != codecLossless {
		t.Errorf("truncated: %v", err)
	}
}

// needTool finds a dcmtk tool (dcmtktest.Tool).
var needTool = dcmtktest.Tool

func run(t testing.TB, tool string, args ...string) {
	t.Helper()
	out, err := exec.Command(needTool(t, tool), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// convert writes native to a temp file, runs the dcmtk tool on it and
// returns the output file's bytes.
func convert(t testing.TB, native []byte, tool string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.dcm"), filepath.Join(dir, "out.dcm")
	if err := os.WriteFile(in, native, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, tool, append(append(args, in), out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameCodes decodes one frame to stored sample codes.
func frameCodes(t testing.TB, b []byte, frame int) []uint16 {
	t.Helper()
	p, err := parse(bytes.NewReader(b), int64(len(b)), frame)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.describe()
	if err != nil {
		t.Fatal(err)
	}
	fr, err := p.decodeFrame(d, frame)
	if err != nil {
		t.Fatal(err)
	}
	return fr.codes
}

func tsOf(t testing.TB, b []byte) string {
	t.Helper()
	info, err := Info(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return info.TransferSyntaxUID
}

// compressCase is a native source image for dcmtk.
type compressCase struct {
	name   string
	spec   imgSpec
	frames int
}

func (c compressCase) build() (file []byte, frames [][]uint16) {
	s := c.spec
	if s.spp == 0 {
		s.spp = 1
	}
	n := max(1, c.frames)
	s.frames = c.frames
	var all []uint16
	for f := 0; f < n; f++ {
		px := pattern(s.cols, s.rows, s.spp, s.bitsStored, uint32(1000*f+s.bitsStored+s.cols))
		frames = append(frames, px)
		all = append(all, px...)
	}
	return writePart10(uidExplicitLE, s.els(nativePixel(s.bitsAlloc, all))), frames
}

var compressCases = []compressCase{
	{name: "ct16signed", spec: imgSpec{rows: 64, cols: 64, bitsAlloc: 16, bitsStored: 16, highBit: -1, signed: true, photometric: "MONOCHROME2"}},
	{name: "cbct12", spec: imgSpec{rows: 48, cols: 40, bitsAlloc: 16, bitsStored: 12, highBit: -1, photometric: "MONOCHROME2"}, frames: 3},
	{name: "u16", spec: imgSpec{rows: 33, cols: 17, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2"}},
	{name: "dx8", spec: imgSpec{rows: 40, cols: 30, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "MONOCHROME1"}},
	{name: "rgb8", spec: imgSpec{rows: 24, cols: 20, spp: 3, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "RGB"}, frames: 2},
}

func checkFrames(t *testing.T, name string, b []byte, frames [][]uint16) {
	t.Helper()
	for f, want := range frames {
		got := frameCodes(t, b, f)
		if len(got) != len(want) {
			t.Fatalf("%s frame %d: %d samples, want %d", name, f, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s frame %d: sample %d = %d, want %d", name, f, i, got[i], want[i])
			}
		}
	}
}

// TestDCMTKJPEGLossless compresses generated images with dcmcjpeg and
// requires the decoded samples to equal the originals exactly.
func TestDCMTKJPEGLossless(t *testing.T) {
	needTool(t, "dcmcjpeg")
	for _, c := range compressCases {
		native, frames := c.build()
		for _, opts := range [][]string{
			{"+e1"}, {"+el", "+sv", "1"}, {"+el", "+sv", "2"}, {"+el", "+sv", "3"}, {"+el", "+sv", "4"},
			{"+el", "+sv", "5"}, {"+el", "+sv", "6"}, {"+el", "+sv", "7"}, {"+e1", "-ot"}, {"+el", "+sv", "7", "+fs", "1"},
			{"+e1", "-ot", "+fs", "1"},
			// The pseudo-lossless codec writes the precision of Bits
			// Stored (12) where the true lossless one writes 16.
			{"+pl", "+el", "+sv", "1"}, {"+pl", "+el", "+sv", "4"}, {"+pl", "+el", "+sv", "6"}, {"+pl", "+el", "+sv", "7"},
		} {
			if opts[0] == "+pl" && (c.spec.spp == 3 || c.spec.signed) {
				continue // converts color and signed samples: not lossless
			}
			name := fmt.Sprintf("%s %v", c.name, opts)
			b := convert(t, native, "dcmcjpeg", opts...)
			wantTS := uidJPEGLL14
			if opts[0] == "+e1" || opts[1] == "+e1" {
				wantTS = uidJPEGLLSV1
			}
			if ts := tsOf(t, b); ts != wantTS {
				t.Fatalf("%s: transfer syntax %s", name, ts)
			}
			checkFrames(t, name, b, frames)
		}
		// Point transform: the low bits are dropped, the rest exact.
		b := convert(t, native, "dcmcjpeg", "+el", "+sv", "6", "+pt", "2")
		got := frameCodes(t, b, 0)
		for i, v := range frames[0] {
			if want := v >> 2 << 2; got[i] != want {
				t.Fatalf("%s Pt 2: sample %d = %d, want %d", c.name, i, got[i], want)
			}
		}
	}
}

func TestDCMTKRLE(t *testing.T) {
	needTool(t, "dcmcrle")
	for _, c := range compressCases {
		native, frames := c.build()
		for _, opts := range [][]string{{}, {"-ot"}} {
			b := convert(t, native, "dcmcrle", opts...)
			if ts := tsOf(t, b); ts != uidRLE {
				t.Fatalf("%s: transfer syntax %s", c.name, ts)
			}
			checkFrames(t, c.name+" RLE", b, frames)
		}
	}
}

func TestRLERoundTrip(t *testing.T) {
	for _, c := range []struct{ w, h, spp, bps int }{{5, 3, 1, 1}, {64, 64, 1, 2}, {7, 9, 3, 1}, {300, 3, 3, 2}} {
		src := pattern(c.w, c.h, c.spp, 8*c.bps, uint32(c.w))
		data := rleEncode(src, c.w*c.h, c.spp, c.bps)
		got, err := decodeRLE(data, c.h, c.w, c.spp, c.bps)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		for i := range src {
			if got[i] != src[i] {
				t.Fatalf("%+v: sample %d = %d want %d", c, i, got[i], src[i])
			}
		}
		for n := 0; n < len(data)-1; n += 1 + len(data)/50 {
			if _, err := decodeRLE(data[:n], c.h, c.w, c.spp, c.bps); err == nil {
				t.Errorf("%+v: %d of %d bytes decoded", c, n, len(data))
			}
		}
	}
}
