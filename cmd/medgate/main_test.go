package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mis/api/apitest"
	"github.com/medgate/medgate/mis/store/postgres/pgtest"
	"github.com/medgate/medgate/parsers/hl7"
)

// These tests build and run the real binary, as an operator would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medgate-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "medgate")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build medgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd    *exec.Cmd
	addr   string
	mllp   string
	dicom  string
	banner string
	stderr *bytes.Buffer
	done   chan error
}

var (
	addrRE  = regexp.MustCompile(`web/API:\s+http://(\S+)`)
	mllpRE  = regexp.MustCompile(`HL7 MLLP:\s+(\S+)`)
	dicomRE = regexp.MustCompile(`DICOM:\s+(\S+)`)
)

// start runs medgate in dir and waits for its banner.
func start(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"-http", "127.0.0.1:0", "-mllp-port", "0", "-dicom-port", "0"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	var banner strings.Builder
	for p.addr == "" || !strings.Contains(banner.String(), "Ctrl+C") {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("medgate exited before its banner:\n%s\nstderr:\n%s", banner.String(), p.stderr)
			}
			banner.WriteString(line + "\n")
			if m := addrRE.FindStringSubmatch(line); m != nil {
				p.addr = m[1]
			}
			if m := mllpRE.FindStringSubmatch(line); m != nil {
				p.mllp = m[1]
			}
			if m := dicomRE.FindStringSubmatch(line); m != nil {
				p.dicom = m[1]
			}
		case <-deadline:
			t.Fatalf("no banner in 30s:\n%s\nstderr:\n%s", banner.String(), p.stderr)
		}
	}
	p.banner = banner.String()
	go func() {
		for range lines {
		}
		p.done <- cmd.Wait()
	}()
	return p
}

// stop sends SIGTERM and expects a clean exit.
// admin logs in as the admin startConfig set up and returns the token and
// the REST API's base URL.
func (p *proc) admin(t *testing.T) (token, base string) {
	t.Helper()
	return login(t, p, "correct-horse-42"), "http://" + p.addr + "/api/v1"
}

// startConfig runs medgate in dir with doc as its config file and the
// admin password "correct-horse-42".
func startConfig(t *testing.T, dir, doc string) *proc {
	t.Helper()
	cfg := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return start(t, dir, []string{"MEDGATE_ADMIN_PASSWORD=correct-horse-42"}, "-config", cfg)
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("medgate exited with %v; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("medgate did not stop within 20s of SIGTERM; stderr:\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "stopped cleanly") {
		t.Errorf("no clean-stop log line; stderr:\n%s", p.stderr)
	}
}

var call = apitest.Call

func login(t *testing.T, p *proc, password string) string {
	t.Helper()
	code, out := call(t, "POST", "http://"+p.addr+"/api/v1/login", "", map[string]string{"login": "admin", "password": password})
	if code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}
	return out["token"].(string)
}

func stores(t *testing.T) map[string][]string {
	m := map[string][]string{"sqlite": nil}
	if os.Getenv("MEDGATE_TEST_POSTGRES_URL") != "" || os.Getenv("MEDGATE_REQUIRE_POSTGRES") == "1" {
		m["postgres"] = []string{"-database", pgtest.URL(t)}
	}
	return m
}

