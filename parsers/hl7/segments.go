package hl7

import "strings"

// Typed views. Each wraps a *Segment (nil-safe: a view of a missing
// segment returns zero values) and reads fields on demand. Field numbers
// follow v2.5.1; earlier versions use the same positions for these fields.
// Accessors that read dates return an error when the text is not an HL7
// date; an empty field is a zero Time and no error.

func (s *Segment) str(n int) string { return s.Field(n).String() }

func (s *Segment) time(n int) (Time, error) { return s.timeComp(n, 1) }

func (s *Segment) timeComp(n, comp int) (Time, error) {
	if s == nil {
		return Time{}, nil
	}
	t, err := ParseTime(s.Field(n).Comp(comp).String(), s.c.loc)
	if err != nil {
		return Time{}, s.valueError(n, comp, err.Error())
	}
	return t, nil
}

func (s *Segment) valueError(n, comp int, msg string) error {
	if comp == 1 {
		comp = 0
	}
	return &ParseError{Segment: s.Name, SegmentIndex: s.Index, Field: n, Component: comp, Offset: s.fieldOffset(n), Msg: msg, Err: ErrValue}
}

// MSH is the message header.
type MSH struct{ *Segment }

// MSH returns the header view (the first segment of a parsed message).
func (m *Message) MSH() MSH { return MSH{m.Segment("MSH")} }

func (h MSH) FieldSeparator() string     { return h.Field(1).Raw() }
func (h MSH) EncodingCharacters() string { return h.Field(2).Raw() }
func (h MSH) SendingApplication() HD     { return readHD(h.Field(3)) }
func (h MSH) SendingFacility() HD        { return readHD(h.Field(4)) }
func (h MSH) ReceivingApplication() HD   { return readHD(h.Field(5)) }
func (h MSH) ReceivingFacility() HD      { return readHD(h.Field(6)) }
func (h MSH) DateTime() (Time, error)    { return h.time(7) }
func (h MSH) Security() string           { return h.str(8) }

// MessageType is MSH-9: code, trigger event and structure.
func (h MSH) MessageType() MSG {
	v := h.Field(9)
	return MSG{v.Comp(1).String(), v.Comp(2).String(), v.Comp(3).String()}
}
func (h MSH) ControlID() string { return h.str(10) }

// ProcessingID is MSH-11.1 (P, T, D); QC runs are marked Q by some
// analyzers. ProcessingMode is MSH-11.2.
func (h MSH) ProcessingID() string   { return h.Field(11).Comp(1).String() }
func (h MSH) ProcessingMode() string { return h.Field(11).Comp(2).String() }

// Version is MSH-12.1, e.g. "2.5.1".
func (h MSH) Version() string             { return h.Field(12).Comp(1).String() }
func (h MSH) SequenceNumber() string      { return h.str(13) }
func (h MSH) ContinuationPointer() string { return h.str(14) }

// AcceptAckType (MSH-15) and AppAckType (MSH-16): AL, NE, ER, SU. Both
// empty means original acknowledgement mode.
func (h MSH) AcceptAckType() string { return h.str(15) }
func (h MSH) AppAckType() string    { return h.str(16) }
func (h MSH) CountryCode() string   { return h.str(17) }

// CharacterSet is MSH-18 as sent (first repetition); the charset actually
// used is Message.Charset.
func (h MSH) CharacterSet() string           { return strings.TrimSpace(h.str(18)) }
func (h MSH) CharacterSets() []string        { return strs(h.Field(18)) }
func (h MSH) PrincipalLanguage() CWE         { return readCWE(h.Field(19)) }
func (h MSH) AlternateCharsetScheme() string { return h.str(20) }
func (h MSH) ProfileIdentifiers() []EI       { return list(h.Field(21), readEI) }

// PID is patient identification.
type PID struct{ *Segment }

// PID returns the first PID (a zero view if there is none).
func (m *Message) PID() PID { return PID{m.Segment("PID")} }

func (p PID) SetID() string            { return p.str(1) }
func (p PID) ExternalID() CX           { return readCX(p.Field(2)) }
func (p PID) Identifiers() []CX        { return list(p.Field(3), readCX) }
func (p PID) AlternateIDs() []CX       { return list(p.Field(4), readCX) }
func (p PID) Names() []XPN             { return list(p.Field(5), readXPN) }
func (p PID) MotherMaidenName() []XPN  { return list(p.Field(6), readXPN) }
func (p PID) BirthDate() (Time, error) { return p.time(7) }

