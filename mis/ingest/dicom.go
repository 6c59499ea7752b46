package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mapping"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// DICOM processes stored DICOM instances (one message per C-STORE): it
// reads the header (pixel data skipped), checks it against the command
// that brought it, and attaches the instance to its study, the study to
// the imaging order by Study Instance UID or accession number, else to the
// patient by Patient ID with its issuer, else to reconciliation.
type DICOM struct {
	Store store.Store
	Blobs *blob.FS
	// Location is the clinic's time zone for study dates and times, which
	// DICOM writes without an offset. nil: time.Local.
	Location *time.Location
	// Issuer is Issuer of Patient ID for medgate's own patient IDs (what
	// the worklist hands out).
	Issuer string
}

// Process indexes one instance.
func (d DICOM) Process(ctx context.Context, in Input) (*domain.IngestResult, error) {
	m, dev := in.Message, in.Device
	if !dev.SendsResults {
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true,
			Reason: fmt.Sprintf("images are not taken from device %s: it is not set to send results", dev.Name)}
	}
	if m.Blob == "" {
		return nil, &listeners.InvalidError{Stage: "parse", Reason: "the instance's bytes are not in the blob store"}
	}
	path, err := d.Blobs.Path(m.Blob)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", m.Blob, err) // a fault: the blob must be there
	}
	defer f.Close()
	h, err := dcm.ReadHeaderFrom(f, &dcm.HeaderOptions{Charset: textOverride(dev.Encoding)})
	if err != nil {
		return nil, &listeners.InvalidError{Stage: "parse", Reason: "cannot understand the data set: " + err.Error()}
	}
	if err := h.CheckAgainst(m.Type, m.Key); err != nil {
		return nil, &listeners.InvalidError{Stage: "parse", Reason: err.Error(), Mismatch: true}
	}
	if h.StudyInstanceUID == "" || h.SeriesInstanceUID == "" {
		return nil, &listeners.InvalidError{Stage: "parse", Reason: "Study or Series Instance UID missing (0020,000D/000E)", Mismatch: true}
	}
	st := d.study(h, m, dev)
	res := &domain.IngestResult{Studies: []domain.ImagingStudy{st}}

	// A study medgate already holds keeps its place: instances arrive one
	// association at a time and must not each open a reconciliation item.
	prev, open, err := d.Store.StudyState(ctx, dev.OrganizationID, h.StudyInstanceUID)
	switch {
	case err == nil && prev.PatientID != 0:
		res.Studies[0].PatientID, res.Studies[0].RequestID = prev.PatientID, prev.RequestID
		return res, nil
	case err == nil && open:
		res.Status, res.Reason = domain.MessageQueued, "the study waits in reconciliation"
		return res, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, err
	}

	keys := mapping.Keys{Org: dev.OrganizationID, Accession: h.AccessionNumber, StudyUID: h.StudyInstanceUID,
		Family: h.PatientName.Family, Given: h.PatientName.Given, BirthDate: isoDate(h.PatientBirthDate),
		Gender: domain.GenderFromCode(h.PatientSex)}
	own, ownErr := d.ownPatient(ctx, h, dev.OrganizationID)
	if ownErr != nil {
		return nil, ownErr
	}
	if id := d.identifier(h, dev); id != nil {
		keys.Identifiers = []domain.Identifier{*id}
	}
	match, err := mapping.Find(ctx, in.Lookup, dev.MatchingPolicy, keys)
	if err != nil {
		return nil, err
	}
	if match.Matched() && own != nil && own.ID != match.PatientID {
		// The images name one of medgate's patients, the order another:
		// a person decides, two people are never merged silently.
		match = mapping.Match{Reason: domain.ReasonAmbiguousPatient, Key: "study:" + h.StudyInstanceUID,
			Detail:     fmt.Sprintf("the images carry patient ID %d, the order belongs to patient %d", own.ID, match.PatientID),
			Candidates: []int64{own.ID, match.PatientID}}
	} else if !match.Matched() && own != nil {
		match = mapping.Match{PatientID: own.ID}
	}
	if match.Matched() {
		res.Studies[0].PatientID, res.Studies[0].RequestID = match.PatientID, match.RequestID
		return res, nil
	}
	key := match.Key
	if key == "" {
		key = "study:" + h.StudyInstanceUID
	}
	res.Recon = []domain.ReconDraft{{Item: domain.ReconItem{Kind: "imaging", Reason: match.Reason, Key: key,
		Detail: match.Detail, Candidates: match.Candidates}, Report: -1, Study: 0}}
	for _, dec := range in.Decisions { // a person attached this message before
		if dec.Key == key && dec.PatientID != 0 {
			res.Studies[0].PatientID, res.Studies[0].RequestID, res.Recon = dec.PatientID, dec.RequestID, nil
		}
	}
	return res, nil
}

