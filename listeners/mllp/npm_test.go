package mllp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
)

// TestNPMClient drives the server with simple-hl7's MLLP client (npm).
// It needs node and `npm ci --prefix listeners/mllp/testdata/npm-client`;
// without them it skips, unless MEDGATE_REQUIRE_NPM_MLLP is set, when it
// fails.
func TestNPMClient(t *testing.T) {
	dir := filepath.Join("testdata", "npm-client")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "simple-hl7", "package.json"))
	}
	if err != nil {
		if os.Getenv("MEDGATE_REQUIRE_NPM_MLLP") != "" {
			t.Fatalf("npm MLLP client required but unavailable: %v", err)
		}
		t.Skipf("npm MLLP client unavailable (%v); run npm ci --prefix %s", err, dir)
	}
	rec := &recorder{fn: func(env *listeners.Envelope) error {
		if env.Key == "NPM-INVALID" {
			return &listeners.InvalidError{Stage: "map", Reason: "OBX-3 code WBC not mapped"}
		}
		return nil
	}}
	ts := startServer(t, &Server{Handler: rec})
	_, port, _ := strings.Cut(ts.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.js", port)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, stderr.String())
	}
	type result struct {
		Sent, Code, Msa2, AckType string
		Err                       bool
	}
	want := []result{
		{"NPM1", "AA", "NPM1", "ACK^R01", false},
		{"NPM2", "AA", "NPM2", "ACK^A01", false},
		{"NPM-INVALID", "AE", "NPM-INVALID", "ACK^R01", true},
		{"NPM3", "AA", "NPM3", "ACK^R01", false},
	}
	var got []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		r.AckType = strings.TrimSuffix(r.AckType, "^ACK") // MSH-9.3 from v2.3.1
		got = append(got, r)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ACKs, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ACK %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if rec.count() != len(want) {
		t.Errorf("handler saw %d messages, want %d", rec.count(), len(want))
	}
	for i, env := range rec.envs {
		if env.SendingApplication != "NPMCLIENT" || env.Key != want[i].Sent || !strings.HasPrefix(string(env.Raw), "MSH|") {
			t.Errorf("envelope %d: app %q key %q", i, env.SendingApplication, env.Key)
		}
	}
}
