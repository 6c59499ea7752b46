package ingest_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
)

var reportPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// oruPDF is an ORU^R01 for the world's sample with a result and a PDF
// report as an ED value.
func oruPDF(barcode, key, data string) []byte {
	return []byte("MSH|^~\\&|BC-5380|LAB|||20261120093000||ORU^R01|" + key + "|P|2.5.1||||||UNICODE UTF-8\r" +
		"PID|1||||Иванов^Пётр||19800102|M\r" +
		"OBR|1||" + barcode + "|CBC^Общий анализ крови|||20261120090000|||||||||||||||||F\r" +
		"OBX|1|NM|HGB^Гемоглобин||125|g/L|130-170|L|||F\r" +
		"OBX|2|ED|PDF^Заключение||^Application^PDF^Base64^" + data + "||||||F\r")
}

// objects lists the blob store's objects (staging area left out).
func objects(t *testing.T, blobs *blob.FS) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(blobs.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == blobs.TempDir() {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A PDF sent as OBX-2 ED is kept in the blob store and listed as the
// report's presentedForm; reprocessing keeps one attachment and one copy.
func TestHL7AttachmentStored(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		blobs, err := blob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		w.p.Processors[listeners.HL7] = ingest.HL7{Blobs: blobs}
		raw := oruPDF(w.order.Specimens[0].Barcode, "PDF1", base64.StdEncoding.EncodeToString(reportPDF))
		if err := w.p.Handle(w.ctx, hl7Env(raw, "PDF1")); err != nil {
			t.Fatal(err)
		}
		check := func(when string) domain.Attachment {
			t.Helper()
			c := w.chart(t)
			if len(c.Reports) != 1 || len(c.Reports[0].PresentedForm) != 1 || len(c.Observations) != 1 {
				t.Fatalf("%s: chart %d reports, %d observations: %+v", when, len(c.Reports), len(c.Observations), c.Reports)
			}
			a := c.Reports[0].PresentedForm[0]
			if a.ContentType != "application/pdf" || a.Title != "Заключение" || a.Size != int64(len(reportPDF)) || a.SHA256 == "" {
				t.Errorf("%s: attachment %+v", when, a)
			}
			f, err := blobs.Open(a.Location)
			if err != nil {
				t.Fatalf("%s: blob %q: %v", when, a.Location, err)
			}
			defer f.Close()
			if b, _ := io.ReadAll(f); !bytes.Equal(b, reportPDF) {
				t.Errorf("%s: blob holds %q", when, b)
			}
			if n := objects(t, blobs); len(n) != 1 {
				t.Errorf("%s: %d objects in the blob store, want 1: %v", when, len(n), n)
			}
			return a
		}
		first := check("after ingest")
		ms := w.messages(t)
		if len(ms) != 1 || ms[0].Status != domain.MessageProcessed {
			t.Fatalf("messages %+v", ms)
		}
		if _, err := w.p.Reprocess(w.ctx, []int64{w.org}, ms[0].ID); err != nil {
			t.Fatal(err)
		}
		if again := check("after reprocess"); again.Location != first.Location {
			t.Errorf("reprocess moved the attachment: %s → %s", first.Location, again.Location)
		}
		if left, _ := os.ReadDir(blobs.TempDir()); len(left) != 0 {
			t.Errorf("staging files left: %v", left)
		}
	})
}

// Bad base64: the results attach without the attachment, the message's
// reason names the OBX, nothing goes to the blob store; without a blob
// store a message with an attachment is not processed.
func TestHL7AttachmentRefused(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.hl7Device(t)
		blobs, err := blob.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		w.p.Processors[listeners.HL7] = ingest.HL7{Blobs: blobs}
		if err := w.p.Handle(w.ctx, hl7Env(oruPDF(w.order.Specimens[0].Barcode, "BAD1", "***not base64***"), "BAD1")); err != nil {
			t.Fatalf("bad base64 refused the results: %v", err)
		}
		ms := w.messages(t)
		if len(ms) != 1 || ms[0].Status != domain.MessageProcessed || !strings.Contains(ms[0].Reason, "OBX-1 2") ||
			!strings.Contains(ms[0].Reason, "attachments not kept") {
			t.Errorf("messages %+v", ms)
		}
		c := w.chart(t)
		if len(c.Reports) != 1 || len(c.Reports[0].PresentedForm) != 0 || len(c.Observations) == 0 || len(objects(t, blobs)) != 0 {
			t.Errorf("chart: %d reports, %d observations, %d blobs", len(c.Reports), len(c.Observations), len(objects(t, blobs)))
		}
		var inv *listeners.InvalidError

		w.p.Processors[listeners.HL7] = ingest.HL7{} // no blob store
		raw := oruPDF(w.order.Specimens[0].Barcode, "NOBLOB", base64.StdEncoding.EncodeToString(reportPDF))
		if err := w.p.Handle(w.ctx, hl7Env(raw, "NOBLOB")); err == nil || errors.As(err, &inv) {
			t.Errorf("without a blob store: %v; want a fault", err)
		}
		if c := w.chart(t); len(c.Reports) != 1 {
			t.Errorf("stored without a blob store: %d reports", len(c.Reports))
		}
	})
}
