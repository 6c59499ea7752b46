package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/medgate/medgate/mis/domain"
)

// SaveReport inserts a report with its observations in one transaction.
// Observations inherit the report's patient, organization and order.
func (s *Store) SaveReport(ctx context.Context, r *domain.DiagnosticReport, obs []domain.Observation, audit *domain.AuditEvent) error {
	return s.inTx(ctx, func(tx *txn) error {
		if err := saveReport(ctx, tx, r, obs); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "DiagnosticReport", r.ID, r.PatientID, r.OrganizationID)
	})
}

func saveReport(ctx context.Context, tx *txn, r *domain.DiagnosticReport, obs []domain.Observation) error {
	if r.Issued.IsZero() {
		r.Issued = now()
	}
	form, err := presentedForm(r.PresentedForm)
	if err != nil {
		return err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO reports (org_id, patient_id, request_id, message_id, code_system, code,
		code_display, status, effective, issued, conclusion, presented_form, qc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		r.OrganizationID, nullID(r.PatientID), nullID(r.RequestID), nullID(r.MessageID), r.Code.System, r.Code.Code,
		r.Code.Display, r.Status, micros(r.Effective), micros(r.Issued), r.Conclusion, form, r.QC).Scan(&r.ID)
	if err != nil {
		return err
	}
	r.Result = r.Result[:0]
	for i := range obs {
		o := &obs[i]
		o.ReportID = r.ID
		if o.OrganizationID == 0 {
			o.OrganizationID = r.OrganizationID
		}
		if o.PatientID == 0 {
			o.PatientID = r.PatientID
		}
		if o.RequestID == 0 {
			o.RequestID = r.RequestID
		}
		if o.MessageID == 0 {
			o.MessageID = r.MessageID
		}
		if o.Issued.IsZero() {
			o.Issued = r.Issued
		}
	}
	if err := insertObservations(ctx, tx, obs); err != nil {
		return err
	}
	for _, o := range obs {
		r.Result = append(r.Result, o.ID)
	}
	return nil
}

// presentedForm is the presented_form column: the attachments as JSON,
// their bytes already in the blob store (an attachment still holding
// Data, or without a blob key, is a caller's bug: nothing is written).
func presentedForm(list []domain.Attachment) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	for i, a := range list {
		if a.Location == "" || a.Data != nil {
			return "", fmt.Errorf("report attachment %d is not in the blob store", i)
		}
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// scanPresentedForm reads the presented_form column.
func scanPresentedForm(s string, r *domain.DiagnosticReport) error {
	if s == "" || s == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), &r.PresentedForm); err != nil {
		return fmt.Errorf("report %d presented_form: %w", r.ID, err)
	}
	return nil
}

// obsChunk bounds the rows per INSERT: few distinct statement texts to
// prepare, and well under both dialects' parameter limits.
const obsChunk = 32

