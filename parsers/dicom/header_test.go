package dicom

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	sdicom "github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

func TestReadHeaderTransferSyntaxes(t *testing.T) {
	cases := []struct {
		opt, ts string
	}{
		{"+ti", ImplicitVRLittleEndian},
		{"+te", ExplicitVRLittleEndian},
		{"+tb", ExplicitVRBigEndian},
		{"+td", DeflatedExplicitVRLittleEndian},
	}
	for _, c := range cases {
		t.Run(c.ts, func(t *testing.T) {
			f := dump2dcm(t, "ct_iso_ir_144.dump", c.opt)
			h, err := ReadHeader(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Problems) > 0 {
				t.Errorf("problems: %v", h.Problems)
			}
			want := map[string]string{
				"TransferSyntaxUID":  c.ts,
				"MediaStorageSOP":    "1.2.840.10008.5.1.4.1.1.2",
				"SOPClassUID":        "1.2.840.10008.5.1.4.1.1.2",
				"SOPInstanceUID":     "1.2.826.0.1.3680043.10.1234.3.1.1",
				"StudyInstanceUID":   "1.2.826.0.1.3680043.10.1234.1.1",
				"SeriesInstanceUID":  "1.2.826.0.1.3680043.10.1234.2.1",
				"AccessionNumber":    "ACC-0001",
				"PatientID":          "P-000123",
				"IssuerOfPatientID":  "MEDGATE-TEST",
				"Family":             "Иванов",
				"Given":              "Иван",
				"Middle":             "Иванович",
				"PatientBirthDate":   "19800229",
				"PatientSex":         "M",
				"StudyDate":          "20240315",
				"StudyTime":          "101530",
				"StudyDescription":   "КТ головы",
				"StudyID":            "S1",
				"Modality":           "CT",
				"SeriesDescription":  "Axial 1.0",
				"BodyPartExamined":   "HEAD",
				"ReferringPhysician": "Петрова^Мария",
				"InstitutionName":    "Клиника Тест",
				"Charset":            "ISO_IR 144",
			}
			got := map[string]string{
				"TransferSyntaxUID": h.TransferSyntaxUID, "MediaStorageSOP": h.MediaStorageSOPClassUID,
				"SOPClassUID": h.SOPClassUID, "SOPInstanceUID": h.SOPInstanceUID,
				"StudyInstanceUID": h.StudyInstanceUID, "SeriesInstanceUID": h.SeriesInstanceUID,
				"AccessionNumber": h.AccessionNumber, "PatientID": h.PatientID, "IssuerOfPatientID": h.IssuerOfPatientID,
				"Family": h.PatientName.Family, "Given": h.PatientName.Given, "Middle": h.PatientName.Middle,
				"PatientBirthDate": h.PatientBirthDate, "PatientSex": h.PatientSex, "StudyDate": h.StudyDate,
				"StudyTime": h.StudyTime, "StudyDescription": h.StudyDescription, "StudyID": h.StudyID,
				"Modality": h.Modality, "SeriesDescription": h.SeriesDescription, "BodyPartExamined": h.BodyPartExamined,
				"ReferringPhysician": h.ReferringPhysician, "InstitutionName": h.InstitutionName, "Charset": h.Charset.Name(),
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if h.SeriesNumber != 3 || h.InstanceNumber != 17 || h.Rows != 4 || h.Columns != 4 || h.NumberOfFrames != 1 {
				t.Errorf("numbers: series %d instance %d rows %d cols %d frames %d", h.SeriesNumber, h.InstanceNumber, h.Rows, h.Columns, h.NumberOfFrames)
			}
			pd := h.PixelData
			if !pd.Present || pd.Encapsulated || pd.Length != 32 || pd.VR != "OW" {
				t.Errorf("pixel data %+v", pd)
			}
			if c.ts != DeflatedExplicitVRLittleEndian {
				// The offset points at the pixel bytes: 16 values 0, 64, 128, ...
				raw, _ := os.ReadFile(f)
				if pd.Offset < 0 || pd.Offset+32 != int64(len(raw)) {
					t.Fatalf("offset %d of %d", pd.Offset, len(raw))
				}
				v := raw[pd.Offset+2 : pd.Offset+4]
				if (c.ts == ExplicitVRBigEndian && !bytes.Equal(v, []byte{0, 64})) || (c.ts != ExplicitVRBigEndian && !bytes.Equal(v, []byte{64, 0})) {
					t.Errorf("second pixel bytes % x", v)
				}
			} else if pd.Offset != -1 {
				t.Errorf("deflated offset %d", pd.Offset)
			}
			if err := h.CheckAgainst("1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.10.1234.3.1.1"); err != nil {
				t.Errorf("CheckAgainst: %v", err)
			}
			compareWithSuyashkumar(t, f, h)
		})
	}
}

// compareWithSuyashkumar parses the file with github.com/suyashkumar/dicom
// (pixel data skipped) and checks the identifiers and image size agree.
func compareWithSuyashkumar(t *testing.T, path string, h *Header) {
	t.Helper()
	ds, err := sdicom.ParseFile(path, nil, sdicom.SkipPixelData(), sdicom.AllowUnknownSpecificCharacterSet())
	if err != nil {
		t.Logf("suyashkumar/dicom cannot read %s: %v", filepath.Base(path), err)
		return
	}
	str := func(tg tag.Tag) string {
		e, err := ds.FindElementByTag(tg)
		if err != nil {
			return ""
		}
		if s, ok := e.Value.GetValue().([]string); ok && len(s) > 0 {
			return strings.TrimRight(s[0], " \x00")
		}
		if n, ok := e.Value.GetValue().([]int); ok && len(n) > 0 {
			return strings.TrimSpace(strings.Repeat(" ", 0) + itoa(n[0]))
		}
		return ""
	}
	checks := []struct {
		tg   tag.Tag
		ours string
	}{
		{tag.TransferSyntaxUID, h.TransferSyntaxUID},
		{tag.SOPClassUID, h.SOPClassUID},
		{tag.SOPInstanceUID, h.SOPInstanceUID},
		{tag.StudyInstanceUID, h.StudyInstanceUID},
		{tag.SeriesInstanceUID, h.SeriesInstanceUID},
		{tag.PatientID, h.PatientID},
		{tag.Rows, itoa(h.Rows)},
		{tag.Columns, itoa(h.Columns)},
	}
	for _, c := range checks {
		if got := str(c.tg); got != c.ours {
			t.Errorf("suyashkumar/dicom %v = %q, ours %q", c.tg, got, c.ours)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func TestReadHeaderEncapsulatedJPEG(t *testing.T) {
	needTool(t, "img2dcm")
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8(x * 4)})
		}
	}
	jp := filepath.Join(dir, "in.jpg")
	f, err := os.Create(jp)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "sc.dcm")
	run(t, "img2dcm", "-q", "-k", "PatientName=Тестова^Анна", "-k", "SpecificCharacterSet=ISO_IR 192", "-k", "PatientID=P-9", jp, out)
	h, err := ReadHeader(out)
	if err != nil {
		t.Fatal(err)
	}
	if h.TransferSyntaxUID != JPEGBaseline8Bit {
		t.Errorf("transfer syntax %q", h.TransferSyntaxUID)
	}
	if h.Rows != 48 || h.Columns != 64 || h.PatientName.Family != "Тестова" || h.PatientID != "P-9" {
		t.Errorf("header: rows %d cols %d name %+v id %q", h.Rows, h.Columns, h.PatientName, h.PatientID)
	}
	if !h.PixelData.Present || !h.PixelData.Encapsulated || h.PixelData.Length != -1 || h.PixelData.Offset <= 0 {
		t.Errorf("pixel data %+v", h.PixelData)
	}
	if err := h.CheckAgainst(h.MediaStorageSOPClassUID, h.MediaStorageSOPInstanceUID); err != nil {
		t.Error(err)
	}
	compareWithSuyashkumar(t, out, h)
}

