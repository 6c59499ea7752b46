package domain

import (
	"strings"
	"time"
	"unicode"
)

// Gender follows FHIR administrative-gender.
type Gender string

const (
	GenderMale    Gender = "male"
	GenderFemale  Gender = "female"
	GenderOther   Gender = "other"
	GenderUnknown Gender = "unknown"
)

// GenderFromCode reads the administrative sex a device sends (HL7 table
// 0001, DICOM Patient's Sex): M, F, O (A, ambiguous, is other), the words
// too; "" when nothing was sent, unknown for U, N and what devices invent.
func GenderFromCode(code string) Gender {
	switch strings.ToUpper(strings.TrimSpace(code)) {
	case "":
		return ""
	case "M", "MALE":
		return GenderMale
	case "F", "FEMALE":
		return GenderFemale
	case "O", "A", "OTHER":
		return GenderOther
	}
	return GenderUnknown
}

// Code is the one-letter administrative sex devices read (M, F, O), ""
// when unknown.
func (g Gender) Code() string {
	switch g {
	case GenderMale:
		return "M"
	case GenderFemale:
		return "F"
	case GenderOther:
		return "O"
	}
	return ""
}

// Patient is a person receiving care in one organization (the data controller).
type Patient struct {
	ID             int64        `json:"id"`
	OrganizationID int64        `json:"organization"`
	Family         string       `json:"family"`
	Given          string       `json:"given"`
	Patronymic     string       `json:"patronymic,omitempty"`
	BirthDate      string       `json:"birthDate"` // YYYY-MM-DD
	Gender         Gender       `json:"gender"`
	SNILS          string       `json:"snils,omitempty"` // 11 digits, stored without separators
	ENP            string       `json:"enp,omitempty"`   // 16-digit unified polis number
	Identifiers    []Identifier `json:"identifier,omitempty"`
	Phone          string       `json:"phone,omitempty"`
	Address        string       `json:"address,omitempty"`
	Active         bool         `json:"active"`
	Version        int64        `json:"version"`
	Created        time.Time    `json:"created"`
	Updated        time.Time    `json:"updated"`
}

// Normalize trims text fields and reduces СНИЛС and ЕНП to their digits, so
// "112-233-445 95" and "11223344595" are the same person.
func (p *Patient) Normalize() {
	p.Family = collapseSpaces(p.Family)
	p.Given = collapseSpaces(p.Given)
	p.Patronymic = collapseSpaces(p.Patronymic)
	p.BirthDate = strings.TrimSpace(p.BirthDate)
	p.SNILS = digitsOnly(p.SNILS, "- ")
	p.ENP = digitsOnly(p.ENP, " ")
	p.Phone = strings.TrimSpace(p.Phone)
	p.Address = strings.TrimSpace(p.Address)
	if p.Gender == "" {
		p.Gender = GenderUnknown
	}
	for i := range p.Identifiers {
		p.Identifiers[i].System = strings.TrimSpace(p.Identifiers[i].System)
		p.Identifiers[i].Value = strings.TrimSpace(p.Identifiers[i].Value)
	}
}

// Validate checks a normalized patient and names the first bad field.
func (p *Patient) Validate() error {
	if p.Family == "" {
		return &FieldError{Field: "family", Message: "family name is required"}
	}
	if p.Given == "" {
		return &FieldError{Field: "given", Message: "given name is required"}
	}
	for field, v := range map[string]string{"family": p.Family, "given": p.Given, "patronymic": p.Patronymic} {
		if err := checkName(field, v); err != nil {
			return err
		}
	}
	if p.BirthDate == "" {
		return &FieldError{Field: "birthDate", Message: "birth date is required (YYYY-MM-DD)"}
	}
	if err := ValidateDate("birthDate", p.BirthDate); err != nil {
		return err
	}
	if bd, _ := time.Parse(time.DateOnly, p.BirthDate); bd.After(time.Now().Add(24 * time.Hour)) {
		return &FieldError{Field: "birthDate", Message: "birth date is in the future"}
	}
	switch p.Gender {
	case GenderMale, GenderFemale, GenderOther, GenderUnknown:
	default:
		return &FieldError{Field: "gender", Message: `gender must be one of "male", "female", "other", "unknown"`}
	}
	if p.SNILS != "" {
		if err := ValidateSNILS(p.SNILS); err != nil {
			return &FieldError{Field: "snils", Message: err.Error()}
		}
	}
	if p.ENP != "" {
		if err := ValidateENP(p.ENP); err != nil {
			return &FieldError{Field: "enp", Message: err.Error()}
		}
	}
	seen := map[Identifier]bool{}
	for i, id := range p.Identifiers {
		field := "identifier[" + itoa(i) + "]"
		if id.System == "" {
			return &FieldError{Field: field + ".system", Message: "identifier system (a URI) is required"}
		}
		if id.Value == "" {
			return &FieldError{Field: field + ".value", Message: "identifier value is required"}
		}
		if len(id.System) > 256 || len(id.Value) > 128 {
			return &FieldError{Field: field, Message: "identifier is too long"}
		}
		if id.System == SystemSNILS || id.System == SystemENP {
			return &FieldError{Field: field + ".system", Message: "use the snils/enp fields for СНИЛС and ЕНП"}
		}
		if seen[id] {
			return &FieldError{Field: field, Message: "identifier repeated"}
		}
		seen[id] = true
	}
	if len(p.Phone) > 64 {
		return &FieldError{Field: "phone", Message: "phone is too long (64 characters at most)"}
	}
	if len(p.Address) > 1024 {
		return &FieldError{Field: "address", Message: "address is too long (1024 bytes at most)"}
	}
	return nil
}

// AllIdentifiers returns the patient's identifiers including СНИЛС and ЕНП,
// each with its system, as they are indexed for matching.
func (p *Patient) AllIdentifiers() []Identifier {
	ids := make([]Identifier, 0, len(p.Identifiers)+2)
	if p.SNILS != "" {
		ids = append(ids, Identifier{System: SystemSNILS, Value: p.SNILS})
	}
	if p.ENP != "" {
		ids = append(ids, Identifier{System: SystemENP, Value: p.ENP})
	}
	return append(ids, p.Identifiers...)
}

// NameKey is the folded form of a full name used for case-insensitive prefix
// search: lower case, ё as е, single spaces. SQLite's lower() folds ASCII only,
// so the key is computed here for both stores.
func NameKey(family, given, patronymic string) string {
	s := collapseSpaces(family + " " + given + " " + patronymic)
	return FoldName(s)
}

// FoldName lower-cases a name and folds ё to е, as Russian registries do.
func FoldName(s string) string {
	s = strings.ToLower(collapseSpaces(s))
	return strings.ReplaceAll(s, "ё", "е")
}

func checkName(field, v string) error {
	if len(v) > 200 {
		return &FieldError{Field: field, Message: "name is too long (200 bytes at most)"}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return &FieldError{Field: field, Message: "name contains a control character"}
		}
		if !(unicode.IsLetter(r) || r == ' ' || r == '-' || r == '\'' || r == '.' || r == '’') {
			return &FieldError{Field: field, Message: "name may contain letters, spaces, hyphens, apostrophes and dots only"}
		}
	}
	return nil
}

func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// digitsOnly drops the separators people type; anything else is kept so the
// validator can reject it.
func digitsOnly(s, seps string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(seps, r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}
