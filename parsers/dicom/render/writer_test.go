package render

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"sort"
)

// A tiny DICOM Part 10 writer for tests: enough to produce native and
// encapsulated instances in every transfer syntax the renderer reads.

type el struct {
	tag uint32
	vr  string
	// val is a string (text VRs), []uint16 (US/OW), []int16 (SS),
	// []byte (OB/UN/...), [][]el (SQ items) or encap (pixel data).
	val any
	// defined writes a sequence and its items with explicit lengths.
	defined bool
}

type encap struct {
	bot   []uint32 // Basic Offset Table; nil writes an empty one
	frags [][]byte
}

const (
	sopCT = "1.2.840.10008.5.1.4.1.1.2"
	sopSC = "1.2.840.10008.5.1.4.1.1.7"
)

func writePart10(tsUID string, ds []el) []byte {
	ts := syntaxes[tsUID]
	var meta bytes.Buffer
	le := binary.LittleEndian
	m := mode{explicit: true, bo: le}
	sop := sopSC
	for _, e := range ds {
		if e.tag == 0x00080016 {
			sop = e.val.(string)
		}
	}
	for _, e := range []el{
		{tag: 0x00020001, vr: "OB", val: []byte{0, 1}},
		{tag: 0x00020002, vr: "UI", val: sop},
		{tag: 0x00020003, vr: "UI", val: "1.2.826.0.1.3680043.10.1.1"},
		{tag: 0x00020010, vr: "UI", val: tsUID},
		{tag: 0x00020012, vr: "UI", val: "1.2.826.0.1.3680043.10.1"},
	} {
		writeEl(&meta, m, e)
	}
	var out bytes.Buffer
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	writeEl(&out, m, el{tag: 0x00020000, vr: "UL", val: []byte{
		byte(meta.Len()), byte(meta.Len() >> 8), byte(meta.Len() >> 16), byte(meta.Len() >> 24)}})
	out.Write(meta.Bytes())

	dm := mode{explicit: !ts.implicit, bo: le}
	if ts.bigEndian {
		dm.bo = binary.BigEndian
	}
	sorted := append([]el(nil), ds...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].tag < sorted[j].tag })
	var body bytes.Buffer
	for _, e := range sorted {
		writeEl(&body, dm, e)
	}
	if ts.deflated {
		fw, _ := flate.NewWriter(&out, flate.BestSpeed)
		fw.Write(body.Bytes())
		fw.Close()
	} else {
		out.Write(body.Bytes())
	}
	return out.Bytes()
}

func encodeValue(m mode, e el) []byte {
	var b []byte
	switch v := e.val.(type) {
	case string:
		b = []byte(v)
		if len(b)%2 == 1 {
			if e.vr == "UI" {
				b = append(b, 0)
			} else {
				b = append(b, ' ')
			}
		}
	case []uint16:
		b = make([]byte, 2*len(v))
		for i, x := range v {
			m.bo.PutUint16(b[2*i:], x)
		}
	case []int16:
		b = make([]byte, 2*len(v))
		for i, x := range v {
			m.bo.PutUint16(b[2*i:], uint16(x))
		}
	case []byte:
		b = append([]byte(nil), v...)
		if len(b)%2 == 1 {
			b = append(b, 0)
		}
	default:
		panic(fmt.Sprintf("value type %T", e.val))
	}
	return b
}

func writeHeader(w *bytes.Buffer, m mode, tag uint32, vr string, length uint32) {
	var b [12]byte
	m.bo.PutUint16(b[0:], uint16(tag>>16))
	m.bo.PutUint16(b[2:], uint16(tag))
	if !m.explicit || tag>>16 == 0xFFFE {
		m.bo.PutUint32(b[4:], length)
		w.Write(b[:8])
		return
	}
	b[4], b[5] = vr[0], vr[1]
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		m.bo.PutUint32(b[8:], length)
		w.Write(b[:12])
	default:
		m.bo.PutUint16(b[6:], uint16(length))
		w.Write(b[:8])
	}
}

