package ingest_test

import (
	"crypto/sha256"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/store"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

const (
	ctStorage  = "1.2.840.10008.5.1.4.1.1.2"
	explicitLE = "1.2.840.10008.1.2.1"
	testIssuer = "MEDGATE"
	scannerAE  = "CBCT1"
)

// dicomWorld adds a CBCT scanner, a blob store and an imaging order.
type dicomWorld struct {
	*world
	blobs   *blob.FS
	imaging *domain.ServiceRequest
}

func newDICOMWorld(t *testing.T, w *world) *dicomWorld {
	t.Helper()
	blobs, err := blob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dev := &domain.Device{OrganizationID: w.org, Name: "cbct", Protocol: domain.ProtocolDICOM, AETitle: scannerAE,
		SendsResults: true, Active: true}
	if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	o := &domain.ServiceRequest{OrganizationID: w.org, PatientID: w.patient, Category: domain.CategoryImaging, Modality: "CT",
		Procedure: "КЛКТ верхней челюсти", Priority: domain.PriorityRoutine, Status: domain.StatusActive}
	if err := w.st.CreateServiceRequest(w.ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	w.p.Blobs = blobs
	w.p.Processors[listeners.DICOM] = ingest.DICOM{Store: w.st, Blobs: blobs, Location: time.UTC, Issuer: testIssuer}
	return &dicomWorld{world: w, blobs: blobs, imaging: o}
}

// instance is one CT image's attributes.
type instance struct {
	study, series, sop, accession, patientID, issuer, name string
	number                                                 int
}

// file writes the instance as a Part 10 file in the blob store's staging
// directory and returns the envelope a C-STORE SCP would hand over.
func (d *dicomWorld) file(t *testing.T, in instance, mutate func(*dcm.Dataset)) *listeners.Envelope {
	t.Helper()
	ds := &dcm.Dataset{}
	cs, _ := dcm.NewCharset("ISO_IR 192")
	set := func(tag dcm.Tag, s string) {
		if s == "" {
			return
		}
		if err := ds.SetText(tag, "", s, cs); err != nil {
			t.Fatal(err)
		}
	}
	set(dcm.TagSpecificCharacterSet, "ISO_IR 192")
	set(dcm.TagSOPClassUID, ctStorage)
	set(dcm.TagSOPInstanceUID, in.sop)
	set(dcm.TagStudyDate, "20261120")
	set(dcm.TagStudyTime, "093000")
	set(dcm.TagAccessionNumber, in.accession)
	set(dcm.TagModality, "CT")
	set(dcm.TagStudyDescription, "КЛКТ")
	set(dcm.TagPatientName, in.name)
	set(dcm.TagPatientID, in.patientID)
	set(dcm.TagIssuerOfPatientID, in.issuer)
	set(dcm.TagStudyInstanceUID, in.study)
	set(dcm.TagSeriesInstanceUID, in.series)
	set(dcm.TagSeriesNumber, "1")
	set(dcm.TagInstanceNumber, strconv.Itoa(in.number))
	if mutate != nil {
		mutate(ds)
	}
	body, err := ds.Encode(explicitLE)
	if err != nil {
		t.Fatal(err)
	}
	raw := dul.Part10(&dul.FileMeta{SOPClassUID: ctStorage, SOPInstanceUID: in.sop, TransferSyntax: explicitLE, SourceAE: scannerAE}, body)
	f, err := os.CreateTemp(d.blobs.TempDir(), "store-*.dcm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(raw); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return &listeners.Envelope{Protocol: listeners.DICOM, Listener: "dicom test", Peer: "127.0.0.1:50000", CallingAE: scannerAE,
		CalledAE: "MEDGATE", Key: in.sop, Type: ctStorage, Received: time.Now(), File: f.Name(), Size: int64(len(raw)),
		Digest: sha256.Sum256(raw)}
}

func (d *dicomWorld) store(t *testing.T, env *listeners.Envelope) error {
	t.Helper()
	err := d.p.Handle(d.ctx, env)
	os.Remove(env.File) // what the listener does after Handle
	return err
}

func (d *dicomWorld) study(t *testing.T, uid string) *domain.ImagingStudy {
	t.Helper()
	st, err := d.st.StudyByUID(d.ctx, []int64{d.org}, uid)
	if err != nil {
		t.Fatalf("study %s: %v", uid, err)
	}
	return st
}

// The scanner sends the study the worklist gave it: each instance attaches
// to the order and the patient; a resend keeps one copy.
// Images from a device not set to send results (one that only reads its
// worklist) are refused, kept as stored with the reason, never attached.
func TestDICOMOnlyFromDevicesThatSendResults(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		d := newDICOMWorld(t, w)
		devs, err := w.st.ListDevices(w.ctx, []int64{w.org})
		if err != nil {
			t.Fatal(err)
		}
		for _, dev := range devs {
			if dev.AETitle == scannerAE {
				dev.SendsResults = false
				if err := w.st.UpdateDevice(w.ctx, []int64{w.org}, &dev, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		err = w.p.Handle(w.ctx, d.file(t, instance{study: "2.25.77", series: "2.25.77.1", sop: "2.25.77.1.1", number: 1}, nil))
		var inv *listeners.InvalidError
		if !errors.As(err, &inv) || !inv.Unsupported || !strings.Contains(inv.Reason, "not set to send results") {
			t.Fatalf("got %v", err)
		}
		if ms := w.messages(t); len(ms) != 1 || ms[0].Status != domain.MessageError {
			t.Fatalf("messages %+v", ms)
		}
		if c := w.chart(t); len(c.Studies) != 0 {
			t.Fatalf("studies %+v", c.Studies)
		}
	})
}

func TestDICOMAttachesByStudyUID(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		d := newDICOMWorld(t, w)
		uid := d.imaging.StudyInstanceUID
		for n := 1; n <= 3; n++ {
			in := instance{study: uid, series: uid + ".1", sop: uid + ".1." + strconv.Itoa(n), name: "Иванов^Пётр", number: n}
			if err := d.store(t, d.file(t, in, nil)); err != nil {
				t.Fatalf("instance %d: %v", n, err)
			}
		}
		st := d.study(t, uid)
		if st.PatientID != d.patient || st.RequestID != d.imaging.ID || st.NumberOfInstances != 3 || len(st.Series) != 1 ||
			st.Source.Name != "Иванов^Пётр" || st.Started == nil || !st.Started.Equal(time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)) {
			t.Fatalf("study %+v", st)
		}
		loc := st.Series[0].Instances[0].Location
		if p, _ := d.blobs.Path(loc); p == "" {
			t.Fatalf("instance location %q is not a blob key", loc)
		} else if _, err := os.Stat(p); err != nil {
			t.Fatalf("blob: %v", err)
		}
		// The same instance again, byte for byte: success, no second copy.
		again := instance{study: uid, series: uid + ".1", sop: uid + ".1.1", name: "Иванов^Пётр", number: 1}
		if err := d.store(t, d.file(t, again, nil)); err != nil {
			t.Fatal(err)
		}
		if st := d.study(t, uid); st.NumberOfInstances != 3 {
			t.Errorf("%d instances after a resend, want 3", st.NumberOfInstances)
		}
		// The same SOP Instance UID with other bytes: kept for review.
		changed := instance{study: uid, series: uid + ".1", sop: uid + ".1.1", name: "Иванов^Пётр", number: 7}
		if err := d.store(t, d.file(t, changed, nil)); err != nil {
			t.Fatal(err)
		}
		var statuses []string
		for _, m := range d.messages(t) {
			statuses = append(statuses, m.Status)
			if m.Blob == "" || m.Size == 0 {
				t.Errorf("message %d: blob %q size %d", m.ID, m.Blob, m.Size)
			}
		}
		want := []string{domain.MessageQueued, domain.MessageDuplicate, domain.MessageProcessed, domain.MessageProcessed, domain.MessageProcessed}
		if len(statuses) != len(want) {
			t.Fatalf("statuses %v, want %v", statuses, want)
		}
		for i := range want {
			if statuses[i] != want[i] {
				t.Errorf("statuses %v, want %v", statuses, want)
				break
			}
		}
		if items := d.open(t); len(items) != 1 || items[0].Reason != domain.ReasonDuplicateConflict {
			t.Errorf("queue %+v, want one duplicate conflict", items)
		}
	})
}

