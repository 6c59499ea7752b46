package imaging

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/mis/store"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// StudyRoot answers Study Root Query/Retrieve C-FIND (study, series and
// image levels) for workstations and viewers, scoped to the calling
// device's organization like everything else in medgate.
//
// The store selects by the keys it indexes (Study Instance UID, accession
// number, study date); every other key is matched on the records, so a
// study-level query without one of those keys looks at the 500 most
// recent studies only.
type StudyRoot struct {
	Store    store.ImagingStore
	Device   DeviceFunc
	Location *time.Location // study dates and times; nil: time.Local
	Logger   *slog.Logger
}

// Find implements the listener's FindHandler.
func (s *StudyRoot) Find(ctx context.Context, req *dul.FindRequest, emit func([]byte) error) error {
	loc := s.Location
	if loc == nil {
		loc = time.Local
	}
	q, dev, err := prepare(ctx, req, s.Device, loc)
	if err != nil || dev == nil {
		return err
	}
	orgs := []int64{dev.OrganizationID}
	var recs []dcm.Record
	switch strings.TrimSpace(q.Level) {
	case "STUDY":
		recs, err = s.studies(ctx, q, orgs, loc)
	case "SERIES", "IMAGE":
		recs, err = s.below(ctx, q, orgs, strings.TrimSpace(q.Level))
	case "":
		return &dul.StatusError{Status: 0xA900, Comment: "Query/Retrieve Level (0008,0052) missing"}
	default:
		return &dul.StatusError{Status: 0xA900, Comment: "Query/Retrieve Level must be STUDY, SERIES or IMAGE"}
	}
	if err != nil {
		return err
	}
	opt := responseOptions(dev)
	n := 0
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !q.Match(rec) {
			continue
		}
		if err := respond(q, rec, opt, req.TransferSyntax, emit); err != nil {
			return err
		}
		n++
	}
	if s.Logger != nil {
		s.Logger.Info("study query answered", "device", dev.Name, "level", strings.TrimSpace(q.Level), "matches", n)
	}
	return nil
}

func (s *StudyRoot) studies(ctx context.Context, q *dcm.Query, orgs []int64, loc *time.Location) ([]dcm.Record, error) {
	sq := store.DICOMStudyQuery{Orgs: orgs}
	if k := q.Key(dcm.TagStudyInstanceUID); k != nil {
		switch k.Kind {
		case dcm.SingleValue:
			sq.StudyUIDs = []string{k.Value}
		case dcm.List:
			sq.StudyUIDs = k.Values
		}
	}
	if k := q.Key(dcm.TagAccessionNumber); k != nil && k.Kind == dcm.SingleValue {
		sq.Accession = k.Value
	}
	if k := q.Key(dcm.TagStudyDate); k != nil {
		sq.From, sq.To = dateBounds(k, loc)
	}
	rows, err := s.Store.FindStudies(ctx, sq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &dul.StatusError{Status: 0xC001, Comment: "study index unavailable: database error"}
	}
	recs := make([]dcm.Record, 0, len(rows))
	for _, row := range rows {
		recs = append(recs, studyRecord(row, loc))
	}
	return recs, nil
}

// below answers the series and image levels of one study (and series),
// which hierarchical queries must name.
func (s *StudyRoot) below(ctx context.Context, q *dcm.Query, orgs []int64, level string) ([]dcm.Record, error) {
	study := q.Key(dcm.TagStudyInstanceUID)
	if study == nil || study.Kind != dcm.SingleValue {
		return nil, &dul.StatusError{Status: 0xA900, Comment: level + " level needs one Study Instance UID"}
	}
	var series *dcm.Key
	if level == "IMAGE" {
		if series = q.Key(dcm.TagSeriesInstanceUID); series == nil || series.Kind != dcm.SingleValue {
			return nil, &dul.StatusError{Status: 0xA900, Comment: "IMAGE level needs one Series Instance UID"}
		}
	}
	st, err := s.Store.StudyByUID(ctx, orgs, study.Value)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, &dul.StatusError{Status: 0xC001, Comment: "study index unavailable: database error"}
	}
	var recs []dcm.Record
	for _, se := range st.Series {
		if level == "SERIES" {
			var r dcm.Record
			r.Set(dcm.TagStudyInstanceUID, st.StudyInstanceUID)
			r.Set(dcm.TagSeriesInstanceUID, se.UID)
			r.Set(dcm.TagModality, se.Modality)
			r.Set(dcm.TagSeriesNumber, strconv.Itoa(se.Number))
			r.Set(dcm.TagSeriesDescription, se.Description)
			r.Set(dcm.TagBodyPartExamined, se.BodyPart)
			r.Set(dcm.TagNumberOfSeriesRelatedInstances, strconv.Itoa(se.NumberOfInstances))
			recs = append(recs, r)
			continue
		}
		if se.UID != series.Value {
			continue
		}
		for _, in := range se.Instances {
			var r dcm.Record
			r.Set(dcm.TagStudyInstanceUID, st.StudyInstanceUID)
			r.Set(dcm.TagSeriesInstanceUID, se.UID)
			r.Set(dcm.TagSOPClassUID, in.SOPClassUID)
			r.Set(dcm.TagSOPInstanceUID, in.SOPInstanceUID)
			r.Set(dcm.TagInstanceNumber, strconv.Itoa(in.Number))
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// studyRecord answers with medgate's patient once the study is attached,
// else with what the modality said.
func studyRecord(row store.StudyRow, loc *time.Location) dcm.Record {
	st := row.Study
	var r dcm.Record
	if p := row.Patient; p != nil {
		r.Set(dcm.TagPatientName, dcm.FormatPN(p.Family, p.Given, p.Patronymic))
		r.Set(dcm.TagPatientID, strconv.FormatInt(p.ID, 10))
		r.Set(dcm.TagIssuerOfPatientID, IssuerOfPatientID)
		r.Set(dcm.TagPatientBirthDate, strings.ReplaceAll(p.BirthDate, "-", ""))
		r.Set(dcm.TagPatientSex, p.Gender.Code())
	} else {
		r.Set(dcm.TagPatientName, st.Source.Name)
		r.Set(dcm.TagPatientID, st.Source.ID)
		r.Set(dcm.TagIssuerOfPatientID, st.Source.Issuer)
		r.Set(dcm.TagPatientBirthDate, st.Source.BirthDate)
		r.Set(dcm.TagPatientSex, st.Source.Sex)
	}
	if st.Started != nil {
		t := st.Started.In(loc)
		r.Set(dcm.TagStudyDate, dcm.FormatDA(t))
		r.Set(dcm.TagStudyTime, dcm.FormatTM(t))
	}
	r.Set(dcm.TagStudyInstanceUID, st.StudyInstanceUID)
	r.Set(dcm.TagAccessionNumber, st.AccessionNumber)
	r.Set(dcm.TagStudyID, st.StudyID)
	r.Set(dcm.TagStudyDescription, st.Description)
	r.Set(dcm.TagReferringPhysicianName, st.ReferringPhysician)
	r.Set(dcm.TagModalitiesInStudy, strings.Join(st.Modalities, `\`))
	r.Set(dcm.TagNumberOfStudyRelatedSeries, strconv.Itoa(st.NumberOfSeries))
	r.Set(dcm.TagNumberOfStudyRelatedInstances, strconv.Itoa(st.NumberOfInstances))
	r.Set(dcm.TagInstanceAvailability, "ONLINE")
	return r
}
