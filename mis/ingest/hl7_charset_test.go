package ingest_test

import (
	"net"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/parsers/hl7"
)

// A Windows-1251 analyzer that leaves MSH-18 empty and names its facility
// in Cyrillic (MSH-4 "ЛАБ") is found by that facility — the MSH is read in
// the device's configured encoding — its results attach, and the ACK comes
// back in Windows-1251 with the facility intact.
func TestHL7DeviceEncodingReadsHeader(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		dev := &domain.Device{OrganizationID: w.org, Name: "bc-5380-lab", Protocol: domain.ProtocolHL7, SendingApplication: "BC-5380",
			SendingFacility: "ЛАБ", Encoding: "windows-1251", CodeMap: "xn", SendsResults: true, Active: true}
		if err := w.st.CreateDevice(w.ctx, dev, nil); err != nil {
			t.Fatal(err)
		}
		w.p.Processors[listeners.HL7] = ingest.HL7{Location: time.UTC}
		addr := serveMLLP(t, &mllp.Server{Handler: ingest.HL7Responder{Pipeline: w.p, Location: time.UTC}, Charset: w.p.Encoding})

		oru := hl7.BuildORU(hl7.ORU{
			Header: hl7.Header{SendingApplication: hl7.HD{NamespaceID: "BC-5380"}, SendingFacility: hl7.HD{NamespaceID: "ЛАБ"},
				Time: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC), ControlID: "CYR1", Encoding: "windows-1251"},
			Reports: []hl7.Report{{FillerOrderNumber: hl7.EI{ID: w.order.Specimens[0].Barcode}, Service: hl7.CWE{Code: "CBC"},
				Results: []hl7.Result{{Type: "NM", ID: hl7.CWE{Code: "HGB", Text: "Гемоглобин"}, Value: "131", Units: hl7.CWE{Code: "g/L"}}}}},
		})
		raw, err := oru.EncodeCharset("windows-1251")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err := mllp.NewWriter(conn).WriteMessage(raw); err != nil {
			t.Fatal(err)
		}
		ackRaw, err := mllp.NewReader(conn).ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		ack, err := hl7.Parse(ackRaw, hl7.Options{DefaultCharset: "windows-1251"})
		if err != nil {
			t.Fatalf("ACK: %v\n%q", err, ackRaw)
		}
		if code := (hl7.MSA{Segment: ack.Segment("MSA")}).AckCode(); code != "AA" {
			t.Fatalf("ACK %s: %q", code, ackRaw)
		}
		facility, _ := charmap.Windows1251.NewEncoder().String("ЛАБ")
		if got := ack.MSH().ReceivingFacility().NamespaceID; got != "ЛАБ" {
			t.Errorf("ACK MSH-6 %q, want ЛАБ (%q in Windows-1251)", got, facility)
		}
		if c := w.chart(t); len(c.Observations) != 1 || c.Observations[0].DeviceID != dev.ID {
			t.Errorf("chart: %+v", c.Observations)
		}
	})
}
