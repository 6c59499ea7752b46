package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets: no panic, no allocation beyond what the input's header
// allows (bounded by MaxPixels and by the data's length), and every input
// also decoded split in two.

const fuzzMaxPixels = 1 << 20

func llSeeds(f *testing.F) {
	for _, c := range []struct{ w, h, nc, prec, ps, pt, r int }{
		{8, 8, 1, 12, 1, 0, 0}, {9, 5, 3, 8, 7, 1, 9}, {16, 4, 1, 16, 6, 0, 16}, {4, 4, 1, 2, 4, 0, 0},
	} {
		f.Add(llEncode(pattern(c.w, c.h, c.nc, c.prec, 3), c.w, c.h, c.nc, c.prec, c.ps, c.pt, c.r))
	}
}

func FuzzJPEGLossless(f *testing.F) {
	llSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(b []byte) {
			fr, err := decodeLossless(b, fuzzMaxPixels)
			if err != nil {
				return
			}
			if len(fr.samples) != fr.width*fr.height*fr.ncomp || fr.width*fr.height > fuzzMaxPixels {
				t.Fatalf("frame %d×%d×%d with %d samples", fr.width, fr.height, fr.ncomp, len(fr.samples))
			}
			if fr.width*fr.height*fr.ncomp > 8*len(b) {
				t.Fatalf("%d samples from %d bytes", len(fr.samples), len(b))
			}
			for _, s := range fr.samples {
				if int(s) >= 1<<fr.precision {
					t.Fatalf("sample %d exceeds %d bits", s, fr.precision)
				}
			}
		}
		check(data)
		cut := len(data) / 2
		if len(data) > 0 {
			cut = int(data[len(data)-1]) % len(data)
		}
		check(data[:cut])
		check(data[cut:])
	})
}

func FuzzRLE(f *testing.F) {
	for _, c := range []struct{ w, h, spp, bps int }{{5, 3, 1, 1}, {8, 8, 1, 2}, {4, 3, 3, 1}} {
		f.Add(rleEncode(pattern(c.w, c.h, c.spp, 8*c.bps, 1), c.w*c.h, c.spp, c.bps), uint16(c.h), uint16(c.w), uint8(c.spp), uint8(c.bps))
	}
	f.Fuzz(func(t *testing.T, data []byte, rows, cols uint16, spp, bps uint8) {
		s, b := int(spp%3)+1, int(bps%2)+1
		if s == 2 {
			s = 3
		}
		r, c := int(rows), int(cols)
		if r*c > fuzzMaxPixels {
			return
		}
		check := func(d []byte) {
			out, err := decodeRLE(d, r, c, s, b)
			if err != nil {
				return
			}
			if len(out) != r*c*s {
				t.Fatalf("%d samples for %d×%d×%d", len(out), c, r, s)
			}
			if r*c > 64*len(d) {
				t.Fatalf("%d pixels from %d bytes", r*c, len(d))
			}
		}
		check(data)
		check(data[:len(data)/2])
		check(data[len(data)/2:])
	})
}

func FuzzRender(f *testing.F) {
	f.Add(ctFile(uidExplicitLE))
	f.Add(ctFile(uidExplicitBE))
	f.Add(ctFile(uidImplicitLE))
	f.Add(ctFile(uidDeflatedLE))
	s := imgSpec{rows: 8, cols: 8, frames: 2, bitsAlloc: 16, bitsStored: 12, highBit: -1, photometric: "MONOCHROME2"}
	px := pattern(8, 8, 1, 12, 5)
	frame := llEncode(px, 8, 8, 1, 12, 1, 0, 0)
	f.Add(writePart10(uidJPEGLLSV1, s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{frame, frame}}})))
	rle := rleEncode(px, 64, 1, 2)
	f.Add(writePart10(uidRLE, s.els(el{tag: tagPixelData, val: encap{bot: []uint32{0, uint32(8 + len(rle))}, frags: [][]byte{rle, rle}}})))
	for _, fx := range fixtures {
		if b, err := os.ReadFile(filepath.Join("testdata", fx.file)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(b []byte) {
			r := bytes.NewReader(b)
			Info(r, int64(len(b)))
			for fr := 0; fr < 2; fr++ {
				img, err := Render(r, int64(len(b)), Options{Frame: fr, Size: 3})
				if err == nil && (img.Bounds().Dx() > 3 || img.Bounds().Dy() > 3) {
					t.Fatalf("thumbnail %v", img.Bounds())
				}
			}
		}
		check(data)
		check(data[:len(data)/2])
	})
}
