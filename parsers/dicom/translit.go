package dicom

import (
	"strings"
	"unicode"
)

// icao maps lower-case Cyrillic letters to their Latin transliteration
// per ICAO Doc 9303 part 3 (7th ed.), as used in Russian passports since
// 2014 (also Ukrainian and Belarusian letters of the same table).
var icao = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e",
	'ж': "zh", 'з': "z", 'и': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u",
	'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch",
	'ъ': "ie", 'ы': "y", 'ь': "", 'э': "e", 'ю': "iu", 'я': "ia",
	'і': "i", 'ї': "i", 'є': "ie", 'ґ': "g", 'ў': "u",
}

// Transliterate writes Russian Cyrillic in Latin letters per ICAO Doc
// 9303 (Ж→ZH, Х→KH, Ц→TS, Щ→SHCH, Ъ→IE, Ю→IU, Я→IA, Ё→E, Й→I, Ь
// dropped), for scanners that cannot show Cyrillic. Case follows the
// source: "ЖУКОВ" → "ZHUKOV", "Жуков" → "Zhukov", "Щ." → "Shch.".
// Other characters are kept as they are.
func Transliterate(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	isUpperLetter := func(i int) bool {
		return i >= 0 && i < len(rs) && unicode.IsUpper(rs[i]) && unicode.IsLetter(rs[i])
	}
	isLowerLetter := func(i int) bool {
		return i >= 0 && i < len(rs) && unicode.IsLower(rs[i])
	}
	for i, r := range rs {
		lower := unicode.ToLower(r)
		lat, ok := icao[lower]
		if !ok {
			b.WriteRune(r)
			continue
		}
		if lower == r || lat == "" {
			b.WriteString(lat)
			continue
		}
		// An upper-case letter: all capitals inside a capitalised word,
		// title case otherwise.
		allCaps := isUpperLetter(i+1) || (!isLowerLetter(i+1) && isUpperLetter(i-1))
		if allCaps {
			b.WriteString(strings.ToUpper(lat))
		} else {
			b.WriteString(strings.ToUpper(lat[:1]) + lat[1:])
		}
	}
	return b.String()
}

// Fold returns s in the form used for case-insensitive matching: lower
// case (Cyrillic included) with ё folded to е.
func Fold(s string) string {
	return strings.Map(func(r rune) rune {
		r = unicode.ToLower(r)
		if r == 'ё' {
			return 'е'
		}
		return r
	}, s)
}
