package dicom

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/listeners"
)

func TestEchoSCU(t *testing.T) {
	needTool(t, "echoscu")
	var seen sync.Map
	ts := startServer(t, &Server{
		Acceptor: func(ctx context.Context, a *Association) error {
			seen.Store(a.CallingAE, a)
			if a.CallingAE == "UNKNOWN" {
				return listeners.ErrUnknownDevice
			}
			return nil
		},
	})
	out, err := run(t, "echoscu", "-v", "-aet", "ECHOSCU", "-aec", "MEDGATE", "127.0.0.1", ts.port())
	if err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	v, ok := seen.Load("ECHOSCU")
	if !ok {
		t.Fatal("Acceptor did not see ECHOSCU")
	}
	if a := v.(*Association); a.CalledAE != "MEDGATE" || a.ImplementationClassUID == "" || !strings.HasPrefix(a.Peer, "127.0.0.1:") {
		t.Errorf("association = %+v", a)
	}

	out, err = run(t, "echoscu", "-aet", "ECHOSCU", "-aec", "WRONG", "127.0.0.1", ts.port())
	if err == nil || !strings.Contains(out, "Called AE Title Not Recognized") {
		t.Errorf("wrong called AE: err %v, output:\n%s", err, out)
	}
	out, err = run(t, "echoscu", "-aet", "UNKNOWN", "-aec", "MEDGATE", "127.0.0.1", ts.port())
	if err == nil || !strings.Contains(out, "Calling AE Title Not Recognized") {
		t.Errorf("unknown device: err %v, output:\n%s", err, out)
	}
}

