package mapping

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// fakeLookup is an in-memory Lookup for the matching rules.
type fakeLookup struct {
	specimens map[string]domain.Specimen
	orders    map[string]domain.ServiceRequest // by accession
	studies   map[string]domain.ServiceRequest // by study UID
	patients  []domain.Patient
	fail      error
}

func (f *fakeLookup) FindSpecimen(_ context.Context, _ int64, b string) (*domain.Specimen, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	if s, ok := f.specimens[b]; ok {
		return &s, nil
	}
	return nil, fmt.Errorf("specimen: %w", domain.ErrNotFound)
}

func (f *fakeLookup) FindOrderByAccession(_ context.Context, _ int64, a string) (*domain.ServiceRequest, error) {
	if o, ok := f.orders[a]; ok {
		return &o, nil
	}
	return nil, fmt.Errorf("order: %w", domain.ErrNotFound)
}

func (f *fakeLookup) FindOrderByStudyUID(_ context.Context, _ int64, u string) (*domain.ServiceRequest, error) {
	if o, ok := f.studies[u]; ok {
		return &o, nil
	}
	return nil, fmt.Errorf("order: %w", domain.ErrNotFound)
}

func (f *fakeLookup) FindPatientsByIdentifier(_ context.Context, _ int64, id domain.Identifier) ([]domain.Patient, error) {
	var out []domain.Patient
	for _, p := range f.patients {
		for _, pid := range p.AllIdentifiers() {
			if pid == id {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func (f *fakeLookup) FindPatientsByDemographics(_ context.Context, _ int64, family, given, birth string, g domain.Gender) ([]domain.Patient, error) {
	var out []domain.Patient
	for _, p := range f.patients {
		if domain.FoldName(p.Family) == domain.FoldName(family) && p.BirthDate == birth && (g == "" || p.Gender == g) {
			out = append(out, p)
		}
	}
	return out, nil
}

func world() *fakeLookup {
	return &fakeLookup{
		specimens: map[string]domain.Specimen{"0000000018": {ID: 5, PatientID: 1, RequestID: 10}},
		orders:    map[string]domain.ServiceRequest{"L000000002": {ID: 11, PatientID: 2}},
		studies:   map[string]domain.ServiceRequest{"2.25.1": {ID: 12, PatientID: 3}},
		patients: []domain.Patient{
			{ID: 1, Family: "Иванов", BirthDate: "1980-01-02", Gender: domain.GenderMale, SNILS: "11223344595"},
			{ID: 2, Family: "Семёнова", BirthDate: "1990-05-17", Gender: domain.GenderFemale,
				Identifiers: []domain.Identifier{{System: "urn:card", Value: "77"}}},
			{ID: 3, Family: "Семенова", BirthDate: "1990-05-17", Gender: domain.GenderFemale,
				Identifiers: []domain.Identifier{{System: "urn:card", Value: "77"}}},
		},
	}
}

func TestFindOrder(t *testing.T) {
	ctx := context.Background()
	lk := world()
	for _, tc := range []struct {
		name string
		k    Keys
		want Match
	}{
		{"barcode", Keys{Barcode: "0000000018"}, Match{PatientID: 1, RequestID: 10, SpecimenID: 5}},
		{"accession as sample id", Keys{Barcode: "L000000002"}, Match{PatientID: 2, RequestID: 11}},
		{"accession", Keys{Accession: "L000000002"}, Match{PatientID: 2, RequestID: 11}},
		{"study uid", Keys{StudyUID: "2.25.1"}, Match{PatientID: 3, RequestID: 12}},
		{"barcode wins over identifier", Keys{Barcode: "0000000018", Identifiers: []domain.Identifier{{System: domain.SystemSNILS, Value: "11223344595"}}},
			Match{PatientID: 1, RequestID: 10, SpecimenID: 5}},
		{"snils", Keys{Identifiers: []domain.Identifier{{System: domain.SystemSNILS, Value: "11223344595"}}}, Match{PatientID: 1}},
		{"identifier without system proves nothing", Keys{Identifiers: []domain.Identifier{{Value: "11223344595"}}},
			Match{Reason: domain.ReasonUnknownPatient, Key: "pid:|11223344595"}},
		{"ambiguous identifier", Keys{Identifiers: []domain.Identifier{{System: "urn:card", Value: "77"}}},
			Match{Reason: domain.ReasonAmbiguousPatient, Key: "pid:urn:card|77"}},
		{"unknown barcode", Keys{Barcode: "999"}, Match{Reason: domain.ReasonNoOrder, Key: "barcode:999"}},
		{"unknown study", Keys{StudyUID: "2.25.9"}, Match{Reason: domain.ReasonNoOrder, Key: "study:2.25.9"}},
		{"nothing to go on", Keys{}, Match{Reason: domain.ReasonUnknownPatient}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Find(ctx, lk, domain.MatchStrict, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			got.Detail = ""
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Demographics propose under their policy and never attach.
func TestDemographicsOnlyPropose(t *testing.T) {
	k := Keys{Barcode: "404", Family: "СЕМЕНОВА", Given: "Анна", BirthDate: "1990-05-17", Gender: domain.GenderFemale}
	strict, _ := Find(context.Background(), world(), domain.MatchStrict, k)
	if strict.Matched() || len(strict.Candidates) != 0 {
		t.Errorf("strict: %+v", strict)
	}
	m, err := Find(context.Background(), world(), domain.MatchPropose, k)
	if err != nil {
		t.Fatal(err)
	}
	if m.Matched() || m.PatientID != 0 || len(m.Candidates) != 2 || m.Reason != domain.ReasonNoOrder {
		t.Errorf("propose: %+v", m)
	}
}

func TestFindFaultIsNotAMiss(t *testing.T) {
	lk := world()
	lk.fail = errors.New("database down")
	if _, err := Find(context.Background(), lk, "", Keys{Barcode: "0000000018"}); err == nil {
		t.Fatal("a lookup fault became a miss")
	}
}

func f(v float64) *float64 { return &v }

var hgb = domain.CodeMapEntry{DeviceCode: "HGB", Code: "718-7", System: domain.SystemLOINC, Display: "Гемоглобин",
	DeviceUnit: "g/dL", Unit: "g/L", Factor: 10, Ranges: []domain.RangeRule{
		{Sex: domain.GenderMale, AgeFromDays: 18 * 365, Low: f(130), High: f(170), CriticalLow: f(70)},
		{Sex: domain.GenderFemale, AgeFromDays: 18 * 365, Low: f(120), High: f(150)},
		{AgeToDays: 18 * 365, Low: f(110), High: f(160), Text: "дети"},
	}}

func TestApplyConvertsAndSnapshotsRange(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		s      Subject
		value  float64
		flag   string
		interp string
		low    float64
	}{
		{"adult man low", Subject{domain.GenderMale, "1980-01-02"}, 12.5, "", "L", 130},
		{"adult man critical", Subject{domain.GenderMale, "1980-01-02"}, 6.0, "", "LL", 130},
		{"adult woman normal", Subject{domain.GenderFemale, "1980-01-02"}, 12.5, "", "N", 120},
		{"child", Subject{domain.GenderFemale, "2020-01-02"}, 17.0, "", "H", 110},
		{"device flag wins", Subject{domain.GenderMale, "1980-01-02"}, 15.0, "A", "A", 130},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := domain.Observation{Effective: at, ValueQuantity: &domain.Quantity{Value: tc.value, Unit: "g/dL"}}
			Apply(&o, &hgb, tc.s, tc.flag)
			if o.Code.Code != "718-7" || o.ValueQuantity.Unit != "g/L" || o.ValueQuantity.Value != tc.value*10 {
				t.Fatalf("converted: %+v %+v", o.Code, o.ValueQuantity)
			}
			if o.Interpretation != tc.interp || o.ReferenceRange == nil || *o.ReferenceRange.Low != tc.low {
				t.Errorf("interp %q range %+v", o.Interpretation, o.ReferenceRange)
			}
		})
	}
	// Unknown age: only an unbanded rule fits; there is none for adults here.
	o := domain.Observation{Effective: at, ValueQuantity: &domain.Quantity{Value: 1}}
	Apply(&o, &hgb, Subject{Gender: domain.GenderMale}, "")
	if o.ReferenceRange != nil || o.Interpretation != "" {
		t.Errorf("range guessed without an age: %+v %q", o.ReferenceRange, o.Interpretation)
	}
}

// A value in another unit than the one the map converts from is not
// converted: it waits, unattached, under unmapped_code, saying why.
func TestBuildLabUnitMismatch(t *testing.T) {
	cm := &domain.CodeMap{Name: "bc5380", Entries: []domain.CodeMapEntry{hgb}}
	in := LabInput{Lookup: world(), Device: &domain.Device{ID: 7, OrganizationID: 1}, CodeMap: cm, DeviceID: 7}
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		unit   string
		mapped bool
	}{{"g/dL", true}, {"G/DL ", true}, {"", true}, {"mg/dL", false}, {"g/L", false}} {
		res, err := BuildLab(context.Background(), in, []LabReport{{Keys: Keys{Barcode: "0000000018"}, Effective: at,
			Results: []LabResult{{DeviceCode: "HGB", Quantity: &domain.Quantity{Value: 13, Unit: tc.unit}}},
			Subject: Subject{domain.GenderMale, "1980-01-02"}}})
		if err != nil {
			t.Fatal(err)
		}
		o := res.Reports[0].Observations[0]
		if tc.mapped {
			if len(res.Recon) != 0 || o.ValueQuantity.Value != 130 || o.ValueQuantity.Unit != "g/L" || o.Interpretation != domain.InterpNormal {
				t.Errorf("unit %q: recon %+v obs %+v", tc.unit, res.Recon, o)
			}
			continue
		}
		if len(res.Recon) != 1 || res.Reports[0].Report.PatientID != 0 || o.ValueQuantity.Value != 13 || o.ValueQuantity.Unit != tc.unit ||
			o.Interpretation != "" || res.Recon[0].Item.Reason != domain.ReasonUnmappedCode || res.Recon[0].Item.Key != "codes:HGB" ||
			res.Recon[0].Item.Detail != "code map bc5380: HGB sent in "+tc.unit+", the map converts from g/dL" {
			t.Errorf("unit %q: recon %+v obs %+v", tc.unit, res.Recon, o)
		}
	}
}

func TestBuildLab(t *testing.T) {
	cm := &domain.CodeMap{Name: "bc5380", Entries: []domain.CodeMapEntry{hgb}}
	dev := &domain.Device{ID: 7, OrganizationID: 1}
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	results := []LabResult{
		{DeviceCode: "HGB", Quantity: &domain.Quantity{Value: 14}},
		{DeviceCode: "XYZ", DeviceDisplay: "unknown", Text: "pos"},
	}
	in := LabInput{Lookup: world(), Device: dev, CodeMap: cm, DeviceID: 7}

	res, err := BuildLab(context.Background(), in, []LabReport{{Keys: Keys{Barcode: "0000000018"}, Effective: at, Results: results,
		Subject: Subject{domain.GenderMale, "1980-01-02"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 2 || len(res.Recon) != 1 {
		t.Fatalf("reports %d recon %d", len(res.Reports), len(res.Recon))
	}
	att := res.Reports[0]
	if att.Report.PatientID != 1 || att.Report.RequestID != 10 || att.Observations[0].SpecimenID != 5 || att.Observations[0].DeviceID != 7 {
		t.Errorf("attached report %+v obs %+v", att.Report, att.Observations[0])
	}
	un := res.Reports[1]
	if un.Report.PatientID != 0 || un.Observations[0].Code.System != domain.SystemDevice || un.Observations[0].Code.Code != "XYZ" {
		t.Errorf("unmapped report %+v obs %+v", un.Report, un.Observations[0])
	}
	if r := res.Recon[0]; r.Item.Reason != domain.ReasonUnmappedCode || r.Report != 1 || r.Item.Key != "codes:XYZ" {
		t.Errorf("recon %+v", r)
	}

	// Unmatched: stored unattached, queued with the reason and key.
	res, _ = BuildLab(context.Background(), in, []LabReport{{Keys: Keys{Barcode: "999"}, Effective: at, Results: results[:1]}})
	if len(res.Reports) != 1 || res.Reports[0].Report.PatientID != 0 || len(res.Recon) != 1 || res.Recon[0].Item.Key != "barcode:999" {
		t.Fatalf("unmatched: %+v", res)
	}
	// A person's earlier decision on that key attaches on reprocessing.
	in.Decisions = []domain.ReconItem{{Key: "barcode:999", Status: domain.ReconAttached, PatientID: 2, RequestID: 11}}
	res, _ = BuildLab(context.Background(), in, []LabReport{{Keys: Keys{Barcode: "999"}, Effective: at, Results: results[:1]}})
	if len(res.Recon) != 0 || res.Reports[0].Report.PatientID != 2 || res.Reports[0].Report.RequestID != 11 {
		t.Fatalf("decision not applied: %+v", res)
	}
	// QC never reaches a chart.
	res, _ = BuildLab(context.Background(), in, []LabReport{{Keys: Keys{Barcode: "0000000018"}, QC: true, Effective: at, Results: results[:1]}})
	if res.Reports[0].Report.PatientID != 0 || len(res.Recon) != 0 {
		t.Fatalf("qc: %+v", res)
	}
}

func TestHL7OptionsFromDeviceProfile(t *testing.T) {
	dev := &domain.Device{Encoding: "windows-1251", Lenient: []string{"glued-segments", "ignore-msh18", "sniff-utf8", "unknown-charset"}}
	o := HL7Options(dev, nil)
	if o.DefaultCharset != "windows-1251" || !o.Lenient.GluedSegments || !o.Lenient.IgnoreMSH18 || !o.Lenient.SniffUTF8 ||
		!o.Lenient.UnknownCharset || !o.Lenient.UnescapedDelimiters {
		t.Errorf("options %+v", o)
	}
	if o := HL7Options(&domain.Device{}, nil); o.Lenient.GluedSegments || o.Lenient.SniffUTF8 || !o.Lenient.UnescapedDelimiters {
		t.Errorf("a device without a profile: %+v", o.Lenient)
	}
	// A sender that escapes its delimiters: OBX-6 10^9/L is a code and its
	// text, as HL7 says, not one unit.
	oru := []byte("MSH|^~\\&|LIS|LAB|||20261120||ORU^R01|S1|P|2.5.1\rOBR|1\rOBX|1|NM|WBC||5|10^9/L\r")
	for _, tc := range []struct {
		lenient []string
		unit    string
	}{{nil, "10^9/L"}, {[]string{"strict-delimiters"}, "10"}} {
		m, err := ParseHL7(oru, &domain.Device{Lenient: tc.lenient}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := (hl7.OBX{Segment: m.Segment("OBX")}).Units().Code; got != tc.unit {
			t.Errorf("lenient %v: unit %q, want %q", tc.lenient, got, tc.unit)
		}
	}
	// A gateway that glued the segments after MSH into one line: readable
	// only with the switch.
	glued := []byte("MSH|^~\\&|GW|LAB|||20261120||ORU^R01|G1|P|2.3.1\rPID|1||12345||Иванов^Пётр| OBR|1||0000000018|CBC| OBX|1|NM|HGB||141|g/L|||||F\r")
	m, err := ParseHL7(glued, &domain.Device{Lenient: []string{"glued-segments"}}, nil)
	if err != nil || m.Segment("OBX") == nil {
		t.Fatalf("glued message with the switch: %v", err)
	}
	if m, err := ParseHL7(glued, &domain.Device{}, nil); err == nil && m.Segment("OBX") != nil {
		t.Error("glued message read without the switch")
	}
}
