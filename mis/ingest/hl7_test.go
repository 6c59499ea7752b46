package ingest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/parsers/hl7"
)

func (w *world) hl7Device(t *testing.T) {
	t.Helper()
	dev := &domain.Device{OrganizationID: w.org, Name: "bc-5380", Protocol: domain.ProtocolHL7, SendingApplication: "BC-5380",
		Encoding: "windows-1251", CodeMap: "xn", SendsResults: true, Active: true}
	if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	w.p.Processors[listeners.HL7] = ingest.HL7{}
}

func hl7Env(raw []byte, key string) *listeners.Envelope {
	return &listeners.Envelope{Protocol: listeners.HL7, Listener: "mllp", Peer: "127.0.0.1:40000", SendingApplication: "BC-5380",
		SendingFacility: "LAB", Key: key, Type: "ORU^R01", Raw: raw, Received: time.Now()}
}

// An analyzer's ORU^R01 in Windows-1251 (MSH-18 empty, the device's
// configured charset) attaches to the order its sample ID names.
func TestHL7ResultsAttach(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		oru := hl7.BuildORU(hl7.ORU{
			Header: hl7.Header{SendingApplication: hl7.HD{NamespaceID: "BC-5380"}, SendingFacility: hl7.HD{NamespaceID: "LAB"},
				Time: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC), ControlID: "MSG0001", Encoding: "windows-1251"},
			Patient: hl7.Patient{Names: []hl7.XPN{{Family: "Иванов", Given: "Пётр", Middle: "Сергеевич"}}, Sex: "M",
				BirthDate: time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)},
			Reports: []hl7.Report{{FillerOrderNumber: hl7.EI{ID: w.order.Specimens[0].Barcode}, Service: hl7.CWE{Code: "CBC", Text: "Общий анализ крови"},
				ObservationTime: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
				Results: []hl7.Result{
					{Type: "NM", ID: hl7.CWE{Code: "HGB", Text: "Гемоглобин"}, Value: "125", Units: hl7.CWE{Code: "g/L"}, Range: "130-170", Flags: []string{"L"}},
					{Type: "NM", ID: hl7.CWE{Code: "HGB2"}, Value: "***.**"},
				}}},
		})
		raw, err := oru.EncodeCharset("windows-1251")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.p.Handle(w.ctx, hl7Env(raw, "MSG0001")); err != nil {
			t.Fatal(err)
		}
		c := w.chart(t)
		if len(c.Observations) != 1 {
			t.Fatalf("%d observations attached, want 1 (HGB2 is unmapped)", len(c.Observations))
		}
		o := c.Observations[0]
		if o.Code.Code != "718-7" || o.Interpretation != "L" || o.ValueQuantity == nil || o.ValueQuantity.Value != 125 ||
			o.RequestID != w.order.ID || !o.Effective.Equal(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("observation %+v %+v", o, o.ValueQuantity)
		}
		items := w.open(t)
		if len(items) != 1 || items[0].Reason != domain.ReasonUnmappedCode {
			t.Fatalf("queue %+v", items)
		}
	})
}

// Results that name the patient by the ID medgate's own orders put in PID-3
// (id^^^MEDGATE^PI), without a sample ID, attach to that patient.
func TestHL7ResultsByMedgatePatientID(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		raw := []byte("MSH|^~\\&|BC-5380|LAB|||20261120093000||ORU^R01|MSG0002|P|2.5.1||||||UNICODE UTF-8\r" +
			"PID|1||" + strconv.FormatInt(w.patient, 10) + "^^^MEDGATE^PI||Иванов^Пётр||19800102|M\r" +
			"OBR|1|||CBC^Общий анализ крови|||20261120090000\r" +
			"OBX|1|NM|HGB^Гемоглобин||141|g/L|130-170|N|||F\r")
		if err := w.p.Handle(w.ctx, hl7Env(raw, "MSG0002")); err != nil {
			t.Fatal(err)
		}
		if c := w.chart(t); len(c.Observations) != 1 || c.Observations[0].ValueQuantity.Value != 141 {
			t.Fatalf("chart %+v", c.Observations)
		}
		if items := w.open(t); len(items) != 0 {
			t.Fatalf("queue %+v", items)
		}
	})
}