func writeEl(w *bytes.Buffer, m mode, e el) {
	switch v := e.val.(type) {
	case [][]el:
		if e.defined {
			var items bytes.Buffer
			for _, it := range v {
				var ib bytes.Buffer
				for _, c := range it {
					writeEl(&ib, m, c)
				}
				writeHeader(&items, m, tagItem, "", uint32(ib.Len()))
				items.Write(ib.Bytes())
			}
			writeHeader(w, m, e.tag, "SQ", uint32(items.Len()))
			w.Write(items.Bytes())
			return
		}
		vr := e.vr
		if vr == "" {
			vr = "SQ"
		}
		cm := m
		if vr == "UN" {
			cm = mode{explicit: false, bo: binary.LittleEndian}
		}
		writeHeader(w, m, e.tag, vr, undefinedLength)
		for _, it := range v {
			writeHeader(w, cm, tagItem, "", undefinedLength)
			for _, c := range it {
				writeEl(w, cm, c)
			}
			writeHeader(w, cm, tagItemDelim, "", 0)
		}
		writeHeader(w, cm, tagSeqDelim, "", 0)
	case encap:
		writeHeader(w, m, e.tag, "OB", undefinedLength)
		botb := make([]byte, 4*len(v.bot))
		for i, o := range v.bot {
			binary.LittleEndian.PutUint32(botb[4*i:], o)
		}
		writeHeader(w, m, tagItem, "", uint32(len(botb)))
		w.Write(botb)
		for _, f := range v.frags {
			if len(f)%2 == 1 {
				f = append(append([]byte(nil), f...), 0)
			}
			writeHeader(w, m, tagItem, "", uint32(len(f)))
			w.Write(f)
		}
		writeHeader(w, m, tagSeqDelim, "", 0)
	default:
		b := encodeValue(m, e)
		writeHeader(w, m, e.tag, e.vr, uint32(len(b)))
		w.Write(b)
	}
}

// botFor returns the Basic Offset Table for frames made of the given
// fragments (each padded to even length) .
func botFor(frames [][][]byte) ([]uint32, [][]byte) {
	var bot []uint32
	var frags [][]byte
	off := uint32(0)
	for _, f := range frames {
		bot = append(bot, off)
		for _, g := range f {
			frags = append(frags, g)
			off += 8 + uint32(len(g)+len(g)%2)
		}
	}
	return bot, frags
}

// image describes a synthetic image; pixelEls builds its dataset.
type imgSpec struct {
	rows, cols, frames int
	spp                int
	bitsAlloc          int
	bitsStored         int
	highBit            int // -1: bitsStored-1
	signed             bool
	photometric        string
	planar             int
	extra              []el
}

func (s imgSpec) els(pixel el) []el {
	hb := s.highBit
	if hb < 0 {
		hb = s.bitsStored - 1
	}
	pr := uint16(0)
	if s.signed {
		pr = 1
	}
	spp := s.spp
	if spp == 0 {
		spp = 1
	}
	e := []el{
		{tag: 0x00080016, vr: "UI", val: sopCT},
		{tag: 0x00080018, vr: "UI", val: "1.2.826.0.1.3680043.10.1.1"},
		{tag: 0x00080060, vr: "CS", val: "CT"},
		{tag: 0x00100010, vr: "PN", val: "Test^Synthetic"},
		{tag: 0x0020000D, vr: "UI", val: "1.2.826.0.1.3680043.10.1.2"},
		{tag: 0x0020000E, vr: "UI", val: "1.2.826.0.1.3680043.10.1.3"},
		{tag: tagSamplesPerPixel, vr: "US", val: []uint16{uint16(spp)}},
		{tag: tagPhotometric, vr: "CS", val: s.photometric},
		{tag: tagRows, vr: "US", val: []uint16{uint16(s.rows)}},
		{tag: tagColumns, vr: "US", val: []uint16{uint16(s.cols)}},
		{tag: tagBitsAllocated, vr: "US", val: []uint16{uint16(s.bitsAlloc)}},
		{tag: tagBitsStored, vr: "US", val: []uint16{uint16(s.bitsStored)}},
		{tag: tagHighBit, vr: "US", val: []uint16{uint16(hb)}},
		{tag: tagPixelRepresent, vr: "US", val: []uint16{pr}},
	}
	if spp > 1 {
		e = append(e, el{tag: tagPlanarConfig, vr: "US", val: []uint16{uint16(s.planar)}})
	}
	if s.frames > 0 {
		e = append(e, el{tag: tagNumberOfFrames, vr: "IS", val: fmt.Sprint(s.frames)})
	}
	e = append(e, s.extra...)
	return append(e, pixel)
}

// nativePixel encodes sample words as native pixel data: OW for 16-bit
// (written in the syntax's byte order), OB bytes for 8-bit.
func nativePixel(bitsAlloc int, words []uint16) el {
	if bitsAlloc == 16 {
		return el{tag: tagPixelData, vr: "OW", val: words}
	}
	b := make([]byte, len(words))
	for i, w := range words {
		b[i] = byte(w)
	}
	return el{tag: tagPixelData, vr: "OB", val: b}
}
