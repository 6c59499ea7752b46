package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// ctFile is a 4×4 signed 16-bit CT slice (rescale intercept -1024) whose
// pixels hold the stored values 1064 (40 HU) and 0 (-1024 HU), as a Part 10
// file in transfer syntax ts; pixel data is encapsulated junk for the
// compressed syntaxes.
func ctFile(t *testing.T, study, series, sop, ts string) []byte {
	t.Helper()
	ds := &dcm.Dataset{}
	set := func(tag dcm.Tag, vr, s string) {
		if err := ds.SetText(tag, vr, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	set(dcm.TagSOPClassUID, "", "1.2.840.10008.5.1.4.1.1.2")
	set(dcm.TagSOPInstanceUID, "", sop)
	set(dcm.TagModality, "", "CT")
	set(dcm.TagStudyInstanceUID, "", study)
	set(dcm.TagSeriesInstanceUID, "", series)
	set(dcm.TagSamplesPerPixel, "", "1")
	set(dcm.TagPhotometricInterpretation, "", "MONOCHROME2")
	set(dcm.TagRows, "", "4")
	set(dcm.TagColumns, "", "4")
	set(dcm.TagBitsAllocated, "", "16")
	set(dcm.TagBitsStored, "", "16")
	set(dcm.NewTag(0x0028, 0x0102), "US", "15") // High Bit
	set(dcm.TagPixelRepresentation, "", "1")
	set(dcm.NewTag(0x0028, 0x1050), "DS", "40")    // Window Center
	set(dcm.NewTag(0x0028, 0x1051), "DS", "400")   // Window Width
	set(dcm.NewTag(0x0028, 0x1052), "DS", "-1024") // Rescale Intercept
	set(dcm.NewTag(0x0028, 0x1053), "DS", "1")     // Rescale Slope
	var px []byte
	for i := range 16 {
		v := uint16(1064)
		if i%2 == 1 {
			v = 0
		}
		px = binary.LittleEndian.AppendUint16(px, v)
	}
	if ts == "1.2.840.10008.1.2.1" {
		ds.Set(&dcm.Element{Tag: dcm.TagPixelData, VR: "OW", Value: px})
	} else {
		ds.Set(&dcm.Element{Tag: dcm.TagPixelData, VR: "OB", Fragments: [][]byte{{}, {0xff, 0x4f, 0xff, 0x51, 0, 0}}})
	}
	// Encapsulated syntaxes are Explicit VR Little Endian around the
	// pixel data fragments.
	body, err := ds.Encode("1.2.840.10008.1.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return dul.Part10(&dul.FileMeta{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID: sop, TransferSyntax: ts}, body)
}

func TestStudyViewer(t *testing.T) {
	blobs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	eachStore(t, func(t *testing.T, e *env) {
		var p domain.Patient
		want(t, e.call(http.MethodPost, "/api/v1/patients", e.admin, patientJSON("Иванов", "Пётр")), http.StatusCreated, &p)
		study := "1.2.826.0.1.3680043.10.543." + fmt.Sprint(p.ID)
		series := study + ".1"
		put := func(sop, ts string) (domain.ImagingInstance, []byte) {
			raw := ctFile(t, study, series, sop, ts)
			f, _ := os.CreateTemp(blobs.TempDir(), "x-*")
			f.Write(raw)
			f.Close()
			sum := sha256.Sum256(raw)
			key, err := blobs.Put(e.ctx, f.Name(), sum)
			if err != nil {
				t.Fatal(err)
			}
			return domain.ImagingInstance{SOPInstanceUID: sop, SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", TransferSyntax: ts,
				Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]), Location: key}, raw
		}
		native, nativeRaw := put(series+".1", "1.2.840.10008.1.2.1")
		j2k, _ := put(series+".2", "1.2.840.10008.1.2.4.90")
		st := &domain.ImagingStudy{OrganizationID: e.org, PatientID: p.ID, StudyInstanceUID: study, Status: "available",
			Modalities: []string{"CT"}, Series: []domain.ImagingSeries{{UID: series, Number: 1, Modality: "CT",
				Instances: []domain.ImagingInstance{native, j2k}}}}
		if err := e.st.SaveImagingStudy(e.ctx, st, nil); err != nil {
			t.Fatal(err)
		}
		base := "/dicomweb/studies/" + study + "/series/" + series + "/instances/"

		var got domain.ImagingStudy
		want(t, e.get("/api/v1/studies/"+study, e.admin), http.StatusOK, &got)
		if got.ID != st.ID || got.NumberOfInstances != 2 || len(got.Series) != 1 {
			t.Fatalf("study %+v", got)
		}
		pngOf := func(r *response) image.Image {
			t.Helper()
			if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("rendered: %s", r)
			}
			img, err := png.Decode(bytes.NewReader(r.Body))
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
		// The dataset's window (40/400): 40 HU is mid-grey, -1024 HU black.
		img := pngOf(e.get(base+native.SOPInstanceUID+"/rendered", e.admin))
		if b := img.Bounds(); b.Dx() != 4 || b.Dy() != 4 {
			t.Fatalf("rendered %v", b)
		}
		g0, _, _, _ := img.At(0, 0).RGBA()
		g1, _, _, _ := img.At(1, 0).RGBA()
		if g0>>8 < 126 || g0>>8 > 129 || g1 != 0 {
			t.Errorf("window 40/400: pixels %d and %d, want about 127 and 0", g0>>8, g1>>8)
		}
		// A narrow window below 40 HU turns it white.
		img = pngOf(e.get(base+native.SOPInstanceUID+"/frames/1/rendered?window=-500,100", e.admin))
		if g, _, _, _ := img.At(0, 0).RGBA(); g>>8 != 255 {
			t.Errorf("window -500/100: pixel %d, want 255", g>>8)
		}
		if r := e.get(base+native.SOPInstanceUID+"/rendered?accept=image/jpeg", e.admin); r.Status != 200 || r.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("JPEG: %s", r.Header)
		}
		wantError(t, e.get(base+native.SOPInstanceUID+"/rendered?window=40", e.admin), http.StatusBadRequest, "window")
		wantError(t, e.get(base+native.SOPInstanceUID+"/frames/2/rendered", e.admin), http.StatusNotFound, "")
		r := e.get(base+j2k.SOPInstanceUID+"/rendered", e.admin)
		if ae := wantError(t, r, http.StatusUnsupportedMediaType, ""); !strings.Contains(ae.Message, "JPEG 2000") {
			t.Errorf("415 does not name the transfer syntax: %s", r.Body)
		}
		if r := e.get(base+native.SOPInstanceUID, e.admin); r.Status != 200 || !bytes.Equal(r.Body, nativeRaw) ||
			r.Header.Get("Content-Type") != "application/dicom" {
			t.Errorf("instance download: %d, %d bytes", r.Status, len(r.Body))
		}
		if r := e.get("/dicomweb/studies/"+study+"/series/"+series+"/thumbnail", e.admin); r.Status != 200 && r.Status != 415 {
			t.Errorf("thumbnail: %s", r)
		}

		// Another organization's user sees nothing of it.
		other := e.createOrg("ООО «Клиника Б»")
		_, token := e.createUser("doctor-b", other, domain.RoleDoctor)
		wantError(t, e.get("/api/v1/studies/"+study, token), http.StatusNotFound, "")
		wantError(t, e.get(base+native.SOPInstanceUID+"/rendered", token), http.StatusNotFound, "")

		// Every index read is audited; frames once per user and study
		// every ten minutes.
		reads := func() int {
			list, _, err := e.st.ListAudit(e.ctx, store.AuditQuery{Orgs: []int64{e.org}, PatientID: p.ID, Page: store.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range list {
				if ev.Event == "study.read" {
					n++
				}
			}
			return n
		}
		if n := reads(); n != 1 {
			t.Errorf("%d study.read audit events after the index and many frames, want 1", n)
		}
		e.clock.Advance(11 * time.Minute)
		pngOf(e.get(base+native.SOPInstanceUID+"/rendered", e.admin))
		if n := reads(); n != 2 {
			t.Errorf("%d study.read audit events after a frame ten minutes later, want 2", n)
		}
	}, func(s *api.Server) { s.Blobs = blobs })
}
