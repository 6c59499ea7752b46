package dicom

import "sort"

type dictEntry struct {
	Tag     Tag
	VR      string
	Keyword string
}

func lookupDict(t Tag) (dictEntry, bool) {
	i := sort.Search(len(dictionary), func(i int) bool { return dictionary[i].Tag >= t })
	if i < len(dictionary) && dictionary[i].Tag == t {
		return dictionary[i], true
	}
	return dictEntry{}, false
}

// DictVR returns the VR the data dictionary gives a tag: group lengths
// are UL, private creators LO, known attributes their VR, and anything
// else "UN". Implicit VR data is decoded with it.
func DictVR(t Tag) string {
	if e, ok := lookupDict(t); ok {
		return e.VR
	}
	if t.IsGroupLength() {
		return "UL"
	}
	if t.IsPrivate() && t.Element() >= 0x0010 && t.Element() <= 0x00FF {
		return "LO"
	}
	return "UN"
}

// Keyword returns the attribute's keyword (e.g. "PatientName"), or "" when
// the tag is not in this package's dictionary.
func Keyword(t Tag) string {
	e, _ := lookupDict(t)
	return e.Keyword
}

// TagByKeyword finds a tag by its keyword in this package's dictionary.
func TagByKeyword(keyword string) (Tag, bool) {
	for _, e := range dictionary {
		if e.Keyword == keyword {
			return e.Tag, true
		}
	}
	return 0, false
}
