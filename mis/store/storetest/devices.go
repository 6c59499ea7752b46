package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

func testDevices(t *testing.T, open opener) {
	t.Run("CreateAndListScoped", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		ct := &domain.Device{OrganizationID: a.ID, Name: "КТ Siemens SOMATOM", Protocol: "dicom", AETitle: "CT_SOMATOM",
			Addresses: []string{"10.0.5.21:104", "10.0.5.22:104"}, Encoding: "ISO_IR 144", Active: true}
		lab := &domain.Device{OrganizationID: a.ID, Name: "Mindray BS-200", Protocol: "astm", Sender: "BS-200",
			Encoding: "windows-1251", CodeMap: "mindray-bs200", Active: false}
		hl7 := &domain.Device{OrganizationID: b.ID, Name: "Sysmex XN", Protocol: "hl7",
			SendingApplication: "XN-350", SendingFacility: "LAB", Addresses: []string{"10.1.0.7"}, Active: true}
		ev := NewAudit(a.ID, domain.ActionCreate, "device.create")
		ev.ResourceType = "Device"
		for i, d := range []*domain.Device{ct, lab, hl7} {
			var audit *domain.AuditEvent
			if i == 0 {
				audit = ev
			}
			if err := e.s.CreateDevice(e.ctx, d, audit); err != nil {
				t.Fatalf("CreateDevice(%q): %v", d.Name, err)
			}
			if d.ID == 0 {
				t.Fatalf("CreateDevice(%q) did not set ID", d.Name)
			}
		}
		if ev.ResourceID != ct.ID {
			t.Errorf("audit passed to CreateDevice: ResourceID %d, want %d", ev.ResourceID, ct.ID)
		}
		if got := e.wantOneAudit(ids(a.ID), "device.create"); got.ResourceID != ct.ID {
			t.Errorf("stored audit ResourceID %d, want %d", got.ResourceID, ct.ID)
		}
		for _, c := range []struct {
			name string
			orgs []int64
			want []*domain.Device
		}{
			{"A", ids(a.ID), []*domain.Device{ct, lab}},
			{"B", ids(b.ID), []*domain.Device{hl7}},
			{"AB", ids(a.ID, b.ID), []*domain.Device{ct, lab, hl7}},
		} {
			list, err := e.s.ListDevices(e.ctx, c.orgs)
			if err != nil {
				t.Fatalf("ListDevices(%s): %v", c.name, err)
			}
			slices.SortFunc(list, func(x, y domain.Device) int { return cmpInt(x.ID, y.ID) })
			var want, got []domain.Device
			for _, d := range c.want {
				want = append(want, normDevice(*d))
			}
			for _, d := range list {
				got = append(got, normDevice(d))
				checkUTC(t, "device Created", d.Created)
			}
			sameJSON(t, "ListDevices("+c.name+")", want, got)
		}
		if list, err := e.s.ListDevices(e.ctx, nil); err == nil && len(list) != 0 {
			t.Errorf("ListDevices without organizations returned %d devices", len(list))
		}
	})
	t.Run("DuplicateName", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		e.device(a.ID, "Анализатор №1", "astm")
		err := e.s.CreateDevice(e.ctx, NewDevice(a.ID, "Анализатор №1", "hl7"), NewAudit(a.ID, domain.ActionCreate, "storetest.dup-device"))
		wantConflict(t, "CreateDevice with a name taken in the organization", err, "name")
		if list, err := e.s.ListDevices(e.ctx, ids(a.ID)); err != nil || len(list) != 1 {
			t.Errorf("devices after the refused create: %d, %v; want 1", len(list), err)
		}
		e.wantNoAudit(ids(a.ID), "storetest.dup-device")
		e.device(b.ID, "Анализатор №1", "astm")
	})
}

