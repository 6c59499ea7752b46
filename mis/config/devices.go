package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/medgate/medgate/mis/domain"
)

// DeviceSpec is one device as written in YAML: an item of the devices:
// section of medgate's config and of a device import/export file. It is the
// file format of domain.Device; Device and SpecOf convert.
//
//	devices:
//	  - name: xn-550
//	    protocol: astm
//	    sender: XN-550
//	    transport: {serial: /dev/ttyUSB0, baud: 9600, format: 8N1}
//	    code_map: sysmex-xn
//	    query: true
type DeviceSpec struct {
	// Name is unique within a file (and per organization in the store).
	Name string `yaml:"name,omitempty"`
	// Protocol is dicom, hl7 or astm.
	Protocol string `yaml:"protocol,omitempty"`
	// AETitle is a DICOM device's calling AE title.
	AETitle string `yaml:"ae_title,omitempty"`
	// Addresses optionally restricts the device to these peer IPs.
	Addresses []string `yaml:"addresses,omitempty,flow"`
	// SendingApplication and SendingFacility are an HL7 device's MSH-3 and
	// MSH-4; an empty facility matches any.
	SendingApplication string `yaml:"sending_application,omitempty"`
	SendingFacility    string `yaml:"sending_facility,omitempty"`
	// Sender is an ASTM device's sender name (H-5).
	Sender string `yaml:"sender,omitempty"`
	// Transport is set for a device medgate reaches itself (a serial line,
	// or a host and port it connects to).
	Transport *DeviceTransport `yaml:"transport,omitempty,flow"`
	// Encoding is the device's text encoding, one of domain.Encodings;
	// empty means the protocol's default.
	Encoding string `yaml:"encoding,omitempty"`
	// CodeMap names the code map that translates the device's codes.
	CodeMap string `yaml:"code_map,omitempty"`
	// Matching is strict (the default when empty) or propose-demographics.
	Matching string `yaml:"matching,omitempty"`
	// AckMode pins an HL7 device's acknowledgements: original (AA/AE/AR)
	// or enhanced (CA/CE/CR) whatever its MSH-15 says; empty follows
	// MSH-15.
	AckMode string `yaml:"ack_mode,omitempty"`
	// Lenient lists the HL7 parser tolerances the device needs
	// (domain.HL7Lenient).
	Lenient []string `yaml:"lenient,omitempty,flow"`
	// OrderMessage is what medgate sends an HL7 device that receives
	// orders: ORM^O01 (the default) or OML^O21.
	OrderMessage string `yaml:"order_message,omitempty"`
	// QCPrefix marks the device's quality-control runs by their sample
	// IDs' start.
	QCPrefix string `yaml:"qc_prefix,omitempty"`
	// Results says the device sends results; absent means true.
	Results *bool `yaml:"results,omitempty"`
	// Query says the device asks medgate for orders (worklist, host query).
	Query bool `yaml:"query,omitempty"`
	// Orders says medgate sends the device its orders.
	Orders bool `yaml:"orders,omitempty"`
	// Active: an inactive device is kept but not recognised; absent means
	// true.
	Active *bool `yaml:"active,omitempty"`
	// Organization is the owning organization's id; 0 means the first
	// organization.
	Organization int64 `yaml:"organization,omitempty"`
	// Branch is the name of the branch of the organization the device
	// works in (a branch is an organization that is part of it); empty:
	// none. Device leaves it to the caller to find the branch by name.
	Branch string `yaml:"branch,omitempty"`
}

// DeviceTransport is DeviceSpec's transport: {serial, baud, format} for a
// serial line, {host, port} for a TCP peer that medgate connects to.
type DeviceTransport struct {
	Serial string `yaml:"serial,omitempty"`
	Baud   int    `yaml:"baud,omitempty"`
	Format string `yaml:"format,omitempty"` // data bits, parity, stop bits: 8N1
	Host   string `yaml:"host,omitempty"`
	Port   int    `yaml:"port,omitempty"`
}

// DeviceFile is a device import/export document: the devices: section of
// medgate's config on its own.
type DeviceFile struct {
	Devices []DeviceSpec `yaml:"devices"`
}

// Device converts the spec to the domain model. Results and Active default
// to true; OrganizationID is Organization as written (0: the caller picks
// the first organization). ID, BranchID (the caller finds Branch among
// the organization's branches) and the timestamps are left zero.
func (d DeviceSpec) Device() domain.Device {
	dev := domain.Device{
		OrganizationID:     d.Organization,
		Name:               d.Name,
		Protocol:           d.Protocol,
		AETitle:            d.AETitle,
		Addresses:          slices.Clone(d.Addresses),
		SendingApplication: d.SendingApplication,
		SendingFacility:    d.SendingFacility,
		Sender:             d.Sender,
		Encoding:           d.Encoding,
		CodeMap:            d.CodeMap,
		MatchingPolicy:     d.Matching,
		AckMode:            d.AckMode,
		Lenient:            slices.Clone(d.Lenient),
		OrderMessage:       d.OrderMessage,
		QCPrefix:           d.QCPrefix,
		SendsResults:       d.Results == nil || *d.Results,
		QueriesOrders:      d.Query,
		ReceivesOrders:     d.Orders,
		Active:             d.Active == nil || *d.Active,
	}
	if d.Transport != nil {
		t := domain.Transport(*d.Transport)
		dev.Transport = &t
	}
	return dev
}

