package hl7

import (
	"bytes"
	"strconv"
	"time"
)

// Batch is an HL7 batch (HL7 v2 2.10.3: [FHS] {[BHS] {MSH…} [BTS]} [FTS])
// split for a receiver that takes each message on its own and answers
// with a response batch (BuildBatchACK).
type Batch struct {
	// FHS and BHS are the first file and batch header, read like
	// ParseHeader reads an MSH (bytes invalid in the charset replaced);
	// nil when absent.
	FHS, BHS *Segment
	// Messages holds each message's bytes, from its MSH up to the next
	// MSH or envelope segment: sub-slices of the input, not copies.
	Messages [][]byte

	charset charset
	fc, bc  ctx // the headers' delimiters
}

// IsBatch reports whether data starts (after a byte order mark and line
// breaks) with a file or batch header segment, FHS or BHS.
func IsBatch(data []byte) bool {
	data = bytes.TrimPrefix(data, utf8BOM)
	data = bytes.TrimLeft(data, "\r\n")
	id := printableID(data)
	return (id == "FHS" || id == "BHS") && (len(data) == 3 || !isIDChar(data[3]))
}

// SplitMessages splits a frame holding several bare messages (MSH … MSH
// …, no batch envelope) into their bytes, sub-slices of data; a frame with
// one message, or one the split cannot read, comes back whole for Parse
// to take or refuse.
func SplitMessages(data []byte) [][]byte {
	if !bytes.Contains(data, []byte("\rMSH")) && !bytes.Contains(data, []byte("\nMSH")) {
		return [][]byte{data}
	}
	start := 0
	if bytes.HasPrefix(data, utf8BOM) {
		start = len(utf8BOM)
	}
	spans, _, err := splitBatch(data, start)
	if err != nil || len(spans) < 2 {
		return [][]byte{data}
	}
	msgs := make([][]byte, len(spans))
	for i, sp := range spans {
		msgs[i] = data[sp.from:sp.to]
	}
	return msgs
}

// SplitBatch splits a batch into its envelope and its messages without
// parsing the messages (Parse each). The header segments are decoded in
// opts.DefaultCharset (they have no MSH-18). Input that does not start with
// FHS or BHS, a header whose delimiters cannot be read, or a segment
// outside any message is a *ParseError.
func SplitBatch(data []byte, opts Options) (*Batch, error) {
	start := 0
	if bytes.HasPrefix(data, utf8BOM) {
		start = len(utf8BOM)
	}
	for start < len(data) && (data[start] == '\r' || data[start] == '\n') {
		start++
	}
	if !IsBatch(data[start:]) {
		return nil, &ParseError{Segment: printableID(data[start:]), Offset: start, Msg: "input does not start with FHS or BHS", Err: ErrNoMSH}
	}
	msgs, headers, err := splitBatch(data, start)
	if err != nil {
		return nil, err
	}
	cs, ok := lookupCharset(opts.DefaultCharset)
	if !ok {
		cs = csUTF8
	}
	b := &Batch{charset: cs}
	for i, h := range headers {
		line := data[h.from:h.to]
		id := string(line[:3])
		if (id == "FHS" && b.FHS != nil) || (id == "BHS" && b.BHS != nil) {
			continue // a file of several batches: the first speaks for them
		}
		d, msg, at := parseDelimiters(line)
		if msg != "" {
			f := 2
			if at == 3 {
				f = 1
			}
			return nil, &ParseError{Segment: id, SegmentIndex: i + 1, Occurrence: 1, Field: f, Offset: h.from + at, Msg: msg, Err: ErrDelimiters}
		}
		c := &b.bc
		if id == "FHS" {
			c = &b.fc
		}
		*c = ctx{d: d, cs: cs, loc: opts.Location}
		text := decodeLossy(line, cs)
		seg := &Segment{Name: id, Offset: h.from, Index: 1, text: text, seps: scanSeps(text, d.Field, nil), c: c}
		if id == "FHS" {
			b.FHS = seg
		} else {
			b.BHS = seg
		}
	}
	for _, m := range msgs {
		b.Messages = append(b.Messages, data[m.from:m.to])
	}
	return b, nil
}

// BuildBatchACK wraps the acknowledgments of a batch's messages (each an
// encoded message, as BuildACK(…).Encode() returns) in a response batch,
// as HL7 v2 2.10.3 answers a batch: the envelope of the batch answered,
// with sender and receiver swapped (echoed as sent), controlID in
// FHS-11/BHS-11 and the batch's own FHS-11/BHS-11 in FHS-12/BHS-12
// (reference control ID); then the ACKs, BTS-1 their count, and FTS-1 the
// number of batches. A batch without a BHS is answered without one.
func BuildBatchACK(b *Batch, acks [][]byte, controlID string, at time.Time) []byte {
	var out []byte
	header := func(h *Segment) {
		d := h.c.d
		text := h.Name + string(d.Field) + d.EncodingCharacters()
		s := Segment{Name: h.Name, text: text, seps: scanSeps(text, d.Field, nil), c: h.c}
		s.setFields(3, h.Field(5).Raw(), h.Field(6).Raw(), h.Field(3).Raw(), h.Field(4).Raw(),
			FormatTime(at, PrecisionSecond, false), "", "", "", d.Encode(controlID), h.Field(11).Raw())
		enc, _ := encodeText(s.text+"\r", b.charset, false)
		out = append(out, enc...)
	}
	if b.FHS != nil {
		header(b.FHS)
	}
	if b.BHS != nil {
		header(b.BHS)
	}
	n := 0
	for _, a := range acks {
		if len(a) == 0 {
			continue
		}
		n++
		out = append(out, a...)
		if a[len(a)-1] != '\r' {
			out = append(out, '\r')
		}
	}
	if b.BHS != nil {
		out = append(out, "BTS"...)
		out = append(out, b.BHS.c.d.Field)
		out = append(out, strconv.Itoa(n)...)
		out = append(out, '\r')
	}
	if b.FHS != nil {
		out = append(out, "FTS"...)
		if b.BHS != nil {
			out = append(out, b.FHS.c.d.Field, '1')
		}
		out = append(out, '\r')
	}
	return out
}
