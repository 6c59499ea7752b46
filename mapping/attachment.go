package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"strings"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// MaxAttachmentSize is the largest decoded ED value (one attachment) a
// message may carry when HL7Input.MaxAttachment is 0.
const MaxAttachmentSize = 32 << 20

// hl7Attachment reads an OBX whose OBX-2 is ED (encapsulated data: source
// application ^ type of data ^ data subtype ^ encoding ^ data) as a
// report attachment with its decoded bytes. Data that does not decode
// (bad Base64 or Hex, an unknown encoding), or that decodes to more than
// max bytes, is an error: the caller leaves the attachment out and says so
// in the message's reason (the raw message keeps it as sent).
func hl7Attachment(o hl7.Observation, max int64) (*domain.Attachment, error) {
	x := o.OBX
	where := "OBX-5 (ED)"
	if set := strings.TrimSpace(x.SetID()); set != "" {
		where = "OBX-5 (ED) of OBX-1 " + set
	}
	v := x.Value()
	if v.Err != nil {
		return nil, fmt.Errorf("%s: %v", where, edReason(v.Err))
	}
	ed := v.ED
	if int64(len(ed.Data)) > max {
		return nil, fmt.Errorf("%s: the attachment is %d bytes, more than the %d allowed", where, len(ed.Data), max)
	}
	if len(ed.Data) == 0 {
		return nil, fmt.Errorf("%s: the attachment is empty", where)
	}
	id := x.ObservationID()
	title := id.Text
	if title == "" {
		title = id.Code
	}
	sum := sha256.Sum256(ed.Data)
	a := &domain.Attachment{ContentType: contentType(ed.Type, ed.Subtype, ed.Data), Title: title,
		Size: int64(len(ed.Data)), SHA256: hex.EncodeToString(sum[:]), Data: ed.Data}
	if t, err := x.ObservationDateTime(); err == nil && !t.IsZero() {
		c := t.Time
		a.Created = &c
	}
	return a, nil
}

// edReason is the parser's message without its position prefix (the
// mapping names the OBR group and OBX itself).
func edReason(err error) string {
	if pe, ok := err.(*hl7.ParseError); ok && pe.Msg != "" {
		return pe.Msg
	}
	return err.Error()
}

// edSubtypes maps HL7 table 0291 data subtypes (and the image and
// document formats devices name there) to MIME types.
var edSubtypes = map[string]string{
	"PDF":          "application/pdf",
	"PNG":          "image/png",
	"JPEG":         "image/jpeg",
	"JPG":          "image/jpeg",
	"BMP":          "image/bmp",
	"GIF":          "image/gif",
	"TIFF":         "image/tiff",
	"TIF":          "image/tiff",
	"DICOM":        "application/dicom",
	"RTF":          "application/rtf",
	"XML":          "application/xml",
	"HTML":         "text/html",
	"OCTET-STREAM": "application/octet-stream",
	"POSTSCRIPT":   "application/postscript",
}

// magic are the signatures of the formats whose declared type is checked
// against the bytes: a device that says Image^BMP but sends its own
// binary histogram gets application/octet-stream, not a broken image.
var magic = map[string][]string{
	"application/pdf": {"%PDF-"},
	"image/png":       {"\x89PNG\r\n\x1a\n"},
	"image/jpeg":      {"\xff\xd8\xff"},
	"image/bmp":       {"BM"},
	"image/gif":       {"GIF87a", "GIF89a"},
	"image/tiff":      {"II*\x00", "MM\x00*"},
}

// contentType is the MIME type of an ED value: from its data subtype (or a
// MIME type written in the type of data), checked against the bytes for
// the formats with a signature; the signature decides when the declared
// type is missing or wrong; application/octet-stream when nothing is known.
func contentType(typ, subtype string, data []byte) string {
	declared := edSubtypes[strings.ToUpper(strings.TrimSpace(subtype))]
	for _, s := range []string{subtype, typ} {
		if declared == "" && strings.Contains(s, "/") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(s)); err == nil {
				declared = mt
			}
		}
	}
	if declared == "" {
		switch strings.ToUpper(strings.TrimSpace(typ)) {
		case "TEXT", "TX":
			declared = "text/plain"
		}
	}
	if sigs, ok := magic[declared]; ok && hasMagic(data, sigs) {
		return declared
	}
	for mt, sigs := range magic {
		if hasMagic(data, sigs) {
			return mt
		}
	}
	if _, checked := magic[declared]; checked || declared == "" {
		return "application/octet-stream"
	}
	return declared
}

func hasMagic(data []byte, sigs []string) bool {
	for _, s := range sigs {
		if bytes.HasPrefix(data, []byte(s)) {
			return true
		}
	}
	return false
}
