package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/config"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/storetest"
)

// TestPlanDevices: provisioning (medgate.yaml's devices:, a YAML import)
// finds each device's branch by name within its organization, and refuses
// a device that ingest could not tell from another active one, in the
// file or in the registry, before anything is written.
func TestPlanDevices(t *testing.T) {
	for _, dia := range storetest.Dialects {
		t.Run(dia.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := dia.Open(t)
			org := func(name string, partOf int64) int64 {
				o := &domain.Organization{Name: name, PartOf: partOf, Active: true}
				if err := st.CreateOrganization(ctx, o); err != nil {
					t.Fatal(err)
				}
				return o.ID
			}
			a, b := org("ООО «Клиника А»", 0), org("ООО «Другая»", 0)
			tver := org("Филиал «Тверская»", a)
			org("Филиал «Тверская»", b)
			org("Два", a)
			org("Два", a)
			orgs := []int64{a, b}
			bc := &domain.Device{OrganizationID: a, Name: "bc-5380", Protocol: domain.ProtocolHL7, SendingApplication: "BC-5380",
				SendingFacility: "LAB", SendsResults: true, Active: true}
			ct := &domain.Device{OrganizationID: b, Name: "ct-b", Protocol: domain.ProtocolDICOM, AETitle: "CT", SendsResults: true, Active: true}
			for _, d := range []*domain.Device{bc, ct} {
				if err := st.CreateDevice(ctx, d, &domain.AuditEvent{Event: "device.create"}); err != nil {
					t.Fatal(err)
				}
			}
			hl7 := func(name, app, facility string) config.DeviceSpec {
				return config.DeviceSpec{Name: name, Protocol: "hl7", SendingApplication: app, SendingFacility: facility}
			}

			// The branch, by name, of the device's organization.
			s := hl7("bc-5380", "BC-5380", "LAB")
			s.Branch = "Филиал «Тверская»"
			plans, err := planDevices(ctx, st, orgs, a, []config.DeviceSpec{s})
			if err != nil || len(plans) != 1 || !plans[0].exists || plans[0].d.ID != bc.ID || plans[0].d.BranchID != tver {
				t.Fatalf("plan %+v, %v", plans, err)
			}
			for branch, want := range map[string]string{
				"Филиал «Лесная»": `device "bc-5380": organization ` + id(a) + ` has no branch named "Филиал «Лесная»"`,
				"ООО «Другая»":    `has no branch named`,
				"Два":             `has 2 branches named "Два"`,
			} {
				s.Branch = branch
				var fe *domain.FieldError
				if _, err := planDevices(ctx, st, orgs, a, []config.DeviceSpec{s}); !errors.As(err, &fe) || fe.Field != "devices[0].branch" || !strings.Contains(fe.Message, want) {
					t.Errorf("branch %q: %v, want devices[0].branch: …%s", branch, err, want)
				}
			}

			// Identity conflicts with the registry, in any organization.
			for _, tc := range []struct {
				specs []config.DeviceSpec
				field string
				want  string
			}{
				{[]config.DeviceSpec{hl7("bc-2", "BC-5380", "")}, "devices[0].sending_application",
					`device "bc-2": sending application "BC-5380" is already the sending application of the registered device "bc-5380" (id ` + id(bc.ID) + `, organization ` + id(a) + `) and both match sending facility "LAB" (an empty sending_facility matches any)`},
				{[]config.DeviceSpec{hl7("x", "X", ""), hl7("bc-2", "BC-5380", "LAB")}, "devices[1].sending_application", `the registered device "bc-5380"`},
				{[]config.DeviceSpec{{Name: "ct-a", Protocol: "dicom", AETitle: "CT"}}, "devices[0].ae_title", `is already the AE title of the registered device "ct-b"`},
				{[]config.DeviceSpec{hl7("a", "A", ""), hl7("b", "A", "F")}, "devices[1].sending_application", `is already the sending application of devices[0] "a"`},
			} {
				var ce *store.ConflictError
				_, err := planDevices(ctx, st, orgs, a, tc.specs)
				if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(ce.Message, tc.want) {
					t.Errorf("%+v: %v, want %s: …%s", tc.specs, err, tc.field, tc.want)
				}
			}
			// Not named where the caller does not manage the other organization.
			_, err = planDevices(ctx, st, []int64{a}, a, []config.DeviceSpec{{Name: "ct-a", Protocol: "dicom", AETitle: "CT"}})
			if err == nil || strings.Contains(err.Error(), "ct-b") || !strings.Contains(err.Error(), "another organization") {
				t.Errorf("conflict with another organization's device: %v", err)
			}

			// Fine: told apart by MSH-4; inactive; the registry's device
			// itself; and one that the same file moves off the identity.
			off := hl7("bc-5380", "BC-5380-OLD", "LAB")
			inactive := hl7("bc-3", "BC-5380", "")
			inactive.Active = new(false)
			for _, specs := range [][]config.DeviceSpec{
				{hl7("bc-2", "BC-5380", "ICU")},
				{inactive},
				{hl7("bc-5380", "BC-5380", "")},
				{off, hl7("bc-2", "BC-5380", "LAB")},
			} {
				if _, err := planDevices(ctx, st, orgs, a, specs); err != nil {
					t.Errorf("%+v: %v", specs, err)
				}
			}
		})
	}
}

// TestDeviceSpecsBranch: the export writes a device's branch by name.
func TestDeviceSpecsBranch(t *testing.T) {
	ctx := context.Background()
	st := storetest.Dialects[0].Open(t)
	a := &domain.Organization{Name: "ООО «Клиника А»", Active: true}
	if err := st.CreateOrganization(ctx, a); err != nil {
		t.Fatal(err)
	}
	tver := &domain.Organization{Name: "Филиал «Тверская»", PartOf: a.ID, Active: true}
	if err := st.CreateOrganization(ctx, tver); err != nil {
		t.Fatal(err)
	}
	list := []domain.Device{
		{OrganizationID: a.ID, BranchID: tver.ID, Name: "ct-1", Protocol: "dicom", AETitle: "CT1", SendsResults: true, Active: true},
		{OrganizationID: a.ID, Name: "ct-2", Protocol: "dicom", AETitle: "CT2", SendsResults: true, Active: true},
	}
	specs, err := deviceSpecs(ctx, st, list, true)
	if err != nil {
		t.Fatal(err)
	}
	if specs[0].Branch != "Филиал «Тверская»" || specs[1].Branch != "" || specs[0].Organization != 0 {
		t.Errorf("specs %+v", specs)
	}
	if specs, _ = deviceSpecs(ctx, st, list, false); specs[0].Organization != a.ID {
		t.Errorf("not portable: organization %d", specs[0].Organization)
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }
