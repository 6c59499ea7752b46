// Package sqlite opens medgate's embedded store: modernc.org/sqlite (pure
// Go) in WAL mode, one writer connection that takes the write lock at BEGIN,
// and a small pool of readers. Commits are fsync'd (synchronous=FULL), so an
// acknowledged message survives a crash.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/medgate/medgate/mis/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's flavour of the shared SQL core.
func Dialect() sqlstore.Dialect {
	sub, _ := fs.Sub(migrations, "migrations")
	return sqlstore.Dialect{
		Name:              "sqlite",
		Migrations:        sub,
		IsUniqueViolation: isUniqueViolation,
		QuestionMarks:     true,
		GroupCommit:       true,
		// The writer is the only connection and holds the write lock, so the
		// ids above both the current maximum and the highest ever given
		// (AUTOINCREMENT's sqlite_sequence) stay free until it commits.
		NextIDs: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
			SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'observations'), 0),
				COALESCE((SELECT max(id) FROM observations), 0)) + i FROM n`,
	}
}

func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	return open(ctx, path, nil)
}

// open is Open; wrap, if set, wraps the flush of the write-ahead log
// (tests hold or fail it).
func open(ctx context.Context, path string, wrap func(sync func() error) func() error) (*sqlstore.Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	pragmas := url.Values{}
	// synchronous(NORMAL) with Dialect.Durable: a commit writes its frames to
	// the write-ahead log without waiting for the disk, and walFile.Sync
	// flushes the log before any caller hears of the commit — the same
	// guarantee as synchronous=FULL, without the writer holding the write
	// lock through every flush. Checkpoints still sync the log before and
	// the database after copying.
	//
	// temp_store(MEMORY): group commit runs each caller in a savepoint, and a
	// savepoint's sub-journal would otherwise be a temporary file written
	// with a system call per page. A 64 MiB page cache keeps the hot index
	// pages of a large database in memory.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", "busy_timeout(10000)",
		"temp_store(MEMORY)", "cache_size(-65536)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + pragmas.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// One writer: SQLite serializes writes anyway, and a single connection
	// turns lock contention into queueing in Go instead of SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn+"&"+url.Values{"_pragma": {"query_only(1)"}}.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Keep every reader open: database/sql closes idle connections beyond
	// two by default, and a new one re-runs the pragmas and re-parses the
	// schema — most of a lookup's cost under concurrent ingest.
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	r.SetConnMaxIdleTime(0)
	d := Dialect()
	wal := &walFile{path: path + "-wal"}
	d.Durable = wal.Sync
	if wrap != nil {
		d.Durable = wrap(wal.Sync)
	}
	s, err := sqlstore.New(ctx, w, r, d)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s.OnClose(wal.Close)
	return s, nil
}

// walFile flushes the database's write-ahead log to disk. It opens the log
// on first use and again if SQLite replaced the file (it deletes the log
// when the last connection closes).
type walFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	fi   os.FileInfo
}

// Sync makes every commit written to the log so far durable.
func (w *walFile) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	fi, err := os.Stat(w.path)
	if err != nil {
		return fmt.Errorf("sqlite: write-ahead log: %w", err)
	}
	if w.f == nil || !os.SameFile(fi, w.fi) {
		if w.f != nil {
			w.f.Close()
		}
		if w.f, err = os.Open(w.path); err != nil {
			return fmt.Errorf("sqlite: write-ahead log: %w", err)
		}
		w.fi = fi
	}
	// fdatasync, as SQLite syncs its log: the data and the file size.
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("sqlite: sync write-ahead log: %w", err)
	}
	return nil
}

func (w *walFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
