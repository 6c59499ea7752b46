package dicom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dul "github.com/medgate/medgate/listeners/dicom"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// SOP classes the simulator sends.
const (
	CTImageStorage              = "1.2.840.10008.5.1.4.1.1.2"
	EnhancedCTImageStorage      = "1.2.840.10008.5.1.4.1.1.2.1"
	DXForPresentationStorage    = "1.2.840.10008.5.1.4.1.1.1.1"
	IntraOralForPresentationSOP = "1.2.840.10008.5.1.4.1.1.1.3"
)

// Kind is one simulated scanner: what it sends by default.
type Kind struct {
	Name        string
	Description string
	// Modality is the series' Modality and the worklist query's
	// Scheduled Procedure Step Modality.
	Modality string
	// SOPClass for single-frame instances; -multiframe sends Enhanced CT
	// (CT kinds only).
	SOPClass           string
	Slices, Rows, Cols int
	BitsStored         int
	Signed             bool
	// Intercept is the Rescale Intercept (HU = stored + Intercept for CT).
	Intercept     float64
	PixelSpacing  float64 // mm
	Thickness     float64 // mm, CT kinds
	WindowCenter  int
	WindowWidth   int
	BodyPart      string
	SeriesDesc    string
	ImageType     string
	Manufacturer  string
	Model         string
	volume        bool
	paint         func(c *canvas, k, n int)
	presentationX bool // DX family: For Presentation attributes
}

// Kinds lists the scanners the simulator plays, the first one the default.
var Kinds = []Kind{
	{Name: "ct", Description: "CT, 400 axial slices 512×512, 16-bit signed, rescale intercept -1024",
		Modality: "CT", SOPClass: CTImageStorage, Slices: 400, Rows: 512, Cols: 512, BitsStored: 16, Signed: true, Intercept: -1024,
		PixelSpacing: 0.7, Thickness: 1.0, WindowCenter: 40, WindowWidth: 400, BodyPart: "CHEST", SeriesDesc: "Body 1.0 soft tissue",
		ImageType: `ORIGINAL\PRIMARY\AXIAL`, Manufacturer: "medgate-sim", Model: "SIM-CT 64", volume: true, paint: ctSlice},
	{Name: "cbct", Description: "dental CBCT, 500 slices 400×400, 12 bits stored, 0.25 mm voxels",
		Modality: "CT", SOPClass: CTImageStorage, Slices: 500, Rows: 400, Cols: 400, BitsStored: 12, Intercept: -1000,
		PixelSpacing: 0.25, Thickness: 0.25, WindowCenter: 1000, WindowWidth: 4000, BodyPart: "JAW", SeriesDesc: "CBCT volume 0.25 mm",
		ImageType: `ORIGINAL\PRIMARY\AXIAL`, Manufacturer: "medgate-sim", Model: "SIM-CBCT 3D", volume: true, paint: cbctSlice},
	{Name: "pano", Description: "panoramic DX For Presentation, one 2800×1400 image, 12 bits stored",
		Modality: "PX", SOPClass: DXForPresentationStorage, Slices: 1, Rows: 1400, Cols: 2800, BitsStored: 12,
		PixelSpacing: 0.1, WindowCenter: 2048, WindowWidth: 4096, BodyPart: "JAW", SeriesDesc: "Panoramic",
		ImageType: `ORIGINAL\PRIMARY`, Manufacturer: "medgate-sim", Model: "SIM-PAN 2D", presentationX: true,
		paint: func(c *canvas, _, _ int) { panoImage(c) }},
	{Name: "intraoral", Description: "intra-oral DX For Presentation, one 1500×1000 image, 12 bits stored",
		Modality: "IO", SOPClass: IntraOralForPresentationSOP, Slices: 1, Rows: 1000, Cols: 1500, BitsStored: 12,
		PixelSpacing: 0.02, WindowCenter: 2048, WindowWidth: 4096, BodyPart: "JAW", SeriesDesc: "Intra-oral",
		ImageType: `ORIGINAL\PRIMARY`, Manufacturer: "medgate-sim", Model: "SIM-IO sensor 2", presentationX: true,
		paint: func(c *canvas, _, _ int) { intraoralImage(c) }},
}

