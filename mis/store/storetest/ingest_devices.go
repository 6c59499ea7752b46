package storetest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/medgate/medgate/mis/domain"
)

// fullDevices returns an ASTM analyzer on a serial line, an HL7 analyzer
// medgate connects to and a DICOM scanner, every field set.
func fullDevices(org, branch int64) []*domain.Device {
	return []*domain.Device{
		{OrganizationID: org, BranchID: branch, Name: "Mindray BS-240", Protocol: domain.ProtocolASTM, Sender: "BS-240",
			Transport: &domain.Transport{Serial: "/dev/ttyUSB0", Baud: 9600, Format: "8N1"},
			Encoding:  "windows-1251", CodeMap: "mindray-bs240", MatchingPolicy: domain.MatchPropose,
			SendsResults: true, QueriesOrders: true, Active: true},
		{OrganizationID: org, Name: "Sysmex XN-350", Protocol: domain.ProtocolHL7, SendingApplication: "XN-350",
			SendingFacility: "LAB", Addresses: []string{"10.0.5.40", "fe80::1"},
			Transport: &domain.Transport{Host: "10.0.5.40", Port: 2575}, Encoding: "utf-8", CodeMap: "sysmex",
			MatchingPolicy: domain.MatchStrict, SendsResults: true, ReceivesOrders: true, Active: true,
			AckMode: domain.AckOriginal, Lenient: []string{"glued-segments", "sniff-utf8"}, QCPrefix: "QC"},
		{OrganizationID: org, BranchID: branch, Name: "КЛКТ Planmeca", Protocol: domain.ProtocolDICOM, AETitle: "CBCT_PLANMECA",
			Addresses: []string{"10.0.5.21"}, Encoding: "iso-ir-192", SendsResults: true, Active: true},
	}
}

