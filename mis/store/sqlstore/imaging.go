package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// prefixed qualifies a column list with a table alias.
func prefixed(cols, alias string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func imagingLimit(n int) int {
	if n <= 0 || n > 500 {
		return 500
	}
	return n
}

// Worklist lists active imaging orders with their patients.
func (s *Store) Worklist(ctx context.Context, q store.WorklistQuery) ([]store.WorklistItem, error) {
	if len(q.Orgs) == 0 {
		return nil, nil
	}
	var f filter
	f.in("r.org_id", q.Orgs)
	f.where("r.category = " + f.arg(string(domain.CategoryImaging)))
	f.where("r.status = " + f.arg(string(domain.StatusActive)))
	if q.StationAE != "" {
		f.where("r.station_ae = " + f.arg(q.StationAE))
	}
	if q.Modality != "" {
		f.where("r.modality = " + f.arg(q.Modality))
	}
	if q.From != nil {
		f.where("r.scheduled >= " + f.arg(micros(*q.From)))
	}
	if q.To != nil {
		f.where("r.scheduled <= " + f.arg(micros(*q.To)))
	}
	if q.PatientID != 0 {
		f.where("r.patient_id = " + f.arg(q.PatientID))
	}
	if q.Accession != "" {
		f.where("r.accession = " + f.arg(q.Accession))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+prefixed(orderColumns, "r")+`, `+prefixed(patientColumns, "p")+`
		FROM service_requests r JOIN patients p ON p.id = r.patient_id`+f.sql()+`
		ORDER BY r.scheduled, r.id LIMIT `+f.arg(imagingLimit(q.Limit)), f.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []store.WorklistItem
	for rows.Next() {
		var it store.WorklistItem
		if err := scanOrderPatient(rows, &it.Order, &it.Patient); err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	patients := make([]domain.Patient, len(items))
	for i := range items {
		patients[i] = items[i].Patient
	}
	if err := loadIdentifiers(ctx, s.r, patients); err != nil {
		return nil, err
	}
	for i := range items {
		items[i].Patient = patients[i]
	}
	return items, nil
}

// scanOrderPatient reads a row of orderColumns followed by patientColumns.
func scanOrderPatient(rows *sql.Rows, r *domain.ServiceRequest, p *domain.Patient) error {
	var branch, requester, scheduled sql.NullInt64
	var category, codes, priority, status, gender string
	var authored, updated, pCreated, pUpdated int64
	err := rows.Scan(&r.ID, &r.OrganizationID, &branch, &r.PatientID, &category, &r.AccessionNumber, &codes, &r.Procedure,
		&r.Modality, &r.BodySite, &priority, &requester, &status, &r.StudyInstanceUID, &r.ScheduledStationAE, &scheduled,
		&r.Note, &authored, &updated,
		&p.ID, &p.OrganizationID, &p.Family, &p.Given, &p.Patronymic, &p.BirthDate, &gender,
		&p.SNILS, &p.ENP, &p.Phone, &p.Address, &p.Active, &p.Version, &pCreated, &pUpdated)
	if err != nil {
		return err
	}
	r.BranchID, r.RequesterID, r.Scheduled = branch.Int64, requester.Int64, timePtr(scheduled)
	r.Category, r.Priority, r.Status = domain.Category(category), domain.Priority(priority), domain.RequestStatus(status)
	r.AuthoredOn, r.Updated = fromMicros(authored), fromMicros(updated)
	p.Gender, p.Created, p.Updated = domain.Gender(gender), fromMicros(pCreated), fromMicros(pUpdated)
	if err := json.Unmarshal([]byte(codes), &r.Codes); err != nil {
		return fmt.Errorf("order %d codes: %w", r.ID, err)
	}
	return nil
}

const studyColumns = `st.id, st.org_id, st.patient_id, st.request_id, st.study_uid, st.accession,
	st.modalities, st.description, st.started, st.status, st.n_series, st.n_instances, st.updated,
	st.src_patient_id, st.src_issuer, st.src_patient_name, st.src_birth_date, st.src_sex, st.study_id, st.referring`

// studyScan returns the destinations for studyColumns and a function that
// finishes the study once scanned.
func studyScan(st *domain.ImagingStudy) ([]any, func()) {
	var patient, request, started, updated sql.NullInt64
	var mods string
	dest := []any{&st.ID, &st.OrganizationID, &patient, &request, &st.StudyInstanceUID, &st.AccessionNumber,
		&mods, &st.Description, &started, &st.Status, &st.NumberOfSeries, &st.NumberOfInstances, &updated,
		&st.Source.ID, &st.Source.Issuer, &st.Source.Name, &st.Source.BirthDate, &st.Source.Sex, &st.StudyID, &st.ReferringPhysician}
	return dest, func() {
		st.PatientID, st.RequestID, st.Started = patient.Int64, request.Int64, timePtr(started)
		st.Updated = fromMicros(updated.Int64)
		_ = json.Unmarshal([]byte(mods), &st.Modalities)
	}
}

// FindStudies lists studies with their patients.
func (s *Store) FindStudies(ctx context.Context, q store.DICOMStudyQuery) ([]store.StudyRow, error) {
	if len(q.Orgs) == 0 {
		return nil, nil
	}
	var f filter
	f.in("st.org_id", q.Orgs)
	if len(q.StudyUIDs) > 0 {
		ph := make([]string, len(q.StudyUIDs))
		for i, u := range q.StudyUIDs {
			ph[i] = f.arg(u)
		}
		f.where("st.study_uid IN (" + strings.Join(ph, ",") + ")")
	}
	if q.Accession != "" {
		f.where("st.accession = " + f.arg(q.Accession))
	}
	if q.From != nil {
		f.where("st.started >= " + f.arg(micros(*q.From)))
	}
	if q.To != nil {
		f.where("st.started <= " + f.arg(micros(*q.To)))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+studyColumns+`, p.id, `+prefixed(patientColumns, "p")+`
		FROM imaging_studies st LEFT JOIN patients p ON p.id = st.patient_id`+f.sql()+`
		ORDER BY st.started, st.id LIMIT `+f.arg(imagingLimit(q.Limit)), f.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []store.StudyRow
	for rows.Next() {
		var row store.StudyRow
		dest, done := studyScan(&row.Study)
		var pid, porg, pver, pcreated, pupdated sql.NullInt64
		var fam, giv, pat, birth, gender, snils, enp, phone, addr sql.NullString
		var active sql.NullBool
		dest = append(dest, new(sql.NullInt64), &pid, &porg, &fam, &giv, &pat, &birth, &gender, &snils, &enp, &phone, &addr,
			&active, &pver, &pcreated, &pupdated)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		done()
		if pid.Valid {
			row.Patient = &domain.Patient{ID: pid.Int64, OrganizationID: porg.Int64, Family: fam.String, Given: giv.String,
				Patronymic: pat.String, BirthDate: birth.String, Gender: domain.Gender(gender.String), SNILS: snils.String,
				ENP: enp.String, Phone: phone.String, Address: addr.String, Active: active.Bool, Version: pver.Int64,
				Created: fromMicros(pcreated.Int64), Updated: fromMicros(pupdated.Int64)}
		}
		list = append(list, row)
	}
	return list, rows.Err()
}

// StudyByUID reads a study, attached or not, with its series and instances.
func (s *Store) StudyByUID(ctx context.Context, orgs []int64, studyUID string) (*domain.ImagingStudy, error) {
	if len(orgs) == 0 {
		return nil, fmt.Errorf("study: %w", store.ErrNotFound)
	}
	in, args := inList([]any{studyUID}, orgs)
	list, err := s.studiesWhere(ctx, `st.study_uid = $1 AND st.org_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("study: %w", store.ErrNotFound)
	}
	return &list[0], nil
}

// StudyState reads a study's row and whether it waits in reconciliation.
func (s *Store) StudyState(ctx context.Context, org int64, studyUID string) (*domain.ImagingStudy, bool, error) {
	var st domain.ImagingStudy
	dest, done := studyScan(&st)
	var open int
	dest = append(dest, &open)
	err := s.r.QueryRowContext(ctx, `SELECT `+studyColumns+`,
		(SELECT count(*) FROM recon_items ri WHERE ri.study_id = st.id AND ri.status = 'open')
		FROM imaging_studies st WHERE st.org_id = $1 AND st.study_uid = $2`, org, studyUID).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("study: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, false, err
	}
	done()
	return &st, open > 0, nil
}

// CompleteStableStudies completes the imaging orders whose studies are quiet.
func (s *Store) CompleteStableStudies(ctx context.Context, quietSince time.Time) ([]int64, error) {
	ids, err := queryIDs(ctx, s.r, `SELECT DISTINCT r.id FROM service_requests r
		JOIN imaging_studies st ON st.request_id = r.id
		WHERE r.category = $1 AND r.status = $2 AND st.n_instances > 0
		AND NOT EXISTS (SELECT 1 FROM imaging_studies o WHERE o.request_id = r.id AND o.updated >= $3)`,
		string(domain.CategoryImaging), string(domain.StatusActive), micros(quietSince))
	if err != nil {
		return nil, err
	}
	var done []int64
	for _, id := range ids {
		err := s.inTx(ctx, func(tx *txn) error {
			var org, patient int64
			err := tx.QueryRowContext(ctx, `UPDATE service_requests SET status = $1, updated = $2 WHERE id = $3 AND status = $4
				RETURNING org_id, patient_id`, string(domain.StatusCompleted), micros(now()), id, string(domain.StatusActive)).Scan(&org, &patient)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // someone moved it meanwhile
			}
			if err != nil {
				return err
			}
			done = append(done, id)
			ev := &domain.AuditEvent{Action: domain.ActionUpdate, Event: "order.complete",
				Detail: "study stable: no new instances for the quiet period"}
			if err := writeAudit(ctx, tx, ev, "ServiceRequest", id, patient, org); err != nil {
				return err
			}
			// The complete study is announced once more, with its final count.
			studies, err := queryIDs(ctx, tx, `SELECT id FROM imaging_studies WHERE request_id = $1 ORDER BY id`, id)
			if err != nil {
				return err
			}
			for _, st := range studies {
				if err := enqueueStudy(ctx, tx, st, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// studiesWhere reads studies with series and instances.
func (s *Store) studiesWhere(ctx context.Context, where string, args ...any) ([]domain.ImagingStudy, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+studyColumns+`,
		se.id, se.uid, se.number, se.modality, se.description, se.body_part, se.n_instances,
		i.sop_uid, i.sop_class, i.number, i.transfer_syntax, i.size, i.sha256, i.location
		FROM imaging_studies st
		LEFT JOIN imaging_series se ON se.study_id = st.id
		LEFT JOIN imaging_instances i ON i.series_id = se.id
		WHERE `+where+`
		ORDER BY st.started, st.id, se.number, se.id, i.number, i.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []domain.ImagingStudy{}
	var lastStudy, lastSeries int64
	for rows.Next() {
		var st domain.ImagingStudy
		dest, done := studyScan(&st)
		var seID sql.NullInt64
		var seUID, seMod, seDesc, seBody sql.NullString
		var seNum, seN sql.NullInt64
		var inUID, inClass, inTS, inSHA, inLoc sql.NullString
		var inNum, inSize sql.NullInt64
		dest = append(dest, &seID, &seUID, &seNum, &seMod, &seDesc, &seBody, &seN,
			&inUID, &inClass, &inNum, &inTS, &inSize, &inSHA, &inLoc)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if st.ID != lastStudy {
			done()
			list = append(list, st)
			lastStudy, lastSeries = st.ID, 0
		}
		cur := &list[len(list)-1]
		if !seID.Valid {
			continue
		}
		if seID.Int64 != lastSeries {
			cur.Series = append(cur.Series, domain.ImagingSeries{UID: seUID.String, Number: int(seNum.Int64),
				Modality: seMod.String, Description: seDesc.String, BodyPart: seBody.String, NumberOfInstances: int(seN.Int64)})
			lastSeries = seID.Int64
		}
		if inUID.Valid {
			se := &cur.Series[len(cur.Series)-1]
			se.Instances = append(se.Instances, domain.ImagingInstance{SOPInstanceUID: inUID.String, SOPClassUID: inClass.String,
				Number: int(inNum.Int64), TransferSyntax: inTS.String, Size: inSize.Int64, SHA256: inSHA.String, Location: inLoc.String})
		}
	}
	return list, rows.Err()
}
