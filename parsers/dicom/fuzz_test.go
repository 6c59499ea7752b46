package dicom

import (
	"bytes"
	"errors"
	"testing"
)

func fuzzSyntax(sel uint8) string { return allSyntaxes[int(sel)%len(allSyntaxes)] }

func addDatasetSeeds(f *testing.F) {
	ds := sampleDataset(f)
	for i, ts := range allSyntaxes {
		b, err := ds.Encode(ts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2), uint8(i))
	}
	f.Add(le(
		TagScheduledProcedureStepSequence, "SQ", uint16(0), uint32(undefinedLength),
		TagItem, uint32(undefinedLength), TagModality, "CS", uint16(2), "CT", TagItemDelimitationItem, uint32(0),
		TagSequenceDelimitationItem, uint32(0),
		Tag(0x00091001), "UN", uint16(0), uint32(undefinedLength),
		TagItem, uint32(10), TagPatientID, uint32(2), "AB", TagSequenceDelimitationItem, uint32(0),
		TagPixelData, "OB", uint16(0), uint32(undefinedLength),
		TagItem, uint32(0), TagItem, uint32(3), "abc", TagSequenceDelimitationItem, uint32(0),
	), uint16(20), uint8(1))
	f.Add(le(TagPatientName, uint32(3), "A^B", TagRows, uint32(3), "\x01\x02\x03"), uint16(5), uint8(0))
	f.Add(le(TagPatientName, "PN", uint16(3), "A^B", TagRows, "US", uint16(3), "\x01\x02\x03"), uint16(5), uint8(2))
}

// FuzzDecode checks that Decode never panics, returns only *DecodeError,
// and that decoding the same bytes from a stream delivered in two pieces
// gives the same result.
func FuzzDecode(f *testing.F) {
	addDatasetSeeds(f)
	cs := []*Charset{nil, mustCharset(f, "ISO_IR 192"), mustCharset(f, "ISO_IR 144"), mustCharset(f, "", "ISO 2022 IR 144"), mustCharset(f, "windows-1251")}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, sel uint8) {
		if len(data) > 1<<16 {
			return
		}
		ts := fuzzSyntax(sel)
		ds, err := Decode(data, ts)
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error is not a *DecodeError: %T %v", err, err)
		}
		k := int(split) % (len(data) + 1)
		ds2, err2 := DecodeReader(&chunkReader{parts: [][]byte{data[:k], data[k:]}}, ts, 0)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("Decode err %v, DecodeReader (split at %d) err %v", err, k, err2)
		}
		if err != nil {
			return
		}
		if !ds.Equal(ds2) {
			t.Fatalf("Decode and DecodeReader (split at %d) differ", k)
		}
		// Everything a caller can read must not panic.
		c := cs[int(sel)/3%len(cs)]
		var walk func(d *Dataset)
		walk = func(d *Dataset) {
			for _, e := range d.Elements {
				_, _ = d.String(e.Tag, c)
				_, _ = d.Strings(e.Tag, c)
				_, _ = d.Int(e.Tag)
				for _, it := range e.Items {
					walk(it)
				}
			}
		}
		walk(ds)
		if q, err := ParseQuery(ds, c); err == nil {
			var r Record
			r.Set(TagPatientName, "Иванов^Иван")
			_ = q.Match(r)
			_, _ = q.Response(r, ResponseOptions{Charset: c, Transliterate: true})
		}
		_, _ = RecordFromDataset(ds, c)
		_, _ = CharsetFor(ds, "")
	})
}

// pad returns a copy of ds with odd-length values padded as Encode pads
// them.
func pad(ds *Dataset) *Dataset {
	out := &Dataset{}
	for _, e := range ds.Elements {
		c := *e
		if len(c.Value)%2 == 1 {
			c.Value = append(append([]byte(nil), c.Value...), vrs[c.VR].pad)
		}
		if e.Items != nil {
			c.Items = make([]*Dataset, len(e.Items))
			for i, it := range e.Items {
				c.Items[i] = pad(it)
			}
		}
		if e.Fragments != nil {
			c.Fragments = make([][]byte, len(e.Fragments))
			for i, fr := range e.Fragments {
				if len(fr)%2 == 1 {
					fr = append(append([]byte(nil), fr...), 0)
				}
				c.Fragments[i] = fr
			}
		}
		out.Elements = append(out.Elements, &c)
	}
	return out
}

