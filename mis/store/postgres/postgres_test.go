package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/postgres"
	"github.com/medgate/medgate/mis/store/postgres/pgtest"
	"github.com/medgate/medgate/mis/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Several instances starting at once on one database migrate in turn.
func TestConcurrentMigrate(t *testing.T) {
	url := pgtest.URL(t)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			s, err := postgres.Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A lease whose database session is killed reports itself lost, and the
// lease can be taken again.
func TestLeaseLostWithItsSession(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, ok, err := s.TryLease(ctx, "lost-test")
	if err != nil || !ok {
		t.Fatalf("TryLease: %v %v", ok, err)
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var killed int
	err = admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE '%pg_try_advisory_lock%' AND query NOT LIKE '%pg_stat_activity%' AND datname = current_database()
		AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || killed == 0 {
		t.Fatalf("terminating the lease's session: %d, %v", killed, err)
	}
	select {
	case <-l.Lost():
	case <-time.After(20 * time.Second):
		t.Fatal("the lease did not notice its session ended")
	}
	l.Release()
	again, ok, err := s.TryLease(ctx, "lost-test")
	if err != nil || !ok {
		t.Fatalf("TryLease after the session died: %v %v", ok, err)
	}
	again.Release()
}
