package postgres_test

import (
	"context"
	"testing"

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