// SpecOf converts a device to its YAML form, leaving out what is default:
// results and active are written only when false. The device's
// organization id is kept (set it to 0 for a file meant for another
// installation); ID and the timestamps are not part of the spec, and
// BranchID is left for the caller to write as Branch, the branch's name.
func SpecOf(d domain.Device) DeviceSpec {
	s := DeviceSpec{
		Name:               d.Name,
		Protocol:           d.Protocol,
		AETitle:            d.AETitle,
		SendingApplication: d.SendingApplication,
		SendingFacility:    d.SendingFacility,
		Sender:             d.Sender,
		Encoding:           d.Encoding,
		CodeMap:            d.CodeMap,
		Matching:           d.MatchingPolicy,
		AckMode:            d.AckMode,
		OrderMessage:       d.OrderMessage,
		QCPrefix:           d.QCPrefix,
		Query:              d.QueriesOrders,
		Orders:             d.ReceivesOrders,
		Organization:       d.OrganizationID,
	}
	if len(d.Addresses) > 0 {
		s.Addresses = slices.Clone(d.Addresses)
	}
	if len(d.Lenient) > 0 {
		s.Lenient = slices.Clone(d.Lenient)
	}
	if d.Transport != nil {
		t := DeviceTransport(*d.Transport)
		s.Transport = &t
	}
	if !d.SendsResults {
		s.Results = new(false)
	}
	if !d.Active {
		s.Active = new(false)
	}
	return s
}

// DecodeDevices reads a device file (devices: followed by a list of
// devices, as in medgate's config) strictly, as DecodeYAML does, and
// validates each device as Config.Validate does, every problem naming
// name:line. An empty document gives no devices.
func DecodeDevices(data []byte, name string) ([]DeviceSpec, error) {
	var f DeviceFile
	w, err := decodeInto(data, name, "the file", &f)
	if err != nil || w == nil {
		return nil, err
	}
	src := make(map[string]string, len(w.lines))
	for path, line := range w.lines {
		src[path] = at(name, line)
	}
	if errs := checkDevices(f.Devices, "devices", src); len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	if len(f.Devices) == 0 {
		return nil, nil
	}
	return f.Devices, nil
}

// EncodeDevices writes specs as a device file that DecodeDevices reads back
// as the same specs: keys in DeviceSpec's order, empty ones left out,
// addresses and transport in flow style. It does not validate the devices;
// it fails only on a value that YAML cannot carry as written (text that is
// not UTF-8).
func EncodeDevices(specs []DeviceSpec) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(DeviceFile{Devices: specs}); err != nil {
		return nil, fmt.Errorf("encoding devices: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding devices: %w", err)
	}
	// Read it back: the file must mean what was written.
	var back DeviceFile
	if err := DecodeYAML(buf.Bytes(), "devices.yaml", &back); err != nil {
		return nil, fmt.Errorf("encoding devices: the result does not read back: %w", err)
	}
	for i := range max(len(specs), len(back.Devices)) {
		if i >= len(specs) || i >= len(back.Devices) || !sameSpec(specs[i], back.Devices[i]) {
			return nil, fmt.Errorf("encoding devices: devices[%d] does not read back as written", i)
		}
	}
	return buf.Bytes(), nil
}

