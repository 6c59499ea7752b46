package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// The FHIR searches (store.Searcher). Each builds one WHERE clause from its
// query, runs it for one keyset page ordered by id, and counts the matches
// with the same clause when asked. Identifiers here carry a "search" prefix
// so they never collide with the rest of the package.

var _ store.Searcher = (*Store)(nil)

// searchSQL is a filter with the FHIR search parameter kinds on top.
type searchSQL struct{ filter }

func (b *searchSQL) add(cond string) { b.where(cond) }

// ids restricts col to the given ids; a nil list adds nothing.
func (b *searchSQL) ids(col string, ids []int64) {
	if ids == nil {
		return
	}
	if len(ids) == 0 {
		b.add("1 = 0")
		return
	}
	b.in(col, ids)
}

// id restricts col to one id when it is set.
func (b *searchSQL) id(col string, id int64) {
	if id != 0 {
		b.add(col + " = " + b.arg(id))
	}
}

func (b *searchSQL) strs(col string, vs []string) {
	if len(vs) == 0 {
		return
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = b.arg(v)
	}
	b.add(col + " IN (" + strings.Join(parts, ", ") + ")")
}

// dates ANDs the date conditions on col; conv turns a bound into the
// column's representation.
func (b *searchSQL) dates(col string, ds []store.DateParam, conv func(time.Time) any) {
	for _, d := range ds {
		b.add(searchDateCond(col, d, b, conv))
	}
}

func searchDateCond(col string, d store.DateParam, b *searchSQL, conv func(time.Time) any) string {
	switch d.Prefix {
	case "ne":
		return "(" + col + " < " + b.arg(conv(d.Start)) + " OR " + col + " >= " + b.arg(conv(d.End)) + ")"
	case "lt", "eb":
		return col + " < " + b.arg(conv(d.Start))
	case "gt", "sa":
		return col + " >= " + b.arg(conv(d.End))
	case "le":
		return col + " < " + b.arg(conv(d.End))
	case "ge":
		return col + " >= " + b.arg(conv(d.Start))
	default: // eq
		return "(" + col + " >= " + b.arg(conv(d.Start)) + " AND " + col + " < " + b.arg(conv(d.End)) + ")"
	}
}

func microsBound(t time.Time) any { return micros(t) }

func dayBound(t time.Time) any { return t.UTC().Format(time.DateOnly) }

// tokens ORs code tokens over a system column and a code column.
func (b *searchSQL) tokens(sysCol, codeCol string, ts []store.Token) {
	if len(ts) == 0 {
		return
	}
	var alts []string
	for _, t := range ts {
		alts = append(alts, b.token(sysCol, codeCol, t))
	}
	b.add(orNone(alts))
}

// token is the condition of one code token over a system and a code column.
func (b *searchSQL) token(sysCol, codeCol string, t store.Token) string {
	var c []string
	if t.Code != "" {
		c = append(c, codeCol+" = "+b.arg(t.Code))
	}
	if t.HasSystem {
		c = append(c, sysCol+" = "+b.arg(t.System))
	}
	if len(c) == 0 {
		c = append(c, "1 = 1")
	}
	return "(" + strings.Join(c, " AND ") + ")"
}