// KindNames are the -kind values.
func KindNames() []string {
	var n []string
	for _, k := range Kinds {
		n = append(n, k.Name)
	}
	return n
}

// LookupKind finds a kind by name.
func LookupKind(name string) (Kind, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(k.Name, name) {
			return k, true
		}
	}
	return Kind{}, false
}

// Subject is who and what the images are of: the worklist item's patient,
// accession and pre-assigned Study Instance UID, or invented ones.
type Subject struct {
	PatientName              string // PN, '^'-separated, UTF-8
	PatientID                string
	IssuerOfPatientID        string
	PatientBirthDate         string // YYYYMMDD
	PatientSex               string
	AccessionNumber          string
	StudyInstanceUID         string
	StudyDescription         string
	ReferringPhysician       string
	RequestedProcedureID     string
	ScheduledProcedureStepID string
}

// Series is what the simulator will send, generated before any timing:
// headers per instance, pixel data shared between repetitions of the same
// slice, or frames generated while sending (multi-frame).
type Series struct {
	Kind      Kind
	SOPClass  string
	Syntaxes  []string // transfer syntaxes proposed, in order
	Instances []*Instance
}

// Instance is one C-STORE: its data set is header (in the negotiated
// transfer syntax, ending with the Pixel Data element header) + body.
type Instance struct {
	SOPClassUID, SOPInstanceUID string
	headers                     map[string][]byte
	body                        []byte
	stream                      func() io.Reader
}

// Reader returns the data set encoded in ts.
func (in *Instance) Reader(ts string) (io.Reader, error) {
	h, ok := in.headers[ts]
	if !ok {
		return nil, fmt.Errorf("instance not prepared for transfer syntax %s", ts)
	}
	if in.stream != nil {
		return io.MultiReader(bytes.NewReader(h), in.stream()), nil
	}
	return io.MultiReader(bytes.NewReader(h), bytes.NewReader(in.body)), nil
}

// Size is the data set's length in ts, or -1 when frames are generated
// while sending (encapsulated multi-frame).
func (in *Instance) Size(ts string) int64 {
	if in.stream != nil {
		return -1
	}
	return int64(len(in.headers[ts]) + len(in.body))
}

// SeriesOptions shape Generate.
type SeriesOptions struct {
	Kind               Kind
	Slices, Rows, Cols int // 0: the kind's
	Count              int // series (repetitions), default 1
	JPEGLossless       bool
	MultiFrame         bool
	Charset            string // "ISO_IR 192" (default) or "ISO_IR 144"
	StationAE          string
	Modality           string // "" : the kind's
	Now                time.Time
}