// Sex is PID-8 as sent: table 0001 says F, M, O, U, A, N, but devices
// send "Female" too; normalising is the mapper's job.
func (p PID) Sex() string                  { return p.str(8) }
func (p PID) Aliases() []XPN               { return list(p.Field(9), readXPN) }
func (p PID) Race() []CWE                  { return list(p.Field(10), readCWE) }
func (p PID) Addresses() []XAD             { return list(p.Field(11), readXAD) }
func (p PID) CountyCode() string           { return p.str(12) }
func (p PID) HomePhones() []XTN            { return list(p.Field(13), readXTN) }
func (p PID) BusinessPhones() []XTN        { return list(p.Field(14), readXTN) }
func (p PID) PrimaryLanguage() CWE         { return readCWE(p.Field(15)) }
func (p PID) MaritalStatus() CWE           { return readCWE(p.Field(16)) }
func (p PID) Religion() CWE                { return readCWE(p.Field(17)) }
func (p PID) AccountNumber() CX            { return readCX(p.Field(18)) }
func (p PID) SSN() string                  { return p.str(19) }
func (p PID) EthnicGroup() []CWE           { return list(p.Field(22), readCWE) }
func (p PID) BirthPlace() string           { return p.str(23) }
func (p PID) Citizenship() []CWE           { return list(p.Field(26), readCWE) }
func (p PID) DeathDateTime() (Time, error) { return p.time(29) }
func (p PID) DeathIndicator() string       { return p.str(30) }

// PD1 is additional patient demographics.
type PD1 struct{ *Segment }

func (p PD1) LivingDependency() []string  { return strs(p.Field(1)) }
func (p PD1) LivingArrangement() string   { return p.str(2) }
func (p PD1) PrimaryFacility() []XON      { return list(p.Field(3), readXON) }
func (p PD1) PrimaryCareProvider() []XCN  { return list(p.Field(4), readXCN) }
func (p PD1) StudentIndicator() string    { return p.str(5) }
func (p PD1) Handicap() string            { return p.str(6) }
func (p PD1) LivingWillCode() string      { return p.str(7) }
func (p PD1) OrganDonorCode() string      { return p.str(8) }
func (p PD1) SeparateBill() string        { return p.str(9) }
func (p PD1) DuplicatePatient() []CX      { return list(p.Field(10), readCX) }
func (p PD1) PublicityCode() CWE          { return readCWE(p.Field(11)) }
func (p PD1) ProtectionIndicator() string { return p.str(12) }

// PV1 is the patient visit.
type PV1 struct{ *Segment }

func (p PV1) SetID() string                    { return p.str(1) }
func (p PV1) PatientClass() string             { return p.str(2) }
func (p PV1) AssignedLocation() PL             { return readPL(p.Field(3)) }
func (p PV1) AdmissionType() string            { return p.str(4) }
func (p PV1) PreadmitNumber() CX               { return readCX(p.Field(5)) }
func (p PV1) PriorLocation() PL                { return readPL(p.Field(6)) }
func (p PV1) AttendingDoctors() []XCN          { return list(p.Field(7), readXCN) }
func (p PV1) ReferringDoctors() []XCN          { return list(p.Field(8), readXCN) }
func (p PV1) ConsultingDoctors() []XCN         { return list(p.Field(9), readXCN) }
func (p PV1) HospitalService() string          { return p.str(10) }
func (p PV1) AdmittingDoctors() []XCN          { return list(p.Field(17), readXCN) }
func (p PV1) PatientType() string              { return p.str(18) }
func (p PV1) VisitNumber() CX                  { return readCX(p.Field(19)) }
func (p PV1) FinancialClass() string           { return p.str(20) }
func (p PV1) DischargeDisposition() string     { return p.str(36) }
func (p PV1) ServicingFacility() string        { return p.str(39) }
func (p PV1) AccountStatus() string            { return p.str(41) }
func (p PV1) AdmitDateTime() (Time, error)     { return p.time(44) }
func (p PV1) DischargeDateTime() (Time, error) { return p.time(45) }
func (p PV1) AlternateVisitID() CX             { return readCX(p.Field(50)) }
func (p PV1) VisitIndicator() string           { return p.str(51) }