// writePart10 writes a Part 10 file: meta, the dataset in ts, and a native
// Pixel Data element of pixelLen zero bytes written in chunks.
func writePart10(t testing.TB, path string, ds *Dataset, ts string, pixelLen int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writePart10To(t, f, ds, ts, pixelLen)
}

func writePart10To(t testing.TB, out io.Writer, ds *Dataset, ts string, pixelLen int64) {
	t.Helper()
	sopClass, _ := ds.String(TagSOPClassUID, nil)
	sopInst, _ := ds.String(TagSOPInstanceUID, nil)
	meta := &Dataset{}
	meta.Set(&Element{Tag: TagFileMetaInformationVersion, VR: "OB", Value: []byte{0, 1}})
	meta.SetText(TagMediaStorageSOPClassUID, "", sopClass, nil)
	meta.SetText(TagMediaStorageSOPInstanceUID, "", sopInst, nil)
	meta.SetText(TagTransferSyntaxUID, "", ts, nil)
	meta.SetText(TagImplementationClassUID, "", "1.2.826.0.1.3680043.10.1234.99", nil)
	meta.SetText(TagSourceApplicationEntityTitle, "", "CBCT1", nil)
	mb, err := meta.Encode(ExplicitVRLittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	gl := &Dataset{}
	gl.SetText(TagFileMetaInformationGroupLength, "", itoa(len(mb)), nil)
	gb, _ := gl.Encode(ExplicitVRLittleEndian)
	db, err := ds.Encode(ts)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	w.Write(make([]byte, 128))
	w.WriteString("DICM")
	w.Write(gb)
	w.Write(mb)
	w.Write(db)
	if pixelLen > 0 {
		px := &Dataset{Elements: []*Element{{Tag: TagPixelData, VR: "OW", Value: []byte{0, 0}}}}
		hb, _ := px.Encode(ts)
		hb = hb[:len(hb)-2] // header only; patch the length
		if ts == ImplicitVRLittleEndian {
			putLE32(hb[4:], uint32(pixelLen))
		} else {
			putLE32(hb[8:], uint32(pixelLen))
		}
		w.Write(hb)
		chunk := make([]byte, 1<<20)
		for left := pixelLen; left > 0; left -= int64(len(chunk)) {
			w.Write(chunk[:min(int64(len(chunk)), left)])
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func ctDataset(t testing.TB, rows, cols int) *Dataset {
	ds := &Dataset{}
	for _, kv := range []struct {
		tag Tag
		v   string
	}{
		{TagSOPClassUID, "1.2.840.10008.5.1.4.1.1.2"},
		{TagSOPInstanceUID, "1.2.826.0.1.3680043.10.1234.3.9"},
		{TagStudyInstanceUID, "1.2.826.0.1.3680043.10.1234.1.9"},
		{TagSeriesInstanceUID, "1.2.826.0.1.3680043.10.1234.2.9"},
		{TagModality, "CT"},
		{TagPatientID, "P-50"},
		{TagRows, itoa(rows)},
		{TagColumns, itoa(cols)},
		{TagBitsAllocated, "16"},
		{TagSamplesPerPixel, "1"},
	} {
		if err := ds.SetText(kv.tag, "", kv.v, nil); err != nil {
			t.Fatal(err)
		}
	}
	return ds
}

// TestReadHeaderLargeInstanceBoundedMemory reads the header of a ~50 MB
// native instance and logs what it allocated: pixel data is never read.
func TestReadHeaderLargeInstanceBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50 MB")
	}
	path := filepath.Join(t.TempDir(), "big.dcm")
	const rows, cols = 5000, 5000
	writePart10(t, path, ctDataset(t, rows, cols), ExplicitVRLittleEndian, rows*cols*2)
	for _, name := range []string{"file", "non-seekable stream"} {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var h *Header
		var err error
		if name == "file" {
			h, err = ReadHeader(path)
		} else {
			f, ferr := os.Open(path)
			if ferr != nil {
				t.Fatal(ferr)
			}
			h, err = ReadHeaderFrom(struct{ io.Reader }{f}, nil)
			f.Close()
		}
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: ReadHeader of a %d MB instance allocated %d KB in total", name, rows*cols*2>>20, alloc>>10)
		if alloc > 4<<20 {
			t.Errorf("%s: allocated %d bytes reading a header", name, alloc)
		}
		if h.Rows != rows || h.PixelData.Length != rows*cols*2 || h.SourceAE != "CBCT1" {
			t.Errorf("%s: header %+v", name, h.PixelData)
		}
	}
}

func TestReadHeaderSkipsLargeValues(t *testing.T) {
	ds := ctDataset(t, 2, 2)
	ds.Set(&Element{Tag: 0x00091010, VR: "OB", Value: make([]byte, 200<<10)})
	ds.Set(&Element{Tag: TagPatientComments, VR: "LT", Value: []byte("ok")})
	path := filepath.Join(t.TempDir(), "big-private.dcm")
	writePart10(t, path, ds, ImplicitVRLittleEndian, 8)
	h, err := ReadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Dataset.Has(0x00091010) || !h.Dataset.Has(TagPatientComments) || h.PixelData.Length != 8 {
		t.Errorf("large value kept or following value lost")
	}
}

func TestReadDatasetHeaderAndOverride(t *testing.T) {
	// A bare dataset as a C-STORE SCP receives it, with windows-1251
	// bytes although it declares ISO_IR 192 (a misconfigured device).
	ds := ctDataset(t, 2, 2)
	ds.SetText(TagSpecificCharacterSet, "", "ISO_IR 192", nil)
	ds.Set(&Element{Tag: TagPatientName, VR: "PN", Value: []byte{0xC8, 0xE2, 0xE0, 0xED, 0xEE, 0xE2, '^', 0xC8, 0xE2, 0xE0, 0xED}})
	b, _ := ds.Encode(ImplicitVRLittleEndian)
	h, err := ReadDatasetHeader(bytes.NewReader(b), ImplicitVRLittleEndian, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ce *CharsetError
	if len(h.Problems) != 1 || !errors.As(h.Problems[0], &ce) || ce.Tag != TagPatientName || ce.Offset != 0 {
		t.Fatalf("problems %v", h.Problems)
	}
	if !strings.Contains(h.PatientNameText, "\uFFFD") || !strings.Contains(h.PatientNameText, "^") {
		t.Errorf("lossy name %q", h.PatientNameText)
	}
	h, err = ReadDatasetHeader(bytes.NewReader(b), ImplicitVRLittleEndian, &HeaderOptions{Charset: "windows-1251"})
	if err != nil || len(h.Problems) != 0 || h.PatientName.Family != "Иванов" || h.PatientName.Given != "Иван" {
		t.Fatalf("override: %v %v %+v", err, h.Problems, h.PatientName)
	}
	if h.MediaStorageSOPInstanceUID != "" || h.CheckAgainst("", "1.2.826.0.1.3680043.10.1234.3.9") != nil {
		t.Error("bare dataset check")
	}
}

func TestReadHeaderNotDICOM(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.dcm")
	writePart10(t, good, ctDataset(t, 2, 2), ExplicitVRLittleEndian, 8)
	raw, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"empty":          nil,
		"text":           []byte(strings.Repeat("MSH|^~\\&|\r", 40)),
		"no DICM":        append(make([]byte, 128), "DICX"...),
		"DICM only":      append(make([]byte, 128), "DICM"...),
		"truncated meta": raw[:150],
		"bad TS":         bytes.Replace(raw, []byte(ExplicitVRLittleEndian+"\x00"), []byte("1.2.3.4.5.6.7.8.9.1"), 1),
		"truncated data": raw[:len(raw)-33],
	}
	for name, b := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, b, 0o600)
		_, err := ReadHeader(p)
		var de *DecodeError
		if !errors.Is(err, ErrNotDICOM) || !errors.As(err, &de) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ReadHeader(filepath.Join(dir, "missing.dcm")); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNotDICOM) {
		t.Errorf("missing file: %v", err)
	}
}

