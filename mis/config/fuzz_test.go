package config

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode: any bytes give a config or an error naming where; never a
// panic; the input read in two pieces decodes the same.
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "config", dir, "*.yaml"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b, uint16(len(b)/2))
			}
		}
	}
	f.Add([]byte("http: {addr: [1, 2]}\n"), uint16(5))
	f.Add([]byte("&a [*a]"), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		if len(data) > 1<<14 {
			return
		}
		whole := Default()
		errWhole := Decode(bytes.NewReader(data), "fuzz.yaml", &whole)
		cut := int(split) % (len(data) + 1)
		parts := Default()
		errParts := Decode(io.MultiReader(bytes.NewReader(data[:cut]), bytes.NewReader(data[cut:])), "fuzz.yaml", &parts)
		if (errWhole == nil) != (errParts == nil) || errWhole != nil && errWhole.Error() != errParts.Error() {
			t.Fatalf("split changed the result: %v vs %v", errWhole, errParts)
		}
		if errWhole != nil {
			if !strings.HasPrefix(errWhole.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", errWhole)
			}
			if !reflect.DeepEqual(whole, Default()) {
				t.Fatal("failed decode changed the config")
			}
			return
		}
		_ = whole.Validate() // must not panic on anything Decode accepted
	})
}

// FuzzDecodeYAML: any bytes give devices or an error naming where, never a
// panic; devices that DecodeDevices accepts, EncodeDevices writes and
// DecodeDevices reads back the same. DecodeYAML into a struct of every
// supported kind either succeeds or leaves it unchanged with an error
// naming the file. (DecodeYAML takes bytes, so there is no reader to split;
// FuzzDecode splits the config's.)
func FuzzDecodeYAML(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "config", dir, "devices*.yaml"))
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("devices: [{name: a, protocol: astm, sender: S, code_map: \"x\\n y \"}]\n"))
	f.Add([]byte("name: k\nratio: 1.5\ngroups: [{title: t, items: [a], inner: [{a: 1}]}]\nmatrix: [[1]]\ntree: &t {kids: [*t]}\n"))
	f.Add([]byte("devices:\n  - &d {name: a, protocol: dicom, ae_title: A}\n  - *d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 {
			return
		}
		specs, err := DecodeDevices(data, "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
		} else {
			out, err := EncodeDevices(specs)
			if err != nil {
				t.Fatalf("EncodeDevices of accepted devices: %v\n%+v", err, specs)
			}
			back, err := DecodeDevices(out, "export.yaml")
			if err != nil {
				t.Fatalf("encoded devices do not decode: %v\n%s", err, out)
			}
			if len(back) != len(specs) {
				t.Fatalf("%d devices back, want %d", len(back), len(specs))
			}
			for i := range specs {
				if !sameSpec(specs[i], back[i]) {
					t.Fatalf("devices[%d] changed:\n%+v\n%+v", i, specs[i], back[i])
				}
				_ = specs[i].Device()
			}
		}

		k := kitchen{Name: "old", Groups: []kitchenGroup{{Title: "g"}}}
		before := deepCopy(reflect.ValueOf(k)).Interface().(kitchen)
		if err := DecodeYAML(data, "fuzz.yaml", &k); err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if !reflect.DeepEqual(k, before) {
				t.Fatal("failed DecodeYAML changed v")
			}
		}
	})
}
