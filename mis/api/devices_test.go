package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
)

func devicePath(n int64) string { return "/api/v1/devices/" + id(n) }

// createBranch adds a branch to org as admin.
func (e *env) createBranch(org int64, name string) int64 {
	e.t.Helper()
	var o domain.Organization
	want(e.t, e.call(http.MethodPost, "/api/v1/organizations", e.admin, map[string]any{"name": name, "partOf": org}), http.StatusCreated, &o)
	if o.ID == 0 || o.PartOf != org {
		e.t.Fatalf("branch %+v", o)
	}
	return o.ID
}

// TestDeviceHL7Fields: the HL7 settings of a device (ackMode, lenient,
// orderMessage) are set and validated through the API as in a device file,
// and what GET answers goes back through PUT unchanged.
func TestDeviceHL7Fields(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		dev := map[string]any{"name": "bc-5380", "protocol": "hl7", "sendingApplication": "BC-5380", "sendingFacility": "LAB",
			"ackMode": "original", "lenient": []string{"glued-segments", "sniff-utf8"}, "orderMessage": "OML^O21", "receivesOrders": true}
		var d domain.Device
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, dev), http.StatusCreated, &d)
		if d.AckMode != "original" || !reflect.DeepEqual(d.Lenient, []string{"glued-segments", "sniff-utf8"}) || d.OrderMessage != "OML^O21" {
			t.Fatalf("created %+v", d)
		}
		var got domain.Device
		want(t, e.get(devicePath(d.ID), it), http.StatusOK, &got)
		if got.AckMode != "original" || len(got.Lenient) != 2 || got.OrderMessage != "OML^O21" {
			t.Fatalf("stored %+v", got)
		}

		// Validated as domain.Device.Validate (and a device file) validates them.
		for _, tc := range []struct {
			set   map[string]any
			field string
		}{
			{map[string]any{"ackMode": "always"}, "ackMode"},
			{map[string]any{"lenient": []string{"glued-segments", "anything"}}, "lenient[1]"},
			{map[string]any{"orderMessage": "ORU^R01"}, "orderMessage"},
			{map[string]any{"protocol": "astm", "sender": "BC", "ackMode": "enhanced"}, "ackMode"},
		} {
			body := map[string]any{"name": "x", "protocol": "hl7", "sendingApplication": "X"}
			for k, v := range tc.set {
				body[k] = v
			}
			wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, body), http.StatusBadRequest, tc.field)
			wantError(t, e.call(http.MethodPut, devicePath(d.ID), it, body), http.StatusBadRequest, tc.field)
		}

		// GET → PUT: the body GET answered is accepted as it is and changes nothing.
		r := e.get(devicePath(d.ID), it)
		want(t, r, http.StatusOK, nil)
		var again domain.Device
		want(t, e.raw(http.MethodPut, devicePath(d.ID), it, "application/json", bytes.NewReader(r.Body)), http.StatusOK, &again)
		want(t, e.get(devicePath(d.ID), it), http.StatusOK, &again)
		if !again.Updated.After(got.Updated) && !again.Updated.Equal(got.Updated) {
			t.Errorf("updated %v, before %v", again.Updated, got.Updated)
		}
		again.Updated = got.Updated
		if !reflect.DeepEqual(again, got) {
			t.Errorf("after GET → PUT:\n got %+v\nwant %+v", again, got)
		}
		// A changed setting keeps the others.
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		m["encoding"] = "windows-1251"
		want(t, e.call(http.MethodPut, devicePath(d.ID), it, m), http.StatusOK, &again)
		if again.Encoding != "windows-1251" || again.AckMode != "original" || len(again.Lenient) != 2 || again.OrderMessage != "OML^O21" {
			t.Errorf("after changing the encoding: %+v", again)
		}
		// The id, when sent, is the path's.
		m["id"] = d.ID + 1
		wantError(t, e.call(http.MethodPut, devicePath(d.ID), it, m), http.StatusBadRequest, "id")

		// A device imported from YAML with ack_mode and lenient keeps them
		// through GET → PUT.
		doc := "devices:\n  - name: lab-gw\n    protocol: hl7\n    sending_application: LIS\n    ack_mode: enhanced\n    lenient: [ignore-msh18]\n"
		want(t, e.raw(http.MethodPost, "/api/v1/devices/import", it, "application/yaml", strings.NewReader(doc)), http.StatusOK, nil)
		var list struct{ Items []domain.Device }
		want(t, e.get("/api/v1/devices", it), http.StatusOK, &list)
		var gw domain.Device
		for _, x := range list.Items {
			if x.Name == "lab-gw" {
				gw = x
			}
		}
		r = e.get(devicePath(gw.ID), it)
		want(t, e.raw(http.MethodPut, devicePath(gw.ID), it, "application/json", bytes.NewReader(r.Body)), http.StatusOK, &gw)
		want(t, e.get(devicePath(gw.ID), it), http.StatusOK, &gw)
		if gw.AckMode != "enhanced" || !reflect.DeepEqual(gw.Lenient, []string{"ignore-msh18"}) {
			t.Errorf("imported device after GET → PUT: %+v", gw)
		}
	})
}