// ORC is the common order segment.
type ORC struct{ *Segment }

func (o ORC) OrderControl() string  { return o.str(1) }
func (o ORC) PlacerOrderNumber() EI { return readEI(o.Field(2)) }
func (o ORC) FillerOrderNumber() EI { return readEI(o.Field(3)) }
func (o ORC) PlacerGroupNumber() EI { return readEI(o.Field(4)) }
func (o ORC) OrderStatus() string   { return o.str(5) }
func (o ORC) ResponseFlag() string  { return o.str(6) }

// Priority is ORC-7.6 (quantity/timing priority: S, A, R, ...).
func (o ORC) Priority() string                   { return o.Field(7).Comp(6).String() }
func (o ORC) TransactionDateTime() (Time, error) { return o.time(9) }
func (o ORC) EnteredBy() []XCN                   { return list(o.Field(10), readXCN) }
func (o ORC) VerifiedBy() []XCN                  { return list(o.Field(11), readXCN) }
func (o ORC) OrderingProviders() []XCN           { return list(o.Field(12), readXCN) }
func (o ORC) EnterersLocation() PL               { return readPL(o.Field(13)) }
func (o ORC) CallbackPhones() []XTN              { return list(o.Field(14), readXTN) }
func (o ORC) EffectiveDateTime() (Time, error)   { return o.time(15) }
func (o ORC) ControlReason() CWE                 { return readCWE(o.Field(16)) }
func (o ORC) EnteringOrganization() CWE          { return readCWE(o.Field(17)) }
func (o ORC) EnteringDevice() CWE                { return readCWE(o.Field(18)) }
func (o ORC) OrderingFacilityName() []XON        { return list(o.Field(21), readXON) }

// OBR is the observation request: the order or report header of a group of
// OBX.
type OBR struct{ *Segment }

func (o OBR) SetID() string                           { return o.str(1) }
func (o OBR) PlacerOrderNumber() EI                   { return readEI(o.Field(2)) }
func (o OBR) FillerOrderNumber() EI                   { return readEI(o.Field(3)) }
func (o OBR) UniversalServiceID() CWE                 { return readCWE(o.Field(4)) }
func (o OBR) Priority() string                        { return o.str(5) }
func (o OBR) RequestedDateTime() (Time, error)        { return o.time(6) }
func (o OBR) ObservationDateTime() (Time, error)      { return o.time(7) }
func (o OBR) ObservationEndDateTime() (Time, error)   { return o.time(8) }
func (o OBR) CollectorIdentifiers() []XCN             { return list(o.Field(10), readXCN) }
func (o OBR) SpecimenActionCode() string              { return o.str(11) }
func (o OBR) RelevantClinicalInfo() string            { return o.Field(13).Text() }
func (o OBR) SpecimenReceivedDateTime() (Time, error) { return o.time(14) }

// SpecimenSource is OBR-15.1, the specimen type code (pre-v2.5 SPS).
func (o OBR) SpecimenSource() CWE                    { return readCWE(o.Field(15).Comp(1)) }
func (o OBR) OrderingProviders() []XCN               { return list(o.Field(16), readXCN) }
func (o OBR) PlacerField1() string                   { return o.str(18) }
func (o OBR) PlacerField2() string                   { return o.str(19) }
func (o OBR) FillerField1() string                   { return o.str(20) }
func (o OBR) FillerField2() string                   { return o.str(21) }
func (o OBR) ResultsReportedDateTime() (Time, error) { return o.time(22) }
func (o OBR) DiagnosticServiceSection() string       { return o.str(24) }

// ResultStatus is OBR-25 (table 0123: O, I, S, A, P, C, R, F, X, ...).
func (o OBR) ResultStatus() string           { return o.str(25) }
func (o OBR) QuantityTimingPriority() string { return o.Field(27).Comp(6).String() }
func (o OBR) ResultCopiesTo() []XCN          { return list(o.Field(28), readXCN) }
func (o OBR) ReasonForStudy() []CWE          { return list(o.Field(31), readCWE) }

