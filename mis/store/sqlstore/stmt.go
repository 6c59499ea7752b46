package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// Statements are prepared once and reused: parsing SQL was a third of the
// ingest path's CPU. database/sql keeps a prepared statement per
// connection, so this holds for SQLite's single writer and PostgreSQL's
// pool alike. Statements built with variable IN lists vary in text; the
// cache stops growing at maxStmts and further ones run unprepared.

const maxStmts = 256

type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// get returns the prepared statement for q, preparing it now, or nil to run
// q unprepared. Only for callers that hold no connection of c's pool.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if st := c.lookup(q, false); st != nil {
		return st
	}
	c.prepare(ctx, q)
	return c.lookup(q, false)
}

// lookup returns q's statement if prepared; else, with want, it notes q to
// be prepared once the caller's connection is free (see prepareWanted). A
// transaction must not prepare on the pool itself: SQLite's writer has one
// connection, and the transaction holds it.
func (c *stmtCache) lookup(q string, want bool) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.m[q]
	if st == nil && want && len(c.m)+len(c.wanted) < maxStmts {
		c.wanted[q] = true
	}
	return st
}

func (c *stmtCache) prepare(ctx context.Context, q string) {
	c.mu.Lock()
	full := len(c.m) >= maxStmts
	_, done := c.m[q]
	c.mu.Unlock()
	if full || done {
		return
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return // the unprepared run reports the error in context
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[q]; ok {
		st.Close()
		return
	}
	c.m[q] = st
}

// prepareWanted prepares the statements transactions ran unprepared. Call
// it after a transaction ends.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	var qs []string
	for q := range c.wanted {
		qs = append(qs, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range qs {
		c.prepare(ctx, q)
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// txn is a transaction whose statements come from the writer's cache.
type txn struct {
	*sql.Tx
	c *stmtCache
	d *Dialect
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.c.lookup(q, true); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.c.lookup(q, true); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.c.lookup(q, true); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// pool is the reader pool with cached statements.
type pool struct {
	*sql.DB
	c *stmtCache
}

func (p *pool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.c.get(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, q, args...)
}

func (p *pool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.c.get(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, q, args...)
}
