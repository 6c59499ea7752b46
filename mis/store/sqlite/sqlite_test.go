package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/sqlite"
	"github.com/medgate/medgate/mis/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "medgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Reopening an existing database applies no migration twice.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "medgate.db")
	for i := 0; i < 2; i++ {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A commit is visible at once but acknowledged only after the write-ahead
// log is flushed, and a failed flush fails the caller: nothing is
// acknowledged before it is on disk, on the group-commit path and on the
// plain transaction path.
func TestAcknowledgedOnlyWhenDurable(t *testing.T) {
	ctx := context.Background()
	var armed atomic.Bool
	var fail atomic.Bool
	gate := make(chan struct{})
	var flushes atomic.Int32
	s, err := sqlite.OpenWrapped(ctx, filepath.Join(t.TempDir(), "medgate.db"), func(sync func() error) func() error {
		return func() error {
			if armed.Load() {
				<-gate
			}
			flushes.Add(1)
			if fail.Load() {
				return errors.New("disk on fire")
			}
			return sync()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	org := &domain.Organization{Name: "Клиника"}
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	msg := func(key string) *domain.Message {
		return &domain.Message{OrganizationID: org.ID, Protocol: "hl7", Key: key, Type: "ORU^R01", Received: time.Now(),
			SHA256: key, Raw: []byte("MSH|^~\\&|" + key)}
	}

	armed.Store(true)
	before := flushes.Load()
	done := make(chan error, 1)
	m := msg("held")
	go func() {
		_, err := s.SaveMessage(ctx, m)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Committed: a reader sees the row while the flush is held.
		if list, _, err := s.ListMessages(ctx, store.MessageQuery{Orgs: []int64{org.ID}, Page: store.Page{Limit: 10}}); err == nil && len(list) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the held message was never committed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("SaveMessage returned (%v) before its commit was flushed", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if flushes.Load() == before {
		t.Fatal("no flush after the commit")
	}

	fail.Store(true)
	if _, err := s.SaveMessage(ctx, msg("unflushed")); err == nil {
		t.Error("group commit: a failed flush was acknowledged")
	}
	if err := s.CreateOrganization(ctx, &domain.Organization{Name: "Вторая"}); err == nil {
		t.Error("transaction: a failed flush was acknowledged")
	}
}
