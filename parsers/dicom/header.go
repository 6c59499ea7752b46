package dicom

import (
	"bufio"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Header is what medgate indexes from a stored instance: the file meta
// information and the attributes before the pixel data, read without
// loading the pixel data (or any value over HeaderOptions.MaxValue).
type Header struct {
	// File meta information (group 0002); empty for ReadDatasetHeader.
	MediaStorageSOPClassUID    string
	MediaStorageSOPInstanceUID string
	TransferSyntaxUID          string
	SourceAE                   string
	ImplementationClassUID     string
	ImplementationVersionName  string

	SpecificCharacterSet []string
	SOPClassUID          string
	SOPInstanceUID       string
	StudyInstanceUID     string
	SeriesInstanceUID    string
	AccessionNumber      string
	PatientID            string
	IssuerOfPatientID    string
	PatientName          PersonName // decoded with the file's character set
	PatientNameText      string     // the whole decoded PN value
	PatientBirthDate     string     // DA, as written
	PatientSex           string
	StudyDate            string // DA
	StudyTime            string // TM
	StudyDescription     string
	StudyID              string
	Modality             string
	SeriesNumber         int // 0 when absent or not a number
	SeriesDescription    string
	BodyPartExamined     string
	InstanceNumber       int
	Rows, Columns        int
	NumberOfFrames       int    // 1 when absent
	ReferringPhysician   string // decoded PN value
	InstitutionName      string

	// Charset is the character set the text was decoded with (the
	// override when one was given).
	Charset *Charset
	// Meta and Dataset hold the elements read (values over MaxValue
	// left out). Text is raw bytes; decode with Charset.
	Meta    *Dataset
	Dataset *Dataset
	// PixelData describes the pixel data element, which is not read.
	PixelData PixelDataInfo
	// Problems lists non-fatal faults: text that did not decode (the
	// field then holds the text with U+FFFD where bytes were invalid),
	// numbers that did not parse. Each is a *CharsetError or *DecodeError
	// naming the tag.
	Problems []error
}

// PixelDataInfo locates the pixel data element without reading it.
type PixelDataInfo struct {
	Present      bool
	Tag          Tag    // (7FE0,0010), or Float/Double Float Pixel Data
	VR           string // OB or OW (OF/OD for float pixel data)
	Encapsulated bool   // undefined length: fragments follow
	// Offset is the byte offset of the value (after the element header)
	// in the file or stream; -1 for deflated data.
	Offset int64
	// Length is the value length; -1 when undefined (encapsulated).
	Length int64
}

// HeaderOptions tune ReadHeaderFrom and ReadDatasetHeader. The zero value
// is the default.
type HeaderOptions struct {
	// Charset overrides Specific Character Set for text decoding (a
	// device profile's setting, e.g. "windows-1251").
	Charset string
	// MaxValue is the largest value kept in memory (default 64 KiB);
	// larger values are skipped.
	MaxValue int
	// MaxTotal bounds the bytes of all values kept (default 16 MiB);
	// values past it are skipped and a problem is recorded.
	MaxTotal int64
}

// ReadHeader reads the header of a DICOM Part 10 file. Errors from
// opening the file are returned as they are; a file that is not DICOM or
// whose meta header or dataset does not parse gives an error wrapping
// ErrNotDICOM (and the *DecodeError saying where).
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHeader(f, f, -1, "", nil)
}

// ReadHeaderFrom reads the header of a DICOM Part 10 stream. It reads only
// up to the pixel data. When r is an io.Seeker positioned at the start of
// the file, large values are skipped by seeking.
func ReadHeaderFrom(r io.Reader, opts *HeaderOptions) (*Header, error) {
	s, _ := r.(io.ReadSeeker)
	var seeker io.Seeker
	if s != nil {
		if pos, err := s.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
			seeker = s
		}
	}
	return readHeader(r, seeker, -1, "", opts)
}

// ReadDatasetHeader reads the header of a bare dataset (no preamble, no
// file meta), as a C-STORE SCP receives it, in the given transfer syntax.
func ReadDatasetHeader(r io.Reader, transferSyntaxUID string, opts *HeaderOptions) (*Header, error) {
	return readHeader(r, nil, -1, transferSyntaxUID, opts)
}

func notDICOM(err error) error {
	return fmt.Errorf("%w: %w", ErrNotDICOM, err)
}

