package storebench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/sqlstore"
)

// Env is a store holding a prepared dataset.
type Env struct {
	Store *sqlstore.Store
	Data  *Dataset
	main  []int // indexes of the main organization's patients
	snils []int // … of those with a СНИЛС
}

// NewEnv wraps a store prepared with d.
func NewEnv(s *sqlstore.Store, d *Dataset) *Env {
	e := &Env{Store: s, Data: d}
	for i, p := range d.Patients {
		if p.Org != OrgMain {
			continue
		}
		e.main = append(e.main, i)
		if p.HasSNILS {
			e.snils = append(e.snils, i)
		}
	}
	return e
}

// Shared opens one Env on first use and keeps it for every benchmark of the
// test binary, so the dataset is prepared once; Close it from TestMain.
type Shared struct {
	Open func(tb testing.TB) (env *Env, closeFn func(), err error)

	mu      sync.Mutex
	env     *Env
	closeFn func()
}

// Get returns the shared Env, opening it if needed.
func (sh *Shared) Get(tb testing.TB) *Env {
	tb.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.env == nil {
		env, closeFn, err := sh.Open(tb)
		if err != nil {
			if closeFn != nil {
				closeFn()
			}
			tb.Fatal(err)
		}
		sh.env, sh.closeFn = env, closeFn
	}
	return sh.env
}

// Close releases the Env.
func (sh *Shared) Close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closeFn != nil {
		sh.closeFn()
	}
	sh.env, sh.closeFn = nil, nil
}

// latencies records each operation's duration and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	at := func(q float64) float64 {
		k := int(math.Ceil(q*float64(len(l)))) - 1 // nearest rank
		return float64(l[min(max(k, 0), len(l)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
}

// randomPrefix draws a name prefix as a registrar types it: 2 to 6 letters
// of a family name in the dataset (drawn by patient, so common names come up
// more often), in lower, upper, title or mixed case.
func (e *Env) randomPrefix(r *rand.Rand) string {
	family := []rune(e.Data.FamilyName(e.main[r.IntN(len(e.main))]))
	n := min(2+r.IntN(5), len(family))
	p := family[:n]
	switch r.IntN(4) {
	case 0:
		return strings.ToLower(string(p))
	case 1:
		return strings.ToUpper(string(p))
	case 2:
		return string(p)
	}
	var b strings.Builder
	for _, c := range p {
		if r.IntN(2) == 0 {
			b.WriteString(strings.ToUpper(string(c)))
		} else {
			b.WriteString(strings.ToLower(string(c)))
		}
	}
	return b.String()
}

// SearchByNamePrefix measures the registry's search box: one page of 20
// patients of the main organization whose name starts with a prefix.
func SearchByNamePrefix(b *testing.B, e *Env) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 1))
	var lat latencies
	var found int
	for b.Loop() {
		prefix := e.randomPrefix(r)
		t0 := time.Now()
		list, _, err := e.Store.SearchPatients(ctx, store.PatientQuery{Orgs: e.Data.Orgs(), Name: prefix, Page: store.Page{Limit: 20}})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(list) == 0 {
			b.Fatalf("prefix %q found nobody", prefix)
		}
		key := domain.FoldName(prefix)
		for _, p := range list {
			if !strings.HasPrefix(domain.NameKey(p.Family, p.Given, p.Patronymic), key) {
				b.Fatalf("prefix %q found %q", prefix, p.Family)
			}
		}
		found += len(list)
	}
	lat.report(b)
	b.ReportMetric(float64(found)/float64(len(lat)), "rows/op")
}

// SearchBySNILS measures finding one patient by СНИЛС.
func SearchBySNILS(b *testing.B, e *Env) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(2, 2))
	var lat latencies
	for b.Loop() {
		i := e.snils[r.IntN(len(e.snils))]
		t0 := time.Now()
		list, _, err := e.Store.SearchPatients(ctx, store.PatientQuery{Orgs: e.Data.Orgs(), SNILS: SNILS(i), Page: store.Page{Limit: 20}})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != ID(i) {
			b.Fatalf("СНИЛС of patient %d found %d patients", ID(i), len(list))
		}
	}
	lat.report(b)
}

