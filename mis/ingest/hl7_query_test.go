package ingest_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/parsers/hl7"
	simhl7 "github.com/medgate/medgate/simulators/hl7"
)

// queryWorld is the base world plus a Mindray-style HL7 analyzer that
// queries orders, with a code map giving the CBC its device code, served
// by a real MLLP listener whose handler is the HL7Responder.
type queryWorld struct {
	*world
	hdev *domain.Device
	addr string
}

func setupQuery(t *testing.T, st store.Store, queries bool) *queryWorld {
	w := setup(t, st)
	cm := &domain.CodeMap{OrganizationID: w.org, Name: "bc", Entries: []domain.CodeMapEntry{
		{DeviceCode: "CBC-DIFF", Code: "CBC", Display: "Общий анализ крови"}}}
	if err := st.PutCodeMap(w.ctx, cm, nil); err != nil {
		t.Fatal(err)
	}
	dev := &domain.Device{OrganizationID: w.org, Name: "BC-5380", Protocol: domain.ProtocolHL7, SendingApplication: "BC-5380",
		CodeMap: "bc", QueriesOrders: queries, SendsResults: true, Active: true}
	if err := st.CreateDevice(w.ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	w.p.Processors[listeners.HL7] = ingest.HL7{Location: time.UTC}
	addr := serveMLLP(t, &mllp.Server{Handler: ingest.HL7Responder{Pipeline: w.p, Location: time.UTC}})
	return &queryWorld{world: w, hdev: dev, addr: addr}
}

// serveMLLP runs srv on a loopback port until the test ends and returns
// its address.
func serveMLLP(t *testing.T, srv *mllp.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// query sends one QRY^Q02 for barcode with the simulator's query mode and
// returns what came back: the QCK and whatever followed it.
func (w *queryWorld) query(t *testing.T, barcode string) []*hl7.Message {
	t.Helper()
	_, out := w.queryAs(t, "Q02", barcode)
	return out
}

// queryAs sends one order query of trigger (Q02 or R02) for barcode and
// returns its MSH-10 and what came back: the answer and whatever followed
// it. The simulator has checked that the answer's MSA-2 is that MSH-10.
func (w *queryWorld) queryAs(t *testing.T, trigger, barcode string) (string, []*hl7.Message) {
	t.Helper()
	var answer simhl7.Answer
	rep, err := simhl7.Run(context.Background(), simhl7.Config{Addr: w.addr, Kind: "qry", Count: 1,
		Params:    simhl7.Params{App: "BC-5380", Barcode: barcode, QueryTrigger: trigger},
		QueryWait: 300 * time.Millisecond, Timeout: 5 * time.Second,
		OnAnswer: func(a simhl7.Answer) { answer = a }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked["AA"] != 1 || !rep.OK() {
		t.Fatalf("simulator report: %+v", rep)
	}
	var out []*hl7.Message
	for _, f := range answer.Frames {
		m, err := hl7.Parse(f, hl7.Options{})
		if err != nil {
			t.Fatalf("answer does not parse: %v\n%q", err, f)
		}
		out = append(out, m)
	}
	return answer.ControlID, out
}

func dsp(m *hl7.Message) map[string]string {
	out := map[string]string{}
	for _, s := range m.All("DSP") {
		out[s.Field(1).String()] = s.Field(3).Raw()
	}
	return out
}

// TestHL7QueryAnswered: a QRY^Q02 for a known barcode is stored and
// answered on the same connection with QCK^Q02 (QAK OK) then DSR^Q03 with
// the patient and the test in the device's code; the analyzer's ACK^Q03 is
// stored and not answered.
func TestHL7QueryAnswered(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			w := setupQuery(t, d.Open(t), true)
			barcode := w.order.Specimens[0].Barcode
			got := w.query(t, barcode)
			if len(got) != 2 {
				t.Fatalf("got %d messages; want QCK^Q02 and DSR^Q03", len(got))
			}
			qck, dsr := got[0], got[1]
			if mt := qck.MSH().MessageType(); mt.Code != "QCK" || mt.Trigger != "Q02" {
				t.Errorf("first answer %v", mt)
			}
			if q := qck.Segment("QAK"); q == nil || q.Field(2).String() != "OK" {
				t.Errorf("QCK without QAK OK")
			}
			if mt := dsr.MSH().MessageType(); mt.Code != "DSR" || mt.Trigger != "Q03" {
				t.Errorf("second answer %v", mt)
			}
			lines := dsp(dsr)
			if lines["3"] != "Иванов Пётр" || lines["4"] != "19800102000000" || lines["5"] != "M" || lines["21"] != barcode {
				t.Errorf("DSP lines %v", lines)
			}
			if lines["29"] != "CBC-DIFF^^^" {
				t.Errorf("DSP-29 %q; want the device code CBC-DIFF", lines["29"])
			}
			qmsa := hl7.MSA{Segment: qck.Segment("MSA")}
			dmsa := hl7.MSA{Segment: dsr.Segment("MSA")}
			if qmsa.ControlID() == "" || qmsa.ControlID() != dmsa.ControlID() || qmsa.AckCode() != "AA" {
				t.Errorf("MSA-2 %q/%q", qmsa.ControlID(), dmsa.ControlID())
			}
			// The QRY and the analyzer's ACK^Q03 are both stored, processed.
			time.Sleep(100 * time.Millisecond)
			var types []string
			for _, m := range w.messages(t) {
				types = append(types, m.Type+":"+string(m.Status))
			}
			want := []string{"ACK^Q03:processed", "QRY^Q02:processed"}
			if strings.Join(types, ",") != strings.Join(want, ",") {
				t.Errorf("stored messages %v; want %v", types, want)
			}
		})
	}
}

// TestHL7QueryUnknownBarcode: no orders is an answer (QCK with QAK NF, no
// DSR), never an error; a cancelled order counts as none.
func TestHL7QueryUnknownBarcode(t *testing.T) {
	w := setupQuery(t, dialects[0].Open(t), true)
	got := w.query(t, "9999999999")
	if len(got) != 1 || got[0].Segment("QAK") == nil || got[0].Segment("QAK").Field(2).String() != "NF" {
		t.Fatalf("unknown barcode: %d messages; want one QCK with QAK NF", len(got))
	}
	if _, err := w.st.SetServiceRequestStatus(w.ctx, []int64{w.org}, w.order.ID, domain.StatusCancelled, nil); err != nil {
		t.Fatal(err)
	}
	got = w.query(t, w.order.Specimens[0].Barcode)
	if len(got) != 1 || got[0].Segment("QAK").Field(2).String() != "NF" {
		t.Errorf("cancelled order: want QAK NF")
	}
}

// TestHL7QueryNotAllowed: a device not set to query orders gets AR
// (unsupported) and the query is kept.
func TestHL7QueryNotAllowed(t *testing.T) {
	w := setupQuery(t, dialects[0].Open(t), false)
	rep, err := simhl7.Run(context.Background(), simhl7.Config{Addr: w.addr, Kind: "qry", Count: 1,
		Params: simhl7.Params{App: "BC-5380", Barcode: w.order.Specimens[0].Barcode}, QueryWait: 100 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked["AR"] != 1 {
		t.Errorf("report %+v; want one AR", rep)
	}
	if ms := w.messages(t); len(ms) != 1 || ms[0].Status != domain.MessageError {
		t.Errorf("stored %+v", ms)
	}
}

// TestHL7QueryR02Answered: a QRY^R02 for a known barcode is stored and
// answered on the same connection with one ORF^R04 (MSA AA for the
// query's MSH-10, QRD/QRF echoed, PID, ORC/OBR with the test in the
// device's code, QAK OK); nothing follows it. An unknown barcode and a
// cancelled order are answered with an ORF^R04 without PID/OBR and QAK NF.
func TestHL7QueryR02Answered(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			w := setupQuery(t, d.Open(t), true)
			barcode := w.order.Specimens[0].Barcode
			ctl, got := w.queryAs(t, "R02", barcode)
			if len(got) != 1 {
				t.Fatalf("got %d messages; want one ORF^R04", len(got))
			}
			orf := got[0]
			if mt := orf.MSH().MessageType(); mt.Code != "ORF" || mt.Trigger != "R04" || mt.Structure != "ORF_R04" {
				t.Errorf("answer %v", mt)
			}
			if msa := (hl7.MSA{Segment: orf.Segment("MSA")}); msa.AckCode() != "AA" || msa.ControlID() != ctl || ctl == "" {
				t.Errorf("MSA %q; want AA for %q", msa.Raw(), ctl)
			}
			if q := orf.Segment("QRD"); q == nil || (hl7.QRD{Segment: q}).WhoSubjectFilter()[0].ID != barcode || orf.Segment("QRF") == nil {
				t.Errorf("QRD/QRF not echoed")
			}
			if n := orf.PID().Names(); len(n) != 1 || n[0].Family != "Иванов" || n[0].Given != "Пётр" ||
				orf.PID().Field(7).String() != "19800102" || orf.PID().Sex() != "M" {
				t.Errorf("PID %q", orf.PID().Raw())
			}
			if ids := orf.PID().Identifiers(); len(ids) == 0 || ids[0].ID != strconv.FormatInt(w.patient, 10) {
				t.Errorf("PID-3 %+v; want patient %d", ids, w.patient)
			}
			orc, obr := orf.Segment("ORC"), orf.Segment("OBR")
			if orc == nil || obr == nil || len(orf.All("OBR")) != 1 {
				t.Fatalf("want one ORC and OBR for the one test")
			}
			o := hl7.OBR{Segment: obr}
			if o.UniversalServiceID().Code != "CBC-DIFF" || o.FillerOrderNumber().ID != barcode || o.PlacerOrderNumber().ID != w.order.AccessionNumber {
				t.Errorf("OBR %q; want CBC-DIFF, filler %s, placer %s", obr.Raw(), barcode, w.order.AccessionNumber)
			}
			if c := (hl7.ORC{Segment: orc}); c.OrderControl() != "NW" || c.FillerOrderNumber().ID != barcode {
				t.Errorf("ORC %q", orc.Raw())
			}
			if q := orf.Segment("QAK"); q == nil || q.Field(2).String() != "OK" {
				t.Errorf("no QAK OK")
			}
			time.Sleep(100 * time.Millisecond)
			var types []string
			for _, m := range w.messages(t) {
				types = append(types, m.Type+":"+string(m.Status))
			}
			if want := "QRY^R02:processed"; strings.Join(types, ",") != want {
				t.Errorf("stored messages %v; want %v", types, want)
			}

			for _, bc := range []string{"9999999999", "cancelled"} {
				if bc == "cancelled" {
					if _, err := w.st.SetServiceRequestStatus(w.ctx, []int64{w.org}, w.order.ID, domain.StatusCancelled, nil); err != nil {
						t.Fatal(err)
					}
					bc = barcode
				}
				_, got := w.queryAs(t, "R02", bc)
				if len(got) != 1 || got[0].MSH().MessageType().Code != "ORF" {
					t.Fatalf("%s: %d messages; want one ORF^R04", bc, len(got))
				}
				m := got[0]
				if m.Segment("PID") != nil || m.Segment("OBR") != nil || m.Segment("QAK") == nil || m.Segment("QAK").Field(2).String() != "NF" {
					t.Errorf("%s: want an ORF^R04 without PID/OBR and QAK NF", bc)
				}
			}
		})
	}
}

// TestHL7QueryR02NotAllowed: a device not set to query orders gets AR for
// a QRY^R02 too, and the query is kept.
func TestHL7QueryR02NotAllowed(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.Name, func(t *testing.T) {
			w := setupQuery(t, d.Open(t), false)
			rep, err := simhl7.Run(context.Background(), simhl7.Config{Addr: w.addr, Kind: "qry", Count: 1,
				Params:    simhl7.Params{App: "BC-5380", Barcode: w.order.Specimens[0].Barcode, QueryTrigger: "R02"},
				QueryWait: 100 * time.Millisecond, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Acked["AR"] != 1 || rep.Mismatched != 0 {
				t.Errorf("report %+v; want one AR", rep)
			}
			if ms := w.messages(t); len(ms) != 1 || ms[0].Status != domain.MessageError || ms[0].Type != "QRY^R02" {
				t.Errorf("stored %+v", ms)
			}
		})
	}
}
