package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/listeners/mllp/npmtest"
	"github.com/medgate/medgate/parsers/hl7"
)

// mllpConn is a plain MLLP client connection to medgate.
type mllpConn struct {
	net.Conn
	w *mllp.Writer
	r *mllp.Reader
}

func dialMLLP(t *testing.T, addr string) *mllpConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &mllpConn{Conn: c, w: mllp.NewWriter(c), r: mllp.NewReader(c)}
}

// exchange sends msg and reads the answer; err when the connection is
// closed (or times out) before one comes.
func (c *mllpConn) exchange(msg string, timeout time.Duration) (*hl7.Message, error) {
	c.SetDeadline(time.Now().Add(timeout))
	if err := c.w.WriteMessage([]byte(msg)); err != nil {
		return nil, err
	}
	frame, err := c.r.ReadMessage()
	if err != nil {
		return nil, err
	}
	return hl7.Parse(frame, hl7.Options{})
}

// msaOf is an ACK's MSA-1, MSA-2 and MSA-3.
func msaOf(ack *hl7.Message) (code, id, text string) {
	if s := ack.Segment("MSA"); s != nil {
		return s.Field(1).String(), s.Field(2).String(), s.Field(3).String()
	}
	return "", "", ""
}

// limitsORU is a small ORU^R01 from BC-5380, padded with an NTE of pad
// bytes.
func limitsORU(control string, pad int) string {
	return "MSH|^~\\&|BC-5380|LAB|MEDGATE|CLINIC|20261122093000||ORU^R01|" + control + "|P|2.3.1\r" +
		"PID|1||12345||Иванов^Пётр\rOBR|1||0000000018|CBC\rOBX|1|NM|HGB||141|g/L|||||F\r" +
		"NTE|1||" + strings.Repeat("x", pad) + "\r"
}

