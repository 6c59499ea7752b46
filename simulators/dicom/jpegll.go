package dicom

import (
	"errors"
	"math/bits"
)

// EncodeJPEGLossless encodes one frame of single-component samples as a
// JPEG Lossless, Non-Hierarchical, First-Order Prediction bit stream
// (ITU-T T.81 process 14, selection value 1, point transform 0: the
// DICOM transfer syntax 1.2.840.10008.1.2.4.70). precision (2–16) is the
// sample precision written in SOF3; samples hold bit patterns below
// 1<<precision (signed pixels as their two's complement pattern, which
// the modulo-2^16 differences of T.81 H.1.2.1 handle). The Huffman table
// is computed from the frame's own difference categories (T.81 Annex K.2,
// limited to 16-bit codes).
func EncodeJPEGLossless(samples []uint16, width, height, precision int) ([]byte, error) {
	if width <= 0 || height <= 0 || width > 0xFFFF || height > 0xFFFF || len(samples) != width*height {
		return nil, errors.New("jpeg lossless: frame size does not match the samples")
	}
	if precision < 2 || precision > 16 {
		return nil, errors.New("jpeg lossless: precision must be 2 to 16")
	}
	mask := uint32(1)<<precision - 1
	// Pass 1: difference categories.
	var freq [17]int
	diffs := make([]int32, len(samples))
	for y := 0; y < height; y++ {
		row := samples[y*width : (y+1)*width]
		for x := range row {
			var px uint32
			switch {
			case y == 0 && x == 0:
				px = 1 << (precision - 1)
			case x == 0:
				px = uint32(samples[(y-1)*width])
			default:
				px = uint32(row[x-1])
			}
			d := int32((uint32(row[x])&mask - px&mask) & 0xFFFF)
			if d >= 0x8000 {
				d -= 0x10000
			}
			diffs[y*width+x] = d
			freq[category(d)]++
		}
	}
	counts, symbols := huffmanTable(freq[:])
	var codes [17]uint32
	var sizes [17]uint8
	code, k := uint32(0), 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < int(counts[l-1]); i++ {
			codes[symbols[k]], sizes[symbols[k]] = code, uint8(l)
			code++
			k++
		}
		code <<= 1
	}

	out := make([]byte, 0, len(samples)+1024)
	seg := func(marker byte, body ...byte) {
		out = append(out, 0xFF, marker, byte((len(body)+2)>>8), byte(len(body)+2))
		out = append(out, body...)
	}
	out = append(out, 0xFF, 0xD8) // SOI
	seg(0xC3, byte(precision), byte(height>>8), byte(height), byte(width>>8), byte(width), 1, 1, 0x11, 0)
	dht := append([]byte{0x00}, counts[:]...)
	seg(0xC4, append(dht, symbols...)...)
	seg(0xDA, 1, 1, 0x00, 1, 0, 0) // one component, table 0, Ss=1 (predictor), Se=0, Ah/Al=0

	// Pass 2: entropy-coded segment, 0xFF bytes stuffed with 0x00.
	var acc uint64
	var nacc uint
	put := func(v uint32, n uint) {
		acc = acc<<n | uint64(v&(1<<n-1))
		nacc += n
		for nacc >= 8 {
			nacc -= 8
			b := byte(acc >> nacc)
			out = append(out, b)
			if b == 0xFF {
				out = append(out, 0)
			}
		}
	}
	for _, d := range diffs {
		s := category(d)
		put(codes[s], uint(sizes[s]))
		if s > 0 && s < 16 {
			v := uint32(d)
			if d < 0 {
				v = uint32(d - 1)
			}
			put(v, uint(s))
		}
	}
	if nacc > 0 {
		put(0x7F, 8-nacc) // pad with 1-bits
	}
	return append(out, 0xFF, 0xD9), nil // EOI
}

// category is SSSS of T.81 Table H.2; -32768 is category 16.
func category(d int32) int {
	if d < 0 {
		d = -d
	}
	return bits.Len32(uint32(d))
}

// huffmanTable builds BITS (counts of codes of length 1..16) and HUFFVAL
// for the symbols with a non-zero frequency, per T.81 Annex K.2: a
// reserved symbol keeps the all-ones code unused and lengths over 16 are
// folded back.
func huffmanTable(freq []int) (counts [16]byte, symbols []byte) {
	n := len(freq)
	f := make([]int, n+1)
	copy(f, freq)
	f[n] = 1 // reserved code point
	size := make([]int, n+1)
	others := make([]int, n+1)
	for i := range others {
		others[i] = -1
	}
	for {
		v1, v2 := -1, -1
		for i := range f { // least frequency, the larger index on ties
			if f[i] > 0 && (v1 < 0 || f[i] <= f[v1]) {
				v1 = i
			}
		}
		for i := range f {
			if f[i] > 0 && i != v1 && (v2 < 0 || f[i] <= f[v2]) {
				v2 = i
			}
		}
		if v2 < 0 {
			break
		}
		f[v1] += f[v2]
		f[v2] = 0
		size[v1]++
		for others[v1] >= 0 {
			v1 = others[v1]
			size[v1]++
		}
		others[v1] = v2
		size[v2]++
		for others[v2] >= 0 {
			v2 = others[v2]
			size[v2]++
		}
	}
	var bitsN [40]int
	for _, s := range size {
		if s > 0 {
			bitsN[s]++
		}
	}
	for i := len(bitsN) - 1; i > 16; i-- {
		for bitsN[i] > 0 {
			j := i - 2
			for bitsN[j] == 0 {
				j--
			}
			bitsN[i] -= 2
			bitsN[i-1]++
			bitsN[j+1] += 2
			bitsN[j]--
		}
	}
	i := 16
	for bitsN[i] == 0 {
		i--
	}
	bitsN[i]-- // drop the reserved code
	for l := 1; l <= 16; l++ {
		counts[l-1] = byte(bitsN[l])
	}
	for l := 1; l <= 32; l++ {
		for s := 0; s < n; s++ {
			if size[s] == l {
				symbols = append(symbols, byte(s))
			}
		}
	}
	return counts, symbols
}
