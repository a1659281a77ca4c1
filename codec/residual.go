package codec

import "slices"

// Residual coding of one tile: a palette of the pixels that must be
// written (index 0 keeps the framebuffer's pixel) as runs, or, for tiles
// with many colours, every pixel predicted from its neighbours.

// maxPalette is the largest palette a tile may use; tiles with more
// colours to write are coded as photo tiles.
const maxPalette = 128

// colorCounter counts distinct colours of up to one tile in a small open
// addressing table, twice the size of the most colours it holds (a table
// that filled up probed long runs on photographic tiles).
type colorCounter struct {
	keys  [ccSlots]uint32
	count [ccSlots]uint16
	order [256]uint16 // slot of the i-th distinct colour, first seen first
	n     int
}

const ccSlots = 512

func (c *colorCounter) reset() {
	for i := 0; i < c.n; i++ {
		s := c.order[i]
		c.keys[s] = 0
		c.count[s] = 0
	}
	c.n = 0
}

// add counts p (never 0) and reports false once more than 255 distinct
// colours have been seen.
func (c *colorCounter) add(p uint32) bool { return c.addN(p, 1) }

// addN counts n pixels of colour p (never 0), as add.
func (c *colorCounter) addN(p uint32, n uint16) bool {
	h := (p * 0x9E3779B1) >> 23
	for {
		switch c.keys[h] {
		case p:
			c.count[h] += n
			return true
		case 0:
			if c.n == 255 {
				return false
			}
			c.keys[h] = p
			c.count[h] = n
			c.order[c.n] = uint16(h)
			c.n++
			return true
		}
		h = (h + 1) & (ccSlots - 1)
	}
}

// addRows counts the h rows of w pixels at p[off:] (row stride stride),
// a run of one colour at a time, and reports false once more than 255
// distinct colours have been seen.
func (c *colorCounter) addRows(p []uint32, off, stride, w, h int) bool {
	for y := 0; y < h; y++ {
		row := p[off+y*stride : off+y*stride+w]
		for x := 0; x < len(row); {
			v := row[x]
			n := 1
			for x+n < len(row) && row[x+n] == v {
				n++
			}
			if !c.addN(v, uint16(n)) {
				return false
			}
			x += n
		}
	}
	return true
}

// sorted fills pal with the colours by falling count (first seen first on
// ties) and sets each colour's palette index (1-based) in idx.
func (c *colorCounter) sorted(pal []uint32, idx *[ccSlots]uint8) []uint32 {
	pal = pal[:0]
	var ord [256]uint16
	copy(ord[:c.n], c.order[:c.n])
	o := ord[:c.n]
	// Insertion sort: n is small and the order must be deterministic.
	for i := 1; i < len(o); i++ {
		for j := i; j > 0 && c.count[o[j]] > c.count[o[j-1]]; j-- {
			o[j], o[j-1] = o[j-1], o[j]
		}
	}
	for i, s := range o {
		pal = append(pal, c.keys[s])
		idx[s] = uint8(i + 1)
	}
	return pal
}

// med is the median edge detector of LOCO-I: a predictor from the left
// (a), upper (b) and upper-left (c) samples.
func med(a, b, c int) int {
	mx, mn := a, b
	if a < b {
		mx, mn = b, a
	}
	switch {
	case c >= mx:
		return mn
	case c <= mn:
		return mx
	}
	return a + b - c
}

// predict is the prediction of sample (x, y) of a w-wide plane: med
// inside, the left or upper neighbour on the first row or column.
func predict(p []uint8, w, x, y int) int {
	i := y*w + x
	switch {
	case y == 0 && x == 0:
		return 0
	case y == 0:
		return int(p[i-1])
	case x == 0:
		return int(p[i-w])
	}
	return med(int(p[i-1]), int(p[i-w]), int(p[i-w-1]))
}

// planes turns pixel p into the decorrelated samples G, R-G, B-G.
func planes(p uint32) (g, rg, bg int) {
	r, gg, b := int(p&0xff), int(p>>8&0xff), int(p>>16&0xff)
	return gg, (r - gg) & 0xff, (b - gg) & 0xff
}

func fromPlanes(g, rg, bg int) uint32 {
	r := (rg + g) & 0xff
	b := (bg + g) & 0xff
	return uint32(r) | uint32(g)<<8 | uint32(b)<<16 | opaque
}

// encodePhoto appends the residuals of the w x h tile at src[off:] to out:
// three planes, each predicted with med inside the tile (as predict,
// row by row: the first row from the left, the first column from above).
func encodePhoto(out []byte, src []uint32, off, stride, w, h int) []byte {
	var pl [3][tileSize * tileSize]uint8
	for y := 0; y < h; y++ {
		row := src[off+y*stride : off+y*stride+w]
		for x, v := range row {
			g, rg, bg := planes(v)
			i := y*w + x
			pl[0][i], pl[1][i], pl[2][i] = uint8(g), uint8(rg), uint8(bg)
		}
	}
	n := len(out)
	out = slices.Grow(out, 3*w*h)[:n+3*w*h]
	for k := range pl {
		p := pl[k][: w*h : w*h]
		res := out[n+k*w*h : n+(k+1)*w*h : n+(k+1)*w*h]
		res[0] = p[0]
		for x := 1; x < w; x++ {
			res[x] = p[x] - p[x-1]
		}
		for y := 1; y < h; y++ {
			row, up, r := p[y*w:y*w+w], p[(y-1)*w : y*w][:w], res[y*w:y*w+w]
			r[0] = row[0] - up[0]
			for x := 1; x < len(row); x++ {
				r[x] = row[x] - uint8(med(int(row[x-1]), int(up[x]), int(up[x-1])))
			}
		}
	}
	return out
}

// decodePhoto reverses encodePhoto from res (3*w*h bytes) into dst[off:].
func decodePhoto(res []byte, dst []uint32, off, stride, w, h int) {
	var pl [3][tileSize * tileSize]uint8
	n := w * h
	for k := range pl {
		p := pl[k][:]
		r := res[k*n : k*n+n]
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*w + x
				p[i] = uint8(int(r[i]) + predict(p, w, x, y))
			}
		}
	}
	for y := 0; y < h; y++ {
		row := dst[off+y*stride:]
		for x := 0; x < w; x++ {
			i := y*w + x
			row[x] = fromPlanes(int(pl[0][i]), int(pl[1][i]), int(pl[2][i]))
		}
	}
}
