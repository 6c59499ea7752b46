package storetest

import (
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// attachmentFixture is a report's presentedForm as the ingest processor
// leaves it: bytes in the blob store, keys and sizes in the report.
func attachmentFixture() []domain.Attachment {
	created := T0.Add(-90 * time.Minute)
	return []domain.Attachment{
		{ContentType: "application/pdf", Title: "Заключение (PDF)", Size: 1234,
			SHA256:   "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
			Location: "2c/26/2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Created: &created},
		{ContentType: "image/bmp", Title: "WBC Histogram. BMP", Size: 56,
			SHA256:   "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
			Location: "fc/de/fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"},
	}
}

func normForm(list []domain.Attachment) []domain.Attachment {
	out := make([]domain.Attachment, len(list))
	for i, a := range list {
		a.Created = usp(a.Created)
		out[i] = a
	}
	return out
}

// testAttachments checks a report's presentedForm: written by SaveReport
// and ApplyIngest, read back in order by every report reader (chart,
// GetReport, SearchReports), scoped like the report, kept once when the
// message is applied again, and refused while it still holds bytes.
func testAttachments(t *testing.T, open opener) {
	t.Run("ApplyIngestAndReaders", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		want := normForm(attachmentFixture())
		result := func() *store.IngestResult {
			rs := labReport(f.org.ID, f.patient.ID, f.order.ID, glucose(5.5))
			rs.Report.PresentedForm = attachmentFixture()
			plain := labReport(f.org.ID, f.patient.ID, f.order.ID, crp(0.4))
			return &store.IngestResult{Status: domain.MessageProcessed, Reports: []store.ReportSet{rs, plain}}
		}
		for round := 1; round <= 2; round++ { // the second is a reprocess
			r := result()
			e.apply(f.msg.ID, r)
			id, plainID := r.Reports[0].Report.ID, r.Reports[1].Report.ID
			c := e.chart(ids(f.org.ID), f.patient.ID)
			if len(c.Reports) != 2 {
				t.Fatalf("round %d: chart has %d reports, want 2: %s", round, len(c.Reports), js(c.Reports))
			}
			for _, rep := range c.Reports {
				switch rep.ID {
				case id:
					sameJSON(t, "chart presentedForm", want, normForm(rep.PresentedForm))
				case plainID:
					if rep.PresentedForm != nil {
						t.Errorf("chart: a report without attachments has %s", js(rep.PresentedForm))
					}
				default:
					t.Errorf("round %d: chart report %d is from neither apply", round, rep.ID)
				}
			}
			got, err := e.s.GetReport(e.ctx, ids(f.org.ID), id)
			if err != nil {
				t.Fatalf("GetReport: %v", err)
			}
			sameJSON(t, "GetReport presentedForm", want, normForm(got.PresentedForm))
			list, _, _, err := e.s.SearchReports(e.ctx, store.ReportQuery{Orgs: ids(f.org.ID), PatientID: f.patient.ID})
			if err != nil || len(list) != 2 {
				t.Fatalf("SearchReports: %d, %v; want 2", len(list), err)
			}
			n := 0
			for _, rep := range list {
				n += len(rep.PresentedForm)
				if rep.ID == id {
					sameJSON(t, "SearchReports presentedForm", want, normForm(rep.PresentedForm))
				}
			}
			if n != len(want) {
				t.Errorf("round %d: %d attachments over the patient's reports, want %d", round, n, len(want))
			}
		}
		other := e.org("Другая")
		c := e.chart(ids(f.org.ID), f.patient.ID)
		_, err := e.s.GetReport(e.ctx, ids(other.ID), c.Reports[0].ID)
		wantNotFound(t, "GetReport of another organization", err)
	})

	t.Run("SaveReport", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		rs := labReport(f.org.ID, f.patient.ID, f.order.ID, glucose(5.5))
		rs.Report.PresentedForm = attachmentFixture()
		if err := e.s.SaveReport(e.ctx, &rs.Report, rs.Observations, nil); err != nil {
			t.Fatalf("SaveReport: %v", err)
		}
		got, err := e.s.GetReport(e.ctx, ids(f.org.ID), rs.Report.ID)
		if err != nil {
			t.Fatalf("GetReport: %v", err)
		}
		sameJSON(t, "presentedForm", normForm(attachmentFixture()), normForm(got.PresentedForm))
	})

	t.Run("RefusesBytes", func(t *testing.T) {
		e := beginIngest(t, open)
		f := newApplyFixture(e)
		rs := labReport(f.org.ID, f.patient.ID, f.order.ID, glucose(5.5))
		rs.Report.PresentedForm = []domain.Attachment{{ContentType: "application/pdf", Size: 4, Data: []byte("%PDF")}}
		if err := e.s.SaveReport(e.ctx, &rs.Report, rs.Observations, nil); err == nil {
			t.Fatal("SaveReport stored an attachment that is not in the blob store")
		}
		if c := e.chart(ids(f.org.ID), f.patient.ID); len(c.Reports) != 0 {
			t.Errorf("chart after a refused SaveReport: %s", js(c.Reports))
		}
	})
}