// observationCodes ORs code tokens over an observation's two codings: its
// code (t.code_system, t.code) and the LOINC code beside it (t.loinc,
// under domain.SystemLOINC; NULL when none). A LOINC system|code token or
// a bare code matches either; http://loinc.org| matches any LOINC code in
// either; a token of another system, or of none (|code), only the first.
//
// t.loinc has no index (it would cost every observation insert): beside
// lists, by LOINC code, the own codes that ever carried it as a second
// coding (observation_loinc, which recordLOINC keeps), so that the second
// coding is reached through search_observations_code. A LOINC code no own
// code carried is nobody's second coding, and the search is then the
// plain one.
func (b *searchSQL) observationCodes(ts []store.Token, beside map[string][]string) {
	if len(ts) == 0 {
		return
	}
	var alts []string
	for _, t := range ts {
		alts = append(alts, b.token("t.code_system", "t.code", t))
		switch {
		case t.HasSystem && t.System != domain.SystemLOINC:
			// another system's code, or |code: the first coding only
		case t.Code != "":
			if own := beside[t.Code]; len(own) > 0 {
				in := make([]string, len(own))
				for i, c := range own {
					in[i] = b.arg(c)
				}
				alts = append(alts, "(t.code IN ("+strings.Join(in, ", ")+") AND t.loinc = "+b.arg(t.Code)+")")
			}
		case t.HasSystem:
			alts = append(alts, "t.loinc IS NOT NULL")
		}
	}
	b.add(orNone(alts))
}

// loincBeside reads observation_loinc for the LOINC codes the tokens may
// name as a second coding (code tokens of no system or of LOINC's): the
// own codes that carried each, by LOINC code.
func (s *Store) loincBeside(ctx context.Context, ts []store.Token) (map[string][]string, error) {
	var codes []string
	for _, t := range ts {
		if t.Code != "" && (!t.HasSystem || t.System == domain.SystemLOINC) && !slices.Contains(codes, t.Code) {
			codes = append(codes, t.Code)
		}
	}
	if len(codes) == 0 {
		return nil, nil
	}
	f := &filter{}
	in := make([]string, len(codes))
	for i, c := range codes {
		in[i] = f.arg(c)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT loinc, code FROM observation_loinc WHERE loinc IN (`+strings.Join(in, ", ")+`)
		ORDER BY loinc, code`, f.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var loinc, code string
		if err := rows.Scan(&loinc, &code); err != nil {
			return nil, err
		}
		out[loinc] = append(out[loinc], code)
	}
	return out, rows.Err()
}

// jsonHas is a condition true when the JSON text in col contains the
// fragment. replace() is case-sensitive in both dialects, where LIKE is not
// (SQLite folds ASCII), and needs no escaping of the fragment.
func (b *searchSQL) jsonHas(col, fragment string) string {
	return "replace(" + col + ", " + b.arg(fragment) + ", '') <> " + col
}

// jsonString is s as it appears inside JSON written by encoding/json.
func jsonString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// dicomUID reads a Study Instance UID identifier token: "urn:oid:<uid>"
// under domain.SystemDICOMUID or no system; under the DICOM system the
// prefix may be left out.
func dicomUID(tok store.Token) (string, bool) {
	if tok.HasSystem && tok.System != domain.SystemDICOMUID {
		return "", false
	}
	uid, prefixed := strings.CutPrefix(tok.Code, "urn:oid:")
	return uid, uid != "" && (prefixed || tok.HasSystem)
}

// orNone joins alternatives with OR; no alternative matches nothing.
func orNone(alts []string) string {
	if len(alts) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// searchRun runs one page of a search over from (a table, aliased t) and
// counts it when asked.
func searchRun[T any](ctx context.Context, s *Store, cols, from string, b *searchSQL, p store.SearchPage,
	scan func(*sql.Rows) (T, error), id func(*T) int64) ([]T, string, int, error) {
	total := -1
	if p.Total {
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+from+b.sql(), b.args...).Scan(&total); err != nil {
			return nil, "", 0, err
		}
	}
	if err := b.afterID("t.id", p.Cursor, false); err != nil {
		return nil, "", 0, err
	}
	limit := pageLimit(p.Limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+cols+` FROM `+from+b.sql()+` ORDER BY t.id LIMIT `+b.arg(limit+1), b.args...)
	if err != nil {
		return nil, "", 0, err
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", 0, err
		}
		list = append(list, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", 0, err
	}
	list, next := trimPage(list, limit, func(v T) int64 { return id(&v) })
	return list, next, total, nil
}

// scoped starts a query on organizations; no organization matches nothing.
func scoped(orgs []int64) *searchSQL {
	b := &searchSQL{}
	if len(orgs) == 0 {
		b.add("1 = 0")
		return b
	}
	b.ids("t.org_id", orgs)
	return b
}

// getOne runs a search by one id and returns its single hit.
func getOne[T any](list []T, err error, what string, id int64) (*T, error) {
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
	}
	return &list[0], nil
}

// --- Patients

// SearchPatientRecords finds patients for the FHIR API.
func (s *Store) SearchPatientRecords(ctx context.Context, q store.PatientSearch) ([]domain.Patient, string, int, error) {
	b := scoped(q.Orgs)
	b.ids("t.id", q.IDs)
	if name := domain.FoldName(q.Name); name != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(name)
		b.add("(t.name_key LIKE " + b.arg(esc+"%") + ` ESCAPE '\' OR t.name_key LIKE ` + b.arg("% "+esc+"%") + ` ESCAPE '\')`)
	}
	b.dates("t.birth_date", q.BirthDate, dayBound)
	if len(q.Gender) > 0 {
		gs := make([]string, len(q.Gender))
		for i, g := range q.Gender {
			gs[i] = string(g)
		}
		b.strs("t.gender", gs)
	}
	if len(q.Identifiers) > 0 {
		var alts []string
		for _, tok := range q.Identifiers {
			c := "pi.value = " + b.arg(tok.Code)
			if tok.HasSystem {
				c += " AND pi.system = " + b.arg(tok.System)
			}
			alts = append(alts, "("+c+")")
		}
		b.add("t.id IN (SELECT pi.patient_id FROM patient_identifiers pi WHERE pi.org_id = t.org_id AND " + orNone(alts) + ")")
	}
	list, next, total, err := searchRun(ctx, s, prefixed(patientColumns, "t"), "patients t", b, q.SearchPage,
		func(rows *sql.Rows) (domain.Patient, error) { return scanPatient(rows) },
		func(p *domain.Patient) int64 { return p.ID })
	if err != nil {
		return nil, "", 0, err
	}
	return list, next, total, loadIdentifiers(ctx, s.r, list)
}