func testIngestDevices(t *testing.T, open opener) {
	t.Run("AllFieldsRoundtrip", func(t *testing.T) {
		e := beginIngest(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		branch := e.org("Альфа, филиал", func(o *domain.Organization) { o.PartOf = a.ID })
		devs := fullDevices(a.ID, branch.ID)
		for _, d := range devs {
			if err := e.s.CreateDevice(e.ctx, d, nil); err != nil {
				t.Fatalf("CreateDevice(%q): %v", d.Name, err)
			}
		}
		var want []domain.Device
		for _, d := range devs {
			got := e.getDevice(ids(a.ID), d.ID)
			sameJSON(t, "GetDevice "+d.Name, normFullDevice(*d), normFullDevice(*got))
			checkUTC(t, "device Created", got.Created)
			checkUTC(t, "device Updated", got.Updated)
			want = append(want, normFullDevice(*d))
			_, err := e.s.GetDevice(e.ctx, ids(b.ID), d.ID)
			wantNotFound(t, "GetDevice from another organization", err)
		}
		list, err := e.s.ListDevices(e.ctx, ids(a.ID))
		if err != nil {
			t.Fatalf("ListDevices: %v", err)
		}
		slices.SortFunc(list, func(x, y domain.Device) int { return cmpInt(x.ID, y.ID) })
		var got []domain.Device
		for _, d := range list {
			got = append(got, normFullDevice(d))
		}
		sameJSON(t, "ListDevices", want, got)
		_, err = e.s.GetDevice(e.ctx, ids(a.ID), 987654321)
		wantNotFound(t, "GetDevice(unknown id)", err)
	})
	t.Run("Update", func(t *testing.T) {
		e := beginIngest(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		branch := e.org("Альфа, филиал", func(o *domain.Organization) { o.PartOf = a.ID })
		d := e.device(a.ID, "Анализатор", domain.ProtocolASTM)
		taken := e.device(a.ID, "Занято", domain.ProtocolHL7)
		created := e.getDevice(ids(a.ID), d.ID)

		upd := &domain.Device{ID: d.ID, OrganizationID: a.ID, BranchID: branch.ID, Name: "КЛКТ Planmeca ProMax",
			Protocol: domain.ProtocolDICOM, AETitle: "PROMAX", Addresses: []string{"10.0.5.22"},
			Transport: &domain.Transport{Host: "10.0.5.22", Port: 104}, Encoding: "iso-ir-144",
			MatchingPolicy: domain.MatchPropose, SendsResults: true, QueriesOrders: true, ReceivesOrders: true, Active: false}
		ev := NewAudit(a.ID, domain.ActionUpdate, "device.update")
		if err := e.s.UpdateDevice(e.ctx, ids(a.ID), upd, ev); err != nil {
			t.Fatalf("UpdateDevice: %v", err)
		}
		got := e.getDevice(ids(a.ID), d.ID)
		sameJSON(t, "device after UpdateDevice", normFullDevice(*upd), normFullDevice(*got))
		sameInstant(t, "Created after UpdateDevice", created.Created, got.Created)
		if got.Updated.Before(created.Updated) {
			t.Errorf("Updated went back from %v to %v", created.Updated, got.Updated)
		}
		if ev := e.wantOneAudit(ids(a.ID), "device.update"); ev.ResourceID != d.ID {
			t.Errorf("audit ResourceID %d, want %d", ev.ResourceID, d.ID)
		}

		// Back to a device without transport or addresses.
		upd2 := NewDevice(a.ID, "Анализатор", domain.ProtocolASTM)
		upd2.ID, upd2.Sender = d.ID, "BS-240"
		if err := e.s.UpdateDevice(e.ctx, ids(a.ID), upd2, nil); err != nil {
			t.Fatalf("UpdateDevice (clearing): %v", err)
		}
		sameJSON(t, "device after clearing fields", normFullDevice(*upd2), normFullDevice(*e.getDevice(ids(a.ID), d.ID)))

		moved := *upd2
		moved.Name = "Чужой"
		err := e.s.UpdateDevice(e.ctx, ids(b.ID), &moved, NewAudit(b.ID, domain.ActionUpdate, "storetest.device-other-org"))
		wantNotFound(t, "UpdateDevice from another organization", err)
		e.wantNoAudit(ids(a.ID, b.ID), "storetest.device-other-org")

		clash := *upd2
		clash.Name = taken.Name
		err = e.s.UpdateDevice(e.ctx, ids(a.ID), &clash, NewAudit(a.ID, domain.ActionUpdate, "storetest.device-clash"))
		wantConflict(t, "UpdateDevice to a name taken in the organization", err, "name")
		e.wantNoAudit(ids(a.ID), "storetest.device-clash")
		sameJSON(t, "device after refused updates", normFullDevice(*upd2), normFullDevice(*e.getDevice(ids(a.ID), d.ID)))

		missing := *upd2
		missing.ID = 987654321
		wantNotFound(t, "UpdateDevice(unknown id)", e.s.UpdateDevice(e.ctx, ids(a.ID), &missing, nil))
		// Another organization may use the name.
		e.device(b.ID, "Анализатор", domain.ProtocolASTM)
	})
	t.Run("Delete", func(t *testing.T) {
		e := beginIngest(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		unused := e.device(a.ID, "Не использовался", domain.ProtocolHL7)
		unused.SendingApplication = "UNUSED"
		if err := e.s.UpdateDevice(e.ctx, ids(a.ID), unused, nil); err != nil {
			t.Fatal(err)
		}
		used := &domain.Device{OrganizationID: a.ID, Name: "Sysmex XN", Protocol: domain.ProtocolHL7, SendingApplication: "XN-350", Active: true}
		if err := e.s.CreateDevice(e.ctx, used, nil); err != nil {
			t.Fatal(err)
		}
		m := e.saveNew(a.ID, used.ID, "MSG00001", "5.5")

		err := e.s.DeleteDevice(e.ctx, ids(b.ID), unused.ID, NewAudit(b.ID, domain.ActionDelete, "storetest.delete-other-org"))
		wantNotFound(t, "DeleteDevice from another organization", err)
		e.wantNoAudit(ids(a.ID, b.ID), "storetest.delete-other-org")
		e.getDevice(ids(a.ID), unused.ID)
		wantNotFound(t, "DeleteDevice(unknown id)", e.s.DeleteDevice(e.ctx, ids(a.ID), 987654321, nil))

		if err := e.s.DeleteDevice(e.ctx, ids(a.ID), unused.ID, NewAudit(a.ID, domain.ActionDelete, "device.delete")); err != nil {
			t.Fatalf("DeleteDevice(unused): %v", err)
		}
		_, err = e.s.GetDevice(e.ctx, ids(a.ID), unused.ID)
		wantNotFound(t, "GetDevice after deleting an unused device", err)
		if found, err := e.s.FindDevices(e.ctx, domain.ProtocolHL7, "UNUSED"); err != nil || len(found) != 0 {
			t.Errorf("FindDevices after deleting: %d, %v; want none", len(found), err)
		}

		if err := e.s.DeleteDevice(e.ctx, ids(a.ID), used.ID, NewAudit(a.ID, domain.ActionDelete, "device.delete")); err != nil {
			t.Fatalf("DeleteDevice(used): %v", err)
		}
		got := e.getDevice(ids(a.ID), used.ID)
		if got.Active {
			t.Error("a device with messages is still active after DeleteDevice")
		}
		want := *used
		want.Active = false
		sameJSON(t, "deactivated device", normFullDevice(want), normFullDevice(*got))
		list, err := e.s.ListDevices(e.ctx, ids(a.ID))
		if err != nil {
			t.Fatal(err)
		}
		sameIDs(t, "ListDevices after deleting", ids(used.ID), deviceIDs(list))
		if found, err := e.s.FindDevices(e.ctx, domain.ProtocolHL7, "XN-350"); err != nil || len(found) != 0 {
			t.Errorf("FindDevices finds a deactivated device: %d, %v", len(found), err)
		}
		if kept := e.getMsg(nil, m.ID); kept.DeviceID != used.ID {
			t.Errorf("the deactivated device's message: device %d, want %d", kept.DeviceID, used.ID)
		}
		if n := len(e.auditEvents(ids(a.ID), "device.delete")); n != 2 {
			t.Errorf("device.delete audit events: %d, want 2", n)
		}
	})
	t.Run("FindDevices", func(t *testing.T) {
		e := beginIngest(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		mk := func(org int64, name, protocol string, mod func(*domain.Device)) *domain.Device {
			d := NewDevice(org, name, protocol)
			mod(d)
			if err := e.s.CreateDevice(e.ctx, d, nil); err != nil {
				t.Fatalf("CreateDevice(%q): %v", name, err)
			}
			return d
		}
		ctA := mk(a.ID, "КТ", domain.ProtocolDICOM, func(d *domain.Device) { d.AETitle = "SCANNER" })
		ctB := mk(b.ID, "КТ", domain.ProtocolDICOM, func(d *domain.Device) { d.AETitle = "SCANNER" })
		mk(a.ID, "КТ старый", domain.ProtocolDICOM, func(d *domain.Device) { d.AETitle = "SCANNER"; d.Active = false })
		mk(a.ID, "КТ другой", domain.ProtocolDICOM, func(d *domain.Device) { d.AETitle = "SCANNER2"; d.SendingApplication = "LIS" })
		lis := mk(a.ID, "ЛИС", domain.ProtocolHL7, func(d *domain.Device) { d.SendingApplication = "LIS"; d.AETitle = "SCANNER" })
		bs := mk(b.ID, "BS-240", domain.ProtocolASTM, func(d *domain.Device) { d.Sender = "BS-240"; d.SendingApplication = "SCANNER" })
		for _, c := range []struct {
			protocol, id string
			want         []int64
		}{
			{domain.ProtocolDICOM, "SCANNER", ids(ctA.ID, ctB.ID)},
			{domain.ProtocolHL7, "LIS", ids(lis.ID)},
			{domain.ProtocolHL7, "SCANNER", nil},
			{domain.ProtocolASTM, "BS-240", ids(bs.ID)},
			{domain.ProtocolASTM, "SCANNER", nil},
			{domain.ProtocolDICOM, "NOBODY", nil},
		} {
			list, err := e.s.FindDevices(e.ctx, c.protocol, c.id)
			if err != nil {
				t.Errorf("FindDevices(%s, %s): %v", c.protocol, c.id, err)
				continue
			}
			got := sortedIDs(deviceIDs(list))
			if len(got) == 0 {
				got = nil
			}
			sameIDs(t, "FindDevices("+c.protocol+", "+c.id+")", c.want, got)
			for _, d := range list {
				sameJSON(t, "found device", normFullDevice(*e.getDevice(ids(d.OrganizationID), d.ID)), normFullDevice(d))
			}
		}
	})
}

func testCodeMaps(t *testing.T, open opener) {
	t.Run("PutGetReplace", func(t *testing.T) {
		e := beginIngest(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		m := &domain.CodeMap{OrganizationID: a.ID, Name: "mindray-bs240", Entries: []domain.CodeMapEntry{
			{DeviceCode: "GLU", System: domain.SystemLOINC, Code: "2345-7", Display: "Глюкоза", LOINC: "2345-7",
				DeviceUnit: "mg/dL", Unit: "mmol/L", Factor: 0.0555, Ranges: []domain.RangeRule{
					{Sex: domain.GenderMale, AgeFromDays: 6570, Low: f64(3.9), High: f64(6.1), CriticalLow: f64(2.2), CriticalHigh: f64(25)},
					{AgeToDays: 6570, Low: f64(3.3), High: f64(5.6), Text: "дети"},
					{Sex: domain.GenderFemale, AgeFromDays: 6570, High: f64(0), Text: "ноль — тоже значение"},
				}},
			{DeviceCode: "CRP", System: domain.SystemLocalCode, Code: "crp", Unit: "mg/L"},
		}}
		ev := NewAudit(a.ID, domain.ActionUpdate, "codemap.put")
		if err := e.s.PutCodeMap(e.ctx, m, ev); err != nil {
			t.Fatalf("PutCodeMap: %v", err)
		}
		if m.ID == 0 || m.Version != 1 || m.Updated.IsZero() {
			t.Errorf("after PutCodeMap: ID %d, Version %d, Updated %v; want an ID, 1, a time", m.ID, m.Version, m.Updated)
		}
		got, err := e.s.GetCodeMap(e.ctx, a.ID, m.Name)
		if err != nil {
			t.Fatalf("GetCodeMap: %v", err)
		}
		sameJSON(t, "GetCodeMap", normCodeMap(*m), normCodeMap(*got))
		checkUTC(t, "code map Updated", got.Updated)
		if r := got.Entries[0].Ranges; len(r) == 3 && (r[2].High == nil || *r[2].High != 0 || r[2].Low != nil) {
			t.Errorf("a zero bound must stay set and a missing one unset: %s", js(r[2]))
		}
		e.wantOneAudit(ids(a.ID), "codemap.put")

		m2 := &domain.CodeMap{OrganizationID: a.ID, Name: "mindray-bs240", Entries: []domain.CodeMapEntry{
			{DeviceCode: "ALT", System: domain.SystemLOINC, Code: "1742-6", Unit: "U/L",
				Ranges: []domain.RangeRule{{High: f64(41), Sex: domain.GenderMale}}},
		}}
		if err := e.s.PutCodeMap(e.ctx, m2, nil); err != nil {
			t.Fatalf("PutCodeMap (replace): %v", err)
		}
		if m2.ID != m.ID || m2.Version != 2 {
			t.Errorf("after replacing: ID %d, Version %d; want %d, 2", m2.ID, m2.Version, m.ID)
		}
		got, err = e.s.GetCodeMap(e.ctx, a.ID, m.Name)
		if err != nil {
			t.Fatalf("GetCodeMap: %v", err)
		}
		sameJSON(t, "replaced code map", normCodeMap(*m2), normCodeMap(*got))

		_, err = e.s.GetCodeMap(e.ctx, a.ID, "no-such-map")
		wantNotFound(t, "GetCodeMap(unknown name)", err)
		_, err = e.s.GetCodeMap(e.ctx, b.ID, m.Name)
		wantNotFound(t, "GetCodeMap of another organization's map", err)
	})
	t.Run("ListScoped", func(t *testing.T) {
		e := beginIngest(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		put := func(org int64, name string) *domain.CodeMap {
			m := &domain.CodeMap{OrganizationID: org, Name: name, Entries: []domain.CodeMapEntry{{DeviceCode: "GLU", Code: "2345-7"}}}
			if err := e.s.PutCodeMap(e.ctx, m, nil); err != nil {
				t.Fatalf("PutCodeMap(%q): %v", name, err)
			}
			return m
		}
		a1, a2, b1 := put(a.ID, "sysmex"), put(a.ID, "mindray"), put(b.ID, "sysmex")
		if b1.ID == a1.ID || b1.Version != 1 {
			t.Errorf("another organization's map of the same name: ID %d (A's %d), version %d; want its own, version 1", b1.ID, a1.ID, b1.Version)
		}
		for _, c := range []struct {
			name string
			orgs []int64
			want []*domain.CodeMap
		}{
			{"A", ids(a.ID), []*domain.CodeMap{a1, a2}},
			{"B", ids(b.ID), []*domain.CodeMap{b1}},
			{"AB", ids(a.ID, b.ID), []*domain.CodeMap{a1, a2, b1}},
			{"None", nil, nil},
		} {
			list, err := e.s.ListCodeMaps(e.ctx, c.orgs)
			if err != nil {
				t.Fatalf("ListCodeMaps(%s): %v", c.name, err)
			}
			slices.SortFunc(list, func(x, y domain.CodeMap) int { return cmpInt(x.ID, y.ID) })
			var want, got []domain.CodeMap
			for _, m := range c.want {
				want = append(want, normCodeMap(*m))
			}
			for _, m := range list {
				got = append(got, normCodeMap(m))
			}
			sameJSON(t, "ListCodeMaps("+c.name+")", want, got)
		}
	})
}

func testLookups(t *testing.T, open opener) {
	e := beginIngest(t, open)
	a, b := e.org("Альфа", withUIDRoot(UIDRoot)), e.org("Бета")
	snils := SNILS(112233445)
	p := e.patient(a.ID, "Иванов", "Иван", func(p *domain.Patient) {
		p.SNILS = snils
		p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-1"}}
	})
	e.patient(a.ID, "Петров", "Пётр", func(p *domain.Patient) {
		p.Identifiers = []domain.Identifier{{System: SystemPasport, Value: "МК-1"}}
	})
	x := e.patient(b.ID, "Иванов", "Иван", func(p *domain.Patient) {
		p.SNILS = snils
		p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: "МК-1"}}
	})
	lab := e.order(NewLabOrder(a.ID, p.ID, "2345-7"))
	img := e.order(NewImagingOrder(a.ID, p.ID, "CT", "КЛКТ верхней челюсти"))
	if len(lab.Specimens) != 1 || lab.Specimens[0].Barcode == "" || img.StudyInstanceUID == "" {
		t.Fatalf("fixture orders: lab specimens %s, imaging study UID %q", js(lab.Specimens), img.StudyInstanceUID)
	}
	barcode := lab.Specimens[0].Barcode

	t.Run("FindSpecimen", func(t *testing.T) {
		sp, err := e.s.FindSpecimen(e.ctx, a.ID, barcode)
		if err != nil {
			t.Fatalf("FindSpecimen: %v", err)
		}
		if sp.ID != lab.Specimens[0].ID || sp.OrganizationID != a.ID || sp.PatientID != p.ID || sp.RequestID != lab.ID || sp.Barcode != barcode {
			t.Errorf("FindSpecimen: %s; want specimen %d of order %d, patient %d", js(sp), lab.Specimens[0].ID, lab.ID, p.ID)
		}
		_, err = e.s.FindSpecimen(e.ctx, b.ID, barcode)
		wantNotFound(t, "FindSpecimen in another organization", err)
		_, err = e.s.FindSpecimen(e.ctx, a.ID, "0000000000")
		wantNotFound(t, "FindSpecimen(unknown barcode)", err)
	})
	t.Run("FindOrderByAccession", func(t *testing.T) {
		for _, r := range []*domain.ServiceRequest{lab, img} {
			got, err := e.s.FindOrderByAccession(e.ctx, a.ID, r.AccessionNumber)
			if err != nil {
				t.Errorf("FindOrderByAccession(%s): %v", r.AccessionNumber, err)
				continue
			}
			want := e.getOrder(ids(a.ID), r.ID)
			sameJSON(t, "order found by accession", normOrder(*want), normOrder(*got))
			sameJSON(t, "its specimens", want.Specimens, got.Specimens)
			_, err = e.s.FindOrderByAccession(e.ctx, b.ID, r.AccessionNumber)
			wantNotFound(t, "FindOrderByAccession in another organization", err)
		}
		_, err := e.s.FindOrderByAccession(e.ctx, a.ID, "NO-SUCH-1")
		wantNotFound(t, "FindOrderByAccession(unknown)", err)
	})
	t.Run("FindOrderByStudyUID", func(t *testing.T) {
		got, err := e.s.FindOrderByStudyUID(e.ctx, a.ID, img.StudyInstanceUID)
		if err != nil {
			t.Fatalf("FindOrderByStudyUID: %v", err)
		}
		sameJSON(t, "order found by Study Instance UID", normOrder(*e.getOrder(ids(a.ID), img.ID)), normOrder(*got))
		_, err = e.s.FindOrderByStudyUID(e.ctx, b.ID, img.StudyInstanceUID)
		wantNotFound(t, "FindOrderByStudyUID in another organization", err)
		_, err = e.s.FindOrderByStudyUID(e.ctx, a.ID, img.StudyInstanceUID+".9")
		wantNotFound(t, "FindOrderByStudyUID(unknown)", err)
		// A lab order has no Study Instance UID: the empty UID finds nothing.
		_, err = e.s.FindOrderByStudyUID(e.ctx, a.ID, "")
		wantNotFound(t, "FindOrderByStudyUID(\"\")", err)
	})
	t.Run("FindPatientsByIdentifier", func(t *testing.T) {
		for _, c := range []struct {
			name string
			org  int64
			id   domain.Identifier
			want []int64
		}{
			{"SNILS", a.ID, domain.Identifier{System: domain.SystemSNILS, Value: snils}, ids(p.ID)},
			{"Extra", a.ID, domain.Identifier{System: SystemMedCard, Value: "МК-1"}, ids(p.ID)},
			{"OtherOrganization", b.ID, domain.Identifier{System: domain.SystemSNILS, Value: snils}, ids(x.ID)},
			{"SystemMatters", a.ID, domain.Identifier{System: SystemMedCard, Value: snils}, nil},
			{"Unknown", a.ID, domain.Identifier{System: domain.SystemSNILS, Value: SNILS(998877665)}, nil},
			{"MedgateID", a.ID, domain.Identifier{System: domain.SystemPatientID, Value: strconv.FormatInt(p.ID, 10)}, ids(p.ID)},
			{"MedgateIDOtherOrganization", b.ID, domain.Identifier{System: domain.SystemPatientID, Value: strconv.FormatInt(p.ID, 10)}, nil},
			{"MedgateIDNotANumber", a.ID, domain.Identifier{System: domain.SystemPatientID, Value: "x1"}, nil},
		} {
			list, err := e.s.FindPatientsByIdentifier(e.ctx, c.org, c.id)
			if c.want == nil {
				wantMiss(t, "FindPatientsByIdentifier "+c.name, list, err)
				continue
			}
			if err != nil {
				t.Errorf("FindPatientsByIdentifier %s: %v", c.name, err)
				continue
			}
			sameIDs(t, "FindPatientsByIdentifier "+c.name, c.want, patientIDs(list))
		}
	})
	t.Run("FindPatientsByDemographics", func(t *testing.T) {
		mk := func(org int64, family, given, birth string, g domain.Gender) *domain.Patient {
			return e.patient(org, family, given, func(p *domain.Patient) {
				p.BirthDate, p.Gender, p.Patronymic = birth, g, "Петрович"
			})
		}
		male := mk(a.ID, "Ёлкин", "Женя", "1980-05-17", domain.GenderMale)
		female := mk(a.ID, "Ёлкин", "Женя", "1980-05-17", domain.GenderFemale)
		mk(a.ID, "Ёлкин", "Женя", "1990-01-01", domain.GenderMale)    // another birth date
		mk(a.ID, "Ёлкина", "Женя", "1980-05-17", domain.GenderFemale) // another family name
		mk(b.ID, "Ёлкин", "Женя", "1980-05-17", domain.GenderMale)    // another organization
		for _, c := range []struct {
			name          string
			family, given string
			birth         string
			gender        domain.Gender
			want          []int64
		}{
			{"Exact", "Ёлкин", "Женя", "1980-05-17", domain.GenderMale, ids(male.ID)},
			{"FoldedFamily", "ЕЛКИН", "женя", "1980-05-17", domain.GenderMale, ids(male.ID)},
			{"Female", "елкин", "Женя", "1980-05-17", domain.GenderFemale, ids(female.ID)},
			{"UnknownGender", "Ёлкин", "Женя", "1980-05-17", domain.GenderUnknown, ids(male.ID, female.ID)},
			{"NoGender", "Ёлкин", "Женя", "1980-05-17", "", ids(male.ID, female.ID)},
			{"OtherBirthDate", "Ёлкин", "Женя", "1970-01-01", domain.GenderMale, nil},
			{"Nobody", "Сидоров", "Женя", "1980-05-17", domain.GenderMale, nil},
		} {
			list, err := e.s.FindPatientsByDemographics(e.ctx, a.ID, c.family, c.given, c.birth, c.gender)
			if c.want == nil {
				wantMiss(t, "FindPatientsByDemographics "+c.name, list, err)
				continue
			}
			if err != nil {
				t.Errorf("FindPatientsByDemographics %s: %v", c.name, err)
				continue
			}
			sameIDs(t, "FindPatientsByDemographics "+c.name, c.want, sortedIDs(patientIDs(list)))
		}
	})
}
