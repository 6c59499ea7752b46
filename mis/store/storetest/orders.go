package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// checkAssigned checks what CreateServiceRequest assigns to r.
func checkAssigned(t *testing.T, r *domain.ServiceRequest, org *domain.Organization) {
	t.Helper()
	if r.ID == 0 {
		t.Error("CreateServiceRequest did not set ID")
	}
	if r.AccessionNumber == "" || len(r.AccessionNumber) > 16 {
		t.Errorf("AccessionNumber = %q, want 1 to 16 characters", r.AccessionNumber)
	} else if err := domain.ValidateAccession(r.AccessionNumber); err != nil {
		t.Errorf("assigned AccessionNumber %q: %v", r.AccessionNumber, err)
	}
	switch r.Category {
	case domain.CategoryLab:
		if len(r.Specimens) != 1 {
			t.Fatalf("lab order has %d specimens, want 1", len(r.Specimens))
		}
		if bc := r.Specimens[0].Barcode; !domain.ValidBarcode(bc) {
			t.Errorf("specimen barcode %q fails domain.ValidBarcode", bc)
		}
	case domain.CategoryImaging:
		if len(r.Specimens) != 0 {
			t.Errorf("imaging order has %d specimens, want none", len(r.Specimens))
		}
		uid := r.StudyInstanceUID
		if err := domain.ValidateUID(uid); err != nil {
			t.Errorf("StudyInstanceUID: %v", err)
		}
		prefix := "2.25."
		if org.UIDRoot != "" {
			prefix = org.UIDRoot + "."
		}
		if !strings.HasPrefix(uid, prefix) {
			t.Errorf("StudyInstanceUID %q does not start with %q", uid, prefix)
		}
	}
}

// checkSpecimens compares the specimens of a stored order with those
// assigned at creation.
func checkSpecimens(t *testing.T, created, got *domain.ServiceRequest) {
	t.Helper()
	if len(got.Specimens) != len(created.Specimens) {
		t.Fatalf("stored order has %d specimens, created %d", len(got.Specimens), len(created.Specimens))
	}
	for i, s := range got.Specimens {
		if s.Barcode != created.Specimens[i].Barcode {
			t.Errorf("stored specimen barcode %q, created %q", s.Barcode, created.Specimens[i].Barcode)
		}
		if s.ID == 0 || s.RequestID != got.ID || s.PatientID != got.PatientID || s.OrganizationID != got.OrganizationID {
			t.Errorf("stored specimen %s: want an ID, request %d, patient %d, organization %d", js(s), got.ID, got.PatientID, got.OrganizationID)
		}
	}
}

