// Package npmtest drives an MLLP port with a third-party client from the
// npm registry, simple-hl7's TcpClient (listeners/mllp/testdata/npm-client),
// for the interop tests of listeners/mllp and cmd/medgate. It is for tests
// only.
//
// The client needs node and `npm ci --prefix
// listeners/mllp/testdata/npm-client`; without them a test using it skips,
// unless MEDGATE_REQUIRE_NPM_MLLP is set, when it fails.
package npmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// RequireEnv, when set, makes a missing client a failure instead of a skip.
const RequireEnv = "MEDGATE_REQUIRE_NPM_MLLP"

// Ack is one acknowledgment the client heard, as client.js prints it.
type Ack struct {
	Sent    string // the message's MSH-10
	Code    string // MSA-1
	Msa2    string // MSA-2
	AckType string // the ACK's MSH-9 as sent (ACK^R01, or ACK^R01^ACK from v2.3.1)
	Err     bool   // the ACK has an ERR segment
}

// Dir is the directory of client.js and its node_modules.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "npm-client")
}

// Require returns the path of node when it and simple-hl7 are installed;
// otherwise it skips t, or fails it when RequireEnv is set.
func Require(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(Dir(), "node_modules", "simple-hl7", "package.json"))
	}
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("npm MLLP client required but unavailable: %v", err)
		}
		t.Skipf("npm MLLP client unavailable (%v); run npm ci --prefix listeners/mllp/testdata/npm-client", err)
	}
	return node
}

// Send connects the client to 127.0.0.1:port and sends msgs one after
// another on one connection, each after the previous one's ACK, and
// returns the ACKs in order. With no msgs it sends client.js's own four
// (NPM1, NPM2, NPM-INVALID, NPM3 from NPMCLIENT). It skips or fails t as
// Require does when the client is missing, and fails t when the client
// does (an error, or no ACK within its 10 s).
func Send(t testing.TB, port string, msgs ...string) []Ack {
	t.Helper()
	node := Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"client.js", port}
	var stdin []byte
	if len(msgs) > 0 {
		b, err := json.Marshal(msgs)
		if err != nil {
			t.Fatal(err)
		}
		args, stdin = append(args, "-"), b
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = Dir()
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\n%s", err, stderr.String())
	}
	var acks []Ack
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var a Ack
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		acks = append(acks, a)
	}
	return acks
}
