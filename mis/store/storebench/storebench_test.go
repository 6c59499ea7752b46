package storebench_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/postgres"
	"github.com/medgate/medgate/mis/store/postgres/pgtest"
	"github.com/medgate/medgate/mis/store/sqlite"
	"github.com/medgate/medgate/mis/store/sqlstore"
	"github.com/medgate/medgate/mis/store/storebench"
)

var tiny = storebench.Config{Patients: 200, Observations: 5000}

func TestSNILSValid(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		s := storebench.SNILS(i)
		if err := domain.ValidateSNILS(s); err != nil {
			t.Fatalf("SNILS(%d) = %s: %v", i, s, err)
		}
		if seen[s] {
			t.Fatalf("SNILS(%d) = %s repeats", i, s)
		}
		seen[s] = true
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, b := storebench.Generate(tiny), storebench.Generate(tiny)
	if !reflect.DeepEqual(a.Patients, b.Patients) || a.Stats != b.Stats {
		t.Fatal("two generations of one config differ")
	}
	var total int
	for _, p := range a.Patients {
		total += int(p.NObs)
	}
	if total != tiny.Observations {
		t.Fatalf("%d observations generated, want %d", total, tiny.Observations)
	}
	for i := range a.Patients {
		p := a.Patient(i)
		p.Normalize()
		if err := p.Validate(); err != nil {
			t.Fatalf("patient %d (%s %s %s): %v", i, p.Family, p.Given, p.Patronymic, err)
		}
	}
}

// The loader writes what the store's own methods would, so the store's
// queries see the dataset correctly.
func TestLoadSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bench.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	key := tiny.Key(sqlite.Dialect().Migrations)
	d, err := storebench.Prepare(ctx, s, tiny, key, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopened, the database is recognized and reused.
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d2, err := storebench.Prepare(ctx, s, tiny, key, t.Logf)
	if err != nil || !d2.Reused || d2.OrgIDs != d.OrgIDs || d2.UserID != d.UserID {
		t.Fatalf("second Prepare: reused %v, err %v", d2 != nil && d2.Reused, err)
	}
	checkLoaded(t, s, d2)
	// Another dataset size is refused rather than mixed in.
	other := storebench.Config{Patients: 10, Observations: 10}
	if _, err := storebench.Prepare(ctx, s, other, other.Key(sqlite.Dialect().Migrations), nil); !errors.Is(err, storebench.ErrStale) {
		t.Fatalf("Prepare of another size: %v, want ErrStale", err)
	}
}

