package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Validate checks every value and reports all problems at once, each naming
// where its value came from: the file and line, the environment variable or
// the flag.
func (c *Config) Validate() error {
	v := validator{c: c}

	if strings.TrimSpace(c.Data) == "" {
		v.errorf("data", "data must name a directory")
	}
	v.database()
	v.bind()
	v.httpAddr()
	v.positive("http.read_timeout", c.HTTP.ReadTimeout)
	v.positive("http.write_timeout", c.HTTP.WriteTimeout)
	v.positive("http.idle_timeout", c.HTTP.IdleTimeout)
	v.positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	if c.HTTP.MaxBodyBytes <= 0 {
		v.errorf("http.max_body_bytes", "http.max_body_bytes must be positive, got %d", c.HTTP.MaxBodyBytes)
	}
	if c.MLLP.Port != 0 { // 0: a free port, printed at start (tests, side-by-side runs)
		v.port("mllp.port", c.MLLP.Port)
	}
	if c.DICOM.Port != 0 {
		v.port("dicom.port", c.DICOM.Port)
	}
	if c.DICOM.MaxAssociations < 1 {
		v.errorf("dicom.max_associations", "dicom.max_associations must be 1 or more, got %d", c.DICOM.MaxAssociations)
	}
	if c.DICOM.MaxPDULength < 4096 || c.DICOM.MaxPDULength > 131072 {
		v.errorf("dicom.max_pdu_length", "dicom.max_pdu_length must be between 4096 and 131072 bytes, got %d", c.DICOM.MaxPDULength)
	}
	if c.DICOM.MaxInstanceBytes < 1<<20 {
		v.errorf("dicom.max_instance_bytes", "dicom.max_instance_bytes must be at least 1 MiB (1048576), got %d", c.DICOM.MaxInstanceBytes)
	}
	v.positive("dicom.quiet_period", c.DICOM.QuietPeriod)
	v.positive("mllp.idle_timeout", c.MLLP.IdleTimeout)
	if c.MLLP.MaxConns < 1 {
		v.errorf("mllp.max_conns", "mllp.max_conns must be 1 or more, got %d", c.MLLP.MaxConns)
	}
	if c.MLLP.MaxMessageSize < 1 || c.MLLP.MaxMessageSize > MaxMLLPMessageSize {
		v.errorf("mllp.max_message_size", "mllp.max_message_size must be between 1 and %d bytes (16 MiB, the most the HL7 parser reads), got %d",
			MaxMLLPMessageSize, c.MLLP.MaxMessageSize)
	}
	v.tlsPair("mllp", c.MLLP.TLSCert, c.MLLP.TLSKey)
	v.tlsPair("astm", c.ASTM.TLSCert, c.ASTM.TLSKey)
	v.tlsPair("dicom", c.DICOM.TLSCert, c.DICOM.TLSKey)
	v.port("astm.port", c.ASTM.Port)
	v.portClash()
	v.aeTitle()
	v.uidRoot()
	v.organization()
	if c.Limits.MaxPatientsPerOrg < 0 {
		v.errorf("limits.max_patients_per_org", "limits.max_patients_per_org must be 0 (unlimited) or more, got %d", c.Limits.MaxPatientsPerOrg)
	}
	v.positive("auth.session_ttl", c.Auth.SessionTTL)
	if c.Auth.LoginMaxFailures < 1 {
		v.errorf("auth.login_max_failures", "auth.login_max_failures must be 1 or more, got %d", c.Auth.LoginMaxFailures)
	}
	v.positive("auth.login_lockout", c.Auth.LoginLockout)
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.mqtt()
	v.devices()
	return joinErrors(v.errs)
}

type validator struct {
	c    *Config
	errs []error
}