// A study nobody ordered waits in reconciliation as one item, however many
// instances arrive; once a person attaches it, later instances follow.
func TestDICOMUnmatchedStudyQueuesOnce(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		d := newDICOMWorld(t, w)
		uid := "1.2.826.0.1.3680043.10.543.7"
		send := func(n int) {
			t.Helper()
			in := instance{study: uid, series: uid + ".1", sop: uid + ".1." + strconv.Itoa(n), patientID: "A-17", name: "Сидоров^Иван", number: n}
			if err := d.store(t, d.file(t, in, nil)); err != nil {
				t.Fatal(err)
			}
		}
		send(1)
		send(2)
		items := d.open(t)
		if len(items) != 1 || items[0].Kind != "imaging" || items[0].Reason != domain.ReasonNoOrder || items[0].StudyID == 0 {
			t.Fatalf("queue %+v, want one imaging item", items)
		}
		if st := d.study(t, uid); st.PatientID != 0 || st.NumberOfInstances != 2 {
			t.Fatalf("study %+v", st)
		}
		if _, err := d.st.ResolveRecon(d.ctx, []int64{d.org}, items[0].ID, store.ReconDecision{Attach: true, PatientID: d.patient}, nil); err != nil {
			t.Fatal(err)
		}
		send(3)
		if st := d.study(t, uid); st.PatientID != d.patient || st.NumberOfInstances != 3 {
			t.Fatalf("after attaching: study %+v", st)
		}
		if items := d.open(t); len(items) != 0 {
			t.Errorf("queue %+v after attaching", items)
		}
	})
}

