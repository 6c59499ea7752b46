package hl7

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cyrillicORU is the synthetic source of the Cyrillic fixtures: a CBC
// ORU^R01 with a Russian patient and Russian test names, written here in
// UTF-8 with MSH-18 as a placeholder. Every character it uses exists in
// Windows-1251, ISO-8859-5 and CP866. Names and numbers are invented.
const cyrillicORU = "MSH|^~\\&|BC-5800|Лаборатория КДЛ|MEDGATE|Поликлиника №1|20240315103000||ORU^R01^ORU_R01|CBC20240315-0001|P|2.5.1|||NE|NE||{MSH18}\r" +
	"PID|1||100234^^^MEDGATE^MR~112-233-445 95^^^ПФР^SB||Иванов^Пётр^Сергеевич^^^^L||19800412|M|||ул. Ленина, д. 5, кв. 12^^Москва^^101000^RUS^H||+7 (495) 123-45-67^PRN^PH\r" +
	"PV1|1|O|Терапия^каб. 101\r" +
	"ORC|RE|ORD-77|S240315001\r" +
	"OBR|1|ORD-77|S240315001|CBC^Общий анализ крови^L|||20240315100000|||||||||||||||20240315102900||HM|F\r" +
	"OBX|1|NM|6690-2^Лейкоциты (WBC)^LN||6.45|10*9/л|4.00-9.00|N|||F|||20240315102900\r" +
	"OBX|2|NM|789-8^Эритроциты (RBC)^LN||4,12|10*12/л|4.30-5.70|L|||F|||20240315102900\r" +
	"OBX|3|NM|718-7^Гемоглобин (HGB)^LN||128|г/л|130-170|L|||F|||20240315102900\r" +
	"OBX|4|NM|4544-3^Гематокрит (HCT)^LN||38.5|%|39.0-49.0|L|||F|||20240315102900\r" +
	"OBX|5|NM|787-2^Средний объём эритроцита (MCV)^LN||93.4|фл|80.0-100.0|N|||F|||20240315102900\r" +
	"OBX|6|NM|777-3^Тромбоциты (PLT)^LN||245|10^9/л|150-400|N|||F|||20240315102900\r" +
	"OBX|7|NM|30341-2^СОЭ по Вестергрену^LN||>50|мм/ч|2-15|H|||F|||20240315102900\r" +
	"OBX|8|NM|26515-7^Тромбоциты, повтор^LN||***.*|10*9/л|150-400||||X|||20240315102900\r" +
	"OBX|9|TX|18769-0^Заключение^LN||Анемия лёгкой степени.\\.br\\Рекомендовано: контроль через 2 недели \\T\\ консультация терапевта.||||||F\r" +
	"NTE|1|L|Проба взята натощак; гемолиза нет.\r"

// cyrillicCases: folder, MSH-18 text, charset the bytes are written in.
var cyrillicCases = []struct {
	dir, msh18, charset string
}{
	{"synthetic_cyrillic_oru_r01_utf8_msh18_unicode_utf8", "UNICODE UTF-8", "utf-8"},
	{"synthetic_cyrillic_oru_r01_windows1251_default_charset", "", "windows-1251"},
	{"synthetic_cyrillic_oru_r01_iso8859-5_msh18", "8859/5", "iso-8859-5"},
	{"synthetic_cyrillic_oru_r01_cp866_default_charset", "", "cp866"},
	// Declared UTF-8, written in Windows-1251: must be refused.
	{"synthetic_cyrillic_oru_r01_invalid_utf8_declared_utf8", "UNICODE UTF-8", "windows-1251"},
}

func cyrillicBytes(t *testing.T, msh18, charset string) []byte {
	t.Helper()
	cs, ok := lookupCharset(charset)
	if !ok {
		t.Fatalf("charset %q", charset)
	}
	b, err := encodeText(strings.Replace(cyrillicORU, "{MSH18}", msh18, 1), cs, true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCyrillicFixtures keeps the synthetic inputs equal to what the source
// above encodes to (-update rewrites them), and checks that the four valid
// encodings parse to the same message.
func TestCyrillicFixtures(t *testing.T) {
	var ref *Message
	for _, c := range cyrillicCases {
		dir := filepath.Join(casesDir, c.dir)
		want := cyrillicBytes(t, c.msh18, c.charset)
		path := filepath.Join(dir, "input.hl7")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if have, err := os.ReadFile(path); err != nil || !bytes.Equal(have, want) {
			t.Errorf("%s: missing or stale (run go test -update)", path)
			continue
		}
		m, err := Parse(want, readCaseOptions(t, dir))
		if strings.Contains(c.dir, "invalid") {
			if err == nil {
				t.Errorf("%s: invalid UTF-8 declared as UTF-8 was accepted", c.dir)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.dir, err)
			continue
		}
		if m.Charset != c.charset {
			t.Errorf("%s: decoded as %s, want %s", c.dir, m.Charset, c.charset)
		}
		if got := m.PID().Names()[0]; got != (XPN{Family: "Иванов", Given: "Пётр", Middle: "Сергеевич", TypeCode: "L"}) {
			t.Errorf("%s: PID-5 = %+v", c.dir, got)
		}
		// MSH-18 differs by design; everything after MSH must be identical.
		if ref == nil {
			ref = m
			continue
		}
		for i := 1; i < len(m.Segments); i++ {
			if m.Segments[i].Raw() != ref.Segments[i].Raw() {
				t.Errorf("%s: segment %d differs from the UTF-8 fixture", c.dir, i+1)
			}
		}
	}
}
