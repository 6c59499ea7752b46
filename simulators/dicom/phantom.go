package dicom

import "math"

// canvas is one frame of 16-bit samples being painted: shapes are filled
// row span by row span (no per-pixel inside tests), later shapes over
// earlier ones, then a little deterministic noise is added so that the
// images compress like real ones and not like flat drawings.
type canvas struct {
	w, h int
	px   []uint16
}

func newCanvas(w, h int, px []uint16) *canvas {
	if len(px) != w*h {
		px = make([]uint16, w*h)
	}
	return &canvas{w: w, h: h, px: px}
}

func (c *canvas) fill(v int) {
	for i := range c.px {
		c.px[i] = uint16(v)
	}
}

// ellipse fills the axis-aligned ellipse centred at (cx, cy) with
// semi-axes a (x) and b (y), in pixels, with v.
func (c *canvas) ellipse(cx, cy, a, b float64, v int) {
	if a <= 0 || b <= 0 {
		return
	}
	y0, y1 := max(int(math.Ceil(cy-b)), 0), min(int(math.Floor(cy+b)), c.h-1)
	for y := y0; y <= y1; y++ {
		dy := (float64(y) - cy) / b
		hw := a * math.Sqrt(max(1-dy*dy, 0))
		x0, x1 := max(int(math.Ceil(cx-hw)), 0), min(int(math.Floor(cx+hw)), c.w-1)
		row := c.px[y*c.w : (y+1)*c.w]
		for x := x0; x <= x1; x++ {
			row[x] = uint16(v)
		}
	}
}

// rect fills [x0,x1]×[y0,y1] with v.
func (c *canvas) rect(x0, y0, x1, y1 int, v int) {
	x0, x1 = max(x0, 0), min(x1, c.w-1)
	for y := max(y0, 0); y <= min(y1, c.h-1); y++ {
		row := c.px[y*c.w : (y+1)*c.w]
		for x := x0; x <= x1; x++ {
			row[x] = uint16(v)
		}
	}
}

// noise adds a value in [-amp, amp] to every sample, clamped to
// [lo, hi], from a xorshift generator seeded per frame.
func (c *canvas) noise(seed uint64, amp, lo, hi int) {
	s := seed*0x9E3779B97F4A7C15 | 1
	span := uint64(2*amp + 1)
	for i, p := range c.px {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		v := int(p) + int((s>>32)%span) - amp
		c.px[i] = uint16(min(max(v, lo), hi))
	}
}

// ctSlice paints slice k of n of a body phantom in Hounsfield units +
// 1024 (rescale intercept -1024), 0.7 mm pixels at 512×512: air, a body
// with a fat layer, lungs in the upper half of the range, heart, aorta
// with contrast, a vertebra with cortical and cancellous bone, a
// calcification, and the table.
func ctSlice(c *canvas, k, n int) {
	const off = 1024
	sx, sy := float64(c.w)/512, float64(c.h)/512 // geometry scales with the matrix
	z := 0.5
	if n > 1 {
		z = float64(k) / float64(n-1)
	}
	cx, cy := float64(c.w)/2, float64(c.h)/2
	c.fill(-1000 + off)
	scale := 0.85 + 0.15*math.Sin(math.Pi*z)
	c.rect(int(cx-220*sx), int(cy+170*sy), int(cx+220*sx), int(cy+180*sy), 300+off) // table
	c.ellipse(cx, cy, 215*sx*scale, 160*sy*scale, -90+off)                          // subcutaneous fat
	c.ellipse(cx, cy, 200*sx*scale, 146*sy*scale, 40+off)                           // soft tissue
	if z < 0.6 {
		l := math.Sqrt(1 - z/0.6)
		c.ellipse(cx-85*sx, cy-15*sy, 62*sx*l, 95*sy*l, -850+off) // lungs
		c.ellipse(cx+85*sx, cy-15*sy, 62*sx*l, 95*sy*l, -850+off)
		c.ellipse(cx+15*sx, cy-20*sy, 50*sx*l, 45*sy*l, 45+off) // heart
	} else {
		c.ellipse(cx+50*sx, cy-40*sy, 75*sx, 55*sy, 60+off) // liver
		c.ellipse(cx-70*sx, cy-30*sy, 30*sx, 25*sy, -5+off) // bowel
	}
	c.ellipse(cx-20*sx, cy+60*sy, 16*sx, 16*sy, 180+off)              // aorta, contrast
	c.ellipse(cx, cy+100*sy, 30*sx, 26*sy, 900+off)                   // vertebral body, cortex
	c.ellipse(cx, cy+100*sy, 24*sx, 20*sy, 250+off)                   // cancellous bone
	c.ellipse(cx, cy+140*sy, 10*sx, 14*sy, 700+off)                   // spinous process
	c.ellipse(cx-20*sx+6*sx, cy+60*sy-5*sy, 3*sx, 3*sy, 1300+off)     // calcification
	c.ellipse(cx+120*sx*scale, cy+40*sy, 12*sx, 30*sy*scale, 650+off) // rib
	c.ellipse(cx-120*sx*scale, cy+40*sy, 12*sx, 30*sy*scale, 650+off)
	c.noise(uint64(k)+1, 12, 0, 4095)
}