// PrincipalResultInterpreter is OBR-32 (NDL), as a Value: devices put free
// text there ("R&D Engineer", unescaped), which Value.Text recovers.
func (o OBR) PrincipalResultInterpreter() Value { return o.Field(32) }
func (o OBR) Technician() Value                 { return o.Field(34) }

// NTE is a note or comment.
type NTE struct{ *Segment }

func (n NTE) SetID() string           { return n.str(1) }
func (n NTE) SourceOfComment() string { return n.str(2) }

// Comment is NTE-3 (FT): repetitions are lines, formatting applied.
func (n NTE) Comment() string  { return joinReps(n.Field(3), "FT") }
func (n NTE) CommentType() CWE { return readCWE(n.Field(4)) }

// joinReps renders a text field whose repetitions are lines.
func joinReps(v Value, dataType string) string {
	if v.NumReps() <= 1 {
		return v.TextAs(dataType)
	}
	var b strings.Builder
	for i, r := range v.Reps() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(r.TextAs(dataType))
	}
	return b.String()
}

// SPM is the specimen.
type SPM struct{ *Segment }

func (s SPM) SetID() string           { return s.str(1) }
func (s SPM) SpecimenID() EIP         { return readEIP(s.Field(2)) }
func (s SPM) ParentIDs() []EIP        { return list(s.Field(3), readEIP) }
func (s SPM) SpecimenType() CWE       { return readCWE(s.Field(4)) }
func (s SPM) TypeModifiers() []CWE    { return list(s.Field(5), readCWE) }
func (s SPM) Additives() []CWE        { return list(s.Field(6), readCWE) }
func (s SPM) CollectionMethod() CWE   { return readCWE(s.Field(7)) }
func (s SPM) SourceSite() CWE         { return readCWE(s.Field(8)) }
func (s SPM) CollectionSite() CWE     { return readCWE(s.Field(10)) }
func (s SPM) Roles() []CWE            { return list(s.Field(11), readCWE) }
func (s SPM) CollectionAmount() Value { return s.Field(12) }
func (s SPM) Description() []string   { return strs(s.Field(14)) }
func (s SPM) HandlingCodes() []CWE    { return list(s.Field(15), readCWE) }

// CollectionDateTime is SPM-17.1, the start of the collection range.
func (s SPM) CollectionDateTime() (Time, error) { return s.timeComp(17, 1) }
func (s SPM) ReceivedDateTime() (Time, error)   { return s.time(18) }
func (s SPM) ExpirationDateTime() (Time, error) { return s.time(19) }
func (s SPM) Availability() string              { return s.str(20) }
func (s SPM) RejectReasons() []CWE              { return list(s.Field(21), readCWE) }
func (s SPM) Quality() CWE                      { return readCWE(s.Field(22)) }
func (s SPM) Appropriateness() CWE              { return readCWE(s.Field(23)) }
func (s SPM) Conditions() []CWE                 { return list(s.Field(24), readCWE) }
func (s SPM) NumberOfContainers() string        { return s.str(26) }
func (s SPM) ContainerType() CWE                { return readCWE(s.Field(27)) }
func (s SPM) ContainerCondition() CWE           { return readCWE(s.Field(28)) }

// SAC is the specimen container detail.
type SAC struct{ *Segment }

func (s SAC) ExternalAccessionID() EI             { return readEI(s.Field(1)) }
func (s SAC) AccessionID() EI                     { return readEI(s.Field(2)) }
func (s SAC) ContainerID() EI                     { return readEI(s.Field(3)) }
func (s SAC) PrimaryContainerID() EI              { return readEI(s.Field(4)) }
func (s SAC) EquipmentContainerID() EI            { return readEI(s.Field(5)) }
func (s SAC) RegistrationDateTime() (Time, error) { return s.time(7) }
func (s SAC) ContainerStatus() CWE                { return readCWE(s.Field(8)) }
func (s SAC) CarrierType() CWE                    { return readCWE(s.Field(9)) }
func (s SAC) CarrierID() EI                       { return readEI(s.Field(10)) }
func (s SAC) PositionInCarrier() Value            { return s.Field(11) }
func (s SAC) TrayType() CWE                       { return readCWE(s.Field(12)) }
func (s SAC) TrayID() EI                          { return readEI(s.Field(13)) }
func (s SAC) PositionInTray() Value               { return s.Field(14) }
func (s SAC) Locations() []CWE                    { return list(s.Field(15), readCWE) }

