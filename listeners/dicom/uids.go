package dicom

// ImplementationClassUID identifies medgate's DICOM implementation in
// A-ASSOCIATE-RQ/AC and in the file meta of the Part 10 files it writes.
// It is a UUID-derived UID under the 2.25 root (PS3.5 B.2), generated once
// for medgate; it never changes between versions (the version name does).
const ImplementationClassUID = "2.25.270526909230220706848850808879054021395"

// ImplementationVersionName is sent with ImplementationClassUID
// (MEDGATE_<version>, at most 16 characters).
const ImplementationVersionName = "MEDGATE_0.1"

// ApplicationContext is the DICOM application context name.
const ApplicationContext = "1.2.840.10008.3.1.1.1"

// Service SOP classes.
const (
	VerificationSOPClass = "1.2.840.10008.1.1"
	// ModalityWorklistFind is the Modality Worklist Information Model – FIND.
	ModalityWorklistFind = "1.2.840.10008.5.1.4.31"
	// StudyRootFind is the Study Root Query/Retrieve Information Model – FIND.
	StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1"
)

// Transfer syntaxes (PS3.5 Section 10 and Annex A).
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
	HTJ2KLossless                  = "1.2.840.10008.1.2.4.201"
	HTJ2KLosslessRPCL              = "1.2.840.10008.1.2.4.202"
	HTJ2K                          = "1.2.840.10008.1.2.4.203"
	RLELossless                    = "1.2.840.10008.1.2.5"
)

// DefaultStorageTransferSyntaxes is the storage preference order of a
// Server whose TransferSyntaxes is empty: lossless compressed first (the
// bytes are kept as received, so the smallest lossless form wins), then
// uncompressed, then lossy ones, which are accepted only when the sender
// proposes nothing better.
var DefaultStorageTransferSyntaxes = []string{
	JPEGLosslessSV1,
	JPEGLossless,
	JPEGLSLossless,
	RLELossless,
	JPEG2000Lossless,
	ExplicitVRLittleEndian,
	ImplicitVRLittleEndian,
	ExplicitVRBigEndian,
	DeflatedExplicitVRLittleEndian,
	JPEGBaseline8Bit,
	JPEGExtended12Bit,
	JPEGLSNearLossless,
	JPEG2000,
	HTJ2KLossless,
	HTJ2KLosslessRPCL,
	HTJ2K,
}

// serviceTransferSyntaxes is the preference order for Verification and the
// FIND services.
var serviceTransferSyntaxes = []string{ExplicitVRLittleEndian, ImplicitVRLittleEndian}
