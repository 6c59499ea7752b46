package dicom

import "strconv"

// Tag is a data element tag: group<<16 | element.
type Tag uint32

// NewTag builds a tag from its group and element numbers.
func NewTag(group, element uint16) Tag { return Tag(uint32(group)<<16 | uint32(element)) }

// Group returns the tag's group number.
func (t Tag) Group() uint16 { return uint16(t >> 16) }

// Element returns the tag's element number.
func (t Tag) Element() uint16 { return uint16(t) }

// IsPrivate reports whether the tag is in an odd (private) group.
func (t Tag) IsPrivate() bool { return t.Group()&1 == 1 }

// IsGroupLength reports whether the tag is a group length (gggg,0000).
func (t Tag) IsGroupLength() bool { return t.Element() == 0 }

// String formats the tag as "(gggg,eeee)" in upper-case hexadecimal.
func (t Tag) String() string {
	const hex = "0123456789ABCDEF"
	var b [11]byte
	b[0] = '('
	for i := 0; i < 4; i++ {
		b[1+i] = hex[(t>>(28-4*i))&0xF]
		b[6+i] = hex[(t>>(12-4*i))&0xF]
	}
	b[5] = ','
	b[10] = ')'
	return string(b[:])
}

// ParseTag accepts "(0010,0010)", "0010,0010" and "00100010".
func ParseTag(s string) (Tag, bool) {
	if len(s) == 11 && s[0] == '(' && s[10] == ')' {
		s = s[1:10]
	}
	if len(s) == 9 && s[4] == ',' {
		s = s[:4] + s[5:]
	}
	if len(s) != 8 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, false
	}
	return Tag(v), true
}

// Tags used by the codec, the header reader and the C-FIND providers.
// Every one of them is in the data dictionary (see DictVR).
const (
	TagItem                     Tag = 0xFFFEE000
	TagItemDelimitationItem     Tag = 0xFFFEE00D
	TagSequenceDelimitationItem Tag = 0xFFFEE0DD

	TagFileMetaInformationGroupLength Tag = 0x00020000
	TagFileMetaInformationVersion     Tag = 0x00020001
	TagMediaStorageSOPClassUID        Tag = 0x00020002
	TagMediaStorageSOPInstanceUID     Tag = 0x00020003
	TagTransferSyntaxUID              Tag = 0x00020010
	TagImplementationClassUID         Tag = 0x00020012
	TagImplementationVersionName      Tag = 0x00020013
	TagSourceApplicationEntityTitle   Tag = 0x00020016

	TagSpecificCharacterSet              Tag = 0x00080005
	TagImageType                         Tag = 0x00080008
	TagSOPClassUID                       Tag = 0x00080016
	TagSOPInstanceUID                    Tag = 0x00080018
	TagStudyDate                         Tag = 0x00080020
	TagSeriesDate                        Tag = 0x00080021
	TagContentDate                       Tag = 0x00080023
	TagStudyTime                         Tag = 0x00080030
	TagSeriesTime                        Tag = 0x00080031
	TagContentTime                       Tag = 0x00080033
	TagAccessionNumber                   Tag = 0x00080050
	TagQueryRetrieveLevel                Tag = 0x00080052
	TagRetrieveAETitle                   Tag = 0x00080054
	TagInstanceAvailability              Tag = 0x00080056
	TagModality                          Tag = 0x00080060
	TagModalitiesInStudy                 Tag = 0x00080061
	TagSOPClassesInStudy                 Tag = 0x00080062
	TagManufacturer                      Tag = 0x00080070
	TagInstitutionName                   Tag = 0x00080080
	TagReferringPhysicianName            Tag = 0x00080090
	TagCodeValue                         Tag = 0x00080100
	TagCodingSchemeDesignator            Tag = 0x00080102
	TagCodeMeaning                       Tag = 0x00080104
	TagTimezoneOffsetFromUTC             Tag = 0x00080201
	TagStationName                       Tag = 0x00081010
	TagStudyDescription                  Tag = 0x00081030
	TagProcedureCodeSequence             Tag = 0x00081032
	TagSeriesDescription                 Tag = 0x0008103E
	TagManufacturerModelName             Tag = 0x00081090
	TagReferencedStudySequence           Tag = 0x00081110
	TagReferencedPatientSequence         Tag = 0x00081120
	TagReferencedSOPClassUID             Tag = 0x00081150
	TagReferencedSOPInstanceUID          Tag = 0x00081155
	TagPatientName                       Tag = 0x00100010
	TagPatientID                         Tag = 0x00100020
	TagIssuerOfPatientID                 Tag = 0x00100021
	TagPatientBirthDate                  Tag = 0x00100030
	TagPatientSex                        Tag = 0x00100040
	TagOtherPatientIDsSequence           Tag = 0x00101002
	TagPatientAge                        Tag = 0x00101010
	TagPatientSize                       Tag = 0x00101020
	TagPatientWeight                     Tag = 0x00101030
	TagMedicalAlerts                     Tag = 0x00102000
	TagAllergies                         Tag = 0x00102110
	TagPregnancyStatus                   Tag = 0x001021C0
	TagPatientComments                   Tag = 0x00104000
	TagBodyPartExamined                  Tag = 0x00180015
	TagStudyInstanceUID                  Tag = 0x0020000D
	TagSeriesInstanceUID                 Tag = 0x0020000E
	TagStudyID                           Tag = 0x00200010
	TagSeriesNumber                      Tag = 0x00200011
	TagInstanceNumber                    Tag = 0x00200013
	TagNumberOfStudyRelatedSeries        Tag = 0x00201206
	TagNumberOfStudyRelatedInstances     Tag = 0x00201208
	TagNumberOfSeriesRelatedInstances    Tag = 0x00201209
	TagSamplesPerPixel                   Tag = 0x00280002
	TagPhotometricInterpretation         Tag = 0x00280004
	TagNumberOfFrames                    Tag = 0x00280008
	TagRows                              Tag = 0x00280010
	TagColumns                           Tag = 0x00280011
	TagBitsAllocated                     Tag = 0x00280100
	TagBitsStored                        Tag = 0x00280101
	TagPixelRepresentation               Tag = 0x00280103
	TagRequestingPhysician               Tag = 0x00321032
	TagRequestedProcedureDescription     Tag = 0x00321060
	TagRequestedProcedureCodeSequence    Tag = 0x00321064
	TagAdmissionID                       Tag = 0x00380010
	TagScheduledStationAETitle           Tag = 0x00400001
	TagScheduledProcedureStepStartDate   Tag = 0x00400002
	TagScheduledProcedureStepStartTime   Tag = 0x00400003
	TagScheduledPerformingPhysicianName  Tag = 0x00400006
	TagScheduledProcedureStepDescription Tag = 0x00400007
	TagScheduledProtocolCodeSequence     Tag = 0x00400008
	TagScheduledProcedureStepID          Tag = 0x00400009
	TagScheduledStationName              Tag = 0x00400010
	TagScheduledProcedureStepLocation    Tag = 0x00400011
	TagScheduledProcedureStepStatus      Tag = 0x00400020
	TagScheduledProcedureStepSequence    Tag = 0x00400100
	TagRequestedProcedureID              Tag = 0x00401001
	TagRequestedProcedurePriority        Tag = 0x00401003
	TagPixelData                         Tag = 0x7FE00010
)
