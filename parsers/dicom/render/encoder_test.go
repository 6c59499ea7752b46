package render

import (
	"bytes"
	"encoding/binary"
)

// Test-only encoders: a JPEG lossless encoder (any predictor, point
// transform, restart interval, 1–4 components) whose Huffman table has
// codes longer than the decoder's 9-bit lookup, and a PackBits RLE
// encoder. dcmtk checks the decoder against an independent encoder; these
// cover what dcmcjpeg cannot produce (restart markers, long codes).

// llCodeLens are code lengths for categories 0..16.
var llCodeLens = [17]int{2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11, 12, 13, 14}

type bitWriter struct {
	buf  bytes.Buffer
	acc  uint64
	nacc uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | uint64(v>>uint(i)&1)
		w.nacc++
		if w.nacc == 8 {
			b := byte(w.acc)
			w.buf.WriteByte(b)
			if b == 0xFF {
				w.buf.WriteByte(0)
			}
			w.acc, w.nacc = 0, 0
		}
	}
}

func (w *bitWriter) flush() {
	for w.nacc != 0 {
		w.put(1, 1)
	}
}

func llEncode(samples []uint16, width, height, nc, prec, ps, pt, restart int) []byte {
	// Canonical codes from lengths (values sorted by length, then value).
	var counts [17]int
	var order []byte
	for l := 1; l <= 16; l++ {
		for s, sl := range llCodeLens {
			if sl == l {
				counts[l]++
				order = append(order, byte(s))
			}
		}
	}
	var codes [17]uint32
	code := uint32(0)
	k := 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < counts[l]; i++ {
			codes[order[k]] = code
			code++
			k++
		}
		code <<= 1
	}
	var out bytes.Buffer
	seg := func(m byte, b []byte) {
		out.Write([]byte{0xFF, m, byte((len(b) + 2) >> 8), byte(len(b) + 2)})
		out.Write(b)
	}
	out.Write([]byte{0xFF, 0xD8})
	sof := []byte{byte(prec), byte(height >> 8), byte(height), byte(width >> 8), byte(width), byte(nc)}
	for c := 0; c < nc; c++ {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	seg(0xC3, sof)
	dht := []byte{0x00}
	for l := 1; l <= 16; l++ {
		dht = append(dht, byte(counts[l]))
	}
	seg(0xC4, append(dht, order...))
	if restart > 0 {
		seg(0xDD, []byte{byte(restart >> 8), byte(restart)})
	}
	sos := []byte{byte(nc)}
	for c := 0; c < nc; c++ {
		sos = append(sos, byte(c+1), 0x00)
	}
	seg(0xDA, append(sos, byte(ps), 0, byte(pt)))

	// Work in the point-transformed domain.
	v := make([]int32, len(samples))
	for i, s := range samples {
		v[i] = int32(s >> uint(pt))
	}
	w := &bitWriter{}
	stride := width * nc
	left, firstLine, reset, rst := restart, 0, true, 0
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			if restart > 0 {
				if left == 0 {
					w.flush()
					out.Write(w.buf.Bytes())
					w.buf.Reset()
					out.Write([]byte{0xFF, 0xD0 + byte(rst&7)})
					rst++
					left, firstLine, reset = restart, y, true
				}
				left--
			}
			for c := 0; c < nc; c++ {
				i := y*stride + x*nc + c
				var px int32
				switch {
				case reset:
					px = 1 << (prec - pt - 1)
				case y == firstLine:
					px = v[i-nc]
				case x == 0:
					px = v[i-stride]
				default:
					ra, rb, rc := v[i-nc], v[i-stride], v[i-stride-nc]
					px = [8]int32{0, ra, rb, rc, ra + rb - rc, ra + (rb-rc)>>1, rb + (ra-rc)>>1, (ra + rb) >> 1}[ps]
				}
				d := (v[i] - px) & 0xFFFF
				if d >= 0x8000 {
					d -= 0x10000
				}
				s := category(d)
				w.put(codes[s], uint(llCodeLens[s]))
				if s > 0 && s < 16 {
					bits := uint32(d)
					if d < 0 {
						bits = uint32(d - 1)
					}
					w.put(bits&(1<<s-1), uint(s))
				}
			}
			reset = false
		}
	}
	w.flush()
	out.Write(w.buf.Bytes())
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

// category is SSSS of T.81 Table H.2; -32768 is category 16.
func category(d int32) int {
	if d < 0 {
		d = -d
	}
	s := 0
	for d > 0 {
		s++
		d >>= 1
	}
	return s
}

// rleEncode encodes interleaved samples as one DICOM RLE frame.
func rleEncode(samples []uint16, np, spp, bps int) []byte {
	var segs [][]byte
	for c := 0; c < spp; c++ {
		for b := 0; b < bps; b++ {
			plane := make([]byte, np)
			shift := uint(8 * (bps - 1 - b))
			for i := 0; i < np; i++ {
				plane[i] = byte(samples[i*spp+c] >> shift)
			}
			segs = append(segs, packBits(plane))
		}
	}
	hdr := make([]byte, 64)
	binary.LittleEndian.PutUint32(hdr, uint32(len(segs)))
	off := 64
	var body []byte
	for i, s := range segs {
		binary.LittleEndian.PutUint32(hdr[4+4*i:], uint32(off))
		if len(s)%2 == 1 {
			s = append(s, 0x80) // no-op pad
		}
		body = append(body, s...)
		off += len(s)
	}
	return append(hdr, body...)
}

func packBits(p []byte) []byte {
	var out []byte
	for i := 0; i < len(p); {
		j := i + 1
		for j < len(p) && j-i < 128 && p[j] == p[i] {
			j++
		}
		if j-i >= 2 {
			out = append(out, byte(int8(1-(j-i))), p[i])
			i = j
			continue
		}
		j = i + 1
		for j < len(p) && j-i < 128 && (j+1 >= len(p) || p[j] != p[j+1]) {
			j++
		}
		out = append(out, byte(j-i-1))
		out = append(out, p[i:j]...)
		i = j
	}
	return out
}