// --- Orders

// SearchServiceRequests finds orders with their specimens.
func (s *Store) SearchServiceRequests(ctx context.Context, q store.ServiceRequestQuery) ([]domain.ServiceRequest, string, int, error) {
	b := scoped(q.Orgs)
	b.ids("t.id", q.IDs)
	b.id("t.patient_id", q.PatientID)
	if len(q.Identifiers) > 0 {
		var alts []string
		for _, tok := range q.Identifiers {
			if !tok.HasSystem || tok.System == domain.SystemAccession {
				alts = append(alts, "t.accession = "+b.arg(tok.Code))
			}
			if uid, ok := dicomUID(tok); ok {
				alts = append(alts, "t.study_uid = "+b.arg(uid))
			}
		}
		b.add(orNone(alts))
	}
	if len(q.Codes) > 0 {
		var alts []string
		for _, tok := range q.Codes {
			switch {
			case tok.Code == "" && tok.HasSystem:
				alts = append(alts, b.jsonHas("t.codes", `"system":`+jsonString(tok.System)+`,`))
			case tok.Code == "":
			case !tok.HasSystem:
				alts = append(alts, b.jsonHas("t.codes", `"code":`+jsonString(tok.Code)))
			case tok.System == "":
				alts = append(alts, b.jsonHas("t.codes", `{"code":`+jsonString(tok.Code)))
			default:
				alts = append(alts, b.jsonHas("t.codes", `"system":`+jsonString(tok.System)+`,"code":`+jsonString(tok.Code)))
			}
		}
		b.add(orNone(alts))
	}
	if len(q.Status) > 0 {
		vs := make([]string, len(q.Status))
		for i, v := range q.Status {
			vs[i] = string(v)
		}
		b.strs("t.status", vs)
	}
	if len(q.Category) > 0 {
		vs := make([]string, len(q.Category))
		for i, v := range q.Category {
			vs[i] = string(v)
		}
		b.strs("t.category", vs)
	}
	b.dates("t.authored", q.Authored, microsBound)
	b.dates("t.scheduled", q.Occurrence, microsBound)
	list, next, total, err := searchRun(ctx, s, prefixed(orderColumns, "t"), "service_requests t", b, q.SearchPage,
		func(rows *sql.Rows) (domain.ServiceRequest, error) { return scanOrder(rows) },
		func(r *domain.ServiceRequest) int64 { return r.ID })
	if err != nil {
		return nil, "", 0, err
	}
	return list, next, total, loadSpecimens(ctx, s.r, list)
}