func TestFirstRunRestartAndShutdown(t *testing.T) {
	for name, args := range stores(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			env := []string{"MEDGATE_ADMIN_PASSWORD=correct-horse-42"}
			p := start(t, dir, env, args...)
			if !strings.Contains(p.banner, `created organization`) || !strings.Contains(p.banner, "MEDGATE_ADMIN_PASSWORD") {
				t.Errorf("first start banner:\n%s", p.banner)
			}
			if strings.Contains(p.banner, "correct-horse-42") {
				t.Error("banner printed the password given in the environment")
			}
			if code, _ := call(t, "GET", "http://"+p.addr+"/healthz", "", nil); code != 200 {
				t.Fatalf("healthz: %d", code)
			}
			token := login(t, p, "correct-horse-42")
			code, pat := call(t, "POST", "http://"+p.addr+"/api/v1/patients", token, map[string]any{
				"family": "Семёнова", "given": "Анна", "patronymic": "Ильинична", "birthDate": "1990-05-17", "gender": "female",
				"snils": "112-233-445 95"})
			if code != 201 {
				t.Fatalf("create patient: %d %v", code, pat)
			}
			p.stop(t)
			if name == "sqlite" {
				// A clean close checkpoints the WAL into the database file.
				if fi, err := os.Stat(filepath.Join(dir, "medgate-data", "medgate.db-wal")); err == nil && fi.Size() > 0 {
					t.Errorf("WAL left with %d bytes after a clean stop", fi.Size())
				}
			}

			// Second start: no second organization or admin; data still there.
			p = start(t, dir, env, args...)
			if strings.Contains(p.banner, "created organization") {
				t.Errorf("second start repeated first-run setup:\n%s", p.banner)
			}
			token = login(t, p, "correct-horse-42")
			code, found := call(t, "GET", "http://"+p.addr+"/api/v1/patients?name=%D1%81%D0%B5%D0%BC%D0%B5%D0%BD", token, nil)
			if code != 200 || len(found["items"].([]any)) != 1 {
				t.Fatalf("search after restart: %d %v", code, found)
			}
			p.stop(t)
		})
	}
}

func TestGeneratedAdminPassword(t *testing.T) {
	p := start(t, t.TempDir(), []string{"MEDGATE_ADMIN_PASSWORD="})
	m := regexp.MustCompile(`admin password \(shown once, change it\): (\S+)`).FindStringSubmatch(p.banner)
	if m == nil {
		t.Fatalf("no generated password in banner:\n%s", p.banner)
	}
	login(t, p, m[1])
	if strings.Contains(p.stderr.String(), m[1]) {
		t.Error("the generated password reached the log")
	}
	p.stop(t)
}

// SIGTERM while a request is mid-body: the request completes, then medgate exits.
func TestShutdownFinishesInFlightRequest(t *testing.T) {
	p := start(t, t.TempDir(), []string{"MEDGATE_ADMIN_PASSWORD=correct-horse-42"})
	token := login(t, p, "correct-horse-42")
	body := `{"family":"Кузнецов","given":"Олег","birthDate":"1975-11-30","gender":"male"}`
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/patients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		token, len(body), body[:10])
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-p.done:
		t.Fatalf("exited (%v) with a request in flight", err)
	default:
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	if resp.StatusCode != 201 {
		t.Fatalf("in-flight create: %d", resp.StatusCode)
	}
	conn.Close()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit after the in-flight request finished")
	}
}

func TestBadConfigNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfg, []byte("http:\n  addr: 127.0.0.1:8080\n  adr: oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-config", cfg)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("want exit 2, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "medgate.yaml:3") {
		t.Fatalf("error does not name line 3:\n%s", out)
	}
}

func TestDevicesFromConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	doc := "devices:\n" +
		"  - name: ct-1\n    protocol: dicom\n    ae_title: CT1\n    addresses: [10.0.5.21]\n" +
		"  - name: xn-550\n    protocol: astm\n    sender: XN-550\n    transport: {serial: /dev/ttyUSB0, baud: 9600, format: 8N1}\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MEDGATE_ADMIN_PASSWORD=correct-horse-42"}
	for run := 0; run < 2; run++ { // the second start updates, never duplicates
		p := start(t, dir, env, "-config", cfg)
		token := login(t, p, "correct-horse-42")
		code, out := call(t, "GET", "http://"+p.addr+"/api/v1/devices", token, nil)
		if items, _ := out["items"].([]any); code != 200 || len(items) != 2 {
			t.Fatalf("start %d: devices %d %v", run, code, out)
		}
		p.stop(t)
	}
}