// FuzzRoundTrip checks decode → encode → decode gives the same dataset
// (odd lengths padded) and that encoding is then stable.
func FuzzRoundTrip(f *testing.F) {
	addDatasetSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint16, sel uint8) {
		if len(data) > 1<<16 {
			return
		}
		ts := fuzzSyntax(sel)
		ds, err := Decode(data, ts)
		if err != nil {
			return
		}
		enc, err := ds.Encode(ts)
		if err != nil {
			t.Fatalf("decoded dataset does not encode: %v", err)
		}
		back, err := Decode(enc, ts)
		if err != nil {
			t.Fatalf("encoded dataset does not decode: %v", err)
		}
		if !back.Equal(pad(ds)) {
			t.Fatalf("round trip differs")
		}
		enc2, err := back.Encode(ts)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("second encoding differs: %v", err)
		}
	})
}

// FuzzReadHeader feeds Part 10 streams to the header reader, whole and in
// two pieces through a non-seekable reader.
func FuzzReadHeader(f *testing.F) {
	for i, ts := range allSyntaxes {
		var buf bytes.Buffer
		writePart10To(f, &buf, ctDataset(f, 2, 2), ts, 8)
		f.Add(buf.Bytes(), uint16(140+i*40))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		if len(data) > 1<<16 {
			return
		}
		h, err := ReadHeaderFrom(bytes.NewReader(data), nil)
		if err != nil && !errors.Is(err, ErrNotDICOM) {
			t.Fatalf("error does not wrap ErrNotDICOM: %v", err)
		}
		k := int(split) % (len(data) + 1)
		h2, err2 := ReadHeaderFrom(&chunkReader{parts: [][]byte{data[:k], data[k:]}}, nil)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("whole: %v; split at %d: %v", err, k, err2)
		}
		if err != nil {
			return
		}
		if !h.Dataset.Equal(h2.Dataset) || h.PixelData != h2.PixelData || h.SOPInstanceUID != h2.SOPInstanceUID {
			t.Fatalf("split at %d reads a different header", k)
		}
		_ = h.CheckAgainst("1.2", "1.2.3")
	})
}

// FuzzCharset checks that text which decodes re-encodes to text that
// decodes the same, in every supported mode.
func FuzzCharset(f *testing.F) {
	f.Add([]byte{0x1B, '-', 'L', 0xB6, 0xE3, '^', 'A'}, uint8(3), true)
	f.Add([]byte("Ёлкина^Алёна"), uint8(1), true)
	f.Add([]byte{0xB8, 0xD2, 0xD0}, uint8(2), false)
	sets := [][]string{nil, {"ISO_IR 192"}, {"ISO_IR 144"}, {"", "ISO 2022 IR 144"}, {"ISO 2022 IR 100", "ISO 2022 IR 144"}, {"windows-1251"}, {"ISO_IR 100"}, {"koi8-r"}}
	css := make([]*Charset, len(sets))
	for i, s := range sets {
		css[i] = mustCharset(f, s...)
	}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8, pn bool) {
		cs := css[int(sel)%len(css)]
		vr := "LO"
		if pn {
			vr = "PN"
		}
		s, err := cs.Decode(data, vr)
		if err != nil {
			var ce *CharsetError
			if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset >= len(data) {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		b, err := cs.Encode(s, vr)
		if err != nil {
			t.Fatalf("decoded text does not encode: %v", err)
		}
		s2, err := cs.Decode(b, vr)
		if err != nil || s2 != s {
			t.Fatalf("re-encoded text decodes to %q, want %q (%v)", s2, s, err)
		}
		_ = Transliterate(s)
		_ = MatchString(s, s, true)
		if !MatchString("*", s, false) || !MatchString(s, s, false) && !HasWildcard(s) {
			t.Fatalf("MatchString fails on its own text")
		}
		_, _, _ = LikePattern(s)
		_ = ParsePersonName(s).String()
	})
}
