package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata fixtures with dcmtk")

// fixtures are small compressed instances made by dcmtk from generated
// native images (see testdata/README.md). They test the decoders against
// an independent encoder when dcmtk is not installed.
var fixtures = []struct {
	file string
	src  compressCase
	tool string
	args []string
	// JPEG header facts the fixture exists to cover.
	precision, predictor int
}{
	{"ct16_jpegll_sv1.dcm", compressCase{spec: imgSpec{rows: 64, cols: 64, bitsAlloc: 16, bitsStored: 16, highBit: -1, signed: true, photometric: "MONOCHROME2"}},
		"dcmcjpeg", []string{"+e1"}, 16, 1},
	{"cbct12_jpegll_p14_sv6.dcm", compressCase{spec: imgSpec{rows: 48, cols: 40, bitsAlloc: 16, bitsStored: 12, highBit: -1, photometric: "MONOCHROME2"}, frames: 3},
		"dcmcjpeg", []string{"+pl", "+el", "+sv", "6"}, 12, 6},
	{"ct16_rle.dcm", compressCase{spec: imgSpec{rows: 32, cols: 32, bitsAlloc: 16, bitsStored: 16, highBit: -1, signed: true, photometric: "MONOCHROME2"}},
		"dcmcrle", nil, 0, 0},
	{"rgb8_rle.dcm", compressCase{spec: imgSpec{rows: 24, cols: 20, spp: 3, bitsAlloc: 8, bitsStored: 8, highBit: -1, photometric: "RGB"}, frames: 2},
		"dcmcrle", nil, 0, 0},
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		path := filepath.Join("testdata", fx.file)
		native, frames := fx.src.build()
		if *update {
			if err := os.WriteFile(path, convert(t, native, fx.tool, fx.args...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkFrames(t, fx.file, b, frames)
		info, err := InfoFile(path)
		if err != nil || info.Frames != len(frames) || !CanRender(info.TransferSyntaxUID) || TransferSyntaxName(info.TransferSyntaxUID) == "" {
			t.Errorf("%s: InfoFile %+v %v", fx.file, info, err)
		}
		img, err := RenderFile(path, Options{Frame: len(frames) - 1, Size: 8})
		if err != nil || max(img.Bounds().Dx(), img.Bounds().Dy()) != 8 {
			t.Errorf("%s: thumbnail %v %v", fx.file, img.Bounds(), err)
		}
		if fx.precision > 0 {
			p, _ := parse(bytes.NewReader(b), int64(len(b)), 0)
			d, _ := p.describe()
			data, err := p.fragmentData(d, 0)
			if err != nil {
				t.Fatal(err)
			}
			sof := bytes.Index(data, []byte{0xFF, 0xC3})
			sos := bytes.Index(data, []byte{0xFF, 0xDA})
			if sof < 0 || sos < 0 || int(data[sof+4]) != fx.precision || int(data[sos+7]) != fx.predictor {
				t.Errorf("%s: not a P=%d SV=%d stream", fx.file, fx.precision, fx.predictor)
			}
		}
	}
}
