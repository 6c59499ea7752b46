// Package store defines the contract of medgate's persistence. Two dialects
// implement it (sqlite, postgres) over one shared SQL core (sqlstore), and one
// conformance suite (storetest) holds both to it.
//
// Every method that reads patient data takes the caller's organizations and
// answers ErrNotFound for a record outside them, so another controller's
// patient is indistinguishable from a missing one. Methods that change data
// take the AuditEvent to write in the same transaction: the change and its
// audit record commit together or not at all.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/medgate/medgate/mis/domain"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound = domain.ErrNotFound
	ErrConflict = errors.New("conflict")
	ErrLimit    = errors.New("limit reached")
	// ErrBadCursor is a page cursor the store did not issue.
	ErrBadCursor = errors.New("invalid page cursor")
)

// ConflictError is a uniqueness or state conflict naming the field involved.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Message }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// LimitError says which configured limit a write would exceed.
type LimitError struct {
	What  string
	Limit int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("the limit of %d %s per organization is reached", e.Limit, e.What)
}
func (e *LimitError) Unwrap() error { return ErrLimit }

// Page is a keyset cursor: pass Next back to continue; empty means done.
type Page struct {
	Limit  int
	Cursor string
}

// PatientQuery selects patients. All set fields must match.
type PatientQuery struct {
	Orgs       []int64 // required: the organizations visible to the caller
	Name       string  // prefix of "family given patronymic", case-insensitive, ё = е
	SNILS      string  // 11 digits
	BirthDate  string  // YYYY-MM-DD
	Identifier *domain.Identifier
	Page
}

// OrderQuery selects orders.
type OrderQuery struct {
	Orgs      []int64
	PatientID int64
	Status    domain.RequestStatus
	Category  domain.Category
	Page
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	Orgs []int64 // empty selects every organization's events: for system tools, never for a user

	PatientID int64
	UserID    int64
	Page
}

// Store is medgate's persistence.
type Store interface {
	IngestStore
	ImagingStore
	Leaser
	Searcher
	EventStore
	OutboundStore

	Ping(ctx context.Context) error
	Close() error

	// Organizations and users.
	CreateOrganization(ctx context.Context, o *domain.Organization) error
	GetOrganization(ctx context.Context, id int64) (*domain.Organization, error)
	ListOrganizations(ctx context.Context) ([]domain.Organization, error)
	CreateUser(ctx context.Context, u *domain.User) error
	GetUser(ctx context.Context, id int64) (*domain.User, error)
	GetUserByLogin(ctx context.Context, login string) (*domain.User, error)
	// AddMembership gives a user roles in one more organization (or replaces
	// their roles there).
	AddMembership(ctx context.Context, userID int64, m domain.Membership) error
	CreateSession(ctx context.Context, s domain.Session) error
	GetSession(ctx context.Context, tokenHash string) (*domain.Session, error)
	DeleteSession(ctx context.Context, tokenHash string) error

	// Patients. CreatePatient refuses with a LimitError once the organization
	// holds maxPatients (0: no limit).
	CreatePatient(ctx context.Context, p *domain.Patient, maxPatients int, audit *domain.AuditEvent) error
	GetPatient(ctx context.Context, orgs []int64, id int64) (*domain.Patient, error)
	// UpdatePatient replaces the patient's fields if p.Version is current and
	// bumps the version; a stale version is a ConflictError on "version".
	UpdatePatient(ctx context.Context, orgs []int64, p *domain.Patient, audit *domain.AuditEvent) error
	SearchPatients(ctx context.Context, q PatientQuery) (list []domain.Patient, next string, err error)

	// Orders. CreateServiceRequest assigns the accession number (unless
	// given), the specimen and its barcode for lab orders, and the Study
	// Instance UID for imaging orders (unless given), all in one transaction.
	CreateServiceRequest(ctx context.Context, r *domain.ServiceRequest, audit *domain.AuditEvent) error
	GetServiceRequest(ctx context.Context, orgs []int64, id int64) (*domain.ServiceRequest, error)
	ListServiceRequests(ctx context.Context, q OrderQuery) (list []domain.ServiceRequest, next string, err error)
	// SetServiceRequestStatus moves an order along its lifecycle; a move the
	// lifecycle forbids is a ConflictError on "status".
	SetServiceRequestStatus(ctx context.Context, orgs []int64, id int64, to domain.RequestStatus, audit *domain.AuditEvent) (*domain.ServiceRequest, error)

	// Results and studies.
	SaveReport(ctx context.Context, r *domain.DiagnosticReport, obs []domain.Observation, audit *domain.AuditEvent) error
	SaveImagingStudy(ctx context.Context, s *domain.ImagingStudy, audit *domain.AuditEvent) error
	PatientChart(ctx context.Context, orgs []int64, patientID int64) (*domain.Chart, error)
	PatientObservations(ctx context.Context, orgs []int64, patientID int64, code string) ([]domain.Observation, error)
	PatientStudies(ctx context.Context, orgs []int64, patientID int64) ([]domain.ImagingStudy, error)

	// Devices.
	CreateDevice(ctx context.Context, d *domain.Device, audit *domain.AuditEvent) error
	ListDevices(ctx context.Context, orgs []int64) ([]domain.Device, error)

	// Audit.
	WriteAudit(ctx context.Context, ev *domain.AuditEvent) error
	ListAudit(ctx context.Context, q AuditQuery) (list []domain.AuditEvent, next string, err error)
}