func testOrders(t *testing.T, open opener) {
	t.Run("LabAssigns", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		r := e.order(NewLabOrder(org.ID, p.ID, "2345-7", "718-7"))
		checkAssigned(t, r, org)
		if r.Status != domain.StatusActive {
			t.Errorf("Status = %q, want active", r.Status)
		}
		draft := NewLabOrder(org.ID, p.ID)
		draft.Status = domain.StatusDraft
		e.order(draft)
		if got := e.getOrder(ids(org.ID), draft.ID); got.Status != domain.StatusDraft {
			t.Errorf("stored Status = %q, want draft", got.Status)
		}
	})
	t.Run("ImagingAssignsUnderUIDRoot", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		r := e.order(NewImagingOrder(org.ID, p.ID, "CT", "КТ органов грудной клетки"))
		checkAssigned(t, r, org)
		r2 := e.order(NewImagingOrder(org.ID, p.ID, "PX", "Ортопантомограмма"))
		checkAssigned(t, r2, org)
		if r.StudyInstanceUID == r2.StudyInstanceUID {
			t.Errorf("two orders got the same StudyInstanceUID %q", r.StudyInstanceUID)
		}
	})
	t.Run("ImagingAssigns2.25WithoutUIDRoot", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		r := e.order(NewImagingOrder(org.ID, p.ID, "DX", "Рентгенография грудной клетки"))
		checkAssigned(t, r, org)
	})
	t.Run("ImagingKeepsGivenUID", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		r := NewImagingOrder(org.ID, p.ID, "CT", "КТ")
		r.StudyInstanceUID = "1.2.840.113619.2.55.3.604688119.969.1268071029.320"
		e.order(r)
		if got := e.getOrder(ids(org.ID), r.ID); got.StudyInstanceUID != "1.2.840.113619.2.55.3.604688119.969.1268071029.320" {
			t.Errorf("StudyInstanceUID = %q, want the given one", got.StudyInstanceUID)
		}
	})
	t.Run("AccessionNumbersUnique", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		p := e.patient(org.ID, "Иванов", "Иван")
		acc, bc, uid := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for i := range 50 {
			r := NewLabOrder(org.ID, p.ID)
			if i%2 == 1 {
				r = NewImagingOrder(org.ID, p.ID, "CT", "КТ")
			}
			e.order(r)
			checkAssigned(t, r, org)
			if acc[r.AccessionNumber] {
				t.Errorf("accession number %q assigned twice", r.AccessionNumber)
			}
			acc[r.AccessionNumber] = true
			for _, s := range r.Specimens {
				if bc[s.Barcode] {
					t.Errorf("barcode %q assigned twice", s.Barcode)
				}
				bc[s.Barcode] = true
			}
			if r.StudyInstanceUID != "" {
				if uid[r.StudyInstanceUID] {
					t.Errorf("StudyInstanceUID %q assigned twice", r.StudyInstanceUID)
				}
				uid[r.StudyInstanceUID] = true
			}
		}
	})
	t.Run("AssignedAvoidsGivenAccession", func(t *testing.T) {
		// Orders from outside (HL7 ORM/OML) bring their own accession
		// numbers; one that looks like medgate's own must not block the
		// orders medgate numbers later.
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		for n := int64(1); n <= 5; n++ {
			for _, c := range []domain.Category{domain.CategoryLab, domain.CategoryImaging} {
				r := NewLabOrder(org.ID, p.ID)
				if c == domain.CategoryImaging {
					r = NewImagingOrder(org.ID, p.ID, "CT", "КТ")
				}
				r.AccessionNumber = domain.AccessionNumber(c, n)
				e.order(r)
			}
		}
		for range 5 {
			e.order(NewLabOrder(org.ID, p.ID))
			e.order(NewImagingOrder(org.ID, p.ID, "CT", "КТ"))
		}
	})
	t.Run("GivenAccessionConflict", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		q := e.patient(b.ID, "Петров", "Пётр")
		first := NewLabOrder(a.ID, p.ID)
		first.AccessionNumber = "EXT-2025-0001"
		e.order(first)
		if first.AccessionNumber != "EXT-2025-0001" {
			t.Errorf("given AccessionNumber replaced by %q", first.AccessionNumber)
		}
		for _, dup := range []*domain.ServiceRequest{NewLabOrder(a.ID, p.ID), NewImagingOrder(a.ID, p.ID, "CT", "КТ")} {
			dup.AccessionNumber = "EXT-2025-0001"
			err := e.s.CreateServiceRequest(e.ctx, dup, NewAudit(a.ID, domain.ActionCreate, "storetest.dup-accession"))
			wantConflict(t, "CreateServiceRequest("+string(dup.Category)+") with a taken accession number", err, "accessionNumber")
		}
		if got := e.ordersAll(store.OrderQuery{Orgs: ids(a.ID)}); len(got) != 1 {
			t.Errorf("orders after the refused creates: %d, want 1", len(got))
		}
		if got := e.getOrder(ids(a.ID), first.ID); len(got.Specimens) != 1 {
			t.Errorf("first order has %d specimens after the refused creates, want 1", len(got.Specimens))
		}
		e.wantNoAudit(ids(a.ID), "storetest.dup-accession")
		// A lab order made after the refused one still gets a fresh barcode.
		next := e.order(NewLabOrder(a.ID, p.ID))
		if next.Specimens[0].Barcode == first.Specimens[0].Barcode {
			t.Errorf("barcode %q reused", next.Specimens[0].Barcode)
		}
		// Another organization numbers its orders on its own.
		other := NewLabOrder(b.ID, q.ID)
		other.AccessionNumber = "EXT-2025-0001"
		e.order(other)
	})
	t.Run("PatientOfAnotherOrganization", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		for _, r := range []*domain.ServiceRequest{NewLabOrder(b.ID, p.ID), NewImagingOrder(b.ID, p.ID, "CT", "КТ")} {
			err := e.s.CreateServiceRequest(e.ctx, r, NewAudit(b.ID, domain.ActionCreate, "storetest.foreign-patient"))
			wantNotFound(t, "CreateServiceRequest for another organization's patient", err)
		}
		err := e.s.CreateServiceRequest(e.ctx, NewLabOrder(a.ID, 987654321), nil)
		wantNotFound(t, "CreateServiceRequest for an unknown patient", err)
		if got := e.ordersAll(store.OrderQuery{Orgs: ids(a.ID, b.ID)}); len(got) != 0 {
			t.Errorf("orders after the refused creates: %d, want 0", len(got))
		}
		e.wantNoAudit(ids(a.ID, b.ID), "storetest.foreign-patient")
	})
	t.Run("GetRoundtrip", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника", withUIDRoot(UIDRoot))
		branch := e.org("Филиал", func(o *domain.Organization) { o.PartOf = org.ID })
		doc := e.user("doctor", domain.Membership{OrganizationID: org.ID, Roles: []domain.Role{domain.RoleDoctor}})
		p := e.patient(org.ID, "Иванов", "Иван")
		sched := T0.Add(48 * time.Hour)
		lab := NewLabOrder(org.ID, p.ID)
		lab.BranchID = branch.ID
		lab.Codes = []domain.Coding{
			{System: domain.SystemLOINC, Code: "2345-7", Display: "Глюкоза в сыворотке"},
			{System: domain.SystemLocalCode, Code: "ОАК", Display: "Общий анализ крови"},
			{System: domain.SystemLOINC, Code: "718-7"},
		}
		lab.Priority, lab.RequesterID, lab.Scheduled = domain.PriorityUrgent, doc.ID, &sched
		lab.ScheduledStationAE, lab.Note = "BS200", "Натощак, «до 10:00»"
		img := NewImagingOrder(org.ID, p.ID, "CT", "КТ органов грудной клетки")
		img.BodySite, img.Priority, img.RequesterID = "Грудная клетка", domain.PriorityStat, doc.ID
		img.Scheduled, img.ScheduledStationAE, img.Note = &sched, "CT_ROOM1", "С контрастом"
		img.Codes = []domain.Coding{{System: domain.SystemLOINC, Code: "24627-2", Display: "CT Chest"}}
		for _, r := range []*domain.ServiceRequest{lab, img} {
			e.order(r)
			got := e.getOrder(ids(org.ID), r.ID)
			sameJSON(t, "GetServiceRequest("+string(r.Category)+")", normOrder(*r), normOrder(*got))
			checkSpecimens(t, r, got)
			checkUTC(t, "AuthoredOn", got.AuthoredOn)
			checkUTC(t, "Updated", got.Updated)
			if got.Scheduled != nil {
				checkUTC(t, "Scheduled", *got.Scheduled)
			}
		}
		plain := e.order(NewLabOrder(org.ID, p.ID))
		if got := e.getOrder(ids(org.ID), plain.ID); got.Scheduled != nil || got.RequesterID != 0 || got.BranchID != 0 {
			t.Errorf("order without Scheduled, requester, branch came back with %v, %d, %d", got.Scheduled, got.RequesterID, got.BranchID)
		}
	})
	t.Run("GetScoped", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		r := e.order(NewLabOrder(a.ID, p.ID))
		_, err := e.s.GetServiceRequest(e.ctx, ids(b.ID), r.ID)
		wantNotFound(t, "GetServiceRequest from another organization", err)
		_, err = e.s.GetServiceRequest(e.ctx, nil, r.ID)
		wantNotFound(t, "GetServiceRequest with no organizations", err)
		_, err = e.s.GetServiceRequest(e.ctx, ids(a.ID), 987654321)
		wantNotFound(t, "GetServiceRequest(unknown id)", err)
	})
	t.Run("Audit", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		r := NewLabOrder(org.ID, p.ID)
		ev := NewAudit(org.ID, domain.ActionCreate, "order.create")
		ev.PatientID, ev.ResourceType = p.ID, "ServiceRequest"
		if err := e.s.CreateServiceRequest(e.ctx, r, ev); err != nil {
			t.Fatalf("CreateServiceRequest: %v", err)
		}
		if ev.ResourceID != r.ID {
			t.Errorf("audit passed to CreateServiceRequest: ResourceID %d, want %d", ev.ResourceID, r.ID)
		}
		got := e.wantOneAudit(ids(org.ID), "order.create")
		if got.ResourceID != r.ID || got.PatientID != p.ID {
			t.Errorf("stored audit: ResourceID %d, PatientID %d; want %d, %d", got.ResourceID, got.PatientID, r.ID, p.ID)
		}
	})
}

