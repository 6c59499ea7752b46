package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/medgate/medgate/mis/domain"
)

// issueDevices is the example of issue 3, as good/devices.yaml holds it.
var issueDevices = []DeviceSpec{
	{Name: "ct-1", Protocol: "dicom", AETitle: "CT1", Addresses: []string{"10.0.5.21"}, Encoding: "iso-ir-144"},
	{Name: "bc-5380", Protocol: "hl7", SendingApplication: "BC-5380", SendingFacility: "LAB",
		Encoding: "windows-1251", CodeMap: "mindray-bc5380"},
	{Name: "xn-550", Protocol: "astm", Sender: "XN-550",
		Transport: &DeviceTransport{Serial: "/dev/ttyUSB0", Baud: 9600, Format: "8N1"},
		CodeMap:   "sysmex-xn", Query: true},
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDevicesFixture(t *testing.T) {
	path := filepath.Join(fixtures, "good", "devices.yaml")
	c, err := loadFixture(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Devices, issueDevices) {
		t.Errorf("config devices:\n got %+v\nwant %+v", c.Devices, issueDevices)
	}
	specs, err := DecodeDevices(readFixture(t, path), "devices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(specs, issueDevices) {
		t.Errorf("DecodeDevices:\n got %+v\nwant %+v", specs, issueDevices)
	}
	for path, want := range map[string]string{
		"devices":                     "devices.yaml:3",
		"devices[1]":                  "devices.yaml:8",
		"devices[1].sending_facility": "devices.yaml:11",
		"devices[2].transport":        "devices.yaml:17",
		"devices[2].transport.baud":   "devices.yaml:17",
		"devices[0].addresses[0]":     "devices.yaml:6",
	} {
		if got := c.src[path]; got != want {
			t.Errorf("%s came from %q, want %q", path, got, want)
		}
	}
	d := specs[2].Device()
	if !d.SendsResults || !d.Active || !d.QueriesOrders || d.ReceivesOrders || d.Transport == nil || d.Transport.Baud != 9600 {
		t.Errorf("Device() = %+v", d)
	}
}

// TestDeviceFixtureEveryKey keeps good/devices-every-key.yaml complete:
// every device key is set by some device to something other than its
// default.
func TestDeviceFixtureEveryKey(t *testing.T) {
	c, err := loadFixture(t, filepath.Join(fixtures, "good", "devices-every-key.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range deviceKeyPaths(reflect.TypeFor[DeviceSpec](), "") {
		set := false
		for i, d := range c.Devices {
			if _, ok := c.src["devices["+strconv.Itoa(i)+"]."+key]; ok && nonDefault(fieldAt(reflect.ValueOf(d), key)) {
				set = true
			}
		}
		if !set {
			t.Errorf("devices-every-key.yaml sets %s nowhere to a value other than its default", key)
		}
	}
	if d := c.Devices[1].Device(); d.SendsResults || d.Active || d.Transport.Port != 2575 || d.SendingFacility != "042" {
		t.Errorf("flow-style device decoded wrongly: %+v", d)
	}
	if d := c.Devices[0]; d.Name != "КТ Planmeca Viso" || d.Organization != 2 || d.Addresses[1] != "fd00::5:22" {
		t.Errorf("block-style device decoded wrongly: %+v", d)
	}
}

// deviceKeyPaths lists the leaf keys of a device: name, …, transport.baud.
func deviceKeyPaths(t reflect.Type, prefix string) []string {
	var keys []string
	for _, f := range reflect.VisibleFields(t) {
		p := join(prefix, yamlName(f))
		if st := structOf(f.Type); st != nil {
			keys = append(keys, deviceKeyPaths(st, p)...)
		} else {
			keys = append(keys, p)
		}
	}
	return keys
}

func fieldAt(v reflect.Value, key string) reflect.Value {
	for name := range strings.SplitSeq(key, ".") {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}
			}
			v = v.Elem()
		}
		f, _ := fieldByTag(v.Type(), name)
		v = v.FieldByIndex(f.Index)
	}
	return v
}

