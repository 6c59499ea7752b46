package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidateSNILS(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"11223344595", true},  // weighted sum 95
		{"12345678964", true},  // sum 165 → 165 mod 101 = 64
		{"99999999901", true},  // sum 405 → 405 mod 101 = 1
		{"11223344596", false}, // wrong check number
		{"00100199800", true},  // up to 001-001-998 there is no check number
		{"1122334459", false},  // 10 digits
		{"1122334459a", false},
		{"", false},
	} {
		if err := ValidateSNILS(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateSNILS(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

// A weighted sum of 100 or 101 gives check number 00.
func TestSNILSCheckNumberHundred(t *testing.T) {
	found := 0
	for n := 1002000; n < 1100000 && found < 5; n++ {
		body := fmt.Sprintf("%09d", n)
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(body[i]-'0') * (9 - i)
		}
		if sum != 100 && sum != 101 {
			continue
		}
		found++
		if err := ValidateSNILS(body + "00"); err != nil {
			t.Errorf("%s00 (sum %d): %v", body, sum, err)
		}
	}
	if found == 0 {
		t.Fatal("no body with sum 100 or 101 in range")
	}
}

func TestPatientNormalizeValidate(t *testing.T) {
	p := Patient{Family: "  Иванова  ", Given: "Мария", Patronymic: "Ивановна", BirthDate: "1985-07-01",
		Gender: GenderFemale, SNILS: "112-233-445 95", ENP: "1234 5678 9012 3456"}
	p.Normalize()
	if p.Family != "Иванова" || p.SNILS != "11223344595" || p.ENP != "1234567890123456" {
		t.Fatalf("normalized %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if FormatSNILS(p.SNILS) != "112-233-445 95" {
		t.Error(FormatSNILS(p.SNILS))
	}
	bad := []struct {
		mut   func(*Patient)
		field string
	}{
		{func(p *Patient) { p.Family = "" }, "family"},
		{func(p *Patient) { p.Given = "Ma\x01ria" }, "given"},
		{func(p *Patient) { p.Patronymic = "Ivan0vna" }, "patronymic"},
		{func(p *Patient) { p.BirthDate = "01.07.1985" }, "birthDate"},
		{func(p *Patient) { p.BirthDate = "1985-02-30" }, "birthDate"},
		{func(p *Patient) { p.BirthDate = "2999-01-01" }, "birthDate"},
		{func(p *Patient) { p.Gender = "m" }, "gender"},
		{func(p *Patient) { p.SNILS = "11223344596" }, "snils"},
		{func(p *Patient) { p.ENP = "123456789012345" }, "enp"},
		{func(p *Patient) { p.Identifiers = []Identifier{{System: "", Value: "1"}} }, "identifier[0].system"},
		{func(p *Patient) { p.Identifiers = []Identifier{{System: SystemSNILS, Value: "1"}} }, "identifier[0].system"},
		{func(p *Patient) {
			p.Identifiers = []Identifier{{System: "urn:x", Value: "1"}, {System: "urn:x", Value: "1"}}
		}, "identifier[1]"},
	}
	for _, tc := range bad {
		q := p
		tc.mut(&q)
		var fe *FieldError
		if err := q.Validate(); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("want error on %s, got %v", tc.field, err)
		}
	}
}

func TestNameKey(t *testing.T) {
	if got := NameKey("СЕМЁНОВ", " Пётр ", ""); got != "семенов петр" {
		t.Errorf("NameKey = %q", got)
	}
	if got := FoldName("  O'Brien   Ёлкин "); got != "o'brien елкин" {
		t.Errorf("FoldName = %q", got)
	}
}

func TestBarcodeAndAccession(t *testing.T) {
	seen := map[string]bool{}
	for n := int64(1); n < 2000; n++ {
		b := SpecimenBarcode(n)
		if len(b) != 10 || !ValidBarcode(b) || seen[b] {
			t.Fatalf("barcode %d = %q", n, b)
		}
		seen[b] = true
		// Any single-digit error is caught by the Luhn digit.
		wrong := []byte(b)
		wrong[3] = '0' + (wrong[3]-'0'+1)%10
		if ValidBarcode(string(wrong)) {
			t.Fatalf("corrupted barcode %q accepted", wrong)
		}
	}
	if a := AccessionNumber(CategoryImaging, 42); a != "R000000042" || ValidateAccession(a) != nil {
		t.Errorf("accession %q", a)
	}
	if ValidateAccession("А123") == nil || ValidateAccession(strings.Repeat("1", 17)) == nil {
		t.Error("bad accession accepted")
	}
}

func TestStudyUID(t *testing.T) {
	u := StudyUID("1.2.643.5.1.13.13.12.2.77.8888", 3, 17)
	if u != "1.2.643.5.1.13.13.12.2.77.8888.1.3.17" || ValidateUID(u) != nil {
		t.Errorf("rooted UID %q", u)
	}
	for i := 0; i < 100; i++ {
		g := StudyUID("", 1, 1)
		if !strings.HasPrefix(g, "2.25.") || ValidateUID(g) != nil {
			t.Fatalf("2.25 UID %q: %v", g, ValidateUID(g))
		}
	}
	for _, bad := range []string{"", "1..2", "1.02", "1.2.a", strings.Repeat("1.", 32) + "1"} {
		if ValidateUID(bad) == nil {
			t.Errorf("ValidateUID(%q) accepted", bad)
		}
	}
}

func TestStatusLifecycle(t *testing.T) {
	allowed := map[[2]RequestStatus]bool{
		{StatusDraft, StatusActive}: true, {StatusActive, StatusCompleted}: true,
		{StatusDraft, StatusCancelled}: true, {StatusActive, StatusCancelled}: true,
		{StatusDraft, StatusEnteredInError}: true, {StatusActive, StatusEnteredInError}: true,
		{StatusCompleted, StatusEnteredInError}: true, {StatusCancelled, StatusEnteredInError}: true,
	}
	all := []RequestStatus{StatusDraft, StatusActive, StatusCompleted, StatusCancelled, StatusEnteredInError}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanMove(to); got != allowed[[2]RequestStatus{from, to}] {
				t.Errorf("%s → %s: %v", from, to, got)
			}
		}
	}
}

func FuzzPatientValidate(f *testing.F) {
	f.Add("Иванов", "Пётр", "1980-01-02", "112-233-445 95", "1234567890123456")
	f.Add("", "\x00", "0000-00-00", "abc", "")
	f.Fuzz(func(t *testing.T, family, given, birth, snils, enp string) {
		p := Patient{Family: family, Given: given, BirthDate: birth, SNILS: snils, ENP: enp}
		p.Normalize()
		if err := p.Validate(); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("validation error without a field: %v", err)
			}
			return
		}
		if p.SNILS != "" && ValidateSNILS(p.SNILS) != nil {
			t.Fatalf("accepted bad СНИЛС %q", p.SNILS)
		}
	})
}

// AE titles are the default repertoire (PS3.5 AE): a Cyrillic title would
// not even fit its 16-byte field in A-ASSOCIATE-RQ once encoded.
func TestValidAETitle(t *testing.T) {
	for s, want := range map[string]bool{
		"CT1": true, "CBCT_SIRONA-01": true, "A B": true, "ABCDEFGHIJKLMNOP": true,
		"": false, "   ": false, "ABCDEFGHIJKLMNOPQ": false, `CT\1`: false, "CT\n1": false,
		"КТ-1": false, "CTé": false,
	} {
		if got := ValidAETitle(s); got != want {
			t.Errorf("ValidAETitle(%q) = %v, want %v", s, got, want)
		}
	}
}
