package render

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// ctLike is a 64×64 signed CT slice in HU (intercept -1024 on stored
// values): air, soft tissue, bone, padding -2000 outside the field of view.
func ctLike(photometric string, frames int) []byte {
	const side = 64
	n := max(frames, 1)
	words := make([]uint16, 0, side*side*n)
	for f := 0; f < n; f++ {
		px := pattern(side, side, 1, 12, uint32(7+f)) // 0..4095
		for i, v := range px {
			x, y := i%side, i/side
			s := int16(v) // stored; HU = s - 1024
			if (x-32)*(x-32)+(y-32)*(y-32) > 31*31 {
				s = -2000 + 1024
			}
			words = append(words, uint16(s))
		}
	}
	s := imgSpec{rows: side, cols: side, frames: frames, bitsAlloc: 16, bitsStored: 16, highBit: -1, signed: true, photometric: photometric,
		extra: []el{
			{tag: tagRescaleIntercept, vr: "DS", val: "-1024"},
			{tag: tagRescaleSlope, vr: "DS", val: "1"},
			{tag: tagWindowCenter, vr: "DS", val: "1000\\40"},
			{tag: tagWindowWidth, vr: "DS", val: "3000\\400"},
		}}
	return writePart10(uidExplicitLE, s.els(nativePixel(16, words)))
}

// dcmj2pnm renders with dcmtk and returns the 8-bit PNG it writes.
func dcmj2pnm(t *testing.T, file []byte, args ...string) *image.Gray {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.dcm"), filepath.Join(dir, "out.png")
	if err := os.WriteFile(in, file, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "dcmj2pnm", append(append([]string{"+on"}, args...), in, out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("dcmj2pnm wrote %T", img)
	}
	return g
}

func compareGray(t *testing.T, name string, got image.Image, want *image.Gray) {
	t.Helper()
	g := got.(*image.Gray)
	if g.Bounds() != want.Bounds() {
		t.Fatalf("%s: bounds %v, dcmtk %v", name, g.Bounds(), want.Bounds())
	}
	worst, diffs := 0, 0
	for i := range g.Pix {
		d := int(g.Pix[i]) - int(want.Pix[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			diffs++
		}
		worst = max(worst, d)
		if d > 1 {
			t.Fatalf("%s: pixel %d = %d, dcmtk %d", name, i, g.Pix[i], want.Pix[i])
		}
	}
	t.Logf("%s: %d of %d pixels differ by 1 from dcmtk", name, diffs, len(g.Pix))
}

// TestAgainstDcmj2pnm compares 8-bit windowed output with dcmtk's
// renderer, allowing ±1 for rounding.
func TestAgainstDcmj2pnm(t *testing.T) {
	needTool(t, "dcmj2pnm")
	for _, pi := range []string{"MONOCHROME2", "MONOCHROME1"} {
		f := ctLike(pi, 1)
		// Second window preset (40/400) from the dataset.
		compareGray(t, pi+" preset 2", renderBytes(t, f, Options{WindowCenter: f64(40), WindowWidth: f64(400)}), dcmj2pnm(t, f, "+Wi", "2"))
		compareGray(t, pi+" preset 1", renderBytes(t, f, Options{}), dcmj2pnm(t, f, "+Wi", "1"))
		compareGray(t, pi+" -600/1500", renderBytes(t, f, Options{WindowCenter: f64(-600), WindowWidth: f64(1500)}), dcmj2pnm(t, f, "+Ww", "-600", "1500"))
	}
	// The same through JPEG lossless, and frame 2 of a multi-frame.
	f := convert(t, ctLike("MONOCHROME2", 3), "dcmcjpeg", "+e1")
	for fr := 0; fr < 3; fr++ {
		compareGray(t, fmt.Sprintf("JPEG lossless frame %d", fr), renderBytes(t, f, Options{Frame: fr}),
			dcmj2pnm(t, f, "+Wi", "1", "+F", fmt.Sprint(fr+1)))
	}
}

// TestDCMTKJPEGBaseline checks that lossy JPEG made by dcmcjpeg (YCbCr
// 4:2:2 and 4:4:4, RGB, monochrome) renders like dcmdjpeg decodes it.
func TestDCMTKJPEGBaseline(t *testing.T) {
	needTool(t, "dcmcjpeg")
	for _, c := range []struct {
		src  compressCase
		args []string
	}{
		{compressCases[4], []string{"+eb"}},
		{compressCases[4], []string{"+eb", "+cr"}},
		{compressCases[4], []string{"+ee", "+s4"}},
		{compressCases[3], []string{"+eb"}},
	} {
		native, frames := c.src.build()
		b := convert(t, native, "dcmcjpeg", append(c.args, "+q", "95")...)
		// dcmtk's own decoding is the reference (libjpeg upsamples chroma
		// with a triangle filter, image/jpeg differently: small errors).
		want := renderBytes(t, convert(t, b, "dcmdjpeg"), Options{Frame: len(frames) - 1})
		got := renderBytes(t, b, Options{Frame: len(frames) - 1})
		var sum, worst, n float64
		bb := want.Bounds()
		for y := 0; y < bb.Dy(); y++ {
			for x := 0; x < bb.Dx(); x++ {
				r1, g1, b1, _ := want.At(x, y).RGBA()
				r2, g2, b2, _ := got.At(x, y).RGBA()
				for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
					if d < 0 {
						d = -d
					}
					sum += d
					n++
					worst = max(worst, d)
				}
			}
		}
		t.Logf("%s %v: mean error %.2f, max %v", c.src.name, c.args, sum/n, worst)
		if sum/n > 2 {
			t.Errorf("%s %v: mean error %.2f", c.src.name, c.args, sum/n)
		}
	}
}