func testAudit(t *testing.T, open opener) {
	t.Run("WriteSetsTime", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		ev := NewAudit(org.ID, domain.ActionRead, "patient.search")
		ev.Detail = "поиск по ФИО"
		if err := e.s.WriteAudit(e.ctx, ev); err != nil {
			t.Fatalf("WriteAudit: %v", err)
		}
		got := e.wantOneAudit(ids(org.ID), "patient.search")
		if got.Detail != ev.Detail || got.Action != domain.ActionRead || got.Address != ev.Address {
			t.Errorf("stored audit %s, want %s", js(got), js(ev))
		}
	})
	t.Run("ListFiltersAndPages", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		u1 := e.user("doctor1", domain.Membership{OrganizationID: a.ID, Roles: []domain.Role{domain.RoleDoctor}})
		u2 := e.user("doctor2", domain.Membership{OrganizationID: a.ID, Roles: []domain.Role{domain.RoleDoctor}})
		p1, p2 := e.patient(a.ID, "Иванов", "Иван"), e.patient(a.ID, "Петров", "Пётр")
		q := e.patient(b.ID, "Сидоров", "Сидор")
		mk := func(org int64, user *domain.User, patient int64, minute int, action string) domain.AuditEvent {
			ev := NewAudit(org, action, "patient.read")
			ev.Time = T0.Add(time.Duration(minute) * time.Minute)
			ev.UserID, ev.Login, ev.PatientID = user.ID, user.Login, patient
			ev.ResourceType, ev.ResourceID = "Patient", patient
			ev.Outcome, ev.Detail = domain.OutcomeMinorFailure, "просмотр карты"
			if err := e.s.WriteAudit(e.ctx, ev); err != nil {
				t.Fatalf("WriteAudit: %v", err)
			}
			return *ev
		}
		// Written oldest first, so "newest first" means by time and by id alike.
		e1 := mk(a.ID, u1, p1.ID, 1, domain.ActionRead)
		e2 := mk(a.ID, u2, p1.ID, 2, domain.ActionRead)
		e3 := mk(a.ID, u1, p2.ID, 3, domain.ActionUpdate)
		eb := mk(b.ID, u2, q.ID, 4, domain.ActionRead)
		e4 := mk(a.ID, u2, p2.ID, 5, domain.ActionRead)
		e5 := mk(a.ID, u1, p1.ID, 6, domain.ActionExecute)
		norm := func(evs ...domain.AuditEvent) []domain.AuditEvent {
			out := []domain.AuditEvent{}
			for _, ev := range evs {
				out = append(out, normAudit(ev))
			}
			return out
		}
		for _, c := range []struct {
			name string
			q    store.AuditQuery
			want []domain.AuditEvent
		}{
			{"Organization", store.AuditQuery{Orgs: ids(a.ID)}, norm(e5, e4, e3, e2, e1)},
			{"OtherOrganization", store.AuditQuery{Orgs: ids(b.ID)}, norm(eb)},
			{"BothOrganizations", store.AuditQuery{Orgs: ids(a.ID, b.ID)}, norm(e5, e4, eb, e3, e2, e1)},
			{"Patient", store.AuditQuery{Orgs: ids(a.ID), PatientID: p1.ID}, norm(e5, e2, e1)},
			{"User", store.AuditQuery{Orgs: ids(a.ID), UserID: u2.ID}, norm(e4, e2)},
			{"UserAcrossOrganizations", store.AuditQuery{Orgs: ids(a.ID, b.ID), UserID: u2.ID}, norm(e4, eb, e2)},
			{"PatientAndUser", store.AuditQuery{Orgs: ids(a.ID), PatientID: p1.ID, UserID: u1.ID}, norm(e5, e1)},
			{"PatientOutsideOrgs", store.AuditQuery{Orgs: ids(a.ID), PatientID: q.ID}, norm()},
		} {
			t.Run(c.name, func(t *testing.T) {
				got := norm(e.auditAll(c.q)...)
				sameJSON(t, "ListAudit "+js(c.q), c.want, got)
			})
		}
		t.Run("Pagination", func(t *testing.T) {
			pages := walk(t, "ListAudit", func(cursor string) ([]domain.AuditEvent, string, error) {
				return e.s.ListAudit(e.ctx, store.AuditQuery{Orgs: ids(a.ID), Page: store.Page{Limit: 2, Cursor: cursor}})
			})
			if !slices.Equal(pageSizes(pages), []int{2, 2, 1}) {
				t.Errorf("page sizes %v, want [2 2 1]", pageSizes(pages))
			}
			sameJSON(t, "pages concatenated", norm(e5, e4, e3, e2, e1), norm(concat(pages)...))
		})
	})
	t.Run("SameTimeOrderedByID", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		var want []int64
		for i := range 5 {
			ev := NewAudit(org.ID, domain.ActionRead, fmt.Sprintf("event.%d", i))
			ev.Time = T0
			if err := e.s.WriteAudit(e.ctx, ev); err != nil {
				t.Fatalf("WriteAudit: %v", err)
			}
			want = append(want, int64(i))
		}
		slices.Reverse(want)
		pages := walk(t, "ListAudit", func(cursor string) ([]domain.AuditEvent, string, error) {
			return e.s.ListAudit(e.ctx, store.AuditQuery{Orgs: ids(org.ID), Page: store.Page{Limit: 2, Cursor: cursor}})
		})
		var got []int64
		for _, ev := range concat(pages) {
			var n int64
			fmt.Sscanf(ev.Event, "event.%d", &n)
			got = append(got, n)
		}
		sameIDs(t, "events written at one instant, newest (last written) first, over pages", want, got)
	})
}
