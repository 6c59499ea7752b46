// Package dcmtktest finds Debian's dcmtk tools (storescu, findscu, storescp,
// dcmdump, …) for the tests that use them as real DICOM peers.
package dcmtktest

import (
	"os"
	"os/exec"
	"testing"
)

// Tool returns the path of a dcmtk tool. Without it the test is skipped,
// unless MEDGATE_REQUIRE_DCMTK=1 (set by .ci/run) makes absence a failure.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MEDGATE_REQUIRE_DCMTK") == "1" {
			t.Fatalf("%s not found and MEDGATE_REQUIRE_DCMTK=1 (apt-get install dcmtk)", name)
		}
		t.Skipf("%s not found (apt-get install dcmtk)", name)
	}
	return path
}
