package storebench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store/sqlstore"
)

// ErrStale is returned by Prepare for a database that holds data other than
// the wanted dataset; the caller discards it and prepares a fresh one.
var ErrStale = errors.New("storebench: the database holds other data")

// Logf receives progress lines.
type Logf func(format string, args ...any)

// markerTable records which dataset a database holds, written last.
const markerTable = "medgate_bench"

// Prepare returns dataset c in s: if s holds it already (its marker row names
// key and the row counts agree) it is reused; if s is empty it is loaded;
// otherwise ErrStale.
func Prepare(ctx context.Context, s *sqlstore.Store, c Config, key string, logf Logf) (*Dataset, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	t0 := time.Now()
	d := Generate(c)
	d.Key = key
	logf("storebench: generated %d patients in %v", len(d.Patients), time.Since(t0).Round(time.Millisecond))
	ok, err := d.check(ctx, s)
	if err != nil {
		return nil, err
	}
	if ok {
		d.Reused = true
		logf("storebench: reusing the loaded dataset %s", key)
		return d, nil
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM organizations`).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, ErrStale
	}
	if err := d.load(ctx, s, logf); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dataset) markerExists(ctx context.Context, db *sql.DB, dialect string) (bool, error) {
	var n int
	var err error
	if dialect == "postgres" {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1`, markerTable).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, markerTable).Scan(&n)
	}
	return n > 0, err
}

// check reads the marker and verifies the row counts.
func (d *Dataset) check(ctx context.Context, s *sqlstore.Store) (bool, error) {
	db := s.DB()
	ok, err := d.markerExists(ctx, db, s.Dialect())
	if err != nil || !ok {
		return false, err
	}
	var key string
	var secs float64
	err = db.QueryRowContext(ctx, `SELECT key, org1, org2, user_id, load_seconds FROM `+markerTable).
		Scan(&key, &d.OrgIDs[0], &d.OrgIDs[1], &d.UserID, &secs)
	if errors.Is(err, sql.ErrNoRows) || err == nil && key != d.Key {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	d.LoadTime = time.Duration(secs * float64(time.Second))
	for table, want := range map[string]int64{"patients": int64(d.Config.Patients),
		"observations": int64(d.Config.Observations), "reports": d.Stats.Reports, "imaging_instances": d.Stats.Instances} {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			return false, err
		}
		if n != want {
			return false, nil
		}
	}
	return true, nil
}

// load fills an empty store. Rows go in with multi-row INSERTs in large
// transactions on the writer connection, ids assigned here.
func (d *Dataset) load(ctx context.Context, s *sqlstore.Store, logf Logf) error {
	start := time.Now()
	orgs := []*domain.Organization{
		{Name: "ГБУЗ «Городская поликлиника № 8»", INN: "7701234567", OGRN: "1027700123456", UIDRoot: orgUIDRoots[0], Active: true},
		{Name: "ООО «Стоматология „Улыбка“»", INN: "7709876543", OGRN: "1157746123456", UIDRoot: orgUIDRoots[1], Active: true},
	}
	for i, o := range orgs {
		o.Created = time.UnixMicro(spanStart).UTC()
		if err := s.CreateOrganization(ctx, o); err != nil {
			return err
		}
		d.OrgIDs[i] = o.ID
	}
	u := &domain.User{Login: "registrar", Name: "Регистратор Ольга Петровна", Active: true,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Memberships:  []domain.Membership{{OrganizationID: d.OrgIDs[0], Roles: []domain.Role{domain.RoleRegistrar, domain.RoleDoctor}}}}
	if err := s.CreateUser(ctx, u); err != nil {
		return err
	}
	d.UserID = u.ID

	conn, err := s.DB().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	l := &loader{ctx: ctx, conn: conn, dialect: s.Dialect(), stmts: map[string]*sql.Stmt{}, logf: logf}
	if l.dialect == "sqlite" {
		// The load is redone from scratch if it fails, so it needs no fsync;
		// a big page cache keeps the index inserts in memory.
		if err := l.exec(`PRAGMA synchronous = OFF`, `PRAGMA cache_size = -1048576`); err != nil {
			return err
		}
		defer l.exec(`PRAGMA synchronous = FULL`, `PRAGMA cache_size = -2000`)
	}
	if err := l.patients(d); err != nil {
		return fmt.Errorf("storebench: patients: %w", err)
	}
	if err := l.results(d); err != nil {
		return fmt.Errorf("storebench: results: %w", err)
	}
	if err := l.imaging(d); err != nil {
		return fmt.Errorf("storebench: imaging: %w", err)
	}
	if err := l.finish(d); err != nil {
		return fmt.Errorf("storebench: finish: %w", err)
	}
	rows := int64(d.Config.Patients) + int64(d.Config.Observations) + d.Stats.Reports + d.Stats.Identifiers +
		d.Stats.Studies + d.Stats.Series + d.Stats.Instances + int64(d.Config.Patients)
	insert := l.inserted
	d.LoadTime = time.Since(start)
	logf("storebench: loaded %d rows in %v (inserts %v, %.0f rows/s; ANALYZE %v)", rows, d.LoadTime.Round(time.Second),
		insert.Round(time.Second), float64(rows)/insert.Seconds(), l.analyzed.Round(time.Second))
	_, err = conn.ExecContext(ctx, `INSERT INTO `+markerTable+` (key, org1, org2, user_id, load_seconds, loaded)
		VALUES ($1, $2, $3, $4, $5, $6)`, d.Key, d.OrgIDs[0], d.OrgIDs[1], d.UserID, d.LoadTime.Seconds(), time.Now().UnixMicro())
	return err
}

