package dicom

// vrInfo describes how a VR is encoded.
type vrInfo struct {
	long    bool  // explicit VR: 2 reserved bytes and a 4-byte length
	swap    uint8 // size of the binary unit swapped for big endian; 0 for bytes/text
	text    bool  // character string VR
	charset bool  // affected by Specific Character Set (SH LO ST LT UC UT PN)
	pad     byte  // padding byte for odd lengths
}

var vrs = map[string]vrInfo{
	"AE": {text: true, pad: ' '},
	"AS": {text: true, pad: ' '},
	"AT": {swap: 2, pad: 0},
	"CS": {text: true, pad: ' '},
	"DA": {text: true, pad: ' '},
	"DS": {text: true, pad: ' '},
	"DT": {text: true, pad: ' '},
	"FD": {swap: 8},
	"FL": {swap: 4},
	"IS": {text: true, pad: ' '},
	"LO": {text: true, charset: true, pad: ' '},
	"LT": {text: true, charset: true, pad: ' '},
	"OB": {long: true},
	"OD": {long: true, swap: 8},
	"OF": {long: true, swap: 4},
	"OL": {long: true, swap: 4},
	"OV": {long: true, swap: 8},
	"OW": {long: true, swap: 2},
	"PN": {text: true, charset: true, pad: ' '},
	"SH": {text: true, charset: true, pad: ' '},
	"SL": {swap: 4},
	"SQ": {long: true},
	"SS": {swap: 2},
	"ST": {text: true, charset: true, pad: ' '},
	"SV": {long: true, swap: 8},
	"TM": {text: true, pad: ' '},
	"UC": {long: true, text: true, charset: true, pad: ' '},
	"UI": {text: true, pad: 0},
	"UL": {swap: 4},
	"UN": {long: true},
	"UR": {long: true, text: true, pad: ' '},
	"US": {swap: 2},
	"UT": {long: true, text: true, charset: true, pad: ' '},
	"UV": {long: true, swap: 8},
}

// ValidVR reports whether vr is one of the PS3.5 value representations.
func ValidVR(vr string) bool {
	_, ok := vrs[vr]
	return ok
}

// IsTextVR reports whether vr is a character string VR.
func IsTextVR(vr string) bool { return vrs[vr].text }

// charsetVR reports whether values of vr are affected by Specific
// Character Set; the others use the default repertoire only.
func charsetVR(vr string) bool { return vrs[vr].charset }

// multiValued reports whether '\' separates values in vr (false for the
// free-text VRs, where a backslash is a character).
func multiValued(vr string) bool {
	switch vr {
	case "LT", "ST", "UT", "UR":
		return false
	}
	return vrs[vr].text
}

// trimLeading reports whether leading spaces are insignificant in vr.
func trimLeading(vr string) bool {
	switch vr {
	case "LT", "ST", "UT", "UC", "UR":
		return false
	}
	return true
}

// swapUnit swaps each unit-byte group of b in place (big ↔ little endian).
func swapUnit(b []byte, unit int) {
	if unit < 2 {
		return
	}
	for i := 0; i+unit <= len(b); i += unit {
		for j, k := i, i+unit-1; j < k; j, k = j+1, k-1 {
			b[j], b[k] = b[k], b[j]
		}
	}
}