// Generate builds opt.Count series of the kind for subj.
func Generate(subj Subject, opt SeriesOptions) (*Series, error) {
	k := opt.Kind
	if opt.Slices > 0 {
		k.Slices = opt.Slices
	}
	if opt.Rows > 0 {
		k.Rows = opt.Rows
	}
	if opt.Cols > 0 {
		k.Cols = opt.Cols
	}
	if opt.Modality != "" {
		k.Modality = opt.Modality
	}
	opt.Count = max(opt.Count, 1)
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.Charset == "" {
		opt.Charset = "ISO_IR 192"
	}
	if k.Rows > 0xFFFF || k.Cols > 0xFFFF || k.Rows < 1 || k.Cols < 1 {
		return nil, fmt.Errorf("rows and columns must be 1 to 65535")
	}
	if opt.MultiFrame && !k.volume {
		return nil, fmt.Errorf("-multiframe applies to the CT kinds (ct, cbct)")
	}
	frameBytes := int64(k.Rows) * int64(k.Cols) * 2
	if opt.MultiFrame && !opt.JPEGLossless && frameBytes*int64(k.Slices) >= 0xFFFFFFFE {
		return nil, fmt.Errorf("a native multi-frame Pixel Data of %d bytes does not fit a 32-bit length", frameBytes*int64(k.Slices))
	}
	cs, err := dcm.NewCharset(opt.Charset)
	if err != nil {
		return nil, err
	}
	s := &Series{Kind: k, SOPClass: k.SOPClass, Syntaxes: []string{dul.ExplicitVRLittleEndian, dul.ImplicitVRLittleEndian}}
	if opt.MultiFrame {
		s.SOPClass = EnhancedCTImageStorage
	}
	if opt.JPEGLossless {
		s.Syntaxes = []string{dul.JPEGLosslessSV1}
	}
	precision := k.BitsStored
	if k.Signed {
		precision = 16
	}
	if subj.StudyInstanceUID == "" {
		subj.StudyInstanceUID = NewUID()
	}
	frameOfRef := NewUID()

	var bodies [][]byte
	if !opt.MultiFrame {
		bodies = make([][]byte, k.Slices)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		next := make(chan int)
		for range max(runtime.GOMAXPROCS(0), 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newCanvas(k.Cols, k.Rows, nil)
				for i := range next {
					k.paint(c, i, k.Slices)
					b, err := frameBody(c, opt.JPEGLossless, precision)
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						continue
					}
					if opt.JPEGLossless {
						b = encapsulate(b)
					}
					bodies[i] = b
				}
			}()
		}
		for i := range k.Slices {
			next <- i
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			return nil, firstErr
		}
	}

	for rep := range opt.Count {
		seriesUID := NewUID()
		b := newBuilder(cs)
		common(b, k, subj, opt, seriesUID, frameOfRef, rep+1)
		if b.err != nil {
			return nil, b.err
		}
		if opt.MultiFrame {
			in, err := multiFrame(b.ds, k, s.SOPClass, opt, precision, frameBytes)
			if err != nil {
				return nil, err
			}
			s.Instances = append(s.Instances, in)
			continue
		}
		for i := range k.Slices {
			ds := &dcm.Dataset{Elements: slices.Clone(b.ds.Elements)}
			pb := &builder{ds: ds, cs: cs}
			uid := NewUID()
			pb.set(0x0008, 0x0018, "UI", uid)
			pb.set(0x0020, 0x0013, "IS", strconv.Itoa(i+1))
			if k.volume {
				z := -float64(i) * k.Thickness
				x0 := -float64(k.Cols) * k.PixelSpacing / 2
				y0 := -float64(k.Rows) * k.PixelSpacing / 2
				pb.set(0x0020, 0x0032, "DS", fmt.Sprintf(`%s\%s\%s`, ds16(x0), ds16(y0), ds16(z)))
				pb.set(0x0020, 0x1041, "DS", ds16(z))
			}
			if pb.err != nil {
				return nil, pb.err
			}
			in, err := single(ds, s.SOPClass, uid, bodies[i], opt.JPEGLossless)
			if err != nil {
				return nil, err
			}
			s.Instances = append(s.Instances, in)
		}
	}
	return s, nil
}

func ds16(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		s = "0"
	}
	return s
}

// frameBody returns the frame's native little-endian bytes or its JPEG
// Lossless bit stream.
func frameBody(c *canvas, jpeg bool, precision int) ([]byte, error) {
	if jpeg {
		return EncodeJPEGLossless(c.px, c.w, c.h, precision)
	}
	b := make([]byte, 2*len(c.px))
	for i, p := range c.px {
		binary.LittleEndian.PutUint16(b[2*i:], p)
	}
	return b, nil
}

// encapsulate wraps one frame as encapsulated Pixel Data items: an empty
// Basic Offset Table, the frame (padded to even length), the sequence
// delimiter.
func encapsulate(frame []byte) []byte {
	var b []byte
	b = appendItem(b, nil)
	b = appendItem(b, frame)
	return append(b, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0)
}

func appendItem(b, v []byte) []byte {
	n := len(v) + len(v)%2
	b = append(b, 0xFE, 0xFF, 0x00, 0xE0)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, v...)
	if len(v)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// pixelHeader is the Pixel Data element header in ts: OW with length n,