// --- Specimens

const searchSpecimenColumns = `t.id, t.org_id, t.patient_id, t.request_id, t.barcode, t.type_system, t.type_code,
	t.type_display, t.collected, t.status`

func searchScanSpecimen(rows *sql.Rows) (domain.Specimen, error) {
	var sp domain.Specimen
	var collected sql.NullInt64
	err := rows.Scan(&sp.ID, &sp.OrganizationID, &sp.PatientID, &sp.RequestID, &sp.Barcode, &sp.Type.System,
		&sp.Type.Code, &sp.Type.Display, &collected, &sp.Status)
	sp.Collected = timePtr(collected)
	return sp, err
}

// SearchSpecimens finds specimens.
func (s *Store) SearchSpecimens(ctx context.Context, q store.SpecimenQuery) ([]domain.Specimen, string, int, error) {
	b := scoped(q.Orgs)
	b.ids("t.id", q.IDs)
	b.id("t.patient_id", q.PatientID)
	b.ids("t.request_id", q.RequestIDs)
	if len(q.Identifiers) > 0 {
		var alts []string
		for _, tok := range q.Identifiers {
			if !tok.HasSystem || tok.System == domain.SystemBarcode {
				alts = append(alts, "t.barcode = "+b.arg(tok.Code))
			}
		}
		b.add(orNone(alts))
	}
	b.tokens("t.type_system", "t.type_code", q.Types)
	b.strs("t.status", q.Status)
	b.dates("t.collected", q.Collected, microsBound)
	return searchRun(ctx, s, searchSpecimenColumns, "specimens t", b, q.SearchPage, searchScanSpecimen,
		func(sp *domain.Specimen) int64 { return sp.ID })
}

// GetSpecimen reads one specimen.
func (s *Store) GetSpecimen(ctx context.Context, orgs []int64, id int64) (*domain.Specimen, error) {
	list, _, _, err := s.SearchSpecimens(ctx, store.SpecimenQuery{Orgs: orgs, IDs: []int64{id}})
	return getOne(list, err, "specimen", id)
}

// --- Observations

// SearchObservations finds attached observations.
func (s *Store) SearchObservations(ctx context.Context, q store.ObservationQuery) ([]domain.Observation, string, int, error) {
	b := scoped(q.Orgs)
	b.add("t.patient_id IS NOT NULL")
	b.ids("t.id", q.IDs)
	b.id("t.patient_id", q.PatientID)
	b.ids("t.request_id", q.RequestIDs)
	b.ids("t.specimen_id", q.SpecimenIDs)
	b.ids("t.device_id", q.DeviceIDs)
	beside, err := s.loincBeside(ctx, q.Codes)
	if err != nil {
		return nil, "", 0, err
	}
	b.observationCodes(q.Codes, beside)
	b.strs("t.status", q.Status)
	b.dates("t.effective", q.Date, microsBound)
	return searchRun(ctx, s, prefixed(observationColumns, "t"), "observations t", b, q.SearchPage, scanObservation,
		func(o *domain.Observation) int64 { return o.ID })
}