func testListOrders(t *testing.T, open opener) {
	t.Run("Filters", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p1, p2 := e.patient(a.ID, "Иванов", "Иван"), e.patient(a.ID, "Петров", "Пётр")
		q := e.patient(b.ID, "Сидоров", "Сидор")
		mk := func(r *domain.ServiceRequest, status domain.RequestStatus) int64 {
			r.Status = status
			return e.order(r).ID
		}
		o1 := mk(NewLabOrder(a.ID, p1.ID), domain.StatusActive)
		o2 := mk(NewImagingOrder(a.ID, p1.ID, "CT", "КТ"), domain.StatusActive)
		o3 := mk(NewLabOrder(a.ID, p2.ID), domain.StatusDraft)
		o4 := mk(NewLabOrder(a.ID, p1.ID), domain.StatusDraft)
		o5 := mk(NewImagingOrder(a.ID, p2.ID, "DX", "Рентген"), domain.StatusActive)
		o6 := mk(NewLabOrder(a.ID, p1.ID), domain.StatusActive)
		b1 := mk(NewLabOrder(b.ID, q.ID), domain.StatusDraft)
		for _, c := range []struct {
			name string
			q    store.OrderQuery
			want []int64
		}{
			{"AllNewestFirst", store.OrderQuery{Orgs: ids(a.ID)}, ids(o6, o5, o4, o3, o2, o1)},
			{"Patient", store.OrderQuery{Orgs: ids(a.ID), PatientID: p1.ID}, ids(o6, o4, o2, o1)},
			{"Status", store.OrderQuery{Orgs: ids(a.ID), Status: domain.StatusDraft}, ids(o4, o3)},
			{"Category", store.OrderQuery{Orgs: ids(a.ID), Category: domain.CategoryImaging}, ids(o5, o2)},
			{"Combined", store.OrderQuery{Orgs: ids(a.ID), PatientID: p1.ID, Category: domain.CategoryLab, Status: domain.StatusActive}, ids(o6, o1)},
			{"OtherOrganization", store.OrderQuery{Orgs: ids(b.ID)}, ids(b1)},
			{"BothOrganizations", store.OrderQuery{Orgs: ids(a.ID, b.ID), Status: domain.StatusDraft}, ids(b1, o4, o3)},
			{"PatientOutsideOrgs", store.OrderQuery{Orgs: ids(a.ID), PatientID: q.ID}, ids()},
		} {
			t.Run(c.name, func(t *testing.T) {
				sameIDs(t, "ListServiceRequests "+js(c.q), c.want, orderIDs(e.ordersAll(c.q)))
			})
		}
		t.Run("ResultsAreFull", func(t *testing.T) {
			list := e.ordersAll(store.OrderQuery{Orgs: ids(a.ID), PatientID: p2.ID, Category: domain.CategoryImaging})
			if len(list) != 1 {
				t.Fatalf("got %d orders, want 1", len(list))
			}
			sameJSON(t, "listed order", normOrder(*e.getOrder(ids(a.ID), o5)), normOrder(list[0]))
		})
		t.Run("NoOrganizations", func(t *testing.T) {
			list, _, err := e.s.ListServiceRequests(e.ctx, store.OrderQuery{})
			if err == nil && len(list) != 0 {
				t.Errorf("ListServiceRequests without Orgs returned %d orders", len(list))
			}
		})
	})
	t.Run("Pagination", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p, other := e.patient(org.ID, "Иванов", "Иван"), e.patient(org.ID, "Петров", "Пётр")
		var want []int64
		for i := range 5 {
			want = append(want, e.order(NewLabOrder(org.ID, p.ID)).ID)
			if i%2 == 0 {
				e.order(NewLabOrder(org.ID, other.ID))
			}
		}
		slices.Reverse(want)
		pages := walk(t, "ListServiceRequests", func(cursor string) ([]domain.ServiceRequest, string, error) {
			return e.s.ListServiceRequests(e.ctx, store.OrderQuery{Orgs: ids(org.ID), PatientID: p.ID, Page: store.Page{Limit: 2, Cursor: cursor}})
		})
		if !slices.Equal(pageSizes(pages), []int{2, 2, 1}) {
			t.Errorf("page sizes %v, want [2 2 1]", pageSizes(pages))
		}
		got := orderIDs(concat(pages))
		noDuplicates(t, "pages", got)
		sameIDs(t, "pages concatenated", want, got)
	})
	t.Run("DefaultLimit", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		for range 25 {
			e.order(NewLabOrder(org.ID, p.ID))
		}
		list, next, err := e.s.ListServiceRequests(e.ctx, store.OrderQuery{Orgs: ids(org.ID)})
		if err != nil {
			t.Fatalf("ListServiceRequests with Limit 0: %v", err)
		}
		if len(list) < 20 {
			t.Errorf("Limit 0 returned %d orders of 25, want at least 20", len(list))
		}
		if len(list) < 25 && next == "" {
			t.Errorf("Limit 0 returned %d orders of 25 and no cursor", len(list))
		}
	})
}

