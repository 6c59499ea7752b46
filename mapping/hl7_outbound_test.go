package mapping

import (
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

func TestDeviceCoding(t *testing.T) {
	cm := &domain.CodeMap{Entries: []domain.CodeMapEntry{
		{DeviceCode: "GLU", System: domain.SystemLOINC, Code: "2345-7", Display: "Glucose"},
		{DeviceCode: "WBC", Code: "wbc", LOINC: "6690-2"},
	}}
	for _, c := range []struct {
		in   domain.Coding
		want string
	}{
		{domain.Coding{System: domain.SystemLOINC, Code: "2345-7"}, "GLU"},
		{domain.Coding{Code: "2345-7"}, "GLU"},                                    // no system: any
		{domain.Coding{System: domain.SystemLocalCode, Code: "2345-7"}, "2345-7"}, // other system: as it is
		{domain.Coding{System: domain.SystemLocalCode, Code: "wbc"}, "WBC"},       // entry without a system: local codes
		{domain.Coding{System: domain.SystemLOINC, Code: "6690-2"}, "WBC"},        // by the entry's LOINC
		{domain.Coding{Code: "CRP"}, "CRP"},
	} {
		if got := DeviceCoding(cm, c.in).Code; got != c.want {
			t.Errorf("DeviceCoding(%+v) = %q; want %q", c.in, got, c.want)
		}
	}
	if got := DeviceCoding(nil, domain.Coding{Code: "X"}).Code; got != "X" {
		t.Errorf("without a code map: %q", got)
	}
}

// TestBuildOrderMessageCharset: a device set to windows-1251 gets the
// names in that charset with MSH-18 empty; OML carries the barcode in SPM-2.
func TestBuildOrderMessageCharset(t *testing.T) {
	collected := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	o := OrderMessage{Type: "OML^O21", Control: "NW", ControlID: "MG1-7", Time: collected,
		Order: &domain.ServiceRequest{AccessionNumber: "L000000007", Priority: domain.PriorityStat,
			Codes:     []domain.Coding{{System: domain.SystemLOINC, Code: "2345-7"}},
			Specimens: []domain.Specimen{{Barcode: "0000000075", Collected: &collected}}},
		Patient: &domain.Patient{ID: 42, Family: "Щукина", Given: "Ёлка", BirthDate: "1990-05-06", Gender: domain.GenderFemale},
		Device:  &domain.Device{SendingApplication: "BS-240", Encoding: "windows-1251"},
	}
	raw := BuildOrderMessage(o)
	m, err := hl7.Parse(raw, hl7.Options{DefaultCharset: "windows-1251"})
	if err != nil {
		t.Fatal(err)
	}
	if cs := m.MSH().CharacterSet(); cs != "" {
		t.Errorf("MSH-18 %q; want empty for a device configured for its charset", cs)
	}
	if n := m.PID().Names(); len(n) == 0 || n[0].Family != "Щукина" || n[0].Given != "Ёлка" {
		t.Errorf("PID-5 %+v", n)
	}
	if mt := m.MSH().MessageType(); mt.Code != "OML" || m.MSH().ControlID() != "MG1-7" {
		t.Errorf("MSH-9/10 %v %q", mt, m.MSH().ControlID())
	}
	spm := hl7.SPM{Segment: m.Segment("SPM")}
	if spm.Segment == nil || spm.SpecimenID().Placer.ID != "0000000075" {
		t.Errorf("SPM-2 missing the barcode")
	}
	utf := BuildOrderMessage(OrderMessage{Control: "CA", ControlID: "MG1-8", Order: o.Order, Patient: o.Patient,
		Device: &domain.Device{SendingApplication: "BS-240"}})
	m, err = hl7.Parse(utf, hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cs := m.MSH().CharacterSet(); cs != "UNICODE UTF-8" {
		t.Errorf("MSH-18 %q; want UNICODE UTF-8", cs)
	}
	if orc := (hl7.ORC{Segment: m.Segment("ORC")}); orc.OrderControl() != "CA" || orc.Priority() != "S" {
		t.Errorf("ORC-1 %q ORC-7.6 %q", orc.OrderControl(), orc.Priority())
	}
}
