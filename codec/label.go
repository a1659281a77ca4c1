package codec

import (
	"math"
	"slices"
)

// Mark shapes are labelled by runs: each row of the coded tiles with a
// background is cut into runs of pixels that differ from their tile's
// background, a run continuing into the next tile only if that tile has
// the same background; runs that touch a run of the same background in
// the row above (8-connected: overlapping or diagonal) are joined with a
// union-find. A shape is thus each pixel looked at once, and a few steps
// per run, where a flood from each seed looked at every pixel about
// three times and at each shape's border again.
//
// The shapes come out as the flood made them: only those holding a
// changed pixel (every pixel in a keyframe), in the order of that pixel
// in the scan of the dirty tiles (tile by tile, row by row).

// markRun is a run of a shape's pixels on one row; after labelling, a
// root run also holds its shape's figures.
type markRun struct {
	y, x0, x1 int32  // pixels x0..x1 of row y
	bg        uint32 // the background of the run's tiles
	parent    int32  // union-find: the run itself if a root
	// The run's figures, and a root's for its shape once labelled: box,
	// pixels, pixels the framebuffer already has, and the first changed
	// pixel in scan order (noSeed if none).
	bx0, by0, bx1, by1 int32
	n, kept            int32
	seed               int64
}

const noSeed = math.MaxInt64

func (e *Encoder) findRun(i int32) int32 {
	runs := e.runs
	for runs[i].parent != i {
		p := runs[i].parent
		runs[i].parent = runs[p].parent // path halving
		i = p
	}
	return i
}

func (e *Encoder) unionRuns(a, b int32) {
	a, b = e.findRun(a), e.findRun(b)
	if a == b {
		return
	}
	if a > b {
		a, b = b, a
	}
	e.runs[b].parent = a
}

