package hl7

import (
	"bytes"
	"sync"
	"time"

	"github.com/medgate/medgate/parsers/hl7"
)

// Building a message with parsers/hl7's builders costs more than
// sending it, so a run builds each distinct message once and patches what
// changes per message. Generated content repeats every templateSlots
// messages (8 patients, values with a period of 11); the control ID,
// barcode and patient ID are written as tokens and replaced in the
// encoded bytes, MSH-7 is rewritten, and the templates are rebuilt every
// minute so the other timestamps stay current.
const templateSlots = 88

// Tokens are plain capitals, so no charset or escaping changes them.
const (
	tokControlID = "QQCTRLIDQQ"
	tokBarcode   = "QQBARCODEQQ"
	tokPatientID = "QQPATIENTIDQQ"
)

type templates struct {
	mu     sync.Mutex
	kind   string
	params Params // what the cached templates were built from
	minute int64
	cache  map[int][]byte
}

// message returns message seq of kind from p, as Generate with
// p.Seq = seq and p.ControlID = id would build it.
func (t *templates) message(kind string, p Params, seq int, id string) ([]byte, error) {
	q := p
	q.Seq, q.ControlID = seq, id
	if !isASCII(id) || !isASCII(q.barcode()) || !isASCII(q.patientID()) {
		// The replacement would have to be encoded in the charset too.
		m, err := Generate(kind, q)
		if err != nil {
			return nil, err
		}
		return Encode(m)
	}
	fixedTime := !p.Time.IsZero()
	now := p.Time
	if !fixedTime {
		now = time.Now()
	}
	slot := seq % templateSlots
	minute := now.Unix() / 60
	t.mu.Lock()
	key := p
	key.Seq, key.ControlID, key.Barcode, key.PatientID = 0, "", "", ""
	if t.cache == nil || (!fixedTime && minute != t.minute) || t.kind != kind || t.params != key {
		t.cache, t.minute, t.kind, t.params = map[int][]byte{}, minute, kind, key
	}
	tmpl, ok := t.cache[slot]
	t.mu.Unlock()
	if !ok {
		tp := p
		tp.Seq, tp.ControlID, tp.Barcode, tp.PatientID, tp.Time = slot, tokControlID, tokBarcode, tokPatientID, now
		m, err := Generate(kind, tp)
		if err != nil {
			return nil, err
		}
		if tmpl, err = Encode(m); err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.cache[slot] = tmpl
		t.mu.Unlock()
	}
	d := hl7.DefaultDelimiters()
	out := bytes.ReplaceAll(tmpl, []byte(tokControlID), []byte(d.Encode(id)))
	out = bytes.ReplaceAll(out, []byte(tokBarcode), []byte(d.Encode(q.barcode())))
	out = bytes.ReplaceAll(out, []byte(tokPatientID), []byte(d.Encode(q.patientID())))
	if !fixedTime {
		out = SetMSHField(out, 7, hl7.FormatTime(time.Now(), hl7.PrecisionSecond, false))
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
