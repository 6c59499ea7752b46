package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/medgate/medgate/mis/store"
)

var _ store.Leaser = (*Store)(nil)

// leaseCheck is how often a held advisory lock's session is checked.
const leaseCheck = 5 * time.Second

// TryLease takes a named lease: a session advisory lock held on a
// connection of its own when the dialect has one (PostgreSQL), else a lock
// within this process (SQLite: one process owns the file).
func (s *Store) TryLease(ctx context.Context, name string) (store.Lease, bool, error) {
	if s.d.AdvisoryLock == "" {
		return s.localLease(name)
	}
	key := "medgate lease " + name
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, false, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, s.d.AdvisoryLock, key).Scan(&ok); err != nil || !ok {
		conn.Close()
		return nil, false, err
	}
	l := &dbLease{conn: conn, key: key, unlock: s.d.AdvisoryUnlock, lost: make(chan struct{}), stop: make(chan struct{})}
	go l.watch()
	return l, true, nil
}

// dbLease is an advisory lock held by one database session.
type dbLease struct {
	conn     *sql.Conn
	key      string
	unlock   string
	lost     chan struct{}
	stop     chan struct{}
	once     sync.Once
	released bool
}

func (l *dbLease) Lost() <-chan struct{} { return l.lost }

// watch notices the session going away: the lock went with it.
func (l *dbLease) watch() {
	t := time.NewTicker(leaseCheck)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), leaseCheck)
			err := l.conn.PingContext(ctx)
			cancel()
			if err != nil {
				close(l.lost)
				return
			}
		}
	}
}

func (l *dbLease) Release() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		ctx, cancel := context.WithTimeout(context.Background(), leaseCheck)
		defer cancel()
		_, err = l.conn.ExecContext(ctx, l.unlock, l.key)
		if cerr := l.conn.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

var (
	localMu     sync.Mutex
	localLeases = map[*Store]map[string]bool{}
)

// localLease is a lease within the process.
func (s *Store) localLease(name string) (store.Lease, bool, error) {
	localMu.Lock()
	defer localMu.Unlock()
	if localLeases[s] == nil {
		localLeases[s] = map[string]bool{}
	}
	if localLeases[s][name] {
		return nil, false, nil
	}
	localLeases[s][name] = true
	return &procLease{s: s, name: name, lost: make(chan struct{})}, true, nil
}

type procLease struct {
	s    *Store
	name string
	lost chan struct{}
	once sync.Once
}

func (l *procLease) Lost() <-chan struct{} { return l.lost }

func (l *procLease) Release() error {
	l.once.Do(func() {
		localMu.Lock()
		delete(localLeases[l.s], l.name)
		if len(localLeases[l.s]) == 0 {
			delete(localLeases, l.s)
		}
		localMu.Unlock()
	})
	return nil
}
