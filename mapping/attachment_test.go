package mapping

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
)

// testPDF is the start of a PDF file, enough for its signature.
var testPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// oruWithED is an ORU^R01 with one numeric result and one ED value (OBX 2).
func oruWithED(ed string) []byte {
	return []byte("MSH|^~\\&|LIS|LAB|||20250314093000||ORU^R01|ED1|P|2.5.1||||||UNICODE UTF-8\r" +
		"PID|1||12345^^^LAB^MR||Иванов^Иван||19800517|M\r" +
		"OBR|1|ACC1|S1|58410-2^CBC panel^LN|||20250314090000|||||||||||||||||F\r" +
		"OBX|1|NM|718-7^HGB^LN||135|g/L|130-170|N|||F\r" +
		"OBX|2|ED|PDF^Заключение (PDF)^L||" + ed + "||||||F|||20250314091500\r")
}

func mapED(t *testing.T, raw []byte, max int64) (*domain.IngestResult, error) {
	t.Helper()
	dev := &domain.Device{ID: 7, OrganizationID: 1, Name: "lis", Protocol: domain.ProtocolHL7, SendsResults: true}
	msg, err := ParseHL7(raw, dev, time.UTC)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return HL7Inbound(context.Background(), HL7Input{LabInput: LabInput{Lookup: newGoldenWorld(), Device: dev, DeviceID: dev.ID},
		Location: time.UTC, MaxAttachment: max}, msg)
}

func TestEDAttachmentPDF(t *testing.T) {
	res, err := mapED(t, oruWithED("^Application^PDF^Base64^"+base64.StdEncoding.EncodeToString(testPDF)), 0)
	if err != nil {
		t.Fatal(err)
	}
	var forms []domain.Attachment
	for _, rs := range res.Reports {
		forms = append(forms, rs.Report.PresentedForm...)
		for _, o := range rs.Observations {
			if o.Code.Code == "PDF" {
				t.Errorf("the ED value became an observation: %+v", o)
			}
		}
	}
	if len(forms) != 1 {
		t.Fatalf("%d attachments over %d reports, want 1", len(forms), len(res.Reports))
	}
	a := forms[0]
	sum := sha256.Sum256(testPDF)
	if a.ContentType != "application/pdf" || a.Title != "Заключение (PDF)" || a.Size != int64(len(testPDF)) ||
		a.SHA256 != hex.EncodeToString(sum[:]) || a.Location != "" || !bytes.Equal(a.Data, testPDF) {
		t.Errorf("attachment %+v", a)
	}
	if a.Created == nil || !a.Created.Equal(time.Date(2025, 3, 14, 9, 15, 0, 0, time.UTC)) {
		t.Errorf("created %v, want OBX-14", a.Created)
	}
}

// A message whose only OBX is a document still makes a report.
func TestEDAttachmentOnly(t *testing.T) {
	raw := bytes.Replace(oruWithED("^Application^PDF^Base64^"+base64.StdEncoding.EncodeToString(testPDF)),
		[]byte("OBX|1|NM|718-7^HGB^LN||135|g/L|130-170|N|||F\r"), nil, 1)
	res, err := mapED(t, raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 1 || len(res.Reports[0].Report.PresentedForm) != 1 || len(res.Reports[0].Observations) != 0 {
		t.Fatalf("reports %+v", res.Reports)
	}
}

// An attachment that cannot be kept is left out, said in the message's
// reason, and the results still attach; alone in a message, it makes the
// message invalid (AE) with the same reason.
func TestEDAttachmentLeftOut(t *testing.T) {
	big := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 2048))
	for _, c := range []struct {
		name, ed string
		max      int64
		want     []string
	}{
		{"bad base64", "^Application^PDF^Base64^%%%not base64%%%", 0, []string{"OBX 2", "OBX-1 2", "base64"}},
		{"bad hex", "^Image^PNG^Hex^ZZ", 0, []string{"OBX 2", "hex"}},
		{"unknown encoding", "^Application^PDF^UUENCODE^abc", 0, []string{"OBX 2", "encoding"}},
		{"empty", "^Application^PDF^Base64^", 0, []string{"OBX 2", "empty"}},
		{"oversize", "^Application^PDF^Base64^" + big, 1024, []string{"OBX 2", "2048 bytes", "1024"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := mapED(t, oruWithED(c.ed), c.max)
			if err != nil {
				t.Fatalf("the results were refused with the attachment: %v", err)
			}
			if len(res.Reports) != 1 || len(res.Reports[0].Observations) != 1 || len(res.Reports[0].Report.PresentedForm) != 0 {
				t.Fatalf("reports %+v", res.Reports)
			}
			for _, w := range append(c.want, "attachments not kept") {
				if !strings.Contains(res.Reason, w) {
					t.Errorf("reason %q does not name %q", res.Reason, w)
				}
			}
			// The attachment alone: nothing to attach, AE saying why.
			alone := bytes.Replace(oruWithED(c.ed), []byte("OBX|1|NM|718-7^HGB^LN||135|g/L|130-170|N|||F\r"), nil, 1)
			_, err = mapED(t, alone, c.max)
			var inv *listeners.InvalidError
			if !errors.As(err, &inv) || !strings.Contains(inv.Reason, "attachments not kept") ||
				!strings.Contains(inv.Reason, c.want[len(c.want)-1]) {
				t.Errorf("attachment alone: %v; want AE saying why", err)
			}
		})
	}
}

func TestEDContentType(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n....")
	for _, c := range []struct {
		typ, sub string
		data     []byte
		want     string
	}{
		{"Application", "PDF", testPDF, "application/pdf"},
		{"AP", "pdf", testPDF, "application/pdf"},
		{"Image", "PNG", png, "image/png"},
		{"Image", "JPEG", []byte("\xff\xd8\xff\xe0...."), "image/jpeg"},
		{"Image", "BMP", []byte("BM6\x00\x00\x00"), "image/bmp"},
		{"Image", "GIF", []byte("GIF89a.."), "image/gif"},
		{"Image", "TIFF", []byte("II*\x00...."), "image/tiff"},
		{"Image", "BMP", []byte{0x01, 0x02, 0x03, 0x04}, "application/octet-stream"}, // a device's own binary histogram
		{"Image", "BMP", png, "image/png"},                                           // the bytes decide
		{"", "", testPDF, "application/pdf"},
		{"application/pdf", "", testPDF, "application/pdf"},
		{"TEXT", "", []byte("plain"), "text/plain"},
		{"Application", "RTF", []byte("{\\rtf1}"), "application/rtf"},
		{"Image", "X-MINDRAY", []byte{0, 1, 2}, "application/octet-stream"},
	} {
		if got := contentType(c.typ, c.sub, c.data); got != c.want {
			t.Errorf("contentType(%q, %q, % x…) = %q, want %q", c.typ, c.sub, c.data[:min(4, len(c.data))], got, c.want)
		}
	}
}
