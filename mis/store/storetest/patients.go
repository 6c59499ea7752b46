package storetest

import (
	"errors"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// fullPatient sets every patient field, with the letters (Ё, ё, apostrophes)
// that a store must keep exactly.
func fullPatient(org int64) *domain.Patient {
	return &domain.Patient{
		OrganizationID: org,
		Family:         "Щербаков-Ёлкин",
		Given:          "Фёдор",
		Patronymic:     "Юрьевич",
		BirthDate:      "1984-02-29",
		Gender:         domain.GenderMale,
		SNILS:          "11223344595",
		ENP:            ENP(1),
		Identifiers: []domain.Identifier{
			{System: SystemMedCard, Value: "МК-000123"},
			{System: SystemPasport, Value: "4510 123456"},
		},
		Phone:   "+7 (916) 123-45-67",
		Address: "г. Москва, ул. Тверская, д. 7, кв. 12",
		Active:  true,
	}
}

func testPatients(t *testing.T, open opener) {
	t.Run("CreateSetsIDVersionTimes", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := fullPatient(org.ID)
		if err := e.s.CreatePatient(e.ctx, p, 0, nil); err != nil {
			t.Fatalf("CreatePatient: %v", err)
		}
		if p.ID == 0 {
			t.Fatal("CreatePatient did not set ID")
		}
		if p.Version != 1 {
			t.Errorf("CreatePatient set Version = %d, want 1", p.Version)
		}
		if p.Created.IsZero() || p.Updated.IsZero() {
			t.Errorf("CreatePatient did not set Created (%v) and Updated (%v)", p.Created, p.Updated)
		}
		got := e.getPatient(ids(org.ID), p.ID)
		sameJSON(t, "GetPatient", normPatient(*p), normPatient(*got))
		checkUTC(t, "Patient.Created", got.Created)
		checkUTC(t, "Patient.Updated", got.Updated)
		q := e.patient(org.ID, "Петров", "Пётр")
		if q.ID == p.ID {
			t.Errorf("two patients got the same ID %d", q.ID)
		}
	})
	t.Run("CyrillicExact", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Ёлкина-д’Арк", "Алёна", func(p *domain.Patient) {
			p.Patronymic = "Семёновна"
			p.Address = "Респ. Саха (Якутия), г. Якутск, ул. Ленина, д. 1 — «кв. 5»"
		})
		got := e.getPatient(ids(org.ID), p.ID)
		for _, f := range []struct{ name, got, want string }{
			{"Family", got.Family, p.Family},
			{"Given", got.Given, p.Given},
			{"Patronymic", got.Patronymic, p.Patronymic},
			{"Address", got.Address, p.Address},
		} {
			if f.got != f.want {
				t.Errorf("%s = %q, want %q byte for byte", f.name, f.got, f.want)
			}
		}
	})
	t.Run("Identifiers", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := fullPatient(org.ID)
		if err := e.s.CreatePatient(e.ctx, p, 0, nil); err != nil {
			t.Fatalf("CreatePatient: %v", err)
		}
		got := e.getPatient(ids(org.ID), p.ID)
		if got.SNILS != p.SNILS || got.ENP != p.ENP {
			t.Errorf("SNILS, ENP = %q, %q, want %q, %q", got.SNILS, got.ENP, p.SNILS, p.ENP)
		}
		// Identifiers holds the extra identifiers only: СНИЛС and ЕНП live in
		// their own fields and are not repeated there.
		sameJSON(t, "Identifiers", sortedIdentifiers(p.Identifiers), sortedIdentifiers(got.Identifiers))
		bare := e.patient(org.ID, "Петров", "Пётр")
		got = e.getPatient(ids(org.ID), bare.ID)
		if got.SNILS != "" || got.ENP != "" || len(got.Identifiers) != 0 {
			t.Errorf("patient without identifiers came back with SNILS %q, ENP %q, %v", got.SNILS, got.ENP, got.Identifiers)
		}
	})
	t.Run("OtherOrganizationNotFound", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		_, err := e.s.GetPatient(e.ctx, ids(b.ID), p.ID)
		wantNotFound(t, "GetPatient from another organization", err)
		_, err = e.s.GetPatient(e.ctx, nil, p.ID)
		wantNotFound(t, "GetPatient with no organizations", err)
		_, err = e.s.GetPatient(e.ctx, ids(a.ID, b.ID), 987654321)
		wantNotFound(t, "GetPatient(unknown id)", err)
		if got := e.getPatient(ids(b.ID, a.ID), p.ID); got.ID != p.ID {
			t.Errorf("GetPatient with both organizations = %d, want %d", got.ID, p.ID)
		}
	})
	t.Run("DuplicateSNILS", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		snils := SNILS(123456789)
		e.patient(a.ID, "Иванов", "Иван", func(p *domain.Patient) { p.SNILS = snils })
		dup := NewPatient(a.ID, "Иванов", "Иван")
		dup.SNILS = snils
		err := e.s.CreatePatient(e.ctx, dup, 0, NewAudit(a.ID, domain.ActionCreate, "storetest.dup-snils"))
		wantConflict(t, "CreatePatient with a СНИЛС taken in the organization", err, "snils")
		if n := len(e.searchAll(store.PatientQuery{Orgs: ids(a.ID)})); n != 1 {
			t.Errorf("patients after the refused create: %d, want 1", n)
		}
		e.wantNoAudit(ids(a.ID), "storetest.dup-snils")
		// The same person may be a patient of another controller.
		e.patient(b.ID, "Иванов", "Иван", func(p *domain.Patient) { p.SNILS = snils })
	})
	t.Run("DuplicateIdentifier", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		card := domain.Identifier{System: SystemMedCard, Value: "МК-77"}
		e.patient(a.ID, "Иванов", "Иван", func(p *domain.Patient) { p.Identifiers = []domain.Identifier{card} })
		dup := NewPatient(a.ID, "Петров", "Пётр")
		dup.Identifiers = []domain.Identifier{{System: SystemPasport, Value: "4510 000001"}, card}
		err := e.s.CreatePatient(e.ctx, dup, 0, NewAudit(a.ID, domain.ActionCreate, "storetest.dup-identifier"))
		wantConflictPrefix(t, "CreatePatient with an identifier taken in the organization", err, "identifier")
		if n := len(e.searchAll(store.PatientQuery{Orgs: ids(a.ID)})); n != 1 {
			t.Errorf("patients after the refused create: %d, want 1", n)
		}
		e.wantNoAudit(ids(a.ID), "storetest.dup-identifier")
		// The same value in another system, or in another organization, is fine.
		e.patient(a.ID, "Петров", "Пётр", func(p *domain.Patient) {
			p.Identifiers = []domain.Identifier{{System: SystemPasport, Value: card.Value}}
		})
		e.patient(b.ID, "Иванов", "Иван", func(p *domain.Patient) { p.Identifiers = []domain.Identifier{card} })
	})
	t.Run("ManyWithoutIdentifiers", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		for i := range 3 {
			e.patient(org.ID, "Безымянный", givenNames[i])
		}
	})
	t.Run("Limit", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		for i := range 3 {
			if err := e.s.CreatePatient(e.ctx, NewPatient(a.ID, "Лимитов", givenNames[i]), 3, nil); err != nil {
				t.Fatalf("CreatePatient %d of 3: %v", i+1, err)
			}
		}
		fourth := NewPatient(a.ID, "Лимитов", givenNames[3])
		err := e.s.CreatePatient(e.ctx, fourth, 3, NewAudit(a.ID, domain.ActionCreate, "storetest.over-limit"))
		if !errors.Is(err, store.ErrLimit) {
			t.Fatalf("4th CreatePatient with maxPatients=3: got %v, want store.ErrLimit", err)
		}
		var le *store.LimitError
		if !errors.As(err, &le) {
			t.Errorf("4th CreatePatient: error %T is not a *store.LimitError", err)
		} else if le.Limit != 3 {
			t.Errorf("LimitError.Limit = %d, want 3", le.Limit)
		}
		if n := len(e.searchAll(store.PatientQuery{Orgs: ids(a.ID)})); n != 3 {
			t.Errorf("patients after the refused create: %d, want 3", n)
		}
		e.wantNoAudit(ids(a.ID), "storetest.over-limit")
		// The limit is per organization.
		if err := e.s.CreatePatient(e.ctx, NewPatient(b.ID, "Лимитов", givenNames[0]), 3, nil); err != nil {
			t.Errorf("CreatePatient in another organization: %v", err)
		}
		// 0 means no limit.
		if err := e.s.CreatePatient(e.ctx, NewPatient(a.ID, "Лимитов", givenNames[4]), 0, nil); err != nil {
			t.Errorf("CreatePatient with maxPatients=0 over 3 patients: %v", err)
		}
	})
	t.Run("ZeroLimitIsUnlimited", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		for i := range 25 {
			if err := e.s.CreatePatient(e.ctx, NewPatient(org.ID, "Безлимитов", givenNames[i]), 0, nil); err != nil {
				t.Fatalf("CreatePatient %d with maxPatients=0: %v", i+1, err)
			}
		}
	})
	t.Run("Audit", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		u := e.user("registrar", domain.Membership{OrganizationID: org.ID, Roles: []domain.Role{domain.RoleRegistrar}})
		p := fullPatient(org.ID)
		ev := NewAudit(org.ID, domain.ActionCreate, "patient.create")
		ev.UserID, ev.Login, ev.ResourceType = u.ID, u.Login, "Patient"
		if err := e.s.CreatePatient(e.ctx, p, 0, ev); err != nil {
			t.Fatalf("CreatePatient: %v", err)
		}
		if ev.ResourceID != p.ID || ev.PatientID != p.ID {
			t.Errorf("audit passed to CreatePatient: ResourceID %d, PatientID %d; want both %d", ev.ResourceID, ev.PatientID, p.ID)
		}
		got := e.wantOneAudit(ids(org.ID), "patient.create")
		if got.ResourceID != p.ID || got.PatientID != p.ID {
			t.Errorf("stored audit: ResourceID %d, PatientID %d; want both %d", got.ResourceID, got.PatientID, p.ID)
		}
		if got.UserID != u.ID || got.Login != u.Login || got.Action != domain.ActionCreate || got.ResourceType != "Patient" {
			t.Errorf("stored audit = %s", js(got))
		}
		byPatient := e.auditAll(store.AuditQuery{Orgs: ids(org.ID), PatientID: p.ID})
		if len(byPatient) != 1 {
			t.Errorf("ListAudit by patient: %d events, want 1", len(byPatient))
		}
	})
}

