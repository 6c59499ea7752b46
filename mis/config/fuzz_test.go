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
