package codec

// Palette tiles are coded with the range coder and a context model both
// ends keep from keyframe to keyframe:
//
//   - the palette: its size, then each colour by its place in a
//     move-to-front list of recent colours, or literally;
//   - the pixels as palette values (0 keeps the framebuffer's pixel), row
//     by row: "this row repeats the one above", else per pixel "same as
//     W" and "same as N" under a context of how W, N, NW and NE relate
//     (edges, runs, corners), else the value itself.
//
// Flat areas thus cost a bit per row, and text and UI edges a few bits
// per pixel.

type tileModel struct {
	size    [64]prob
	color   colorModel
	rowSame [2]prob
	eqW     [16]prob
	eqN     [4]prob
	value   [128]prob
}

func (m *tileModel) reset() {
	initProbs(m.size[:])
	initProbs(m.rowSame[:])
	initProbs(m.eqW[:])
	initProbs(m.eqN[:])
	initProbs(m.value[:])
	m.color.reset()
}

// none marks a neighbour outside the tile.
const none = 0xff

// pixelCtx returns the W and N values of pixel i (x, y) of a w-wide
// tile and the contexts of the "same as W" and "same as N" bits.
func pixelCtx(v []uint8, w, x, y int) (a, b uint8, cw, cn int) {
	i := y*w + x
	a, b = none, none
	c, d := uint8(none), uint8(none)
	if y > 0 {
		b = v[i-w]
		if x > 0 {
			c = v[i-w-1]
		}
		if x+1 < w {
			d = v[i-w+1]
		}
	}
	switch {
	case x > 0:
		a = v[i-1]
	default:
		a = b
	}
	if a == b {
		cw |= 1
	}
	if a == c {
		cw |= 2
	}
	if b == d {
		cw |= 4
	}
	if b == none {
		cw |= 8
	}
	if b == d {
		cn |= 1
	}
	if b == c {
		cn |= 2
	}
	return a, b, cw, cn
}

// encode codes a palette tile: pal are its colours (values 1..len(pal)),
// v its w x h values.
func (m *tileModel) encode(e *rcEncoder, pal []uint32, v []uint8, w, h int) {
	e.tree(m.size[:], 6, len(pal)-1)
	for _, c := range pal {
		m.color.encode(e, c, 0)
	}
	prevSame := 0
	for y := 0; y < h; y++ {
		row := v[y*w : y*w+w]
		if y > 0 {
			same := 0
			if string(row) == string(v[(y-1)*w:y*w]) {
				same = 1
			}
			e.bit(&m.rowSame[prevSame], same)
			prevSame = same
			if same == 1 {
				continue
			}
		}
		for x := 0; x < w; x++ {
			val := row[x]
			a, b, cw, cn := pixelCtx(v, w, x, y)
			if a != none {
				if val == a {
					e.bit(&m.eqW[cw], 1)
					continue
				}
				e.bit(&m.eqW[cw], 0)
			}
			if b != none && b != a {
				if val == b {
					e.bit(&m.eqN[cn], 1)
					continue
				}
				e.bit(&m.eqN[cn], 0)
			}
			e.tree(m.value[:], 7, int(val))
		}
	}
}

// decode reads a palette tile into pal and v (w x h values). Values above
// the palette size are returned as they are; the caller rejects them.
func (m *tileModel) decode(d *rcDecoder, pal []uint32, v []uint8, w, h int) []uint32 {
	n := d.tree(m.size[:], 6) + 1
	pal = pal[:0]
	for range n {
		pal = append(pal, m.color.decode(d, 0))
	}
	prevSame := 0
	for y := 0; y < h; y++ {
		row := v[y*w : y*w+w]
		if y > 0 {
			same := d.bit(&m.rowSame[prevSame])
			prevSame = same
			if same == 1 {
				copy(row, v[(y-1)*w:y*w])
				continue
			}
		}
		for x := 0; x < w; x++ {
			a, b, cw, cn := pixelCtx(v, w, x, y)
			if a != none && d.bit(&m.eqW[cw]) == 1 {
				row[x] = a
				continue
			}
			if b != none && b != a && d.bit(&m.eqN[cn]) == 1 {
				row[x] = b
				continue
			}
			row[x] = uint8(d.tree(m.value[:], 7))
		}
	}
	return pal
}

// colorModel codes colours by their place in a move-to-front list of the
// 63 most recent ones (escape: the colour itself, channel by channel),
// under a small context chosen by the caller.
type colorModel struct {
	mtf     [5][64]prob
	lit     [3][256]prob
	recent  [mtfSize]uint32
	nrecent int
}

func (m *colorModel) reset() {
	for i := range m.mtf {
		initProbs(m.mtf[i][:])
	}
	for i := range m.lit {
		initProbs(m.lit[i][:])
	}
	m.nrecent = 0
}

// touch moves c to the front of the recent colours.
func (m *colorModel) touch(c uint32) {
	i := 0
	for i < m.nrecent && m.recent[i] != c {
		i++
	}
	if i == m.nrecent {
		if m.nrecent < mtfSize {
			m.nrecent++
		} else {
			i = mtfSize - 1
		}
	}
	copy(m.recent[1:i+1], m.recent[:i])
	m.recent[0] = c
}

func (m *colorModel) encode(e *rcEncoder, c uint32, k int) {
	defer m.touch(c)
	i := 0
	for i < m.nrecent && m.recent[i] != c {
		i++
	}
	if i < m.nrecent {
		e.tree(m.mtf[k][:], 6, i)
		return
	}
	e.tree(m.mtf[k][:], 6, mtfSize)
	e.tree(m.lit[0][:], 8, int(c&0xff))
	e.tree(m.lit[1][:], 8, int(c>>8&0xff))
	e.tree(m.lit[2][:], 8, int(c>>16&0xff))
}

func (m *colorModel) decode(d *rcDecoder, k int) (c uint32) {
	defer func() { m.touch(c) }()
	i := d.tree(m.mtf[k][:], 6)
	if i < m.nrecent {
		return m.recent[i]
	}
	r := d.tree(m.lit[0][:], 8)
	g := d.tree(m.lit[1][:], 8)
	b := d.tree(m.lit[2][:], 8)
	return uint32(r) | uint32(g)<<8 | uint32(b)<<16 | opaque
}