func TestCheckAgainst(t *testing.T) {
	h := &Header{SOPClassUID: "1.2.3", SOPInstanceUID: "1.2.3.4", MediaStorageSOPClassUID: "1.2.3", MediaStorageSOPInstanceUID: "1.2.3.4"}
	if err := h.CheckAgainst("1.2.3", "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		h          Header
		cls, inst  string
		attr, what string
	}{
		{*h, "1.2.3", "1.2.3.5", "SOP Instance UID", "command"},
		{*h, "1.2.9", "1.2.3.4", "SOP Class UID", "command"},
		{Header{SOPClassUID: "1.2.3", SOPInstanceUID: "1.2.3.4", MediaStorageSOPInstanceUID: "9.9"}, "", "", "SOP Instance UID", "file meta"},
		{Header{SOPClassUID: "1.2.3"}, "1.2.3", "1.2.3.4", "SOP Instance UID", "command"},
	}
	for _, c := range cases {
		err := c.h.CheckAgainst(c.cls, c.inst)
		var me *MismatchError
		if !errors.Is(err, ErrMismatch) || !errors.As(err, &me) || me.Attribute != c.attr || me.Against != c.what {
			t.Errorf("%+v: %v", c, err)
		}
		if len(err.Error()) > 64 {
			t.Errorf("error comment too long: %q", err)
		}
	}
}
