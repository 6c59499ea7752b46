package api_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
	"github.com/medgate/medgate/mis/ingest/ingesttest"
)

func withIngest(s *api.Server) {
	s.Ingest = &ingest.Pipeline{Store: s.Store, Processors: map[listeners.Protocol]ingest.Processor{listeners.ASTM: ingesttest.Lines{}}}
}

func (e *env) feed(sender, key, body string) error {
	e.t.Helper()
	return e.srv.Ingest.(*ingest.Pipeline).Handle(e.ctx, &listeners.Envelope{Protocol: listeners.ASTM, Listener: "test",
		Peer: "127.0.0.1:4000", Sender: sender, Key: key, Raw: []byte(body), Received: time.Now()})
}

func TestDevicesAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		_, doc := e.createUser("doc", e.org, domain.RoleDoctor)
		dev := map[string]any{"name": "xn-550", "protocol": "astm", "sender": "XN-550", "codeMap": "xn",
			"transport": map[string]any{"serial": "/dev/ttyUSB0", "baud": 9600, "format": "8N1"}}
		var d domain.Device
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, dev), http.StatusCreated, &d)
		if d.ID == 0 || !d.SendsResults || !d.Active || d.Transport == nil || d.Transport.Baud != 9600 {
			t.Fatalf("device %+v", d)
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, dev), http.StatusConflict, "name")
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "ct", "protocol": "dicom"}), http.StatusBadRequest, "aeTitle")
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "ct", "protocol": "dicom", "aeTitle": "CT1",
			"addresses": []string{"not-an-ip"}}), http.StatusBadRequest, "addresses[0]")
		wantError(t, e.call(http.MethodPost, "/api/v1/devices", doc, dev), http.StatusForbidden, "")
		dev["encoding"] = "windows-1251"
		want(t, e.call(http.MethodPut, "/api/v1/devices/"+strconv.FormatInt(d.ID, 10), it, dev), http.StatusOK, &d)
		var list struct{ Items []domain.Device }
		want(t, e.get("/api/v1/devices", it), http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0].Encoding != "windows-1251" {
			t.Fatalf("list %+v", list.Items)
		}
		other := e.createOrg("ООО «Другая»")
		_, itB := e.createUser("it-b", other, domain.RoleIT)
		wantError(t, e.get("/api/v1/devices/"+strconv.FormatInt(d.ID, 10), itB), http.StatusNotFound, "")
		if r := e.call(http.MethodDelete, "/api/v1/devices/"+strconv.FormatInt(d.ID, 10), it, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %s", r)
		}
	})
}

func TestCodeMapAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		body := map[string]any{"entries": []map[string]any{{"deviceCode": "HGB", "system": domain.SystemLOINC, "code": "718-7",
			"unit": "g/L", "ranges": []map[string]any{{"sex": "male", "low": 130, "high": 170}}}}}
		var m domain.CodeMap
		want(t, e.call(http.MethodPut, "/api/v1/codemaps/xn", it, body), http.StatusOK, &m)
		if m.Version != 1 || len(m.Entries) != 1 || *m.Entries[0].Ranges[0].Low != 130 {
			t.Fatalf("map %+v", m)
		}
		want(t, e.call(http.MethodPut, "/api/v1/codemaps/xn", it, body), http.StatusOK, &m)
		if m.Version != 2 {
			t.Errorf("version %d after a second put", m.Version)
		}
		wantError(t, e.call(http.MethodPut, "/api/v1/codemaps/xn", it, map[string]any{"entries": []map[string]any{{"deviceCode": "X"}}}),
			http.StatusBadRequest, "entries[0].code")
		wantError(t, e.call(http.MethodPut, "/api/v1/codemaps/xn", it, map[string]any{"entries": []map[string]any{
			{"deviceCode": "X", "code": "1", "ranges": []map[string]any{{"low": 5, "high": 1}}}}}), http.StatusBadRequest, "entries[0].ranges[0].low")
		wantError(t, e.get("/api/v1/codemaps/none", it), http.StatusNotFound, "")
	})
}

