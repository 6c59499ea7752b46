package dicom

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	dul "github.com/medgate/medgate/listeners/dicom"
	dcm "github.com/medgate/medgate/parsers/dicom"
	"github.com/medgate/medgate/parsers/dicom/dcmtktest"
)

// dcmtk finds a dcmtk tool (dcmtktest.Tool).
var dcmtk = dcmtktest.Tool

// received is what a test SCP's handler saw.
type received struct {
	mu      sync.Mutex
	headers []*dcm.Header
	sizes   []int64
	files   []string // kept when keep is set
}

// startSCP serves a listeners/dicom Server on a loopback port with handler
// fn (nil: accept and record every instance's header) and an optional
// worklist; it returns the address.
func startSCP(t *testing.T, fn func(ctx context.Context, env *listeners.Envelope) error, worklist dul.FindHandler, keep string) (string, *received) {
	t.Helper()
	rec := &received{}
	if fn == nil {
		fn = func(ctx context.Context, env *listeners.Envelope) error {
			h, err := dcm.ReadHeader(env.File)
			if err != nil {
				return &listeners.InvalidError{Stage: "parse", Reason: "does not parse"}
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.headers = append(rec.headers, h)
			rec.sizes = append(rec.sizes, env.Size)
			if keep != "" {
				dst := filepath.Join(keep, h.SOPInstanceUID+".dcm")
				if err := os.Rename(env.File, dst); err != nil {
					return err
				}
				rec.files = append(rec.files, dst)
			}
			return nil
		}
	}
	srv := &dul.Server{AETitle: "MEDGATE", Handler: listeners.HandlerFunc(fn), Worklist: worklist, TempDir: t.TempDir()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		cancel()
		if err := <-done; err != nil && !errors.Is(err, dul.ErrServerClosed) && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), rec
}

// staticWorklist answers every C-FIND with one item in ISO_IR 144, built
// with the same query/response code medgate uses, matching the query's
// keys.
type staticWorklist struct {
	rec     dcm.Record
	queries int
	mu      sync.Mutex
}

func (w *staticWorklist) Find(ctx context.Context, req *dul.FindRequest, emit func([]byte) error) error {
	w.mu.Lock()
	w.queries++
	w.mu.Unlock()
	ds, err := dcm.Decode(req.Identifier, req.TransferSyntax)
	if err != nil {
		return err
	}
	q, err := dcm.ParseQuery(ds, nil)
	if err != nil {
		return err
	}
	if !q.Match(w.rec) {
		return nil
	}
	cs, _ := dcm.NewCharset("ISO_IR 144")
	rsp, err := q.Response(w.rec, dcm.ResponseOptions{Charset: cs})
	if err != nil {
		return err
	}
	b, err := rsp.Encode(req.TransferSyntax)
	if err != nil {
		return err
	}
	return emit(b)
}

func newStaticWorklist(stationAE, modality, studyUID string) *staticWorklist {
	var r dcm.Record
	r.Set(dcm.TagPatientName, "Щукина^Ольга^Юрьевна")
	r.Set(dcm.TagPatientID, "4242")
	r.Set(dcm.TagIssuerOfPatientID, "MEDGATE")
	r.Set(dcm.TagPatientBirthDate, "19750304")
	r.Set(dcm.TagPatientSex, "F")
	r.Set(dcm.TagAccessionNumber, "A0000042")
	r.Set(dcm.TagStudyInstanceUID, studyUID)
	r.Set(dcm.TagRequestedProcedureID, "A0000042")
	r.Set(dcm.TagRequestedProcedureDescription, "КТ грудной клетки")
	var sps dcm.Record
	sps.Set(dcm.TagModality, modality)
	sps.Set(dcm.TagScheduledStationAETitle, stationAE)
	sps.Set(dcm.TagScheduledProcedureStepID, "A0000042")
	sps.Set(dcm.TagScheduledProcedureStepDescription, "КТ грудной клетки")
	r.AddItem(dcm.TagScheduledProcedureStepSequence, sps)
	return &staticWorklist{rec: r}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func dialTimeout(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }
