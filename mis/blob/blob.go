// Package blob keeps large immutable objects — DICOM instances — as files,
// named by the SHA-256 of their content. Identical bytes are kept once;
// different bytes never overwrite each other.
package blob

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// FS is a blob store in a directory. Objects live under
// <Dir>/<aa>/<bb>/<sha256 hex>; <Dir>/tmp is where writers stage files
// so that Put can rename them into place on the same filesystem.
type FS struct {
	Dir string
}

// ErrBadKey is a key this store did not issue.
var ErrBadKey = errors.New("blob: invalid key")

// Open creates the directory layout.
func Open(dir string) (*FS, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return &FS{Dir: dir}, nil
}

// TempDir is where to stage files for Put.
func (f *FS) TempDir() string { return filepath.Join(f.Dir, "tmp") }

// Key names the object with this digest.
func Key(digest [32]byte) string {
	h := hex.EncodeToString(digest[:])
	return h[:2] + "/" + h[2:4] + "/" + h
}

// Put moves the file at path, whose content has the given SHA-256 and
// which the caller has already fsync'd, into the store and returns its
// key. When the store holds that content already, the file is removed.
// The directory entry is fsync'd before Put returns, so the object
// survives a crash from then on.
func (f *FS) Put(ctx context.Context, path string, digest [32]byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	key := Key(digest)
	dst := f.path(key)
	if _, err := os.Stat(dst); err == nil {
		return key, os.Remove(path)
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("blob store: %w", err)
	}
	if err := os.Rename(path, dst); err != nil {
		if err := copyFile(path, dst); err != nil { // another filesystem
			return "", fmt.Errorf("blob store: %w", err)
		}
		_ = os.Remove(path)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("blob store: %w", err)
	}
	return key, nil
}

// Open opens an object for reading.
func (f *FS) Open(key string) (*os.File, error) {
	if !validKey(key) {
		return nil, ErrBadKey
	}
	return os.Open(f.path(key))
}

// Path is the object's file, for readers that take a path.
func (f *FS) Path(key string) (string, error) {
	if !validKey(key) {
		return "", ErrBadKey
	}
	return f.path(key), nil
}

func (f *FS) path(key string) string { return filepath.Join(f.Dir, filepath.FromSlash(key)) }

// validKey keeps keys from naming anything outside the store.
func validKey(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || len(parts[2]) != 64 || parts[0] != parts[2][:2] || parts[1] != parts[2][2:4] {
		return false
	}
	_, err := hex.DecodeString(parts[2])
	return err == nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".part"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
