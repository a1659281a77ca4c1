package codec

import "slices"

// Marks: on tiles with a dominant background colour, every 8-connected
// shape of other pixels (a glyph, an icon, a caret) that fits in 64x64,
// has at most 255 colours and holds at least one changed pixel is cut out
// and keyed by an exact hash of its pixels. The first time a shape is seen
// its pixels are sent and both ends store it in the mark dictionary; after
// that it is a dictionary slot and a position. Positions are coded as the
// step from the previous mark (left edge and bottom edge, so the letters
// of a line step along one baseline), marks sorted by bottom then left,
// range coded (markref.go).

type markCand struct {
	x, y, w, h int
	off        int // into Encoder.candPix
	hash       uint64
	// kept: half or more of the shape's pixels are already on screen (a
	// word that grew by a letter). Such a shape is worth a reference,
	// but not a new mark: the pixel coder sends just the pixels that
	// changed.
	kept bool
	bg   uint32
}

// A shape is seeded only at a changed pixel (in keyframes every pixel
// counts: the black start screen is no real content), but takes in every
// connected non-background pixel, so a glyph redrawn over another is the
// whole new glyph, not the difference.

// minMarkPixels is the smallest shape worth a dictionary entry.
const minMarkPixels = 2

// markAreaBudget bounds the total area of the boxes of the marks an
// update paints or learns: 16 times the screen.
func markAreaBudget(w, h int) int { return 16 * w * h }

