package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/store/sqlite"
	"github.com/medgate/medgate/mis/store/sqlstore"
	"github.com/medgate/medgate/mis/store/storebench"
)

// The benchmarks share one loaded dataset (see storebench). Its size comes
// from MEDGATE_BENCH_PATIENTS and MEDGATE_BENCH_OBSERVATIONS (default
// 100,000 and 5,000,000); with MEDGATE_BENCH_DIR set the database file is
// kept there and reused by later runs.
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

func openBench(tb testing.TB) (*storebench.Env, func(), error) {
	ctx := context.Background()
	cfg, err := storebench.ConfigFromEnv()
	if err != nil {
		return nil, nil, err
	}
	key := cfg.Key(sqlite.Dialect().Migrations)
	dir, cleanup := os.Getenv("MEDGATE_BENCH_DIR"), func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "medgate-bench-"); err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	} else {
		// Files of this size from an older schema or generator are stale.
		old, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("medgate-bench-p%d_o%d_*.db", cfg.Patients, cfg.Observations)))
		for _, f := range old {
			if !strings.Contains(f, key) {
				stderrf("storebench: removing stale %s", f)
				removeDB(f)
			}
		}
	}
	path := filepath.Join(dir, "medgate-bench-"+key+".db")
	var s *sqlstore.Store
	var d *storebench.Dataset
	for attempt := 0; ; attempt++ {
		if s, err = sqlite.Open(ctx, path); err != nil {
			cleanup()
			return nil, nil, err
		}
		d, err = storebench.Prepare(ctx, s, cfg, key, stderrf)
		if errors.Is(err, storebench.ErrStale) && attempt == 0 {
			stderrf("storebench: %s holds other data; reloading", path)
			s.Close()
			removeDB(path)
			continue
		}
		if err != nil {
			s.Close()
			cleanup()
			return nil, nil, err
		}
		break
	}
	size := int64(0)
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	how := fmt.Sprintf("loaded in %v", d.LoadTime.Round(1e9))
	if d.Reused {
		how = fmt.Sprintf("reused (loaded earlier in %v)", d.LoadTime.Round(1e9))
	}
	msg := fmt.Sprintf("SQLite dataset %s: %s; %s; file %s, %.0f MiB", key, d.Describe(), how, path, float64(size)/(1<<20))
	stderrf("storebench: %s", msg)
	tb.Log(msg)
	return storebench.NewEnv(s, d), func() { s.Close(); cleanup() }, nil
}

func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}
