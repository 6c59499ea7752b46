// Package pgtest gives tests a private PostgreSQL schema. Tests run when
// MEDGATE_TEST_POSTGRES_URL is set; with MEDGATE_REQUIRE_POSTGRES=1 a
// missing or unreachable server fails the test instead of skipping it, so CI
// cannot pass by silently testing one dialect.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// URL returns a database URL whose search_path is a fresh schema, dropped
// when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("MEDGATE_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("MEDGATE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("MEDGATE_REQUIRE_POSTGRES=1 but MEDGATE_TEST_POSTGRES_URL is not set")
		}
		t.Skip("PostgreSQL tests need MEDGATE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to MEDGATE_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "medgate_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("MEDGATE_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