// codeMarks cuts marks from the coded tiles, writes secMarks and
// secMarkPx, and paints them into the model of the decoder's
// framebuffer, so the tile coder finds their pixels already in place.
func (e *Encoder) codeMarks() {
	e.gen += 2
	if e.gen < 2 {
		clear(e.stamp)
		e.gen = 2
	}
	e.cands = e.cands[:0]
	e.candPix = e.candPix[:0]
	key, gen := e.key, e.gen
	for _, t := range e.dirty {
		bg := e.bg[t]
		if e.state[t] != stCoded || bg == 0 {
			continue
		}
		off, w, h := e.tileRect(int(t))
		for y := 0; y < h; y++ {
			o := off + y*e.w
			// The rows in locals: flood writes stamps, never the slices.
			cur := e.cur[o : o+w]
			rec, stamp := e.rec[o : o+w][:len(cur)], e.stamp[o : o+w][:len(cur)]
			for x, p := range cur {
				if p != bg && (p != rec[x] || key) && stamp[x] < gen {
					e.flood(o+x, bg)
				}
			}
		}
	}
	slices.SortFunc(e.cands, func(a, b markCand) int {
		if d := (a.y + a.h) - (b.y + b.h); d != 0 {
			return d
		}
		return a.x - b.x
	})
	// Shapes already in the dictionary are references. A new shape that
	// occurs more than once in this update is sent as a new mark (the
	// others then refer to it); one that occurs once is left to the
	// pixel coder and learnt from the framebuffer after the tiles, so it
	// costs no more than its pixels and can be referred to later.
	if e.candCount == nil {
		e.candCount = make(map[uint64]int32)
	}
	clear(e.candCount)
	kept := e.cands[:0]
	for _, c := range e.cands {
		if _, ok := e.marks.lookup(e.candPix[c.off:c.off+c.w*c.h], c.w, c.h, c.hash); ok {
			kept = append(kept, c)
			continue
		}
		if c.kept {
			continue
		}
		e.candCount[c.hash]++
		kept = append(kept, c)
	}
	e.cands = kept
	e.learn = e.learn[:0]
	kept = e.cands[:0]
	for _, c := range e.cands {
		if n, ok := e.candCount[c.hash]; ok && n == 1 {
			if e.learnable(&c) {
				e.learn = append(e.learn, c)
			}
			continue
		}
		kept = append(kept, c)
	}
	e.cands = kept
	// Hostile updates aside, the marks' boxes never cover the screen
	// many times over; the decoder enforces the bound, and so does the
	// encoder (shapes past it are left to the pixel coder).
	budget := markAreaBudget(e.w, e.h)
	for i, c := range e.cands {
		if budget -= c.w * c.h; budget < 0 {
			e.cands = e.cands[:i]
			e.learn = e.learn[:0]
			break
		}
	}
	for i, c := range e.learn {
		if budget -= c.w * c.h; budget < 0 {
			e.learn = e.learn[:i]
			break
		}
	}
	ms, px := &e.sec[secMarks], &e.sec[secMarkPx]
	ms.uvarint(uint64(len(e.cands)))
	ms.uvarint(uint64(len(e.learn)))
	e.rc.init(px.b[:0])
	mr := &e.mm.refs
	prevR, prevB := 0, 0
	for _, c := range e.cands {
		pix := e.candPix[c.off : c.off+c.w*c.h]
		s, ok := e.marks.lookup(pix, c.w, c.h, c.hash)
		if ok {
			e.marks.lru.touch(s)
			mr.encodeRef(&e.rc, s)
			e.stats.MarksRef++
		} else {
			s = e.marks.add(pix, c.w, c.h, c.hash)
			mr.encodeRef(&e.rc, -1)
			e.mm.encode(&e.rc, pix, c.w, c.h)
			e.stats.MarksNew++
		}
		mr.used(s)
		mr.encodePos(&e.rc, 0, c.x-prevR, c.y+c.h-prevB)
		prevR, prevB = c.x+c.w, c.y+c.h
	}
	prevR, prevB = 0, 0
	for _, c := range e.learn {
		mr.encodePos(&e.rc, 1, c.x-prevR, c.y+c.h-prevB)
		mr.encodeLearnt(&e.rc, c.w, c.h, c.bg)
		prevR, prevB = c.x+c.w, c.y+c.h
		mr.used(e.marks.add(e.candPix[c.off:c.off+c.w*c.h], c.w, c.h, c.hash))
		e.stats.MarksLearnt++
	}
	if len(e.cands)+len(e.learn) > 0 {
		px.b = e.rc.finish()
	}
	// The decoder paints the marks before the tiles: so does the model.
	for _, c := range e.cands {
		pix := e.candPix[c.off : c.off+c.w*c.h]
		for y := 0; y < c.h; y++ {
			row := e.rec[(c.y+y)*e.w+c.x:]
			for x, p := range pix[y*c.w : y*c.w+c.w] {
				if p != 0 {
					row[x] = p
				}
			}
		}
	}
}

