package dicom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/parsers/dicom/dcmtktest"
)

// Synthetic data sets: no real patient data anywhere in these tests.

const (
	ctImageStorage = "1.2.840.10008.5.1.4.1.1.2"
	scImageStorage = "1.2.840.10008.5.1.4.1.1.7"
)

// explicitElem encodes one element in Explicit VR Little Endian.
func explicitElem(group, elem uint16, vr string, v []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, group)
	b = binary.LittleEndian.AppendUint16(b, elem)
	b = append(b, vr...)
	switch vr {
	case "OB", "OW", "SQ", "UN", "UT":
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	default:
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	}
	return append(b, v...)
}

// implicitElem encodes one element in Implicit VR Little Endian.
func implicitElem(group, elem uint16, v []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, group)
	b = binary.LittleEndian.AppendUint16(b, elem)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func pad(s string, p byte) []byte {
	if len(s)%2 == 1 {
		s += string(p)
	}
	return []byte(s)
}

func us(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

type dsOpts struct {
	sopClass, sopInstance string
	explicit              bool
	rows, cols            int
	encapsulated          []byte // pixel data fragment; nil: native OW pixels
}

// makeDataSet builds a small image data set in Explicit or Implicit VR
// Little Endian.
func makeDataSet(o dsOpts) []byte {
	type el struct {
		g, e uint16
		vr   string
		v    []byte
	}
	els := []el{
		{0x0008, 0x0016, "UI", pad(o.sopClass, 0)},
		{0x0008, 0x0018, "UI", pad(o.sopInstance, 0)},
		{0x0008, 0x0060, "CS", pad("CT", ' ')},
		{0x0010, 0x0010, "PN", pad("Test^Synthetic", ' ')},
		{0x0010, 0x0020, "LO", pad("TEST0001", ' ')},
		{0x0020, 0x000D, "UI", pad("1.2.826.0.1.3680043.9.7433.1.1", 0)},
		{0x0020, 0x000E, "UI", pad("1.2.826.0.1.3680043.9.7433.1.2", 0)},
		{0x0028, 0x0002, "US", us(1)},
		{0x0028, 0x0004, "CS", pad("MONOCHROME2", ' ')},
		{0x0028, 0x0010, "US", us(uint16(o.rows))},
		{0x0028, 0x0011, "US", us(uint16(o.cols))},
		{0x0028, 0x0100, "US", us(16)},
		{0x0028, 0x0101, "US", us(16)},
		{0x0028, 0x0102, "US", us(15)},
		{0x0028, 0x0103, "US", us(0)},
	}
	var b []byte
	for _, e := range els {
		if o.explicit {
			b = append(b, explicitElem(e.g, e.e, e.vr, e.v)...)
		} else {
			b = append(b, implicitElem(e.g, e.e, e.v)...)
		}
	}
	if o.encapsulated != nil {
		b = append(b, 0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF)
		b = append(b, 0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0) // empty basic offset table
		frag := pad(string(o.encapsulated), 0)
		b = append(b, 0xFE, 0xFF, 0x00, 0xE0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frag)))
		b = append(b, frag...)
		b = append(b, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0)
		return b
	}
	px := make([]byte, o.rows*o.cols*2)
	for i := range px {
		px[i] = byte(i*7 + i/4096)
	}
	if o.explicit {
		b = append(b, explicitElem(0x7FE0, 0x0010, "OW", px)...)
	} else {
		b = append(b, implicitElem(0x7FE0, 0x0010, px)...)
	}
	return b
}

func writePart10(t *testing.T, dir, name, ts string, o dsOpts) (path string, dataset []byte) {
	t.Helper()
	dataset = makeDataSet(o)
	path = filepath.Join(dir, name)
	b := Part10(&FileMeta{SOPClassUID: o.sopClass, SOPInstanceUID: o.sopInstance, TransferSyntax: ts, ImplementationClassUID: ImplementationClassUID, ImplementationVersion: ImplementationVersionName}, dataset)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, dataset
}

// recorder is a listeners.Handler that keeps the files it is given.
type recorder struct {
	mu    sync.Mutex
	dir   string
	envs  []listeners.Envelope
	files [][]byte
	err   error
	hook  func(env *listeners.Envelope)
}

func newRecorder(t *testing.T) *recorder { return &recorder{dir: t.TempDir()} }

func (r *recorder) Handle(ctx context.Context, env *listeners.Envelope) error {
	if r.hook != nil {
		r.hook(env)
	}
	b, err := os.ReadFile(env.File)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	dst := filepath.Join(r.dir, fmt.Sprintf("%d.dcm", len(r.envs)))
	if err := os.Rename(env.File, dst); err != nil {
		return err
	}
	e := *env
	e.File = dst
	r.envs = append(r.envs, e)
	r.files = append(r.files, b)
	return r.err
}

func (r *recorder) got() ([]listeners.Envelope, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]listeners.Envelope(nil), r.envs...), append([][]byte(nil), r.files...)
}

type testServer struct {
	srv    *Server
	addr   string
	served chan error
}

func startServer(t *testing.T, srv *Server) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if srv.TempDir == "" {
		srv.TempDir = t.TempDir()
	}
	ts := &testServer{srv: srv, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-ts.served
	})
	return ts
}

func (ts *testServer) port() string {
	_, p, _ := net.SplitHostPort(ts.addr)
	return p
}

var allStorageContexts = []PresentationContext{
	{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
	{AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{ExplicitVRLittleEndian}},
	{AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
	{AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{DeflatedExplicitVRLittleEndian}},
	{AbstractSyntax: scImageStorage, TransferSyntaxes: []string{JPEGLosslessSV1}},
	{AbstractSyntax: ModalityWorklistFind, TransferSyntaxes: []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}},
}

func dialClient(t *testing.T, addr string, cfg ClientConfig) *Client {
	t.Helper()
	c, err := dialClientErr(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Abort() })
	return c
}

func dialClientErr(addr string, cfg ClientConfig) (*Client, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg.CallingAE == "" {
		cfg.CallingAE = "TESTSCU"
	}
	if cfg.CalledAE == "" {
		cfg.CalledAE = "MEDGATE"
	}
	if cfg.Contexts == nil {
		cfg.Contexts = allStorageContexts
	}
	if cfg.ARTIMTimeout == 0 {
		cfg.ARTIMTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Associate(ctx, conn, cfg)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// needTool finds a dcmtk tool (dcmtktest.Tool).
var needTool = dcmtktest.Tool

func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, needTool(t, name), args...).CombinedOutput()
	return string(out), err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func datasetOf(t *testing.T, file []byte) (*FileMeta, []byte) {
	t.Helper()
	meta, r, err := ReadPart10(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return meta, b.Bytes()
}

func asStatus(err error) uint16 {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }
