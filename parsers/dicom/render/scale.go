package render

import "image"

// downscale shrinks img so that its longer side is at most size, averaging
// each output pixel's source box (area filter for integer ratios, box
// filter otherwise). Images already small enough are returned as is.
func downscale(img image.Image, size int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= size && h <= size {
		return img
	}
	var ow, oh int
	if w >= h {
		ow, oh = size, max(1, (h*size+w/2)/w)
	} else {
		oh, ow = size, max(1, (w*size+h/2)/h)
	}
	// box returns the source span [a, b) of output index i of n over m.
	box := func(i, n, m int) (int, int) {
		a, b := i*m/n, (i+1)*m/n
		if b <= a {
			b = a + 1
		}
		return a, b
	}
	switch src := img.(type) {
	case *image.Gray:
		dst := image.NewGray(image.Rect(0, 0, ow, oh))
		for oy := 0; oy < oh; oy++ {
			y0, y1 := box(oy, oh, h)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := box(ox, ow, w)
				var sum uint64
				for y := y0; y < y1; y++ {
					row := src.Pix[y*src.Stride:]
					for x := x0; x < x1; x++ {
						sum += uint64(row[x])
					}
				}
				n := uint64((y1 - y0) * (x1 - x0))
				dst.Pix[oy*dst.Stride+ox] = uint8((sum + n/2) / n)
			}
		}
		return dst
	case *image.Gray16:
		dst := image.NewGray16(image.Rect(0, 0, ow, oh))
		for oy := 0; oy < oh; oy++ {
			y0, y1 := box(oy, oh, h)
			for ox := 0; ox < ow; ox++ {
				x0, x1 := box(ox, ow, w)
				var sum uint64
				for y := y0; y < y1; y++ {
					row := src.Pix[y*src.Stride:]
					for x := x0; x < x1; x++ {
						sum += uint64(row[2*x])<<8 | uint64(row[2*x+1])
					}
				}
				n := uint64((y1 - y0) * (x1 - x0))
				v := (sum + n/2) / n
				o := oy*dst.Stride + 2*ox
				dst.Pix[o], dst.Pix[o+1] = uint8(v>>8), uint8(v)
			}
		}
		return dst
	}
	src, ok := img.(*image.RGBA)
	if !ok {
		src = toRGBA(img).(*image.RGBA)
	}
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for oy := 0; oy < oh; oy++ {
		y0, y1 := box(oy, oh, h)
		for ox := 0; ox < ow; ox++ {
			x0, x1 := box(ox, ow, w)
			var sum [4]uint64
			for y := y0; y < y1; y++ {
				row := src.Pix[y*src.Stride:]
				for x := x0; x < x1; x++ {
					for c := 0; c < 4; c++ {
						sum[c] += uint64(row[4*x+c])
					}
				}
			}
			n := uint64((y1 - y0) * (x1 - x0))
			o := oy*dst.Stride + 4*ox
			for c := 0; c < 4; c++ {
				dst.Pix[o+c] = uint8((sum[c] + n/2) / n)
			}
		}
	}
	return dst
}