// Unmatched and unmapped results, resolved through the API: attach to a
// patient; fix the code map and reprocess; reject with a reason.
func TestReconciliationAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		_, doc := e.createUser("doc", e.org, domain.RoleDoctor)
		p := e.createPatient(e.admin, map[string]any{"family": "Петрова", "given": "Ольга", "birthDate": "1970-03-04", "gender": "female"})
		var d domain.Device
		want(t, e.call(http.MethodPost, "/api/v1/devices", it, map[string]any{"name": "xn", "protocol": "astm", "sender": "XN", "codeMap": "xn"}),
			http.StatusCreated, &d)
		want(t, e.call(http.MethodPut, "/api/v1/codemaps/xn", it, map[string]any{"entries": []map[string]any{
			{"deviceCode": "HGB", "system": domain.SystemLOINC, "code": "718-7", "unit": "g/L"}}}), http.StatusOK, nil)

		if err := e.feed("XN", "1", "5550001|HGB|120\n5550001|PLT|240"); err != nil {
			t.Fatal(err)
		}
		var q struct{ Items []domain.ReconItem }
		want(t, e.get("/api/v1/reconciliation", it), http.StatusOK, &q)
		if len(q.Items) != 2 {
			t.Fatalf("queue %+v", q.Items)
		}
		wantError(t, e.get("/api/v1/reconciliation", doc), http.StatusForbidden, "")
		var noOrder, unmapped domain.ReconItem
		for _, it := range q.Items {
			switch it.Reason {
			case domain.ReasonNoOrder:
				noOrder = it
			case domain.ReasonUnmappedCode:
				unmapped = it
			}
		}
		if noOrder.ID == 0 || unmapped.ID == 0 {
			t.Fatalf("reasons: %+v", q.Items)
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/reconciliation/"+strconv.FormatInt(noOrder.ID, 10)+"/attach", it,
			map[string]any{}), http.StatusBadRequest, "patient")
		wantError(t, e.call(http.MethodPost, "/api/v1/reconciliation/"+strconv.FormatInt(unmapped.ID, 10)+"/attach", it,
			map[string]any{"patient": p.ID}), http.StatusConflict, "reason")
		var done struct{ Items []domain.ReconItem }
		want(t, e.call(http.MethodPost, "/api/v1/reconciliation/"+strconv.FormatInt(noOrder.ID, 10)+"/attach", it,
			map[string]any{"patient": p.ID, "note": "штрихкод переклеен"}), http.StatusOK, &done)
		if len(done.Items) != 1 || done.Items[0].Status != domain.ReconAttached {
			t.Fatalf("attach: %+v", done.Items)
		}
		if n := e.auditCount("reconciliation.attach", func(a domain.AuditEvent) bool { return a.PatientID == p.ID }); n != 1 {
			t.Errorf("%d attach audit events", n)
		}
		var chart domain.Chart
		want(t, e.get("/api/v1/patients/"+strconv.FormatInt(p.ID, 10)+"/chart", doc), http.StatusOK, &chart)
		if len(chart.Observations) != 1 {
			t.Fatalf("chart after attach: %d observations", len(chart.Observations))
		}

		// The map learns PLT; reprocessing attaches it the way the person decided.
		want(t, e.call(http.MethodPut, "/api/v1/codemaps/xn", it, map[string]any{"entries": []map[string]any{
			{"deviceCode": "HGB", "system": domain.SystemLOINC, "code": "718-7", "unit": "g/L"},
			{"deviceCode": "PLT", "system": domain.SystemLOINC, "code": "777-3", "unit": "10*9/L"}}}), http.StatusOK, nil)
		var m domain.Message
		want(t, e.call(http.MethodPost, "/api/v1/messages/"+strconv.FormatInt(unmapped.MessageID, 10)+"/reprocess", it, nil), http.StatusOK, &m)
		if m.Status != domain.MessageProcessed {
			t.Fatalf("after reprocess: %+v", m)
		}
		want(t, e.get("/api/v1/patients/"+strconv.FormatInt(p.ID, 10)+"/chart", doc), http.StatusOK, &chart)
		if len(chart.Observations) != 2 {
			t.Fatalf("chart after reprocess: %d observations", len(chart.Observations))
		}

		// Raw bytes, exactly as received; the read is audited.
		r := e.get("/api/v1/messages/"+strconv.FormatInt(m.ID, 10)+"/raw", it)
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, []byte("5550001|HGB|120\n5550001|PLT|240")) {
			t.Fatalf("raw: %s", r)
		}
		if n := e.auditCount("message.raw.read", nil); n != 1 {
			t.Errorf("%d raw-read audit events", n)
		}

		// A bad message: kept with its reason, rejected by a person with a reason.
		if err := e.feed("XN", "2", "garbage"); err == nil {
			t.Fatal("malformed message accepted")
		}
		var ms struct{ Items []domain.Message }
		want(t, e.get("/api/v1/messages?status=error", it), http.StatusOK, &ms)
		if len(ms.Items) != 1 || ms.Items[0].Reason == "" {
			t.Fatalf("error messages %+v", ms.Items)
		}
		if err := e.feed("XN", "3", "7770001|HGB|99"); err != nil {
			t.Fatal(err)
		}
		want(t, e.get("/api/v1/reconciliation", it), http.StatusOK, &q)
		if len(q.Items) != 1 {
			t.Fatalf("queue %+v", q.Items)
		}
		id := strconv.FormatInt(q.Items[0].ID, 10)
		wantError(t, e.call(http.MethodPost, "/api/v1/reconciliation/"+id+"/reject", it, map[string]any{}), http.StatusBadRequest, "reason")
		want(t, e.call(http.MethodPost, "/api/v1/reconciliation/"+id+"/reject", it, map[string]any{"reason": "контрольный образец"}), http.StatusOK, nil)
		wantError(t, e.call(http.MethodPost, "/api/v1/reconciliation/"+id+"/reject", it, map[string]any{"reason": "again"}), http.StatusConflict, "status")
	}, withIngest)
}

