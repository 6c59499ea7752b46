package dicom

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMatchString(t *testing.T) {
	cases := []struct {
		p, v string
		ci   bool
		want bool
	}{
		{"*", "", false, true},
		{"*", "anything", false, true},
		{"Иван*", "Иванов^Иван", false, true},
		{"иван*", "ИВАНОВ^ИВАН", true, true},
		{"иван*", "ИВАНОВ^ИВАН", false, false},
		{"?ван", "Иван", false, true},
		{"?ван", "Ивaн", false, false}, // Latin a
		{"Ё*", "ЕЛКИНА", true, true},
		{"*ов", "Иванов", false, true},
		{"*о?", "Иванов", false, true},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"a**c", "ac", false, true},
		{"*", "*00", false, true},
		{"*0", "**0", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"abc", "abc", false, true},
		{"*a*a*a*a*a*b", strings.Repeat("a", 200), false, false},
	}
	for _, c := range cases {
		if got := MatchString(c.p, c.v, c.ci); got != c.want {
			t.Errorf("MatchString(%q, %q, %v) = %v", c.p, c.v, c.ci, got)
		}
	}
}

func TestLikePattern(t *testing.T) {
	cases := []struct {
		in, like, prefix string
		exact            bool
	}{
		{"Иван*", "Иван%", "Иван", false},
		{"a?c", "a_c", "a", false},
		{"50%_x*", `50\%\_x%`, "50%_x", false},
		{"exact", "exact", "exact", true},
		{"*", "%", "", false},
	}
	for _, c := range cases {
		like, prefix, exact := LikePattern(c.in)
		if like != c.like || prefix != c.prefix || exact != c.exact {
			t.Errorf("LikePattern(%q) = %q %q %v", c.in, like, prefix, exact)
		}
	}
}

func TestDateTimeRanges(t *testing.T) {
	da := []struct {
		key, v string
		want   bool
	}{
		{"20240301-20240331", "20240315", true},
		{"20240301-20240331", "20240401", false},
		{"-20240331", "19991231", true},
		{"20240301-", "20240229", false},
		{"20240301", "20240301", true},
		{"20240301", "2024.03.01", true},
		{"", "", true},
		{"20240301-", "", false},
		{"2024-03-01", "20240301", false},
	}
	for _, c := range da {
		if got := MatchDateRange(c.key, c.v); got != c.want {
			t.Errorf("MatchDateRange(%q, %q) = %v", c.key, c.v, got)
		}
	}
	tm := []struct {
		key, v string
		want   bool
	}{
		{"0800-0900", "0859", true},
		{"0800-0900", "090059.5", true},
		{"0800-0900", "0901", false},
		{"08-09", "0959", true},
		{"-0800", "075959", true},
		{"1000-", "0959", false},
		{"10", "1030", true},
		{"1030", "103045", true},
		{"10:30-11:00", "1045", true},
	}
	for _, c := range tm {
		if got := MatchTimeRange(c.key, c.v); got != c.want {
			t.Errorf("MatchTimeRange(%q, %q) = %v", c.key, c.v, got)
		}
	}
	dt := []struct {
		key, v string
		want   bool
	}{
		{"20240301-20240302", "20240302235959", true},
		{"20240301-20240302", "20240303", false},
		{"202403-", "20240301000000", true},
		{"20240301120000+0300-", "20240301100000+0100", true},  // 09:00Z ≥ 09:00Z
		{"20240301120000+0300-", "20240301085959+0000", false}, // 08:59:59Z
		{"-20240301120000-0300", "20240301150000+0000", true},  // 15:00Z ≤ 15:00:00.999Z
	}
	for _, c := range dt {
		if got := MatchDateTimeRange(c.key, c.v, nil); got != c.want {
			t.Errorf("MatchDateTimeRange(%q, %q) = %v", c.key, c.v, got)
		}
	}
	// Combined DA+TM (PS3.4 C.2.2.2.5).
	comb := []struct {
		dk, tk, d, tm string
		want          bool
	}{
		{"20240301-20240302", "0800-1000", "20240301", "0700", true}, // 1 March after 08:00? no: 07:00 on the first day
		{"20240301-20240302", "0800-1000", "20240302", "1100", false},
		{"20240301-20240302", "0800-1000", "20240301", "2300", true},
		{"20240301", "0800-1000", "20240301", "0900", true},
		{"20240301", "0800-1000", "20240301", "1101", false},
	}
	comb[0].want = false
	for _, c := range comb {
		if got := MatchDateTime(c.dk, c.tk, c.d, c.tm); got != c.want {
			t.Errorf("MatchDateTime(%q, %q, %q, %q) = %v", c.dk, c.tk, c.d, c.tm, got)
		}
	}
	tt, err := ParseDateTime("20240301", "101530.25", time.UTC)
	if err != nil || !tt.Equal(time.Date(2024, 3, 1, 10, 15, 30, 250e6, time.UTC)) {
		t.Errorf("ParseDateTime = %v, %v", tt, err)
	}
	if _, err := ParseDA("20240230", nil); !errors.Is(err, ErrValue) {
		t.Errorf("ParseDA(20240230) = %v", err)
	}
}

