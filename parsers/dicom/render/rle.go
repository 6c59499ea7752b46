package render

import "encoding/binary"

// DICOM RLE Lossless (PS3.5 Annex G). A frame is a 64-byte header (the
// number of segments, then 15 little-endian offsets from the frame start)
// followed by PackBits-coded segments, one per byte plane: for each sample
// of a pixel, its most significant byte first. Segment k holds byte
// (k mod bytesPerSample) of sample k / bytesPerSample for every pixel.

const codecNameRLE = "RLE"

// decodeRLE decodes one frame of rows × cols pixels, spp samples of bps
// bytes each, into interleaved samples. The output is allocated only after
// the header passes checks that bound it by the input: a PackBits segment
// expands at most 64×.
func decodeRLE(data []byte, rows, cols, spp, bps int) ([]uint16, error) {
	if len(data) < 64 {
		return nil, codecError(codecNameRLE, 0, ErrMalformed, "frame of %d bytes has no RLE header", len(data))
	}
	if bps < 1 || bps > 2 || spp < 1 || spp > 3 {
		return nil, codecError(codecNameRLE, 0, ErrUnsupportedImage, "%d samples of %d bytes", spp, bps)
	}
	le := binary.LittleEndian
	nseg := int(le.Uint32(data))
	need := spp * bps
	if nseg < need || nseg > 15 {
		return nil, codecError(codecNameRLE, 0, ErrMalformed, "%d segments, %d expected", nseg, need)
	}
	np := rows * cols
	if np <= 0 || np > MaxPixels {
		return nil, codecError(codecNameRLE, 0, ErrTooLarge, "%d×%d pixels", cols, rows)
	}
	var offs [16]int
	for i := 0; i < nseg; i++ {
		offs[i] = int(le.Uint32(data[4+4*i:]))
		if offs[i] < 64 || offs[i] > len(data) || (i > 0 && offs[i] < offs[i-1]) {
			return nil, codecError(codecNameRLE, 4+4*i, ErrMalformed, "segment %d offset %d outside the frame", i, offs[i])
		}
	}
	offs[nseg] = len(data)
	for k := 0; k < need; k++ {
		if int64(offs[k+1]-offs[k])*64 < int64(np) {
			return nil, codecError(codecNameRLE, offs[k], ErrMalformed, "segment %d of %d bytes cannot hold %d pixels", k, offs[k+1]-offs[k], np)
		}
	}
	out := make([]uint16, np*spp)
	plane := make([]byte, np)
	for k := 0; k < need; k++ {
		if err := unpackBits(data[offs[k]:offs[k+1]], plane, offs[k]); err != nil {
			return nil, err
		}
		c, byteIdx := k/bps, k%bps
		shift := uint(8 * (bps - 1 - byteIdx))
		for i, v := range plane {
			out[i*spp+c] |= uint16(v) << shift
		}
	}
	return out, nil
}

// unpackBits fills dst from one PackBits segment; data after dst is full
// (padding) is ignored, a segment that ends early is an error.
func unpackBits(src, dst []byte, base int) error {
	o, i := 0, 0
	for o < len(dst) {
		if i >= len(src) {
			return codecError(codecNameRLE, base+i, ErrMalformed, "segment ends after %d of %d bytes", o, len(dst))
		}
		n := int(int8(src[i]))
		i++
		switch {
		case n >= 0: // n+1 literal bytes
			cnt := n + 1
			if i+cnt > len(src) {
				return codecError(codecNameRLE, base+i, ErrMalformed, "literal run past the segment end")
			}
			if o+cnt > len(dst) {
				cnt = len(dst) - o
			}
			copy(dst[o:o+cnt], src[i:i+cnt])
			i += n + 1
			o += cnt
		case n == -128: // no-op
		default: // 1-n copies of the next byte
			if i >= len(src) {
				return codecError(codecNameRLE, base+i, ErrMalformed, "replicate run past the segment end")
			}
			cnt := 1 - n
			if o+cnt > len(dst) {
				cnt = len(dst) - o
			}
			v := src[i]
			i++
			for j := o; j < o+cnt; j++ {
				dst[j] = v
			}
			o += cnt
		}
	}
	return nil
}