func TestDeviceYAMLImportExport(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, it := e.createUser("it", e.org, domain.RoleIT)
		// In name order, as the export lists devices.
		doc := `devices:
  - name: bc-5380
    protocol: hl7
    sending_application: BC-5380
    sending_facility: LAB
    encoding: windows-1251
    code_map: mindray-bc5380
  - name: ct-1
    protocol: dicom
    ae_title: CT1
    addresses: [10.0.5.21]
    encoding: iso-ir-144
  - name: xn-550
    protocol: astm
    sender: XN-550
    transport: {serial: /dev/ttyUSB0, baud: 9600, format: 8N1}
    code_map: sysmex-xn
    query: true
`
		var counts map[string]int
		want(t, e.raw(http.MethodPost, "/api/v1/devices/import", it, "application/yaml", bytes.NewReader([]byte(doc))), http.StatusOK, &counts)
		if counts["created"] != 3 || counts["updated"] != 0 {
			t.Fatalf("import: %v", counts)
		}
		r := e.get("/api/v1/devices/export", it)
		if r.Status != http.StatusOK || string(r.Body) != doc {
			t.Fatalf("export differs from the imported file:\n%s", r.Body)
		}
		// Importing the export again changes nothing but updates in place.
		want(t, e.raw(http.MethodPost, "/api/v1/devices/import", it, "application/yaml", bytes.NewReader(r.Body)), http.StatusOK, &counts)
		if counts["created"] != 0 || counts["updated"] != 3 {
			t.Fatalf("re-import: %v", counts)
		}
		// A bad file names its line and writes nothing.
		bad := "devices:\n  - name: us-1\n    protocol: dicom\n    ae_titel: US1\n"
		ae := wantError(t, e.raw(http.MethodPost, "/api/v1/devices/import", it, "application/yaml", bytes.NewReader([]byte(bad))), http.StatusBadRequest, "devices")
		if !bytes.Contains([]byte(ae.Message), []byte("devices.yaml:4")) {
			t.Errorf("error does not name line 4: %s", ae.Message)
		}
		var list struct{ Items []domain.Device }
		want(t, e.get("/api/v1/devices", it), http.StatusOK, &list)
		if len(list.Items) != 3 {
			t.Errorf("%d devices after a refused import", len(list.Items))
		}
		wantError(t, e.raw(http.MethodPost, "/api/v1/devices/import", it, "application/json", bytes.NewReader([]byte(doc))), http.StatusUnsupportedMediaType, "")
	})
}
