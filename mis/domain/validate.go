package domain

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrNotFound is a record that does not exist or is not visible to the
// caller. The store returns it (as store.ErrNotFound) and the mapping layer
// branches on it without depending on the store.
var ErrNotFound = errors.New("not found")

// FieldError is a validation failure that names the offending field, so the
// API can answer with it and a form can highlight it.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidateSNILS checks an 11-digit СНИЛС (no separators) and its check
// number: digits 1-9 weighted 9..1, the sum taken mod 101, with 100 and 101
// written as 00. Numbers up to 001-001-998 predate the check number.
func ValidateSNILS(s string) error {
	if len(s) != 11 || !allDigits(s) {
		return errors.New("СНИЛС must have 11 digits (e.g. 112-233-445 95)")
	}
	n, _ := strconv.Atoi(s[:9])
	if n <= 1001998 {
		return nil
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(s[i]-'0') * (9 - i)
	}
	check := sum % 101
	if check == 100 {
		check = 0
	}
	if want := fmt.Sprintf("%02d", check); s[9:] != want {
		return fmt.Errorf("СНИЛС check number is %s, expected %s", s[9:], want)
	}
	return nil
}

// FormatSNILS writes an 11-digit СНИЛС as XXX-XXX-XXX YY.
func FormatSNILS(s string) string {
	if len(s) != 11 {
		return s
	}
	return s[0:3] + "-" + s[3:6] + "-" + s[6:9] + " " + s[9:]
}

// ValidateENP checks a unified polis number (ЕНП): exactly 16 digits.
func ValidateENP(s string) error {
	if len(s) != 16 || !allDigits(s) {
		return errors.New("ЕНП polis number must have exactly 16 digits")
	}
	return nil
}

// ValidateDate checks a YYYY-MM-DD calendar date.
func ValidateDate(field, s string) error {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.Year() < 1850 {
		return &FieldError{Field: field, Message: fmt.Sprintf("%q is not a date in YYYY-MM-DD form", s)}
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
