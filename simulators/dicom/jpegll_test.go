package dicom

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	dul "github.com/medgate/medgate/listeners/dicom"
	dcm "github.com/medgate/medgate/parsers/dicom"
	"github.com/medgate/medgate/parsers/dicom/render"
)

// part10 returns instance in as a Part 10 file in ts.
func part10(t *testing.T, in *Instance, ts string) []byte {
	t.Helper()
	r, err := in.Reader(ts)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(dul.AppendPart10Header(nil, &dul.FileMeta{SOPClassUID: in.SOPClassUID, SOPInstanceUID: in.SOPInstanceUID, TransferSyntax: ts}))
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pixelData reads the native Pixel Data value of a Part 10 file.
func pixelData(t *testing.T, file []byte) []byte {
	t.Helper()
	meta, r, err := dul.ReadPart10(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dcm.DecodeReader(r, meta.TransferSyntax, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	e := ds.Get(dcm.TagPixelData)
	if e == nil || e.Fragments != nil {
		t.Fatalf("no native pixel data in %s", meta.TransferSyntax)
	}
	return e.Value
}

// pair generates the same frames natively and as JPEG Lossless.
func pair(t *testing.T, opt SeriesOptions) (native, jpeg *Series) {
	t.Helper()
	subj := InventedSubject(opt.Kind)
	var err error
	if native, err = Generate(subj, opt); err != nil {
		t.Fatal(err)
	}
	opt.JPEGLossless = true
	if jpeg, err = Generate(subj, opt); err != nil {
		t.Fatal(err)
	}
	return native, jpeg
}

// dcmtk's dcmdjpeg decodes the simulator's JPEG Lossless SV1 frames to
// exactly the samples of the native encoding: 12-bit unsigned CBCT
// slices, 16-bit signed CT slices, and a multi-frame instance whose frames
// were encoded while streaming.
func TestJPEGLosslessWithDcmdjpeg(t *testing.T) {
	dcmdjpeg := dcmtk(t, "dcmdjpeg")
	ct, _ := LookupKind("ct")
	cbct, _ := LookupKind("cbct")
	dir := t.TempDir()
	for _, opt := range []SeriesOptions{
		{Kind: cbct, Slices: 2},
		{Kind: ct, Slices: 2},
		{Kind: ct, Slices: 3, Rows: 96, Cols: 128, MultiFrame: true},
	} {
		native, jpeg := pair(t, opt)
		for i := range native.Instances {
			in := filepath.Join(dir, "in.dcm")
			out := filepath.Join(dir, "out.dcm")
			jf := part10(t, jpeg.Instances[i], dul.JPEGLosslessSV1)
			if err := os.WriteFile(in, jf, 0o600); err != nil {
				t.Fatal(err)
			}
			if b, err := exec.Command(dcmdjpeg, in, out).CombinedOutput(); err != nil {
				t.Fatalf("dcmdjpeg: %v\n%s", err, b)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want := pixelData(t, part10(t, native.Instances[i], dul.ExplicitVRLittleEndian))
			if g := pixelData(t, got); !bytes.Equal(g, want) {
				t.Fatalf("%s slice %d: dcmdjpeg decoded %d bytes differing from the %d native ones", opt.Kind.Name, i, len(g), len(want))
			}
			if len(jf) >= len(want) {
				t.Errorf("%s: JPEG Lossless instance of %d bytes for %d bytes of samples", opt.Kind.Name, len(jf), len(want))
			}
		}
	}
}

// medgate's own renderer shows the JPEG Lossless frame exactly as the
// native one (no dcmtk needed).
func TestJPEGLosslessMatchesNativeInRenderer(t *testing.T) {
	cbct, _ := LookupKind("cbct")
	native, jpeg := pair(t, SeriesOptions{Kind: cbct, Slices: 1})
	img := func(b []byte) image.Image {
		im, err := render.Render(bytes.NewReader(b), int64(len(b)), render.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	a := img(part10(t, native.Instances[0], dul.ExplicitVRLittleEndian))
	b := img(part10(t, jpeg.Instances[0], dul.JPEGLosslessSV1))
	ga, ok1 := a.(*image.Gray)
	gb, ok2 := b.(*image.Gray)
	if !ok1 || !ok2 || !bytes.Equal(ga.Pix, gb.Pix) {
		t.Fatalf("rendered images differ (%T, %T)", a, b)
	}
}

// Heavily skewed frequencies still give a complete prefix code with no
// code longer than 16 bits and the all-ones code unused.
func TestHuffmanTableLimits(t *testing.T) {
	for _, freq := range [][]int{
		{1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597}, // Fibonacci: depth 17 unlimited
		{1 << 20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7},
	} {
		counts, symbols := huffmanTable(freq)
		used := 0
		for _, f := range freq {
			if f > 0 {
				used++
			}
		}
		total, kraft := 0, 0.0
		for l, n := range counts {
			total += int(n)
			kraft += float64(n) / float64(uint(1)<<(l+1))
		}
		if total != used || len(symbols) != used || kraft >= 1 {
			t.Errorf("freq %v: counts %v symbols %v (Kraft sum %g)", freq, counts, symbols, kraft)
		}
	}
}

// A constant frame and a frame of the largest differences (category 16,
// wrap-around) decode exactly with dcmdjpeg.
func TestJPEGLosslessExtremes(t *testing.T) {
	dcmdjpeg := dcmtk(t, "dcmdjpeg")
	dir := t.TempDir()
	for _, samples := range [][]uint16{
		make([]uint16, 64),
		{0, 0x8000, 0, 0x8000, 0xFFFF, 0, 0xFFFF, 1, 0x7FFF, 0x8001, 2, 3, 0, 0, 0xFFFF, 0x8000},
	} {
		w := 8
		if len(samples) == 16 {
			w = 4
		}
		h := len(samples) / w
		frame, err := EncodeJPEGLossless(samples, w, h, 16)
		if err != nil {
			t.Fatal(err)
		}
		b := newBuilder(nil)
		b.set(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
		b.set(0x0008, 0x0018, "UI", "2.25.1")
		b.set(0x0028, 0x0002, "US", "1")
		b.set(0x0028, 0x0004, "CS", "MONOCHROME2")
		b.set(0x0028, 0x0010, "US", itoa(h))
		b.set(0x0028, 0x0011, "US", itoa(w))
		b.set(0x0028, 0x0100, "US", "16")
		b.set(0x0028, 0x0101, "US", "16")
		b.set(0x0028, 0x0102, "US", "15")
		b.set(0x0028, 0x0103, "US", "0")
		hdr, err := b.ds.Encode(dul.ExplicitVRLittleEndian)
		if err != nil || b.err != nil {
			t.Fatal(err, b.err)
		}
		body := append(append(hdr, pixelHeader(dul.JPEGLosslessSV1, -1)...), encapsulate(frame)...)
		file := dul.Part10(&dul.FileMeta{SOPClassUID: "1.2.840.10008.5.1.4.1.1.7", SOPInstanceUID: "2.25.1", TransferSyntax: dul.JPEGLosslessSV1}, body)
		in, out := filepath.Join(dir, "in.dcm"), filepath.Join(dir, "out.dcm")
		if err := os.WriteFile(in, file, 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(dcmdjpeg, in, out).CombinedOutput(); err != nil {
			t.Fatalf("dcmdjpeg: %v\n%s", err, b)
		}
		got, _ := os.ReadFile(out)
		want := make([]byte, 0, 2*len(samples))
		for _, s := range samples {
			want = append(want, byte(s), byte(s>>8))
		}
		if g := pixelData(t, got); !bytes.Equal(g, want) {
			t.Errorf("decoded % x, want % x", g, want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
