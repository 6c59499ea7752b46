package mapping

import (
	"context"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// A code-map entry with both a code of the clinic's own and a LOINC code
// gives the observation both: the own code as Code, LOINC beside it (the
// second coding FHIR shows and searches). LOINC alone becomes the code.
func TestApplyKeepsLOINCBesideLocalCode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry domain.CodeMapEntry
		code  domain.Coding
		loinc string
	}{
		{"local code and LOINC", domain.CodeMapEntry{Code: "HGB-L", LOINC: "718-7", Display: "Гемоглобин"},
			domain.Coding{System: domain.SystemLocalCode, Code: "HGB-L", Display: "Гемоглобин"}, "718-7"},
		{"own system and LOINC", domain.CodeMapEntry{System: "urn:clinic:lab", Code: "HGB-L", LOINC: "718-7"},
			domain.Coding{System: "urn:clinic:lab", Code: "HGB-L"}, "718-7"},
		{"LOINC alone is the code", domain.CodeMapEntry{LOINC: "718-7", Display: "Гемоглобин"},
			domain.Coding{System: domain.SystemLOINC, Code: "718-7", Display: "Гемоглобин"}, ""},
		{"LOINC code, loinc repeated", domain.CodeMapEntry{System: domain.SystemLOINC, Code: "718-7", LOINC: "718-7"},
			domain.Coding{System: domain.SystemLOINC, Code: "718-7"}, ""},
		{"LOINC code", domain.CodeMapEntry{System: domain.SystemLOINC, Code: "718-7"},
			domain.Coding{System: domain.SystemLOINC, Code: "718-7"}, ""},
		{"local code alone", domain.CodeMapEntry{Code: "HGB-L"},
			domain.Coding{System: domain.SystemLocalCode, Code: "HGB-L"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A stale LOINC (an observation mapped again after a map edit)
			// never survives.
			o := domain.Observation{LOINC: "stale", ValueQuantity: &domain.Quantity{Value: 131, Unit: "g/L"}}
			Apply(&o, &tc.entry, Subject{}, "")
			if o.Code != tc.code || o.LOINC != tc.loinc {
				t.Errorf("code %+v loinc %q; want %+v %q", o.Code, o.LOINC, tc.code, tc.loinc)
			}
		})
	}
}

// Through BuildLab: the mapped result carries both codes.
func TestBuildLabLOINCBesideLocalCode(t *testing.T) {
	e := hgb
	e.System, e.Code, e.LOINC = "", "HGB-L", "718-7"
	cm := &domain.CodeMap{Name: "bc5380", Entries: []domain.CodeMapEntry{e}}
	in := LabInput{Lookup: world(), Device: &domain.Device{ID: 7, OrganizationID: 1}, CodeMap: cm, DeviceID: 7}
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	res, err := BuildLab(context.Background(), in, []LabReport{{Keys: Keys{Barcode: "0000000018"}, Effective: at,
		Results: []LabResult{{DeviceCode: "HGB", Quantity: &domain.Quantity{Value: 14, Unit: "g/dL"}}},
		Subject: Subject{domain.GenderMale, "1980-01-02"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Reports[0].Observations[0]
	if o.Code.System != domain.SystemLocalCode || o.Code.Code != "HGB-L" || o.LOINC != "718-7" || o.ValueQuantity.Value != 140 {
		t.Errorf("observation %+v", o)
	}
}