// sameSpec compares specs, an empty list equal to none.
func sameSpec(a, b DeviceSpec) bool {
	if len(a.Addresses) == 0 && len(b.Addresses) == 0 {
		a.Addresses, b.Addresses = nil, nil
	}
	if len(a.Lenient) == 0 && len(b.Lenient) == 0 {
		a.Lenient, b.Lenient = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// devices validates the devices: section.
func (v *validator) devices() {
	v.errs = append(v.errs, checkDevices(v.c.Devices, "devices", v.c.src)...)
}

// checkDevices validates specs, the list at path prefix ("devices"): each
// device with domain's rules and a few of the file's own, names unique,
// and no two active devices that medgate could not tell apart. src maps a
// path to where its value came from ("medgate.yaml:14"); a path not in src
// takes the place of its nearest parent, so that a missing key is reported
// at its device.
func checkDevices(specs []DeviceSpec, prefix string, src map[string]string) []error {
	dc := deviceChecker{prefix: prefix, src: src}
	valid := make([]bool, len(specs))
	names := map[string]int{}
	for i, s := range specs {
		if j, dup := names[s.Name]; dup && s.Name != "" {
			p := dc.path(i, "name")
			dc.errorf(p, "%s: %s is already the name of %s; each device needs its own name",
				p, quote(s.Name), dc.ref(j, "name"))
		} else if !dup {
			names[s.Name] = i
		}
		if valid[i] = dc.device(i, s); !valid[i] {
			continue
		}
		for j := range i {
			if valid[j] && sameIdentity(specs[j], s) {
				dc.identityClash(j, i, specs[j], s)
				break
			}
		}
	}
	return dc.errs
}

type deviceChecker struct {
	prefix string
	src    map[string]string
	errs   []error
}

func (dc *deviceChecker) path(i int, key string) string {
	p := dc.prefix + "[" + strconv.Itoa(i) + "]"
	if key != "" {
		p += "." + key
	}
	return p
}

// where is where the value at path came from, else its nearest parent's.
func (dc *deviceChecker) where(path string) string {
	for p := path; p != ""; p = parentPath(p) {
		if w, ok := dc.src[p]; ok {
			return w
		}
	}
	return ""
}

func (dc *deviceChecker) errorf(setting, format string, args ...any) {
	dc.errs = append(dc.errs, &Error{Where: dc.where(setting), Setting: setting, Msg: fmt.Sprintf(format, args...)})
}

// ref names device j for a message about another: devices[0] "ct-1" (line 3).
func (dc *deviceChecker) ref(j int, key string) string {
	s := dc.path(j, "")
	if w := dc.where(dc.path(j, key)); w != "" {
		if k := strings.LastIndexByte(w, ':'); k >= 0 {
			if _, err := strconv.Atoi(w[k+1:]); err == nil {
				return s + " (line " + w[k+1:] + ")"
			}
		}
		return s + " (" + w + ")"
	}
	return s
}

// parentPath strips the last ".key" or "[i]" of a path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// device checks device i and reports whether it is valid.
func (dc *deviceChecker) device(i int, s DeviceSpec) bool {
	d := s.Device()
	if err := d.Validate(); err != nil {
		var fe *domain.FieldError
		if !errors.As(err, &fe) {
			p := dc.path(i, "")
			dc.errorf(p, "%s: %v", p, err)
			return false
		}
		p := dc.path(i, deviceKey(fe.Field))
		got := ""
		switch fe.Field {
		case "protocol":
			got = gotValue(s.Protocol)
		case "encoding":
			got = gotValue(s.Encoding)
		case "matchingPolicy":
			got = gotValue(s.Matching)
		case "ackMode":
			got = gotValue(s.AckMode)
		case "orderMessage":
			got = gotValue(s.OrderMessage)
		}
		dc.errorf(p, "%s: %s%s", p, fe.Message, got)
		return false
	}
	ok := true
	for _, f := range []struct{ key, val string }{
		{"name", s.Name}, {"ae_title", s.AETitle}, {"sending_application", s.SendingApplication},
		{"sending_facility", s.SendingFacility}, {"sender", s.Sender}, {"branch", s.Branch},
	} {
		p := dc.path(i, f.key)
		switch {
		case strings.IndexFunc(f.val, unicode.IsControl) >= 0:
			dc.errorf(p, "%s must be one line of text without control characters, got %s", p, quote(f.val))
			ok = false
		case strings.TrimSpace(f.val) != f.val:
			// Peers' identities arrive trimmed; a padded one would never match.
			dc.errorf(p, "%s must not start or end with a space, got %s", p, quote(f.val))
			ok = false
		}
	}
	if s.Organization < 0 {
		p := dc.path(i, "organization")
		dc.errorf(p, "%s must be an organization id, or 0 for the first organization, got %d", p, s.Organization)
		ok = false
	}
	if t := s.Transport; t != nil && (t.Port < 0 || t.Port > 65535) {
		p := dc.path(i, "transport.port")
		dc.errorf(p, "%s must be between 1 and 65535, got %d", p, t.Port)
		ok = false
	}
	return ok
}

func gotValue(v string) string {
	if v == "" {
		return " (it is missing)"
	}
	return ", got " + quote(v)
}

// deviceKeys are the YAML keys whose domain.Device JSON names differ by
// more than camelCase versus snake_case.
var deviceKeys = map[string]string{
	"matchingPolicy": "matching",
	"sendsResults":   "results",
	"queriesOrders":  "query",
	"receivesOrders": "orders",
	"organization":   "organization",
}

// deviceKey turns a domain.FieldError field ("aeTitle", "addresses[2]",
// "transport.baud") into the device's YAML key path.
func deviceKey(field string) string {
	parts := strings.Split(field, ".")
	for i, part := range parts {
		name, index := part, ""
		if j := strings.IndexByte(part, '['); j >= 0 {
			name, index = part[:j], part[j:]
		}
		if k, ok := deviceKeys[name]; ok {
			name = k
		} else {
			name = snake(name)
		}
		parts[i] = name + index
	}
	return strings.Join(parts, ".")
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sameIdentity reports two devices that one message could be recognised
// as (domain.IdentitiesCollide, ingest's rule): a conflict.
func sameIdentity(a, b DeviceSpec) bool {
	da, db := a.Device(), b.Device()
	return domain.IdentitiesCollide(&da, &db)
}

// identityClash reports device i, which medgate could not tell from the
// earlier device j.
func (dc *deviceChecker) identityClash(j, i int, a, b DeviceSpec) {
	da, db := a.Device(), b.Device()
	c := domain.DescribeClash(&db, &da, true)
	p := dc.path(i, c.Field)
	dc.errorf(p, "%s: %s", p, c.Message(quote, dc.ref(j, c.Field), "set active: false on one"))
}