// PatientChart measures opening a random patient's chart: the patient, all
// reports and observations, all studies with series and instances.
func PatientChart(b *testing.B, e *Env) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	var lat latencies
	var obs, inst int
	for b.Loop() {
		i := e.main[r.IntN(len(e.main))]
		t0 := time.Now()
		c, err := e.Store.PatientChart(ctx, e.Data.Orgs(), ID(i))
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		p := e.Data.Patients[i]
		if len(c.Observations) != int(p.NObs) || len(c.Reports) != int(p.NReports) || len(c.Studies) != int(p.NStudies) {
			b.Fatalf("patient %d: chart has %d observations, %d reports, %d studies; want %d, %d, %d", ID(i),
				len(c.Observations), len(c.Reports), len(c.Studies), p.NObs, p.NReports, p.NStudies)
		}
		obs += len(c.Observations)
		for _, st := range c.Studies {
			inst += st.NumberOfInstances
		}
	}
	lat.report(b)
	b.ReportMetric(float64(obs)/float64(len(lat)), "obs/op")
	b.ReportMetric(float64(inst)/float64(len(lat)), "instances/op")
}

// CreatePatient measures registering a patient with its audit event, as the
// API does. The patients it adds are deleted afterwards, so a cached dataset
// stays as loaded.
func CreatePatient(b *testing.B, e *Env) {
	ctx := context.Background()
	if err := e.removeCreated(ctx); err != nil {
		b.Fatal(err)
	}
	var lat latencies
	n := 0
	for b.Loop() {
		p := e.Data.Patient(len(e.Data.Patients) + 1_000_000 + n)
		n++
		p.OrganizationID = e.Data.OrgIDs[OrgMain]
		p.Created, p.Updated, p.Version = time.Time{}, time.Time{}, 0
		p.Identifiers[0].Value = fmt.Sprintf("N%06d", n)
		ev := &domain.AuditEvent{UserID: e.Data.UserID, Login: "registrar", Action: domain.ActionCreate,
			Event: "patient.create", OrganizationID: p.OrganizationID, Address: "10.0.8.21"}
		t0 := time.Now()
		err := e.Store.CreatePatient(ctx, p, 1_000_000, ev)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if p.ID <= int64(len(e.Data.Patients)) {
			b.Fatalf("new patient got id %d, inside the loaded range", p.ID)
		}
	}
	lat.report(b)
	if err := e.removeCreated(ctx); err != nil {
		b.Fatal(err)
	}
}

// removeCreated deletes patients beyond the dataset with their identifiers
// and audit events, and recounts the organizations' patients.
func (e *Env) removeCreated(ctx context.Context) error {
	last := int64(len(e.Data.Patients))
	tx, err := e.Store.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM audit_events WHERE patient_id > $1`,
		`DELETE FROM patient_identifiers WHERE patient_id > $1`,
		`DELETE FROM patients WHERE id > $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, last); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE organizations SET patient_count =
		(SELECT count(*) FROM patients WHERE patients.org_id = organizations.id)`); err != nil {
		return err
	}
	return tx.Commit()
}

// Describe summarizes the dataset for logs.
func (d *Dataset) Describe() string {
	main := 0
	for _, p := range d.Patients {
		if p.Org == OrgMain {
			main++
		}
	}
	return fmt.Sprintf("%d patients (%d in the main organization, %d in the second), %d observations in %d reports "+
		"(%d patients without results, %d with over 200, at most %d), %d identifiers, %d imaging studies with %d series "+
		"and %d instances", len(d.Patients), main, len(d.Patients)-main, d.Config.Observations, d.Stats.Reports,
		d.Stats.PatientsWithoutObs, d.Stats.PatientsOver200Obs, d.Stats.MaxObsPerPatient, d.Stats.Identifiers,
		d.Stats.Studies, d.Stats.Series, d.Stats.Instances)
}