func readHeader(r io.Reader, seeker io.Seeker, size int64, bareTS string, opts *HeaderOptions) (*Header, error) {
	var o HeaderOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxValue <= 0 {
		o.MaxValue = 64 << 10
	}
	if o.MaxTotal <= 0 {
		o.MaxTotal = 16 << 20
	}
	if seeker != nil {
		// Skips seek, so the size must be known to tell a value that runs
		// past the end from one that does not.
		size = -1
		if f, ok := seeker.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				size = st.Size()
			}
		} else if end, err := seeker.Seek(0, io.SeekEnd); err == nil {
			if _, err := seeker.Seek(0, io.SeekStart); err == nil {
				size = end
			}
		}
		if size < 0 {
			seeker = nil
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	src := &streamSource{r: br, seek: seeker, base: r, size: size}
	h := &Header{NumberOfFrames: 1, PixelData: PixelDataInfo{Offset: -1}}
	var total int64
	totalHit := false
	keep := func(t Tag, vr string, n uint32) bool {
		if int64(n) > int64(o.MaxValue) {
			return false
		}
		if total+int64(n) > o.MaxTotal {
			totalHit = true
			return false
		}
		total += int64(n)
		return true
	}

	ts := bareTS
	if bareTS == "" {
		var pre [132]byte
		if err := src.readFull(pre[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, notDICOM(&DecodeError{Offset: src.pos(), Msg: "shorter than the 128-byte preamble and DICM prefix", Err: ErrTruncated})
			}
			return nil, err
		}
		if string(pre[128:]) != "DICM" {
			return nil, notDICOM(&DecodeError{Offset: 128, Msg: "no DICM prefix", Err: ErrMalformed})
		}
		meta, err := readMeta(src, keep)
		if err != nil {
			return nil, notDICOM(err)
		}
		h.Meta = meta
		for _, f := range []struct {
			t   Tag
			dst *string
		}{
			{TagMediaStorageSOPClassUID, &h.MediaStorageSOPClassUID},
			{TagMediaStorageSOPInstanceUID, &h.MediaStorageSOPInstanceUID},
			{TagTransferSyntaxUID, &h.TransferSyntaxUID},
			{TagSourceApplicationEntityTitle, &h.SourceAE},
			{TagImplementationClassUID, &h.ImplementationClassUID},
			{TagImplementationVersionName, &h.ImplementationVersionName},
		} {
			s, err := meta.String(f.t, nil)
			if err != nil {
				h.Problems = append(h.Problems, err)
			}
			*f.dst = s
		}
		ts = h.TransferSyntaxUID
		if ts == "" {
			return nil, notDICOM(&DecodeError{Offset: src.pos(), Tag: TagTransferSyntaxUID, Msg: "file meta has no Transfer Syntax UID", Err: ErrMalformed})
		}
	} else {
		h.TransferSyntaxUID = bareTS
	}
	syn, ok := lookupSyntax(ts, true)
	if !ok {
		return nil, notDICOM(&DecodeError{Offset: src.pos(), Tag: TagTransferSyntaxUID, Msg: "transfer syntax " + quoteUID(ts) + " not supported", Err: ErrTransferSyntax})
	}
	var dsrc source = src
	if syn.deflate {
		fr := flate.NewReader(br)
		defer fr.Close()
		dsrc = &streamSource{r: bufio.NewReaderSize(fr, 64<<10), size: -1}
	}
	d := &decoder{src: dsrc, syn: syn, keep: keep, stop: func(t Tag) bool { return t >= 0x7FE00008 && t <= TagPixelData }}
	ds, err := d.readDataset(-1, false, true)
	if err != nil {
		return nil, notDICOM(err)
	}
	h.Dataset = ds
	if pe := d.stopped; pe != nil {
		h.PixelData = PixelDataInfo{Present: true, Tag: pe.Tag, VR: pe.VR, Offset: -1, Length: int64(d.stoppedLen)}
		if d.stoppedLen == undefinedLength {
			h.PixelData.Encapsulated, h.PixelData.Length = true, -1
		}
		if !syn.deflate {
			h.PixelData.Offset = dsrc.pos()
		}
	}
	if totalHit {
		h.Problems = append(h.Problems, &DecodeError{Offset: dsrc.pos(), Msg: "header values exceed " + strconv.FormatInt(o.MaxTotal, 10) + " bytes; the rest were skipped", Err: ErrTooLarge})
	}
	h.fill(o.Charset)
	return h, nil
}

// readMeta reads the group 0002 elements (always Explicit VR Little
// Endian), stopping at the first element of another group. It does not
// trust (0002,0000): writers get it wrong.
func readMeta(src *streamSource, keep func(Tag, string, uint32) bool) (*Dataset, error) {
	d := &decoder{src: src, syn: syntax{bo: littleEndian}, keep: keep}
	ds := &Dataset{}
	for {
		p, err := src.r.Peek(2)
		if err != nil || littleEndian.Uint16(p) != 0x0002 {
			break
		}
		start := src.pos()
		t, err := d.readTag()
		if err != nil {
			return nil, d.ioErr(start, 0, err, "a file meta element")
		}
		e, err := d.readElement(t, start)
		if err != nil {
			return nil, err
		}
		if e != nil {
			ds.Set(e)
		}
	}
	if len(ds.Elements) == 0 {
		return nil, &DecodeError{Offset: src.pos(), Msg: "no file meta information after DICM", Err: ErrMalformed}
	}
	return ds, nil
}