// insertObservations writes observations with ids drawn up front, in
// multi-row statements: one statement per chunk instead of one per row.
func insertObservations(ctx context.Context, tx *txn, obs []domain.Observation) error {
	if len(obs) == 0 {
		return nil
	}
	if err := recordLOINC(ctx, tx, obs); err != nil {
		return err
	}
	if tx.d == nil || tx.d.NextIDs == "" {
		for i := range obs {
			if err := InsertObservation(ctx, tx, &obs[i]); err != nil {
				return fmt.Errorf("observation %d: %w", i, err)
			}
		}
		return nil
	}
	rows, err := tx.QueryContext(ctx, tx.d.NextIDs, len(obs))
	if err != nil {
		return err
	}
	i := 0
	for rows.Next() && i < len(obs) {
		if err := rows.Scan(&obs[i].ID); err != nil {
			rows.Close()
			return err
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if i != len(obs) {
		return fmt.Errorf("allocated %d observation ids, need %d", i, len(obs))
	}
	for start := 0; start < len(obs); start += obsChunk {
		chunk := obs[start:min(start+obsChunk, len(obs))]
		args := make([]any, 0, len(chunk)*(observationFields+1))
		for j := range chunk {
			args = append(args, chunk[j].ID)
			args = append(args, ObservationArgs(&chunk[j])...)
		}
		if _, err := tx.ExecContext(ctx, multiInsertSQL(len(chunk), tx.d.QuestionMarks), args...); err != nil {
			return fmt.Errorf("observations %d-%d: %w", start, start+len(chunk)-1, err)
		}
	}
	return nil
}

// recordLOINC notes in observation_loinc each pair of an own code and the
// LOINC code beside it among obs, for the searches by LOINC code (see
// observationCodes in search.go): one statement per obsChunk pairs, and
// none at all for observations without a LOINC code beside, so that only
// the results that have a second coding pay for it. A pair already known
// is a lookup that writes nothing. Every insert into observations must
// record its pairs so; no index or trigger on the table does it.
func recordLOINC(ctx context.Context, tx *txn, obs []domain.Observation) error {
	type pair struct{ loinc, code string }
	var pairs []pair
	for i := range obs {
		p := pair{obs[i].LOINC, obs[i].Code.Code}
		if p.loinc != "" && !slices.Contains(pairs, p) { // a report has a few dozen results at most
			pairs = append(pairs, p)
		}
	}
	qm := tx.d != nil && tx.d.QuestionMarks
	for start := 0; start < len(pairs); start += obsChunk {
		chunk := pairs[start:min(start+obsChunk, len(pairs))]
		var b strings.Builder
		args := make([]any, 0, 2*len(chunk))
		b.WriteString("INSERT INTO observation_loinc (loinc, code) VALUES ")
		for i, p := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			if qm {
				b.WriteString("(?, ?)")
			} else {
				b.WriteString("($" + strconv.Itoa(2*i+1) + ", $" + strconv.Itoa(2*i+2) + ")")
			}
			args = append(args, p.loinc, p.code)
		}
		b.WriteString(" ON CONFLICT (loinc, code) DO NOTHING")
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("observation LOINC codes: %w", err)
		}
	}
	return nil
}

// observationFields is the number of values ObservationArgs returns.
const observationFields = 30

type multiKey struct {
	n  int
	qm bool
}

var multiInsert = map[multiKey]string{}
var multiInsertMu sync.Mutex

// multiInsertSQL is "INSERT INTO observations (id, …) VALUES (…), (…)" for
// n rows, with $N placeholders or, qm, with ? ones.
func multiInsertSQL(n int, qm bool) string {
	multiInsertMu.Lock()
	defer multiInsertMu.Unlock()
	if q, ok := multiInsert[multiKey{n, qm}]; ok {
		return q
	}
	cols := InsertObservationSQL[strings.Index(InsertObservationSQL, "(")+1 : strings.Index(InsertObservationSQL, ")")]
	var b strings.Builder
	b.WriteString("INSERT INTO observations (id, " + cols + ") VALUES ")
	p := 1
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c <= observationFields; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			if qm {
				b.WriteByte('?')
			} else {
				b.WriteString("$" + strconv.Itoa(p))
			}
			p++
		}
		b.WriteByte(')')
	}
	q := b.String()
	multiInsert[multiKey{n, qm}] = q
	return q
}

// Value kinds as stored in observations.value_type.
const (
	valueQuantity = "quantity"
	valueString   = "string"
	valueCoded    = "coded"
	valueRange    = "range"
)

// InsertObservation writes one observation in tx (exported for bulk loaders);
// its LOINC pair, if any, is insertObservations' to record (recordLOINC).
func InsertObservation(ctx context.Context, tx *txn, o *domain.Observation) error {
	return tx.QueryRowContext(ctx, InsertObservationSQL, ObservationArgs(o)...).Scan(&o.ID)
}

// InsertObservationSQL is the statement ObservationArgs fills.
const InsertObservationSQL = `INSERT INTO observations (org_id, patient_id, request_id, specimen_id, report_id, device_id,
	message_id, code_system, code, code_display, status, value_type, value_num, value_comparator, value_text,
	value_code_system, value_code, value_display, value_low, value_high, unit, ref_low, ref_high, ref_text,
	interpretation, effective, issued, note, loinc, equipment)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
	$24, $25, $26, $27, $28, $29, $30) RETURNING id`