func testOrderStatus(t *testing.T, open opener) {
	const (
		draft   = domain.StatusDraft
		active  = domain.StatusActive
		done    = domain.StatusCompleted
		cancel  = domain.StatusCancelled
		inError = domain.StatusEnteredInError
	)
	for _, c := range []struct {
		start domain.RequestStatus
		path  []domain.RequestStatus // moves made first, all allowed
		to    domain.RequestStatus
		ok    bool
	}{
		{draft, nil, active, true},
		{active, nil, done, true},
		{active, []domain.RequestStatus{done}, active, false},
		{active, []domain.RequestStatus{done}, done, false},
		{active, nil, cancel, true},
		{draft, nil, cancel, true},
		{active, []domain.RequestStatus{cancel}, done, false},
		{active, []domain.RequestStatus{cancel}, active, false},
		{draft, nil, done, false},
		{active, nil, active, false},
		{active, nil, inError, true},
		{draft, nil, inError, true},
		{active, []domain.RequestStatus{done}, inError, true},
		{active, []domain.RequestStatus{cancel}, inError, true},
		{active, []domain.RequestStatus{inError}, inError, false},
		{active, []domain.RequestStatus{inError}, active, false},
	} {
		name := string(c.start)
		for _, s := range c.path {
			name += "→" + string(s)
		}
		name += "→" + string(c.to)
		t.Run(name, func(t *testing.T) {
			e := begin(t, open)
			org := e.org("Клиника")
			p := e.patient(org.ID, "Иванов", "Иван")
			r := NewLabOrder(org.ID, p.ID)
			r.Status = c.start
			e.order(r)
			cur := c.start
			for _, s := range c.path {
				if _, err := e.s.SetServiceRequestStatus(e.ctx, ids(org.ID), r.ID, s, nil); err != nil {
					t.Fatalf("SetServiceRequestStatus %s→%s: %v", cur, s, err)
				}
				cur = s
			}
			ev := NewAudit(org.ID, domain.ActionUpdate, "order.status")
			ev.PatientID, ev.ResourceType, ev.ResourceID = p.ID, "ServiceRequest", r.ID
			got, err := e.s.SetServiceRequestStatus(e.ctx, ids(org.ID), r.ID, c.to, ev)
			if c.ok {
				if err != nil {
					t.Fatalf("SetServiceRequestStatus %s→%s: %v", cur, c.to, err)
				}
				if got == nil || got.ID != r.ID || got.Status != c.to {
					t.Errorf("SetServiceRequestStatus returned %s, want order %d with status %s", js(got), r.ID, c.to)
				}
				e.wantOneAudit(ids(org.ID), "order.status")
				cur = c.to
			} else {
				wantConflict(t, "SetServiceRequestStatus "+string(cur)+"→"+string(c.to), err, "status")
				e.wantNoAudit(ids(org.ID), "order.status")
			}
			if stored := e.getOrder(ids(org.ID), r.ID); stored.Status != cur {
				t.Errorf("stored status %s, want %s", stored.Status, cur)
			}
		})
	}
	t.Run("Scoped", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		p := e.patient(a.ID, "Иванов", "Иван")
		r := e.order(NewLabOrder(a.ID, p.ID))
		_, err := e.s.SetServiceRequestStatus(e.ctx, ids(b.ID), r.ID, domain.StatusCompleted, NewAudit(b.ID, domain.ActionUpdate, "storetest.foreign"))
		wantNotFound(t, "SetServiceRequestStatus from another organization", err)
		_, err = e.s.SetServiceRequestStatus(e.ctx, ids(a.ID), 987654321, domain.StatusCompleted, nil)
		wantNotFound(t, "SetServiceRequestStatus(unknown id)", err)
		if got := e.getOrder(ids(a.ID), r.ID); got.Status != domain.StatusActive {
			t.Errorf("status after the refused move: %s, want active", got.Status)
		}
		e.wantNoAudit(ids(a.ID, b.ID), "storetest.foreign")
		if errors.Is(err, store.ErrConflict) {
			t.Error("unknown order reported as a conflict")
		}
	})
}