// The lab flow end to end through the binary: a registrar's order gives a
// barcode; the analyzer sends its ORU^R01 over MLLP; medgate answers AA
// (MSA-2 = the control ID) once the result is stored, and the doctor's
// chart shows it. An unregistered analyzer gets AR and nothing is stored.
func TestHL7OverMLLP(t *testing.T) {
	dir := t.TempDir()
	doc := "devices:\n  - name: bc-5380\n    protocol: hl7\n    sending_application: BC-5380\n    encoding: windows-1251\n    code_map: cbc\n"
	p := startConfig(t, dir, doc)
	defer p.stop(t)
	token, base := p.admin(t)
	barcode, pat := labOrder(t, base, token)

	send := func(app, control string) *hl7.Message {
		t.Helper()
		oru := hl7.BuildORU(hl7.ORU{
			Header:  hl7.Header{SendingApplication: hl7.HD{NamespaceID: app}, ControlID: control, Encoding: "windows-1251", Time: time.Now()},
			Patient: hl7.Patient{Names: []hl7.XPN{{Family: "Иванов", Given: "Пётр"}}},
			Reports: []hl7.Report{{FillerOrderNumber: hl7.EI{ID: barcode}, Service: hl7.CWE{Code: "CBC"},
				Results: []hl7.Result{{Type: "NM", ID: hl7.CWE{Code: "HGB", Text: "Гемоглобин"}, Value: "141", Units: hl7.CWE{Code: "g/L"}}}}},
		})
		raw, err := oru.EncodeCharset("windows-1251")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", p.mllp)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		if err := mllp.NewWriter(conn).WriteMessage(raw); err != nil {
			t.Fatal(err)
		}
		frame, err := mllp.NewReader(conn).ReadMessage()
		if err != nil {
			t.Fatalf("no ACK: %v", err)
		}
		ack, err := hl7.Parse(frame, hl7.Options{})
		if err != nil {
			t.Fatalf("ACK does not parse: %v", err)
		}
		return ack
	}
	msa := func(ack *hl7.Message) (string, string) {
		s := ack.Segment("MSA")
		if s == nil {
			t.Fatal("ACK without MSA")
		}
		return s.Field(1).String(), s.Field(2).String()
	}
	if code, id := msa(send("BC-5380", "CTRL-0001")); code != "AA" || id != "CTRL-0001" {
		t.Fatalf("ACK %s for %s, want AA for CTRL-0001", code, id)
	}
	if code, _ := msa(send("UNKNOWN-ANALYZER", "CTRL-0002")); code != "AR" {
		t.Fatalf("unregistered analyzer got %s, want AR", code)
	}
	code, chart := call(t, "GET", base+"/patients/"+fmt.Sprint(pat["id"])+"/chart", token, nil)
	obs, _ := chart["observations"].([]any)
	if code != 200 || len(obs) != 1 {
		t.Fatalf("chart: %d, %d observations", code, len(obs))
	}
	if o := obs[0].(map[string]any); o["code"].(map[string]any)["code"] != "718-7" || o["valueQuantity"].(map[string]any)["value"] != 141.0 {
		t.Errorf("observation %v", o)
	}
	_, msgs := call(t, "GET", base+"/messages", token, nil)
	if items, _ := msgs["items"].([]any); len(items) != 1 {
		t.Errorf("%d stored messages, want 1 (the refused one is not stored)", len(items))
	}
}

// labOrder sets up flow 2's registrar side over the API: the analyzer's
// code map "cbc" (HGB → LOINC 718-7), a patient Иванов Пётр and a CBC
// order; it returns the order's specimen barcode and the patient.
func labOrder(t *testing.T, base, token string) (barcode string, patient map[string]any) {
	t.Helper()
	if code, out := call(t, "PUT", base+"/codemaps/cbc", token, map[string]any{"entries": []map[string]any{
		{"deviceCode": "HGB", "system": "http://loinc.org", "code": "718-7", "display": "Гемоглобин", "unit": "g/L"}}}); code != 200 {
		t.Fatalf("code map: %d %v", code, out)
	}
	code, pat := call(t, "POST", base+"/patients", token, map[string]any{"family": "Иванов", "given": "Пётр", "birthDate": "1980-01-02", "gender": "male"})
	if code != 201 {
		t.Fatalf("patient: %d %v", code, pat)
	}
	code, order := call(t, "POST", base+"/orders", token, map[string]any{"patient": pat["id"], "category": "lab", "code": []map[string]string{{"code": "CBC"}}})
	if code != 201 {
		t.Fatalf("order: %d %v", code, order)
	}
	barcode = order["specimen"].([]any)[0].(map[string]any)["barcode"].(string)
	return barcode, pat
}