// labelMarks finds the shapes of the coded tiles with a background and
// appends those that may be marks to e.cands (pixels in e.candPix).
func (e *Encoder) labelMarks() {
	e.runs = e.runs[:0]
	key := e.key
	// The dirty tiles are in raster order: one band of tile rows at a
	// time, its markable tiles left to right.
	prevFrom, prevTo, prevY := 0, 0, -1
	var bgRow [tileSize]uint32 // a row of one background, bgRowOf
	var bgRowOf uint32
	for i := 0; i < len(e.dirty); {
		ty := int(e.dirty[i]) / e.tw
		j := i
		for j < len(e.dirty) && int(e.dirty[j])/e.tw == ty {
			j++
		}
		band := e.dirty[i:j]
		first := i
		i = j
		y0, y1 := ty*tileSize, min(ty*tileSize+tileSize, e.h)
		for y := y0; y < y1; y++ {
			from := len(e.runs)
			open := false // the last run may go on at the next pixel
			lastTx := -2
			for k, t := range band {
				bg := e.bg[t]
				if e.state[t] != stCoded || bg == 0 {
					open = false
					continue
				}
				tx := int(t) - ty*e.tw
				if tx != lastTx+1 || (open && e.runs[len(e.runs)-1].bg != bg) {
					open = false
				}
				lastTx = tx
				x0 := tx * tileSize
				row := y * e.w
				cur := e.cur[row+x0 : row+min(x0+tileSize, e.w)]
				if cur[0] == bg && cur[len(cur)-1] == bg {
					// Most rows of a tile of text are background: one
					// vectorised compare instead of a step per pixel.
					if bg != bgRowOf {
						for i := range bgRow {
							bgRow[i] = bg
						}
						bgRowOf = bg
					}
					if equalU32(cur, bgRow[:len(cur)]) {
						open = false
						continue
					}
				}
				rec := e.rec[row+x0 : row+x0+len(cur)]
				base := int64(first+k)<<8 | int64(y-y0)<<4
				for x, p := range cur {
					if p == bg {
						open = false
						continue
					}
					if !open {
						gx := int32(x0 + x)
						e.runs = append(e.runs, markRun{y: int32(y), x0: gx, x1: gx, bg: bg, parent: int32(len(e.runs)), seed: noSeed})
						open = true
					}
					r := &e.runs[len(e.runs)-1]
					r.x1 = int32(x0 + x)
					r.n++
					if p == rec[x] && !key {
						r.kept++
					} else if r.seed == noSeed {
						r.seed = base | int64(x)
					}
				}
			}
			// Join with the runs of the row above.
			if prevY == y-1 {
				s := prevFrom
				for r := from; r < len(e.runs); r++ {
					rr := &e.runs[r]
					for s < prevTo && e.runs[s].x1+1 < rr.x0 {
						s++
					}
					for q := s; q < prevTo && e.runs[q].x0 <= rr.x1+1; q++ {
						if e.runs[q].bg == rr.bg {
							e.unionRuns(int32(r), int32(q))
						}
					}
				}
			}
			prevFrom, prevTo, prevY = from, len(e.runs), y
		}
	}
	// Each shape's figures at its root; its first changed pixel there
	// too (a run's first changed pixel in scan order is its leftmost:
	// the runs of one tile row lie in one band, scanned left to right
	// within each tile, and a shape's pixels in earlier bands come first).
	runs := e.runs
	for i := range runs {
		r := &runs[i]
		r.bx0, r.bx1, r.by0, r.by1 = r.x0, r.x1, r.y, r.y
	}
	for i := range runs {
		r := e.findRun(int32(i))
		if int(r) == i {
			continue
		}
		a, b := &runs[r], &runs[i]
		a.bx0, a.by0 = min(a.bx0, b.bx0), min(a.by0, b.by0)
		a.bx1, a.by1 = max(a.bx1, b.bx1), max(a.by1, b.by1)
		a.n += b.n
		a.kept += b.kept
		a.seed = min(a.seed, b.seed)
	}
	// The shapes that hold a changed pixel and fit a mark, in the order
	// of that pixel; their runs grouped by shape.
	e.shapes = e.shapes[:0]
	for i := range runs {
		r := &runs[i]
		if r.parent != int32(i) || r.seed == noSeed {
			continue
		}
		if w, h := r.bx1-r.bx0+1, r.by1-r.by0+1; r.n < minMarkPixels || w > maxMarkSide || h > maxMarkSide {
			continue
		}
		e.shapes = append(e.shapes, int32(i))
	}
	slices.SortFunc(e.shapes, func(a, b int32) int {
		if runs[a].seed < runs[b].seed {
			return -1
		}
		return 1 // seeds are distinct pixels
	})
	e.shapeOf = slices.Grow(e.shapeOf[:0], len(runs))[:len(runs)]
	clear(e.shapeOf)
	e.shapeAt = slices.Grow(e.shapeAt[:0], len(e.shapes)+1)[:len(e.shapes)+1]
	clear(e.shapeAt)
	for k, r := range e.shapes {
		e.shapeOf[r] = int32(k + 1)
	}
	for i := range runs {
		if k := e.shapeOf[e.findRun(int32(i))]; k != 0 {
			e.shapeOf[i] = k
			e.shapeAt[k]++ // runs of shape k, counted at k: starts after the sum
		}
	}
	for k := 1; k <= len(e.shapes); k++ {
		e.shapeAt[k] += e.shapeAt[k-1]
	}
	e.shapeRuns = slices.Grow(e.shapeRuns[:0], len(runs))[:e.shapeAt[len(e.shapes)]]
	fill := slices.Grow(e.shapeFill[:0], len(e.shapes))[:len(e.shapes)]
	copy(fill, e.shapeAt[:len(e.shapes)])
	for i := range runs {
		if k := e.shapeOf[i]; k != 0 {
			e.shapeRuns[fill[k-1]] = int32(i)
			fill[k-1]++
		}
	}
	e.shapeFill = fill
	for k, r := range e.shapes {
		e.cutShape(&runs[r], e.shapeRuns[e.shapeAt[k]:e.shapeAt[k+1]])
	}
}

// cutShape copies a shape (root's figures, its runs) into e.candPix and
// appends it to e.cands, unless it has more colours than a mark may.
func (e *Encoder) cutShape(root *markRun, runs []int32) {
	x0, y0 := int(root.bx0), int(root.by0)
	w, h := int(root.bx1)-x0+1, int(root.by1)-y0+1
	off := len(e.candPix)
	e.candPix = slices.Grow(e.candPix, w*h)[:off+w*h]
	pix := e.candPix[off:]
	clear(pix)
	e.cc.reset()
	for _, i := range runs {
		r := &e.runs[i]
		y := int(r.y)
		src := e.cur[y*e.w+int(r.x0) : y*e.w+int(r.x1)+1]
		dst := pix[(y-y0)*w+int(r.x0)-x0:][:len(src)]
		for x, v := range src {
			if !e.cc.add(v) {
				e.candPix = e.candPix[:off]
				return
			}
			dst[x] = v
		}
	}
	hs := hashPix(uint64(w<<8|h)*0x9E3779B97F4A7C15, pix)
	e.cands = append(e.cands, markCand{x0, y0, w, h, off, hs, int(root.kept)*2 >= int(root.n), root.bg})
}