// What the results' SPM says of a known sample (its type, when it was
// collected) fills what the order left blank, and never overwrites it.
func TestHL7SpecimenFromSPM(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		oru := func(key, typ, collected string) []byte {
			return []byte("MSH|^~\\&|BC-5380|LAB|||20261120093000||ORU^R01|" + key + "|P|2.5.1||||||UNICODE UTF-8\r" +
				"PID|1||||Иванов^Пётр||19800102|M\r" +
				"OBR|1|||CBC^Общий анализ крови|||20261120090000\r" +
				"OBX|1|NM|HGB^Гемоглобин||141|g/L|130-170|N|||F\r" +
				"SPM|1|^" + w.order.Specimens[0].Barcode + "||" + typ + "|||||||||||||" + collected + "\r")
		}
		if err := w.p.Handle(w.ctx, hl7Env(oru("SPM1", "BLD^Whole blood^HL70487", "20261120081500"), "SPM1")); err != nil {
			t.Fatal(err)
		}
		o, err := w.st.GetServiceRequest(w.ctx, []int64{w.org}, w.order.ID)
		if err != nil {
			t.Fatal(err)
		}
		sp := o.Specimens[0]
		want := time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC)
		if sp.Type.Code != "BLD" || sp.Type.System != "http://terminology.hl7.org/CodeSystem/v2-0487" || sp.Collected == nil ||
			!sp.Collected.Equal(want) {
			t.Fatalf("specimen %+v", sp)
		}
		if c := w.chart(t); len(c.Observations) != 1 || c.Observations[0].SpecimenID != sp.ID {
			t.Fatalf("chart %+v", c.Observations)
		}
		// A later message saying otherwise changes nothing already known.
		if err := w.p.Handle(w.ctx, hl7Env(oru("SPM2", "SER^Serum^HL70487", "20261120100000"), "SPM2")); err != nil {
			t.Fatal(err)
		}
		o, _ = w.st.GetServiceRequest(w.ctx, []int64{w.org}, w.order.ID)
		if got := o.Specimens[0]; got.Type.Code != "BLD" || got.Collected == nil || !got.Collected.Equal(want) {
			t.Fatalf("specimen overwritten: %+v", got)
		}
	})
}

func TestHL7BadInput(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		var inv *listeners.InvalidError
		err := w.p.Handle(w.ctx, hl7Env([]byte("MSH|^~\\&|BC-5380|LAB|||20261120||ORU^R01|X1|P|2.3.1\rOBR|1\rOBX|1|NM\r"), "X1"))
		if !errors.As(err, &inv) {
			t.Fatalf("OBX without a code: %v", err)
		}
		err = w.p.Handle(w.ctx, hl7Env([]byte("MSH|^~\\&|BC-5380|LAB|||20261120||ADT^A03|X2|P|2.3.1\rPID|1||1\r"), "X2"))
		if !errors.As(err, &inv) || !inv.Unsupported {
			t.Fatalf("ADT^A03 (discharge) is not taken: %v", err)
		}
		err = w.p.Handle(w.ctx, hl7Env([]byte("MSH|^~\\&|BC-5380|LAB|||20261120||ORU^R01|X3|P|2.3.1|||||||UNICODE UTF-8\rPID|1||1||\xff\xfe\r"), "X3"))
		if !errors.As(err, &inv) {
			t.Fatalf("invalid UTF-8 declared UTF-8: %v", err)
		}
		for _, m := range w.messages(t) {
			if m.Status != domain.MessageError || m.Reason == "" {
				t.Errorf("message %d: %s %q", m.ID, m.Status, m.Reason)
			}
		}
		if c := w.chart(t); len(c.Observations) != 0 {
			t.Fatal("bad input attached results")
		}
	})
}

// Real analyzer messages from the shared corpus go through without error:
// stored, and queued since no order here carries their sample IDs.
func TestHL7Corpus(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		for _, name := range []string{"01_mindray_bc5380_oru_r01_v231_cbc_histogram_ed", "19_mirth_oru_r01_v24_cmp_panel"} {
			raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hl7", name, "input.hl7"))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.p.Handle(w.ctx, hl7Env(raw, name)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		for _, m := range w.messages(t) {
			if m.Status != domain.MessageQueued {
				t.Errorf("message %d (%s): %s %q", m.ID, m.Key, m.Status, m.Reason)
			}
		}
	})
}

// The start of a message too large to take is kept with status error and
// never processed.
func TestHL7TruncatedKept(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		env := hl7Env([]byte("MSH|^~\\&|BC-5380|LAB|||20261120||ORU^R01|BIG1|P|2.3.1\rOBX|1|NM|HGB||1"), "BIG1")
		env.Truncated = true
		if err := w.p.Handle(w.ctx, env); err != nil {
			t.Fatal(err)
		}
		ms := w.messages(t)
		if len(ms) != 1 || ms[0].Status != domain.MessageError || ms[0].Reason == "" || ms[0].Key != "BIG1" {
			t.Fatalf("messages %+v", ms)
		}
		if c := w.chart(t); len(c.Observations) != 0 {
			t.Errorf("a truncated message was processed: %d observations", len(c.Observations))
		}
	})
}