func testUpdatePatient(t *testing.T, open opener) {
	t.Run("CurrentVersion", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := fullPatient(org.ID)
		if err := e.s.CreatePatient(e.ctx, p, 0, nil); err != nil {
			t.Fatalf("CreatePatient: %v", err)
		}
		oldSNILS, oldCard := p.SNILS, p.Identifiers[0]
		upd := *e.getPatient(ids(org.ID), p.ID)
		upd.Family, upd.Given, upd.Patronymic = "Щербакова", "Алёна", "Юрьевна"
		upd.BirthDate, upd.Gender = "1985-03-01", domain.GenderFemale
		upd.SNILS, upd.ENP = SNILS(987654321), ""
		upd.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-000999"}}
		upd.Phone, upd.Address, upd.Active = "+7 495 000-00-00", "г. Тверь", false
		ev := NewAudit(org.ID, domain.ActionUpdate, "patient.update")
		ev.PatientID, ev.ResourceType, ev.ResourceID = p.ID, "Patient", p.ID
		if err := e.s.UpdatePatient(e.ctx, ids(org.ID), &upd, ev); err != nil {
			t.Fatalf("UpdatePatient: %v", err)
		}
		if upd.Version != 2 {
			t.Errorf("UpdatePatient left Version = %d on the patient, want 2", upd.Version)
		}
		got := e.getPatient(ids(org.ID), p.ID)
		if got.Version != 2 {
			t.Errorf("stored Version = %d, want 2", got.Version)
		}
		want := normPatient(upd)
		want.Version = 2
		cmp := normPatient(*got)
		want.Updated = cmp.Updated // checked below
		sameJSON(t, "patient after UpdatePatient", want, cmp)
		sameInstant(t, "Created after UpdatePatient", p.Created, got.Created)
		if got.Updated.Before(us(p.Updated)) {
			t.Errorf("Updated went back: %v < %v", got.Updated, p.Updated)
		}
		// The identifier index follows the update.
		for _, c := range []struct {
			q    store.PatientQuery
			want []int64
		}{
			{store.PatientQuery{SNILS: oldSNILS}, nil},
			{store.PatientQuery{SNILS: upd.SNILS}, ids(p.ID)},
			{store.PatientQuery{Identifier: &oldCard}, nil},
			{store.PatientQuery{Identifier: &upd.Identifiers[0]}, ids(p.ID)},
			{store.PatientQuery{Name: "щербакова ал"}, ids(p.ID)},
			{store.PatientQuery{Name: "щербаков-ё"}, nil},
		} {
			c.q.Orgs = ids(org.ID)
			sameIDs(t, "SearchPatients "+js(c.q)+" after update", c.want, patientIDs(e.searchAll(c.q)))
		}
		e.wantOneAudit(ids(org.ID), "patient.update")
		// The freed СНИЛС and identifier may be taken by someone else now.
		e.patient(org.ID, "Другой", "Человек", func(q *domain.Patient) {
			q.SNILS = oldSNILS
			q.Identifiers = []domain.Identifier{oldCard}
		})
	})
	t.Run("StaleVersion", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		first := *e.getPatient(ids(org.ID), p.ID)
		second := first
		first.Phone = "+7 900 000-00-01"
		if err := e.s.UpdatePatient(e.ctx, ids(org.ID), &first, nil); err != nil {
			t.Fatalf("first UpdatePatient: %v", err)
		}
		second.Phone = "+7 900 000-00-02"
		second.Family = "Сидоров"
		err := e.s.UpdatePatient(e.ctx, ids(org.ID), &second, NewAudit(org.ID, domain.ActionUpdate, "storetest.stale"))
		wantConflict(t, "UpdatePatient with a stale version", err, "version")
		got := e.getPatient(ids(org.ID), p.ID)
		if got.Version != 2 || got.Phone != first.Phone || got.Family != "Иванов" {
			t.Errorf("after the refused update: version %d, phone %q, family %q; want 2, %q, Иванов", got.Version, got.Phone, got.Family, first.Phone)
		}
		e.wantNoAudit(ids(org.ID), "storetest.stale")
	})
	t.Run("OtherOrganization", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		upd := *e.getPatient(ids(a.ID), p.ID)
		upd.Family = "Захватов"
		err := e.s.UpdatePatient(e.ctx, ids(b.ID), &upd, NewAudit(b.ID, domain.ActionUpdate, "storetest.foreign"))
		wantNotFound(t, "UpdatePatient from another organization", err)
		got := e.getPatient(ids(a.ID), p.ID)
		if got.Family != "Иванов" || got.Version != 1 {
			t.Errorf("after the refused update: family %q, version %d", got.Family, got.Version)
		}
		e.wantNoAudit(ids(a.ID, b.ID), "storetest.foreign")
		upd.ID = 987654321
		err = e.s.UpdatePatient(e.ctx, ids(a.ID), &upd, nil)
		wantNotFound(t, "UpdatePatient(unknown id)", err)
	})
	t.Run("DuplicateSNILS", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		e.patient(org.ID, "Иванов", "Иван", func(p *domain.Patient) { p.SNILS = SNILS(111111111) })
		p2 := e.patient(org.ID, "Петров", "Пётр", func(p *domain.Patient) { p.SNILS = SNILS(222222222) })
		upd := *e.getPatient(ids(org.ID), p2.ID)
		upd.SNILS = SNILS(111111111)
		upd.Phone = "+7 900 000-00-03"
		err := e.s.UpdatePatient(e.ctx, ids(org.ID), &upd, NewAudit(org.ID, domain.ActionUpdate, "storetest.dup-snils"))
		wantConflict(t, "UpdatePatient to a СНИЛС taken in the organization", err, "snils")
		got := e.getPatient(ids(org.ID), p2.ID)
		if got.SNILS != SNILS(222222222) || got.Phone != "" || got.Version != 1 {
			t.Errorf("after the refused update: snils %q, phone %q, version %d", got.SNILS, got.Phone, got.Version)
		}
		e.wantNoAudit(ids(org.ID), "storetest.dup-snils")
	})
	t.Run("DuplicateIdentifier", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		card := domain.Identifier{System: SystemMedCard, Value: "МК-1"}
		e.patient(org.ID, "Иванов", "Иван", func(p *domain.Patient) { p.Identifiers = []domain.Identifier{card} })
		p2 := e.patient(org.ID, "Петров", "Пётр", func(p *domain.Patient) {
			p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-2"}}
		})
		upd := *e.getPatient(ids(org.ID), p2.ID)
		upd.Identifiers = []domain.Identifier{card}
		err := e.s.UpdatePatient(e.ctx, ids(org.ID), &upd, nil)
		wantConflictPrefix(t, "UpdatePatient to an identifier taken in the organization", err, "identifier")
		got := e.getPatient(ids(org.ID), p2.ID)
		if len(got.Identifiers) != 1 || got.Identifiers[0].Value != "МК-2" || got.Version != 1 {
			t.Errorf("after the refused update: identifiers %v, version %d", got.Identifiers, got.Version)
		}
	})
	t.Run("KeepOwnSNILS", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван", func(p *domain.Patient) {
			p.SNILS = SNILS(111111111)
			p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-1"}}
		})
		upd := *e.getPatient(ids(org.ID), p.ID)
		upd.Phone = "+7 900 000-00-04"
		if err := e.s.UpdatePatient(e.ctx, ids(org.ID), &upd, nil); err != nil {
			t.Fatalf("UpdatePatient keeping its own СНИЛС and identifiers: %v", err)
		}
	})
}
