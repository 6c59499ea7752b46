package storetest

import (
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// testSaveMessageWithResult: a message whose bytes are in the blob store
// is stored with its result in one transaction; a resend or a conflict is
// stored as SaveMessage would, its result dropped.
func testSaveMessageWithResult(t *testing.T, open opener) {
	e := beginIngest(t, open)
	org := e.org("Клиника", withUIDRoot(UIDRoot))
	dev := e.device(org.ID, "cbct", domain.ProtocolDICOM)
	uid := "1.2.826.0.1.3680043.10.543.77"
	result := func() *store.IngestResult {
		st := unmatchedStudy(org.ID, uid)
		return &store.IngestResult{Status: domain.MessageQueued, Reason: "no order", Studies: []domain.ImagingStudy{st},
			Recon: []store.ReconDraft{draft("imaging", domain.ReasonNoOrder, "study:"+uid, -1, 0)}}
	}
	blobMsg := func(key string, raw []byte) *domain.Message {
		m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, key, raw)
		m.Raw, m.Blob, m.Size = nil, "ab/cd/"+key, 4096
		return m
	}

	m := blobMsg(uid+".1.1", []byte("first"))
	orig, err := e.s.SaveMessageWithResult(e.ctx, m, result())
	if err != nil || orig != nil || m.ID == 0 {
		t.Fatalf("new message: orig %v, id %d, %v", orig, m.ID, err)
	}
	got := e.getMsg(ids(org.ID), m.ID)
	if got.Status != domain.MessageQueued || got.Reason != "no order" || got.Attempts != 1 || got.Blob != m.Blob {
		t.Errorf("stored %+v", got)
	}
	if items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID), MessageID: m.ID}); len(items) != 1 || items[0].StudyID == 0 {
		t.Errorf("reconciliation %s", js(items))
	}

	// The same bytes again: a duplicate, nothing applied.
	again := blobMsg(uid+".1.1", []byte("first"))
	orig, err = e.s.SaveMessageWithResult(e.ctx, again, result())
	if err != nil || orig == nil || orig.ID != m.ID || again.Status != domain.MessageDuplicate {
		t.Fatalf("resend: orig %v, status %s, %v", orig, again.Status, err)
	}
	// Other bytes under the same key: a conflict for review, nothing applied.
	other := blobMsg(uid+".1.1", []byte("second"))
	if _, err := e.s.SaveMessageWithResult(e.ctx, other, result()); err != nil || other.Status != domain.MessageQueued {
		t.Fatalf("conflict: status %s, %v", other.Status, err)
	}
	for _, id := range []int64{again.ID, other.ID} {
		for _, it := range e.reconAll(store.ReconQuery{Orgs: ids(org.ID), MessageID: id}) {
			if it.Reason != domain.ReasonDuplicateConflict {
				t.Errorf("message %d: result applied to a resend or conflict: %s", id, js(it))
			}
		}
	}
	// Bytes that live only in the row cannot be stored with a result.
	inRow := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, "x", []byte("raw"))
	if _, err := e.s.SaveMessageWithResult(e.ctx, inRow, result()); err == nil {
		t.Error("a message without a blob was stored with its result")
	}
}
