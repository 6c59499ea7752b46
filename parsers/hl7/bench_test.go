package hl7

import (
	"testing"
	"time"
)

// cbcORU builds the benchmark message: a CBC ORU^R01 of about 4 KB with 26
// results carrying units, ranges, flags and timestamps, the shape a
// hematology analyzer sends.
func cbcORU() []byte {
	at := time.Date(2024, 3, 15, 10, 29, 0, 0, time.UTC)
	tests := []struct{ code, name, value, unit, rng, flag string }{
		{"6690-2", "WBC", "6.45", "10*9/L", "4.00-10.00", "N"},
		{"751-8", "NEU#", "3.91", "10*9/L", "2.00-7.00", "N"},
		{"731-0", "LYM#", "1.82", "10*9/L", "0.80-4.00", "N"},
		{"742-7", "MON#", "0.51", "10*9/L", "0.12-0.80", "N"},
		{"711-2", "EOS#", "0.17", "10*9/L", "0.02-0.50", "N"},
		{"704-7", "BAS#", "0.04", "10*9/L", "0.00-0.10", "N"},
		{"770-8", "NEU%", "60.6", "%", "50.0-70.0", "N"},
		{"736-9", "LYM%", "28.2", "%", "20.0-40.0", "N"},
		{"5905-5", "MON%", "7.9", "%", "3.0-8.0", "N"},
		{"713-8", "EOS%", "2.6", "%", "0.5-5.0", "N"},
		{"706-2", "BAS%", "0.7", "%", "0.0-1.0", "N"},
		{"789-8", "RBC", "4.12", "10*12/L", "4.30-5.80", "L"},
		{"718-7", "HGB", "128", "g/L", "130-175", "L"},
		{"4544-3", "HCT", "38.5", "%", "40.0-50.0", "L"},
		{"787-2", "MCV", "93.4", "fL", "82.0-100.0", "N"},
		{"785-6", "MCH", "31.1", "pg", "27.0-34.0", "N"},
		{"786-4", "MCHC", "332", "g/L", "316-354", "N"},
		{"788-0", "RDW-CV", "13.9", "%", "11.0-16.0", "N"},
		{"21000-5", "RDW-SD", "47.2", "fL", "35.0-56.0", "N"},
		{"777-3", "PLT", "412", "10*9/L", "125-350", "H"},
		{"32623-1", "MPV", "10.4", "fL", "6.5-12.0", "N"},
		{"32207-3", "PDW", "16.2", "", "9.0-17.0", "N"},
		{"10002", "PCT", "0.428", "%", "0.108-0.282", "H"},
		{"48386-7", "P-LCR", "27.5", "%", "11.0-45.0", "N"},
		{"30341-2", "ESR", ">50", "mm/h", "2-15", "H"},
		{"26515-7", "PLT-I", "***.*", "10*9/L", "125-350", ""},
	}
	var results []Result
	for _, t := range tests {
		var flags, notes []string
		if t.flag != "" && t.flag != "N" {
			flags = []string{t.flag}
			notes = []string{"Verified by repeat measurement; delta check passed."}
		} else if t.flag == "N" {
			flags = []string{"N"}
		}
		results = append(results, Result{
			Type: "NM", ID: CWE{Code: t.code, Text: t.name + " automated count in blood", System: "LN"},
			Value: t.value, Units: CWE{Code: t.unit}, Range: t.rng, Flags: flags, Time: at,
			Equipment: []EI{{ID: "BC-5380", NamespaceID: "Mindray", UniversalID: "SN12345"}},
			Notes:     notes,
		})
	}
	m := BuildORU(ORU{
		Header: Header{
			SendingApplication: HD{NamespaceID: "BC-5380"}, SendingFacility: HD{NamespaceID: "Mindray"},
			ReceivingApplication: HD{NamespaceID: "MEDGATE"}, ReceivingFacility: HD{NamespaceID: "LAB"},
			Time: at, ControlID: "20240315102900-0001", Version: "2.3.1", CharacterSet: "UNICODE UTF-8",
		},
		Patient: Patient{
			Identifiers: []CX{{ID: "100234", AssigningAuthority: HD{NamespaceID: "MEDGATE"}, TypeCode: "MR"}},
			Names:       []XPN{{Family: "Иванов", Given: "Пётр", Middle: "Сергеевич"}},
			BirthDate:   time.Date(1980, 4, 12, 0, 0, 0, 0, time.UTC), Sex: "M",
			Addresses: []XAD{{Street: "ул. Ленина, д. 5, кв. 12", City: "Москва", Zip: "101000", Country: "RUS", TypeCode: "H"}},
			Phones:    []XTN{{Number: "+7 (495) 123-45-67", Use: "PRN", Equipment: "PH"}},
		},
		Visit: &Visit{Class: "O", Location: PL{PointOfCare: "THER", Room: "101"},
			AttendingDoctor: XCN{ID: "D042", Family: "Петрова", Given: "Анна", Middle: "Викторовна", Prefix: "Dr"}},
		Reports: []Report{{
			OrderControl: "RE", PlacerOrderNumber: EI{ID: "ORD-77"}, FillerOrderNumber: EI{ID: "S240315001"},
			Service:         CWE{Code: "58410-2", Text: "CBC panel - Blood by Automated count", System: "LN"},
			ObservationTime: at, Results: results,
			Notes: []string{"Sample drawn fasting; no hemolysis, lipemia or icterus detected."},
		}},
	})
	return m.Encode()
}

func BenchmarkParseORU(b *testing.B) {
	data := cbcORU()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseORUAndRead adds what a mapper does next: reading every
// OBX's code, value, units, range, flags and time.
func BenchmarkParseORUAndRead(b *testing.B) {
	data := cbcORU()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(data, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range m.ObservationGroups() {
			for _, o := range g.Observations {
				_ = o.OBX.ObservationID()
				_ = o.OBX.Value()
				_ = o.OBX.Units()
				_ = o.OBX.ReferenceRange()
				_ = o.OBX.AbnormalFlags()
				_, _ = o.OBX.ObservationDateTime()
			}
		}
	}
}

func TestBenchMessageSize(t *testing.T) {
	data := cbcORU()
	if len(data) < 3800 || len(data) > 4400 {
		t.Errorf("benchmark message is %d bytes, want about 4 KB", len(data))
	}
	m, err := Parse(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.All("OBX")); n < 25 {
		t.Errorf("%d OBX", n)
	}
}