// ObservationArgs flattens an observation into InsertObservationSQL's arguments.
func ObservationArgs(o *domain.Observation) []any {
	var vtype, comparator, text, vsys, vcode, vdisp, unit string
	var num, low, high any
	switch {
	case o.ValueQuantity != nil:
		vtype, num, comparator, unit = valueQuantity, o.ValueQuantity.Value, o.ValueQuantity.Comparator, o.ValueQuantity.Unit
	case o.ValueCoding != nil:
		vtype, vsys, vcode, vdisp = valueCoded, o.ValueCoding.System, o.ValueCoding.Code, o.ValueCoding.Display
	case o.ValueRange != nil:
		vtype, low, high, unit = valueRange, nullFloat(o.ValueRange.Low), nullFloat(o.ValueRange.High), o.ValueRange.Unit
	default:
		vtype, text = valueString, o.ValueString
	}
	var refLow, refHigh any
	var refText string
	if rr := o.ReferenceRange; rr != nil {
		refLow, refHigh, refText = nullFloat(rr.Low), nullFloat(rr.High), rr.Text
	}
	var loinc any // NULL: no second coding
	if o.LOINC != "" {
		loinc = o.LOINC
	}
	return []any{o.OrganizationID, nullID(o.PatientID), nullID(o.RequestID), nullID(o.SpecimenID), nullID(o.ReportID),
		nullID(o.DeviceID), nullID(o.MessageID), o.Code.System, o.Code.Code, o.Code.Display, o.Status, vtype, num, comparator,
		text, vsys, vcode, vdisp, low, high, unit, refLow, refHigh, refText, o.Interpretation, micros(o.Effective),
		micros(o.Issued), o.Note, loinc, o.Equipment}
}

const observationColumns = `id, org_id, patient_id, request_id, specimen_id, report_id, device_id, message_id, code_system,
	code, code_display, status, value_type, value_num, value_comparator, value_text, value_code_system, value_code,
	value_display, value_low, value_high, unit, ref_low, ref_high, ref_text, interpretation, effective, issued, note, loinc, equipment`

func scanObservation(rows *sql.Rows) (domain.Observation, error) {
	var o domain.Observation
	var patient, request, specimen, report, device, message sql.NullInt64
	var vtype, comparator, text, vsys, vcode, vdisp, unit, refText string
	var num, low, high, refLow, refHigh sql.NullFloat64
	var effective, issued int64
	var loinc sql.NullString
	err := rows.Scan(&o.ID, &o.OrganizationID, &patient, &request, &specimen, &report, &device, &message, &o.Code.System,
		&o.Code.Code, &o.Code.Display, &o.Status, &vtype, &num, &comparator, &text, &vsys, &vcode, &vdisp, &low, &high,
		&unit, &refLow, &refHigh, &refText, &o.Interpretation, &effective, &issued, &o.Note, &loinc, &o.Equipment)
	if err != nil {
		return o, err
	}
	o.LOINC = loinc.String
	o.PatientID, o.RequestID, o.SpecimenID = patient.Int64, request.Int64, specimen.Int64
	o.ReportID, o.DeviceID, o.MessageID = report.Int64, device.Int64, message.Int64
	o.Effective, o.Issued = fromMicros(effective), fromMicros(issued)
	switch vtype {
	case valueQuantity:
		o.ValueQuantity = &domain.Quantity{Value: num.Float64, Comparator: comparator, Unit: unit}
	case valueCoded:
		o.ValueCoding = &domain.Coding{System: vsys, Code: vcode, Display: vdisp}
	case valueRange:
		o.ValueRange = &domain.Range{Low: floatPtr(low), High: floatPtr(high), Unit: unit}
	default:
		o.ValueString = text
	}
	if refLow.Valid || refHigh.Valid || refText != "" {
		o.ReferenceRange = &domain.ReferenceRange{Low: floatPtr(refLow), High: floatPtr(refHigh), Text: refText}
	}
	return o, nil
}