// or OB of undefined length for encapsulated data (n < 0).
func pixelHeader(ts string, n int64) []byte {
	b := []byte{0xE0, 0x7F, 0x10, 0x00}
	switch {
	case n < 0:
		return append(b, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF)
	case ts == dul.ImplicitVRLittleEndian:
		return binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	return binary.LittleEndian.AppendUint32(append(b, 'O', 'W', 0, 0), uint32(n))
}

func single(ds *dcm.Dataset, sopClass, uid string, body []byte, jpeg bool) (*Instance, error) {
	in := &Instance{SOPClassUID: sopClass, SOPInstanceUID: uid, headers: map[string][]byte{}, body: body}
	if jpeg {
		h, err := ds.Encode(dul.ExplicitVRLittleEndian)
		if err != nil {
			return nil, err
		}
		in.headers[dul.JPEGLosslessSV1] = append(h, pixelHeader(dul.JPEGLosslessSV1, -1)...)
		return in, nil
	}
	for _, ts := range []string{dul.ExplicitVRLittleEndian, dul.ImplicitVRLittleEndian} {
		h, err := ds.Encode(ts)
		if err != nil {
			return nil, err
		}
		in.headers[ts] = append(h, pixelHeader(ts, int64(len(body)))...)
	}
	return in, nil
}

// multiFrame builds one Enhanced CT instance whose frames are painted
// while it is sent, so that its size does not depend on memory.
func multiFrame(base *dcm.Dataset, k Kind, sopClass string, opt SeriesOptions, precision int, frameBytes int64) (*Instance, error) {
	ds := &dcm.Dataset{Elements: slices.Clone(base.Elements)}
	b := &builder{ds: ds}
	uid := NewUID()
	b.set(0x0008, 0x0018, "UI", uid)
	b.set(0x0020, 0x0013, "IS", "1")
	b.set(0x0008, 0x0008, "CS", `ORIGINAL\PRIMARY\VOLUME\NONE`)
	b.set(0x0028, 0x0008, "IS", strconv.Itoa(k.Slices))
	// Attributes the functional groups carry instead.
	for _, t := range []dcm.Tag{0x00280030, 0x00180050, 0x00200037, 0x00281052, 0x00281053, 0x00281054, 0x00281050, 0x00281051, 0x00200032, 0x00201041} {
		ds.Remove(t)
	}
	item := func(fn func(b *builder)) *dcm.Dataset {
		it := &builder{ds: &dcm.Dataset{}}
		fn(it)
		if it.err != nil && b.err == nil {
			b.err = it.err
		}
		return it.ds
	}
	shared := item(func(s *builder) {
		s.seq(0x0028, 0x9110, item(func(m *builder) {
			m.set(0x0018, 0x0050, "DS", ds16(k.Thickness))
			m.set(0x0028, 0x0030, "DS", ds16(k.PixelSpacing)+`\`+ds16(k.PixelSpacing))
		}))
		s.seq(0x0020, 0x9116, item(func(m *builder) { m.set(0x0020, 0x0037, "DS", `1\0\0\0\1\0`) }))
		s.seq(0x0028, 0x9145, item(func(m *builder) {
			m.set(0x0028, 0x1052, "DS", ds16(k.Intercept))
			m.set(0x0028, 0x1053, "DS", "1")
			m.set(0x0028, 0x1054, "LO", "HU")
		}))
		s.seq(0x0028, 0x9132, item(func(m *builder) {
			m.set(0x0028, 0x1050, "DS", strconv.Itoa(k.WindowCenter))
			m.set(0x0028, 0x1051, "DS", strconv.Itoa(k.WindowWidth))
		}))
	})
	b.seq(0x5200, 0x9229, shared)
	perFrame := make([]*dcm.Dataset, k.Slices)
	x0, y0 := -float64(k.Cols)*k.PixelSpacing/2, -float64(k.Rows)*k.PixelSpacing/2
	for i := range perFrame {
		perFrame[i] = item(func(f *builder) {
			f.seq(0x0020, 0x9111, item(func(m *builder) {
				m.set(0x0020, 0x9056, "SH", "1")
				m.set(0x0020, 0x9057, "UL", strconv.Itoa(i+1))
			}))
			f.seq(0x0020, 0x9113, item(func(m *builder) {
				m.set(0x0020, 0x0032, "DS", fmt.Sprintf(`%s\%s\%s`, ds16(x0), ds16(y0), ds16(-float64(i)*k.Thickness)))
			}))
		})
	}
	b.seq(0x5200, 0x9230, perFrame...)
	if b.err != nil {
		return nil, b.err
	}
	in := &Instance{SOPClassUID: sopClass, SOPInstanceUID: uid, headers: map[string][]byte{}}
	syntaxes := []string{dul.ExplicitVRLittleEndian, dul.ImplicitVRLittleEndian}
	if opt.JPEGLossless {
		syntaxes = []string{dul.JPEGLosslessSV1}
	}
	for _, ts := range syntaxes {
		enc := ts
		if opt.JPEGLossless {
			enc = dul.ExplicitVRLittleEndian
		}
		h, err := ds.Encode(enc)
		if err != nil {
			return nil, err
		}
		n := frameBytes * int64(k.Slices)
		if opt.JPEGLossless {
			n = -1
		}
		in.headers[ts] = append(h, pixelHeader(ts, n)...)
	}
	in.stream = func() io.Reader {
		return &frameStream{k: k, jpeg: opt.JPEGLossless, precision: precision, c: newCanvas(k.Cols, k.Rows, nil)}
	}
	return in, nil
}

// frameStream paints and encodes one frame at a time.
type frameStream struct {
	k         Kind
	jpeg      bool
	precision int
	c         *canvas
	next      int // next frame
	buf       []byte
	started   bool
	done      bool
}

func (f *frameStream) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		switch {
		case f.done:
			return 0, io.EOF
		case f.jpeg && !f.started:
			f.started = true
			f.buf = appendItem(f.buf[:0], nil) // empty Basic Offset Table
			continue
		case f.next == f.k.Slices:
			f.done = true
			if f.jpeg {
				f.buf = []byte{0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0}
				continue
			}
			return 0, io.EOF
		}
		f.k.paint(f.c, f.next, f.k.Slices)
		f.next++
		b, err := frameBody(f.c, f.jpeg, f.precision)
		if err != nil {
			return 0, err
		}
		if f.jpeg {
			b = appendItem(nil, b)
		}
		f.buf = b
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// builder sets elements, keeping the first error.
type builder struct {
	ds  *dcm.Dataset
	cs  *dcm.Charset
	err error
}

func newBuilder(cs *dcm.Charset) *builder { return &builder{ds: &dcm.Dataset{}, cs: cs} }

func (b *builder) set(group, elem uint16, vr, v string) {
	if b.err != nil {
		return
	}
	if err := b.ds.SetText(dcm.NewTag(group, elem), vr, v, b.cs); err != nil {
		b.err = err
	}
}

func (b *builder) seq(group, elem uint16, items ...*dcm.Dataset) {
	b.ds.SetSequence(dcm.NewTag(group, elem), items...)
}

// common sets what every instance of a series shares.
func common(b *builder, k Kind, subj Subject, opt SeriesOptions, seriesUID, frameOfRef string, seriesNumber int) {
	now := opt.Now
	date, tm := now.Format("20060102"), now.Format("150405")
	b.set(0x0008, 0x0005, "CS", strings.Join(b.cs.Terms(), `\`))
	b.set(0x0008, 0x0008, "CS", k.ImageType)
	b.set(0x0008, 0x0012, "DA", date)
	b.set(0x0008, 0x0013, "TM", tm)
	b.set(0x0008, 0x0016, "UI", opt.sopClass(k))
	b.set(0x0008, 0x0020, "DA", date)
	b.set(0x0008, 0x0021, "DA", date)
	b.set(0x0008, 0x0022, "DA", date)
	b.set(0x0008, 0x0023, "DA", date)
	b.set(0x0008, 0x0030, "TM", tm)
	b.set(0x0008, 0x0031, "TM", tm)
	b.set(0x0008, 0x0032, "TM", tm)
	b.set(0x0008, 0x0033, "TM", tm)
	b.set(0x0008, 0x0050, "SH", subj.AccessionNumber)
	b.set(0x0008, 0x0060, "CS", k.Modality)
	b.set(0x0008, 0x0070, "LO", k.Manufacturer)
	b.set(0x0008, 0x0080, "LO", "medgate-sim clinic")
	b.set(0x0008, 0x0090, "PN", subj.ReferringPhysician)
	b.set(0x0008, 0x1010, "SH", opt.StationAE)
	b.set(0x0008, 0x1030, "LO", subj.StudyDescription)
	b.set(0x0008, 0x103E, "LO", k.SeriesDesc)
	b.set(0x0008, 0x1090, "LO", k.Model)
	b.set(0x0010, 0x0010, "PN", subj.PatientName)
	b.set(0x0010, 0x0020, "LO", subj.PatientID)
	b.set(0x0010, 0x0021, "LO", subj.IssuerOfPatientID)
	b.set(0x0010, 0x0030, "DA", subj.PatientBirthDate)
	b.set(0x0010, 0x0040, "CS", subj.PatientSex)
	b.set(0x0018, 0x0015, "CS", k.BodyPart)
	b.set(0x0018, 0x1000, "LO", "SIM0001")
	b.set(0x0018, 0x1020, "LO", "medgate-sim")
	b.set(0x0020, 0x000D, "UI", subj.StudyInstanceUID)
	b.set(0x0020, 0x000E, "UI", seriesUID)
	b.set(0x0020, 0x0010, "SH", "1")
	b.set(0x0020, 0x0011, "IS", strconv.Itoa(seriesNumber))
	b.set(0x0020, 0x0012, "IS", "1")
	b.set(0x0028, 0x0002, "US", "1")
	b.set(0x0028, 0x0004, "CS", "MONOCHROME2")
	b.set(0x0028, 0x0010, "US", strconv.Itoa(k.Rows))
	b.set(0x0028, 0x0011, "US", strconv.Itoa(k.Cols))
	b.set(0x0028, 0x0100, "US", "16")
	b.set(0x0028, 0x0101, "US", strconv.Itoa(k.BitsStored))
	b.set(0x0028, 0x0102, "US", strconv.Itoa(k.BitsStored-1))
	b.set(0x0028, 0x0103, "US", map[bool]string{true: "1", false: "0"}[k.Signed])
	b.set(0x0028, 0x1050, "DS", strconv.Itoa(k.WindowCenter))
	b.set(0x0028, 0x1051, "DS", strconv.Itoa(k.WindowWidth))
	b.set(0x0028, 0x2110, "CS", "00") // Lossy Image Compression: never lossy
	if k.volume {
		b.set(0x0018, 0x0050, "DS", ds16(k.Thickness))
		b.set(0x0018, 0x0060, "DS", "120")
		b.set(0x0018, 0x5100, "CS", "HFS")
		b.set(0x0020, 0x0037, "DS", `1\0\0\0\1\0`)
		b.set(0x0020, 0x0052, "UI", frameOfRef)
		b.set(0x0020, 0x1040, "LO", "")
		b.set(0x0028, 0x0030, "DS", ds16(k.PixelSpacing)+`\`+ds16(k.PixelSpacing))
		b.set(0x0028, 0x1052, "DS", ds16(k.Intercept))
		b.set(0x0028, 0x1053, "DS", "1")
		b.set(0x0028, 0x1054, "LO", "HU")
	}
	if k.presentationX {
		b.set(0x0008, 0x0068, "CS", "FOR PRESENTATION")
		b.set(0x0018, 0x0060, "DS", "70")
		b.set(0x0018, 0x1164, "DS", ds16(k.PixelSpacing)+`\`+ds16(k.PixelSpacing))
		b.set(0x0018, 0x7004, "CS", "SCINTILLATOR")
		b.set(0x0020, 0x0020, "CS", `R\F`)
		b.set(0x0020, 0x0062, "CS", "B")
		b.set(0x0028, 0x0301, "CS", "NO")
		b.set(0x0028, 0x1040, "CS", "LOG")
		b.set(0x0028, 0x1041, "SS", "1")
		b.set(0x0028, 0x1052, "DS", "0")
		b.set(0x0028, 0x1053, "DS", "1")
		b.set(0x0028, 0x1054, "LO", "US")
		b.set(0x2050, 0x0020, "CS", "IDENTITY")
	}
	if subj.AccessionNumber != "" || subj.RequestedProcedureID != "" {
		it := &builder{ds: &dcm.Dataset{}, cs: b.cs}
		it.set(0x0008, 0x0050, "SH", subj.AccessionNumber)
		it.set(0x0020, 0x000D, "UI", subj.StudyInstanceUID)
		it.set(0x0040, 0x0009, "SH", subj.ScheduledProcedureStepID)
		it.set(0x0040, 0x1001, "SH", subj.RequestedProcedureID)
		if it.err != nil {
			b.err = it.err
			return
		}
		b.seq(0x0040, 0x0275, it.ds) // Request Attributes Sequence
	}
}

func (o SeriesOptions) sopClass(k Kind) string {
	if o.MultiFrame {
		return EnhancedCTImageStorage
	}
	return k.SOPClass
}