// flood labels the shape of non-background pixels around seed and keeps
// it as a mark candidate if it qualifies: the pixels 8-connected to seed
// that differ from bg and lie in coded tiles of the same background.
//
// It fills by runs: a run of such pixels along a row is taken whole,
// then the row above and the row below are scanned from one pixel left
// of it to one pixel right, and each new run found there is queued by
// its first pixel. Each pixel is looked at about three times, not eight.
func (e *Encoder) flood(seed int, bg uint32) {
	// The shape's pixels as x | y<<16: no division by the screen width.
	sx, sy := seed%e.w, seed/e.w
	comp := append(e.comp[:0], int32(sx|sy<<16))
	e.stamp[seed] = e.gen
	x0, y0 := sx, sy
	x1, y1 := x0, y0
	// kept counts the pixels the framebuffer already has. The seed is
	// not one (codeMarks seeds only at changed pixels, or anywhere in a
	// keyframe), so every shape holds a changed pixel.
	kept := 0
	cur, rec, stamp, gen, key := e.cur, e.rec, e.stamp, e.gen, e.key
	state, tbg, tw := e.state, e.bg, e.tw
	sw, sh := e.w, e.h
	// in reports whether the pixel at x, y (at q) belongs to the shape
	// and has not been taken yet.
	in := func(x, y, q int) bool {
		if cur[q] == bg || stamp[q] >= gen {
			return false
		}
		t := int(uint(y)/tileSize)*tw + int(uint(x)/tileSize)
		return state[t] == stCoded && tbg[t] == bg
	}
	// take adds a pixel to the shape, its box and its counts.
	take := func(x, y, q int) {
		stamp[q] = gen
		comp = append(comp, int32(x|y<<16))
		x0, x1, y0, y1 = min(x0, x), max(x1, x), min(y0, y), max(y1, y)
		if cur[q] == rec[q] && !key {
			kept++
		}
	}
	// Queued: taken pixels whose runs are still to be taken whole.
	queue := append(e.floodQueue[:0], int32(sx|sy<<16))
	for len(queue) > 0 {
		c := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		x, y := int(c&0xffff), int(c>>16)
		row := y * sw
		xa := x
		for xa > 0 && in(xa-1, y, row+xa-1) {
			xa--
			take(xa, y, row+xa)
		}
		xb := x
		for xb+1 < sw && in(xb+1, y, row+xb+1) {
			xb++
			take(xb, y, row+xb)
		}
		xa, xb = max(xa-1, 0), min(xb+1, sw-1)
		for _, ny := range [2]int{y - 1, y + 1} {
			if ny < 0 || ny >= sh {
				continue
			}
			nrow := ny * sw
			for nx := xa; nx <= xb; nx++ {
				if !in(nx, ny, nrow+nx) {
					continue
				}
				take(nx, ny, nrow+nx)
				queue = append(queue, int32(nx|ny<<16))
				// The rest of this run is taken from its first pixel.
				for nx+1 <= xb && in(nx+1, ny, nrow+nx+1) {
					nx++
				}
			}
		}
	}
	e.floodQueue = queue
	e.comp = comp
	w, h := x1-x0+1, y1-y0+1
	if len(comp) < minMarkPixels || w > maxMarkSide || h > maxMarkSide {
		return
	}
	off := len(e.candPix)
	e.candPix = slices.Grow(e.candPix, w*h)[:off+w*h]
	pix := e.candPix[off:]
	clear(pix)
	e.cc.reset()
	for _, c := range comp {
		x, y := int(c&0xffff), int(c>>16)
		v := e.cur[y*e.w+x]
		if !e.cc.add(v) {
			e.candPix = e.candPix[:off]
			return
		}
		pix[(y-y0)*w+x-x0] = v
	}
	hs := hashPix(uint64(w<<8|h)*0x9E3779B97F4A7C15, pix)
	e.cands = append(e.cands, markCand{x0, y0, w, h, off, hs, kept*2 >= len(comp), bg})
}

// learnable reports whether the decoder, cutting c's box out of its
// framebuffer at the end of the update with c's background as the
// transparent colour, gets exactly c's pixels.
func (e *Encoder) learnable(c *markCand) bool {
	pix := e.candPix[c.off : c.off+c.w*c.h]
	for y := 0; y < c.h; y++ {
		trow := e.state[(c.y+y)/tileSize*e.tw:]
		for x := 0; x < c.w; x++ {
			p := (c.y+y)*e.w + c.x + x
			v := e.rec[p]
			if st := trow[(c.x+x)/tileSize]; st == stCoded || st == stCached {
				v = e.cur[p]
			}
			if v == c.bg {
				v = 0
			}
			if v != pix[y*c.w+x] {
				return false
			}
		}
	}
	return true
}

// learnMark cuts the w x h box at fb[off:] (row stride stride) with bg
// as the transparent colour into pix.
func learnMark(pix, fb []uint32, off, stride, w, h int, bg uint32) []uint32 {
	pix = pix[:0]
	for y := 0; y < h; y++ {
		for _, v := range fb[off+y*stride : off+y*stride+w] {
			if v == bg {
				v = 0
			}
			pix = append(pix, v)
		}
	}
	return pix
}
