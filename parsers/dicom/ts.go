package dicom

import "encoding/binary"

// Transfer syntax UIDs this package knows by name.
const (
	ImplicitVRLittleEndian         = "1.2.840.10008.1.2"
	ExplicitVRLittleEndian         = "1.2.840.10008.1.2.1"
	DeflatedExplicitVRLittleEndian = "1.2.840.10008.1.2.1.99"
	ExplicitVRBigEndian            = "1.2.840.10008.1.2.2"
	JPEGBaseline8Bit               = "1.2.840.10008.1.2.4.50"
	JPEGExtended12Bit              = "1.2.840.10008.1.2.4.51"
	JPEGLossless                   = "1.2.840.10008.1.2.4.57"
	JPEGLosslessSV1                = "1.2.840.10008.1.2.4.70"
	JPEGLSLossless                 = "1.2.840.10008.1.2.4.80"
	JPEGLSNearLossless             = "1.2.840.10008.1.2.4.81"
	JPEG2000Lossless               = "1.2.840.10008.1.2.4.90"
	JPEG2000                       = "1.2.840.10008.1.2.4.91"
	RLELossless                    = "1.2.840.10008.1.2.5"
)

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// syntax is how a transfer syntax lays out a dataset.
type syntax struct {
	implicit bool
	bo       byteOrder
	deflate  bool
}

// lookupSyntax returns the encoding of the dataset for a transfer syntax.
// Decode and Encode accept only the three uncompressed ones (deflate is
// handled by the header reader); readHeader also accepts the encapsulated
// syntaxes, whose datasets are Explicit VR Little Endian (PS3.5 A.4).
func lookupSyntax(uid string, encapsulatedOK bool) (syntax, bool) {
	switch uid {
	case ImplicitVRLittleEndian:
		return syntax{implicit: true, bo: binary.LittleEndian}, true
	case ExplicitVRLittleEndian:
		return syntax{bo: binary.LittleEndian}, true
	case ExplicitVRBigEndian:
		return syntax{bo: binary.BigEndian}, true
	case DeflatedExplicitVRLittleEndian:
		return syntax{bo: binary.LittleEndian, deflate: true}, encapsulatedOK
	}
	if encapsulatedOK && ValidUID(uid) && len(uid) > len("1.2.840.10008.1.2.") &&
		uid[:len("1.2.840.10008.1.2.")] == "1.2.840.10008.1.2." {
		// Every other standard transfer syntax (JPEG, JPEG-LS, JPEG 2000,
		// RLE, MPEG, HTJ2K, ...) is Explicit VR Little Endian.
		return syntax{bo: binary.LittleEndian}, true
	}
	return syntax{}, false
}

var littleEndian byteOrder = binary.LittleEndian