func (v *validator) errorf(setting, format string, args ...any) {
	v.errs = append(v.errs, &Error{Where: v.c.src[setting], Setting: setting, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(setting string, d time.Duration) {
	if d <= 0 {
		v.errorf(setting, "%s must be positive, got %s", setting, d)
	}
}

// tlsPair checks that a listener's tls_cert and tls_key are set together.
func (v *validator) tlsPair(name, cert, key string) {
	if (cert == "") != (key == "") {
		v.errorf(name+".tls_cert", "%s.tls_cert and %s.tls_key go together: set both or neither", name, name)
	}
}

func (v *validator) port(setting string, p int) {
	if p < 1 || p > 65535 {
		v.errorf(setting, "%s must be between 1 and 65535, got %d", setting, p)
	}
}

func (v *validator) oneOf(setting, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.errorf(setting, "%s must be one of %s; got %s", setting, strings.Join(allowed, ", "), quote(val))
}

// database checks database.url. Messages never repeat a PostgreSQL URL,
// which may carry a password.
func (v *validator) database() {
	const s = "database.url"
	u := v.c.Database.URL
	if u == "" {
		return
	}
	scheme, rest, ok := splitScheme(u)
	if !ok {
		v.sqliteFile(u)
		return
	}
	switch scheme {
	case "sqlite":
		if !strings.HasPrefix(rest, "//") {
			v.errorf(s, "database.url: write sqlite:///absolute/path.db or sqlite://relative/path.db, got %s", quote(u))
			return
		}
		if strings.ContainsAny(rest, "?#") {
			v.errorf(s, "database.url: a sqlite URL takes no options (medgate sets the SQLite pragmas itself), got %s", quote(u))
			return
		}
		v.sqliteFile(rest[2:])
	case "postgres", "postgresql":
		pu, err := url.Parse(u)
		if err != nil {
			reason := err.Error()
			if ue, ok := err.(*url.Error); ok {
				reason = ue.Err.Error()
			}
			v.errorf(s, "database.url is not a valid PostgreSQL URL: %s", reason)
			return
		}
		if pu.Opaque != "" {
			v.errorf(s, "database.url: write %s://user:password@host:5432/dbname", scheme)
		}
	default:
		v.errorf(s, "database.url scheme %q is not supported (use sqlite://, postgres://, postgresql:// or a plain file path)", scheme)
	}
}

func (v *validator) sqliteFile(p string) {
	switch {
	case strings.TrimSpace(p) == "":
		v.errorf("database.url", "database.url names no SQLite file")
	case strings.HasSuffix(p, "/") || strings.HasSuffix(p, `\`):
		v.errorf("database.url", "database.url must name the SQLite file, not a directory, got %s", quote(p))
	}
}

func (v *validator) bind() {
	b := v.c.Bind
	switch {
	case b == "":
		v.errorf("bind", "bind must name a host, such as 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)")
	case isHost(b):
	default:
		if _, _, err := net.SplitHostPort(b); err == nil {
			v.errorf("bind", "bind is a host without a port (the ports are mllp.port, dicom.port and astm.port), got %s", quote(b))
			return
		}
		v.errorf("bind", "bind must be an IP address or host name, such as 127.0.0.1 or 0.0.0.0, got %s", quote(b))
	}
}

func (v *validator) httpAddr() {
	a := v.c.HTTP.Addr
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		v.errorf("http.addr", "http.addr must be host:port such as 127.0.0.1:8080 or :8080, got %s", quote(a))
		return
	}
	if host != "" && !isHost(host) {
		v.errorf("http.addr", "http.addr host must be an IP address or host name, got %s", quote(host))
	}
	// Port 0 asks the system for a free port (tests, side-by-side runs); the
	// banner prints the one chosen.
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.errorf("http.addr", "http.addr port must be between 0 and 65535, got %s", quote(port))
	}
}

// portClash catches two listeners on one port, which would otherwise
// surface only as "address already in use" at start.
func (v *validator) portClash() {
	c := v.c
	type listener struct {
		setting, host string
		port          int
	}
	var ls []listener
	if host, port, err := net.SplitHostPort(c.HTTP.Addr); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p != 0 {
			ls = append(ls, listener{"http.addr", host, p})
		}
	}
	if c.MLLP.Enabled && c.MLLP.Port != 0 {
		ls = append(ls, listener{"mllp.port", c.Bind, c.MLLP.Port})
	}
	if c.DICOM.Enabled && c.DICOM.Port != 0 {
		ls = append(ls, listener{"dicom.port", c.Bind, c.DICOM.Port})
	}
	if c.ASTM.Enabled {
		ls = append(ls, listener{"astm.port", c.Bind, c.ASTM.Port})
	}
	for i, b := range ls {
		for _, a := range ls[:i] {
			if a.port == b.port && hostsOverlap(a.host, b.host) {
				// Blame the one that was configured, not the default.
				if v.c.src[b.setting] == "" && v.c.src[a.setting] != "" {
					a, b = b, a
				}
				v.errorf(b.setting, "%s uses port %d, which %s already uses; each listener needs its own port", b.setting, b.port, a.setting)
				break
			}
		}
	}
}

func hostsOverlap(a, b string) bool {
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return a == b || wildcard(a) || wildcard(b)
}

// isHost accepts an IP address or a DNS host name.
func isHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// aeTitle applies DICOM's AE value representation: up to 16 characters of
// the default repertoire, no backslash (the value separator), no control
// characters; leading and trailing spaces are insignificant to peers, so
// allowing them would only make titles that look different compare equal.
func (v *validator) aeTitle() {
	const s = "dicom.ae_title"
	ae := v.c.DICOM.AETitle
	for _, r := range ae {
		if r < 0x20 || r > 0x7e || r == '\\' {
			v.errorf(s, `%s may hold only ASCII letters, digits, spaces and punctuation other than \, got %s`, s, quote(ae))
			return
		}
	}
	switch {
	case strings.TrimSpace(ae) == "":
		v.errorf(s, "%s must not be empty", s)
	case len(ae) > 16:
		v.errorf(s, "%s must be at most 16 characters, got %d (%s)", s, len(ae), quote(ae))
	case strings.TrimSpace(ae) != ae:
		v.errorf(s, "%s must not start or end with a space, got %s", s, quote(ae))
	}
}

// uidRoot checks dicom.uid_root as a DICOM UID prefix (PS3.5 9.1): digits
// and dots, no empty or zero-padded component, an ISO root arc, and short
// enough that medgate's suffixes keep UIDs within 64 characters.
func (v *validator) uidRoot() {
	const s = "dicom.uid_root"
	r := v.c.DICOM.UIDRoot
	if r == "" {
		return
	}
	if strings.Trim(r, "0123456789.") != "" {
		v.errorf(s, "%s may hold only digits and dots, got %s", s, quote(r))
		return
	}
	if len(r) > 40 {
		v.errorf(s, "%s must be at most 40 characters so that generated UIDs fit in 64, got %d", s, len(r))
		return
	}
	comps := strings.Split(r, ".")
	for _, comp := range comps {
		switch {
		case comp == "":
			v.errorf(s, "%s has an empty component (a dot at the start or end, or two in a row), got %s", s, quote(r))
			return
		case len(comp) > 1 && comp[0] == '0':
			v.errorf(s, "%s component %q has a leading zero, which DICOM forbids, in %s", s, comp, quote(r))
			return
		}
	}
	if comps[0] != "0" && comps[0] != "1" && comps[0] != "2" {
		v.errorf(s, "%s must start with 0, 1 or 2 (an ISO object identifier), got %s", s, quote(r))
		return
	}
	if len(comps) > 1 && comps[0] != "2" {
		if n, err := strconv.Atoi(comps[1]); err != nil || n > 39 {
			v.errorf(s, "%s second component must be at most 39 under root %s, got %s", s, comps[0], quote(r))
		}
	}
}

func (v *validator) organization() {
	o := v.c.Organization
	if strings.TrimSpace(o.Name) == "" {
		v.errorf("organization.name", "organization.name must not be empty")
	}
	if strings.IndexFunc(o.Name, unicode.IsControl) >= 0 {
		v.errorf("organization.name", "organization.name must be one line of text without control characters")
	}
	if o.INN != "" && !validINN(o.INN) {
		v.errorf("organization.inn", "organization.inn must be 10 digits (organization) or 12 digits (individual entrepreneur) with valid check digits, got %s", quote(o.INN))
	}
	if o.OGRN != "" && !validOGRN(o.OGRN) {
		v.errorf("organization.ogrn", "organization.ogrn must be 13 digits (OGRN) or 15 digits (OGRNIP) with a valid check digit, got %s", quote(o.OGRN))
	}
}

func digits(s string) ([]int, bool) {
	d := make([]int, len(s))
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return nil, false
		}
		d[i] = int(s[i] - '0')
	}
	return d, true
}

// validINN checks a Russian taxpayer number's length and check digits, so
// that a typo is caught before it is printed on every document.
func validINN(s string) bool {
	d, ok := digits(s)
	if !ok {
		return false
	}
	check := func(n int, weights ...int) bool {
		sum := 0
		for i, w := range weights {
			sum += w * d[i]
		}
		return sum%11%10 == d[n]
	}
	switch len(d) {
	case 10:
		return check(9, 2, 4, 10, 3, 5, 9, 4, 6, 8)
	case 12:
		return check(10, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8) &&
			check(11, 3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
	}
	return false
}

// validOGRN checks a state registration number (13 digits, mod 11) or an
// individual entrepreneur's (15 digits, mod 13).
func validOGRN(s string) bool {
	if _, ok := digits(s); !ok || (len(s) != 13 && len(s) != 15) {
		return false
	}
	body, _ := strconv.ParseInt(s[:len(s)-1], 10, 64)
	mod := int64(11)
	if len(s) == 15 {
		mod = 13
	}
	return body%mod%10 == int64(s[len(s)-1]-'0')
}

func (v *validator) mqtt() {
	m := v.c.MQTT
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		switch {
		case err != nil || u.Host == "":
			v.errorf("mqtt.url", "mqtt.url must be a broker URL such as tcp://127.0.0.1:1883")
		case u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "mqtt" && u.Scheme != "mqtts" && u.Scheme != "ws" && u.Scheme != "wss":
			v.errorf("mqtt.url", "mqtt.url scheme must be tcp, ssl, tls, mqtt, mqtts, ws or wss, got %s", quote(u.Scheme))
		}
	}
	if m.TopicPrefix == "" || strings.ContainsAny(m.TopicPrefix, "+#") {
		v.errorf("mqtt.topic_prefix", "mqtt.topic_prefix must be a topic without the wildcards + and #, got %s", quote(m.TopicPrefix))
	}
}
