package blob

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func stage(t *testing.T, f *FS, content string) (string, [32]byte) {
	t.Helper()
	p, err := os.CreateTemp(f.TempDir(), "in-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteString(content); err != nil {
		t.Fatal(err)
	}
	p.Close()
	return p.Name(), sha256.Sum256([]byte(content))
}

func TestPutOpenDedup(t *testing.T) {
	f, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p1, d1 := stage(t, f, "instance one")
	k1, err := f.Put(ctx, p1, d1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p1); !os.IsNotExist(err) {
		t.Errorf("staged file still there after Put: %v", err)
	}
	// The same bytes again: one copy, same key, staged file gone.
	p2, d2 := stage(t, f, "instance one")
	k2, err := f.Put(ctx, p2, d2)
	if err != nil || k2 != k1 {
		t.Fatalf("second Put = %q, %v; want %q", k2, err, k1)
	}
	if _, err := os.Stat(p2); !os.IsNotExist(err) {
		t.Errorf("duplicate staged file kept: %v", err)
	}
	// Different bytes never overwrite.
	p3, d3 := stage(t, f, "instance one, changed")
	k3, err := f.Put(ctx, p3, d3)
	if err != nil || k3 == k1 {
		t.Fatalf("third Put = %q, %v", k3, err)
	}
	r, err := f.Open(k1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	if string(b) != "instance one" {
		t.Errorf("read %q", b)
	}
}

func TestBadKeys(t *testing.T) {
	f, _ := Open(t.TempDir())
	for _, k := range []string{"", "../../etc/passwd", "aa/bb/" + string(make([]byte, 64)),
		"00/00/../../../../../../etc/passwd0000000000000000000000000000000000000",
		filepath.Join("ab", "cd", "abce000000000000000000000000000000000000000000000000000000000000")} {
		if _, err := f.Open(k); err != ErrBadKey {
			t.Errorf("Open(%q) = %v, want ErrBadKey", k, err)
		}
	}
}
