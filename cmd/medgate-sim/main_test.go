package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	sim "github.com/medgate/medgate/simulators/hl7"
)

// The end-to-end tests build medgate and medgate-sim and run them as an
// operator would.

var simBin, medgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medgate-sim-e2e")
	if err != nil {
		panic(err)
	}
	simBin, medgateBin = filepath.Join(dir, "medgate-sim"), filepath.Join(dir, "medgate")
	for _, b := range [][2]string{{simBin, "."}, {medgateBin, "../medgate"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[1], err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	httpRE  = regexp.MustCompile(`web/API:\s+http://(\S+)`)
	mllpRE  = regexp.MustCompile(`HL7 MLLP:\s+(\S+)`)
	dicomRE = regexp.MustCompile(`DICOM:\s+(\S+)`)
)

// medgateAddrs is where a running medgate listens.
type medgateAddrs struct{ http, mllp, dicom string }

// runMedgate runs medgate in a temp data dir, every listener on a free
// port, with cfgDoc as its config file, and returns where it listens once
// its banner is out. It gets SIGTERM when the test ends.
func runMedgate(t *testing.T, cfgDoc string) medgateAddrs {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfg, []byte(cfgDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(medgateBin, "-http", "127.0.0.1:0", "-mllp-port", "0", "-dicom-port", "0", "-config", cfg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MEDGATE_ADMIN_PASSWORD=correct-horse-42")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan medgateAddrs, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var a medgateAddrs
		for sc.Scan() {
			line := sc.Text()
			for _, f := range []struct {
				re  *regexp.Regexp
				dst *string
			}{{httpRE, &a.http}, {mllpRE, &a.mllp}, {dicomRE, &a.dicom}} {
				if m := f.re.FindStringSubmatch(line); m != nil {
					*f.dst = m[1]
				}
			}
			if strings.Contains(line, "Ctrl+C") {
				ready <- a
			}
		}
		cmd.Wait()
		close(done)
	}()
	select {
	case a := <-ready:
		if a.http == "" || a.mllp == "" || a.dicom == "" {
			t.Fatalf("banner without an address: %+v", a)
		}
		return a
	case <-done:
		t.Fatalf("medgate exited before its banner; stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("no banner from medgate within 30s")
	}
	return medgateAddrs{}
}

// queryApp is MSH-3 of a second simulated analyzer, set to query orders.
const queryApp = "SIM-QRY"

// startMedgate runs medgate with the simulator provisioned as an HL7
// device (and as queryApp, a device set to query orders) and returns its
// MLLP address.
func startMedgate(t *testing.T) string {
	t.Helper()
	return runMedgate(t, "devices:\n  - name: sim\n    protocol: hl7\n    sending_application: "+sim.DefaultApp+"\n"+
		"  - name: sim-qry\n    protocol: hl7\n    sending_application: "+queryApp+"\n    query: true\n").mllp
}

// runSim runs medgate-sim's subcommand and returns its exit status, stdout
// and stderr.
func runSim(t *testing.T, subcommand string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, simBin, append([]string{subcommand}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

type jsonReport struct {
	Sent       int64            `json:"sent"`
	Acked      map[string]int64 `json:"acked"`
	Mismatched int64            `json:"mismatched"`
	Timeouts   int64            `json:"timeouts"`
	OK         bool             `json:"ok"`
	Latency    map[string]any   `json:"latency"`
	Interrupt  bool             `json:"interrupted"`
}

func decode(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return r
}

// 200 CBC/chemistry results over 4 connections to the real binary: every
// one acknowledged AA (stored) with its own control ID in MSA-2.
func TestSimAgainstMedgate(t *testing.T) {
	addr := startMedgate(t)
	code, out, errOut := runSim(t, "hl7", "-addr", addr, "-count", "200", "-conns", "4", "-charset", "windows-1251", "-expect", "AA", "-json")
	r := decode(t, out)
	if code != 0 || r.Sent != 200 || r.Acked["AA"] != 200 || len(r.Acked) != 1 || r.Mismatched != 0 || r.Timeouts != 0 || !r.OK {
		t.Fatalf("exit %d, report %+v\n%s%s", code, r, out, errOut)
	}
	if r.Latency["n"] != 200.0 {
		t.Errorf("latency %v", r.Latency)
	}

	// The text report and the other message kinds.
	for _, kind := range sim.Kinds {
		code, out, errOut := runSim(t, "hl7", "-addr", addr, "-msg", kind, "-count", "2", "-charset", "cp866")
		if code != 0 || !strings.Contains(out, "result:       OK") {
			t.Errorf("-msg %s: exit %d\n%s%s", kind, code, out, errOut)
		}
	}
	// Query mode against a device set to query orders: QRY^Q02 is answered
	// with QCK^Q02, QRY^R02 with one ORF^R04, each with MSA AA for the
	// query's MSH-10 (checked by the simulator) and "no data" for an
	// unknown sample.
	for trigger, want := range map[string][]string{"Q02": {"QCK^Q02", "QAK|SR|NF"}, "R02": {"ORF^R04^ORF_R04", "|NF"}} {
		code, out, errOut := runSim(t, "hl7", "-addr", addr, "-app", queryApp, "-msg", "qry", "-query-trigger", trigger,
			"-barcode", "NO-SUCH-SAMPLE", "-expect", "AA")
		if code != 0 || !strings.Contains(out, "result:       OK") || !strings.Contains(out, "QRY^"+trigger) {
			t.Errorf("-query-trigger %s: exit %d\n%s%s", trigger, code, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("-query-trigger %s: no %q in the answer\n%s", trigger, w, out)
			}
		}
	}
	// -expect makes a different answer fail: an unregistered sender gets AR.
	if code, out, _ := runSim(t, "hl7", "-addr", addr, "-app", "NOT-REGISTERED", "-expect", "AA"); code != 1 || !strings.Contains(out, "AR 1") {
		t.Errorf("unregistered sender: exit %d\n%s", code, out)
	}
}

// Every variant gets from medgate the ACK the simulator documents.
func TestVariantsAgainstMedgate(t *testing.T) {
	addr := startMedgate(t)
	for _, v := range sim.Variants[1:] {
		code, out, errOut := runSim(t, "hl7", "-addr", addr, "-variant", string(v.Name), "-count", "2", "-expect", v.Expect, "-timeout", "30s")
		if code != 0 {
			t.Errorf("-variant %s: exit %d, want %s\n%s%s", v.Name, code, v.Expect, out, errOut)
		}
	}
}

// SIGINT ends a long run early with a partial report.
func TestInterruptPrintsPartialReport(t *testing.T) {
	addr := startMedgate(t)
	cmd := exec.Command(simBin, "hl7", "-addr", addr, "-duration", "1m", "-rate", "20", "-json")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Fatalf("exit %v, want 130\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("did not stop on SIGINT")
	}
	if r := decode(t, out.String()); !r.Interrupt || r.Sent == 0 || r.Mismatched != 0 {
		t.Errorf("partial report %+v", r)
	}
}

func TestDispatch(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "hl7") {
		t.Errorf("no args: %d %s", code, errb.String())
	}
	if code := dispatch(context.Background(), []string{"ftp"}, &out, &errb); code != 2 {
		t.Errorf("unknown protocol: %d", code)
	}
	if code := dispatch(context.Background(), []string{"help"}, &out, &errb); code != 0 {
		t.Errorf("help: %d", code)
	}
	for _, args := range [][]string{{"hl7", "-variant", "nope"}, {"hl7", "-msg", "nope"}, {"hl7", "-charset", "koi8-r"}, {"hl7", "-bogus"}, {"hl7", "extra"}, {"hl7", "-msg", "qry", "-query-trigger", "Q03"}} {
		errb.Reset()
		if code := dispatch(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
}
