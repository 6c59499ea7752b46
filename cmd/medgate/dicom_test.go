package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dul "github.com/medgate/medgate/listeners/dicom"
	dcm "github.com/medgate/medgate/parsers/dicom"
	"github.com/medgate/medgate/parsers/dicom/dcmtktest"
)

// dcmtk finds a dcmtk tool (dcmtktest.Tool).
var dcmtk = dcmtktest.Tool

// TestDICOMWithDcmtk is flow 1 end to end against dcmtk's own SCUs: the
// scanner reads the worklist (Cyrillic intact in ISO_IR 144), stores the
// study, and the doctor's viewer renders a slice attached to the order.
func TestDICOMWithDcmtk(t *testing.T) {
	findscu, storescu, echoscu := dcmtk(t, "findscu"), dcmtk(t, "storescu"), dcmtk(t, "echoscu")
	dir := t.TempDir()
	doc := "devices:\n  - name: cbct-1\n    protocol: dicom\n    ae_title: CBCT1\n    encoding: iso-ir-144\n    query: true\n"
	p := startConfig(t, dir, doc)
	defer p.stop(t)
	if p.dicom == "" {
		t.Fatalf("no DICOM listener in the banner:\n%s", p.banner)
	}
	host, port, _ := net.SplitHostPort(p.dicom)
	token, base := p.admin(t)
	code, pat := call(t, "POST", base+"/patients", token, map[string]any{"family": "Щукина", "given": "Ольга", "patronymic": "Юрьевна",
		"birthDate": "1975-03-04", "gender": "female"})
	if code != 201 {
		t.Fatalf("patient: %d %v", code, pat)
	}
	code, order := call(t, "POST", base+"/orders", token, map[string]any{"patient": pat["id"], "category": "imaging",
		"modality": "CT", "procedure": "КЛКТ нижней челюсти", "scheduledStationAeTitle": "CBCT1"})
	if code != 201 {
		t.Fatalf("order: %d %v", code, order)
	}
	studyUID, accession := order["studyInstanceUid"].(string), order["accessionNumber"].(string)

	// echoscu from an unregistered AE title is rejected in DICOM's terms.
	out, err := exec.Command(echoscu, "-aet", "STRANGER", "-aec", "MEDGATE", host, port).CombinedOutput()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "calling ae title not recognized") {
		t.Errorf("echoscu from an unknown AE: %v\n%s", err, out)
	}
	if out, err := exec.Command(echoscu, "-aet", "CBCT1", "-aec", "MEDGATE", host, port).CombinedOutput(); err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}

	// The worklist, as the scanner asks for it.
	wl := t.TempDir()
	cmd := exec.Command(findscu, "-W", "-X", "-aet", "CBCT1", "-aec", "MEDGATE",
		"-k", "ScheduledProcedureStepSequence[0].Modality=CT",
		"-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CBCT1",
		"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
		"-k", "PatientName", "-k", "PatientID", "-k", "IssuerOfPatientID", "-k", "AccessionNumber", "-k", "StudyInstanceUID",
		host, port)
	cmd.Dir = wl
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("findscu -W: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(wl, "rsp*.dcm"))
	if len(files) != 1 {
		t.Fatalf("%d worklist items, want 1", len(files))
	}
	h, err := dcm.ReadHeader(files[0])
	if err != nil {
		t.Fatalf("worklist item: %v", err)
	}
	if h.PatientName.Family != "Щукина" || h.PatientName.Middle != "Юрьевна" || h.AccessionNumber != accession ||
		h.StudyInstanceUID != studyUID || h.IssuerOfPatientID != "MEDGATE" || strings.Join(h.SpecificCharacterSet, `\`) != "ISO_IR 144" {
		t.Errorf("worklist item: name %+v, accession %q, study %q, issuer %q, charset %v", h.PatientName, h.AccessionNumber,
			h.StudyInstanceUID, h.IssuerOfPatientID, h.SpecificCharacterSet)
	}

	// The scanner stores two slices of the study with what the worklist gave it.
	var paths []string
	for n := 1; n <= 2; n++ {
		ds := &dcm.Dataset{}
		cs, _ := dcm.NewCharset("ISO_IR 144")
		for _, kv := range []struct {
			tag dcm.Tag
			vr  string
			v   string
		}{
			{dcm.TagSpecificCharacterSet, "", "ISO_IR 144"}, {dcm.TagSOPClassUID, "", "1.2.840.10008.5.1.4.1.1.2"},
			{dcm.TagSOPInstanceUID, "", fmt.Sprintf("%s.1.%d", studyUID, n)}, {dcm.TagModality, "", "CT"},
			{dcm.TagPatientName, "", "Щукина^Ольга^Юрьевна"}, {dcm.TagPatientID, "", h.PatientID}, {dcm.TagIssuerOfPatientID, "", "MEDGATE"},
			{dcm.TagAccessionNumber, "", accession}, {dcm.TagStudyInstanceUID, "", studyUID}, {dcm.TagSeriesInstanceUID, "", studyUID + ".1"},
			{dcm.TagInstanceNumber, "", fmt.Sprint(n)}, {dcm.TagSamplesPerPixel, "", "1"}, {dcm.TagPhotometricInterpretation, "", "MONOCHROME2"},
			{dcm.TagRows, "", "2"}, {dcm.TagColumns, "", "2"}, {dcm.TagBitsAllocated, "", "8"}, {dcm.TagBitsStored, "", "8"},
			{dcm.NewTag(0x0028, 0x0102), "US", "7"}, {dcm.TagPixelRepresentation, "", "0"},
		} {
			if err := ds.SetText(kv.tag, kv.vr, kv.v, cs); err != nil {
				t.Fatal(err)
			}
		}
		ds.Set(&dcm.Element{Tag: dcm.TagPixelData, VR: "OB", Value: []byte{0, 64, 128, 255}})
		body, err := ds.Encode("1.2.840.10008.1.2.1")
		if err != nil {
			t.Fatal(err)
		}
		sop := fmt.Sprintf("%s.1.%d", studyUID, n)
		path := filepath.Join(dir, fmt.Sprintf("slice%d.dcm", n))
		raw := dul.Part10(&dul.FileMeta{SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", SOPInstanceUID: sop, TransferSyntax: "1.2.840.10008.1.2.1"}, body)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	if out, err := exec.Command(storescu, append([]string{"-aet", "CBCT1", "-aec", "MEDGATE", host, port}, paths...)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
	code, studies := call(t, "GET", base+"/patients/"+fmt.Sprint(pat["id"])+"/studies", token, nil)
	items, _ := studies["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("patient studies: %d %v", code, studies)
	}
	st := items[0].(map[string]any)
	if st["studyInstanceUid"] != studyUID || st["request"] != order["id"] || st["numberOfInstances"] != 2.0 {
		t.Errorf("study %v", st)
	}
	req, _ := http.NewRequest("GET", "http://"+p.addr+"/dicomweb/studies/"+studyUID+"/series/"+studyUID+".1/instances/"+studyUID+".1.1/rendered", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("rendered slice: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
