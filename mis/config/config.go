// Package config is medgate's configuration: defaults, a strictly decoded
// YAML file, MEDGATE_* environment variables and command-line flags, in that
// order of precedence.
//
// Strictness is the point: a misspelt key or a value of the wrong type in a
// clinic's config file must stop the start with a message naming the file and
// line, not be silently ignored while a device listener opens on the wrong
// address.
package config

import (
	"path/filepath"
	"strings"
	"time"
)

// Config is every setting medgate reads at start. The zero value is not
// useful; start from Default.
type Config struct {
	// Data is the data directory: the SQLite file and, later, DICOM blobs.
	Data     string   `yaml:"data"`
	Database Database `yaml:"database"`
	// Bind is the host all device listeners (MLLP, DICOM, ASTM) bind to.
	// The default keeps them on loopback; "0.0.0.0" opens them to the
	// clinic network in one place.
	Bind         string       `yaml:"bind"`
	HTTP         HTTP         `yaml:"http"`
	MLLP         MLLP         `yaml:"mllp"`
	DICOM        DICOM        `yaml:"dicom"`
	ASTM         Listener     `yaml:"astm"`
	Organization Organization `yaml:"organization"`
	Limits       Limits       `yaml:"limits"`
	Auth         Auth         `yaml:"auth"`
	Log          Log          `yaml:"log"`
	MQTT         MQTT         `yaml:"mqtt"`
	// Devices are provisioned at start: the devices clinic IT keeps in the
	// config file rather than registering through the API or UI.
	Devices []DeviceSpec `yaml:"devices"`

	// src maps a setting path ("http.addr") to where its value came from
	// ("medgate.yaml:7", "environment MEDGATE_HTTP", "flag -http"), so that
	// Validate can point at the line to fix. Absent means the default.
	src map[string]string
}

// Database selects the store.
type Database struct {
	// URL is "" (SQLite at <data>/medgate.db), sqlite:///abs/path.db,
	// sqlite://relative.db, a plain file path, or postgres://… /
	// postgresql://….
	URL string `yaml:"url"`
}

