package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/parsers/hl7"
)

var update = flag.Bool("update", false, "rewrite testdata/config/bad/*.err from the errors the code gives now")

const fixtures = "../../testdata/config"

// loadFixture decodes and validates one file the way Load does, naming it
// by its base name so that the .err files do not depend on the checkout.
func loadFixture(t *testing.T, path string) (Config, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := Default()
	if err := Decode(f, filepath.Base(path), &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtures, pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures %s (err %v)", pattern, err)
	}
	return files
}

func TestGoodFixtures(t *testing.T) {
	for _, path := range glob(t, "good/*.yaml") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := loadFixture(t, path); err != nil {
				t.Errorf("unexpected error:\n%v", err)
			}
		})
	}
}

func TestBadFixtures(t *testing.T) {
	for _, path := range glob(t, "bad/*.yaml") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := loadFixture(t, path)
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error() + "\n"
			errPath := strings.TrimSuffix(path, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(errPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(errPath)
			if rerr != nil {
				t.Fatalf("%v (run go test -update to create it)", rerr)
			}
			if got != string(want) {
				t.Errorf("error differs from %s\ngot:\n%swant:\n%s", filepath.Base(errPath), got, want)
			}
		})
	}
	// An .err without its .yaml is a fixture someone forgot to delete.
	for _, errPath := range glob(t, "bad/*.err") {
		if _, err := os.Stat(strings.TrimSuffix(errPath, ".err") + ".yaml"); err != nil {
			t.Errorf("%s has no .yaml", errPath)
		}
	}
}

