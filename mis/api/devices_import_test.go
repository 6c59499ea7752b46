package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/config"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

func (e *env) importDevices(token, doc string) *response {
	e.t.Helper()
	return e.raw(http.MethodPost, "/api/v1/devices/import", token, "application/yaml", strings.NewReader(doc))
}

func (e *env) deviceNamed(token, name string) (domain.Device, bool) {
	e.t.Helper()
	var list struct{ Items []domain.Device }
	want(e.t, e.get("/api/v1/devices", token), http.StatusOK, &list)
	for _, d := range list.Items {
		if d.Name == name {
			return d, true
		}
	}
	return domain.Device{}, false
}

// TestDeviceImportBranch: a device file keeps a device's branch by name;
// export writes it, import and the config file's devices: set it, and a
// name that is not a branch of the device's organization is refused.
func TestDeviceImportBranch(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		branch := e.createBranch(e.org, "Филиал «Тверская»")
		other := e.createOrg("ООО «Другая»")
		e.createBranch(other, "Филиал «Лесная»")
		doc := "devices:\n  - name: ct-1\n    protocol: dicom\n    ae_title: CT1\n    branch: Филиал «Тверская»\n"
		want(t, e.importDevices(it, doc), http.StatusOK, nil)
		d, _ := e.deviceNamed(it, "ct-1")
		if d.BranchID != branch {
			t.Fatalf("imported branch %d, want %d", d.BranchID, branch)
		}
		r := e.get("/api/v1/devices/export", it)
		if r.Status != http.StatusOK || string(r.Body) != doc {
			t.Fatalf("export:\n%s\nwant:\n%s", r.Body, doc)
		}
		// Re-importing the export, or provisioning it as medgate.yaml does
		// at every start, keeps the branch.
		want(t, e.importDevices(it, string(r.Body)), http.StatusOK, nil)
		specs, err := config.DecodeDevices(r.Body, "medgate.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := api.ProvisionDevices(e.ctx, e.st, []int64{e.org, branch, other}, e.org, specs,
			func() *domain.AuditEvent { return &domain.AuditEvent{Login: "medgate.yaml", Event: "device.provision"} }); err != nil {
			t.Fatal(err)
		}
		if d, _ = e.deviceNamed(it, "ct-1"); d.BranchID != branch {
			t.Errorf("branch %d after re-import and provisioning, want %d", d.BranchID, branch)
		}
		// Another organization's branch, or none of that name: refused, nothing written.
		for _, name := range []string{"Филиал «Лесная»", "Филиал «Нет»"} {
			bad := "devices:\n  - {name: us-1, protocol: dicom, ae_title: US1}\n  - {name: ct-1, protocol: dicom, ae_title: CT1, branch: " + name + "}\n"
			ae := wantError(t, e.importDevices(it, bad), http.StatusBadRequest, "devices[1].branch")
			if !strings.Contains(ae.Message, `"ct-1"`) || !strings.Contains(ae.Message, name) {
				t.Errorf("message %q", ae.Message)
			}
		}
		if _, found := e.deviceNamed(it, "us-1"); found {
			t.Error("a refused import wrote a device")
		}
		if d, _ = e.deviceNamed(it, "ct-1"); d.BranchID != branch {
			t.Errorf("branch %d after refused imports, want %d", d.BranchID, branch)
		}
	})
}

// TestDeviceImportIdentityConflict: an import, or medgate.yaml's devices:,
// that would give a device an identity ingest could not tell from a
// registered active device's is refused before anything is written.
func TestDeviceImportIdentityConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "bc-5380", "protocol": "hl7",
			"sendingApplication": "BC-5380", "sendingFacility": "LAB"}), http.StatusCreated, nil)
		doc := "devices:\n  - {name: xn-550, protocol: astm, sender: XN-550}\n  - {name: bc-2, protocol: hl7, sending_application: BC-5380}\n"
		ae := wantError(t, e.importDevices(it, doc), http.StatusConflict, "devices[1].sending_application")
		if !strings.Contains(ae.Message, `device "bc-2"`) || !strings.Contains(ae.Message, `the registered device "bc-5380"`) {
			t.Errorf("message %q does not name both devices", ae.Message)
		}
		if _, found := e.deviceNamed(it, "xn-550"); found {
			t.Error("a refused import wrote a device")
		}
		specs, err := config.DecodeDevices([]byte(doc), "medgate.yaml")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = api.ProvisionDevices(e.ctx, e.st, []int64{e.org}, e.org, specs,
			func() *domain.AuditEvent { return &domain.AuditEvent{Login: "medgate.yaml", Event: "device.provision"} })
		var ce *store.ConflictError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), `devices[1].sending_application: device "bc-2"`) {
			t.Errorf("provisioning: %v", err)
		}
		// Told apart by MSH-4, or moving bc-5380 off the identity in the same file: fine.
		want(t, e.importDevices(it, "devices:\n  - {name: bc-2, protocol: hl7, sending_application: BC-5380, sending_facility: ICU}\n"), http.StatusOK, nil)
		want(t, e.importDevices(it, "devices:\n  - {name: bc-5380, protocol: hl7, sending_application: BC-5380-OLD}\n"+
			"  - {name: bc-3, protocol: hl7, sending_application: BC-5380, sending_facility: LAB}\n"), http.StatusOK, nil)
	})
}
