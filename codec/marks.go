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
	e.cands = e.cands[:0]
	e.candPix = e.candPix[:0]
	e.labelMarks()
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
