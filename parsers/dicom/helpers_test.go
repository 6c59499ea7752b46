package dicom

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/parsers/dicom/dcmtktest"
)

// needTool finds a dcmtk tool (dcmtktest.Tool).
var needTool = dcmtktest.Tool

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(needTool(t, name), args...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dump2dcm converts testdata/<name>.dump into a DICOM file in a temporary
// directory, with extra dump2dcm options (e.g. "+ti" for implicit VR).
func dump2dcm(t testing.TB, name string, opts ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".dump")+".dcm")
	args := append(append([]string{"-q"}, opts...), filepath.Join("testdata", name), out)
	run(t, "dump2dcm", args...)
	return out
}

// dcmdumpValue returns the text dcmdump prints between [ ] for tag in
// file (converted to UTF-8 with +U8).
func dcmdumpValue(t testing.TB, file, tag string, opts ...string) string {
	t.Helper()
	out := run(t, "dcmdump", append(append([]string{"+U8", "+P", tag}, opts...), file)...)
	last := tag[strings.LastIndexByte(tag, '.')+1:]
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(strings.ToLower(line), "("+strings.ToLower(last)+")") {
			continue
		}
		i := strings.IndexByte(line, '[')
		j := strings.LastIndex(line, "] ")
		if j < 0 && strings.HasSuffix(line, "]") {
			j = len(line) - 1
		}
		if i < 0 || j < i {
			return ""
		}
		return line[i+1 : j]
	}
	return ""
}
