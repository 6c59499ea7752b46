package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

func testIngestConcurrency(t *testing.T, open opener) {
	const workers = 16
	t.Run("SaveSameMessage", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		raw := hl7Bytes("MSG00001", "5.5")
		msgs := make([]*domain.Message, workers)
		origs := make([]*domain.Message, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			msgs[i] = NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, "MSG00001", raw)
			msgs[i].Peer = fmt.Sprintf("10.0.5.21:%d", 50000+i)
			wg.Go(func() { origs[i], errs[i] = e.s.SaveMessage(e.ctx, msgs[i]) })
		}
		wg.Wait()
		var original *domain.Message
		for i, err := range errs {
			if err != nil {
				t.Fatalf("SaveMessage %d: %v", i, err)
			}
			if msgs[i].Status == domain.MessageReceived {
				if original != nil {
					t.Errorf("two originals: %d and %d", original.ID, msgs[i].ID)
				}
				original = msgs[i]
				if origs[i] != nil {
					t.Errorf("the original's SaveMessage returned orig %d", origs[i].ID)
				}
			}
		}
		if original == nil {
			t.Fatal("no copy was stored as the original")
		}
		var got []int64
		for i, m := range msgs {
			got = append(got, m.ID)
			if m == original {
				continue
			}
			if m.Status != domain.MessageDuplicate || m.DuplicateOf != original.ID || origs[i] == nil || origs[i].ID != original.ID {
				t.Errorf("copy %d: status %q, DuplicateOf %d, orig %s; want a duplicate of %d", i, m.Status, m.DuplicateOf, js(origs[i]), original.ID)
			}
		}
		noDuplicates(t, "message IDs", got)
		stored := e.messagesAll(store.MessageQuery{Orgs: ids(org.ID), DeviceID: dev.ID})
		count := map[string]int{}
		for _, m := range stored {
			count[m.Status]++
			if m.Status == domain.MessageDuplicate && m.DuplicateOf != original.ID {
				t.Errorf("stored duplicate %d points at %d, want %d", m.ID, m.DuplicateOf, original.ID)
			}
		}
		if len(stored) != workers || count[domain.MessageReceived] != 1 || count[domain.MessageDuplicate] != workers-1 {
			t.Errorf("stored %d rows by status %v; want 1 received and %d duplicates", len(stored), count, workers-1)
		}
		if items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID)}); len(items) != 0 {
			t.Errorf("concurrent resends queued %d items, want none", len(items))
		}
		for _, m := range msgs {
			sameBytes(t, "raw bytes", raw, e.getMsg(nil, m.ID).Raw)
		}
	})
	t.Run("SaveSameKeyOtherBytes", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		msgs := make([]*domain.Message, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			msgs[i] = NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, "MSG00001", hl7Bytes("MSG00001", fmt.Sprintf("%d.1", i)))
			wg.Go(func() { _, errs[i] = e.s.SaveMessage(e.ctx, msgs[i]) })
		}
		wg.Wait()
		count := map[string]int{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("SaveMessage %d: %v", i, err)
			}
			count[msgs[i].Status]++
		}
		if count[domain.MessageReceived] != 1 || count[domain.MessageQueued] != workers-1 {
			t.Errorf("statuses %v; want 1 received and %d queued conflicts", count, workers-1)
		}
		if items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID), Reason: domain.ReasonDuplicateConflict}); len(items) != workers-1 {
			t.Errorf("duplicate_conflict items: %d, want %d", len(items), workers-1)
		}
	})
	t.Run("SaveDifferentMessages", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		msgs := make([]*domain.Message, workers)
		origs := make([]*domain.Message, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			key := fmt.Sprintf("MSG%05d", i)
			msgs[i] = NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, key, hl7Bytes(key, "5.5"))
			wg.Go(func() { origs[i], errs[i] = e.s.SaveMessage(e.ctx, msgs[i]) })
		}
		wg.Wait()
		var got []int64
		for i, err := range errs {
			if err != nil {
				t.Fatalf("SaveMessage %d: %v", i, err)
			}
			if msgs[i].Status != domain.MessageReceived || origs[i] != nil {
				t.Errorf("message %d: status %q, orig %s; want an original", i, msgs[i].Status, js(origs[i]))
			}
			sameBytes(t, "raw bytes", msgs[i].Raw, e.getMsg(nil, msgs[i].ID).Raw)
			got = append(got, msgs[i].ID)
		}
		noDuplicates(t, "message IDs", got)
		if n := len(e.messagesAll(store.MessageQuery{Orgs: ids(org.ID), Status: domain.MessageReceived})); n != workers {
			t.Errorf("received messages stored: %d, want %d", n, workers)
		}
	})
	t.Run("ApplyIngestIsolated", func(t *testing.T) {
		// Writers share transactions (group commit): one caller's failure
		// must roll back its own work only.
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		patients := make([]*domain.Patient, workers)
		msgs := make([]*domain.Message, workers)
		for i := range workers {
			patients[i] = e.patient(org.ID, "Потоков", givenNames[i%len(givenNames)])
			msgs[i] = e.saveNew(org.ID, dev.ID, fmt.Sprintf("MSG%05d", i), "5.5")
		}
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			r := &store.IngestResult{Status: domain.MessageQueued, Reason: "queued",
				Reports: []store.ReportSet{labReport(org.ID, patients[i].ID, 0, glucose(5.5), crp(1))},
				Recon:   []store.ReconDraft{draft("lab", domain.ReasonNoOrder, fmt.Sprintf("barcode:%d", i), -1, -1)}}
			if i%2 == 1 {
				r.Recon[0].Item.PatientID = 987654321 // a dangling reference: this caller fails
			}
			wg.Go(func() { errs[i] = e.s.ApplyIngest(e.ctx, msgs[i].ID, r) })
		}
		wg.Wait()
		for i := range workers {
			fails := i%2 == 1
			if fails != (errs[i] != nil) {
				t.Errorf("ApplyIngest %d: error %v, want failure %v", i, errs[i], fails)
			}
			c := e.chart(ids(org.ID), patients[i].ID)
			items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID), MessageID: msgs[i].ID})
			m := e.getMsg(nil, msgs[i].ID)
			if fails {
				if len(c.Reports)+len(c.Observations) != 0 || len(items) != 0 || m.Status != domain.MessageReceived || m.Attempts != 0 {
					t.Errorf("failed ApplyIngest %d left %d reports, %d items, status %q, attempts %d", i, len(c.Reports), len(items), m.Status, m.Attempts)
				}
			} else if len(c.Reports) != 1 || len(c.Observations) != 2 || len(items) != 1 || m.Status != domain.MessageQueued || m.Attempts != 1 {
				t.Errorf("ApplyIngest %d wrote %d reports, %d observations, %d items, status %q, attempts %d; want 1, 2, 1, queued, 1",
					i, len(c.Reports), len(c.Observations), len(items), m.Status, m.Attempts)
			}
		}
	})
	t.Run("ResolveSameItem", func(t *testing.T) {
		// Several people decide on one item at once: one decision wins, the
		// others are told it is already decided.
		e := beginIngest(t, open)
		f := newReconFixture(e)
		const deciders = 16
		_, _, items := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, "barcode:0000000999"))
		errs := make([]error, deciders)
		var wg sync.WaitGroup
		for i := range deciders {
			d := store.ReconDecision{Attach: i%2 == 0, PatientID: f.p.ID, UserID: f.user.ID, Note: fmt.Sprintf("решение %d", i)}
			wg.Go(func() {
				_, errs[i] = e.s.ResolveRecon(e.ctx, ids(f.a.ID), items[0].ID, d, NewAudit(f.a.ID, domain.ActionUpdate, "recon.decide"))
			})
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
			default:
				t.Errorf("ResolveRecon %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d concurrent decisions on one item succeeded, want exactly 1", ok)
		}
		if n := len(e.auditEvents(ids(f.a.ID), "recon.decide")); n != ok {
			t.Errorf("%d audit events for %d decisions", n, ok)
		}
	})
	t.Run("ResolveSameKey", func(t *testing.T) {
		// Two items under one key decided at once from either end: the key
		// is decided once.
		e := beginIngest(t, open)
		f := newReconFixture(e)
		const rounds = 8
		for round := range rounds {
			key := fmt.Sprintf("barcode:%010d", round)
			_, _, i1 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, key))
			_, _, i2 := f.queue(e, f.dev, qLab(domain.ReasonNoOrder, key))
			var wg sync.WaitGroup
			var errs [2]error
			for j, it := range []domain.ReconItem{i1[0], i2[0]} {
				d := store.ReconDecision{Attach: j == 0, PatientID: f.p.ID, UserID: f.user.ID}
				wg.Go(func() { _, errs[j] = e.s.ResolveRecon(e.ctx, ids(f.a.ID), it.ID, d, nil) })
			}
			wg.Wait()
			ok := 0
			for j, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("round %d, ResolveRecon %d: %v", round, j, err)
				}
			}
			a, b := e.getRecon(ids(f.a.ID), i1[0].ID), e.getRecon(ids(f.a.ID), i2[0].ID)
			if ok != 1 || a.Status != b.Status || a.Status == domain.ReconOpen {
				t.Errorf("round %d: %d decisions succeeded, items %s and %s; want one decision applied to both",
					round, ok, a.Status, b.Status)
			}
		}
	})
}