// nonDefault: set and not the zero value; for *bool (default true), false.
func nonDefault(v reflect.Value) bool {
	if !v.IsValid() || v.IsZero() {
		return false
	}
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Bool {
		return !v.Elem().Bool()
	}
	return true
}

// onlyDevices reports whether a fixture's top level holds devices: alone,
// so that it is also a device file.
func onlyDevices(t *testing.T, data []byte) bool {
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return false
	}
	_, ok := top["devices"]
	return ok && len(top) == 1
}

// TestDeviceFilesLikeConfig: a fixture holding only devices: is a device
// file too, and DecodeDevices must judge it as the config does, with the
// same messages.
func TestDeviceFilesLikeConfig(t *testing.T) {
	n := 0
	for _, path := range glob(t, "*/devices*.yaml") {
		data := readFixture(t, path)
		if !onlyDevices(t, data) {
			continue
		}
		n++
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			specs, err := DecodeDevices(data, filepath.Base(path))
			c, cerr := loadFixture(t, path)
			if (err == nil) != (cerr == nil) {
				t.Fatalf("DecodeDevices: %v\nconfig: %v", err, cerr)
			}
			if err != nil {
				if err.Error() != cerr.Error() {
					t.Errorf("DecodeDevices:\n%v\nconfig:\n%v", err, cerr)
				}
				return
			}
			if len(specs) != len(c.Devices) || len(specs) > 0 && !reflect.DeepEqual(specs, c.Devices) {
				t.Errorf("DecodeDevices %+v, config %+v", specs, c.Devices)
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d device-only fixtures", n)
	}
}

func TestDecodeDevicesErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"data: x\ndevices: []\n", `d.yaml:1: unknown setting "data" (top-level settings are devices)`},
		{"device:\n  - name: x\n", `d.yaml:1: unknown setting "device" (did you mean "devices"?)`},
		{"devices: []\n---\ndevices: []\n", `d.yaml:2: a second YAML document starts here; the file holds exactly one (remove the "---" line)`},
		{"- name: x\n", `d.yaml:1: the top level must be settings (key: value lines), got a list`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, transport: {port: 70000}}\n",
			`d.yaml:2: devices[0].transport.port must be between 1 and 65535, got 70000`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, organization: -1}\n",
			`d.yaml:2: devices[0].organization must be an organization id, or 0 for the first organization, got -1`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, transport: {serial: COM1, baud: 9600, format: 9X1}}\n",
			`d.yaml:2: devices[0].transport.format: format is data bits, parity, stop bits, e.g. 8N1 or 7E1`},
		{"devices:\n  - {protocol: astm, sender: S}\n", `d.yaml:2: devices[0].name: name is required, at most 64 characters`},
		{"devices:\n  - name: a\n    protocol: astm\n", `d.yaml:2: devices[0].sender: an ASTM device needs its sender name (H-5)`},
		{"devices:\n  - {name: a}\n", `d.yaml:2: devices[0].protocol: protocol is "dicom", "hl7" or "astm" (it is missing)`},
		{"devices:\n  - {name: \"a\\tb\", protocol: astm, sender: S}\n",
			`d.yaml:2: devices[0].name must be one line of text without control characters, got "a\tb"`},
		{"devices:\n  - name: a\n    protocol: astm\n    sender: S\n    results:\n",
			`d.yaml:5: devices[0].results has no value (write one, or "" for empty, or delete the line to keep the default)`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, addresses: 10.0.0.1}\n",
			`d.yaml:2: devices[0].addresses must be a list (a "- " line for each item, or [a, b]), got "10.0.0.1"`},
		{"devices:\n  - &d {name: a, protocol: astm, sender: S}\n  - *d\n",
			`d.yaml:3: devices[1].name: "a" is already the name of devices[0] (line 2); each device needs its own name
d.yaml:3: devices[1].sender: "S" is already the sender of devices[0] (line 2); medgate could not tell their messages apart (give them different senders, different transport lines or disjoint addresses, or set active: false on one)`},
		{"devices:\n  - {name: a, protocol: astm, sender: S}\n  - {name: b, protocol: astm, sender: S, addresses: [10.0.0.1]}\n",
			`d.yaml:3: devices[1].sender: "S" is already the sender of devices[0] (line 2); medgate could not tell their messages apart (give them different senders, different transport lines or disjoint addresses, or set active: false on one)`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, transport: {serial: /dev/ttyUSB0, baud: 9600}}\n  - {name: b, protocol: astm, sender: S}\n",
			`d.yaml:3: devices[1].sender: "S" is already the sender of devices[0] (line 2); medgate could not tell their messages apart (give them different senders, different transport lines or disjoint addresses, or set active: false on one)`},
		{"devices:\n  - {name: a, protocol: hl7, sending_application: A, sending_facility: F}\n  - {name: b, protocol: hl7, sending_application: A, sending_facility: F}\n",
			`d.yaml:3: devices[1].sending_application: "A" is already the sending application of devices[0] (line 2) with the same sending facility "F"; medgate could not tell their messages apart (give them different sending facilities or disjoint addresses, or set active: false on one)`},
		{"devices:\n  - {name: a, protocol: dicom, ae_title: A, addresses: [10.0.0.1, \"::1\"]}\n  - {name: b, protocol: dicom, ae_title: A, addresses: [\"0:0::1\"]}\n",
			`d.yaml:3: devices[1].ae_title: "A" is already the AE title of devices[0] (line 2); medgate could not tell their messages apart (give them different AE titles or disjoint addresses, or set active: false on one)`},
	}
	for _, tt := range tests {
		specs, err := DecodeDevices([]byte(tt.in), "d.yaml")
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n got %v (%+v)\nwant %s", tt.in, err, specs, tt.want)
		}
	}
	// A device on a TCP port of any host takes what the one on that host's
	// port sends: ingest could not tell them apart.
	anyHost := "devices:\n  - {name: a, protocol: astm, sender: S, transport: {host: 10.0.0.1, port: 2575}}\n" +
		"  - {name: b, protocol: astm, sender: S, transport: {port: 2575}}\n"
	if _, err := DecodeDevices([]byte(anyHost), "d.yaml"); err == nil || !strings.Contains(err.Error(), `d.yaml:3: devices[1].sender: "S" is already the sender of devices[0] (line 2)`) {
		t.Errorf("one port, any host: %v", err)
	}
	// Told apart: by host, by disjoint addresses, by the TCP client's address.
	for _, ok := range []string{
		"devices:\n  - {name: a, protocol: astm, sender: S, transport: {host: 10.0.0.1, port: 2575}}\n" +
			"  - {name: b, protocol: astm, sender: S, transport: {host: 10.0.0.2, port: 2575}}\n",
		"devices:\n  - {name: a, protocol: hl7, sending_application: A, addresses: [10.0.0.1]}\n" +
			"  - {name: b, protocol: hl7, sending_application: A, addresses: [10.0.0.2]}\n",
		"devices:\n  - {name: a, protocol: astm, sender: S, transport: {host: 10.0.0.1, port: 2575}}\n" +
			"  - {name: b, protocol: astm, sender: S, addresses: [10.0.0.2]}\n",
	} {
		if specs, err := DecodeDevices([]byte(ok), "d.yaml"); err != nil || len(specs) != 2 {
			t.Errorf("%q: %v, %+v", ok, err, specs)
		}
	}
	// One model on two serial lines: told apart by the line.
	twoLines := "devices:\n  - {name: a, protocol: astm, sender: S, transport: {serial: /dev/ttyUSB0, baud: 9600}}\n" +
		"  - {name: b, protocol: astm, sender: S, transport: {serial: /dev/ttyUSB1, baud: 9600}}\n"
	if specs, err := DecodeDevices([]byte(twoLines), "d.yaml"); err != nil || len(specs) != 2 {
		t.Errorf("two lines: %v, %+v", err, specs)
	}
	for _, in := range []string{"", "# nothing\n", "devices:\n", "devices: []\n", "---\n"} {
		if specs, err := DecodeDevices([]byte(in), "d.yaml"); err != nil || specs != nil {
			t.Errorf("%q: %v, %+v", in, err, specs)
		}
	}
}

