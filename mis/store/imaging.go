package store

import (
	"context"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// ImagingStore is what the DICOM services and the viewer need beyond
// ingest: the Modality Worklist, study queries and order completion.
type ImagingStore interface {
	// Worklist lists active imaging orders with their patients, oldest
	// scheduled first. Conditions the SQL cannot express (name wildcards)
	// are the caller's to apply.
	Worklist(ctx context.Context, q WorklistQuery) ([]WorklistItem, error)
	// FindStudies lists studies (without series) with the patient they are
	// attached to, if any.
	FindStudies(ctx context.Context, q DICOMStudyQuery) ([]StudyRow, error)
	// StudyByUID reads a study, attached or not, with its series and
	// instances.
	StudyByUID(ctx context.Context, orgs []int64, studyUID string) (*domain.ImagingStudy, error)
	// StudyState is a study's row (no series) and whether a reconciliation
	// item is open for it; ErrNotFound when medgate has none of it.
	StudyState(ctx context.Context, org int64, studyUID string) (*domain.ImagingStudy, bool, error)
	// CompleteStableStudies marks completed every active imaging order
	// whose study received nothing since quietSince, auditing each as a
	// system action; it returns the orders completed.
	CompleteStableStudies(ctx context.Context, quietSince time.Time) ([]int64, error)
}

// WorklistQuery selects the active imaging orders a modality may perform.
type WorklistQuery struct {
	Orgs      []int64
	StationAE string // Scheduled Station AE Title; "" any
	Modality  string // "" any
	// From and To bound the scheduled start (inclusive); nil is open.
	// An order with no schedule matches only when both are nil.
	From, To  *time.Time
	PatientID int64  // 0 any
	Accession string // "" any
	Limit     int    // 0: 500
}

// WorklistItem is one scheduled order with its patient.
type WorklistItem struct {
	Order   domain.ServiceRequest
	Patient domain.Patient
}

// DICOMStudyQuery selects studies, attached or not, by the keys the
// database indexes; the caller (a study-level C-FIND) matches the rest.
type DICOMStudyQuery struct {
	Orgs      []int64
	StudyUIDs []string
	Accession string
	// From and To bound the study start (inclusive); nil is open.
	From, To *time.Time
	Limit    int // 0: 500
}

// StudyRow is a study and its patient (nil while not attached).
type StudyRow struct {
	Study   domain.ImagingStudy
	Patient *domain.Patient
}
