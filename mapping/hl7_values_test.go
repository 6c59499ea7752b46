package mapping

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// OBX-8 takes the first flag of table 0078 medgate knows (off-scale "<"
// and ">" are not plain low and high; AA is critical), and OBX-11 follows
// the v2-to-FHIR concept map (D and W are entered-in-error, not cancelled).
func TestOBXFlagsAndStatus(t *testing.T) {
	for _, tc := range []struct{ flags, status, wantFlag, wantStatus string }{
		{"H", "F", "H", "final"},
		{"<", "F", "<", "final"},
		{">", "C", ">", "corrected"},
		{"AA", "A", "AA", "amended"},
		{"ZZ~POS", "P", "POS", "preliminary"},
		{"neg", "I", "NEG", "registered"},
		{"", "D", "", "entered-in-error"},
		{"S", "W", "S", "entered-in-error"},
		{"N", "X", "N", "cancelled"},
	} {
		m, err := hl7.Parse([]byte("MSH|^~\\&|A|B|||20260101||ORU^R01|1|P|2.5.1\rOBR|1\rOBX|1|NM|K||5|u||"+tc.flags+"|||"+tc.status+"\r"), hl7.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := hl7Result(m.ObservationGroups()[0].Observations[0], time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Flag != tc.wantFlag || r.Status != tc.wantStatus {
			t.Errorf("OBX-8 %q OBX-11 %q: flag %q status %q, want %q %q", tc.flags, tc.status, r.Flag, r.Status, tc.wantFlag, tc.wantStatus)
		}
	}
}

// The filler's number in ORC-3 is the sample ID when OBR-3 and SPM have
// none (some middleware fills only the ORC).
func TestHL7KeysFillerFromORC(t *testing.T) {
	m, err := hl7.Parse([]byte("MSH|^~\\&|A|B|||20260101||ORU^R01|1|P|2.5.1\rORC|RE|P1|0000000018\rOBR|1\rOBX|1|NM|K||5\r"), hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k := hl7Keys(m.ObservationGroups()[0], nil); k.Barcode != "0000000018" || k.Accession != "P1" {
		t.Errorf("keys %+v", k)
	}
}

// Results from a device not set to send results are refused (AR), as
// order queries are from one not set to query.
func TestResultsOnlyFromDevicesThatSendThem(t *testing.T) {
	dev := &domain.Device{ID: 7, OrganizationID: 1, Name: "his", Protocol: domain.ProtocolHL7}
	msg, err := ParseHL7(oruWithED("^Application^PDF^Base64^"), dev, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	_, err = HL7Inbound(context.Background(), HL7Input{LabInput: LabInput{Lookup: newGoldenWorld(), Device: dev, DeviceID: dev.ID}}, msg)
	var inv *listeners.InvalidError
	if !errors.As(err, &inv) || !inv.Unsupported || !strings.Contains(inv.Reason, "not set to send results") {
		t.Fatalf("got %v", err)
	}
}

// A device's own QC mark (a sample-ID prefix) makes its results QC as
// MSH-11 = Q does: stored, never attached, nothing queued.
func TestQCByDevicePrefix(t *testing.T) {
	dev := &domain.Device{ID: 7, OrganizationID: 1, Name: "bc", Protocol: domain.ProtocolHL7, SendsResults: true, QCPrefix: "QC"}
	for _, tc := range []struct {
		sample string
		qc     bool
	}{{"QC-L1-2611", true}, {"0000000018", false}} {
		raw := []byte("MSH|^~\\&|BC|LAB|||20261120||ORU^R01|Q1|P|2.5.1\rPID|1||42^^^^MR\rOBR|1||" + tc.sample +
			"|CBC\rOBX|1|NM|HGB||141|g/L|||||F\r")
		msg, err := ParseHL7(raw, dev, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		res, err := HL7Inbound(context.Background(), HL7Input{LabInput: LabInput{Lookup: newGoldenWorld(), Device: dev, DeviceID: dev.ID}}, msg)
		if err != nil {
			t.Fatal(err)
		}
		rep := res.Reports[0].Report
		if tc.qc && (!rep.QC || rep.PatientID != 0 || len(res.Recon) != 0 || !strings.Contains(res.Reason, "quality-control")) {
			t.Errorf("sample %s: report %+v, recon %+v, reason %q", tc.sample, rep, res.Recon, res.Reason)
		}
		if !tc.qc && (rep.QC || len(res.Recon) == 0) {
			t.Errorf("sample %s: a patient sample was taken for QC", tc.sample)
		}
	}
}

// OBX-18 names the instrument behind the device (a module, an analyzer
// behind a middleware): kept on the result.
func TestOBXEquipment(t *testing.T) {
	m, err := hl7.Parse([]byte("MSH|^~\\&|A|B|||20260101||ORU^R01|1|P|2.5.1\rOBR|1\rOBX|1|NM|K||5||||||F|||||||~XN-20^SYSMEX\r"), hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := hl7Result(m.ObservationGroups()[0].Observations[0], time.Time{})
	if err != nil || r.Equipment != "XN-20 (SYSMEX)" {
		t.Errorf("equipment %q, %v", r.Equipment, err)
	}
}
