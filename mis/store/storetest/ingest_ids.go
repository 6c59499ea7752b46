package storetest

import (
	"context"
	"strconv"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Reprocessing replaces a message's results; the ids of the replaced ones
// are never given out again, so a FHIR id keeps naming one record.
func testIDsNotReused(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t)
	org := NewOrganization("Клиника")
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	dev := NewDevice(org.ID, "xn", domain.ProtocolASTM)
	if err := s.CreateDevice(ctx, dev, nil); err != nil {
		t.Fatal(err)
	}
	m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolASTM, "k1", []byte("raw"))
	if _, err := s.SaveMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	result := func() *store.IngestResult {
		obs := make([]domain.Observation, 3)
		for i := range obs {
			obs[i] = domain.Observation{Code: domain.Coding{Code: "HGB"}, Status: "final", ValueString: "x", Effective: T0}
		}
		return &store.IngestResult{Status: domain.MessageQueued, Reports: []store.ReportSet{{
			Report: domain.DiagnosticReport{OrganizationID: org.ID, Status: "final", Effective: T0}, Observations: obs}},
			Recon: []store.ReconDraft{{Item: domain.ReconItem{Kind: "lab", Reason: domain.ReasonNoOrder, Key: "barcode:1"}, Report: 0, Study: -1}}}
	}
	seen := map[string]bool{}
	for run := 0; run < 3; run++ {
		r := result()
		if err := s.ApplyIngest(ctx, m.ID, r); err != nil {
			t.Fatal(err)
		}
		ids := []string{"report " + strconv.FormatInt(r.Reports[0].Report.ID, 10), "recon " + strconv.FormatInt(r.Recon[0].Item.ID, 10)}
		for _, o := range r.Reports[0].Observations {
			ids = append(ids, "observation "+strconv.FormatInt(o.ID, 10))
		}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("run %d reused %s", run, id)
			}
			seen[id] = true
		}
	}
}