// study builds the study with this one instance.
func (d DICOM) study(h *dcm.Header, m *domain.Message, dev *domain.Device) domain.ImagingStudy {
	loc := d.Location
	if loc == nil {
		loc = time.Local
	}
	st := domain.ImagingStudy{OrganizationID: dev.OrganizationID, StudyInstanceUID: h.StudyInstanceUID,
		AccessionNumber: h.AccessionNumber, Description: h.StudyDescription, Status: "available",
		StudyID: h.StudyID, ReferringPhysician: h.ReferringPhysician,
		Source: domain.SourcePatient{ID: h.PatientID, Issuer: h.IssuerOfPatientID, Name: h.PatientNameText,
			BirthDate: h.PatientBirthDate, Sex: h.PatientSex}}
	if h.Modality != "" {
		st.Modalities = []string{h.Modality}
	}
	if h.StudyDate != "" {
		if t, err := dcm.ParseDateTime(h.StudyDate, h.StudyTime, loc); err == nil {
			st.Started = &t
		}
	}
	ts := h.TransferSyntaxUID
	st.Series = []domain.ImagingSeries{{UID: h.SeriesInstanceUID, Number: h.SeriesNumber, Modality: h.Modality,
		Description: h.SeriesDescription, BodyPart: h.BodyPartExamined,
		Instances: []domain.ImagingInstance{{SOPInstanceUID: h.SOPInstanceUID, SOPClassUID: h.SOPClassUID,
			Number: h.InstanceNumber, TransferSyntax: ts, Size: int64(m.Size), SHA256: m.SHA256, Location: m.Blob}}}}
	return st
}

// ownPatient is the medgate patient the images name when their Patient ID
// was issued by medgate's worklist.
func (d DICOM) ownPatient(ctx context.Context, h *dcm.Header, org int64) (*domain.Patient, error) {
	if d.Issuer == "" || !strings.EqualFold(strings.TrimSpace(h.IssuerOfPatientID), d.Issuer) {
		return nil, nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(h.PatientID), 10, 64)
	if err != nil || id <= 0 {
		return nil, nil
	}
	p, err := d.Store.GetPatient(ctx, []int64{org}, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// identifier turns Patient ID and its issuer into an identifier with a
// system. Without an issuer the ID is the device's own numbering.
func (d DICOM) identifier(h *dcm.Header, dev *domain.Device) *domain.Identifier {
	v := strings.TrimSpace(h.PatientID)
	if v == "" {
		return nil
	}
	issuer := strings.TrimSpace(h.IssuerOfPatientID)
	switch {
	case d.Issuer != "" && strings.EqualFold(issuer, d.Issuer):
		return nil // handled by ownPatient
	case issuer == "":
		return &domain.Identifier{System: "urn:medgate:device:" + dev.Name + ":patient-id", Value: v}
	case strings.EqualFold(issuer, "SNILS") || issuer == "СНИЛС" || issuer == "1.2.643.100.3":
		return &domain.Identifier{System: domain.SystemSNILS, Value: strings.NewReplacer("-", "", " ", "").Replace(v)}
	case dcm.ValidUID(issuer):
		return &domain.Identifier{System: "urn:oid:" + issuer, Value: v}
	}
	return &domain.Identifier{System: "urn:dicom:issuer:" + issuer, Value: v}
}

// textOverride is the character set to read a device's files with when it
// writes text in a code page DICOM has no term for.
func textOverride(encoding string) string {
	switch strings.ToLower(encoding) {
	case "windows-1251", "cp866":
		return encoding
	}
	return ""
}

func isoDate(da string) string {
	if len(da) == 8 {
		return da[:4] + "-" + da[4:6] + "-" + da[6:]
	}
	return ""
}
