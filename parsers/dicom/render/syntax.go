package render

// codec says how a transfer syntax stores pixel data.
type codec int

const (
	codecNone     codec = iota // unknown or not renderable
	codecNative                // uncompressed, in the dataset's byte order
	codecJPEG                  // JPEG baseline/extended (DCT) or lossless; the stream's SOF decides
	codecRLE                   // PS3.5 Annex G
	codecEncapRaw              // encapsulated uncompressed: one fragment per frame, native LE bytes
)

type syntax struct {
	name      string
	implicit  bool // implicit VR
	bigEndian bool
	deflated  bool
	codec     codec
}

// Transfer syntax UIDs medgate meets. Only those with a codec other than
// codecNone render; the rest are named in UnsupportedTransferSyntaxError.
const (
	uidImplicitLE = "1.2.840.10008.1.2"
	uidExplicitLE = "1.2.840.10008.1.2.1"
	uidDeflatedLE = "1.2.840.10008.1.2.1.99"
	uidExplicitBE = "1.2.840.10008.1.2.2"
	uidJPEGBase   = "1.2.840.10008.1.2.4.50"
	uidJPEGExt    = "1.2.840.10008.1.2.4.51"
	uidJPEGLL14   = "1.2.840.10008.1.2.4.57"
	uidJPEGLLSV1  = "1.2.840.10008.1.2.4.70"
	uidRLE        = "1.2.840.10008.1.2.5"
	uidEncapRawLE = "1.2.840.10008.1.2.1.98"
)

var syntaxes = map[string]syntax{
	uidImplicitLE: {name: "Implicit VR Little Endian", implicit: true, codec: codecNative},
	uidExplicitLE: {name: "Explicit VR Little Endian", codec: codecNative},
	uidDeflatedLE: {name: "Deflated Explicit VR Little Endian", deflated: true, codec: codecNative},
	uidExplicitBE: {name: "Explicit VR Big Endian", bigEndian: true, codec: codecNative},
	uidEncapRawLE: {name: "Encapsulated Uncompressed Explicit VR Little Endian", codec: codecEncapRaw},
	uidJPEGBase:   {name: "JPEG Baseline (Process 1)", codec: codecJPEG},
	uidJPEGExt:    {name: "JPEG Extended (Process 2 & 4)", codec: codecJPEG},
	uidJPEGLL14:   {name: "JPEG Lossless, Non-Hierarchical (Process 14)", codec: codecJPEG},
	uidJPEGLLSV1:  {name: "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])", codec: codecJPEG},
	uidRLE:        {name: "RLE Lossless", codec: codecRLE},

	"1.2.840.10008.1.2.4.80":  {name: "JPEG-LS Lossless Image Compression"},
	"1.2.840.10008.1.2.4.81":  {name: "JPEG-LS Lossy (Near-Lossless) Image Compression"},
	"1.2.840.10008.1.2.4.90":  {name: "JPEG 2000 Image Compression (Lossless Only)"},
	"1.2.840.10008.1.2.4.91":  {name: "JPEG 2000 Image Compression"},
	"1.2.840.10008.1.2.4.92":  {name: "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)"},
	"1.2.840.10008.1.2.4.93":  {name: "JPEG 2000 Part 2 Multi-component Image Compression"},
	"1.2.840.10008.1.2.4.94":  {name: "JPIP Referenced"},
	"1.2.840.10008.1.2.4.95":  {name: "JPIP Referenced Deflate"},
	"1.2.840.10008.1.2.4.100": {name: "MPEG2 Main Profile / Main Level"},
	"1.2.840.10008.1.2.4.101": {name: "MPEG2 Main Profile / High Level"},
	"1.2.840.10008.1.2.4.102": {name: "MPEG-4 AVC/H.264 High Profile / Level 4.1"},
	"1.2.840.10008.1.2.4.103": {name: "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1"},
	"1.2.840.10008.1.2.4.104": {name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video"},
	"1.2.840.10008.1.2.4.105": {name: "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video"},
	"1.2.840.10008.1.2.4.106": {name: "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2"},
	"1.2.840.10008.1.2.4.107": {name: "HEVC/H.265 Main Profile / Level 5.1"},
	"1.2.840.10008.1.2.4.108": {name: "HEVC/H.265 Main 10 Profile / Level 5.1"},
	"1.2.840.10008.1.2.4.110": {name: "JPEG XL Lossless"},
	"1.2.840.10008.1.2.4.111": {name: "JPEG XL JPEG Recompression"},
	"1.2.840.10008.1.2.4.112": {name: "JPEG XL"},
	"1.2.840.10008.1.2.4.201": {name: "High-Throughput JPEG 2000 Image Compression (Lossless Only)"},
	"1.2.840.10008.1.2.4.202": {name: "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)"},
	"1.2.840.10008.1.2.4.203": {name: "High-Throughput JPEG 2000 Image Compression"},
	"1.2.840.10008.1.2.4.204": {name: "JPIP HTJ2K Referenced"},
	"1.2.840.10008.1.2.4.205": {name: "JPIP HTJ2K Referenced Deflate"},
	"1.2.840.10008.1.2.6.1":   {name: "RFC 2557 MIME encapsulation"},
	"1.2.840.10008.1.2.6.2":   {name: "XML Encoding"},
	"1.2.840.10008.1.2.8.1":   {name: "Deflated Image Frame Compression"},
	"1.2.840.10008.1.2.4.52":  {name: "JPEG Extended (Process 3 & 5) (Retired)"},
	"1.2.840.10008.1.2.4.53":  {name: "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (Retired)"},
	"1.2.840.10008.1.2.4.54":  {name: "JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9) (Retired)"},
	"1.2.840.10008.1.2.4.55":  {name: "JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (Retired)"},
	"1.2.840.10008.1.2.4.56":  {name: "JPEG Full Progression, Non-Hierarchical (Process 11 & 13) (Retired)"},
	"1.2.840.10008.1.2.4.58":  {name: "JPEG Lossless, Non-Hierarchical (Process 15) (Retired)"},
	"1.2.840.10008.1.2.4.59":  {name: "JPEG Extended, Hierarchical (Process 16 & 18) (Retired)"},
	"1.2.840.10008.1.2.4.60":  {name: "JPEG Extended, Hierarchical (Process 17 & 19) (Retired)"},
	"1.2.840.10008.1.2.4.61":  {name: "JPEG Spectral Selection, Hierarchical (Process 20 & 22) (Retired)"},
	"1.2.840.10008.1.2.4.62":  {name: "JPEG Spectral Selection, Hierarchical (Process 21 & 23) (Retired)"},
	"1.2.840.10008.1.2.4.63":  {name: "JPEG Full Progression, Hierarchical (Process 24 & 26) (Retired)"},
	"1.2.840.10008.1.2.4.64":  {name: "JPEG Full Progression, Hierarchical (Process 25 & 27) (Retired)"},
	"1.2.840.10008.1.2.4.65":  {name: "JPEG Lossless, Hierarchical (Process 28) (Retired)"},
	"1.2.840.10008.1.2.4.66":  {name: "JPEG Lossless, Hierarchical (Process 29) (Retired)"},
}

// TransferSyntaxName returns the standard name of a transfer syntax UID,
// or "" when the UID is not one this package knows.
func TransferSyntaxName(uid string) string { return syntaxes[uid].name }

// CanRender reports whether pixel data in the transfer syntax uid can be
// rendered by this package (content permitting: a 12-bit JPEG Extended
// stream, for one, still yields an UnsupportedTransferSyntaxError).
func CanRender(uid string) bool { return syntaxes[uid].codec != codecNone }
