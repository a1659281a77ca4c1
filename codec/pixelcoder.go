package codec

// Pixel tiles (text, UI, anything with few colours) are coded with the
// range coder against the decoder's framebuffer as it stands when the
// tile is reached: after the copies, lossy rects and marks of the update
// and after the tiles before it in raster order. Nothing is reset at a
// tile's border: the pixels above and to the left come from the
// neighbouring tiles, and the models persist from keyframe to keyframe.
//
// Each row of the tile is first "all kept" (every pixel equals the
// framebuffer's: the tile changed elsewhere), else "same as the row
// above", else coded pixel by pixel:
//
//   - "kept": the pixel equals the framebuffer's (the previous frame's,
//     or what a copy or mark put there), under a context of whether W
//     and N were kept and whether the old pixel continues W: typing,
//     carets and highlights cost a fraction of a bit per unchanged pixel;
//   - else "same as" W, N, NE, NW, or the colour last seen after the
//     same four neighbours, each candidate once (candidates equal to the
//     kept colour or to an earlier candidate are skipped), under a
//     context of how the neighbours relate (edges, runs, corners);
//   - else the colour by its place in a move-to-front list of recent
//     colours, or literally.
//
// Flat areas thus cost a bit per row, a keystroke a few bits per pixel it
// changes, and anti-aliased text about as much as a new mark.

type pixModel struct {
	rowKeep [4]prob
	rowN    [4]prob
	keep    [18]prob
	eq      [numCands][64]prob
	pred    [1 << predBits]uint32
	pred2   [1 << predBits]uint32
	pred3   [1 << predBits]uint32
	color   colorModel
	// Per-row "kept" flags of the tile being coded (0 kept, 1 written).
	kept [2][tileSize]uint8
}

// Candidates for a pixel's colour, in the order they are tried.
const (
	candW = iota
	candN
	candNE
	candNW
	candPred
	candPred2
	candPred3
	numCands
)

// Row modes, and the context of the next row's mode.
const (
	rowKept = iota
	rowSameN
	rowCoded
	rowFirst
)

func (m *pixModel) reset() {
	initProbs(m.rowKeep[:])
	initProbs(m.rowN[:])
	initProbs(m.keep[:])
	for i := range m.eq {
		initProbs(m.eq[i][:])
	}
	clear(m.pred[:])
	clear(m.pred2[:])
	clear(m.pred3[:])
	m.color.reset()
}

// pixCtx is what both ends know about a pixel before it is coded.
type pixCtx struct {
	cands [numCands]uint32 // 0: absent, the kept colour or a repeat
	n     int              // number of present candidates
	sig   int              // how W, N, NW and NE relate
	keep  int              // context of the "kept" bit
	key   uint32           // index into pred
	key2  uint32           // index into pred2
	key3  uint32
	w     uint32 // the W pixel (0 outside the screen)
}

// context fills c for the pixel fb[i] at screen position gx, gy (screen
// width sw), column x of its tile, and returns the framebuffer's pixel
// there. kp holds the kept flags of the tile's row above (nil on its
// first row), kc those of the row being coded.
func (m *pixModel) context(c *pixCtx, fb []uint32, i, gx, gy, sw, x int, kp, kc []uint8) uint32 {
	var w, n, nw, ne, ww, nn uint32
	if gx > 0 {
		w = fb[i-1]
		if gx > 1 {
			ww = fb[i-2]
		}
	}
	if gy > 0 {
		n = fb[i-sw]
		if gy > 1 {
			nn = fb[i-2*sw]
		}
		if gx > 0 {
			nw = fb[i-sw-1]
		}
		if gx+1 < sw {
			ne = fb[i-sw+1]
		}
	}
	old := fb[i]
	kw, kn := 2, 2
	if x > 0 {
		kw = int(kc[x-1])
	}
	if kp != nil {
		kn = int(kp[x])
	}
	c.keep = (kw*3 + kn) * 2
	if old == w {
		c.keep++
	}
	c.sig = 0
	if w == n {
		c.sig |= 1
	}
	if n == ne {
		c.sig |= 2
	}
	if w == nw {
		c.sig |= 4
	}
	if n == nw {
		c.sig |= 8
	}
	if w == ww {
		c.sig |= 16
	}
	if n == nn {
		c.sig |= 32
	}
	c.key = predKey(w, n, nw, ne, 0)
	c.key2 = predKey(w, n, 0, 0, 1)
	c.key3 = predKey(ww, w, nn, n, 2)
	c.w = w
	c.cands = [numCands]uint32{w, n, ne, nw, m.pred[c.key], m.pred2[c.key2], m.pred3[c.key3]}
	c.n = 0
	for k := range c.cands {
		v := c.cands[k]
		if v == old {
			c.cands[k] = 0
			continue
		}
		for j := range k {
			if c.cands[j] == v {
				c.cands[k] = 0
				break
			}
		}
		if c.cands[k] != 0 {
			c.n++
		}
	}
	return old
}

