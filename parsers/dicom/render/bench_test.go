package render

import (
	"bytes"
	"os/exec"
	"testing"
)

// 512×512 signed 16-bit CT slice, the common case in a CT/CBCT series.
func benchCT() (imgSpec, []uint16) {
	s := imgSpec{rows: 512, cols: 512, bitsAlloc: 16, bitsStored: 16, highBit: -1, signed: true, photometric: "MONOCHROME2",
		extra: []el{
			{tag: tagRescaleIntercept, vr: "DS", val: "-1024"},
			{tag: tagRescaleSlope, vr: "DS", val: "1"},
			{tag: tagWindowCenter, vr: "DS", val: "40"},
			{tag: tagWindowWidth, vr: "DS", val: "400"},
		}}
	return s, pattern(512, 512, 1, 12, 42)
}

func benchRender(b *testing.B, file []byte, opt Options) {
	b.SetBytes(512 * 512 * 2)
	b.ReportAllocs()
	r := bytes.NewReader(file)
	for b.Loop() {
		if _, err := Render(r, int64(len(file)), opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderCT512Native(b *testing.B) {
	s, px := benchCT()
	benchRender(b, writePart10(uidExplicitLE, s.els(nativePixel(16, px))), Options{})
}

func BenchmarkRenderCT512NativeThumbnail(b *testing.B) {
	s, px := benchCT()
	benchRender(b, writePart10(uidExplicitLE, s.els(nativePixel(16, px))), Options{Size: 128})
}

func BenchmarkRenderCT512JPEGLossless(b *testing.B) {
	s, px := benchCT()
	frame := llEncode(px, 512, 512, 1, 16, 1, 0, 0)
	benchRender(b, writePart10(uidJPEGLLSV1, s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{frame}}})), Options{})
}

// The same slice compressed by dcmcjpeg (optimized Huffman tables).
func BenchmarkRenderCT512JPEGLosslessDCMTK(b *testing.B) {
	if _, err := exec.LookPath("dcmcjpeg"); err != nil {
		b.Skip("dcmcjpeg not installed")
	}
	s, px := benchCT()
	benchRender(b, convert(b, writePart10(uidExplicitLE, s.els(nativePixel(16, px))), "dcmcjpeg", "+e1"), Options{})
}

func BenchmarkRenderCT512RLE(b *testing.B) {
	s, px := benchCT()
	frame := rleEncode(px, 512*512, 1, 2)
	benchRender(b, writePart10(uidRLE, s.els(el{tag: tagPixelData, val: encap{frags: [][]byte{frame}}})), Options{})
}

func BenchmarkDecodeLossless512(b *testing.B) {
	_, px := benchCT()
	frame := llEncode(px, 512, 512, 1, 16, 1, 0, 0)
	b.SetBytes(512 * 512 * 2)
	for b.Loop() {
		if _, err := decodeLossless(frame, MaxPixels); err != nil {
			b.Fatal(err)
		}
	}
}