// cbctSlice paints slice k of n of a dental CBCT volume in HU + 1000,
// 12 bits stored: air, soft tissue, the mandibular arch as an elliptic
// ring of bone with a cancellous core, teeth with enamel and pulp along
// the arch in the middle of the range, and one metal filling.
func cbctSlice(c *canvas, k, n int) {
	const off = 1000
	s := float64(c.w) / 400
	z := 0.5
	if n > 1 {
		z = float64(k) / float64(n-1)
	}
	cx, cy := float64(c.w)/2, float64(c.h)*0.55
	c.fill(-1000 + off)
	c.ellipse(cx, cy, 180*s, 150*s, 30+off) // soft tissue
	c.ellipse(cx, cy, 150*s, 125*s, 1200+off)
	c.ellipse(cx, cy, 135*s, 110*s, 500+off)
	c.ellipse(cx, cy+10*s, 105*s, 85*s, 30+off) // tongue and floor of the mouth
	if z > 0.3 && z < 0.8 {
		h := math.Sin(math.Pi * (z - 0.3) / 0.5)
		for i := range 14 {
			a := math.Pi * (0.08 + 0.84*float64(i)/13)
			tx, ty := cx+142*s*math.Cos(a), cy-118*s*math.Sin(a)
			r := (9 + 4*math.Abs(math.Cos(a))) * s * (0.6 + 0.4*h)
			c.ellipse(tx, ty, r, r, 2500+off)         // enamel / dentine
			c.ellipse(tx, ty, r*0.35, r*0.35, 40+off) // pulp
			if i == 4 && z > 0.55 {
				c.ellipse(tx+r*0.3, ty, r*0.4, r*0.3, 3000+off) // filling
			}
		}
	}
	c.noise(uint64(k)+7, 20, 0, 4095)
}

// panoImage paints a panoramic radiograph, 12 bits stored, brighter is
// more attenuating: soft tissue shading, the mandible and maxilla, the
// upper and lower rows of teeth with roots, the spine at both edges.
func panoImage(c *canvas) {
	w, h := float64(c.w), float64(c.h)
	c.fill(500)
	for y := 0; y < c.h; y++ { // vertical shading
		v := 500 + int(300*math.Sin(math.Pi*float64(y)/h))
		row := c.px[y*c.w : (y+1)*c.w]
		for x := range row {
			row[x] = uint16(v)
		}
	}
	c.rect(0, 0, int(w*0.06), c.h-1, 1500) // cervical spine, twice
	c.rect(int(w*0.94), 0, c.w-1, c.h-1, 1500)
	c.ellipse(w/2, h*0.45, w*0.45, h*0.5, 1600)  // mandible body
	c.ellipse(w/2, h*0.40, w*0.42, h*0.42, 1100) // maxillary sinus region
	for row := 0; row < 2; row++ {
		for i := range 16 {
			x := w*0.12 + (w*0.76)*float64(i)/15
			molar := i < 3 || i > 12
			tw := w * 0.018
			if molar {
				tw = w * 0.026
			}
			cy, rootDir := h*0.44, -1.0
			if row == 1 {
				cy, rootDir = h*0.58, 1
			}
			c.ellipse(x, cy, tw, h*0.07, 3200)                     // crown (enamel)
			c.ellipse(x, cy+rootDir*h*0.12, tw*0.55, h*0.11, 2600) // root
			c.ellipse(x, cy+rootDir*h*0.06, tw*0.25, h*0.09, 1300) // pulp canal
			if (i+row)%7 == 3 {
				c.ellipse(x, cy, tw*0.6, h*0.03, 4000) // filling
			}
		}
	}
	c.noise(11, 25, 0, 4095)
}

// intraoralImage paints a bitewing-like intra-oral radiograph, 12 bits
// stored: alveolar bone, three teeth with crowns, roots and pulp, and a
// filling.
func intraoralImage(c *canvas) {
	w, h := float64(c.w), float64(c.h)
	c.fill(300)
	c.rect(0, int(h*0.45), c.w-1, c.h-1, 1400) // alveolar bone
	for i := range 3 {
		x := w * (0.2 + 0.3*float64(i))
		c.ellipse(x, h*0.35, w*0.12, h*0.2, 3300)  // crown
		c.ellipse(x, h*0.7, w*0.06, h*0.28, 2500)  // root
		c.ellipse(x, h*0.55, w*0.025, h*0.3, 1200) // pulp and canal
		if i == 1 {
			c.ellipse(x+w*0.03, h*0.28, w*0.05, h*0.06, 4050) // filling
		}
	}
	c.noise(13, 30, 0, 4095)
}