func (h *Header) fill(override string) {
	ds := h.Dataset
	var err error
	h.SpecificCharacterSet, _ = ds.Strings(TagSpecificCharacterSet, nil)
	h.Charset, err = CharsetFor(ds, override)
	if err != nil {
		h.Problems = append(h.Problems, err)
		h.Charset = nil
	}
	str := func(t Tag) string {
		s, err := ds.String(t, h.Charset)
		if err != nil {
			h.Problems = append(h.Problems, err)
			return lossyText(ds.Get(t), h.Charset)
		}
		return s
	}
	num := func(t Tag) int {
		e := ds.Get(t)
		if e == nil || len(e.Value) == 0 {
			return 0
		}
		n, ok := ds.Int(t)
		if !ok {
			h.Problems = append(h.Problems, &DecodeError{Tag: t, Msg: "not a number", Err: ErrValue})
		}
		return int(n)
	}
	h.SOPClassUID = str(TagSOPClassUID)
	h.SOPInstanceUID = str(TagSOPInstanceUID)
	h.StudyInstanceUID = str(TagStudyInstanceUID)
	h.SeriesInstanceUID = str(TagSeriesInstanceUID)
	h.AccessionNumber = str(TagAccessionNumber)
	h.PatientID = str(TagPatientID)
	h.IssuerOfPatientID = str(TagIssuerOfPatientID)
	h.PatientNameText = str(TagPatientName)
	h.PatientName = ParsePersonName(h.PatientNameText)
	h.PatientBirthDate = str(TagPatientBirthDate)
	h.PatientSex = str(TagPatientSex)
	h.StudyDate = str(TagStudyDate)
	h.StudyTime = str(TagStudyTime)
	h.StudyDescription = str(TagStudyDescription)
	h.StudyID = str(TagStudyID)
	h.Modality = str(TagModality)
	h.SeriesNumber = num(TagSeriesNumber)
	h.SeriesDescription = str(TagSeriesDescription)
	h.BodyPartExamined = str(TagBodyPartExamined)
	h.InstanceNumber = num(TagInstanceNumber)
	h.Rows = num(TagRows)
	h.Columns = num(TagColumns)
	if n := num(TagNumberOfFrames); n > 0 {
		h.NumberOfFrames = n
	}
	h.ReferringPhysician = str(TagReferringPhysicianName)
	h.InstitutionName = str(TagInstitutionName)
}

// lossyText decodes what it can and puts U+FFFD where bytes are invalid.
func lossyText(e *Element, cs *Charset) string {
	if e == nil {
		return ""
	}
	b := []byte(strings.TrimRight(string(e.Value), " \x00"))
	var out strings.Builder
	for len(b) > 0 {
		s, err := cs.Decode(b, e.VR)
		if err == nil {
			out.WriteString(s)
			break
		}
		var ce *CharsetError
		if !errors.As(err, &ce) || ce.Offset >= len(b) {
			out.WriteRune('\uFFFD')
			break
		}
		if ce.Offset > 0 {
			if s, err := cs.Decode(b[:ce.Offset], e.VR); err == nil {
				out.WriteString(s)
			}
		}
		out.WriteRune('\uFFFD')
		b = b[ce.Offset+1:]
	}
	return trimText(out.String(), e.VR)
}

// CheckAgainst checks the instance against the C-STORE command that
// brought it: the dataset's SOP Class and Instance UIDs must be present
// and equal to the command's (an empty argument is not checked), and to
// the file meta's Media Storage SOP Class/Instance UIDs when there is a
// file meta. The error is a *MismatchError wrapping ErrMismatch.
func (h *Header) CheckAgainst(sopClass, sopInstance string) error {
	if h.SOPInstanceUID == "" {
		return &MismatchError{Attribute: "SOP Instance UID", Against: "command", Want: sopInstance}
	}
	if h.SOPClassUID == "" {
		return &MismatchError{Attribute: "SOP Class UID", Against: "command", Want: sopClass}
	}
	if sopInstance != "" && sopInstance != h.SOPInstanceUID {
		return &MismatchError{Attribute: "SOP Instance UID", Against: "command", Want: sopInstance, Got: h.SOPInstanceUID}
	}
	if sopClass != "" && sopClass != h.SOPClassUID {
		return &MismatchError{Attribute: "SOP Class UID", Against: "command", Want: sopClass, Got: h.SOPClassUID}
	}
	if h.MediaStorageSOPInstanceUID != "" && h.MediaStorageSOPInstanceUID != h.SOPInstanceUID {
		return &MismatchError{Attribute: "SOP Instance UID", Against: "file meta", Want: h.MediaStorageSOPInstanceUID, Got: h.SOPInstanceUID}
	}
	if h.MediaStorageSOPClassUID != "" && h.MediaStorageSOPClassUID != h.SOPClassUID {
		return &MismatchError{Attribute: "SOP Class UID", Against: "file meta", Want: h.MediaStorageSOPClassUID, Got: h.SOPClassUID}
	}
	return nil
}
