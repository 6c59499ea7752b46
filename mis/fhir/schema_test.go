package fhir_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// validatorDir holds the npm package that validates against the official
// FHIR R4 JSON schema (installed by .ci/run: npm ci --prefix scripts/fhir-validate).
var validatorDir = filepath.Join("..", "..", "scripts", "fhir-validate")

// nodeValidator returns the node binary and validate.js, skipping the test
// when they are not installed unless MEDGATE_REQUIRE_NODE=1 says CI must
// have them.
func nodeValidator(t *testing.T) (node, script string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("MEDGATE_REQUIRE_NODE") == "1" {
			t.Fatalf("MEDGATE_REQUIRE_NODE=1 but %s", what)
		}
		t.Skipf("%s; run npm ci --prefix scripts/fhir-validate (set MEDGATE_REQUIRE_NODE=1 to fail instead)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(validatorDir, "node_modules", "@asymmetrik", "fhir-json-schema-validator")); err != nil {
		missing(validatorDir + "/node_modules is not installed")
	}
	return node, filepath.Join(validatorDir, "validate.js")
}

// TestResourcesValidateAgainstR4Schema validates one of every resource type
// the API returns, a searchset Bundle with match, include and outcome
// entries, an error OperationOutcome and the CapabilityStatement against
// the official FHIR R4 JSON schema.
func TestResourcesValidateAgainstR4Schema(t *testing.T) {
	node, script := nodeValidator(t)
	e := newEnv(t, dialects[0].Open(t))
	f := e.f
	dir := t.TempDir()
	var files []string
	save := func(name string, r *response, status int) {
		t.Helper()
		want(t, r, status)
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, r.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	save("Patient", e.get("/fhir/r4/Patient/"+id(f.Ivanov.ID), e.doctor), 200)
	save("ServiceRequest-imaging", e.get("/fhir/r4/ServiceRequest/"+id(f.ImagingOrder.ID), e.doctor), 200)
	save("ServiceRequest-lab", e.get("/fhir/r4/ServiceRequest/"+id(f.LabOrder.ID), e.doctor), 200)
	save("Specimen", e.get("/fhir/r4/Specimen/"+id(f.LabOrder.Specimens[0].ID), e.doctor), 200)
	for i, o := range append(f.LabObs, f.PetrovaObs...) {
		save("Observation-"+id(int64(i)), e.get("/fhir/r4/Observation/"+id(o.ID), e.doctor), 200)
	}
	hgb, _, _ := e.saveLocalCBC(t) // own code with LOINC beside: two codings
	save("Observation-loinc-beside", e.get("/fhir/r4/Observation/"+hgb, e.doctor), 200)
	save("DiagnosticReport", e.get("/fhir/r4/DiagnosticReport/"+id(f.LabReport.ID), e.doctor), 200)
	save("ImagingStudy", e.get("/fhir/r4/ImagingStudy/"+id(f.Study.ID), e.doctor), 200)
	save("Device", e.get("/fhir/r4/Device/"+id(f.Scanner.ID), e.it), 200)
	save("Device-astm", e.get("/fhir/r4/Device/"+id(f.Analyzer.ID), e.it), 200)
	audits := e.audits("fhir.patient.read")
	save("AuditEvent", e.get("/fhir/r4/AuditEvent/"+id(audits[0].ID), e.admin), 200)
	save("Bundle-include", e.get("/fhir/r4/DiagnosticReport?patient="+id(f.Ivanov.ID)+"&_include=DiagnosticReport:result&_count=1&unknown=1", e.doctor), 200)
	save("Bundle-audit", e.get("/fhir/r4/AuditEvent?_count=5", e.admin), 200)
	save("Bundle-empty", e.get("/fhir/r4/ImagingStudy?modality=MR", e.doctor), 200)
	save("OperationOutcome-404", e.get("/fhir/r4/Patient/999999", e.doctor), 404)
	save("OperationOutcome-400", e.get("/fhir/r4/Observation?date=bad", e.doctor), 400)
	save("CapabilityStatement", e.get("/fhir/r4/metadata", ""), 200)

	out, err := exec.Command(node, append([]string{script}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node validate.js: %v\n%s", err, out)
	}
	for _, p := range files {
		if !strings.Contains(string(out), "ok "+p) {
			t.Errorf("validator did not report %s as valid:\n%s", p, out)
		}
	}
	// The resource types covered.
	var types []string
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.LastIndex(line, "("); i >= 0 && !slices.Contains(types, line[i+1:len(line)-1]) {
			types = append(types, line[i+1:len(line)-1])
		}
	}
	slices.Sort(types)
	wantTypes := []string{"AuditEvent", "Bundle", "CapabilityStatement", "Device", "DiagnosticReport", "ImagingStudy",
		"Observation", "OperationOutcome", "Patient", "ServiceRequest", "Specimen"}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("validated types %v, want %v", types, wantTypes)
	}

	// A control: the validator does reject what the schema forbids.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"resourceType":"Patient","gender":"m","birthDate":"17.05.1980"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(node, script, bad).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "gender") {
		t.Errorf("an invalid Patient: %v\n%s", err, out)
	}
}