// TestDeviceIdentityConflict: a device that ingest could not tell from
// another active device, in any organization, is refused with 409 naming
// the other; devices told apart by MSH-4, lines or addresses are not.
func TestDeviceIdentityConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		var bc domain.Device
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "bc-5380", "protocol": "hl7",
			"sendingApplication": "BC-5380", "sendingFacility": "LAB"}), http.StatusCreated, &bc)

		ae := wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "bc-2", "protocol": "hl7",
			"sendingApplication": "BC-5380"}), http.StatusConflict, "sendingApplication")
		if !strings.Contains(ae.Message, `device "bc-5380" (id `+id(bc.ID)+`)`) || !strings.Contains(ae.Message, "sending facility") {
			t.Errorf("conflict message %q does not name bc-5380 and the facility", ae.Message)
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "bc-2", "protocol": "hl7",
			"sendingApplication": "BC-5380", "sendingFacility": "LAB"}), http.StatusConflict, "sendingApplication")
		// Inactive, it is kept and not recognised: no conflict.
		var bc2 domain.Device
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "bc-2", "protocol": "hl7",
			"sendingApplication": "BC-5380", "active": false}), http.StatusCreated, &bc2)
		// Activating it, or giving bc-5380's facility, is the same conflict.
		body := map[string]any{"name": "bc-2", "protocol": "hl7", "sendingApplication": "BC-5380"}
		wantError(t, e.call(http.MethodPut, devicePath(bc2.ID), it, body), http.StatusConflict, "sendingApplication")
		body["sendingFacility"] = "ICU"
		want(t, e.call(http.MethodPut, devicePath(bc2.ID), it, body), http.StatusOK, &bc2)
		// A device is no conflict with itself.
		want(t, e.call(http.MethodPut, devicePath(bc.ID), it, map[string]any{"name": "bc-5380", "protocol": "hl7",
			"sendingApplication": "BC-5380", "sendingFacility": "LAB", "encoding": "windows-1251"}), http.StatusOK, nil)

		// Ingest still tells them apart.
		p := &ingest.Pipeline{Store: e.st, CacheTTL: -1}
		for facility, name := range map[string]string{"LAB": "bc-5380", "ICU": "bc-2"} {
			d, err := p.Device(e.ctx, &listeners.Envelope{Protocol: listeners.HL7, Peer: "10.0.0.1:4000",
				SendingApplication: "BC-5380", SendingFacility: facility})
			if err != nil || d == nil || d.Name != name {
				t.Errorf("MSH-4 %s: device %+v, %v; want %s", facility, d, err, name)
			}
		}

		// ASTM: one model on two serial lines is two devices; one on no line
		// takes both lines' messages.
		for _, port := range []string{"/dev/ttyUSB0", "/dev/ttyUSB1"} {
			want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "xn" + port[len(port)-1:], "protocol": "astm",
				"sender": "XN-550", "transport": map[string]any{"serial": port, "baud": 9600}}), http.StatusCreated, nil)
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "xn-any", "protocol": "astm",
			"sender": "XN-550"}), http.StatusConflict, "sender")

		// DICOM: disjoint address allow-lists tell one AE title apart.
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "ct-1", "protocol": "dicom",
			"aeTitle": "CT", "addresses": []string{"10.0.5.21"}}), http.StatusCreated, nil)
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "ct-2", "protocol": "dicom",
			"aeTitle": "CT", "addresses": []string{"10.0.5.22"}}), http.StatusCreated, nil)
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "ct-3", "protocol": "dicom",
			"aeTitle": "CT", "addresses": []string{"10.0.5.30", "10.0.5.22"}}), http.StatusConflict, "aeTitle")

		// Identities are one namespace for every organization; another
		// organization's device is refused without being named.
		other := e.createOrg("ООО «Другая»")
		_, itB := e.createUser("it-b", other, domain.RoleIT)
		ae = wantError(t, e.call(http.MethodPost, "/api/v1/devices", itB, map[string]any{"name": "ct-b", "protocol": "dicom",
			"aeTitle": "CT"}), http.StatusConflict, "aeTitle")
		if strings.Contains(ae.Message, "ct-1") || !strings.Contains(ae.Message, "another organization") {
			t.Errorf("conflict across organizations: %q", ae.Message)
		}
	})
}

// TestDeviceBranchAPI: a device's branch is a branch of its organization.
func TestDeviceBranchAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		branch := e.createBranch(e.org, "Филиал «Тверская»")
		other := e.createOrg("ООО «Другая»")
		otherBranch := e.createBranch(other, "Филиал «Тверская»")
		dev := map[string]any{"name": "ct-1", "protocol": "dicom", "aeTitle": "CT1", "branch": branch}
		var d domain.Device
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, dev), http.StatusCreated, &d)
		if d.BranchID != branch {
			t.Fatalf("branch %d, want %d", d.BranchID, branch)
		}
		for _, bad := range []int64{otherBranch, other, e.org, 999999, -1} {
			dev["name"], dev["aeTitle"], dev["branch"] = "ct-2", "CT2", bad
			wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, dev), http.StatusBadRequest, "branch")
			dev["name"], dev["aeTitle"] = "ct-1", "CT1"
			wantError(t, e.call(http.MethodPut, devicePath(d.ID), it, dev), http.StatusBadRequest, "branch")
		}
		want(t, e.get(devicePath(d.ID), it), http.StatusOK, &d)
		if d.BranchID != branch {
			t.Errorf("branch %d after refused updates, want %d", d.BranchID, branch)
		}
		dev["branch"] = 0
		var cleared domain.Device
		want(t, e.call(http.MethodPut, devicePath(d.ID), it, dev), http.StatusOK, &cleared)
		if cleared.BranchID != 0 {
			t.Errorf("branch %d, want none", cleared.BranchID)
		}
	})
}