func TestValidUID(t *testing.T) {
	for s, want := range map[string]bool{
		"1.2.840.10008.1.2": true, "1.2.0.3": true, "1.02.3": false, "1..2": false, "1.2.": false,
		"": false, "1.2.a": false, strings.Repeat("1", 65): false, strings.Repeat("1", 64): true,
	} {
		if ValidUID(s) != want {
			t.Errorf("ValidUID(%q) != %v", s, want)
		}
	}
}

// worklist builds two invented worklist entries.
func worklist() []Record {
	mk := func(name, id, acc, aet, date, tm, mod string) Record {
		var r Record
		r.Set(TagPatientName, name)
		r.Set(TagPatientID, id)
		r.Set(TagAccessionNumber, acc)
		r.Set(TagPatientBirthDate, "19800229")
		r.Set(TagPatientSex, "M")
		r.Set(TagStudyInstanceUID, "1.2.826.0.1.3680043.10.1234.1."+id)
		r.Set(TagRequestedProcedureDescription, "КЛКТ челюсти")
		r.Set(TagRequestedProcedureID, "RP"+id)
		var sps Record
		sps.Set(TagModality, mod)
		sps.Set(TagScheduledStationAETitle, aet)
		sps.Set(TagScheduledProcedureStepStartDate, date)
		sps.Set(TagScheduledProcedureStepStartTime, tm)
		sps.Set(TagScheduledProcedureStepDescription, "Снимок")
		sps.Set(TagScheduledProcedureStepID, "SPS"+id)
		r.AddItem(TagScheduledProcedureStepSequence, sps)
		return r
	}
	return []Record{
		mk("Иванов^Иван^Иванович", "1", "A1", "CBCT1", "20240315", "0930", "CT"),
		mk("Ёлкина^Алёна", "2", "A2", "CBCT1", "20240315", "1000", "CT"),
		mk("ИВАНЧЕНКО^ПЁТР", "3", "A3", "PANO1", "20240316", "1000", "PX"),
		mk("Иванов^Иван", "4", "A4", "CBCT1", "20240401", "0800", "CT"),
	}
}

func matching(t *testing.T, q *Query, recs []Record) []string {
	t.Helper()
	var ids []string
	for _, r := range recs {
		if q.Match(r) {
			ids = append(ids, r.Values[TagPatientID])
		}
	}
	return ids
}

