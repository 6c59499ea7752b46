package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// override is a setting that an environment variable or a flag can set.
// One table drives Load, the -h text and the tests, so they cannot drift.
type override struct {
	path  string // setting path
	env   string // MEDGATE_* variable
	flag  string // flag name, "" for environment only
	usage string // a `word` in backquotes names the flag's argument
}

var overrides = []override{
	{"data", "MEDGATE_DATA", "data", "data `directory`: the SQLite database and stored files"},
	{"database.url", "MEDGATE_DATABASE_URL", "database", "database `URL`: sqlite:///abs/path.db, sqlite://relative.db, a file path, or postgres://user:password@host:5432/dbname (pass passwords in the file or environment, not on the command line)"},
	{"bind", "MEDGATE_BIND", "bind", "`host` the device listeners (MLLP, DICOM, ASTM) bind; 0.0.0.0 opens them to the clinic network"},
	{"http.addr", "MEDGATE_HTTP", "http", "`host:port` of the web UI and APIs"},
	{"log.level", "MEDGATE_LOG_LEVEL", "log-level", "log `level`: debug, info, warn or error"},
	{"dicom.uid_root", "MEDGATE_UID_ROOT", "", "DICOM UID root for generated UIDs"},
	{"dicom.ae_title", "MEDGATE_AE_TITLE", "", "medgate's DICOM AE title"},
	{"limits.max_patients_per_org", "MEDGATE_MAX_PATIENTS", "", "patients per organization, 0 = unlimited"},
	{"mllp.port", "MEDGATE_MLLP_PORT", "mllp-port", "HL7 MLLP listener `port` (0: a free port)"},
	{"dicom.port", "MEDGATE_DICOM_PORT", "dicom-port", "DICOM listener `port` (0: a free port)"},
	{"mqtt.url", "MEDGATE_MQTT_URL", "", "MQTT broker for events, e.g. tcp://127.0.0.1:1883; empty: events stay queued"},
}

// Load builds the configuration from, in increasing precedence: Default,
// the config file named by -config (else by MEDGATE_CONFIG), the MEDGATE_*
// environment variables, and the flags in args (os.Args[1:]). An
// environment variable that is set but empty is ignored; a flag counts only
// when given. getenv is usually os.Getenv; nil means an empty environment.
// The result is validated. For -h or -help Load prints usage to stderr and
// returns flag.ErrHelp itself.
func Load(args []string, getenv func(string) string) (Config, error) {
	return load(args, getenv, os.Stderr)
}

func load(args []string, getenv func(string) string, help io.Writer) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs, values := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(help, fs)
			return Config{}, flag.ErrHelp
		}
		return Config{}, fmt.Errorf("%w (medgate -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: medgate takes flags only (medgate -h lists them)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	c := Default()
	file, from := "", ""
	if given["config"] {
		// An explicit -config "" means no file, even if MEDGATE_CONFIG is set.
		file, from = *values["config"], "flag -config"
	} else if env := getenv("MEDGATE_CONFIG"); env != "" {
		file, from = env, "environment MEDGATE_CONFIG"
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return Config{}, fmt.Errorf("%s: config file: %w", from, err)
		}
		err = Decode(f, file, &c)
		f.Close()
		if err != nil {
			return Config{}, err
		}
	}

	var errs []error
	for _, o := range overrides {
		if v := getenv(o.env); v != "" {
			if err := c.set(o.path, v, "environment "+o.env); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, o := range overrides {
		if o.flag != "" && given[o.flag] {
			if err := c.set(o.path, *values[o.flag], "flag -"+o.flag); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, joinErrors(errs)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// newFlagSet defines medgate's flags. Their defaults are shown in -h only:
// Load applies a flag's value only when the flag was given, so that an
// unset flag never hides the file or the environment.
func newFlagSet() (*flag.FlagSet, map[string]*string) {
	fs := flag.NewFlagSet("medgate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are returned, not printed
	fs.Usage = func() {}     // load prints usage itself, for -h only
	values := map[string]*string{
		"config": fs.String("config", "", "YAML config `file` (env MEDGATE_CONFIG)"),
	}
	def := Default()
	for _, o := range overrides {
		if o.flag != "" {
			values[o.flag] = fs.String(o.flag, def.get(o.path), o.usage+" (env "+o.env+", setting "+o.path+")")
		}
	}
	return fs, values
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: medgate [flags]

Settings come from, each overriding the one before: built-in defaults, the
YAML config file (-config or MEDGATE_CONFIG), MEDGATE_* environment variables,
and the flags given. An environment variable set to "" is ignored.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\nEnvironment variables:\n")
	fmt.Fprintf(w, "  %-22s %s\n", "MEDGATE_CONFIG", "config file, as -config")
	for _, o := range overrides {
		how := "setting " + o.path
		if o.flag != "" {
			how += ", as -" + o.flag
		} else {
			how += ": " + o.usage
		}
		fmt.Fprintf(w, "  %-22s %s\n", o.env, how)
	}
}

// field returns the settable field for a setting path.
func (c *Config) field(path string) reflect.Value {
	v := reflect.ValueOf(c).Elem()
	for name := range strings.SplitSeq(path, ".") {
		f, ok := fieldByTag(v.Type(), name)
		if !ok {
			panic("config: no setting " + path)
		}
		v = v.FieldByIndex(f.Index)
	}
	return v
}

// get formats a setting's value as it would be written in the environment.
func (c Config) get(path string) string {
	v := c.field(path)
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	return fmt.Sprint(v.Interface())
}

// set parses raw (an environment variable or flag) into the setting at
// path and records where it came from.
func (c *Config) set(path, raw, where string) error {
	v := c.field(path)
	bad := func(want string) error {
		return &Error{Where: where, Setting: path, Msg: fmt.Sprintf("%s must be %s, got %s", path, want, quote(raw))}
	}
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return bad(`a duration such as "90s", "15m" or "12h"`)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return bad("a whole number")
		}
		v.SetInt(n)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case v.Kind() == reflect.String:
		v.SetString(raw)
	default:
		panic("config: cannot set " + path)
	}
	if c.src == nil {
		c.src = map[string]string{}
	}
	c.src[path] = where
	return nil
}
