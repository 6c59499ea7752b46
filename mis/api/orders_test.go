package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/mis/domain"
)

func TestLabOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, registrar := e.createUser("registrar", e.org, domain.RoleRegistrar)
		p := e.createPatient(registrar, patientJSON("Иванов", "Иван"))
		r := e.call(http.MethodPost, "/api/v1/orders", registrar, labOrder(p.ID))
		var o domain.ServiceRequest
		want(t, r, http.StatusCreated, &o)
		if loc := r.Header.Get("Location"); loc != "/api/v1/orders/"+id(o.ID) {
			t.Errorf("Location %q", loc)
		}
		if o.AccessionNumber == "" || domain.ValidateAccession(o.AccessionNumber) != nil {
			t.Errorf("accession number %q", o.AccessionNumber)
		}
		if o.Category != domain.CategoryLab || o.Status != domain.StatusActive || o.Priority != domain.PriorityRoutine ||
			o.PatientID != p.ID || o.OrganizationID != e.org || o.StudyInstanceUID != "" {
			t.Errorf("order %+v", o)
		}
		if len(o.Specimens) != 1 || !domain.ValidBarcode(o.Specimens[0].Barcode) || o.Specimens[0].PatientID != p.ID {
			t.Fatalf("specimens %+v, want one with a valid barcode", o.Specimens)
		}

		var got domain.ServiceRequest
		want(t, e.get("/api/v1/orders/"+id(o.ID), registrar), http.StatusOK, &got)
		if got.AccessionNumber != o.AccessionNumber || len(got.Specimens) != 1 || got.Specimens[0].Barcode != o.Specimens[0].Barcode {
			t.Errorf("GET order %+v, want accession %s barcode %s", got, o.AccessionNumber, o.Specimens[0].Barcode)
		}
		stored, err := e.st.GetServiceRequest(e.ctx, []int64{e.org}, o.ID)
		if err != nil || stored.AccessionNumber != o.AccessionNumber || len(stored.Specimens) != 1 {
			t.Errorf("stored order %+v, %v", stored, err)
		}

		// A second order gets other keys.
		o2 := e.createOrder(registrar, labOrder(p.ID))
		if o2.AccessionNumber == o.AccessionNumber || len(o2.Specimens) != 1 || o2.Specimens[0].Barcode == o.Specimens[0].Barcode {
			t.Errorf("second order reuses keys: %+v", o2)
		}
		if n := e.auditCount("order.create", func(ev domain.AuditEvent) bool {
			return ev.PatientID == p.ID && ev.OrganizationID == e.org && ev.ResourceID == o.ID
		}); n != 1 {
			t.Errorf("%d order.create audit rows for the order, want 1", n)
		}

		// Specimens belong to lab orders; bad barcodes are refused.
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, map[string]any{"patient": p.ID, "category": "imaging",
			"modality": "CT", "procedure": "КТ", "specimen": []map[string]any{{"barcode": ""}}}), http.StatusBadRequest, "specimen")
		bad := labOrder(p.ID)
		bad["specimen"] = []map[string]any{{"barcode": "1234567890"}}
		if domain.ValidBarcode("1234567890") {
			t.Fatal("fixture barcode is valid")
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, bad), http.StatusBadRequest, "specimen[0].barcode")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, map[string]any{"patient": p.ID, "category": "lab"}), http.StatusBadRequest, "code")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, map[string]any{"patient": p.ID, "category": "blood"}), http.StatusBadRequest, "category")
		if n := e.orderCount(e.org); n != 2 {
			t.Errorf("%d orders, want 2", n)
		}
	})
}

func TestImagingOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p := e.createPatient(e.admin, patientJSON("Иванов", "Иван"))
		o := e.createOrder(e.admin, imagingOrder(p.ID))
		if o.AccessionNumber == "" || domain.ValidateAccession(o.AccessionNumber) != nil {
			t.Errorf("accession number %q", o.AccessionNumber)
		}
		if err := domain.ValidateUID(o.StudyInstanceUID); err != nil {
			t.Errorf("StudyInstanceUID %q: %v", o.StudyInstanceUID, err)
		}
		if len(o.Specimens) != 0 || o.Modality != "CT" || o.Category != domain.CategoryImaging {
			t.Errorf("imaging order %+v", o)
		}
		o2 := e.createOrder(e.admin, imagingOrder(p.ID))
		if o2.StudyInstanceUID == o.StudyInstanceUID || o2.AccessionNumber == o.AccessionNumber {
			t.Errorf("two imaging orders share keys: %s/%s", o.StudyInstanceUID, o.AccessionNumber)
		}
		var got domain.ServiceRequest
		want(t, e.get("/api/v1/orders/"+id(o.ID), e.admin), http.StatusOK, &got)
		if got.StudyInstanceUID != o.StudyInstanceUID {
			t.Errorf("GET order UID %q, want %q", got.StudyInstanceUID, o.StudyInstanceUID)
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", e.admin, map[string]any{"patient": p.ID, "category": "imaging",
			"modality": "XX", "procedure": "КТ"}), http.StatusBadRequest, "modality")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", e.admin, map[string]any{"patient": p.ID, "category": "imaging",
			"modality": "CT", "procedure": "КТ", "studyInstanceUid": "1.2.03"}), http.StatusBadRequest, "studyInstanceUid")
	})
}

