package mllp

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/listeners/mllp/npmtest"
)

// TestNPMClient drives the server with simple-hl7's MLLP client (npm).
// It needs node and `npm ci --prefix listeners/mllp/testdata/npm-client`;
// without them it skips, unless MEDGATE_REQUIRE_NPM_MLLP is set, when it
// fails (see npmtest). cmd/medgate's TestNPMClientResultsAttached drives
// medgate itself with it.
func TestNPMClient(t *testing.T) {
	npmtest.Require(t)
	rec := &recorder{fn: func(env *listeners.Envelope) error {
		if env.Key == "NPM-INVALID" {
			return &listeners.InvalidError{Stage: "map", Reason: "OBX-3 code WBC not mapped"}
		}
		return nil
	}}
	ts := startServer(t, &Server{Handler: rec})
	_, port, _ := strings.Cut(ts.addr, ":")
	want := []npmtest.Ack{
		{Sent: "NPM1", Code: "AA", Msa2: "NPM1", AckType: "ACK^R01"},
		{Sent: "NPM2", Code: "AA", Msa2: "NPM2", AckType: "ACK^A01"},
		{Sent: "NPM-INVALID", Code: "AE", Msa2: "NPM-INVALID", AckType: "ACK^R01", Err: true},
		{Sent: "NPM3", Code: "AA", Msa2: "NPM3", AckType: "ACK^R01"},
	}
	got := npmtest.Send(t, port) // client.js's own four messages
	for i := range got {
		got[i].AckType = strings.TrimSuffix(got[i].AckType, "^ACK") // MSH-9.3 from v2.3.1
	}
	if len(got) != len(want) {
		t.Fatalf("got %d ACKs, want %d: %+v", len(got), len(want), got)
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