// TestFullFixture keeps good/full.yaml complete: every setting must be in
// it, with a value other than the default, so a new setting is exercised.
func TestFullFixture(t *testing.T) {
	c, err := loadFixture(t, filepath.Join(fixtures, "good", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	for _, p := range leafPaths(reflect.TypeFor[Config](), "") {
		if _, ok := c.src[p]; !ok {
			t.Errorf("full.yaml does not set %s", p)
		} else if c.get(p) == def.get(p) {
			t.Errorf("full.yaml sets %s to its default %q", p, c.get(p))
		}
	}
	if c.HTTP.WriteTimeout != 2*time.Minute || c.DICOM.Enabled || c.Limits.MaxPatientsPerOrg != 0 {
		t.Errorf("decoded wrongly: %+v", c)
	}
	if got, want := c.src["http.addr"], "full.yaml:8"; got != want {
		t.Errorf("http.addr came from %q, want %q", got, want)
	}
	if got, want := c.SQLitePath(), "/var/lib/medgate/clinic.db"; got != want {
		t.Errorf("SQLitePath = %q, want %q", got, want)
	}
}

func TestCyrillicFixture(t *testing.T) {
	c, err := loadFixture(t, filepath.Join(fixtures, "good", "cyrillic-organization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ООО «Клиника доктора Ёлкина»"; c.Organization.Name != want {
		t.Errorf("name = %q, want %q", c.Organization.Name, want)
	}
	if c.Organization.INN != "7707083893" {
		t.Errorf("an unquoted INN must read as its digits, got %q", c.Organization.INN)
	}
}

func TestPostgresFixture(t *testing.T) {
	c, err := loadFixture(t, filepath.Join(fixtures, "good", "postgres.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsPostgres() || c.SQLitePath() != "" {
		t.Errorf("IsPostgres = %v, SQLitePath = %q", c.IsPostgres(), c.SQLitePath())
	}
}

func TestEmptyFixtureIsDefault(t *testing.T) {
	c, err := loadFixture(t, filepath.Join(fixtures, "good", "empty.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c.src = nil
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("empty file changed the defaults: %+v", c)
	}
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.IsPostgres() || c.SQLitePath() != filepath.Join("medgate-data", "medgate.db") {
		t.Errorf("default database: IsPostgres %v, SQLitePath %q", c.IsPostgres(), c.SQLitePath())
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct {
		url      string
		postgres bool
		path     string
		valid    bool
	}{
		{"", false, "d/medgate.db", true},
		{"sqlite:///var/lib/medgate.db", false, "/var/lib/medgate.db", true},
		{"sqlite://relative.db", false, "relative.db", true},
		{"sqlite://dir/relative.db", false, "dir/relative.db", true},
		{"SQLite:///x.db", false, "/x.db", true},
		{"./clinic.db", false, "./clinic.db", true},
		{"/abs/clinic.db", false, "/abs/clinic.db", true},
		{`C:\medgate\clinic.db`, false, `C:\medgate\clinic.db`, true},
		{"postgres://u:p@h:5432/db", true, "", true},
		{"postgresql://u@h/db?sslmode=disable", true, "", true},
		{"postgres:///db?host=/var/run/postgresql", true, "", true},
		{"POSTGRES://h/db", true, "", true},
		{"mysql://u@h/db", false, "", false},
		{"file:clinic.db", false, "", false},
		{"sqlite:clinic.db", false, "clinic.db", false},
		{"sqlite://", false, "", false},
		{"sqlite:///x.db?_pragma=foo", false, "/x.db?_pragma=foo", false},
		{"postgres://u:p@h:port/db", true, "", false},
		{"postgres:db", true, "", false},
		{"./data/", false, "./data/", false},
	}
	for _, tt := range tests {
		c := Default()
		c.Data = "d"
		c.Database.URL = tt.url
		if got := c.IsPostgres(); got != tt.postgres {
			t.Errorf("%q: IsPostgres = %v", tt.url, got)
		}
		if got := c.SQLitePath(); got != tt.path {
			t.Errorf("%q: SQLitePath = %q, want %q", tt.url, got, tt.path)
		}
		err := c.Validate()
		if (err == nil) != tt.valid {
			t.Errorf("%q: Validate = %v", tt.url, err)
		}
		if err != nil && strings.Contains(err.Error(), ":p@") {
			t.Errorf("%q: error shows the password: %v", tt.url, err)
		}
	}
}

func TestINNAndOGRN(t *testing.T) {
	for _, s := range []string{"7707083893", "500100732259"} {
		if !validINN(s) {
			t.Errorf("INN %s rejected", s)
		}
	}
	for _, s := range []string{"7707083894", "770708389", "77070838930", "500100732258", "77070838a3"} {
		if validINN(s) {
			t.Errorf("INN %s accepted", s)
		}
	}
	for _, s := range []string{"1027700132195", "304500116000157"} {
		if !validOGRN(s) {
			t.Errorf("OGRN %s rejected", s)
		}
	}
	for _, s := range []string{"1027700132196", "102770013219", "304500116000158"} {
		if validOGRN(s) {
			t.Errorf("OGRN %s accepted", s)
		}
	}
}

func TestValidateValues(t *testing.T) {
	tests := []struct {
		name  string
		set   func(*Config)
		valid bool
	}{
		{"bind ipv6 any", func(c *Config) { c.Bind = "::" }, true},
		{"bind host name", func(c *Config) { c.Bind = "gateway.clinic.local" }, true},
		{"bind bracketed", func(c *Config) { c.Bind = "[::]" }, false},
		{"http any host", func(c *Config) { c.HTTP.Addr = ":8080" }, true},
		{"http ipv6", func(c *Config) { c.HTTP.Addr = "[::1]:8080" }, true},
		{"http no port", func(c *Config) { c.HTTP.Addr = "127.0.0.1" }, false},
		{"http named port", func(c *Config) { c.HTTP.Addr = "127.0.0.1:http" }, false},
		{"http on listener port, other host", func(c *Config) { c.HTTP.Addr = "10.0.0.1:2575" }, true},
		{"http on listener port, any host", func(c *Config) { c.HTTP.Addr = ":2575" }, false},
		{"clash with disabled listener", func(c *Config) { c.ASTM.Port = 2575; c.ASTM.Enabled = false }, true},
		{"ae 16", func(c *Config) { c.DICOM.AETitle = "ABCDEFGHIJKLMNOP" }, true},
		{"ae 17", func(c *Config) { c.DICOM.AETitle = "ABCDEFGHIJKLMNOPQ" }, false},
		{"ae backslash", func(c *Config) { c.DICOM.AETitle = `A\B` }, false},
		{"ae control", func(c *Config) { c.DICOM.AETitle = "A\tB" }, false},
		{"ae spaces", func(c *Config) { c.DICOM.AETitle = "   " }, false},
		{"ae inner space", func(c *Config) { c.DICOM.AETitle = "CT SCANNER" }, true},
		{"uid zero component", func(c *Config) { c.DICOM.UIDRoot = "1.2.0.5" }, true},
		{"uid 2.25", func(c *Config) { c.DICOM.UIDRoot = "2.25" }, true},
		{"uid 40", func(c *Config) { c.DICOM.UIDRoot = "1.2." + strings.Repeat("3", 36) }, true},
		{"uid 41", func(c *Config) { c.DICOM.UIDRoot = "1.2." + strings.Repeat("3", 37) }, false},
		{"uid root arc", func(c *Config) { c.DICOM.UIDRoot = "3.2" }, false},
		{"uid second arc", func(c *Config) { c.DICOM.UIDRoot = "1.40" }, false},
		{"uid letters", func(c *Config) { c.DICOM.UIDRoot = "1.2.a" }, false},
		{"uid double dot", func(c *Config) { c.DICOM.UIDRoot = "1..2" }, false},
		{"org name blank", func(c *Config) { c.Organization.Name = " " }, false},
		{"org name newline", func(c *Config) { c.Organization.Name = "A\nB" }, false},
		{"limit zero", func(c *Config) { c.Limits.MaxPatientsPerOrg = 0 }, true},
		{"no lockout", func(c *Config) { c.Auth.LoginMaxFailures = 0 }, false},
		{"zero timeout", func(c *Config) { c.HTTP.ShutdownTimeout = 0 }, false},
		{"zero body", func(c *Config) { c.HTTP.MaxBodyBytes = 0 }, false},
		{"empty data", func(c *Config) { c.Data = "" }, false},
		{"json logs", func(c *Config) { c.Log.Format = "json" }, true},
	}
	for _, tt := range tests {
		c := Default()
		tt.set(&c)
		if err := c.Validate(); (err == nil) != tt.valid {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
}

func TestDecodeOverlaysAndKeepsConfigOnError(t *testing.T) {
	c := Default()
	c.Bind = "10.0.0.1"
	if err := Decode(strings.NewReader("log:\n  level: debug\n"), "a.yaml", &c); err != nil {
		t.Fatal(err)
	}
	if c.Bind != "10.0.0.1" || c.Log.Level != "debug" || c.Log.Format != "text" {
		t.Errorf("Decode did not overlay: %+v", c)
	}
	before := c
	err := Decode(strings.NewReader("bind: 0.0.0.0\nmllp:\n  port: x\n"), "b.yaml", &c)
	if err == nil {
		t.Fatal("no error")
	}
	if !reflect.DeepEqual(c, before) {
		t.Errorf("a failed Decode changed the config: %+v", c)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Where != "b.yaml:3" || ce.Setting != "mllp.port" {
		t.Errorf("error %#v", ce)
	}
}

// env is a fake environment for Load.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "medgate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, `
data: /file/data
bind: 10.0.0.1
http:
  addr: 10.0.0.1:8000
log:
  level: warn
dicom:
  ae_title: FILE_AE
limits:
  max_patients_per_org: 10
`)
	c, err := Load(
		[]string{"-config", file, "-http", "127.0.0.1:9000", "-log-level", "error"},
		env("MEDGATE_BIND", "0.0.0.0", "MEDGATE_HTTP", "127.0.0.1:8500", "MEDGATE_LOG_LEVEL", "debug",
			"MEDGATE_MAX_PATIENTS", "50", "MEDGATE_AE_TITLE", "", "MEDGATE_UID_ROOT", "1.2.643.2"),
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want, why string }{
		{c.Data, "/file/data", "file over default"},
		{c.Bind, "0.0.0.0", "env over file"},
		{c.HTTP.Addr, "127.0.0.1:9000", "flag over env and file"},
		{c.Log.Level, "error", "flag over env and file"},
		{c.DICOM.AETitle, "FILE_AE", "empty env ignored"},
		{c.DICOM.UIDRoot, "1.2.643.2", "env over default"},
		{c.get("limits.max_patients_per_org"), "50", "env over file"},
		{c.Log.Format, "text", "default"},
		{c.src["bind"], "environment MEDGATE_BIND", "origin of env value"},
		{c.src["http.addr"], "flag -http", "origin of flag value"},
		{c.src["data"], file + ":2", "origin of file value"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %q, want %q", ck.why, ck.got, ck.want)
		}
	}
}

func TestLoadConfigFileChoice(t *testing.T) {
	fromEnv := writeFile(t, "data: /from/env\n")
	fromFlag := writeFile(t, "data: /from/flag\n")
	tests := []struct {
		args []string
		env  func(string) string
		want string
	}{
		{nil, env("MEDGATE_CONFIG", fromEnv), "/from/env"},
		{[]string{"-config", fromFlag}, env("MEDGATE_CONFIG", fromEnv), "/from/flag"},
		{[]string{"-config", ""}, env("MEDGATE_CONFIG", fromEnv), "./medgate-data"},
		{nil, env("MEDGATE_CONFIG", ""), "./medgate-data"},
		{nil, nil, "./medgate-data"},
		{[]string{"-data", "/flag"}, env("MEDGATE_CONFIG", fromEnv, "MEDGATE_DATA", "/env"), "/flag"},
	}
	for _, tt := range tests {
		c, err := Load(tt.args, tt.env)
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
		} else if c.Data != tt.want {
			t.Errorf("%v: data = %q, want %q", tt.args, c.Data, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	bad := writeFile(t, "dicom:\n  port: 70000\n")
	tests := []struct {
		args []string
		env  func(string) string
		want string
	}{
		{nil, env("MEDGATE_MAX_PATIENTS", "abc"),
			`environment MEDGATE_MAX_PATIENTS: limits.max_patients_per_org must be a whole number, got "abc"`},
		{nil, env("MEDGATE_MAX_PATIENTS", "-5"),
			`environment MEDGATE_MAX_PATIENTS: limits.max_patients_per_org must be 0 (unlimited) or more, got -5`},
		{nil, env("MEDGATE_BIND", "0.0.0.0:2575"),
			`environment MEDGATE_BIND: bind is a host without a port (the ports are mllp.port, dicom.port and astm.port), got "0.0.0.0:2575"`},
		{[]string{"-log-level", "trace"}, env("MEDGATE_LOG_LEVEL", "debug"),
			`flag -log-level: log.level must be one of debug, info, warn, error; got "trace"`},
		{[]string{"-database", "mysql://x"}, nil,
			`flag -database: database.url scheme "mysql" is not supported (use sqlite://, postgres://, postgresql:// or a plain file path)`},
		{[]string{"-config", bad}, nil, bad + `:2: dicom.port must be between 1 and 65535, got 70000`},
		{nil, env("MEDGATE_CONFIG", "/nonexistent/medgate.yaml"),
			`environment MEDGATE_CONFIG: config file: open /nonexistent/medgate.yaml: no such file or directory`},
		{[]string{"-htp", ":80"}, nil, `flag provided but not defined: -htp (medgate -h lists the flags)`},
		{[]string{"serve"}, nil, `unexpected argument "serve": medgate takes flags only (medgate -h lists them)`},
	}
	for _, tt := range tests {
		_, err := Load(tt.args, tt.env)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v:\n got %v\nwant %s", tt.args, err, tt.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var buf bytes.Buffer
		_, err := load([]string{arg}, nil, &buf)
		if err != flag.ErrHelp {
			t.Errorf("%s: err = %v, want flag.ErrHelp itself", arg, err)
		}
		out := buf.String()
		fs, _ := newFlagSet()
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(out, "  -"+f.Name+" ") {
				t.Errorf("%s: usage lacks -%s:\n%s", arg, f.Name, out)
			}
		})
		for _, o := range overrides {
			if !strings.Contains(out, o.env) {
				t.Errorf("%s: usage lacks %s", arg, o.env)
			}
		}
	}
	// Load itself prints to stderr; keep that out of the test output.
	stderr := os.Stderr
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stderr = devnull
	_, err = Load([]string{"-h"}, nil)
	os.Stderr = stderr
	if err != flag.ErrHelp {
		t.Errorf("Load -h: %v", err)
	}
}

func TestOverridesTable(t *testing.T) {
	leaves := map[string]bool{}
	for _, p := range leafPaths(reflect.TypeFor[Config](), "") {
		leaves[p] = true
	}
	seen := map[string]bool{}
	for _, o := range overrides {
		if !leaves[o.path] {
			t.Errorf("override %s names no setting", o.path)
		}
		for _, k := range []string{o.env, "-" + o.flag} {
			if k != "-" && seen[k] {
				t.Errorf("%s used twice", k)
			}
			seen[k] = true
		}
	}
}

// leafPaths lists every leaf setting path under struct t, in order. Lists
// (devices:) are left out: their items are checked by the device fixtures
// (TestDeviceFixtureEveryKey), and no environment variable or flag sets them.
func leafPaths(t reflect.Type, prefix string) []string {
	var paths []string
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || yamlName(f) == "" || f.Type.Kind() == reflect.Slice {
			continue
		}
		p := join(prefix, yamlName(f))
		if isSection(f.Type) {
			paths = append(paths, leafPaths(f.Type, p)...)
		} else {
			paths = append(paths, p)
		}
	}
	return paths
}

// TestMLLPLimits: mllp.idle_timeout, mllp.max_conns and
// mllp.max_message_size default to the MLLP server's own defaults, are read
// from the file with their lines, and are checked strictly positive (the
// message size at most the HL7 parser's limit), each error naming the
// setting and its line.
func TestMLLPLimits(t *testing.T) {
	def := Default().MLLP
	if def.IdleTimeout != mllp.DefaultIdleTimeout || def.MaxConns != mllp.DefaultMaxConns || def.MaxMessageSize != mllp.DefaultMaxSize {
		t.Errorf("defaults %v, %d, %d; the MLLP server's are %v, %d, %d", def.IdleTimeout, def.MaxConns, def.MaxMessageSize,
			mllp.DefaultIdleTimeout, mllp.DefaultMaxConns, mllp.DefaultMaxSize)
	}
	if MaxMLLPMessageSize != hl7.DefaultMaxSize {
		t.Errorf("MaxMLLPMessageSize %d, the HL7 parser's limit is %d", MaxMLLPMessageSize, hl7.DefaultMaxSize)
	}

	c := Default()
	doc := "mllp:\n  idle_timeout: 90s\n  max_conns: 8\n  max_message_size: 1048576\n"
	if err := Decode(strings.NewReader(doc), "m.yaml", &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MLLP.IdleTimeout != 90*time.Second || c.MLLP.MaxConns != 8 || c.MLLP.MaxMessageSize != 1<<20 {
		t.Errorf("decoded %+v", c.MLLP)
	}
	if c.src["mllp.max_message_size"] != "m.yaml:4" {
		t.Errorf("max_message_size came from %q", c.src["mllp.max_message_size"])
	}

	tests := []struct {
		doc, setting, want string
	}{
		{"mllp:\n  idle_timeout: 0s\n", "mllp.idle_timeout", `mllp.idle_timeout must be positive, got 0s`},
		{"mllp:\n  idle_timeout: -5m\n", "mllp.idle_timeout", `mllp.idle_timeout must be positive, got -5m0s`},
		{"mllp:\n  idle_timeout: 300\n", "mllp.idle_timeout", `mllp.idle_timeout must be a duration such as "90s", "15m" or "12h", got 300`},
		{"mllp:\n  max_conns: 0\n", "mllp.max_conns", `mllp.max_conns must be 1 or more, got 0`},
		{"mllp:\n  max_conns: -1\n", "mllp.max_conns", `mllp.max_conns must be 1 or more, got -1`},
		{"mllp:\n  max_conns: many\n", "mllp.max_conns", `mllp.max_conns must be a whole number, got "many"`},
		{"mllp:\n  max_message_size: 0\n", "mllp.max_message_size", `mllp.max_message_size must be between 1 and 16777216 bytes (16 MiB, the most the HL7 parser reads), got 0`},
		{"mllp:\n  max_message_size: -1024\n", "mllp.max_message_size", `mllp.max_message_size must be between 1 and 16777216 bytes (16 MiB, the most the HL7 parser reads), got -1024`},
		{"mllp:\n  max_message_size: 16777217\n", "mllp.max_message_size", `mllp.max_message_size must be between 1 and 16777216 bytes (16 MiB, the most the HL7 parser reads), got 16777217`},
		{"mllp:\n  max_message_size: 1MiB\n", "mllp.max_message_size", `mllp.max_message_size must be a whole number, got "1MiB"`},
		{"mllp:\n  max_message_size: \"65536\"\n", "mllp.max_message_size", `mllp.max_message_size must be a whole number, got "65536" (write the number without quotes)`},
		// The limits are the MLLP listener's; the ASTM listener has none.
		{"astm:\n  max_conns: 4\n", "astm.max_conns", `unknown setting "astm.max_conns" (did you mean "mllp.max_conns"?)`},
	}
	for _, tt := range tests {
		c := Default()
		err := Decode(strings.NewReader(tt.doc), "m.yaml", &c)
		if err == nil {
			err = c.Validate()
		}
		setting := ""
		if ce := (*Error)(nil); errors.As(err, &ce) {
			setting = ce.Setting
		}
		if err == nil || err.Error() != "m.yaml:2: "+tt.want || setting != tt.setting {
			t.Errorf("%q:\n got %v (setting %q)\nwant m.yaml:2: %s (setting %q)", tt.doc, err, setting, tt.want, tt.setting)
		}
	}
	// The largest size the parser reads is accepted.
	c = Default()
	c.MLLP.MaxMessageSize = MaxMLLPMessageSize
	if err := c.Validate(); err != nil {
		t.Errorf("max_message_size %d: %v", MaxMLLPMessageSize, err)
	}
}
