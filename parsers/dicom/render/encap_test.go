package render

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// threeFrames returns three distinct 6×4 12-bit frames.
func threeFrames() [][]uint16 {
	return [][]uint16{pattern(6, 4, 1, 12, 1), pattern(6, 4, 1, 12, 2), pattern(6, 4, 1, 12, 3)}
}

func TestExtendedOffsetTable(t *testing.T) {
	frames := threeFrames()
	var frags [][]byte
	var offs, lens []byte
	off := uint64(0)
	for _, f := range frames {
		b := rleEncode(f, 24, 1, 2)
		frags = append(frags, b)
		offs = binary.LittleEndian.AppendUint64(offs, off)
		lens = binary.LittleEndian.AppendUint64(lens, uint64(len(b)))
		off += 8 + uint64(len(b)+len(b)%2)
	}
	// A trailing fragment that belongs to no frame: only the table can
	// say which fragment is which.
	frags = append(frags, []byte{1, 2, 3, 4})
	s := imgSpec{rows: 4, cols: 6, frames: 3, bitsAlloc: 16, bitsStored: 12, highBit: -1, photometric: "MONOCHROME2"}
	s.extra = []el{{tag: tagExtOffsetTable, vr: "OV", val: offs}, {tag: tagExtOffsetLengths, vr: "OV", val: lens}}
	withEOT := writePart10(uidRLE, s.els(el{tag: tagPixelData, val: encap{frags: frags}}))
	checkFramesT(t, "EOT", withEOT, frames)
	s.extra = nil
	without := writePart10(uidRLE, s.els(el{tag: tagPixelData, val: encap{frags: frags}}))
	if _, err := Render(bytes.NewReader(without), int64(len(without)), Options{Frame: 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("4 fragments, 3 frames, no table: %v", err)
	}
}

func checkFramesT(t *testing.T, name string, b []byte, frames [][]uint16) {
	t.Helper()
	for f, want := range frames {
		got := frameCodes(t, b, f)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s frame %d sample %d: %d want %d", name, f, i, got[i], want[i])
			}
		}
	}
}

func TestEncapsulatedUncompressedAndBOT(t *testing.T) {
	frames := threeFrames()
	var raw, lossless [][][]byte
	for _, f := range frames {
		b := make([]byte, 2*len(f))
		for i, v := range f {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
		raw = append(raw, [][]byte{b})
		ll := llEncode(f, 6, 4, 1, 12, 5, 0, 6)
		lossless = append(lossless, [][]byte{ll[:10], ll[10:]}) // two fragments per frame
	}
	s := imgSpec{rows: 4, cols: 6, frames: 3, bitsAlloc: 16, bitsStored: 12, highBit: -1, photometric: "MONOCHROME2"}
	bot, frags := botFor(raw)
	checkFramesT(t, "encapsulated uncompressed", writePart10(uidEncapRawLE, s.els(el{tag: tagPixelData, val: encap{bot: bot, frags: frags}})), frames)
	bot, frags = botFor(lossless)
	checkFramesT(t, "JPEG lossless with BOT", writePart10(uidJPEGLL14, s.els(el{tag: tagPixelData, val: encap{bot: bot, frags: frags}})), frames)
	checkFramesT(t, "JPEG lossless by SOI", writePart10(uidJPEGLL14, s.els(el{tag: tagPixelData, val: encap{frags: frags}})), frames)
	// A lossless stream labelled baseline is decoded by what it is.
	checkFramesT(t, "mislabelled", writePart10(uidJPEGBase, s.els(el{tag: tagPixelData, val: encap{bot: bot, frags: frags}})), frames)
}

func TestLUTSequences(t *testing.T) {
	// VOI LUT Sequence: 4 entries from stored value 100, 8-bit output.
	s := imgSpec{rows: 1, cols: 6, bitsAlloc: 16, bitsStored: 16, highBit: -1, photometric: "MONOCHROME2", extra: []el{
		{tag: tagVOILUTSeq, val: [][]el{{
			{tag: tagLUTDescriptor, vr: "US", val: []uint16{4, 100, 8}},
			{tag: tagLUTData, vr: "OW", val: []uint16{0, 85, 170, 255}},
		}}},
	}}
	for _, ts := range []string{uidExplicitLE, uidExplicitBE, uidImplicitLE} {
		f := writePart10(ts, s.els(nativePixel(16, []uint16{99, 100, 101, 102, 103, 200})))
		pix := grayPix(t, renderBytes(t, f, Options{}))
		if want := []uint8{0, 0, 85, 170, 255, 255}; !bytes.Equal(pix, want) {
			t.Errorf("%s VOI LUT: %v want %v", ts, pix, want)
		}
		// An explicit window wins over the LUT.
		pix = grayPix(t, renderBytes(t, f, Options{WindowCenter: f64(150), WindowWidth: f64(101)}))
		if pix[0] != refLinear(99, 150, 101) || pix[5] != 255 {
			t.Errorf("%s window over VOI LUT: %v", ts, pix)
		}
	}
	// Modality LUT Sequence: codes 0, 1, 2 → 1000, 2000, 3000.
	s.extra = []el{
		{tag: tagModalityLUTSeq, val: [][]el{{
			{tag: tagLUTDescriptor, vr: "US", val: []uint16{3, 0, 12}},
			{tag: tagLUTData, vr: "OW", val: []uint16{1000, 2000, 3000}},
		}}},
		{tag: tagRescaleSlope, vr: "DS", val: "7"}, // ignored: the LUT wins
		{tag: tagWindowCenter, vr: "DS", val: "2000"},
		{tag: tagWindowWidth, vr: "DS", val: "1000"},
	}
	s.cols = 3
	f := writePart10(uidExplicitLE, s.els(nativePixel(16, []uint16{0, 1, 2})))
	pix := grayPix(t, renderBytes(t, f, Options{}))
	for i, m := range []float64{1000, 2000, 3000} {
		if w := refLinear(m, 2000, 1000); pix[i] != w {
			t.Errorf("modality LUT pixel %d: %d want %d", i, pix[i], w)
		}
	}
	info, err := Info(bytes.NewReader(f), int64(len(f)))
	if err != nil || !info.HasModalityLUT || info.RescaleSlope != 1 {
		t.Errorf("Info: %+v %v", info, err)
	}
}
