// Package domain holds medgate's clinical and administrative model. Names and
// semantics follow FHIR R4 (Patient, ServiceRequest, Specimen, Observation,
// DiagnosticReport, ImagingStudy, Device, AuditEvent) so the FHIR API is a
// projection, not a translation. The package is pure: no I/O.
package domain

import "time"

// Role is what a user may do within an organization.
type Role string

const (
	RoleAdmin     Role = "admin"     // users, organizations, everything
	RoleIT        Role = "it"        // devices, mappings, reconciliation; no charts
	RoleDoctor    Role = "doctor"    // reads charts, orders
	RoleLab       Role = "lab"       // specimens and results
	RoleRegistrar Role = "registrar" // patients and orders
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleAdmin, RoleIT, RoleDoctor, RoleLab, RoleRegistrar}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Organization is a legal entity (a data controller under 152-FZ) or, when
// PartOf is set, one of its branches. Patients belong to the legal entity.
type Organization struct {
	ID      int64     `json:"id"`
	PartOf  int64     `json:"partOf,omitempty"`
	Name    string    `json:"name"`
	INN     string    `json:"inn,omitempty"`
	OGRN    string    `json:"ogrn,omitempty"`
	UIDRoot string    `json:"uidRoot,omitempty"` // DICOM UID root for study UIDs
	Active  bool      `json:"active"`
	Created time.Time `json:"created"`
}

// Membership says which roles a user holds in one organization.
type Membership struct {
	OrganizationID int64  `json:"organization"`
	Roles          []Role `json:"roles"`
}

// User is a person who signs in: FHIR Practitioner plus credentials.
type User struct {
	ID           int64        `json:"id"`
	Login        string       `json:"login"`
	Name         string       `json:"name"`
	PasswordHash string       `json:"-"`
	Active       bool         `json:"active"`
	Memberships  []Membership `json:"memberships"`
	Created      time.Time    `json:"created"`
}

// OrgIDs lists the organizations the user belongs to.
func (u *User) OrgIDs() []int64 {
	ids := make([]int64, 0, len(u.Memberships))
	for _, m := range u.Memberships {
		ids = append(ids, m.OrganizationID)
	}
	return ids
}

// HasRole reports whether the user holds role r in organization org
// (or in any organization when org is 0).
func (u *User) HasRole(org int64, r Role) bool {
	for _, m := range u.Memberships {
		if org != 0 && m.OrganizationID != org {
			continue
		}
		for _, have := range m.Roles {
			if have == r {
				return true
			}
		}
	}
	return false
}

// Session is a bearer token issued at login; only its hash is stored.
type Session struct {
	TokenHash string    `json:"-"`
	UserID    int64     `json:"user"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	Address   string    `json:"address"`
}

// Coding is a code in a code system (FHIR Coding).
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Identifier is a business identifier with the URI of its issuing system.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Identifier systems medgate itself knows.
const (
	SystemSNILS     = "urn:oid:1.2.643.100.3"        // СНИЛС
	SystemENP       = "urn:oid:1.2.643.100.114"      // ЕНП, unified OMS polis number
	SystemPatientID = "urn:medgate:patient-id"       // medgate's own patient ID
	SystemAccession = "urn:medgate:accession-number" // order accession numbers
	SystemLOINC     = "http://loinc.org"             // LOINC
	SystemUCUM      = "http://unitsofmeasure.org"    // UCUM units
	SystemDICOMUID  = "urn:dicom:uid"                // DICOM UIDs
	SystemBarcode   = "urn:medgate:specimen-barcode" // specimen barcodes
	SystemLocalCode = "urn:medgate:local-code"       // codes local to a clinic
	SystemDevice    = "urn:medgate:device-code"      // codes as a device sends them
	SystemModality  = "http://dicom.nema.org/resources/ontology/DCM"
)
