package imaging_test

import (
	"context"
	"errors"
	"testing"
	"time"

	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/imaging"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/storetest"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

const explicitLE = "1.2.840.10008.1.2.1"

type fixture struct {
	ctx     context.Context
	st      store.Store
	org     int64
	scanner *domain.Device // CBCT1, UTF-8
	pano    *domain.Device // PANO, ASCII only
	orders  []*domain.ServiceRequest
	device  imaging.DeviceFunc
}

func setup(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	org := &domain.Organization{Name: "Клиника", Active: true, UIDRoot: storetest.UIDRoot}
	if err := st.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	f := &fixture{ctx: ctx, st: st, org: org.ID}
	for _, d := range []*domain.Device{
		{OrganizationID: org.ID, Name: "cbct", Protocol: domain.ProtocolDICOM, AETitle: "CBCT1", Encoding: "iso-ir-192", QueriesOrders: true, Active: true},
		{OrganizationID: org.ID, Name: "pano", Protocol: domain.ProtocolDICOM, AETitle: "PANO", Encoding: "ascii", QueriesOrders: true, Active: true},
		{OrganizationID: org.ID, Name: "storage-only", Protocol: domain.ProtocolDICOM, AETitle: "STOREONLY", Active: true},
	} {
		if err := st.CreateDevice(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	devs, _ := st.ListDevices(ctx, []int64{org.ID})
	byAE := map[string]*domain.Device{}
	for i := range devs {
		byAE[devs[i].AETitle] = &devs[i]
	}
	f.scanner, f.pano = byAE["CBCT1"], byAE["PANO"]
	f.device = func(_ context.Context, ae, _ string) (*domain.Device, error) { return byAE[ae], nil }
	when := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	for i, p := range []struct{ family, given, patronymic, station, modality string }{
		{"Щукина", "Ольга", "Юрьевна", "CBCT1", "CT"},
		{"Иванов", "Пётр", "Сергеевич", "PANO", "PX"},
	} {
		pat := &domain.Patient{OrganizationID: org.ID, Family: p.family, Given: p.given, Patronymic: p.patronymic,
			BirthDate: "1975-03-04", Gender: domain.GenderFemale, Active: true}
		if err := st.CreatePatient(ctx, pat, 0, nil); err != nil {
			t.Fatal(err)
		}
		at := when.Add(time.Duration(i) * 24 * time.Hour)
		o := &domain.ServiceRequest{OrganizationID: org.ID, PatientID: pat.ID, Category: domain.CategoryImaging, Modality: p.modality,
			Procedure: "КЛКТ", Priority: domain.PriorityRoutine, Status: domain.StatusActive, ScheduledStationAE: p.station, Scheduled: &at}
		if err := st.CreateServiceRequest(ctx, o, nil); err != nil {
			t.Fatal(err)
		}
		f.orders = append(f.orders, o)
	}
	return f
}

// query encodes an identifier: keys given as text, the SPS sequence item
// keys as a nested map.
func query(t *testing.T, keys map[dcm.Tag]string, sps map[dcm.Tag]string) []byte {
	t.Helper()
	cs, _ := dcm.NewCharset("ISO_IR 192")
	ds := &dcm.Dataset{}
	if err := ds.SetText(dcm.TagSpecificCharacterSet, "", "ISO_IR 192", nil); err != nil {
		t.Fatal(err)
	}
	for tag, v := range keys {
		if err := ds.SetText(tag, "", v, cs); err != nil {
			t.Fatal(err)
		}
	}
	if sps != nil {
		item := &dcm.Dataset{}
		for tag, v := range sps {
			if err := item.SetText(tag, "", v, cs); err != nil {
				t.Fatal(err)
			}
		}
		ds.SetSequence(dcm.TagScheduledProcedureStepSequence, item)
	}
	b, err := ds.Encode(explicitLE)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func find(t *testing.T, h dul.FindHandler, ctx context.Context, ae string, id []byte) ([]*dcm.Dataset, error) {
	t.Helper()
	var out []*dcm.Dataset
	err := h.Find(ctx, &dul.FindRequest{Association: &dul.Association{CallingAE: ae, CalledAE: "MEDGATE", Peer: "127.0.0.1:1"},
		SOPClassUID: "1.2.840.10008.5.1.4.31", TransferSyntax: explicitLE, Identifier: id}, func(b []byte) error {
		ds, err := dcm.Decode(b, explicitLE)
		if err != nil {
			t.Fatalf("response does not decode: %v", err)
		}
		out = append(out, ds)
		return nil
	})
	return out, err
}

func text(t *testing.T, ds *dcm.Dataset, tag dcm.Tag) string {
	t.Helper()
	cs, err := dcm.CharsetFor(ds, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ds.String(tag, cs)
	if err != nil {
		t.Fatalf("%v: %v", tag, err)
	}
	return s
}

func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, d := range storetest.Dialects {
		t.Run(d.Name, func(t *testing.T) { fn(t, setup(t, d.Open(t))) })
	}
}

func TestWorklist(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		w := &imaging.Worklist{Store: f.st, Device: f.device, Location: time.UTC}
		all := map[dcm.Tag]string{dcm.TagPatientName: "", dcm.TagPatientID: "", dcm.TagAccessionNumber: "", dcm.TagStudyInstanceUID: ""}
		spsAll := map[dcm.Tag]string{dcm.TagModality: "", dcm.TagScheduledStationAETitle: "", dcm.TagScheduledProcedureStepStartDate: ""}

		got, err := find(t, w, f.ctx, "CBCT1", query(t, all, spsAll))
		if err != nil || len(got) != 2 {
			t.Fatalf("universal query: %d items, %v", len(got), err)
		}
		// A device not set to query orders (it only stores) sees none.
		if none, err := find(t, w, f.ctx, "STOREONLY", query(t, all, spsAll)); err != nil || len(none) != 0 {
			t.Errorf("device without query: %d items, %v", len(none), err)
		}
		if n := text(t, got[0], dcm.TagPatientName); n != "Щукина^Ольга^Юрьевна" {
			t.Errorf("patient name %q", n)
		}
		if uid := text(t, got[0], dcm.TagStudyInstanceUID); uid != f.orders[0].StudyInstanceUID {
			t.Errorf("study UID %q, want the pre-assigned %q", uid, f.orders[0].StudyInstanceUID)
		}
		sps := got[0].Get(dcm.TagScheduledProcedureStepSequence)
		if sps == nil || len(sps.Items) != 1 || text(t, sps.Items[0], dcm.TagScheduledProcedureStepStartDate) != "20261123" {
			t.Errorf("SPS sequence %+v", sps)
		}

		for _, c := range []struct {
			name string
			keys map[dcm.Tag]string
			sps  map[dcm.Tag]string
			want int
		}{
			{"station", all, map[dcm.Tag]string{dcm.TagScheduledStationAETitle: "CBCT1"}, 1},
			{"modality", all, map[dcm.Tag]string{dcm.TagModality: "PX"}, 1},
			{"date range", all, map[dcm.Tag]string{dcm.TagScheduledProcedureStepStartDate: "20261124-20261130"}, 1},
			{"date outside", all, map[dcm.Tag]string{dcm.TagScheduledProcedureStepStartDate: "20270101"}, 0},
			{"name wildcard, any case", map[dcm.Tag]string{dcm.TagPatientName: "щук*"}, nil, 1},
			{"accession", map[dcm.Tag]string{dcm.TagAccessionNumber: f.orders[1].AccessionNumber}, nil, 1},
			{"patient ID not ours", map[dcm.Tag]string{dcm.TagPatientID: "ABC"}, nil, 0},
		} {
			if got, err := find(t, w, f.ctx, "CBCT1", query(t, c.keys, c.sps)); err != nil || len(got) != c.want {
				t.Errorf("%s: %d items, %v; want %d", c.name, len(got), err, c.want)
			}
		}

		// A unit that shows ASCII only gets the names in Latin letters.
		got, err = find(t, w, f.ctx, "PANO", query(t, map[dcm.Tag]string{dcm.TagPatientName: "Иванов*"}, nil))
		if err != nil || len(got) != 1 {
			t.Fatalf("PANO: %d items, %v", len(got), err)
		}
		if n := text(t, got[0], dcm.TagPatientName); n != "Ivanov^Petr^Sergeevich" {
			t.Errorf("transliterated name %q", n)
		}
		// An unregistered device sees nothing; a garbled identifier is 0xA900.
		if got, err := find(t, w, f.ctx, "NOBODY", query(t, all, nil)); err != nil || len(got) != 0 {
			t.Errorf("unknown device: %d items, %v", len(got), err)
		}
		var se *dul.StatusError
		if _, err := find(t, w, f.ctx, "CBCT1", []byte{0x10, 0x00, 0x10, 0x00, 'P', 'N', 0xff, 0xff}); !errors.As(err, &se) || se.Status != 0xA900 {
			t.Errorf("garbled identifier: %v", err)
		}
		// C-CANCEL: the context ends, no item is sent.
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		if got, err := find(t, w, ctx, "CBCT1", query(t, all, nil)); !errors.Is(err, context.Canceled) || len(got) != 0 {
			t.Errorf("cancelled: %d items, %v", len(got), err)
		}
	})
}

func TestStudyRoot(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		o := f.orders[0]
		started := time.Date(2026, 11, 23, 10, 45, 0, 0, time.UTC)
		st := &domain.ImagingStudy{OrganizationID: f.org, PatientID: o.PatientID, RequestID: o.ID, StudyInstanceUID: o.StudyInstanceUID,
			AccessionNumber: o.AccessionNumber, Modalities: []string{"CT"}, Started: &started, Status: "available",
			Series: []domain.ImagingSeries{{UID: o.StudyInstanceUID + ".1", Number: 1, Modality: "CT", Instances: []domain.ImagingInstance{
				{SOPInstanceUID: o.StudyInstanceUID + ".1.1", SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", Number: 1},
				{SOPInstanceUID: o.StudyInstanceUID + ".1.2", SOPClassUID: "1.2.840.10008.5.1.4.1.1.2", Number: 2}}}}}
		if err := f.st.SaveImagingStudy(f.ctx, st, nil); err != nil {
			t.Fatal(err)
		}
		q := &imaging.StudyRoot{Store: f.st, Device: f.device, Location: time.UTC}
		level := func(l string, keys map[dcm.Tag]string) map[dcm.Tag]string {
			out := map[dcm.Tag]string{dcm.TagQueryRetrieveLevel: l}
			for k, v := range keys {
				out[k] = v
			}
			return out
		}
		got, err := find(t, q, f.ctx, "CBCT1", query(t, level("STUDY", map[dcm.Tag]string{dcm.TagPatientName: "ЩУКИНА*",
			dcm.TagStudyDate: "20261101-", dcm.TagStudyInstanceUID: "", dcm.TagModalitiesInStudy: "", dcm.TagNumberOfStudyRelatedInstances: ""}), nil))
		if err != nil || len(got) != 1 {
			t.Fatalf("study level: %d, %v", len(got), err)
		}
		if n := text(t, got[0], dcm.TagNumberOfStudyRelatedInstances); n != "2" {
			t.Errorf("instances in study %q", n)
		}
		got, err = find(t, q, f.ctx, "CBCT1", query(t, level("SERIES", map[dcm.Tag]string{dcm.TagStudyInstanceUID: o.StudyInstanceUID,
			dcm.TagSeriesInstanceUID: "", dcm.TagModality: ""}), nil))
		if err != nil || len(got) != 1 || text(t, got[0], dcm.TagSeriesInstanceUID) != o.StudyInstanceUID+".1" {
			t.Fatalf("series level: %d, %v", len(got), err)
		}
		got, err = find(t, q, f.ctx, "CBCT1", query(t, level("IMAGE", map[dcm.Tag]string{dcm.TagStudyInstanceUID: o.StudyInstanceUID,
			dcm.TagSeriesInstanceUID: o.StudyInstanceUID + ".1", dcm.TagSOPInstanceUID: "", dcm.TagInstanceNumber: "2"}), nil))
		if err != nil || len(got) != 1 || text(t, got[0], dcm.TagSOPInstanceUID) != o.StudyInstanceUID+".1.2" {
			t.Fatalf("image level: %d, %v", len(got), err)
		}
		var se *dul.StatusError
		if _, err := find(t, q, f.ctx, "CBCT1", query(t, level("SERIES", nil), nil)); !errors.As(err, &se) || se.Status != 0xA900 {
			t.Errorf("series level without a study: %v", err)
		}
		if _, err := find(t, q, f.ctx, "CBCT1", query(t, map[dcm.Tag]string{dcm.TagPatientName: ""}, nil)); !errors.As(err, &se) {
			t.Errorf("no level: %v", err)
		}
	})
}