// encode codes the w x h tile of cur at off (screen width sw) against fb,
// the decoder's framebuffer, and writes the tile into fb as it goes.
func (m *pixModel) encode(e *rcEncoder, cur, fb []uint32, off, sw, w, h int) {
	gx0, gy0 := off%sw, off/sw
	mode := rowFirst
	var c pixCtx
	for y := 0; y < h; y++ {
		gy := gy0 + y
		row := cur[off+y*sw : off+y*sw+w]
		dst := fb[off+y*sw : off+y*sw+w]
		kc := m.kept[y&1][:w]
		var kp []uint8
		if y > 0 {
			kp = m.kept[(y-1)&1][:w]
		}
		same := equalU32(row, dst)
		e.bit(&m.rowKeep[mode], b2i(same))
		if same {
			clear(kc)
			mode = rowKept
			continue
		}
		if gy > 0 {
			above := fb[off+(y-1)*sw : off+(y-1)*sw+w]
			same = equalU32(row, above)
			e.bit(&m.rowN[mode], b2i(same))
			if same {
				for x := range kc {
					kc[x] = b2i8(row[x] != dst[x])
				}
				copy(dst, row)
				mode = rowSameN
				continue
			}
		}
		mode = rowCoded
		for x := 0; x < w; x++ {
			i := off + y*sw + x
			v := row[x]
			old := m.context(&c, fb, i, gx0+x, gy, sw, x, kp, kc)
			if v == old {
				e.bit(&m.keep[c.keep], 1)
				kc[x] = 0
				continue
			}
			e.bit(&m.keep[c.keep], 0)
			kc[x] = 1
			m.encodeColor(e, &c, v)
			m.pred[c.key] = v
			m.pred2[c.key2] = v
			m.pred3[c.key3] = v
			fb[i] = v
		}
	}
}

func (m *pixModel) encodeColor(e *rcEncoder, c *pixCtx, v uint32) {
	for k, cv := range c.cands {
		if cv == 0 {
			continue
		}
		if v == cv {
			e.bit(&m.eq[k][c.sig], 1)
			return
		}
		e.bit(&m.eq[k][c.sig], 0)
	}
	m.color.encode(e, v, min(c.n, 4), c.w)
}

// decode reads a tile coded by encode into fb.
func (m *pixModel) decode(d *rcDecoder, fb []uint32, off, sw, w, h int) {
	gx0, gy0 := off%sw, off/sw
	mode := rowFirst
	var c pixCtx
	for y := 0; y < h; y++ {
		gy := gy0 + y
		dst := fb[off+y*sw : off+y*sw+w]
		kc := m.kept[y&1][:w]
		var kp []uint8
		if y > 0 {
			kp = m.kept[(y-1)&1][:w]
		}
		if d.bit(&m.rowKeep[mode]) == 1 {
			clear(kc)
			mode = rowKept
			continue
		}
		if gy > 0 && d.bit(&m.rowN[mode]) == 1 {
			above := fb[off+(y-1)*sw : off+(y-1)*sw+w]
			for x := range kc {
				kc[x] = b2i8(above[x] != dst[x])
			}
			copy(dst, above)
			mode = rowSameN
			continue
		}
		mode = rowCoded
		for x := 0; x < w; x++ {
			i := off + y*sw + x
			m.context(&c, fb, i, gx0+x, gy, sw, x, kp, kc)
			if d.bit(&m.keep[c.keep]) == 1 {
				kc[x] = 0
				continue
			}
			kc[x] = 1
			v := m.decodeColor(d, &c)
			m.pred[c.key] = v
			m.pred2[c.key2] = v
			m.pred3[c.key3] = v
			fb[i] = v
		}
	}
}

func (m *pixModel) decodeColor(d *rcDecoder, c *pixCtx) uint32 {
	for k, cv := range c.cands {
		if cv == 0 {
			continue
		}
		if d.bit(&m.eq[k][c.sig]) == 1 {
			return cv
		}
	}
	return m.color.decode(d, min(c.n, 4), c.w)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2i8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// colorModel codes colours by their place in a move-to-front list of the
// 63 most recent ones (escape: the colour itself as green, red - green
// and blue - green, so that greys cost one channel),
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

func (m *colorModel) encode(e *rcEncoder, c uint32, k int, ref uint32) {
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
	g, rg, bg := planes(c)
	pg, prg, pbg := planes(ref)
	e.tree(m.lit[0][:], 8, (g-pg)&0xff)
	e.tree(m.lit[1][:], 8, (rg-prg)&0xff)
	e.tree(m.lit[2][:], 8, (bg-pbg)&0xff)
}

func (m *colorModel) decode(d *rcDecoder, k int, ref uint32) (c uint32) {
	defer func() { m.touch(c) }()
	i := d.tree(m.mtf[k][:], 6)
	if i < m.nrecent {
		return m.recent[i]
	}
	pg, prg, pbg := planes(ref)
	g := d.tree(m.lit[0][:], 8) + pg
	rg := d.tree(m.lit[1][:], 8) + prg
	bg := d.tree(m.lit[2][:], 8) + pbg
	return fromPlanes(g&0xff, rg&0xff, bg&0xff)
}
