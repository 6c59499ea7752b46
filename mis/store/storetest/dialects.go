package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/postgres"
	"github.com/medgate/medgate/mis/store/postgres/pgtest"
	"github.com/medgate/medgate/mis/store/sqlite"
)

// Dialect opens a fresh, migrated store of one kind for a test, closed when
// the test ends.
type Dialect struct {
	Name string
	Open func(t testing.TB) store.Store
}

// Dialects are the stores every suite above the store runs against: SQLite
// always, PostgreSQL under pgtest's rules (skipped without
// MEDGATE_TEST_POSTGRES_URL, failing when MEDGATE_REQUIRE_POSTGRES=1).
var Dialects = []Dialect{
	{"sqlite", func(t testing.TB) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "medgate.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(t testing.TB) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}
