package store

import (
	"context"
	"log/slog"
	"time"
)

// Leaser hands out named leases that one medgate holds at a time among all
// sharing the database, for work that must run once per database (the
// event publisher, the outbound order sender): on PostgreSQL a session
// advisory lock, on SQLite a lock within the process.
type Leaser interface {
	// TryLease takes the lease if nobody holds it; ok is false when
	// another holder has it.
	TryLease(ctx context.Context, name string) (l Lease, ok bool, err error)
}

// Lease is a held lease.
type Lease interface {
	// Lost is closed when the lease ends without Release (the database
	// session holding it is gone).
	Lost() <-chan struct{}
	// Release gives the lease up.
	Release() error
}

// RunLeased runs fn while holding the lease name, until ctx ends: when
// another instance holds it, it waits and tries again every retry; when
// the lease is lost, fn's context is cancelled and the lease is sought
// again. fn's own errors are logged and fn is restarted after retry.
func RunLeased(ctx context.Context, ls Leaser, name string, retry time.Duration, log *slog.Logger, fn func(context.Context) error) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := func() bool {
		t := time.NewTimer(retry)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	held := true // log the first wait
	for ctx.Err() == nil {
		l, ok, err := ls.TryLease(ctx, name)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("lease: cannot ask the database", "lease", name, "err", err)
		case err == nil && !ok && held:
			log.Info("lease: another instance holds it; waiting", "lease", name)
			held = false
		}
		if err != nil || !ok {
			if !wait() {
				return nil
			}
			continue
		}
		held = true
		log.Info("lease: taken", "lease", name)
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Lost():
				log.Warn("lease: lost", "lease", name)
				cancel()
			case <-lctx.Done():
			}
		}()
		err = fn(lctx)
		cancel()
		_ = l.Release()
		if err != nil && ctx.Err() == nil {
			log.Error("lease holder failed", "lease", name, "err", err)
		}
		if ctx.Err() == nil && !wait() {
			return nil
		}
	}
	return nil
}