// TestDeviceErrorsNameTheKey: every field domain's Validate may name maps
// to a key of DeviceSpec, and so does every other field of domain.Device
// that the spec carries.
func TestDeviceErrorsNameTheKey(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range deviceKeyPaths(reflect.TypeFor[DeviceSpec](), "") {
		keys[k] = true
		keys[strings.Split(k, ".")[0]] = true
	}
	notInSpec := []string{"id", "created", "updated"}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[domain.Device]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if slices.Contains(notInSpec, name) {
			continue
		}
		if !keys[deviceKey(name)] {
			t.Errorf("domain.Device field %s (json %q) maps to %q, which DeviceSpec lacks", f.Name, name, deviceKey(name))
		}
	}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[domain.Transport]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !keys[deviceKey("transport."+name)] {
			t.Errorf("domain.Transport field %s has no key in DeviceTransport", f.Name)
		}
	}
	for field, want := range map[string]string{
		"aeTitle": "ae_title", "sendingApplication": "sending_application", "addresses[3]": "addresses[3]",
		"matchingPolicy": "matching", "transport.baud": "transport.baud", "codeMap": "code_map",
	} {
		if got := deviceKey(field); got != want {
			t.Errorf("deviceKey(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestSpecOfAndDevice(t *testing.T) {
	d := domain.Device{
		ID: 7, OrganizationID: 3, BranchID: 2, Name: "xn", Protocol: "astm", Sender: "XN",
		Addresses: []string{"10.0.0.1"}, Transport: &domain.Transport{Host: "h", Port: 1},
		Encoding: "cp866", CodeMap: "m", MatchingPolicy: "strict", SendsResults: false,
		QueriesOrders: true, ReceivesOrders: true, Active: true, Created: time.Now(),
	}
	s := SpecOf(d)
	if s.Results == nil || *s.Results || s.Active != nil || s.Organization != 3 {
		t.Errorf("SpecOf = %+v", s)
	}
	back := s.Device()
	d.ID, d.BranchID, d.Created = 0, 0, time.Time{}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("Device(SpecOf(d)):\n got %+v\nwant %+v", back, d)
	}
	// The spec owns its slices and pointers.
	s.Addresses[0], s.Transport.Port = "x", 9
	if d.Addresses[0] != "10.0.0.1" || d.Transport.Port != 1 {
		t.Error("SpecOf shares memory with the device")
	}
	if got := SpecOf(domain.Device{Name: "a", Addresses: []string{}, SendsResults: true, Active: true}); !reflect.DeepEqual(got, DeviceSpec{Name: "a"}) {
		t.Errorf("SpecOf of a default device = %+v", got)
	}
	if d := (DeviceSpec{Active: new(false), Results: new(true)}).Device(); d.Active || !d.SendsResults {
		t.Errorf("Device() = %+v", d)
	}
}

func TestEncodeDevices(t *testing.T) {
	out, err := EncodeDevices(issueDevices)
	if err != nil {
		t.Fatal(err)
	}
	want := `devices:
  - name: ct-1
    protocol: dicom
    ae_title: CT1
    addresses: [10.0.5.21]
    encoding: iso-ir-144
  - name: bc-5380
    protocol: hl7
    sending_application: BC-5380
    sending_facility: LAB
    encoding: windows-1251
    code_map: mindray-bc5380
  - name: xn-550
    protocol: astm
    sender: XN-550
    transport: {serial: /dev/ttyUSB0, baud: 9600, format: 8N1}
    code_map: sysmex-xn
    query: true
`
	if string(out) != want {
		t.Errorf("EncodeDevices:\n%s\nwant:\n%s", out, want)
	}
	if out, err := EncodeDevices(nil); err != nil || string(out) != "devices: []\n" {
		t.Errorf("EncodeDevices(nil) = %q, %v", out, err)
	}
	if _, err := EncodeDevices([]DeviceSpec{{Name: "bad\xff"}}); err == nil {
		t.Error("EncodeDevices accepted text that is not UTF-8")
	}
}

// TestEncodeDecodeRoundTrip: what EncodeDevices writes, DecodeDevices reads
// back as the same specs, including values YAML would otherwise read as
// something else.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	c, err := loadFixture(t, filepath.Join(fixtures, "good", "devices-every-key.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var specs []DeviceSpec
	specs = append(specs, issueDevices...)
	specs = append(specs, c.Devices...)
	for i, name := range []string{"yes", "no", "on", "~", "null", "123", "0x1F", "1.5", "1e3", ".nan", "- x", "a: b",
		"# c", "'q'", `"d"`, "[x]", "{y}", "*a", "&b", "!t", "%p", "@r", "`b`", "Ёлка «КТ»", "x #y", "2024-01-01", "", "ab\\c"} {
		p := "S" + strconv.Itoa(i)
		specs = append(specs, DeviceSpec{Name: "n" + strconv.Itoa(i) + name, Protocol: "astm", Sender: p, CodeMap: name,
			Encoding: "utf-8", Results: new(i%2 == 0), Active: new(i%3 == 0), Addresses: []string{"::1", "10.0.0." + strconv.Itoa(i)}})
	}
	out, err := EncodeDevices(specs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeDevices(out, "export.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(back) != len(specs) {
		t.Fatalf("%d devices back, want %d", len(back), len(specs))
	}
	for i := range specs {
		if !sameSpec(specs[i], back[i]) {
			t.Errorf("devices[%d]:\n got %+v\nwant %+v", i, back[i], specs[i])
		}
	}
}

// kitchen exercises every kind DecodeYAML supports.
type kitchen struct {
	Name    string         `yaml:"name"`
	Ratio   float64        `yaml:"ratio"`
	Small   float32        `yaml:"small"`
	Count   uint8          `yaml:"count"`
	Limit   *int           `yaml:"limit"`
	On      *bool          `yaml:"on"`
	Wait    time.Duration  `yaml:"wait"`
	Inner   *kitchenInner  `yaml:"inner"`
	Groups  []kitchenGroup `yaml:"groups"`
	Matrix  [][]float64    `yaml:"matrix"`
	Tree    *kitchenTree   `yaml:"tree"`
	Ignored string
	skipped string
}

type kitchenInner struct {
	A int    `yaml:"a"`
	B string `yaml:"b"`
}

type kitchenGroup struct {
	Title string          `yaml:"title"`
	Items []string        `yaml:"items"`
	Inner []*kitchenInner `yaml:"inner"`
}

type kitchenTree struct {
	Label string        `yaml:"label"`
	Kids  []kitchenTree `yaml:"kids"`
}

func TestDecodeYAML(t *testing.T) {
	in := `
name: k
ratio: 0.25
small: 3
count: 255
limit: -4
on: false
wait: 1m30s
inner: {a: 1, b: x}
groups:
  - title: g0
    items: [a, b]
  - title: g1
    inner:
      - a: 2
matrix: [[1, 2.5], []]
tree: {label: r, kids: [{label: a}, {label: b, kids: [{label: c}]}]}
`
	k := kitchen{Name: "old", Ignored: "kept", skipped: "kept"}
	if err := DecodeYAML([]byte(in), "k.yaml", &k); err != nil {
		t.Fatal(err)
	}
	if k.Name != "k" || k.Ratio != 0.25 || k.Small != 3 || k.Count != 255 || *k.Limit != -4 || *k.On ||
		k.Wait != 90*time.Second || k.Inner.B != "x" || k.Groups[1].Inner[0].A != 2 || k.Matrix[0][1] != 2.5 ||
		k.Tree.Kids[1].Kids[0].Label != "c" || k.Ignored != "kept" || k.skipped != "kept" {
		t.Errorf("decoded %+v", k)
	}

	// Overlay: absent keys keep their values; a list is replaced whole.
	if err := DecodeYAML([]byte("groups: [{title: only}]\n"), "k.yaml", &k); err != nil {
		t.Fatal(err)
	}
	if k.Name != "k" || len(k.Groups) != 1 || k.Groups[0].Title != "only" || k.Groups[0].Items != nil {
		t.Errorf("overlay: %+v", k)
	}

	before := deepCopy(reflect.ValueOf(k)).Interface().(kitchen)
	limit := k.Limit
	bad := `
ratio: "0.5"
small: 1e39
count: -1
limit: 1.5
on: yes
inner: {a: x, c: 1}
groups:
  - title: [t]
    items: [a, {b: c}, ~]
  - titel: x
matrix: [[1, .nan], x]
tree: &t {label: r, kids: [*t]}
`
	err := DecodeYAML([]byte(bad), "k.yaml", &k)
	want := `k.yaml:2: ratio must be a number such as 2 or 0.5, got "0.5" (write the number without quotes)
k.yaml:3: small must be a number such as 2 or 0.5, got 1e39
k.yaml:4: count must be a whole number, 0 or more, got -1
k.yaml:5: limit must be a whole number, got 1.5
k.yaml:6: on must be true or false, got "yes"
k.yaml:7: inner.a must be a whole number, got "x"
k.yaml:7: unknown setting "inner.c" (settings in "inner" are a, b)
k.yaml:9: groups[0].title takes a single value, not a list
k.yaml:10: groups[0].items[1] takes a single value, not a section
k.yaml:10: groups[0].items[2] is an empty list item (give it a value or remove its "-")
k.yaml:11: unknown setting "groups[1].titel" (did you mean "groups[1].title"?)
k.yaml:12: matrix[0][1] must be a number such as 2 or 0.5, got .nan
k.yaml:12: matrix[1] must be a list (a "- " line for each item, or [a, b]), got "x"
k.yaml:13: tree.kids[0] is an alias (*t) to a section or list that contains it`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if !reflect.DeepEqual(k, before) || k.Limit != limit || *k.Limit != -4 {
		t.Errorf("a failed DecodeYAML changed v: %+v", k)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Where != "k.yaml:2" || ce.Setting != "ratio" {
		t.Errorf("first error %#v", ce)
	}

	// Aliases that multiply stop early instead of walking forever.
	var bomb strings.Builder
	bomb.WriteString("tree:\n  kids:\n    - &a0 {label: x}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&bomb, "    - &a%d {kids: [*a%d, *a%d]}\n", i, i-1, i-1)
	}
	var tree struct {
		Tree kitchenTree `yaml:"tree"`
	}
	start := time.Now()
	err = DecodeYAML([]byte(bomb.String()), "t.yaml", &tree)
	if err == nil || !strings.Contains(err.Error(), "aliases (*name) expand to too many values") {
		t.Errorf("alias bomb: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("alias bomb took %v", time.Since(start))
	}
}

func TestDecodeYAMLUnsupported(t *testing.T) {
	var s struct{ X int }
	tests := []struct {
		v    any
		want string
	}{
		{s, "config.DecodeYAML: need a non-nil pointer to a struct, got struct { X int }"},
		{(*kitchen)(nil), "config.DecodeYAML: need a non-nil pointer to a struct, got *config.kitchen"},
		{new(int), "config.DecodeYAML: need a non-nil pointer to a struct, got *int"},
		{&struct {
			M map[string]string `yaml:"m"`
		}{}, "config.DecodeYAML: field struct { M map[string]string \"yaml:\\\"m\\\"\" }.M has type map[string]string, which is not supported"},
		{&struct {
			L []any `yaml:"l"`
		}{}, "config.DecodeYAML: field struct { L []interface {} \"yaml:\\\"l\\\"\" }.L[] has type interface {}, which is not supported"},
		{&struct {
			kitchenInner
		}{}, "config.DecodeYAML: embedded field struct { config.kitchenInner }.kitchenInner is not supported"},
	}
	for _, tt := range tests {
		if err := DecodeYAML([]byte("x: 1\n"), "x.yaml", tt.v); err == nil || err.Error() != tt.want {
			t.Errorf("%T:\n got %v\nwant %s", tt.v, err, tt.want)
		}
	}
	// Fields without a yaml name, or named "-", are not settable.
	var v struct {
		A string `yaml:"-"`
		B string
	}
	for _, in := range []string{"-: x\n", "b: x\n", "B: x\n", "\"\": x\n"} {
		if err := DecodeYAML([]byte(in), "x.yaml", &v); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// TestDecodeReplacesDevices: a later file's devices: replaces the earlier
// list, with the lines it came from.
func TestDecodeReplacesDevices(t *testing.T) {
	c := Default()
	two := "devices:\n  - {name: a, protocol: astm, sender: A}\n  - {name: b, protocol: astm, sender: B}\n"
	if err := Decode(strings.NewReader(two), "one.yaml", &c); err != nil {
		t.Fatal(err)
	}
	if err := Decode(strings.NewReader("log: {level: warn}\n"), "two.yaml", &c); err != nil || len(c.Devices) != 2 {
		t.Fatalf("devices not kept: %v %+v", err, c.Devices)
	}
	if err := Decode(strings.NewReader("\n\ndevices:\n  - {name: c, protocol: astm}\n"), "three.yaml", &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Devices) != 1 || c.Devices[0].Name != "c" {
		t.Fatalf("devices not replaced: %+v", c.Devices)
	}
	if _, ok := c.src["devices[1].name"]; ok {
		t.Error("stale source for devices[1]")
	}
	err := c.Validate()
	if err == nil || err.Error() != "three.yaml:4: devices[0].sender: an ASTM device needs its sender name (H-5)" {
		t.Errorf("Validate = %v", err)
	}
	// Devices set in code have no file line.
	c = Default()
	c.Devices = []DeviceSpec{{Name: "x", Protocol: "dicom"}}
	if err := c.Validate(); err == nil || err.Error() != "devices[0].ae_title: a DICOM device needs its calling AE title (1 to 16 ASCII characters, no backslash)" {
		t.Errorf("Validate = %v", err)
	}
}

// TestDeviceBranch: a device's branch is kept in the file by its name,
// written after the organization, and read as strictly as the other text.
func TestDeviceBranch(t *testing.T) {
	in := "devices:\n  - name: bc-5380\n    protocol: hl7\n    sending_application: BC-5380\n    organization: 2\n    branch: Филиал «Тверская»\n"
	specs, err := DecodeDevices([]byte(in), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 1 || specs[0].Branch != "Филиал «Тверская»" || specs[0].Organization != 2 {
		t.Fatalf("decoded %+v", specs)
	}
	if d := specs[0].Device(); d.BranchID != 0 || d.OrganizationID != 2 {
		t.Errorf("Device() = %+v: the branch is found by the caller", d)
	}
	out, err := EncodeDevices(specs)
	if err != nil || string(out) != in {
		t.Errorf("EncodeDevices = %v\n%s\nwant\n%s", err, out, in)
	}
	for _, tt := range []struct{ in, want string }{
		{"devices:\n  - {name: a, protocol: astm, sender: S, branch: \" Филиал\"}\n",
			`d.yaml:2: devices[0].branch must not start or end with a space, got " Филиал"`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, branch: \"a\\nb\"}\n",
			`d.yaml:2: devices[0].branch must be one line of text without control characters, got "a\nb"`},
		{"devices:\n  - {name: a, protocol: astm, sender: S, branch: [a]}\n",
			`d.yaml:2: devices[0].branch takes a single value, not a list`},
	} {
		if _, err := DecodeDevices([]byte(tt.in), "d.yaml"); err == nil || err.Error() != tt.want {
			t.Errorf("%q:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}