func TestOrderDuplicateAccession(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p := e.createPatient(e.admin, patientJSON("Иванов", "Иван"))
		first := labOrder(p.ID)
		first["accessionNumber"] = "EXT-0001"
		o := e.createOrder(e.admin, first)
		if o.AccessionNumber != "EXT-0001" {
			t.Errorf("accession %q, want EXT-0001", o.AccessionNumber)
		}
		orders, created := e.orderCount(e.org), e.auditCount("order.create", nil)
		for _, body := range []map[string]any{first, imagingOrder(p.ID)} {
			body["accessionNumber"] = "EXT-0001"
			wantError(t, e.call(http.MethodPost, "/api/v1/orders", e.admin, body), http.StatusConflict, "accessionNumber")
		}
		bad := labOrder(p.ID)
		bad["accessionNumber"] = "ЗАКАЗ-1"
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", e.admin, bad), http.StatusBadRequest, "accessionNumber")
		if n := e.orderCount(e.org); n != orders {
			t.Errorf("%d orders after refused creates, want %d", n, orders)
		}
		if n := e.auditCount("order.create", nil); n != created {
			t.Errorf("%d order.create audit rows after refused creates, want %d", n, created)
		}
		// The refused lab order did not leave a specimen behind: the next
		// order gets the next barcode and works.
		next := e.createOrder(e.admin, labOrder(p.ID))
		if len(next.Specimens) != 1 || next.Specimens[0].Barcode == o.Specimens[0].Barcode {
			t.Errorf("next order specimens %+v", next.Specimens)
		}
	})
}

func TestOrderForeignPatient(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		orgB := e.createOrg("ООО «Клиника Б»")
		pB := e.createPatient(e.admin, patientJSON("Смирнов", "Олег", "organization", orgB))
		_, registrar := e.createUser("registrar", e.org, domain.RoleRegistrar)
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, labOrder(pB.ID)), http.StatusBadRequest, "patient")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, imagingOrder(pB.ID)), http.StatusBadRequest, "patient")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, labOrder(pB.ID+1000)), http.StatusBadRequest, "patient")
		wantError(t, e.call(http.MethodPost, "/api/v1/orders", registrar, map[string]any{"category": "lab",
			"code": []domain.Coding{{Code: "2345-7"}}}), http.StatusBadRequest, "patient")
		if n := e.orderCount(orgB) + e.orderCount(e.org); n != 0 {
			t.Errorf("%d orders written", n)
		}
	})
}

func TestListOrders(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		p1 := e.createPatient(e.admin, patientJSON("Иванов", "Иван"))
		p2 := e.createPatient(e.admin, patientJSON("Петров", "Пётр"))
		lab1 := e.createOrder(e.admin, labOrder(p1.ID))
		img1 := e.createOrder(e.admin, imagingOrder(p1.ID))
		lab2 := e.createOrder(e.admin, labOrder(p2.ID))
		want(t, e.call(http.MethodPost, "/api/v1/orders/"+id(lab2.ID)+"/cancel", e.admin, nil), http.StatusOK, nil)

		list := func(path string) ([]int64, string) {
			t.Helper()
			var out struct {
				Items []domain.ServiceRequest `json:"items"`
				Next  string                  `json:"next"`
			}
			want(t, e.get(path, e.admin), http.StatusOK, &out)
			return ids(out.Items, func(o domain.ServiceRequest) int64 { return o.ID }), out.Next
		}
		for path, wantIDs := range map[string][]int64{
			"/api/v1/orders":                                                      {lab2.ID, img1.ID, lab1.ID}, // newest first
			"/api/v1/orders?patient=" + id(p1.ID):                                 {img1.ID, lab1.ID},
			patientPath(p1.ID, "orders"):                                          {img1.ID, lab1.ID},
			patientPath(p2.ID, "orders"):                                          {lab2.ID},
			"/api/v1/orders?status=cancelled":                                     {lab2.ID},
			"/api/v1/orders?status=active":                                        {img1.ID, lab1.ID},
			"/api/v1/orders?status=completed":                                     {},
			"/api/v1/orders?category=imaging":                                     {img1.ID},
			"/api/v1/orders?patient=" + id(p1.ID) + "&status=active&category=lab": {lab1.ID},
		} {
			got, next := list(path)
			if !slices.Equal(got, wantIDs) {
				t.Errorf("GET %s = %v, want %v", path, got, wantIDs)
			}
			if next != "" {
				t.Errorf("GET %s: next %q on a short list", path, next)
			}
		}
		// Pages.
		var seen []int64
		cursor := ""
		for range 5 {
			path := "/api/v1/orders?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			got, next := list(path)
			seen = append(seen, got...)
			if cursor = next; cursor == "" {
				break
			}
		}
		if !slices.Equal(seen, []int64{lab2.ID, img1.ID, lab1.ID}) {
			t.Errorf("paged orders %v", seen)
		}
		if n := e.auditCount("order.search", func(ev domain.AuditEvent) bool { return ev.PatientID == p1.ID }); n < 3 {
			t.Errorf("%d order.search audit rows naming the patient, want at least 3", n)
		}
		wantError(t, e.get("/api/v1/orders?status=done", e.admin), http.StatusBadRequest, "status")
		wantError(t, e.get("/api/v1/orders?category=blood", e.admin), http.StatusBadRequest, "category")
		wantError(t, e.get("/api/v1/orders?patient=abc", e.admin), http.StatusBadRequest, "patient")
		wantError(t, e.get("/api/v1/orders?limit=0", e.admin), http.StatusBadRequest, "limit")
		wantError(t, e.get("/api/v1/orders?cursor=%21%21", e.admin), http.StatusBadRequest, "cursor")
		wantError(t, e.get(patientPath(p1.ID+1000, "orders"), e.admin), http.StatusNotFound, "")
		wantError(t, e.get("/api/v1/orders/"+id(lab1.ID+1000), e.admin), http.StatusNotFound, "")
		wantError(t, e.get("/api/v1/orders/abc", e.admin), http.StatusNotFound, "")
	})
}

func TestOrderLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		_, registrar := e.createUser("registrar", e.org, domain.RoleRegistrar)
		p := e.createPatient(registrar, patientJSON("Иванов", "Иван"))
		o := e.createOrder(registrar, labOrder(p.ID))
		cancel := "/api/v1/orders/" + id(o.ID) + "/cancel"
		status := "/api/v1/orders/" + id(o.ID) + "/status"

		var got domain.ServiceRequest
		want(t, e.call(http.MethodPost, cancel, registrar, nil), http.StatusOK, &got)
		if got.Status != domain.StatusCancelled || got.ID != o.ID {
			t.Errorf("cancel answered %+v", got)
		}
		wantError(t, e.call(http.MethodPost, cancel, registrar, nil), http.StatusConflict, "status")
		wantError(t, e.call(http.MethodPost, status, registrar, map[string]string{"status": "completed"}), http.StatusConflict, "status")
		wantError(t, e.call(http.MethodPost, status, registrar, map[string]string{"status": "active"}), http.StatusConflict, "status")
		wantError(t, e.call(http.MethodPost, status, registrar, map[string]string{"status": "done"}), http.StatusBadRequest, "status")
		wantError(t, e.call(http.MethodPost, status, registrar, `{"status": "completed", "reason": "x"}`), http.StatusBadRequest, "reason")
		stored, err := e.st.GetServiceRequest(e.ctx, []int64{e.org}, o.ID)
		if err != nil || stored.Status != domain.StatusCancelled {
			t.Errorf("stored order %+v, %v; want cancelled", stored, err)
		}
		if n := e.auditCount("order.status.cancelled", func(ev domain.AuditEvent) bool {
			return ev.ResourceID == o.ID && ev.PatientID == p.ID && ev.Outcome == 0
		}); n != 1 {
			t.Errorf("%d order.status.cancelled audit rows, want 1", n)
		}

		// active → completed, then neither cancelled nor completed again.
		o2 := e.createOrder(registrar, imagingOrder(p.ID))
		status2 := "/api/v1/orders/" + id(o2.ID) + "/status"
		want(t, e.call(http.MethodPost, status2, registrar, map[string]string{"status": "completed"}), http.StatusOK, &got)
		if got.Status != domain.StatusCompleted {
			t.Errorf("completed answered %+v", got)
		}
		wantError(t, e.call(http.MethodPost, "/api/v1/orders/"+id(o2.ID)+"/cancel", registrar, nil), http.StatusConflict, "status")
		wantError(t, e.call(http.MethodPost, status2, registrar, map[string]string{"status": "completed"}), http.StatusConflict, "status")
		// entered-in-error from anywhere but itself.
		want(t, e.call(http.MethodPost, status2, registrar, map[string]string{"status": "entered-in-error"}), http.StatusOK, nil)
		wantError(t, e.call(http.MethodPost, status2, registrar, map[string]string{"status": "entered-in-error"}), http.StatusConflict, "status")

		// A draft order can be activated.
		draft := labOrder(p.ID)
		draft["status"] = "draft"
		o3 := e.createOrder(registrar, draft)
		want(t, e.call(http.MethodPost, "/api/v1/orders/"+id(o3.ID)+"/status", registrar, map[string]string{"status": "active"}), http.StatusOK, &got)
		if got.Status != domain.StatusActive {
			t.Errorf("activated draft answered %+v", got)
		}

		ae := wantError(t, e.call(http.MethodPost, "/api/v1/orders/"+id(o.ID+1000)+"/cancel", registrar, nil), http.StatusNotFound, "")
		if !strings.Contains(ae.Message, "order") {
			t.Errorf("404 message %q does not say what was not found", ae.Message)
		}
	})
}