func TestStoreSCU(t *testing.T) {
	needTool(t, "storescu")
	dcmdump := needTool(t, "dcmdump")
	rec := newRecorder(t)
	ts := startServer(t, &Server{Handler: rec, MaxPDULength: 16384})
	dir := t.TempDir()
	type file struct {
		path, ts string
		ds       []byte
		args     []string
	}
	var files []file
	add := func(name, tsUID string, o dsOpts, args ...string) {
		p, ds := writePart10(t, dir, name, tsUID, o)
		files = append(files, file{p, tsUID, ds, args})
	}
	add("ct-explicit.dcm", ExplicitVRLittleEndian, dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.826.0.1.3680043.9.7433.2.1", explicit: true, rows: 64, cols: 64})
	add("ct-big.dcm", ExplicitVRLittleEndian, dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.826.0.1.3680043.9.7433.2.2", explicit: true, rows: 1500, cols: 1500})
	add("ct-implicit.dcm", ImplicitVRLittleEndian, dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.826.0.1.3680043.9.7433.2.3", rows: 32, cols: 32}, "-xi")
	add("sc-jpegll.dcm", JPEGLosslessSV1, dsOpts{sopClass: scImageStorage, sopInstance: "1.2.826.0.1.3680043.9.7433.2.4", explicit: true, rows: 16, cols: 16,
		encapsulated: []byte("\xff\xd8synthetic jpeg lossless stream\xff\xd9")}, "-xs")

	for _, f := range files {
		args := append([]string{"-v", "-aet", "STORESCU", "-aec", "MEDGATE", "--max-pdu", "16384"}, f.args...)
		args = append(args, "127.0.0.1", ts.port(), f.path)
		out, err := run(t, "storescu", args...)
		if err != nil {
			t.Fatalf("storescu %s: %v\n%s", filepath.Base(f.path), err, out)
		}
	}
	envs, raw := rec.got()
	if len(envs) != len(files) {
		t.Fatalf("handler got %d instances, want %d", len(envs), len(files))
	}
	for i, f := range files {
		env := envs[i]
		meta, ds := datasetOf(t, raw[i])
		wantMeta, _, _ := ReadPart10(bytes.NewReader(mustRead(t, f.path)))
		if env.Protocol != listeners.DICOM || env.CallingAE != "STORESCU" || env.CalledAE != "MEDGATE" || env.Key != wantMeta.SOPInstanceUID || env.Type != wantMeta.SOPClassUID {
			t.Errorf("%s: envelope %+v", filepath.Base(f.path), env)
		}
		if env.Size != int64(len(raw[i])) || env.Digest != sha(raw[i]) {
			t.Errorf("%s: size/digest do not match the file", filepath.Base(f.path))
		}
		if meta.TransferSyntax != f.ts || meta.SOPInstanceUID != wantMeta.SOPInstanceUID || meta.SourceAE != "STORESCU" || meta.ImplementationClassUID != ImplementationClassUID {
			t.Errorf("%s: meta %+v", filepath.Base(f.path), meta)
		}
		if !bytes.Equal(ds, f.ds) {
			t.Errorf("%s: stored data set (%d bytes) differs from the sent one (%d bytes)", filepath.Base(f.path), len(ds), len(f.ds))
		}
		if out, err := exec.Command(dcmdump, "-q", env.File).CombinedOutput(); err != nil {
			t.Errorf("dcmdump %s: %v\n%s", filepath.Base(f.path), err, out)
		}
	}
	// Nothing left behind in TempDir.
	if left, _ := os.ReadDir(ts.srv.TempDir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// findStub answers every query with n identifiers built in the request's
// transfer syntax, each carrying a name and an ID; it records requests.
type findStub struct {
	n     int
	mu    sync.Mutex
	reqs  []*FindRequest
	block chan struct{} // when set, Find waits for it (or ctx) after the first match
}

func (f *findStub) Find(ctx context.Context, req *FindRequest, emit func([]byte) error) error {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	for i := range f.n {
		elems := [][]byte{}
		add := func(g, e uint16, vr string, v []byte) {
			if req.TransferSyntax == ImplicitVRLittleEndian {
				elems = append(elems, implicitElem(g, e, v))
			} else {
				elems = append(elems, explicitElem(g, e, vr, v))
			}
		}
		add(0x0008, 0x0050, "SH", pad("ACC"+string(rune('0'+i)), ' '))
		add(0x0010, 0x0010, "PN", pad("Test^Patient"+string(rune('A'+i)), ' '))
		add(0x0010, 0x0020, "LO", pad("ID"+string(rune('0'+i)), ' '))
		if err := emit(bytes.Join(elems, nil)); err != nil {
			return err
		}
		if f.block != nil && i == 0 {
			select {
			case <-f.block:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func TestFindSCUWorklist(t *testing.T) {
	needTool(t, "findscu")
	stub := &findStub{n: 3}
	ts := startServer(t, &Server{Worklist: stub})
	dir := t.TempDir()
	out, err := run(t, "findscu", "-v", "-W", "-aet", "FINDSCU", "-aec", "MEDGATE", "-X", "-od", dir,
		"-k", "PatientName=Test*", "-k", "PatientID", "-k", "AccessionNumber",
		"127.0.0.1", ts.port())
	if err != nil {
		t.Fatalf("findscu: %v\n%s", err, out)
	}
	rsps, _ := filepath.Glob(filepath.Join(dir, "rsp*.dcm"))
	if len(rsps) != 3 {
		t.Fatalf("findscu extracted %d responses, want 3\n%s", len(rsps), out)
	}
	dump, err := run(t, "dcmdump", rsps[2])
	if err != nil || !strings.Contains(dump, "Test^PatientC") {
		t.Errorf("third response: %v\n%s", err, dump)
	}
	stub.mu.Lock()
	req := stub.reqs[0]
	stub.mu.Unlock()
	if req.SOPClassUID != ModalityWorklistFind || req.Association.CallingAE != "FINDSCU" {
		t.Errorf("request = %+v", req)
	}
	// The identifier is the data set as findscu sent it: find our key.
	if !bytes.Contains(req.Identifier, []byte("Test*")) {
		t.Errorf("identifier does not carry the PatientName key: %q", req.Identifier)
	}

	// findscu --cancel 1: C-CANCEL after the first response.
	stub2 := &findStub{n: 3, block: make(chan struct{})}
	defer close(stub2.block)
	ts2 := startServer(t, &Server{Worklist: stub2})
	out, err = run(t, "findscu", "-v", "-W", "-aec", "MEDGATE", "--cancel", "1", "-k", "PatientName", "127.0.0.1", ts2.port())
	if err != nil {
		t.Fatalf("findscu --cancel: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Cancel") {
		t.Errorf("findscu did not report a cancelled find:\n%s", out)
	}
}

// TestClientAgainstStoreSCP sends with our Client to dcmtk's storescp.
func TestClientAgainstStoreSCP(t *testing.T) {
	bin := needTool(t, "storescp")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-aet", "STORESCP", "-od", dir, "--max-pdu", "16384", port)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var c *Client
	waitFor(t, "storescp", func() bool {
		c, err = dialClientErr(addr, ClientConfig{CalledAE: "STORESCP", Contexts: []PresentationContext{
			{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
			{AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{ExplicitVRLittleEndian}},
		}})
		return err == nil
	})
	ctx := testCtx(t)
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Peer().MaxPDULength != 16384 {
		t.Errorf("peer max PDU = %d", c.Peer().MaxPDULength)
	}
	ds := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.826.0.1.3680043.9.7433.3.1", explicit: true, rows: 512, cols: 512})
	status, comment, err := c.Store(ctx, ctImageStorage, "1.2.826.0.1.3680043.9.7433.3.1", ExplicitVRLittleEndian, bytes.NewReader(ds))
	if err != nil || status != StatusSuccess {
		t.Fatalf("Store = 0x%04X %q %v\n%s", status, comment, err, out.String())
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("storescp wrote %v\n%s", files, out.String())
	}
	_, got := datasetOf(t, mustRead(t, files[0]))
	if !bytes.Equal(got, ds) {
		t.Errorf("storescp's file holds %d data set bytes, sent %d (or they differ)", len(got), len(ds))
	}
}
