package dicom

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	dul "github.com/medgate/medgate/listeners/dicom"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// WorklistItem is one Modality Worklist answer, text decoded with the
// answer's Specific Character Set.
type WorklistItem struct {
	Subject
	Modality               string
	ScheduledStationAE     string
	ScheduledStartDate     string
	RequestedProcedureDesc string
	SPSDescription         string
}

// worklistQuery is the identifier a scanner sends: its own AE title and
// modality in the Scheduled Procedure Step, the rest universal (accession
// single-valued when given).
func worklistQuery(stationAE, modality, accession string) *dcm.Dataset {
	ds := &dcm.Dataset{}
	empty := func(g, e uint16, vr string) { ds.SetEmpty(dcm.NewTag(g, e), vr) }
	empty(0x0008, 0x0005, "CS")
	ds.SetText(dcm.TagAccessionNumber, "SH", accession, nil)
	empty(0x0008, 0x0090, "PN")
	empty(0x0010, 0x0010, "PN")
	empty(0x0010, 0x0020, "LO")
	empty(0x0010, 0x0021, "LO")
	empty(0x0010, 0x0030, "DA")
	empty(0x0010, 0x0040, "CS")
	empty(0x0020, 0x000D, "UI")
	empty(0x0032, 0x1060, "LO")
	empty(0x0040, 0x1001, "SH")
	sps := &dcm.Dataset{}
	sps.SetText(dcm.TagModality, "CS", modality, nil)
	sps.SetText(dcm.TagScheduledStationAETitle, "AE", stationAE, nil)
	sps.SetEmpty(dcm.TagScheduledProcedureStepStartDate, "DA")
	sps.SetEmpty(dcm.TagScheduledProcedureStepStartTime, "TM")
	sps.SetEmpty(dcm.TagScheduledProcedureStepDescription, "LO")
	sps.SetEmpty(dcm.TagScheduledProcedureStepID, "SH")
	ds.SetSequence(dcm.TagScheduledProcedureStepSequence, sps)
	return ds
}

// QueryWorklist asks c's peer for the worklist items scheduled on
// stationAE for modality (and accession, when not empty). It returns the
// items and the final C-FIND status.
func QueryWorklist(ctx context.Context, c *dul.Client, stationAE, modality, accession string) ([]WorklistItem, uint16, error) {
	ts, ok := c.TransferSyntax(dul.ModalityWorklistFind)
	if !ok {
		return nil, 0, fmt.Errorf("%w: the peer does not offer Modality Worklist FIND", dul.ErrNoContext)
	}
	id, err := worklistQuery(stationAE, modality, accession).Encode(ts)
	if err != nil {
		return nil, 0, err
	}
	var items []WorklistItem
	var decodeErr error
	status, err := c.Find(ctx, dul.ModalityWorklistFind, id, func(b []byte) error {
		it, err := parseWorklistItem(b, ts)
		if err != nil {
			decodeErr = err
			return nil
		}
		items = append(items, it)
		return nil
	})
	if err == nil && decodeErr != nil {
		err = fmt.Errorf("worklist answer: %w", decodeErr)
	}
	return items, status, err
}

func parseWorklistItem(b []byte, ts string) (WorklistItem, error) {
	ds, err := dcm.Decode(b, ts)
	if err != nil {
		return WorklistItem{}, err
	}
	cs, err := dcm.CharsetFor(ds, "")
	if err != nil {
		return WorklistItem{}, err
	}
	var firstErr error
	str := func(d *dcm.Dataset, t dcm.Tag) string {
		s, err := d.String(t, cs)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	}
	var it WorklistItem
	it.PatientName = str(ds, dcm.TagPatientName)
	it.PatientID = str(ds, dcm.TagPatientID)
	it.IssuerOfPatientID = str(ds, dcm.TagIssuerOfPatientID)
	it.PatientBirthDate = str(ds, dcm.TagPatientBirthDate)
	it.PatientSex = str(ds, dcm.TagPatientSex)
	it.AccessionNumber = str(ds, dcm.TagAccessionNumber)
	it.StudyInstanceUID = str(ds, dcm.TagStudyInstanceUID)
	it.ReferringPhysician = str(ds, dcm.TagReferringPhysicianName)
	it.RequestedProcedureID = str(ds, dcm.TagRequestedProcedureID)
	it.RequestedProcedureDesc = str(ds, dcm.TagRequestedProcedureDescription)
	it.StudyDescription = it.RequestedProcedureDesc
	if e := ds.Get(dcm.TagScheduledProcedureStepSequence); e != nil && len(e.Items) > 0 {
		sps := e.Items[0]
		it.Modality = str(sps, dcm.TagModality)
		it.ScheduledStationAE = str(sps, dcm.TagScheduledStationAETitle)
		it.ScheduledStartDate = str(sps, dcm.TagScheduledProcedureStepStartDate)
		it.ScheduledProcedureStepID = str(sps, dcm.TagScheduledProcedureStepID)
		it.SPSDescription = str(sps, dcm.TagScheduledProcedureStepDescription)
		if it.StudyDescription == "" {
			it.StudyDescription = it.SPSDescription
		}
	}
	if it.StudyInstanceUID != "" && !dcm.ValidUID(it.StudyInstanceUID) {
		return it, fmt.Errorf("Study Instance UID %q is not a valid UID", it.StudyInstanceUID)
	}
	return it, firstErr
}

// inventedPatients are made up (no real patient data): Cyrillic names with
// ё and й, as a registrar would type them.
var inventedPatients = []struct{ name, sex, birth string }{
	{"Соколова^Мария^Петровна", "F", "19780312"},
	{"Кузьмин^Алексей^Игоревич", "M", "19650721"},
	{"Ёлкина^Дарья^Сергеевна", "F", "19910105"},
	{"Щербаков^Юрий^Львович", "M", "19580930"},
	{"Зайцева^Наталья^Андреевна", "F", "19840417"},
	{"Воробьёв^Никита^Олегович", "M", "20010226"},
}

// InventedSubject returns an invented patient with a fresh accession
// number and Study Instance UID, for -no-worklist runs.
func InventedSubject(kind Kind) Subject {
	p := inventedPatients[rand.IntN(len(inventedPatients))]
	n := rand.IntN(1_000_000)
	return Subject{
		PatientName:        p.name,
		PatientID:          fmt.Sprintf("SIM%06d", n),
		IssuerOfPatientID:  "MEDGATE-SIM",
		PatientBirthDate:   p.birth,
		PatientSex:         p.sex,
		AccessionNumber:    fmt.Sprintf("SIMA%08d", rand.IntN(100_000_000)),
		StudyInstanceUID:   NewUID(),
		StudyDescription:   strings.ToUpper(kind.Modality) + " " + kind.SeriesDesc,
		ReferringPhysician: "Иванов^Пётр",
	}
}