// TQ1 is timing and quantity.
type TQ1 struct{ *Segment }

func (t TQ1) SetID() string                { return t.str(1) }
func (t TQ1) Quantity() Value              { return t.Field(2) }
func (t TQ1) StartDateTime() (Time, error) { return t.time(7) }
func (t TQ1) EndDateTime() (Time, error)   { return t.time(8) }
func (t TQ1) Priorities() []CWE            { return list(t.Field(9), readCWE) }
func (t TQ1) ConditionText() string        { return t.Field(10).Text() }
func (t TQ1) TextInstruction() string      { return t.Field(11).Text() }
func (t TQ1) Conjunction() string          { return t.str(12) }
func (t TQ1) TotalOccurrences() string     { return t.str(14) }

// MSA is the message acknowledgment.
type MSA struct{ *Segment }

// AckCode is MSA-1: AA, AE, AR or the commit codes CA, CE, CR.
func (a MSA) AckCode() string                { return a.str(1) }
func (a MSA) ControlID() string              { return a.str(2) }
func (a MSA) Text() string                   { return a.Field(3).Text() }
func (a MSA) ExpectedSequenceNumber() string { return a.str(4) }
func (a MSA) DelayedAckType() string         { return a.str(5) }
func (a MSA) ErrorCondition() CWE            { return readCWE(a.Field(6)) }

// ERR is an error in an acknowledgment.
type ERR struct{ *Segment }

// CodeAndLocation is ERR-1 (before v2.5).
func (e ERR) CodeAndLocation() []ELD               { return list(e.Field(1), readELD) }
func (e ERR) Locations() []ERL                     { return list(e.Field(2), readERL) }
func (e ERR) Code() CWE                            { return readCWE(e.Field(3)) }
func (e ERR) Severity() string                     { return e.str(4) }
func (e ERR) ApplicationErrorCode() CWE            { return readCWE(e.Field(5)) }
func (e ERR) ApplicationErrorParameters() []string { return strs(e.Field(6)) }
func (e ERR) DiagnosticInformation() string        { return e.Field(7).TextAs("TX") }
func (e ERR) UserMessage() string                  { return e.Field(8).TextAs("TX") }

// QRD is the original-mode query definition (QRY^Q02 and the Mindray
// BS/BC host query: the sample barcode is in QRD-8).
type QRD struct{ *Segment }

func (q QRD) QueryDateTime() (Time, error)      { return q.time(1) }
func (q QRD) FormatCode() string                { return q.str(2) }
func (q QRD) Priority() string                  { return q.str(3) }
func (q QRD) QueryID() string                   { return q.str(4) }
func (q QRD) DeferredResponseType() string      { return q.str(5) }
func (q QRD) QuantityLimitedRequest() Value     { return q.Field(7) }
func (q QRD) WhoSubjectFilter() []XCN           { return list(q.Field(8), readXCN) }
func (q QRD) WhatSubjectFilter() []CWE          { return list(q.Field(9), readCWE) }
func (q QRD) WhatDepartmentDataCode() []CWE     { return list(q.Field(10), readCWE) }
func (q QRD) WhatDataCodeValueQualifier() Value { return q.Field(11) }
func (q QRD) ResultsLevel() string              { return q.str(12) }

// QPD is the query parameter definition.
type QPD struct{ *Segment }

func (q QPD) MessageQueryName() CWE { return readCWE(q.Field(1)) }
func (q QPD) QueryTag() string      { return q.str(2) }

// Parameter returns user parameter i (1-based), which is QPD-(i+2).
func (q QPD) Parameter(i int) Value { return q.Field(i + 2) }

// MRG is merge patient information (ADT^A34/A40).
type MRG struct{ *Segment }

func (m MRG) PriorIdentifiers() []CX { return list(m.Field(1), readCX) }
func (m MRG) PriorAlternateID() []CX { return list(m.Field(2), readCX) }
func (m MRG) PriorAccountNumber() CX { return readCX(m.Field(3)) }
func (m MRG) PriorPatientID() CX     { return readCX(m.Field(4)) }
func (m MRG) PriorVisitNumber() CX   { return readCX(m.Field(5)) }
func (m MRG) PriorNames() []XPN      { return list(m.Field(7), readXPN) }
