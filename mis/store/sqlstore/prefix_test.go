package sqlstore

import (
	"github.com/medgate/medgate/mis/domain"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{
		"ив":          "иг",
		"a":           "b",
		"я":           "ѐ",
		"\U0010FFFF":  "\U0010FFFF",
		"a\U0010FFFF": "b",
		"\uD7FF":      "\uE000",
		"":            "\U0010FFFF",
	} {
		if got := prefixEnd(in); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzPrefixEnd checks the property the name search relies on: in byte
// order, p ≤ every string starting with p < prefixEnd(p).
func FuzzPrefixEnd(f *testing.F) {
	f.Add("иванов", "а")
	f.Add("семенов п", "етр")
	f.Add("z\U0010FFFF", "x")
	f.Fuzz(func(t *testing.T, p, rest string) {
		if !utf8.ValidString(p) || !utf8.ValidString(rest) || p == "" {
			return
		}
		end := prefixEnd(p)
		if !utf8.ValidString(end) {
			t.Fatalf("prefixEnd(%q) = %q is not UTF-8", p, end)
		}
		s := p + rest
		if !(strings.Compare(p, s) <= 0 && strings.Compare(s, end) < 0) && !strings.HasPrefix(end, "\U0010FFFF") {
			t.Fatalf("%q with prefix %q falls outside [%q, %q)", s, p, p, end)
		}
	})
}

func TestCursorRoundTrip(t *testing.T) {
	c := encodeKeyCursor("иванов петр", 42)
	key, id, err := decodeKeyCursor(c)
	if err != nil || key != "иванов петр" || id != 42 {
		t.Fatalf("%q %d %v", key, id, err)
	}
	for _, bad := range []string{"", "!!", "bm9udWw", encodeIDCursor(7) + "x"} {
		if _, _, err := decodeKeyCursor(bad); err == nil {
			t.Errorf("decodeKeyCursor(%q) accepted", bad)
		}
	}
	if id, err := decodeIDCursor(encodeIDCursor(99)); err != nil || id != 99 {
		t.Fatal(id, err)
	}
}

// The multi-row insert counts on ObservationArgs' width.
func TestObservationArgsWidth(t *testing.T) {
	if n := len(ObservationArgs(&domain.Observation{})); n != observationFields {
		t.Fatalf("ObservationArgs returns %d values, observationFields says %d", n, observationFields)
	}
	if got := strings.Count(multiInsertSQL(3, false), "$"); got != 3*(observationFields+1) {
		t.Fatalf("multiInsertSQL(3) has %d parameters", got)
	}
	if got := strings.Count(multiInsertSQL(3, true), "?"); got != 3*(observationFields+1) {
		t.Fatalf("multiInsertSQL(3, ?) has %d parameters", got)
	}
}
