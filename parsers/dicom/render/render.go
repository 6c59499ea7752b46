package render

import (
	"fmt"
	"image"
	"io"
	"os"
)

// Options choose the frame and how it is presented.
type Options struct {
	// Frame is the 0-based frame of a multi-frame instance.
	Frame int
	// WindowCenter and WindowWidth override the VOI window for monochrome
	// images, in modality units (Hounsfield units for CT). A nil value
	// takes the first Window Center/Width in the dataset (the frame's
	// Frame VOI LUT for enhanced multi-frame), else a VOI LUT Sequence,
	// else the range of the frame's modality values. Ignored for color.
	WindowCenter, WindowWidth *float64
	// VOIFunction overrides VOI LUT Function (0028,1056): "LINEAR",
	// "LINEAR_EXACT" or "SIGMOID" (PS3.3 C.11.2.1.3). "" keeps the
	// dataset's, LINEAR when absent.
	VOIFunction string
	// Size, when positive, shrinks the image so that its longer side is
	// at most Size pixels (box filter), for thumbnails. Never enlarges.
	Size int
	// Gray16 renders monochrome images as *image.Gray16, windowed onto
	// 0..65535, for 16-bit PNG. Default *image.Gray.
	Gray16 bool
}

// Window is one VOI window preset from the dataset.
type Window struct {
	Center, Width float64
	Explanation   string // Window Center & Width Explanation, often "BONE", "LUNG"; may be ""
}

// ImageInfo describes an instance's pixel data for the viewer.
type ImageInfo struct {
	TransferSyntaxUID  string
	TransferSyntaxName string // "" when the UID is not known here
	// Renderable is false when the transfer syntax has no decoder here;
	// Render then returns *UnsupportedTransferSyntaxError.
	Renderable          bool
	Rows, Columns       int
	Frames              int // Number of Frames, 1 when absent
	SamplesPerPixel     int
	Photometric         string // MONOCHROME1, MONOCHROME2, RGB, PALETTE COLOR, YBR_FULL_422...
	BitsAllocated       int
	BitsStored          int
	HighBit             int
	Signed              bool // Pixel Representation 1
	PlanarConfiguration int
	// RescaleSlope and RescaleIntercept map stored values to modality
	// units; 1 and 0 when absent (or when a Modality LUT Sequence is used).
	RescaleSlope, RescaleIntercept float64
	HasModalityLUT                 bool
	HasVOILUT                      bool   // a VOI LUT Sequence is present
	VOIFunction                    string // from the dataset, "" when absent
	// Windows lists the dataset's window presets (for enhanced
	// multi-frame, frame 0's).
	Windows []Window
}

// Render decodes frame opt.Frame of the DICOM Part 10 instance in r (size
// bytes long) and returns it as *image.Gray (or *image.Gray16) for
// monochrome images after the modality and VOI transforms, or *image.RGBA
// for color. Only the requested frame's bytes are read, except for
// Deflated Explicit VR Little Endian, which is inflated up to that frame.
//
// Errors: ErrNotDICOM, ErrNoPixelData, ErrFrameOutOfRange,
// *UnsupportedTransferSyntaxError, and *FormatError wrapping
// ErrMalformed, ErrTooLarge or ErrUnsupportedImage.
func Render(r io.ReaderAt, size int64, opt Options) (image.Image, error) {
	p, err := parse(r, size, opt.Frame)
	if err != nil {
		return nil, err
	}
	d, err := p.describe()
	if err != nil {
		return nil, err
	}
	if opt.Frame < 0 || opt.Frame >= d.frames {
		return nil, fmt.Errorf("%w: frame %d of %d", ErrFrameOutOfRange, opt.Frame, d.frames)
	}
	fr, err := p.decodeFrame(d, opt.Frame)
	if err != nil {
		return nil, err
	}
	var img image.Image
	if fr.img != nil {
		img = fr.img
	} else {
		img, err = p.present(d, fr.codes, opt)
		if err != nil {
			return nil, err
		}
	}
	if opt.Size > 0 {
		img = downscale(img, opt.Size)
	}
	return img, nil
}

// RenderFile is Render on a file.
func RenderFile(path string, opt Options) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Render(f, st.Size(), opt)
}

// Info reads the attributes describing the instance's pixel data without
// decoding it. It succeeds for transfer syntaxes Render cannot decode.
func Info(r io.ReaderAt, size int64) (*ImageInfo, error) {
	p, err := parse(r, size, 0)
	if err != nil {
		return nil, err
	}
	if !p.pixel.found {
		return nil, ErrNoPixelData
	}
	t := &p.top
	e := p.effective()
	info := &ImageInfo{
		TransferSyntaxUID:   p.tsUID,
		TransferSyntaxName:  p.ts.name,
		Renderable:          p.ts.codec != codecNone,
		Rows:                t.num(tagRows, 0),
		Columns:             t.num(tagColumns, 0),
		Frames:              max(1, t.num(tagNumberOfFrames, 1)),
		SamplesPerPixel:     t.num(tagSamplesPerPixel, 1),
		Photometric:         t.photometric,
		BitsAllocated:       t.num(tagBitsAllocated, 0),
		BitsStored:          t.num(tagBitsStored, t.num(tagBitsAllocated, 0)),
		Signed:              t.num(tagPixelRepresent, 0) == 1,
		PlanarConfiguration: t.num(tagPlanarConfig, 0),
		RescaleSlope:        e.slope,
		RescaleIntercept:    e.intercept,
		HasModalityLUT:      e.modalityLUT != nil,
		HasVOILUT:           e.voiLUT != nil,
		VOIFunction:         e.voiFunction,
	}
	info.HighBit = t.num(tagHighBit, info.BitsStored-1)
	for i := range min(len(e.centers), len(e.widths)) {
		w := Window{Center: e.centers[i], Width: e.widths[i]}
		if i < len(e.explanations) {
			w.Explanation = e.explanations[i]
		}
		info.Windows = append(info.Windows, w)
	}
	return info, nil
}

// InfoFile is Info on a file.
func InfoFile(path string) (*ImageInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Info(f, st.Size())
}

// effective are the presentation attributes for the target frame: the
// Per-Frame Functional Groups item overrides the Shared one, which
// overrides the top-level dataset.
type effective struct {
	slope, intercept float64
	centers, widths  []float64
	explanations     []string
	voiFunction      string
	voiLUT           *lutAttrs
	modalityLUT      *lutAttrs
}

func (p *parser) effective() effective {
	e := effective{slope: 1}
	for _, a := range []*attrs{&p.top, &p.shared, &p.frame} {
		if a.slope != nil {
			e.slope = *a.slope
		}
		if a.intercept != nil {
			e.intercept = *a.intercept
		}
		if len(a.centers) > 0 && len(a.widths) > 0 {
			e.centers, e.widths, e.explanations = a.centers, a.widths, a.explanations
		}
		if a.voiFunction != "" {
			e.voiFunction = a.voiFunction
		}
		if a.voiLUT != nil && len(a.voiLUT.desc) >= 6 && len(a.voiLUT.data) > 0 {
			e.voiLUT = a.voiLUT
		}
		if a.modalityLUT != nil && len(a.modalityLUT.desc) >= 6 && len(a.modalityLUT.data) > 0 {
			e.modalityLUT = a.modalityLUT
		}
	}
	if e.modalityLUT != nil {
		e.slope, e.intercept = 1, 0
	}
	return e
}