func TestLoadPostgres(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := storebench.Prepare(ctx, s, tiny, tiny.Key(postgres.Dialect().Migrations), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	checkLoaded(t, s, d)
}

func checkLoaded(t *testing.T, s *sqlstore.Store, d *storebench.Dataset) {
	t.Helper()
	ctx := context.Background()
	orgs := d.Orgs()
	t.Log(d.Describe())

	// Every patient reads back as generated.
	var mainCount int64
	for i, info := range d.Patients {
		want := d.Patient(i)
		want.ID, want.OrganizationID = storebench.ID(i), d.OrgIDs[info.Org]
		got, err := s.GetPatient(ctx, []int64{want.OrganizationID}, want.ID)
		if err != nil {
			t.Fatalf("patient %d: %v", want.ID, err)
		}
		want.Identifiers = want.Identifiers[:len(want.Identifiers):len(want.Identifiers)]
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("patient %d reads back as\n%+v\nwant\n%+v", want.ID, got, want)
		}
		if info.Org == storebench.OrgMain {
			mainCount++
		} else if _, err := s.GetPatient(ctx, orgs, want.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the second organization's patient %d is visible to the first: %v", want.ID, err)
		}
	}
	var counted int64
	if err := s.DB().QueryRowContext(ctx, `SELECT patient_count FROM organizations WHERE id = $1`, orgs[0]).Scan(&counted); err != nil || counted != mainCount {
		t.Fatalf("patient_count %d (%v), want %d", counted, err, mainCount)
	}

	// Name search finds exactly the patients whose folded name starts with
	// the prefix, ё folded, in any case.
	for _, i := range []int{0, 1, 5, 17, 100} {
		if d.Patients[i].Org != storebench.OrgMain {
			continue
		}
		family := []rune(d.FamilyName(i))
		prefix := strings.ToUpper(string(family[:min(3, len(family))]))
		want := map[int64]bool{}
		for j, p := range d.Patients {
			pp := d.Patient(j)
			if p.Org == storebench.OrgMain && strings.HasPrefix(domain.NameKey(pp.Family, pp.Given, pp.Patronymic), domain.FoldName(prefix)) {
				want[storebench.ID(j)] = true
			}
		}
		got := map[int64]bool{}
		q := store.PatientQuery{Orgs: orgs, Name: prefix, Page: store.Page{Limit: 7}}
		for {
			list, next, err := s.SearchPatients(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range list {
				got[p.ID] = true
			}
			if next == "" {
				break
			}
			q.Cursor = next
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("search %q found %d patients, want %d", prefix, len(got), len(want))
		}
	}

	// СНИЛС search and charts.
	var withObs, withStudies bool
	for i, p := range d.Patients {
		if p.Org != storebench.OrgMain {
			continue
		}
		if p.HasSNILS {
			list, _, err := s.SearchPatients(ctx, store.PatientQuery{Orgs: orgs, SNILS: storebench.SNILS(i)})
			if err != nil || len(list) != 1 || list[0].ID != storebench.ID(i) {
				t.Fatalf("СНИЛС of patient %d: %d found, %v", storebench.ID(i), len(list), err)
			}
		}
		c, err := s.PatientChart(ctx, orgs, storebench.ID(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Observations) != int(p.NObs) || len(c.Reports) != int(p.NReports) || len(c.Studies) != int(p.NStudies) {
			t.Fatalf("patient %d: chart has %d observations, %d reports, %d studies; want %d, %d, %d", storebench.ID(i),
				len(c.Observations), len(c.Reports), len(c.Studies), p.NObs, p.NReports, p.NStudies)
		}
		results := 0
		for _, r := range c.Reports {
			results += len(r.Result)
			if r.Status != "final" && r.Status != "corrected" || r.Code.System != domain.SystemLOINC {
				t.Fatalf("report %+v", r)
			}
		}
		if results != len(c.Observations) {
			t.Fatalf("patient %d: reports list %d results of %d observations", storebench.ID(i), results, len(c.Observations))
		}
		for _, o := range c.Observations {
			if o.PatientID != storebench.ID(i) || o.ReportID == 0 || (o.ValueQuantity == nil) == (o.ValueCoding == nil) ||
				o.ReferenceRange == nil || !domain.ValidInterpretation(o.Interpretation) || o.Interpretation == "" {
				t.Fatalf("observation %+v", o)
			}
		}
		for _, st := range c.Studies {
			n := 0
			for _, se := range st.Series {
				n += len(se.Instances)
				if len(se.Instances) != se.NumberOfInstances {
					t.Fatalf("series %s: %d instances, counted %d", se.UID, len(se.Instances), se.NumberOfInstances)
				}
			}
			if n != st.NumberOfInstances || len(st.Series) != st.NumberOfSeries || n == 0 {
				t.Fatalf("study %s: %d series, %d instances; counted %d, %d", st.StudyInstanceUID, len(st.Series), n,
					st.NumberOfSeries, st.NumberOfInstances)
			}
		}
		withObs = withObs || len(c.Observations) > 0
		withStudies = withStudies || len(c.Studies) > 0
	}
	if !withObs || !withStudies {
		t.Fatalf("no chart with observations (%v) or studies (%v)", withObs, withStudies)
	}

	// The store's own writes carry on after the loaded ids.
	p := d.Patient(len(d.Patients) + 5)
	p.OrganizationID = orgs[0]
	if err := s.CreatePatient(ctx, p, 0, &domain.AuditEvent{Action: domain.ActionCreate, Event: "patient.create", OrganizationID: orgs[0]}); err != nil {
		t.Fatal(err)
	}
	if p.ID != int64(len(d.Patients))+1 {
		t.Fatalf("new patient has id %d, want %d", p.ID, len(d.Patients)+1)
	}
	r := &domain.DiagnosticReport{OrganizationID: orgs[0], PatientID: p.ID, Status: "final", Code: domain.Coding{Code: "58410-2"}}
	obs := []domain.Observation{{Code: domain.Coding{Code: "718-7"}, Status: "final", ValueQuantity: &domain.Quantity{Value: 131, Unit: "g/L"}}}
	if err := s.SaveReport(ctx, r, obs, nil); err != nil {
		t.Fatal(err)
	}
	if obs[0].ID != int64(d.Config.Observations)+1 || r.ID != d.Stats.Reports+1 {
		t.Fatalf("new report %d, observation %d: want %d, %d", r.ID, obs[0].ID, d.Stats.Reports+1, d.Config.Observations+1)
	}
}