// medgate's own patient ID (from its worklist) attaches a study without an
// order; when it contradicts the order, a person decides.
func TestDICOMOwnPatientID(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		d := newDICOMWorld(t, w)
		own := strconv.FormatInt(d.patient, 10)
		uid := "1.2.826.0.1.3680043.10.543.8"
		in := instance{study: uid, series: uid + ".1", sop: uid + ".1.1", patientID: own, issuer: testIssuer, name: "Иванов^Пётр", number: 1}
		if err := d.store(t, d.file(t, in, nil)); err != nil {
			t.Fatal(err)
		}
		if st := d.study(t, uid); st.PatientID != d.patient || st.RequestID != 0 {
			t.Fatalf("study %+v, want attached to patient %d without an order", st, d.patient)
		}
		other := &domain.Patient{OrganizationID: d.org, Family: "Петрова", Given: "Анна", BirthDate: "1990-05-06", Gender: domain.GenderFemale, Active: true}
		if err := d.st.CreatePatient(d.ctx, other, 0, nil); err != nil {
			t.Fatal(err)
		}
		ord := d.imaging.StudyInstanceUID
		in = instance{study: ord, series: ord + ".1", sop: ord + ".1.1", patientID: strconv.FormatInt(other.ID, 10), issuer: testIssuer, number: 1}
		if err := d.store(t, d.file(t, in, nil)); err != nil {
			t.Fatal(err)
		}
		items := d.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonAmbiguousPatient || len(items[0].Candidates) != 2 {
			t.Fatalf("queue %+v, want one ambiguous_patient item with both candidates", items)
		}
		if st := d.study(t, ord); st.PatientID != 0 {
			t.Errorf("conflicting study attached to %d", st.PatientID)
		}
	})
}

// Bad instances are kept with status error and a reason; the listener
// answers 0xA900 for a mismatch, 0xC000 for what does not parse.
func TestDICOMBadInstances(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		d := newDICOMWorld(t, w)
		uid := d.imaging.StudyInstanceUID
		env := d.file(t, instance{study: uid, series: uid + ".1", sop: uid + ".1.1", number: 1}, nil)
		env.Key = uid + ".1.999" // the command named another instance
		var inv *listeners.InvalidError
		if err := d.store(t, env); !errors.As(err, &inv) || !inv.Mismatch {
			t.Fatalf("mismatched SOP Instance UID: %v, want a Mismatch InvalidError", err)
		}
		env = d.file(t, instance{study: uid, series: uid + ".1", sop: uid + ".1.2", number: 2}, nil)
		if err := os.WriteFile(env.File, []byte("this is not DICOM at all"), 0o600); err != nil {
			t.Fatal(err)
		}
		env.Size, env.Digest = 24, sha256.Sum256([]byte("this is not DICOM at all"))
		if err := d.store(t, env); !errors.As(err, &inv) || inv.Mismatch {
			t.Fatalf("garbage: %v, want a parse InvalidError", err)
		}
		for _, m := range d.messages(t) {
			if m.Status != domain.MessageError || m.Reason == "" || m.Blob == "" {
				t.Errorf("message %d: status %s reason %q blob %q", m.ID, m.Status, m.Reason, m.Blob)
			}
		}
		if _, err := d.st.StudyByUID(d.ctx, []int64{d.org}, uid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a study was written from bad instances: %v", err)
		}
		if entries, _ := os.ReadDir(d.blobs.TempDir()); len(entries) != 0 {
			t.Errorf("%d files left in the staging directory", len(entries))
		}
	})
}