// GetObservation reads one attached observation.
func (s *Store) GetObservation(ctx context.Context, orgs []int64, id int64) (*domain.Observation, error) {
	list, _, _, err := s.SearchObservations(ctx, store.ObservationQuery{Orgs: orgs, IDs: []int64{id}})
	return getOne(list, err, "observation", id)
}

// --- Reports

const searchReportColumns = `t.id, t.org_id, t.patient_id, t.request_id, t.message_id, t.code_system, t.code,
	t.code_display, t.status, t.effective, t.issued, t.conclusion, t.presented_form, t.qc`

func searchScanReport(rows *sql.Rows) (domain.DiagnosticReport, error) {
	var r domain.DiagnosticReport
	var patient, request, message sql.NullInt64
	var effective, issued int64
	var form string
	err := rows.Scan(&r.ID, &r.OrganizationID, &patient, &request, &message, &r.Code.System, &r.Code.Code,
		&r.Code.Display, &r.Status, &effective, &issued, &r.Conclusion, &form, &r.QC)
	if err != nil {
		return r, err
	}
	r.PatientID, r.RequestID, r.MessageID = patient.Int64, request.Int64, message.Int64
	r.Effective, r.Issued = fromMicros(effective), fromMicros(issued)
	return r, scanPresentedForm(form, &r)
}

