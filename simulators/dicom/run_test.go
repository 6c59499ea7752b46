package dicom

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	dul "github.com/medgate/medgate/listeners/dicom"
)

// The scanner reads its worklist (Cyrillic in ISO_IR 144), and sends two
// small CT series over three associations to an in-process SCP that
// accepts: every instance answered 0x0000, carrying the worklist's
// patient and study, re-encoded in ISO_IR 192.
func TestRunAgainstAcceptingSCP(t *testing.T) {
	wl := newStaticWorklist("CT1", "CT", "2.25.1234567")
	addr, rec := startSCP(t, nil, wl, "")
	rep, err := Run(context.Background(), Config{Addr: addr, CallingAE: "CT1", Kind: "ct", Slices: 10, Rows: 64, Cols: 64, Count: 2, Assocs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Echo != "ok" || rep.WorklistItems != 1 || rep.Sent != 20 || rep.Success != 20 || rep.Statuses["0x0000"] != 20 ||
		len(rep.Statuses) != 1 || rep.Latency.N != 20 || rep.InstancesPerSec <= 0 || rep.Bytes < 20*64*64*2 {
		t.Fatalf("report %+v", rep)
	}
	if rep.StudyInstanceUID != "2.25.1234567" || rep.Accession != "A0000042" || rep.PatientID != "4242" {
		t.Errorf("report subject %q %q %q", rep.StudyInstanceUID, rep.Accession, rep.PatientID)
	}
	if len(rec.headers) != 20 {
		t.Fatalf("%d instances received", len(rec.headers))
	}
	sops, series := map[string]bool{}, map[string]bool{}
	for _, h := range rec.headers {
		sops[h.SOPInstanceUID] = true
		series[h.SeriesInstanceUID] = true
		if h.PatientName.Family != "Щукина" || h.PatientName.Middle != "Юрьевна" || h.PatientID != "4242" || h.IssuerOfPatientID != "MEDGATE" ||
			h.AccessionNumber != "A0000042" || h.StudyInstanceUID != "2.25.1234567" || h.Modality != "CT" ||
			strings.Join(h.SpecificCharacterSet, `\`) != "ISO_IR 192" || h.SOPClassUID != CTImageStorage || h.Rows != 64 ||
			!strings.HasPrefix(h.SOPInstanceUID, "2.25.") || !strings.HasPrefix(h.SeriesInstanceUID, "2.25.") || h.StudyDescription != "КТ грудной клетки" {
			t.Fatalf("header %+v", h)
		}
	}
	if len(sops) != 20 || len(series) != 2 {
		t.Errorf("%d distinct instances, %d series", len(sops), len(series))
	}

	var text strings.Builder
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "0x0000 × 20") || !strings.Contains(text.String(), "result:       OK") {
		t.Errorf("text report:\n%s", text.String())
	}
}

// An SCP that cannot store answers 0xA700: every failure is counted with
// its comment and the report fails.
func TestRunAgainstFailingSCP(t *testing.T) {
	addr, _ := startSCP(t, func(ctx context.Context, env *listeners.Envelope) error {
		return listeners.ErrUnavailable
	}, nil, "")
	rep, err := Run(context.Background(), Config{Addr: addr, Kind: "ct", Slices: 6, Rows: 32, Cols: 32, Assocs: 2, NoWorklist: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Failures != 6 || rep.Statuses["0xA700"] != 6 || rep.Success != 0 || rep.Sent != 6 ||
		len(rep.FailureComments) != 1 || !strings.HasPrefix(rep.FailureComments[0], "0xA700: out of resources") {
		t.Fatalf("report %+v", rep)
	}
	if p := strings.Join(rep.Problems(), "; "); !strings.Contains(p, "6 C-STORE failure statuses") {
		t.Errorf("problems %q", p)
	}
}

// Without a worklist item for the AE title the run stops before sending
// and says why.
func TestRunEmptyWorklist(t *testing.T) {
	addr, rec := startSCP(t, nil, newStaticWorklist("OTHER", "CT", "2.25.1"), "")
	rep, err := Run(context.Background(), Config{Addr: addr, CallingAE: "CT1", Slices: 2, Rows: 16, Cols: 16})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Sent != 0 || len(rep.ErrorSamples) != 1 || !strings.Contains(rep.ErrorSamples[0], "worklist empty") || len(rec.headers) != 0 {
		t.Fatalf("report %+v", rep)
	}
}

// Every kind, single- and multi-frame, native and JPEG Lossless, reaches
// the SCP as the SOP class and transfer syntax it claims, and medgate's
// header reader takes it.
func TestKinds(t *testing.T) {
	dir := t.TempDir()
	addr, rec := startSCP(t, nil, nil, dir)
	cases := []struct {
		cfg      Config
		sop, ts  string
		modality string
		frames   int
	}{
		{Config{Kind: "cbct", Slices: 3, Rows: 100, Cols: 100, JPEGLossless: true}, CTImageStorage, dul.JPEGLosslessSV1, "CT", 1},
		{Config{Kind: "cbct", Slices: 5, Rows: 80, Cols: 80, MultiFrame: true}, EnhancedCTImageStorage, dul.ExplicitVRLittleEndian, "CT", 5},
		{Config{Kind: "ct", Slices: 4, Rows: 64, Cols: 64, MultiFrame: true, JPEGLossless: true}, EnhancedCTImageStorage, dul.JPEGLosslessSV1, "CT", 4},
		{Config{Kind: "pano", Charset: "ISO_IR 144"}, DXForPresentationStorage, dul.ExplicitVRLittleEndian, "PX", 1},
		{Config{Kind: "intraoral"}, IntraOralForPresentationSOP, dul.ExplicitVRLittleEndian, "IO", 1},
	}
	for _, c := range cases {
		rec.headers = nil
		cfg := c.cfg
		cfg.Addr, cfg.NoWorklist = addr, true
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if !cfg.MultiFrame {
			want = max(cfg.Slices, 1)
		}
		if !rep.OK() || rep.Success != int64(want) || len(rep.TransferSyntaxes) != 1 || rep.TransferSyntaxes[0] != c.ts {
			t.Errorf("%+v: report %+v", cfg, rep)
			continue
		}
		h := rec.headers[0]
		if h.SOPClassUID != c.sop || h.TransferSyntaxUID != c.ts || h.Modality != c.modality || h.NumberOfFrames != c.frames ||
			h.PatientName.Family == "" || !h.PixelData.Present {
			t.Errorf("%+v: header %+v", cfg, h)
		}
		if cfg.Charset == "ISO_IR 144" && strings.Join(h.SpecificCharacterSet, `\`) != "ISO_IR 144" {
			t.Errorf("charset %v", h.SpecificCharacterSet)
		}
		if !cfg.JPEGLossless && h.PixelData.Length != int64(h.Rows*h.Columns*2*c.frames) {
			t.Errorf("%+v: pixel data length %d", cfg, h.PixelData.Length)
		}
	}
}

// dcmtk's storescp takes what the simulator sends, in both transfer
// syntax families, over several associations, and dcmdump reads every
// file it wrote.
func TestAgainstStorescp(t *testing.T) {
	storescp, dcmdump := dcmtk(t, "storescp"), dcmtk(t, "dcmdump")
	for _, c := range []Config{
		{Kind: "ct", Slices: 12, Rows: 128, Cols: 128, Assocs: 3},
		{Kind: "cbct", Slices: 6, Rows: 100, Cols: 100, JPEGLossless: true, Assocs: 2},
		{Kind: "cbct", Slices: 4, Rows: 64, Cols: 64, MultiFrame: true},
		{Kind: "pano"},
	} {
		out := t.TempDir()
		addr := runStorescp(t, storescp, out)
		cfg := c
		cfg.Addr, cfg.CalledAE, cfg.NoWorklist = addr, "STORESCP", true
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := max(cfg.Slices, 1)
		if cfg.MultiFrame {
			want = 1
		}
		if !rep.OK() || rep.Success != int64(want) || rep.Echo != "ok" {
			t.Fatalf("%+v: report %+v", cfg, rep)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*"))
		if len(files) != want {
			t.Fatalf("%+v: storescp wrote %d files, want %d", cfg, len(files), want)
		}
		for _, f := range files {
			dump, err := exec.Command(dcmdump, "-q", "+P", "0002,0010", "+P", "0010,0010", "+P", "0028,0008", f).CombinedOutput()
			if err != nil {
				t.Fatalf("dcmdump %s: %v\n%s", f, err, dump)
			}
			wantTS := "LittleEndianExplicit"
			if cfg.JPEGLossless {
				wantTS = "JPEGLossless:Non-hierarchical-1stOrderPrediction"
			}
			if !strings.Contains(string(dump), wantTS) || !strings.Contains(string(dump), "^") {
				t.Errorf("%+v: dcmdump:\n%s", cfg, dump)
			}
		}
	}
}

// runStorescp starts dcmtk's storescp on a free loopback port writing to
// dir, and returns its address once it accepts connections.
func runStorescp(t *testing.T, storescp, dir string) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(storescp, "-aet", "STORESCP", "-pdu", "131072", "+xa", "+B", "-dhl", "-od", dir, port)
	cmd.Env = append(os.Environ(), "TCP_NODELAY=1")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := dialTimeout(addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("storescp did not listen on %s:\n%s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Cancelling the context aborts the associations: a partial report,
// interrupted, with what was answered counted and nothing counted twice.
func TestRunInterrupted(t *testing.T) {
	addr, _ := startSCP(t, func(ctx context.Context, env *listeners.Envelope) error {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}, nil, "")
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := Run(ctx, Config{Addr: addr, Slices: 200, Rows: 32, Cols: 32, Assocs: 2, NoWorklist: true,
		OnGenerated: func(*Series) { time.AfterFunc(150*time.Millisecond, cancel) }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Sent == 0 || rep.Sent >= 200 || rep.Success != rep.Sent || rep.NotSent != 200-rep.Sent || !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
}