// HTTP configures the web UI and APIs.
type HTTP struct {
	Addr            string        `yaml:"addr"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
}

// MLLP is the HL7 v2 over MLLP listener on Config.Bind and its limits.
// The limits' defaults are listeners/mllp's (DefaultIdleTimeout,
// DefaultMaxConns, DefaultMaxSize).
type MLLP struct {
	Port    int  `yaml:"port"`
	Enabled bool `yaml:"enabled"`
	// AcceptUnknown stores messages from unregistered devices and queues
	// them for review (never attached) instead of refusing them.
	AcceptUnknown bool `yaml:"accept_unknown"`
	// IdleTimeout closes a connection that sends nothing for that long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConns limits concurrent connections; more are accepted and
	// closed at once.
	MaxConns int `yaml:"max_conns"`
	// MaxMessageSize (bytes, at most MaxMLLPMessageSize) limits one
	// frame: a larger one is answered AR, its start kept for review, and
	// the connection closed.
	MaxMessageSize int `yaml:"max_message_size"`
	// TLSCert and TLSKey (PEM files) turn on TLS on the port.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// MaxMLLPMessageSize is the largest mllp.max_message_size: the HL7
// parser's own limit (parsers/hl7.DefaultMaxSize), past which a message
// the listener took would be stored but never read.
const MaxMLLPMessageSize = 16 << 20

// Listener is a device listener (ASTM) on Config.Bind.
type Listener struct {
	Port    int  `yaml:"port"`
	Enabled bool `yaml:"enabled"`
	// AcceptUnknown stores messages from unregistered devices and queues
	// them for review (never attached) instead of refusing them.
	AcceptUnknown bool `yaml:"accept_unknown"`
	// TLSCert and TLSKey (PEM files) turn on TLS on the port.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// DICOM is the DICOM listener plus medgate's own DICOM identity.
type DICOM struct {
	Port    int    `yaml:"port"`
	Enabled bool   `yaml:"enabled"`
	AETitle string `yaml:"ae_title"`
	// UIDRoot is the organization's registered root for the UIDs medgate
	// generates (e.g. the StudyInstanceUID of an order); optional. At most
	// 40 characters so that root + suffix fits DICOM's 64.
	UIDRoot string `yaml:"uid_root"`
	// AcceptUnknown lets unregistered calling AE titles associate; what
	// they store is queued for review, never attached.
	AcceptUnknown bool `yaml:"accept_unknown"`
	// MaxAssociations limits concurrent associations; more are rejected
	// (transient, no reason given).
	MaxAssociations int `yaml:"max_associations"`
	// MaxPDULength is the largest PDU medgate accepts (announced in
	// A-ASSOCIATE-AC).
	MaxPDULength int `yaml:"max_pdu_length"`
	// MaxInstanceBytes refuses larger instances with 0xA700.
	MaxInstanceBytes int64 `yaml:"max_instance_bytes"`
	// QuietPeriod: an imaging order is completed once its study received
	// no instance for this long.
	QuietPeriod time.Duration `yaml:"quiet_period"`
	// TLSCert and TLSKey (PEM files) turn on DICOM TLS on the port.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// Organization is the organization created on first start.
type Organization struct {
	Name string `yaml:"name"`
	INN  string `yaml:"inn"`
	OGRN string `yaml:"ogrn"`
}

// Limits caps what one organization may store.
type Limits struct {
	// MaxPatientsPerOrg: 0 means unlimited.
	MaxPatientsPerOrg int `yaml:"max_patients_per_org"`
}

// Auth configures sessions and login throttling.
type Auth struct {
	SessionTTL       time.Duration `yaml:"session_ttl"`
	LoginMaxFailures int           `yaml:"login_max_failures"`
	LoginLockout     time.Duration `yaml:"login_lockout"`
}

// MQTT configures event publication to a broker (mis/events). Events are
// queued in the database and published at least once; an empty URL keeps
// them queued without publishing.
type MQTT struct {
	URL         string `yaml:"url"`          // tcp://host:1883, ssl://host:8883; empty: off
	ClientID    string `yaml:"client_id"`    // unique per instance; default medgate-<host>-<pid>
	TopicPrefix string `yaml:"topic_prefix"` // topics are <prefix>/<org>/<kind>
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
}

// Log configures the slog handler.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Default returns the configuration used when nothing overrides it: a
// single machine, everything on loopback, SQLite under ./medgate-data.
func Default() Config {
	return Config{
		Data: "./medgate-data",
		Bind: "127.0.0.1",
		HTTP: HTTP{
			Addr:            "127.0.0.1:8080",
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    60 * time.Second,
			IdleTimeout:     120 * time.Second,
			ShutdownTimeout: 15 * time.Second,
			MaxBodyBytes:    1 << 20,
		},
		MLLP: MLLP{Port: 2575, Enabled: true, IdleTimeout: 5 * time.Minute, MaxConns: 256,
			MaxMessageSize: MaxMLLPMessageSize},
		DICOM: DICOM{Port: 11112, Enabled: true, AETitle: "MEDGATE", MaxAssociations: 64, MaxPDULength: 131072,
			MaxInstanceBytes: 4 << 30, QuietPeriod: 5 * time.Minute},
		ASTM:         Listener{Port: 15200, Enabled: true},
		Organization: Organization{Name: "Медицинская организация"},
		Limits:       Limits{MaxPatientsPerOrg: 100000},
		Auth: Auth{
			SessionTTL:       12 * time.Hour,
			LoginMaxFailures: 5,
			LoginLockout:     15 * time.Minute,
		},
		Log:  Log{Level: "info", Format: "text"},
		MQTT: MQTT{TopicPrefix: "medgate"},
	}
}

// IsPostgres reports whether the database URL selects PostgreSQL.
func (c Config) IsPostgres() bool {
	scheme, _, ok := splitScheme(c.Database.URL)
	return ok && (scheme == "postgres" || scheme == "postgresql")
}

// SQLitePath is the file path of the SQLite database, or "" when the
// database is PostgreSQL. Relative paths are relative to the working
// directory, like Data itself.
func (c Config) SQLitePath() string {
	u := c.Database.URL
	if u == "" {
		return filepath.Join(c.Data, "medgate.db")
	}
	scheme, rest, ok := splitScheme(u)
	switch {
	case !ok:
		return u
	case scheme == "sqlite":
		return strings.TrimPrefix(rest, "//")
	}
	return ""
}

// splitScheme splits "scheme:rest". A single letter before the colon is a
// Windows drive ("C:\data\x.db"), not a scheme, so plain paths stay paths.
func splitScheme(u string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(u, ':')
	if i < 2 {
		return "", u, false
	}
	for j, r := range u[:i] {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (j == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", u, false
		}
	}
	return strings.ToLower(u[:i]), u[i+1:], true
}

// Error is one configuration problem. Callers usually just print it;
// Where and Setting are there for tools that want to point at the value.
type Error struct {
	// Where the offending value came from: "medgate.yaml:7",
	// "environment MEDGATE_BIND", "flag -bind"; "" for a default or a value
	// set in code.
	Where string
	// Setting is the dotted path ("http.addr"), "" for problems with the
	// file as a whole.
	Setting string
	Msg     string
}

func (e *Error) Error() string {
	if e.Where == "" {
		return e.Msg
	}
	return e.Where + ": " + e.Msg
}