// SearchReports finds attached reports with their result ids.
func (s *Store) SearchReports(ctx context.Context, q store.ReportQuery) ([]domain.DiagnosticReport, string, int, error) {
	b := scoped(q.Orgs)
	b.add("t.patient_id IS NOT NULL")
	b.ids("t.id", q.IDs)
	b.id("t.patient_id", q.PatientID)
	b.ids("t.request_id", q.RequestIDs)
	b.tokens("t.code_system", "t.code", q.Codes)
	b.strs("t.status", q.Status)
	if len(q.Category) > 0 {
		vs := make([]string, len(q.Category))
		for i, v := range q.Category {
			vs[i] = string(v)
		}
		// A report without an order came from a lab analyzer.
		b.strs("COALESCE((SELECT sr.category FROM service_requests sr WHERE sr.id = t.request_id), "+
			b.arg(string(domain.CategoryLab))+")", vs)
	}
	b.dates("t.effective", q.Date, microsBound)
	b.dates("t.issued", q.Issued, microsBound)
	list, next, total, err := searchRun(ctx, s, searchReportColumns, "reports t", b, q.SearchPage, searchScanReport,
		func(r *domain.DiagnosticReport) int64 { return r.ID })
	if err != nil || len(list) == 0 {
		return list, next, total, err
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, r := range list {
		ids[i], at[r.ID] = r.ID, i
	}
	in, args := inList(nil, ids)
	rows, err := s.r.QueryContext(ctx, `SELECT id, report_id FROM observations WHERE report_id IN (`+in+`) ORDER BY report_id, id`, args...)
	if err != nil {
		return nil, "", 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, report int64
		if err := rows.Scan(&id, &report); err != nil {
			return nil, "", 0, err
		}
		r := &list[at[report]]
		r.Result = append(r.Result, id)
	}
	return list, next, total, rows.Err()
}

// GetReport reads one attached report with its result ids.
func (s *Store) GetReport(ctx context.Context, orgs []int64, id int64) (*domain.DiagnosticReport, error) {
	list, _, _, err := s.SearchReports(ctx, store.ReportQuery{Orgs: orgs, IDs: []int64{id}})
	return getOne(list, err, "report", id)
}

// --- Imaging studies

const searchStudyColumns = `t.id, t.org_id, t.patient_id, t.request_id, t.study_uid, t.accession, t.modalities,
	t.description, t.started, t.status, t.n_series, t.n_instances, t.updated`

func searchScanStudy(rows *sql.Rows) (domain.ImagingStudy, error) {
	var st domain.ImagingStudy
	var patient, request, started sql.NullInt64
	var mods string
	var updated int64
	err := rows.Scan(&st.ID, &st.OrganizationID, &patient, &request, &st.StudyInstanceUID, &st.AccessionNumber,
		&mods, &st.Description, &started, &st.Status, &st.NumberOfSeries, &st.NumberOfInstances, &updated)
	if err != nil {
		return st, err
	}
	st.PatientID, st.RequestID, st.Started, st.Updated = patient.Int64, request.Int64, timePtr(started), fromMicros(updated)
	if err := json.Unmarshal([]byte(mods), &st.Modalities); err != nil {
		return st, fmt.Errorf("study %d modalities: %w", st.ID, err)
	}
	return st, nil
}

// SearchStudies finds attached studies with their series and instances.
func (s *Store) SearchStudies(ctx context.Context, q store.StudyQuery) ([]domain.ImagingStudy, string, int, error) {
	b := scoped(q.Orgs)
	b.add("t.patient_id IS NOT NULL")
	b.ids("t.id", q.IDs)
	b.id("t.patient_id", q.PatientID)
	b.ids("t.request_id", q.RequestIDs)
	if len(q.Identifiers) > 0 {
		var alts []string
		for _, tok := range q.Identifiers {
			if uid, ok := dicomUID(tok); ok {
				alts = append(alts, "t.study_uid = "+b.arg(uid))
			}
			if (!tok.HasSystem || tok.System == domain.SystemAccession) && tok.Code != "" {
				alts = append(alts, "(t.accession = "+b.arg(tok.Code)+" AND t.accession <> '')")
			}
		}
		b.add(orNone(alts))
	}
	if len(q.Modalities) > 0 {
		var alts []string
		for _, m := range q.Modalities {
			alts = append(alts, b.jsonHas("t.modalities", jsonString(m)))
		}
		b.add(orNone(alts))
	}
	b.strs("t.status", q.Status)
	b.dates("t.started", q.Started, microsBound)
	list, next, total, err := searchRun(ctx, s, searchStudyColumns, "imaging_studies t", b, q.SearchPage, searchScanStudy,
		func(st *domain.ImagingStudy) int64 { return st.ID })
	if err != nil {
		return nil, "", 0, err
	}
	return list, next, total, s.searchLoadSeries(ctx, list)
}

// searchLoadSeries fills the series and instances of the listed studies.
func (s *Store) searchLoadSeries(ctx context.Context, list []domain.ImagingStudy) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, st := range list {
		ids[i], at[st.ID] = st.ID, i
	}
	in, args := inList(nil, ids)
	rows, err := s.r.QueryContext(ctx, `SELECT se.study_id, se.id, se.uid, se.number, se.modality, se.description,
		se.body_part, se.n_instances, i.sop_uid, i.sop_class, i.number, i.transfer_syntax, i.size, i.sha256, i.location
		FROM imaging_series se LEFT JOIN imaging_instances i ON i.series_id = se.id
		WHERE se.study_id IN (`+in+`) ORDER BY se.study_id, se.number, se.id, i.number, i.id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var lastSeries int64
	for rows.Next() {
		var studyID, seriesID int64
		var se domain.ImagingSeries
		var inUID, inClass, inTS, inSHA, inLoc sql.NullString
		var inNum, inSize sql.NullInt64
		if err := rows.Scan(&studyID, &seriesID, &se.UID, &se.Number, &se.Modality, &se.Description, &se.BodyPart,
			&se.NumberOfInstances, &inUID, &inClass, &inNum, &inTS, &inSize, &inSHA, &inLoc); err != nil {
			return err
		}
		st := &list[at[studyID]]
		if seriesID != lastSeries {
			st.Series = append(st.Series, se)
			lastSeries = seriesID
		}
		if inUID.Valid {
			cur := &st.Series[len(st.Series)-1]
			cur.Instances = append(cur.Instances, domain.ImagingInstance{SOPInstanceUID: inUID.String, SOPClassUID: inClass.String,
				Number: int(inNum.Int64), TransferSyntax: inTS.String, Size: inSize.Int64, SHA256: inSHA.String, Location: inLoc.String})
		}
	}
	return rows.Err()
}

// GetStudy reads one attached study with its series and instances.
func (s *Store) GetStudy(ctx context.Context, orgs []int64, id int64) (*domain.ImagingStudy, error) {
	list, _, _, err := s.SearchStudies(ctx, store.StudyQuery{Orgs: orgs, IDs: []int64{id}})
	return getOne(list, err, "study", id)
}

// --- Devices

// SearchDevices finds devices.
func (s *Store) SearchDevices(ctx context.Context, q store.DeviceQuery) ([]domain.Device, string, int, error) {
	b := scoped(q.Orgs)
	b.ids("t.id", q.IDs)
	if q.Name != "" {
		name := strings.ToLower(q.Name)
		b.add("lower(t.name) >= " + b.arg(name) + " AND lower(t.name) < " + b.arg(prefixEnd(name)))
	}
	if len(q.Identifiers) > 0 {
		var alts []string
		cols := []struct{ system, col string }{
			{store.SystemDeviceName, "t.name"}, {store.SystemAETitle, "t.ae_title"},
			{store.SystemSendingApp, "t.sending_application"}, {store.SystemASTMSender, "t.sender"},
		}
		for _, tok := range q.Identifiers {
			for _, c := range cols {
				if (!tok.HasSystem || tok.System == c.system) && tok.Code != "" {
					alts = append(alts, c.col+" = "+b.arg(tok.Code))
				}
			}
		}
		b.add(orNone(alts))
	}
	if q.Active != nil {
		b.add("t.active = " + b.arg(*q.Active))
	}
	return searchRun(ctx, s, prefixed(deviceColumns, "t"), "devices t", b, q.SearchPage,
		func(rows *sql.Rows) (domain.Device, error) { return scanDevice(rows) },
		func(d *domain.Device) int64 { return d.ID })
}

// --- Audit events

const searchAuditColumns = `t.id, t.time, t.user_id, t.login, t.action, t.event, t.org_id, t.patient_id,
	t.resource_type, t.resource_id, t.address, t.outcome, t.detail`

func searchScanAudit(rows *sql.Rows) (domain.AuditEvent, error) {
	var ev domain.AuditEvent
	var t int64
	var user, org, patient, res sql.NullInt64
	err := rows.Scan(&ev.ID, &t, &user, &ev.Login, &ev.Action, &ev.Event, &org, &patient,
		&ev.ResourceType, &res, &ev.Address, &ev.Outcome, &ev.Detail)
	ev.Time, ev.UserID, ev.OrganizationID, ev.PatientID, ev.ResourceID = fromMicros(t), user.Int64, org.Int64, patient.Int64, res.Int64
	return ev, err
}

// SearchAuditEvents finds audit events of the given organizations.
func (s *Store) SearchAuditEvents(ctx context.Context, q store.AuditEventQuery) ([]domain.AuditEvent, string, int, error) {
	b := scoped(q.Orgs)
	b.ids("t.id", q.IDs)
	b.id("t.patient_id", q.PatientID)
	b.id("t.user_id", q.UserID)
	b.strs("t.action", q.Action)
	b.dates("t.time", q.Date, microsBound)
	return searchRun(ctx, s, searchAuditColumns, "audit_events t", b, q.SearchPage, searchScanAudit,
		func(ev *domain.AuditEvent) int64 { return ev.ID })
}

// GetAuditEvent reads one audit event of the given organizations.
func (s *Store) GetAuditEvent(ctx context.Context, orgs []int64, id int64) (*domain.AuditEvent, error) {
	list, _, _, err := s.SearchAuditEvents(ctx, store.AuditEventQuery{Orgs: orgs, IDs: []int64{id}})
	return getOne(list, err, "audit event", id)
}
