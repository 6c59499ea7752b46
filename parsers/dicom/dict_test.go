package dicom

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDictionarySorted(t *testing.T) {
	for i := 1; i < len(dictionary); i++ {
		if dictionary[i-1].Tag >= dictionary[i].Tag {
			t.Fatalf("dictionary not sorted at %v", dictionary[i].Tag)
		}
	}
	for _, e := range dictionary {
		if e.VR != "NA" && !ValidVR(e.VR) {
			t.Errorf("%v: bad VR %q", e.Tag, e.VR)
		}
		if tg, ok := TagByKeyword(e.Keyword); !ok || tg != e.Tag {
			t.Errorf("keyword %s", e.Keyword)
		}
	}
	if DictVR(0x00291010) != "UN" || DictVR(0x00290010) != "LO" || DictVR(0x00190000) != "UL" {
		t.Error("DictVR fallbacks")
	}
	if s := TagPatientName.String(); s != "(0010,0010)" {
		t.Errorf("String %q", s)
	}
	if tg, ok := ParseTag("(7FE0,0010)"); !ok || tg != TagPixelData {
		t.Error("ParseTag")
	}
}

// TestDictionaryAgainstDcmtk checks every entry against dcmtk's data
// dictionary (keyword and VR; dcmtk's "ox"/"xs" ambiguities accept
// either choice).
func TestDictionaryAgainstDcmtk(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/libdcmtk*/dicom.dic")
	if len(files) == 0 {
		needTool(t, "dcmdump") // fail under MEDGATE_REQUIRE_DCMTK=1, skip otherwise
		t.Skip("dcmtk dicom.dic not found")
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct{ vr, kw string }
	dcm := map[Tag]entry{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 3 || !strings.HasPrefix(fields[0], "(") {
			continue
		}
		tg, ok := ParseTag(fields[0])
		if !ok {
			continue
		}
		dcm[tg] = entry{fields[1], fields[2]}
	}
	for _, e := range dictionary {
		d, ok := dcm[e.Tag]
		if !ok {
			t.Errorf("%v %s not in dcmtk's dictionary", e.Tag, e.Keyword)
			continue
		}
		vrOK := d.vr == e.VR || (d.vr == "ox" && (e.VR == "OB" || e.VR == "OW")) ||
			(d.vr == "xs" && (e.VR == "US" || e.VR == "SS")) || (d.vr == "na" && e.VR == "NA") || (d.vr == "px" && e.VR == "OW")
		if !vrOK {
			t.Errorf("%v %s: VR %s, dcmtk says %s", e.Tag, e.Keyword, e.VR, d.vr)
		}
		if !strings.EqualFold(d.kw, e.Keyword) && !strings.HasPrefix(d.kw, "RETIRED_") {
			t.Errorf("%v: keyword %s, dcmtk says %s", e.Tag, e.Keyword, d.kw)
		}
	}
}
