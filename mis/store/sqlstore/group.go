package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit: the ingest path's transactions are run by one goroutine
// that takes every request waiting at that moment into one database
// transaction, each inside a savepoint of its own. A request's failure
// rolls back its savepoint only; one commit — one fsync — then makes the
// whole group durable, and each caller hears only after that commit. Many
// devices sending at once share fsyncs instead of queueing for them, and
// nothing is acknowledged before it is on disk.
//
// Where the dialect makes commits durable after the fact (Dialect.Durable),
// a second goroutine does that for each committed group and only then
// answers its callers, while the committer already runs the next group:
// the write lock is never held across a disk flush, and one flush covers
// every group committed before it.

const maxGroup = 64

type groupReq struct {
	ctx  context.Context
	fn   func(tx *txn) error
	done chan error
}

type committer struct {
	once sync.Once
	db   *sql.DB
	c    *stmtCache
	d    *Dialect
	reqs chan *groupReq
	quit chan struct{}
	done chan struct{}
	// durable, when the dialect defers durability, makes the groups sent
	// to committed durable before their callers hear.
	durable   func() error
	committed chan committedGroup
	synced    chan struct{}
}

// committedGroup is a committed group's callers with their results.
type committedGroup struct {
	group []*groupReq
	errs  []error
}

var errClosed = errors.New("store closed")

// newCommitter starts the committer; durable, if not nil, makes commits
// durable after the fact (Dialect.Durable).
func newCommitter(db *sql.DB, stmts *stmtCache, d *Dialect, durable func() error) *committer {
	c := &committer{db: db, c: stmts, d: d, reqs: make(chan *groupReq), quit: make(chan struct{}), done: make(chan struct{})}
	if durable != nil {
		c.durable = durable
		c.committed = make(chan committedGroup, maxGroup)
		c.synced = make(chan struct{})
		go c.syncLoop()
	}
	go c.loop()
	return c
}

// syncLoop makes committed groups durable, as many as have been committed
// by the time it gets to them with one flush, then answers their callers.
func (c *committer) syncLoop() {
	defer close(c.synced)
	for g := range c.committed {
		batch := []committedGroup{g}
	collect:
		for {
			select {
			case g, ok := <-c.committed:
				if !ok {
					break collect
				}
				batch = append(batch, g)
			default:
				break collect
			}
		}
		err := c.durable()
		for _, g := range batch {
			for i, r := range g.group {
				if g.errs[i] == nil {
					g.errs[i] = err
				}
				r.done <- g.errs[i]
			}
		}
	}
}

// run executes fn in the next group and returns after the group commits.
func (c *committer) run(ctx context.Context, fn func(tx *txn) error) error {
	r := &groupReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once taken, the request may commit even if ctx ends: wait for the
	// truth rather than report a failure that did not happen.
	return <-r.done
}

func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	if c.committed != nil {
		defer func() {
			close(c.committed)
			<-c.synced
		}()
	}
	for {
		var first *groupReq
		select {
		case first = <-c.reqs:
		case <-c.quit:
			return
		}
		group := []*groupReq{first}
	collect:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break collect
			}
		}
		c.commit(group)
		c.c.prepareWanted(context.Background())
	}
}

func (c *committer) commit(group []*groupReq) {
	errs := make([]error, len(group))
	ctx := context.Background() // the group must not fail because one caller left
	sqltx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			r.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	tx := &txn{Tx: sqltx, c: c.c, d: c.d}
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT g"); err != nil {
			errs[i] = err
			continue
		}
		if err := r.fn(tx); err != nil {
			errs[i] = err
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT g"); rerr != nil {
				// The transaction is unusable: fail everyone in it.
				_ = tx.Rollback()
				for j, r := range group {
					if errs[j] == nil {
						errs[j] = fmt.Errorf("group rolled back: %w", rerr)
					}
					r.done <- errs[j]
				}
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT g"); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	err = tx.Commit()
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("commit: %w", err)
			}
		}
	}
	if c.committed != nil && err == nil {
		c.committed <- committedGroup{group, errs}
		return
	}
	for i, r := range group {
		r.done <- errs[i]
	}
}
