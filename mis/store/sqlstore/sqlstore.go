// Package sqlstore implements store.Store once, in SQL that both dialects
// accept: $N placeholders, RETURNING, ON CONFLICT upserts, row values. The
// sqlite and postgres packages open the database, own their migrations and
// say how their drivers report a unique violation.
//
// Times are stored as UTC microseconds since the Unix epoch (BIGINT) and
// dates as YYYY-MM-DD text, so both dialects sort and compare them alike.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/store"
)

// Dialect is what differs between the databases.
type Dialect struct {
	Name string
	// Migrations holds NNNN_name.sql files applied in order, each in its own
	// transaction.
	Migrations fs.FS
	// IsUniqueViolation reports whether err is a unique-constraint failure.
	IsUniqueViolation func(err error) bool
	// MigrationLock, if set, runs first in the migration transaction so that
	// several instances starting together migrate one at a time.
	MigrationLock string
	// NextIDs, if set, is a query taking ($1 = n) that returns n unused ids
	// for observations, so a report's rows go in with one statement.
	NextIDs string
	// GroupCommit runs the ingest path's transactions through one committer
	// (see group.go): right for SQLite's single writer; PostgreSQL commits
	// concurrent transactions itself, and one goroutine would serialize
	// their network round trips.
	GroupCommit bool
	// QuestionMarks: bind the many-row statements with ? rather than $N.
	// modernc's SQLite driver looks each $N up by name, which is quadratic
	// in the number of parameters.
	QuestionMarks bool
	// AdvisoryLock and AdvisoryUnlock, if set, take ($1 = the lease's
	// name; the lock query returns a bool) and give up a session lock that
	// survives transactions: named leases across instances (lease.go).
	AdvisoryLock, AdvisoryUnlock string
	// Durable, if set, makes the commits before it durable (SQLite: an
	// fdatasync of the write-ahead log, the database committing with
	// synchronous=NORMAL). No caller hears of a commit before Durable has
	// returned after it, so nothing is acknowledged before it is on disk;
	// the group committer meanwhile runs the next group instead of waiting
	// for the disk with the write lock held (see group.go).
	Durable func() error
}

// Store is the shared implementation of store.Store.
type Store struct {
	w     *sql.DB // writer pool: one connection on SQLite
	wc    *stmtCache
	r     *pool // reader pool; the writer's on PostgreSQL
	d     Dialect
	group *committer // group commit for the ingest path
	// closers run after the pools close (OnClose).
	closers []func() error
}

// OnClose registers fn to run when the store closes, after its pools.
func (s *Store) OnClose(fn func() error) { s.closers = append(s.closers, fn) }

var _ store.Store = (*Store)(nil)

// New wraps open pools and applies pending migrations. For SQLite, w is a
// single-connection pool taking write locks at BEGIN; r serves reads.
func New(ctx context.Context, w, r *sql.DB, d Dialect) (*Store, error) {
	s := &Store{w: w, wc: newStmtCache(w), d: d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	// Prepared statements are made after migrating, against the final schema.
	s.r = &pool{DB: r, c: newStmtCache(r)}
	if r == w {
		s.r.c = s.wc
	}
	if d.GroupCommit {
		var durable func() error
		if d.Durable != nil {
			durable = s.durable
		}
		s.group = newCommitter(w, s.wc, &s.d, durable)
	}
	return s, nil
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return err
	}
	if s.r.DB != s.w {
		return s.r.PingContext(ctx)
	}
	return nil
}

// Close finishes the group in flight and closes the pools.
func (s *Store) Close() error {
	if s.group != nil {
		s.group.close()
	}
	s.wc.close()
	if s.r.c != s.wc {
		s.r.c.close()
	}
	err := s.w.Close()
	if s.r.DB != s.w {
		err = errors.Join(err, s.r.Close())
	}
	for _, fn := range s.closers {
		err = errors.Join(err, fn())
	}
	return err
}

// DB exposes the writer pool for tools such as benchmark loaders.
func (s *Store) DB() *sql.DB { return s.w }

// Dialect returns the dialect's name.
func (s *Store) Dialect() string { return s.d.Name }

// ingestTx runs fn for the ingest path: in the next commit group where the
// dialect groups commits, else in a transaction of its own.
func (s *Store) ingestTx(ctx context.Context, fn func(tx *txn) error) error {
	if s.group != nil {
		return s.group.run(ctx, fn)
	}
	return s.inTx(ctx, fn)
}

// inTx runs fn in a write transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	sqltx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &txn{Tx: sqltx, c: s.wc, d: &s.d}
	defer s.wc.prepareWanted(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return s.durable()
}

// durable makes the commits so far durable where the dialect defers that.
func (s *Store) durable() error {
	if s.d.Durable == nil {
		return nil
	}
	if err := s.d.Durable(); err != nil {
		return fmt.Errorf("commit not made durable: %w", err)
	}
	return nil
}

// migrate applies pending migrations in one transaction, so a failed
// migration leaves the schema as it was.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(s.d.Migrations, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return s.inTx(ctx, func(tx *txn) error {
		if s.d.MigrationLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.MigrationLock); err != nil {
				return fmt.Errorf("%s migration lock: %w", s.d.Name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("migrations table: %w", err)
		}
		for _, name := range names {
			v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: name must start with its number", name)
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, err := fs.ReadFile(s.d.Migrations, name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s migration %s: %w", s.d.Name, name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`,
				v, name, micros(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// SchemaVersion is the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// Time helpers: UTC microseconds.
func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return micros(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// nullID maps the zero ID to NULL for optional references.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullFloat(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func floatPtr(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	f := v.Float64
	return &f
}

// inList writes "$k,$k+1,…" for ids, appending them to args.
func inList(args []any, ids []int64) (string, []any) {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		args = append(args, id)
		b.WriteString("$" + strconv.Itoa(len(args)))
	}
	return b.String(), args
}

func contains(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

// pageLimit applies the default and maximum page sizes.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

// now is the store's clock, truncated to what it keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