type loader struct {
	ctx      context.Context
	conn     *sql.Conn
	dialect  string
	tx       *sql.Tx
	stmts    map[string]*sql.Stmt
	bulks    []*bulk
	logf     Logf
	started  time.Time
	inserted time.Duration // time spent inserting
	analyzed time.Duration
}

func (l *loader) exec(stmts ...string) error {
	for _, q := range stmts {
		if _, err := l.conn.ExecContext(l.ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// maxParams is the dialect's limit of parameters per statement.
func (l *loader) maxParams() int {
	if l.dialect == "postgres" {
		return 65535
	}
	return 32766 // SQLITE_MAX_VARIABLE_NUMBER in modernc.org/sqlite
}

func (l *loader) begin() error {
	if l.tx != nil {
		return nil
	}
	if l.started.IsZero() {
		l.started = time.Now()
	}
	tx, err := l.conn.BeginTx(l.ctx, nil)
	l.tx = tx
	return err
}

// commit flushes every buffer, parents first, and commits.
func (l *loader) commit() error {
	if l.tx == nil {
		return nil
	}
	for _, b := range l.bulks {
		if err := b.flush(); err != nil {
			return err
		}
	}
	for k, st := range l.stmts {
		st.Close()
		delete(l.stmts, k)
	}
	err := l.tx.Commit()
	l.tx = nil
	return err
}

// bulk buffers rows of one table for multi-row INSERTs.
type bulk struct {
	l      *loader
	table  string
	cols   string
	ncol   int
	per    int // rows per statement
	args   []any
	rows   int
	parent *bulk // flushed first (foreign keys are checked per statement)
}

func (l *loader) bulk(table, cols string, parent *bulk) *bulk {
	cols = strings.Join(strings.Fields(cols), " ")
	n := strings.Count(cols, ",") + 1
	per := min(l.maxParams()/n, 1000)
	b := &bulk{l: l, table: table, cols: cols, ncol: n, per: per, parent: parent, args: make([]any, 0, per*n)}
	l.bulks = append(l.bulks, b)
	return b
}

func (b *bulk) add(vals ...any) error {
	if len(vals) != b.ncol {
		return fmt.Errorf("%s: %d values for %d columns", b.table, len(vals), b.ncol)
	}
	if err := b.l.begin(); err != nil {
		return err
	}
	b.args = append(b.args, vals...)
	b.rows++
	if b.rows == b.per {
		return b.flush()
	}
	return nil
}

func (b *bulk) flush() error {
	if b.parent != nil {
		if err := b.parent.flush(); err != nil {
			return err
		}
	}
	if b.rows == 0 {
		return nil
	}
	key := b.table + "/" + strconv.Itoa(b.rows)
	st := b.l.stmts[key]
	if st == nil {
		var q strings.Builder
		q.WriteString("INSERT INTO " + b.table + " (" + b.cols + ") VALUES ")
		for r, p := 0, 1; r < b.rows; r++ {
			if r > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for c := 0; c < b.ncol; c, p = c+1, p+1 {
				if c > 0 {
					q.WriteByte(',')
				}
				if b.l.dialect == "sqlite" {
					// SQLite looks named parameters ($N) up in a list while
					// parsing, which is quadratic in a statement this long.
					q.WriteByte('?')
				} else {
					q.WriteString("$" + strconv.Itoa(p))
				}
			}
			q.WriteByte(')')
		}
		var err error
		if st, err = b.l.tx.PrepareContext(b.l.ctx, q.String()); err != nil {
			return fmt.Errorf("%s: %w", b.table, err)
		}
		b.l.stmts[key] = st
	}
	if _, err := st.ExecContext(b.l.ctx, b.args...); err != nil {
		return fmt.Errorf("%s: %w", b.table, err)
	}
	clear(b.args)
	b.args, b.rows = b.args[:0], 0
	return nil
}

// progress logs how far a phase got.
func (l *loader) progress(what string, done, total int64) {
	el := time.Since(l.started)
	l.logf("storebench: %s %d/%d (%.0f s, %.0f rows/s)", what, done, total, el.Seconds(), float64(done)/el.Seconds())
}

// patients writes patients, their identifiers and the audit events of their
// registration, as CreatePatient would.
func (l *loader) patients(d *Dataset) error {
	l.started = time.Time{}
	pb := l.bulk("patients", `id, org_id, family, given, patronymic, name_key, birth_date, gender,
		snils, enp, phone, address, active, version, created, updated`, nil)
	ib := l.bulk("patient_identifiers", `org_id, system, value, patient_id, seq`, pb)
	ab := l.bulk("audit_events", `id, time, user_id, login, action, event, org_id, patient_id,
		resource_type, resource_id, address, outcome, detail`, nil)
	for i := range d.Patients {
		p := d.Patient(i)
		p.ID, p.OrganizationID = ID(i), d.OrgIDs[d.Patients[i].Org]
		created := p.Created.UnixMicro()
		if err := pb.add(p.ID, p.OrganizationID, p.Family, p.Given, p.Patronymic,
			domain.NameKey(p.Family, p.Given, p.Patronymic), p.BirthDate, string(p.Gender), p.SNILS, p.ENP, p.Phone,
			p.Address, p.Active, p.Version, created, created); err != nil {
			return err
		}
		for seq, id := range p.AllIdentifiers() {
			if err := ib.add(p.OrganizationID, id.System, id.Value, p.ID, seq); err != nil {
				return err
			}
		}
		// Registrations by the bench user: the API's patient.create event.
		uid := any(nil)
		login := "import"
		if p.OrganizationID == d.OrgIDs[0] {
			uid, login = d.UserID, "registrar"
		}
		if err := ab.add(p.ID, created, uid, login, domain.ActionCreate, "patient.create", p.OrganizationID, p.ID,
			"Patient", p.ID, "10.0.8.21", domain.OutcomeSuccess, ""); err != nil {
			return err
		}
		if (i+1)%50_000 == 0 {
			if err := l.commit(); err != nil {
				return err
			}
		}
	}
	err := l.commit()
	l.inserted += time.Since(l.started)
	l.progress("patients", int64(len(d.Patients)), int64(len(d.Patients)))
	l.bulks = nil
	return err
}

// observationColumns is the column list of sqlstore.InsertObservationSQL, so
// that ObservationArgs fills the loader's rows exactly as the store does.
func observationColumns() string {
	q := sqlstore.InsertObservationSQL
	return q[strings.Index(q, "(")+1 : strings.Index(q, ")")]
}

// results writes reports and their observations in the order they were
// received.
func (l *loader) results(d *Dataset) error {
	l.started = time.Time{}
	rb := l.bulk("reports", `id, org_id, patient_id, request_id, message_id, code_system, code,
		code_display, status, effective, issued, conclusion`, nil)
	ob := l.bulk("observations", "id, "+observationColumns(), rb)
	var rep domain.DiagnosticReport
	var obs []domain.Observation
	var obsID int64
	var sinceCommit int
	total := int64(d.Config.Observations)
	next := int64(500_000)
	for k, rs := range d.allReports() {
		obs = d.build(rs, &rep, obs)
		rep.ID = int64(k) + 1
		if err := rb.add(rep.ID, rep.OrganizationID, rep.PatientID, nil, nil, rep.Code.System, rep.Code.Code,
			rep.Code.Display, rep.Status, rep.Effective.UnixMicro(), rep.Issued.UnixMicro(), rep.Conclusion); err != nil {
			return err
		}
		for i := range obs {
			o := &obs[i]
			obsID++
			o.ID, o.ReportID = obsID, rep.ID
			if err := ob.add(append([]any{o.ID}, sqlstore.ObservationArgs(o)...)...); err != nil {
				return err
			}
		}
		if sinceCommit += len(obs); sinceCommit >= 250_000 {
			if err := l.commit(); err != nil {
				return err
			}
			sinceCommit = 0
		}
		if obsID >= next {
			l.progress("observations", obsID, total)
			next += 500_000
		}
	}
	err := l.commit()
	l.inserted += time.Since(l.started)
	l.progress("observations", obsID, total)
	l.bulks = nil
	if err == nil && obsID != total {
		err = fmt.Errorf("generated %d observations, want %d", obsID, total)
	}
	return err
}

// imaging writes studies with their series and instances.
func (l *loader) imaging(d *Dataset) error {
	l.started = time.Time{}
	sb := l.bulk("imaging_studies", `id, org_id, patient_id, request_id, study_uid, accession, modalities,
		description, started, status, n_series, n_instances, updated`, nil)
	eb := l.bulk("imaging_series", `id, study_id, uid, number, modality, description, body_part, n_instances`, sb)
	ib := l.bulk("imaging_instances", `id, series_id, sop_uid, sop_class, number, transfer_syntax, size, sha256, location`, eb)
	var studyID, seriesID, instID int64
	for i := range d.Patients {
		for _, st := range d.studies(i) {
			studyID++
			mods, _ := json.Marshal(st.Modalities)
			if err := sb.add(studyID, st.OrganizationID, st.PatientID, nil, st.StudyInstanceUID, st.AccessionNumber,
				string(mods), st.Description, st.Started.UnixMicro(), st.Status, st.NumberOfSeries, st.NumberOfInstances,
				st.Updated.UnixMicro()); err != nil {
				return err
			}
			for _, se := range st.Series {
				seriesID++
				if err := eb.add(seriesID, studyID, se.UID, se.Number, se.Modality, se.Description, se.BodyPart,
					se.NumberOfInstances); err != nil {
					return err
				}
				for _, in := range se.Instances {
					instID++
					if err := ib.add(instID, seriesID, in.SOPInstanceUID, in.SOPClassUID, in.Number, in.TransferSyntax,
						in.Size, in.SHA256, in.Location); err != nil {
						return err
					}
				}
			}
		}
	}
	err := l.commit()
	l.inserted += time.Since(l.started)
	l.progress("imaging instances", instID, d.Stats.Instances)
	l.bulks = nil
	return err
}

// Tables the loader writes, for sequences and statistics.
var loadedTables = []string{"organizations", "users", "memberships", "patients", "patient_identifiers", "audit_events",
	"reports", "observations", "imaging_studies", "imaging_series", "imaging_instances"}

// finish sets the organizations' patient counters, moves PostgreSQL's id
// sequences past the ids written here, creates the marker table and
// gathers planner statistics.
func (l *loader) finish(d *Dataset) error {
	if err := l.exec(`UPDATE organizations SET patient_count =
		(SELECT count(*) FROM patients WHERE patients.org_id = organizations.id)`); err != nil {
		return err
	}
	if l.dialect == "postgres" {
		for _, t := range []string{"patients", "audit_events", "reports", "observations", "imaging_studies",
			"imaging_series", "imaging_instances"} {
			if err := l.exec(`SELECT setval(pg_get_serial_sequence('` + t + `', 'id'), (SELECT max(id) FROM ` + t + `))`); err != nil {
				return err
			}
		}
	}
	if err := l.exec(`CREATE TABLE IF NOT EXISTS ` + markerTable + ` (key TEXT NOT NULL, org1 BIGINT NOT NULL,
		org2 BIGINT NOT NULL, user_id BIGINT NOT NULL, load_seconds DOUBLE PRECISION NOT NULL, loaded BIGINT NOT NULL)`); err != nil {
		return err
	}
	t0 := time.Now()
	if l.dialect == "postgres" {
		// VACUUM also sets the visibility map and hint bits, as autovacuum
		// would have long since done in a database filled over years.
		for _, t := range loadedTables {
			if err := l.exec(`VACUUM (ANALYZE) ` + t); err != nil {
				return err
			}
		}
	} else {
		if err := l.exec(`ANALYZE`, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return err
		}
	}
	l.analyzed = time.Since(t0)
	return nil
}

// SizeReport returns the database's size on disk in bytes (SQLite: the main file
// from page_count; PostgreSQL: tables, indexes and TOAST of the schema).
func SizeReport(ctx context.Context, s *sqlstore.Store) (int64, error) {
	var n int64
	var err error
	if s.Dialect() == "postgres" {
		err = s.DB().QueryRowContext(ctx, `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
			JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
	} else {
		err = s.DB().QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&n)
	}
	return n, err
}
