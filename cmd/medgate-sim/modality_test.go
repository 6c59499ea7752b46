package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/api/apitest"
	dcm "github.com/medgate/medgate/parsers/dicom"
	"github.com/medgate/medgate/parsers/dicom/dcmtktest"
)

// dcmtkTool finds a dcmtk tool (dcmtktest.Tool).
var dcmtkTool = dcmtktest.Tool

// startMedgateDICOM runs medgate with the devices of cfgDoc and returns
// its HTTP and DICOM addresses.
func startMedgateDICOM(t *testing.T, cfgDoc string) (httpAddr, dicomAddr string) {
	t.Helper()
	a := runMedgate(t, cfgDoc)
	return a.http, a.dicom
}

var api = apitest.Call

type modalityReport struct {
	Echo          string           `json:"echo"`
	WorklistItems int              `json:"worklist_items"`
	Accession     string           `json:"accession"`
	StudyUID      string           `json:"study_instance_uid"`
	Sent          int64            `json:"sent"`
	Statuses      map[string]int64 `json:"statuses"`
	Failures      int64            `json:"failures"`
	Errors        int64            `json:"errors"`
	ErrorSamples  []string         `json:"error_samples"`
	OK            bool             `json:"ok"`
	Latency       map[string]any   `json:"latency"`
}

// Flow 1 with the simulator as the scanner: a registrar schedules a CT for
// the unit's AE title; the simulator finds it in the worklist, sends 20
// slices with the worklist's patient, accession and Study Instance UID
// (ISO_IR 144, two associations); medgate answers 0x0000 to each, the
// patient's chart lists the study attached to the order with 20
// instances, and a viewer's findscu -S (study root) finds it.
func TestModalityAgainstMedgate(t *testing.T) {
	findscu := dcmtkTool(t, "findscu")
	httpAddr, dicomAddr := startMedgateDICOM(t, "devices:\n  - name: ct-1\n    protocol: dicom\n    ae_title: CT1\n    query: true\n")
	base := "http://" + httpAddr + "/api/v1"
	code, login := api(t, "POST", base+"/login", "", map[string]string{"login": "admin", "password": "correct-horse-42"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, login)
	}
	token := login["token"].(string)
	code, pat := api(t, "POST", base+"/patients", token, map[string]any{"family": "Щукина", "given": "Ольга", "patronymic": "Юрьевна",
		"birthDate": "1975-03-04", "gender": "female"})
	if code != 201 {
		t.Fatalf("patient: %d %v", code, pat)
	}
	code, order := api(t, "POST", base+"/orders", token, map[string]any{"patient": pat["id"], "category": "imaging",
		"modality": "CT", "procedure": "КТ органов грудной клетки", "scheduledStationAeTitle": "CT1"})
	if code != 201 {
		t.Fatalf("order: %d %v", code, order)
	}
	studyUID, accession := order["studyInstanceUid"].(string), order["accessionNumber"].(string)

	code, out, errOut := runSim(t, "modality", "-addr", dicomAddr, "-aet", "CT1", "-kind", "ct", "-slices", "20",
		"-assocs", "2", "-charset", "iso-ir-144", "-json")
	var r modalityReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, report is not JSON: %v\n%s%s", code, err, out, errOut)
	}
	if code != 0 || !r.OK || r.Echo != "ok" || r.WorklistItems != 1 || r.StudyUID != studyUID || r.Accession != accession ||
		r.Sent != 20 || r.Statuses["0x0000"] != 20 || len(r.Statuses) != 1 || r.Latency["n"] != 20.0 {
		t.Fatalf("exit %d, report %+v\n%s%s", code, r, out, errOut)
	}

	code, studies := api(t, "GET", base+"/patients/"+fmt.Sprint(pat["id"])+"/studies", token, nil)
	items, _ := studies["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("patient studies: %d %v", code, studies)
	}
	st := items[0].(map[string]any)
	if st["studyInstanceUid"] != studyUID || st["request"] != order["id"] || st["numberOfInstances"] != 20.0 {
		t.Errorf("study %v", st)
	}

	// A viewer asks medgate's study root for the study.
	host, port, _ := net.SplitHostPort(dicomAddr)
	dir := t.TempDir()
	cmd := exec.Command(findscu, "-S", "-X", "-aet", "CT1", "-aec", "MEDGATE",
		"-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "PatientName", "-k", "AccessionNumber="+accession,
		"-k", "NumberOfStudyRelatedInstances", host, port)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("findscu -S: %v\n%s", err, b)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "rsp*.dcm"))
	if len(files) != 1 {
		t.Fatalf("findscu -S: %d answers, want 1", len(files))
	}
	h, err := dcm.ReadHeader(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := h.Dataset.Int(dcm.TagNumberOfStudyRelatedInstances); h.StudyInstanceUID != studyUID || h.PatientName.Family != "Щукина" || n != 20 {
		t.Errorf("study root answer: study %q, name %+v, %d instances", h.StudyInstanceUID, h.PatientName, n)
	}

	// A unit medgate does not know is refused at association, in DICOM's terms.
	code, out, _ = runSim(t, "modality", "-addr", dicomAddr, "-aet", "STRANGER", "-no-worklist", "-slices", "1", "-rows", "16", "-cols", "16")
	if code != 1 || !strings.Contains(strings.ToLower(out), "calling ae title not recognized") {
		t.Errorf("unknown AE: exit %d\n%s", code, out)
	}
}

func TestModalityFlags(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"modality", "-kind", "nope"}, {"modality", "-charset", "koi8-r"}, {"modality", "-bogus"}, {"modality", "extra"},
		{"modality", "-assocs", "0"}, {"modality", "-kind", "pano", "-multiframe", "-no-echo", "-no-worklist"},
	} {
		errb.Reset()
		if code := dispatch(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	if code := dispatch(context.Background(), []string{"modality", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-jpeg-lossless") {
		t.Errorf("-h: exit %d\n%s", code, errb.String())
	}
}