// TestMLLPLimitsFromConfig: mllp.max_message_size, mllp.max_conns and
// mllp.idle_timeout from the config file reach the listener. A frame over
// the configured 1024 bytes (far under the 16 MiB default) is answered AR
// and its connection closed; with max_conns 1 a second connection is closed
// unanswered; an idle connection is closed after idle_timeout (1s, not the
// default 5m).
func TestMLLPLimitsFromConfig(t *testing.T) {
	dir := t.TempDir()
	doc := "mllp:\n  idle_timeout: 1s\n  max_conns: 1\n  max_message_size: 1024\n" +
		"devices:\n  - name: bc-5380\n    protocol: hl7\n    sending_application: BC-5380\n"
	p := startConfig(t, dir, doc)
	defer p.stop(t)

	// Under the limit: acknowledged. Over it: AR, then the connection closes.
	c := dialMLLP(t, p.mllp)
	small, big := limitsORU("LIM-1", 100), limitsORU("LIM-2", 2000)
	if len(small) >= 1024 || len(big) <= 1024 {
		t.Fatalf("message sizes %d and %d do not straddle the limit", len(small), len(big))
	}
	ack, err := c.exchange(small, 10*time.Second)
	if err != nil {
		t.Fatalf("no ACK for a %d-byte message: %v", len(small), err)
	}
	if code, id, _ := msaOf(ack); code != "AA" || id != "LIM-1" {
		t.Fatalf("ACK %s for %s, want AA for LIM-1", code, id)
	}
	ack, err = c.exchange(big, 10*time.Second)
	if err != nil {
		t.Fatalf("no answer to a %d-byte message: %v", len(big), err)
	}
	if code, id, text := msaOf(ack); code != "AR" || id != "LIM-2" || !strings.Contains(text, "larger than 1024 bytes") {
		t.Fatalf("oversize message answered %s %q for %s, want AR \"message larger than 1024 bytes\" for LIM-2", code, text, id)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if f, err := c.r.ReadMessage(); err == nil {
		t.Fatalf("connection still open after the oversize message; read %q", f)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("connection not closed after the oversize message")
	}

	// max_conns 1: once one connection is served (the oversize one may
	// take a moment to be forgotten), a second is closed unanswered.
	var held *mllpConn
	for deadline := time.Now().Add(10 * time.Second); held == nil; {
		c := dialMLLP(t, p.mllp)
		if ack, err := c.exchange(limitsORU("LIM-3", 10), 5*time.Second); err == nil {
			if code, _, _ := msaOf(ack); code != "AA" {
				t.Fatalf("ACK %s, want AA", code)
			}
			held = c
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after the oversize one closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ack, err := dialMLLP(t, p.mllp).exchange(limitsORU("LIM-4", 10), 5*time.Second); err == nil {
		code, id, _ := msaOf(ack)
		t.Fatalf("a second connection was answered (%s for %s) with max_conns 1", code, id)
	}

	// idle_timeout 1s: the held connection, now idle, is closed.
	began := time.Now()
	held.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := held.r.ReadMessage(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("idle connection still open after 10s with idle_timeout 1s")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("idle connection closed after %v, want about 1s", took)
	}
}

// TestNPMClientResultsAttached is the lab flow driven by a third-party MLLP
// client from the npm registry (simple-hl7, see npmtest): the registrar's
// order gives a specimen barcode; the client sends the analyzer's ORU^R01
// for it and gets AA with MSA-2 = MSH-10; the patient's chart then holds the
// results, their device codes translated by the code map. The same client
// from an unregistered application gets AR and nothing is attached.
// Without node and the npm package it skips, unless
// MEDGATE_REQUIRE_NPM_MLLP is set (as .ci/run does), when it fails.
func TestNPMClientResultsAttached(t *testing.T) {
	npmtest.Require(t)
	dir := t.TempDir()
	doc := "devices:\n  - name: npm-lab\n    protocol: hl7\n    sending_application: NPM-LAB\n    code_map: cbc\n"
	p := startConfig(t, dir, doc)
	defer p.stop(t)
	token, base := p.admin(t)
	barcode, pat := labOrder(t, base, token)
	// labOrder maps HGB; map WBC too, so that two codes are translated.
	if code, out := call(t, "PUT", base+"/codemaps/cbc", token, map[string]any{"entries": []map[string]any{
		{"deviceCode": "HGB", "system": "http://loinc.org", "code": "718-7", "display": "Гемоглобин", "unit": "g/L"},
		{"deviceCode": "WBC", "system": "http://loinc.org", "code": "6690-2", "display": "Лейкоциты", "unit": "10*9/L"}}}); code != 200 {
		t.Fatalf("code map: %d %v", code, out)
	}

	oru := func(app, control string) string {
		return "MSH|^~\\&|" + app + "|LAB|MEDGATE|CLINIC|" + time.Now().Format("20060102150405") + "||ORU^R01^ORU_R01|" + control +
			"|P|2.5.1|||||||UNICODE UTF-8\r" +
			"PID|1||||Иванов^Пётр\r" +
			"OBR|1||" + barcode + "|CBC^Общий анализ крови\r" +
			"OBX|1|NM|HGB^Гемоглобин||141|g/L|130-160|N|||F\r" +
			"OBX|2|NM|WBC^Лейкоциты||5.2|10*9/L|4-9|N|||F\r"
	}
	_, port, err := net.SplitHostPort(p.mllp)
	if err != nil {
		t.Fatal(err)
	}
	acks := npmtest.Send(t, port, oru("NPM-LAB", "NPM-ORU-1"), oru("NPM-STRANGER", "NPM-ORU-2"))
	want := []npmtest.Ack{
		{Sent: "NPM-ORU-1", Code: "AA", Msa2: "NPM-ORU-1", AckType: "ACK^R01^ACK"},
		{Sent: "NPM-ORU-2", Code: "AR", Msa2: "NPM-ORU-2", AckType: "ACK^R01^ACK", Err: true},
	}
	if len(acks) != len(want) {
		t.Fatalf("got %d ACKs, want %d: %+v", len(acks), len(want), acks)
	}
	for i := range want {
		if acks[i] != want[i] {
			t.Errorf("ACK %d: got %+v, want %+v", i, acks[i], want[i])
		}
	}

	code, chart := call(t, "GET", base+"/patients/"+fmt.Sprint(pat["id"])+"/chart", token, nil)
	obs, _ := chart["observations"].([]any)
	if code != 200 || len(obs) != 2 {
		t.Fatalf("chart: %d, %d observations, want 2: %v", code, len(obs), chart)
	}
	// Each result under its LOINC code from the code map, with the device's
	// value, unit, flag and range, attached to the order's specimen.
	type result struct {
		display string
		value   float64
		unit    string
		rng     string
	}
	wantObs := map[string]result{
		"718-7":  {"Гемоглобин", 141, "g/L", "130-160"},
		"6690-2": {"Лейкоциты", 5.2, "10*9/L", "4-9"},
	}
	for _, o := range obs {
		o := o.(map[string]any)
		cc, _ := o["code"].(map[string]any)
		w, ok := wantObs[fmt.Sprint(cc["code"])]
		if !ok {
			t.Errorf("unexpected observation %v", o)
			continue
		}
		delete(wantObs, fmt.Sprint(cc["code"]))
		vq, _ := o["valueQuantity"].(map[string]any)
		rr, _ := o["referenceRange"].(map[string]any)
		if cc["system"] != "http://loinc.org" || cc["display"] != w.display || vq["value"] != w.value || vq["unit"] != w.unit ||
			o["interpretation"] != "N" || rr["text"] != w.rng || o["status"] != "final" || o["request"] == nil || o["specimen"] == nil {
			t.Errorf("observation %v, want %+v attached to the order", o, w)
		}
	}
	if len(wantObs) > 0 {
		t.Errorf("missing observations %v", wantObs)
	}
	_, msgs := call(t, "GET", base+"/messages", token, nil)
	if items, _ := msgs["items"].([]any); len(items) != 1 {
		t.Errorf("%d stored messages, want 1 (the refused one is not stored)", len(items))
	}
}
