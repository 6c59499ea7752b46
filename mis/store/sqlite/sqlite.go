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
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "busy_timeout(10000)"} {
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
	r.SetMaxOpenConns(4)
	s, err := sqlstore.New(ctx, w, r, Dialect())
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return s, nil
}