func TestWorklistQueryFromDcmtk(t *testing.T) {
	f := dump2dcm(t, "mwl_query_utf8.dump")
	h, err := ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(h.Dataset, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := q.Key(TagPatientName); k == nil || k.Kind != Wildcard || k.Value != "Иван*" || !k.Fold {
		t.Fatalf("PatientName key %+v", k)
	}
	sps := q.Key(TagScheduledProcedureStepSequence)
	if sps == nil || sps.Kind != Sequence {
		t.Fatalf("SPS key %+v", sps)
	}
	if k := sps.Item(TagScheduledProcedureStepStartDate); k == nil || k.Kind != Range || k.Lo != "20240301" || k.Hi != "20240331" {
		t.Fatalf("SPS start date key %+v", k)
	}
	if k := sps.Item(TagScheduledProcedureStepStartTime); k == nil || k.Kind != Universal {
		t.Fatalf("SPS start time key %+v", k)
	}
	// "Иван*" case-insensitively matches Иванов and ИВАНЧЕНКО; the SPS
	// item keeps ИВАНЧЕНКО out (PX, PANO1) and 4 (April).
	if got := strings.Join(matching(t, q, worklist()), ","); got != "1" {
		t.Errorf("matches %s, want 1", got)
	}

	for _, c := range []struct {
		name  string
		opt   ResponseOptions
		check func(t *testing.T, f string)
	}{
		{"utf8", ResponseOptions{Charset: mustCharset(t, "ISO_IR 192")}, func(t *testing.T, f string) {
			if v := dcmdumpValue(t, f, "0010,0010", "-f", "-te"); v != "Иванов^Иван^Иванович" {
				t.Errorf("PatientName %q", v)
			}
			if v := dcmdumpValue(t, f, "0040,0100.0040,0007", "-f", "-te"); v != "Снимок" {
				t.Errorf("SPS description %q", v)
			}
		}},
		{"cyrillic", ResponseOptions{Charset: mustCharset(t, "ISO_IR 144")}, func(t *testing.T, f string) {
			if v := dcmdumpValue(t, f, "0010,0010", "-f", "-te"); v != "Иванов^Иван^Иванович" {
				t.Errorf("PatientName %q", v)
			}
		}},
		{"transliterated", ResponseOptions{Transliterate: true}, func(t *testing.T, f string) {
			if v := dcmdumpValue(t, f, "0010,0010", "-f", "-te"); v != "Ivanov^Ivan^Ivanovich" {
				t.Errorf("PatientName %q", v)
			}
			if v := dcmdumpValue(t, f, "0032,1060", "-f", "-te"); v != "KLKT cheliusti" {
				t.Errorf("RequestedProcedureDescription %q", v)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := q.Response(worklist()[0], c.opt)
			if err != nil {
				t.Fatal(err)
			}
			// Exactly the requested keys (plus Specific Character Set).
			var tags []string
			for _, e := range resp.Elements {
				tags = append(tags, e.Tag.String())
			}
			want := "(0008,0005) (0008,0050) (0010,0010) (0010,0020) (0010,0030) (0010,0040) (0020,000D) (0032,1060) (0040,0100) (0040,1001)"
			if strings.Join(tags, " ") != want {
				t.Errorf("response tags %s", strings.Join(tags, " "))
			}
			item := resp.Get(TagScheduledProcedureStepSequence).Items[0]
			if len(item.Elements) != 6 {
				t.Errorf("SPS item has %d elements", len(item.Elements))
			}
			b, err := resp.Encode(ExplicitVRLittleEndian)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "rsp.raw")
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			c.check(t, p)
			// Our own decoder reads it back to the same record values.
			back, err := Decode(b, ExplicitVRLittleEndian)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := RecordFromDataset(back, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.name != "transliterated" && rec.Values[TagPatientName] != "Иванов^Иван^Иванович" {
				t.Errorf("decoded name %q", rec.Values[TagPatientName])
			}
		})
	}
	// Without transliteration an ASCII-only response fails naming the tag.
	_, err = q.Response(worklist()[0], ResponseOptions{})
	var ce *CharsetError
	if !errors.As(err, &ce) || ce.Tag != TagPatientName {
		t.Errorf("ASCII response: %v", err)
	}
}

func TestQueryKinds(t *testing.T) {
	ds := &Dataset{}
	ds.SetText(TagQueryRetrieveLevel, "", "STUDY", nil)
	ds.SetText(TagStudyInstanceUID, "", `1.2.3\1.2.4`, nil)
	ds.SetText(TagModalitiesInStudy, "", `CT\MR`, nil)
	ds.SetText(TagStudyDate, "", "20240101-", nil)
	ds.SetText(TagStudyTime, "", "", nil)
	ds.SetText(TagAccessionNumber, "", "A1", nil)
	ds.SetText(TagPatientID, "", "*", nil)
	ds.SetText(TagNumberOfStudyRelatedInstances, "", "", nil)
	ds.SetEmpty(TagReferencedStudySequence, "SQ")
	ds.SetText(0x00020010, "UI", "1.2", nil) // group 0002 in an identifier is ignored
	q, err := ParseQuery(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Level != "STUDY" || q.Key(0x00020010) != nil {
		t.Fatalf("level %q", q.Level)
	}
	kinds := map[Tag]MatchKind{
		TagStudyInstanceUID: List, TagModalitiesInStudy: List, TagStudyDate: Range, TagStudyTime: Universal,
		TagAccessionNumber: SingleValue, TagPatientID: Universal, TagReferencedStudySequence: Universal,
	}
	for tag, k := range kinds {
		if got := q.Key(tag); got == nil || got.Kind != k {
			t.Errorf("%v: %+v, want %v", tag, got, k)
		}
	}
	var r Record
	r.Set(TagStudyInstanceUID, "1.2.4")
	r.Set(TagModalitiesInStudy, `SR\MR`)
	r.Set(TagStudyDate, "20240505")
	r.Set(TagAccessionNumber, "A1")
	r.Set(TagNumberOfStudyRelatedInstances, "400")
	if !q.Match(r) {
		t.Error("study should match")
	}
	r.Set(TagModalitiesInStudy, `SR\DX`)
	if q.Match(r) {
		t.Error("modalities SR\\DX should not match CT\\MR")
	}
	resp, err := q.Response(r, ResponseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lvl, _ := resp.String(TagQueryRetrieveLevel, nil); lvl != "STUDY" {
		t.Errorf("level %q", lvl)
	}
	if n, _ := resp.String(TagNumberOfStudyRelatedInstances, nil); n != "400" {
		t.Errorf("instances %q", n)
	}
	if e := resp.Get(TagReferencedStudySequence); e == nil || e.VR != "SQ" || len(e.Items) != 0 {
		t.Errorf("empty sequence %+v", e)
	}
	if resp.Has(TagSpecificCharacterSet) {
		t.Error("no charset requested or needed")
	}
	// A sequence key with two items is refused.
	bad := &Dataset{}
	bad.SetSequence(TagScheduledProcedureStepSequence, &Dataset{}, &Dataset{})
	if _, err := ParseQuery(bad, nil); !errors.Is(err, ErrValue) {
		t.Errorf("two items: %v", err)
	}
	// Text that does not decode is a QueryError.
	bad = &Dataset{Elements: []*Element{{Tag: TagPatientName, VR: "PN", Value: []byte{0xB8, 0xD2}}}}
	var qe *QueryError
	if _, err := ParseQuery(bad, nil); !errors.As(err, &qe) || qe.Tag != TagPatientName {
		t.Errorf("undecodable key: %v", err)
	}
	if q, err := ParseQuery(bad, mustCharset(t, "ISO_IR 144")); err != nil || q.Key(TagPatientName).Value != "Ив" {
		t.Errorf("override charset: %v", err)
	}
}

func TestPNMatching(t *testing.T) {
	k := Key{Tag: TagPatientName, VR: "PN", Kind: SingleValue, Value: "иванов^иван", Fold: true}
	for v, want := range map[string]bool{
		"Иванов^Иван":             true,
		"ИВАНОВ^ИВАН^^":           true,
		"Ivanov^Ivan=Иванов^Иван": true,
		"Иванов^Иван^Иванович":    false,
		"Иванова^Ивана":           false,
	} {
		if k.Match(v) != want {
			t.Errorf("%q: %v", v, !want)
		}
	}
	w := Key{Tag: TagPatientName, VR: "PN", Kind: Wildcard, Value: "ёлк*", Fold: true}
	if !w.Match("Елкина^Алена") {
		t.Error("ё/е wildcard")
	}
}

func TestSequenceMatchingAndResponseItems(t *testing.T) {
	ds := &Dataset{}
	item := &Dataset{}
	item.SetText(TagScheduledStationAETitle, "", "CBCT1", nil)
	item.SetText(TagScheduledProcedureStepStartDate, "", "20240315", nil)
	item.SetText(TagScheduledProcedureStepStartTime, "", "0900-0959", nil)
	item.SetEmpty(TagModality, "")
	ds.SetSequence(TagScheduledProcedureStepSequence, item)
	ds.SetEmpty(TagPatientName, "")
	q, err := ParseQuery(ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(matching(t, q, worklist()), ","); got != "1" {
		t.Errorf("matches %q, want 1 (09:30 on 15 March at CBCT1)", got)
	}
	// A record with two SPS items: only the matching one is returned.
	r := worklist()[1]
	var other Record
	other.Set(TagScheduledStationAETitle, "CBCT1")
	other.Set(TagScheduledProcedureStepStartDate, "20240315")
	other.Set(TagScheduledProcedureStepStartTime, "0915")
	other.Set(TagModality, "CT")
	r.AddItem(TagScheduledProcedureStepSequence, other)
	if !q.Match(r) {
		t.Fatal("second SPS item should match")
	}
	resp, err := q.Response(r, ResponseOptions{Charset: mustCharset(t, "ISO_IR 192")})
	if err != nil {
		t.Fatal(err)
	}
	items := resp.Get(TagScheduledProcedureStepSequence).Items
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	if tm, _ := items[0].String(TagScheduledProcedureStepStartTime, nil); tm != "0915" {
		t.Errorf("item time %q", tm)
	}
	if cs, _ := resp.Strings(TagSpecificCharacterSet, nil); len(cs) != 1 || cs[0] != "ISO_IR 192" {
		t.Errorf("charset %q", cs)
	}
}