// PatientObservations lists a patient's observations, optionally of one code
// (the code, or the LOINC code beside it), oldest first (the order a trend
// is drawn in).
func (s *Store) PatientObservations(ctx context.Context, orgs []int64, patientID int64, code string) ([]domain.Observation, error) {
	if _, err := s.getPatient(ctx, s.r, orgs, patientID); err != nil {
		return nil, err
	}
	return s.observations(ctx, patientID, code)
}

func (s *Store) observations(ctx context.Context, patientID int64, code string) ([]domain.Observation, error) {
	query := `SELECT ` + observationColumns + ` FROM observations WHERE patient_id = $1`
	args := []any{patientID}
	if code != "" {
		query += ` AND (code = $2 OR loinc = $2)`
		args = append(args, code)
	}
	rows, err := s.r.QueryContext(ctx, query+` ORDER BY effective, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []domain.Observation{}
	for rows.Next() {
		o, err := scanObservation(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, o)
	}
	return list, rows.Err()
}

// PatientChart loads a patient with all reports, observations and studies.
func (s *Store) PatientChart(ctx context.Context, orgs []int64, patientID int64) (*domain.Chart, error) {
	p, err := s.getPatient(ctx, s.r, orgs, patientID)
	if err != nil {
		return nil, err
	}
	c := &domain.Chart{Patient: *p, Reports: []domain.DiagnosticReport{}}
	if c.Observations, err = s.observations(ctx, patientID, ""); err != nil {
		return nil, err
	}
	if c.Studies, err = s.studies(ctx, patientID); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, org_id, patient_id, request_id, message_id, code_system, code, code_display,
		status, effective, issued, conclusion, presented_form, qc FROM reports WHERE patient_id = $1 ORDER BY effective, id`, patientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	at := map[int64]int{}
	for rows.Next() {
		var r domain.DiagnosticReport
		var patient, request, message sql.NullInt64
		var effective, issued int64
		var form string
		if err := rows.Scan(&r.ID, &r.OrganizationID, &patient, &request, &message, &r.Code.System, &r.Code.Code,
			&r.Code.Display, &r.Status, &effective, &issued, &r.Conclusion, &form, &r.QC); err != nil {
			return nil, err
		}
		if err := scanPresentedForm(form, &r); err != nil {
			return nil, err
		}
		r.PatientID, r.RequestID, r.MessageID = patient.Int64, request.Int64, message.Int64
		r.Effective, r.Issued = fromMicros(effective), fromMicros(issued)
		at[r.ID] = len(c.Reports)
		c.Reports = append(c.Reports, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, o := range c.Observations {
		if i, ok := at[o.ReportID]; ok && o.ReportID != 0 {
			c.Reports[i].Result = append(c.Reports[i].Result, o.ID)
		}
	}
	return c, nil
}

// SaveImagingStudy inserts or extends a study (keyed by organization and
// Study Instance UID) with its series and instances; instances already
// stored are left as they are and the counts are recomputed.
func (s *Store) SaveImagingStudy(ctx context.Context, st *domain.ImagingStudy, audit *domain.AuditEvent) error {
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := saveStudy(ctx, tx, st); err != nil {
			return err
		}
		return writeAudit(ctx, tx, audit, "ImagingStudy", st.ID, st.PatientID, st.OrganizationID)
	})
}

// saveStudy inserts or extends a study and reports whether it is news: a
// study medgate did not hold, or one now attached to another patient or
// order. Another instance of a known study is not (a CBCT is 500 of them).
func saveStudy(ctx context.Context, tx *txn, st *domain.ImagingStudy) (news bool, err error) {
	st.Updated = now()
	// Instances arrive one message at a time: the study's modalities are
	// the union of what every series said.
	var prev string
	var prevPatient, prevRequest sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT modalities, patient_id, request_id FROM imaging_studies WHERE org_id = $1 AND study_uid = $2`,
		st.OrganizationID, st.StudyInstanceUID).Scan(&prev, &prevPatient, &prevRequest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		news = true
	case err != nil:
		return false, err
	default:
		news = st.PatientID != 0 && st.PatientID != prevPatient.Int64 || st.RequestID != 0 && st.RequestID != prevRequest.Int64
	}
	var had []string
	_ = json.Unmarshal([]byte(prev), &had)
	for _, m := range had {
		if m != "" && !slices.Contains(st.Modalities, m) {
			st.Modalities = append(st.Modalities, m)
		}
	}
	slices.Sort(st.Modalities)
	mods, _ := json.Marshal(st.Modalities)
	src := st.Source
	err = tx.QueryRowContext(ctx, `INSERT INTO imaging_studies (org_id, patient_id, request_id, study_uid, accession,
		modalities, description, started, status, n_series, n_instances, updated,
		src_patient_id, src_issuer, src_patient_name, src_birth_date, src_sex, study_id, referring)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (org_id, study_uid) DO UPDATE SET
			patient_id = COALESCE(excluded.patient_id, imaging_studies.patient_id),
			request_id = COALESCE(excluded.request_id, imaging_studies.request_id),
			accession = excluded.accession, modalities = excluded.modalities, description = excluded.description,
			started = COALESCE(excluded.started, imaging_studies.started), status = excluded.status, updated = excluded.updated,
			src_patient_id = excluded.src_patient_id, src_issuer = excluded.src_issuer,
			src_patient_name = excluded.src_patient_name, src_birth_date = excluded.src_birth_date,
			src_sex = excluded.src_sex, study_id = excluded.study_id, referring = excluded.referring
		RETURNING id`,
		st.OrganizationID, nullID(st.PatientID), nullID(st.RequestID), st.StudyInstanceUID, st.AccessionNumber,
		string(mods), st.Description, nullMicros(st.Started), st.Status, micros(st.Updated),
		src.ID, src.Issuer, src.Name, src.BirthDate, src.Sex, st.StudyID, st.ReferringPhysician).Scan(&st.ID)
	if err != nil {
		return false, err
	}
	for _, se := range st.Series {
		var seriesID int64
		err := tx.QueryRowContext(ctx, `INSERT INTO imaging_series (study_id, uid, number, modality, description, body_part, n_instances)
			VALUES ($1, $2, $3, $4, $5, $6, 0)
			ON CONFLICT (study_id, uid) DO UPDATE SET number = excluded.number, modality = excluded.modality,
				description = excluded.description, body_part = excluded.body_part
			RETURNING id`, st.ID, se.UID, se.Number, se.Modality, se.Description, se.BodyPart).Scan(&seriesID)
		if err != nil {
			return false, fmt.Errorf("series %s: %w", se.UID, err)
		}
		for _, in := range se.Instances {
			if _, err := tx.ExecContext(ctx, `INSERT INTO imaging_instances (series_id, sop_uid, sop_class, number,
				transfer_syntax, size, sha256, location) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (series_id, sop_uid) DO NOTHING`,
				seriesID, in.SOPInstanceUID, in.SOPClassUID, in.Number, in.TransferSyntax, in.Size, in.SHA256, in.Location); err != nil {
				return false, fmt.Errorf("instance %s: %w", in.SOPInstanceUID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE imaging_series SET n_instances =
			(SELECT count(*) FROM imaging_instances WHERE series_id = $1) WHERE id = $1`, seriesID); err != nil {
			return false, err
		}
	}
	err = tx.QueryRowContext(ctx, `UPDATE imaging_studies SET
		n_series = (SELECT count(*) FROM imaging_series WHERE study_id = $1),
		n_instances = (SELECT COALESCE(sum(n_instances), 0) FROM imaging_series WHERE study_id = $1)
		WHERE id = $1 RETURNING n_series, n_instances, patient_id`, st.ID).Scan(&st.NumberOfSeries, &st.NumberOfInstances, new(sql.NullInt64))
	if err != nil {
		return false, err
	}
	return news, nil
}

// PatientStudies lists a patient's studies with series and instances.
func (s *Store) PatientStudies(ctx context.Context, orgs []int64, patientID int64) ([]domain.ImagingStudy, error) {
	if _, err := s.getPatient(ctx, s.r, orgs, patientID); err != nil {
		return nil, err
	}
	return s.studies(ctx, patientID)
}

func (s *Store) studies(ctx context.Context, patientID int64) ([]domain.ImagingStudy, error) {
	return s.studiesWhere(ctx, `st.patient_id = $1`, patientID)
}
