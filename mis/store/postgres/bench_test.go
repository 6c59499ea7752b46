package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/mis/store/postgres"
	"github.com/medgate/medgate/mis/store/sqlstore"
	"github.com/medgate/medgate/mis/store/storebench"
)

// The benchmarks share one loaded dataset (see storebench) in a schema of
// MEDGATE_TEST_POSTGRES_URL's database: a fresh one dropped at the end, or,
// with MEDGATE_BENCH_KEEP=1, one named after the dataset and kept for later
// runs. Its size comes from MEDGATE_BENCH_PATIENTS and
// MEDGATE_BENCH_OBSERVATIONS (default 100,000 and 5,000,000).
var bench = storebench.Shared{Open: openBench}

func TestMain(m *testing.M) {
	code := m.Run()
	bench.Close()
	os.Exit(code)
}

func BenchmarkSearchByNamePrefix(b *testing.B) { storebench.SearchByNamePrefix(b, bench.Get(b)) }

func BenchmarkPatientSearchBySNILS(b *testing.B) { storebench.SearchBySNILS(b, bench.Get(b)) }

func BenchmarkPatientChart(b *testing.B) { storebench.PatientChart(b, bench.Get(b)) }

func BenchmarkCreatePatient(b *testing.B) { storebench.CreatePatient(b, bench.Get(b)) }

func stderrf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// adminExec runs statements on the base database, outside any schema.
func adminExec(base string, stmts ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// dropStale drops the schemas whose name starts with prefix, except keep.
func dropStale(base, prefix, keep string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) AND nspname <> $2`, prefix, keep)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		stderrf("storebench: dropping stale schema %s", n)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{n}.Sanitize()+" CASCADE"); err != nil {
			return err
		}
	}
	return nil
}

func openBench(tb testing.TB) (*storebench.Env, func(), error) {
	// As pgtest.URL: skip without a server unless CI requires one.
	base := os.Getenv("MEDGATE_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("MEDGATE_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("MEDGATE_REQUIRE_POSTGRES=1 but MEDGATE_TEST_POSTGRES_URL is not set")
		}
		tb.Skip("PostgreSQL benchmarks need MEDGATE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)")
	}
	ctx := context.Background()
	cfg, err := storebench.ConfigFromEnv()
	if err != nil {
		return nil, nil, err
	}
	key := cfg.Key(postgres.Dialect().Migrations)
	keep := os.Getenv("MEDGATE_BENCH_KEEP") == "1"
	schema := "medgate_bench_" + key
	if !keep {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		schema = "medgate_bench_tmp_" + hex.EncodeToString(b)
	}
	if keep {
		// Schemas of this size from an older schema or generator are stale.
		if err := dropStale(base, fmt.Sprintf("medgate_bench_p%d_o%d_", cfg.Patients, cfg.Observations), schema); err != nil {
			return nil, nil, err
		}
	}
	if err := adminExec(base, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		return nil, nil, err
	}
	drop := func() {
		if err := adminExec(base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			stderrf("storebench: %v", err)
		}
	}
	cleanup := func() {
		if !keep {
			drop()
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	qv := u.Query()
	qv.Set("search_path", schema)
	u.RawQuery = qv.Encode()
	var s *sqlstore.Store
	var d *storebench.Dataset
	for attempt := 0; ; attempt++ {
		if s, err = postgres.Open(ctx, u.String()); err != nil {
			cleanup()
			return nil, nil, err
		}
		d, err = storebench.Prepare(ctx, s, cfg, key, stderrf)
		if errors.Is(err, storebench.ErrStale) && attempt == 0 {
			stderrf("storebench: schema %s holds other data; reloading", schema)
			s.Close()
			drop()
			if err := adminExec(base, "CREATE SCHEMA "+schema); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			s.Close()
			cleanup()
			return nil, nil, err
		}
		break
	}
	size, err := storebench.SizeReport(ctx, s)
	if err != nil {
		s.Close()
		cleanup()
		return nil, nil, err
	}
	how := fmt.Sprintf("loaded in %v", d.LoadTime.Round(time.Second))
	if d.Reused {
		how = fmt.Sprintf("reused (loaded earlier in %v)", d.LoadTime.Round(time.Second))
	}
	msg := fmt.Sprintf("PostgreSQL dataset in schema %s: %s; %s; tables and indexes %.0f MiB", schema, d.Describe(), how,
		float64(size)/(1<<20))
	stderrf("storebench: %s", msg)
	tb.Log(msg)
	return storebench.NewEnv(s, d), func() { s.Close(); cleanup() }, nil
}
