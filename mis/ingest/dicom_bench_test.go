package ingest_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// BenchmarkDICOMIngest stores, indexes and attaches CT instances (small
// ones: the cost measured is the pipeline's, not the disk's bandwidth)
// from 4 concurrent associations, into an empty index and into one that
// already holds MEDGATE_BENCH_DICOM_PRELOAD instances (default 10,000;
// the issue asks for 100,000), to show that the index's size does not
// slow ingest down. Reports instances/s.
func BenchmarkDICOMIngest(b *testing.B) {
	preload := 10000
	if v, err := strconv.Atoi(os.Getenv("MEDGATE_BENCH_DICOM_PRELOAD")); err == nil {
		preload = v
	}
	for _, d := range dialects {
		sizes := []int{0}
		if preload > 0 {
			sizes = append(sizes, preload)
		}
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/index=%d", d.Name, n), func(b *testing.B) {
				w := setupB(b, d.Open)
				blobs, err := blob.Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				dev := &domain.Device{OrganizationID: w.org, Name: "ct", Protocol: domain.ProtocolDICOM, AETitle: "CT1", Active: true}
				if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
					b.Fatal(err)
				}
				w.p.Blobs = blobs
				w.p.Processors[listeners.DICOM] = ingest.DICOM{Store: w.st, Blobs: blobs, Location: time.UTC, Issuer: "MEDGATE"}
				var seq atomic.Int64
				send := func(study int) error {
					n := seq.Add(1)
					uid := fmt.Sprintf("1.2.826.0.1.3680043.10.543.%d", study)
					env, err := benchInstance(blobs, uid, fmt.Sprintf("%s.1.%d", uid, n), int(n))
					if err != nil {
						return err
					}
					defer os.Remove(env.File)
					return w.p.Handle(w.ctx, env)
				}
				run := func(total int, firstStudy int) {
					var wg sync.WaitGroup
					const assocs = 4
					for a := range assocs {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := a; i < total; i += assocs {
								// 500 instances per study, as a CBCT sends them.
								if err := send(firstStudy + i/500); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
				}
				run(n, 1)
				b.ResetTimer()
				start := time.Now()
				run(b.N, 1_000_000)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "instances/s")
			})
		}
	}
}

// benchInstance stages a small CT instance as the listener would.
func benchInstance(blobs *blob.FS, study, sop string, number int) (*listeners.Envelope, error) {
	ds := &dcm.Dataset{}
	for _, kv := range []struct {
		tag dcm.Tag
		v   string
	}{
		{dcm.TagSOPClassUID, ctStorage}, {dcm.TagSOPInstanceUID, sop}, {dcm.TagModality, "CT"},
		{dcm.TagPatientID, "A-17"}, {dcm.TagPatientName, "Ivanov^Petr"}, {dcm.TagStudyInstanceUID, study},
		{dcm.TagSeriesInstanceUID, study + ".1"}, {dcm.TagInstanceNumber, strconv.Itoa(number)},
		{dcm.TagStudyDate, "20261120"},
	} {
		if err := ds.SetText(kv.tag, "", kv.v, nil); err != nil {
			return nil, err
		}
	}
	ds.Set(&dcm.Element{Tag: dcm.TagPixelData, VR: "OW", Value: make([]byte, 2048)})
	body, err := ds.Encode(explicitLE)
	if err != nil {
		return nil, err
	}
	raw := dul.Part10(&dul.FileMeta{SOPClassUID: ctStorage, SOPInstanceUID: sop, TransferSyntax: explicitLE}, body)
	f, err := os.CreateTemp(blobs.TempDir(), "bench-*.dcm")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	return &listeners.Envelope{Protocol: listeners.DICOM, Listener: "bench", Peer: "127.0.0.1:1", CallingAE: "CT1",
		CalledAE: "MEDGATE", Key: sop, Type: ctStorage, Received: time.Now(), File: f.Name(), Size: int64(len(raw)),
		Digest: sha256.Sum256(raw)}, nil
}
