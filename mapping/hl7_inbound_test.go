package mapping

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

func TestPatientIdentifierRules(t *testing.T) {
	dev := &domain.Device{ID: 12, OrganizationID: 1, Name: "Sysmex XN"}
	hd := func(ns, uid, typ string) hl7.HD {
		return hl7.HD{NamespaceID: ns, UniversalID: uid, UniversalIDType: typ}
	}
	for _, c := range []struct {
		cx   hl7.CX
		want domain.Identifier
		ok   bool
	}{
		{hl7.CX{ID: "112-233-445 95", AssigningAuthority: hd("", "1.2.643.100.3", "ISO")}, domain.Identifier{System: domain.SystemSNILS, Value: "11223344595"}, true},
		{hl7.CX{ID: "11223344595", TypeCode: "СНИЛС"}, domain.Identifier{System: domain.SystemSNILS, Value: "11223344595"}, true},
		{hl7.CX{ID: "112-233-445 95", AssigningAuthority: hd("ПФР", "", ""), TypeCode: "SB"}, domain.Identifier{System: domain.SystemSNILS, Value: "11223344595"}, true},
		{hl7.CX{ID: "7700 0000 0000 0005", AssigningAuthority: hd("", "1.2.643.100.114", "ISO")}, domain.Identifier{System: domain.SystemENP, Value: "7700000000000005"}, true},
		{hl7.CX{ID: "7700000000000005", TypeCode: "OMS"}, domain.Identifier{System: domain.SystemENP, Value: "7700000000000005"}, true},
		{hl7.CX{ID: "42", AssigningAuthority: hd("MPI", "2.16.840.1.113883.19.3", "ISO")}, domain.Identifier{System: "urn:oid:2.16.840.1.113883.19.3", Value: "42"}, true},
		{hl7.CX{ID: "42", AssigningAuthority: hd("", "2.16.840.1", "")}, domain.Identifier{System: "urn:oid:2.16.840.1", Value: "42"}, true},
		{hl7.CX{ID: "42", AssigningAuthority: hd("", "https://his.example/mrn", "URI")}, domain.Identifier{System: "https://his.example/mrn", Value: "42"}, true},
		{hl7.CX{ID: "42", AssigningAuthority: hd("SIMULATOR MRN", "", ""), TypeCode: "MRN"}, domain.Identifier{System: "urn:medgate:hl7:authority:SIMULATOR%20MRN", Value: "42"}, true},
		{hl7.CX{ID: "42"}, domain.Identifier{System: "urn:medgate:device:12:mr", Value: "42"}, true},
		{hl7.CX{ID: "42", AssigningAuthority: hd("MEDGATE", "", ""), TypeCode: "PI"}, domain.Identifier{System: domain.SystemPatientID, Value: "42"}, true},
		{hl7.CX{ID: "42", TypeCode: "PI"}, domain.Identifier{System: "urn:medgate:device:12:pi", Value: "42"}, true},
		{hl7.CX{ID: " "}, domain.Identifier{}, false},
	} {
		got, ok := PatientIdentifier(c.cx, dev)
		if ok != c.ok || got != c.want {
			t.Errorf("%+v: got %+v %v, want %+v %v", c.cx, got, ok, c.want, c.ok)
		}
	}
	if _, ok := PatientIdentifier(hl7.CX{ID: "42"}, nil); ok {
		t.Error("an identifier without an authority taken without a device")
	}
}

func parse(t *testing.T, text string) *hl7.Message {
	t.Helper()
	m, err := hl7.Parse([]byte(strings.ReplaceAll(text, "\n", "\r")), hl7.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHL7PatientRules(t *testing.T) {
	dev := &domain.Device{ID: 3, OrganizationID: 1}
	w := world()
	w.patients = append(w.patients, domain.Patient{ID: 9, Family: "Смирнова", Given: "Анна", BirthDate: "1985-03-14",
		Gender: domain.GenderFemale, Phone: "1", Address: "Москва", SNILS: "11223344595",
		Identifiers: []domain.Identifier{{System: "urn:medgate:hl7:authority:HIS", Value: "501"}}})
	in := HL7Input{LabInput: LabInput{Lookup: w, Device: dev}}
	run := func(pid string) (*domain.IngestResult, error) {
		return HL7Inbound(context.Background(), in, parse(t, "MSH|^~\\&|HIS||||20260101||ADT^A08|1|P|2.5\n"+pid))
	}
	// An update carries only what the message has; empty fields stay empty.
	res, err := run("PID|1||501^^^HIS||Кузнецова")
	if err != nil || len(res.Patients) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if u := res.Patients[0]; u.ID != 9 || u.Patient.Family != "Кузнецова" || u.Patient.Given != "" || u.Patient.Gender != "" || u.Patient.Phone != "" {
		t.Errorf("upsert %+v", u)
	}
	// A different СНИЛС for the patient the MRN names: queued, not overwritten.
	res, err = run("PID|1||501^^^HIS~00100199800^^^^SNILS||Смирнова^Анна||19850314|F")
	if err != nil || len(res.Recon) != 1 || res.Recon[0].Item.Reason != domain.ReasonAmbiguousPatient || len(res.Patients) != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	// A new patient without a birth date cannot be registered: refused.
	_, err = run("PID|1||777^^^HIS||Петров^Пётр")
	var inv *listeners.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(inv.Reason, "PID-7") {
		t.Errorf("no birth date: %v", err)
	}
	// A year-only birth date is refused naming PID-7.
	if _, err = run("PID|1||777^^^HIS||Петров^Пётр||1980|M"); !errors.As(err, &inv) || !strings.Contains(inv.Reason, "PID-7") {
		t.Errorf("year only: %v", err)
	}
}
