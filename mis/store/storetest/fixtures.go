package storetest

import (
	"fmt"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// Fixture constants. Times are given in Moscow time so the suite sees that the
// store hands them back in UTC, and with nanoseconds so it sees that they
// survive to the microsecond.
var (
	MSK = time.FixedZone("MSK", 3*60*60)
	T0  = time.Date(2025, 3, 14, 9, 26, 53, 589793238, MSK)
)

// Identifier systems and UID roots used by the fixtures.
const (
	UIDRoot       = "1.2.643.5.1.13.13.12.2.77.8001"
	SystemMedCard = "urn:oid:1.2.643.5.1.13.13.12.2.77.8001.100" // номер медицинской карты
	SystemPasport = "urn:oid:1.2.643.100.8"                      // паспорт РФ (illustrative)
	SystemSNOMED  = "http://snomed.info/sct"
)

// SNILS returns a valid 11-digit СНИЛС whose first nine digits are n
// (1001999 <= n <= 999999999), with the check number computed by the rule in
// domain.ValidateSNILS.
func SNILS(n int) string {
	body := fmt.Sprintf("%09d", n)
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(body[i]-'0') * (9 - i)
	}
	check := sum % 101
	if check == 100 {
		check = 0
	}
	return fmt.Sprintf("%s%02d", body, check)
}

// ENP returns a 16-digit ЕНП polis number made from n.
func ENP(n int) string {
	return fmt.Sprintf("77%014d", n)
}

// NewOrganization returns an active legal entity named name.
func NewOrganization(name string) *domain.Organization {
	return &domain.Organization{Name: name, Active: true}
}

// NewUser returns an active user with a password hash and the given memberships.
func NewUser(login string, memberships ...domain.Membership) *domain.User {
	return &domain.User{
		Login:        login,
		Name:         "Тестова Анна Сергеевна",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Active:       true,
		Memberships:  memberships,
	}
}

// NewPatient returns a valid, normalized patient of org without СНИЛС, ЕНП or
// other identifiers.
func NewPatient(org int64, family, given string) *domain.Patient {
	return &domain.Patient{
		OrganizationID: org,
		Family:         family,
		Given:          given,
		BirthDate:      "1980-05-17",
		Gender:         domain.GenderMale,
		Active:         true,
	}
}

// NewLabOrder returns an active routine lab order of patient in org for the
// given LOINC codes (glucose, 2345-7, when none).
func NewLabOrder(org, patient int64, codes ...string) *domain.ServiceRequest {
	if len(codes) == 0 {
		codes = []string{"2345-7"}
	}
	r := &domain.ServiceRequest{
		OrganizationID: org,
		PatientID:      patient,
		Category:       domain.CategoryLab,
		Priority:       domain.PriorityRoutine,
		Status:         domain.StatusActive,
	}
	for _, c := range codes {
		r.Codes = append(r.Codes, domain.Coding{System: domain.SystemLOINC, Code: c})
	}
	return r
}

// NewImagingOrder returns an active routine imaging order of patient in org.
func NewImagingOrder(org, patient int64, modality, procedure string) *domain.ServiceRequest {
	return &domain.ServiceRequest{
		OrganizationID: org,
		PatientID:      patient,
		Category:       domain.CategoryImaging,
		Modality:       modality,
		Procedure:      procedure,
		Priority:       domain.PriorityRoutine,
		Status:         domain.StatusActive,
	}
}

// NewDevice returns an active device of org.
func NewDevice(org int64, name, protocol string) *domain.Device {
	return &domain.Device{OrganizationID: org, Name: name, Protocol: protocol, Active: true}
}

// NewAudit returns a successful audit event of org.
func NewAudit(org int64, action, event string) *domain.AuditEvent {
	return &domain.AuditEvent{
		OrganizationID: org,
		Action:         action,
		Event:          event,
		Address:        "192.0.2.10",
		Outcome:        domain.OutcomeSuccess,
	}
}

// givenNames are valid, distinct Russian given names for bulk fixtures.
var givenNames = []string{
	"Александр", "Борис", "Василий", "Григорий", "Дмитрий", "Евгений", "Жанна",
	"Зинаида", "Игорь", "Кирилл", "Леонид", "Максим", "Никита", "Олег", "Павел",
	"Роман", "Сергей", "Тимур", "Ульяна", "Фёдор", "Харитон", "Цветана",
	"Чеслав", "Эдуард", "Юрий", "Яков",
}
