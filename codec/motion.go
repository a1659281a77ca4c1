package codec

import (
	"math/bits"
	"slices"
)

// Motion detection from pixels alone. Every changed full tile gets
// signatures: the hashes of its first eight consecutive rows of 16 pixels
// that are not one flat colour. A rolling hash slides over the 16-pixel
// row segments of every eighth row of the old framebuffer inside the
// changed area (a moved window and a scrolled view
// always come from there), and each segment whose hash matches a
// signature votes for the displacement between them. The best few
// displacements are then verified tile by tile, exactly, and the tiles
// they explain are sent as copy rects: a scroll, a moved window, a
// re-exposed pane. Cost: one multiply-add per old pixel of the changed
// area plus a bit test, only on frames with enough changed tiles.

// minMotionTiles is the fewest changed tiles for which motion is searched:
// typing and carets change a handful, scrolls and moves many.
const minMotionTiles = 6

// maxVotes bounds the work spent on hash hits per frame.
const maxVotes = 1 << 18

// sigRows is the number of consecutive rows of a tile that get a
// signature, and the step between the rows of the old frame scanned.
const sigRows = 8

// maxSigRun is the most tiles that may share a signature and still vote.
const maxSigRun = 4

// maxVectors is how many displacements are verified per frame.
const maxVectors = 8

// rollBase is the multiplier of the polynomial rolling hash.
const rollBase = 0x100000001b3

// sigMix spreads a segment hash's bits before they index the signature
// filter and table.
const sigMix = 0x9E3779B97F4A7C15

type sigEntry struct {
	hash   uint64
	tx, ty int16 // the tile's column and row
	row    int32
}

type vec struct{ dx, dy int32 }

// sigSlot is an entry of the signature table: a hash and the first of
// the sorted signatures that have it (-1: empty).
type sigSlot struct {
	hash uint64
	idx  int32
}

type motionScratch struct {
	sigs    []sigEntry
	sigTmp  []sigEntry
	filter  []uint64
	table   []sigSlot
	votes   voteTable
	ranked  []vec
	vecOf   []int32 // per dirty index: chosen vector+1, 0 none
	partial []bool  // per dirty index: the copy explains only part of it
	full    []int32 // per tile: vector+1 of a full match (during findMotion)
	runs    []copyRun
	rects   []vecRect
	copies  []copyRun
}

// copyRun is a copy rect in tile units with its displacement in pixels.
type copyRun struct {
	x0, x1, y0, y1 int32
	v              vec
}

func segHash(p []uint32) uint64 {
	var h uint64
	for _, v := range p[:tileSize] {
		h = h*rollBase + uint64(v)
	}
	return h
}

// sortSigs sorts s by hash, keeping the order of equal hashes, with an
// LSD radix sort of 11-bit digits through tmp (a comparison sort took a
// sixth of the motion search on pages of text). Digits every hash shares
// are skipped. It returns the sorted slice and the spare buffer.
func sortSigs(s, tmp []sigEntry) (sorted, spare []sigEntry) {
	const bitsPer = 11
	const nb = 1 << bitsPer
	if len(s) < 64 {
		slices.SortStableFunc(s, func(a, b sigEntry) int {
			switch {
			case a.hash < b.hash:
				return -1
			case a.hash > b.hash:
				return 1
			}
			return 0
		})
		return s, tmp
	}
	tmp = slices.Grow(tmp[:0], len(s))[:len(s)]
	var count [nb]int32
	for shift := uint(0); shift < 64; shift += bitsPer {
		clear(count[:])
		for i := range s {
			count[s[i].hash>>shift&(nb-1)]++
		}
		if count[s[0].hash>>shift&(nb-1)] == int32(len(s)) {
			continue
		}
		var sum int32
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i := range s {
			d := s[i].hash >> shift & (nb - 1)
			tmp[count[d]] = s[i]
			count[d]++
		}
		s, tmp = tmp, s
	}
	return s, tmp
}

// findMotion finds copies for dirty tiles, writes them to secOps, applies
// them to rec and drops the tiles they explain from e.dirty.
func (e *Encoder) findMotion() {
	ops := &e.sec[secOps]
	m := &e.motion
	if len(e.dirty) < minMotionTiles || e.key {
		// A keyframe's old framebuffer is black: nothing to copy.
		m.sigs = m.sigs[:0] // findRefMotion reads them
		ops.uvarint(0)
		return
	}
	// Signatures of the changed full tiles, and their bounding box.
	m.sigs = m.sigs[:0]
	bx0, by0, bx1, by1 := e.tw, e.th, 0, 0
	for _, t := range e.dirty {
		tx, ty := int(t)%e.tw, int(t)/e.tw
		bx0, by0 = min(bx0, tx), min(by0, ty)
		bx1, by1 = max(bx1, tx+1), max(by1, ty+1)
		off, w, h := e.tileRect(int(t))
		if w != tileSize || h != tileSize {
			continue
		}
		// sigRows consecutive non-flat rows: the scan below visits every
		// sigRows-th row of the old frame and still meets one of them.
		for r, run := 0, 0; r < tileSize; r++ {
			if flat(e.cur[off+r*e.w : off+r*e.w+tileSize]) {
				run = 0
				continue
			}
			if run++; run == sigRows {
				for k := r - sigRows + 1; k <= r; k++ {
					m.sigs = append(m.sigs, sigEntry{segHash(e.cur[off+k*e.w:]), int16(tx), int16(ty), int32(k)})
				}
				break
			}
		}
	}
	if len(m.sigs) == 0 {
		ops.uvarint(0)
		return
	}
	// By hash, then tile and row (the order they were appended in).
	m.sigs, m.sigTmp = sortSigs(m.sigs, m.sigTmp)
	// Signature lookup: a 2^20-bit Bloom filter (two bits per hash), then an open-addressing table
	// from hash to its run in the sorted signatures. Hashes shared by
	// more than maxSigRun tiles (repeated text lines) are too ambiguous to
	// vote and are left out.
	if m.filter == nil {
		m.filter = make([]uint64, 1<<20/64)
	}
	clear(m.filter)
	tsize := 1
	for tsize < 2*len(m.sigs) {
		tsize <<= 1
	}
	if cap(m.table) < tsize {
		m.table = make([]sigSlot, tsize)
	}
	m.table = m.table[:tsize]
	for i := range m.table {
		m.table[i].idx = -1
	}
	mask := uint64(tsize - 1)
	// The filter and the table are indexed by the high bits of the hash
	// times an odd constant: the polynomial hash's own bits are not
	// spread evenly over rows of text (its low bits depend only on the
	// pixels' low bits, and its high bits cluster), and linear probing
	// in a clustered table walked runs of dozens of slots.
	shift := uint(64 - bits.Len(uint(tsize-1)))
	for i := 0; i < len(m.sigs); {
		j := i + 1
		for j < len(m.sigs) && m.sigs[j].hash == m.sigs[i].hash {
			j++
		}
		if j-i <= maxSigRun {
			hs := m.sigs[i].hash
			hm := hs * sigMix
			k, k2 := hm>>44, hm>>24&(1<<20-1)
			m.filter[k>>6] |= 1 << (k & 63)
			m.filter[k2>>6] |= 1 << (k2 & 63)
			for p := hm >> shift; ; p = (p + 1) & mask {
				if m.table[p].idx < 0 {
					m.table[p] = sigSlot{hs, int32(i)}
					break
				}
			}
		}
		i = j
	}
	m.votes.reset()
	// Slide over the old framebuffer inside the changed area.
	var pow uint64 = 1
	for i := 0; i < tileSize-1; i++ {
		pow *= rollBase
	}
	x0, x1 := bx0*tileSize, min(bx1*tileSize, e.w)
	y0, y1 := by0*tileSize, min(by1*tileSize, e.h)
	nvotes := 0
scan:
	for y := (y0 + sigRows - 1) / sigRows * sigRows; y < y1; y += sigRows {
		row := e.rec[y*e.w+x0 : y*e.w+x1]
		if len(row) < tileSize {
			break
		}
		h := segHash(row)
		for x := 0; ; x++ {
			hm := h * sigMix
			k := hm >> 44
			k2 := hm >> 24 & (1<<20 - 1)
			if m.filter[k>>6]&(1<<(k&63)) != 0 && m.filter[k2>>6]&(1<<(k2&63)) != 0 {
				for p := hm >> shift; m.table[p].idx >= 0; p = (p + 1) & mask {
					if m.table[p].hash != h {
						continue
					}
					i := int(m.table[p].idx)
					for ; i < len(m.sigs) && m.sigs[i].hash == h; i++ {
						s := m.sigs[i]
						tx, ty := int(s.tx), int(s.ty)
						v := vec{int32(x0 + x - tx*tileSize), int32(y - ty*tileSize - int(s.row))}
						if v.dx != 0 || v.dy != 0 {
							m.votes.add(v)
							if nvotes++; nvotes >= maxVotes {
								break scan
							}
						}
					}
					break
				}
			}
			if x+tileSize >= len(row) {
				break
			}
			h = (h-uint64(row[x])*pow)*rollBase + uint64(row[x+tileSize])
		}
	}
	// The maxVectors best: most votes, then smallest dy, then dx.
	better := func(a vec, na int32, b vec, nb int32) bool {
		if na != nb {
			return na > nb
		}
		if a.dy != b.dy {
			return a.dy < b.dy
		}
		return a.dx < b.dx
	}
	var top [maxVectors]vec
	var topN [maxVectors]int32
	n := 0
	for i, v := range m.votes.keys[:m.votes.n] {
		c := m.votes.count[i]
		if c < 2 || (n == maxVectors && !better(v, c, top[n-1], topN[n-1])) {
			continue
		}
		if n < maxVectors {
			n++
		}
		j := n - 1
		for j > 0 && better(v, c, top[j-1], topN[j-1]) {
			top[j], topN[j] = top[j-1], topN[j-1]
			j--
		}
		top[j], topN[j] = v, c
	}
	m.ranked = append(m.ranked[:0], top[:n]...)
	if len(m.ranked) == 0 {
		ops.uvarint(0)
		return
	}
	// Verify tile by tile, trying the left neighbour's vector first.
	m.vecOf = slices.Grow(m.vecOf[:0], len(e.dirty))[:len(e.dirty)]
	prevT, prevV := int32(-2), int32(0)
	for i, t := range e.dirty {
		m.vecOf[i] = 0
		tried := int32(0)
		if prevT == t-1 && prevV > 0 {
			tried = prevV
			if e.tileMatches(int(t), m.ranked[prevV-1]) {
				m.vecOf[i] = prevV
			}
		}
		if m.vecOf[i] == 0 {
			for k, v := range m.ranked {
				if int32(k+1) != tried && e.tileMatches(int(t), v) {
					m.vecOf[i] = int32(k + 1)
					break
				}
			}
		}
		prevT, prevV = t, m.vecOf[i]
	}
	// Tiles no displacement explains fully (the edge of a scrolled view or
	// of a moved window) still take the copy that explains most of their
	// pixels, if that beats leaving them in place: the residual coder then
	// sends only the pixels that differ.
	// Tried: the two best vectors and those of fully matched neighbours
	// (the tile lies on the border of a moved region).
	m.partial = slices.Grow(m.partial[:0], len(e.dirty))[:len(e.dirty)]
	if cap(m.full) < e.tw*e.th {
		m.full = make([]int32, e.tw*e.th)
	}
	m.full = m.full[:e.tw*e.th]
	// Only vectors that explain some tile fully are tried: a
	// displacement no tile confirms (hash hits between unrelated text on
	// a new page) rarely explains much of one, and counting the pixels
	// it explains cost a tenth of such a frame.
	var verified [maxVectors + 1]bool
	for i, t := range e.dirty {
		m.full[t] = m.vecOf[i]
		verified[m.vecOf[i]] = true
	}
	for i, t := range e.dirty {
		m.partial[i] = false
		if m.vecOf[i] != 0 {
			continue
		}
		var tried [10]int32
		nt := 0
		for k := range min(2, len(m.ranked)) {
			if verified[k+1] {
				tried[nt] = int32(k + 1)
				nt++
			}
		}
		tx, ty := int(t)%e.tw, int(t)/e.tw
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				nx, ny := tx+dx, ty+dy
				if nx < 0 || ny < 0 || nx >= e.tw || ny >= e.th {
					continue
				}
				if k := m.full[ny*e.tw+nx]; k != 0 && !slices.Contains(tried[:nt], k) {
					tried[nt] = k
					nt++
				}
			}
		}
		// The copies first, then, if one explains enough, whether the
		// tile left in place keeps as many pixels: on new content the
		// copies' counts stop early, while the count in place (the same
		// background) runs through the tile.
		best, k := minPartialMatch, int32(0)
		for _, kk := range tried[:nt] {
			if n := e.matchCount(int(t), m.ranked[kk-1], best); n > best {
				best, k = n, kk
			}
		}
		if k != 0 && e.matchCount(int(t), vec{}, best-1) < best {
			m.vecOf[i] = k
			m.partial[i] = true
		}
	}
	for _, t := range e.dirty {
		m.full[t] = 0
	}
	m.rects = e.vecRects(m.vecOf, m.partial, m.rects[:0])
	m.copies = m.copies[:0]
	for _, r := range m.rects {
		m.copies = append(m.copies, copyRun{r.x0, r.x1, r.y0, r.y1, m.ranked[r.vi-1]})
	}
	ops.uvarint(uint64(len(m.copies)))
	for _, c := range m.copies {
		ops.copyRect(c)
	}
	e.copyTmp = applyCopies(e.rec, e.w, e.h, m.copies, e.copyTmp)
	e.stats.Copies += int64(len(m.copies))
	e.dropCopied(&e.stats.TilesCopied)
}

// vecRect is a rect of tiles (x0..x1, y0..y1 exclusive) that all take
// displacement vi (an index+1 into the caller's list).
type vecRect struct{ x0, x1, y0, y1, vi int32 }

// vecRects merges the dirty tiles that take a displacement (vecOf, per
// dirty index: index+1, 0 none) into rects, appended to out: runs per
// tile row, then runs of the same span and displacement in consecutive
// rows. The tiles a copy explains whole (not partial) become stCopied.
func (e *Encoder) vecRects(vecOf []int32, partial []bool, out []vecRect) []vecRect {
	for i := 0; i < len(e.dirty); {
		vi := vecOf[i]
		if vi == 0 {
			i++
			continue
		}
		t := e.dirty[i]
		j := i + 1
		for j < len(e.dirty) && e.dirty[j] == e.dirty[j-1]+1 && e.dirty[j]%int32(e.tw) != 0 && vecOf[j] == vi {
			j++
		}
		tx, ty := t%int32(e.tw), t/int32(e.tw)
		run := vecRect{tx, tx + int32(j-i), ty, ty + 1, vi}
		merged := false
		for k := range out {
			if o := &out[k]; o.y1 == ty && o.x0 == run.x0 && o.x1 == run.x1 && o.vi == vi {
				o.y1++
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, run)
		}
		for k := i; k < j; k++ {
			if !partial[k] {
				e.state[e.dirty[k]] = stCopied
			}
		}
		i = j
	}
	return out
}

// dropCopied drops the tiles copies explain (stCopied) from e.dirty and
// counts them in n.
func (e *Encoder) dropCopied(n *int64) {
	kept := e.dirty[:0]
	for _, t := range e.dirty {
		if e.state[t] == stCopied {
			e.state[t] = stClean
			*n++
			continue
		}
		kept = append(kept, t)
	}
	e.dirty = kept
}

// copyRect writes a copy rect: x y w h in tiles, dx dy in pixels.
func (w *wbuf) copyRect(c copyRun) {
	w.uvarint(uint64(c.x0))
	w.uvarint(uint64(c.y0))
	w.uvarint(uint64(c.x1 - c.x0))
	w.uvarint(uint64(c.y1 - c.y0))
	w.svarint(int64(c.v.dx))
	w.svarint(int64(c.v.dy))
}

// voteTable counts votes per displacement: an open-addressing table of
// at most voteCap displacements (later new ones are ignored) that keeps
// insertion order, so ties rank the same way every run.
type voteTable struct {
	slot  [2 * voteCap]int16 // index+1 into keys, 0 empty
	keys  [voteCap]vec
	count [voteCap]int32
	n     int
}

const voteCap = 1 << 14

func (t *voteTable) reset() {
	clear(t.slot[:])
	t.n = 0
}

func (t *voteTable) find(v vec) (int, bool) {
	h := (uint32(v.dx)*0x9E3779B1 ^ uint32(v.dy)*0x85EBCA77) % (2 * voteCap)
	for {
		s := t.slot[h]
		if s == 0 {
			return int(h), false
		}
		if t.keys[s-1] == v {
			return int(s - 1), true
		}
		h = (h + 1) % (2 * voteCap)
	}
}

func (t *voteTable) add(v vec) {
	i, ok := t.find(v)
	if ok {
		t.count[i]++
		return
	}
	if t.n == voteCap {
		return
	}
	t.slot[i] = int16(t.n + 1)
	t.keys[t.n], t.count[t.n] = v, 1
	t.n++
}

func (t *voteTable) get(v vec) int32 {
	if i, ok := t.find(v); ok {
		return t.count[i]
	}
	return 0
}

// minPartialMatch is the fewest pixels of a tile a copy must explain to be
// used for part of the tile.
const minPartialMatch = tileSize * tileSize / 4

// matchCount counts the pixels of tile t of cur that equal the old
// framebuffer displaced by v (-1 if the source leaves the screen). It
// stops early, with a count of at most floor, once the count cannot
// exceed floor.
func (e *Encoder) matchCount(t int, v vec, floor int) int { return e.matchCountIn(e.rec, t, v, floor) }

// matchCountIn counts the pixels of tile t of cur that equal src
// displaced by v, as matchCount does for the framebuffer.
func (e *Encoder) matchCountIn(src []uint32, t int, v vec, floor int) int {
	x0, y0, w, h := e.tileBox(t)
	off := y0*e.w + x0
	x, y := x0+int(v.dx), y0+int(v.dy)
	if x < 0 || y < 0 || x+w > e.w || y+h > e.h {
		return -1
	}
	so := y*e.w + x
	n := 0
	for r := 0; r < h; r++ {
		a, b := e.cur[off+r*e.w:off+r*e.w+w], src[so+r*e.w:so+r*e.w+w]
		if w == tileSize {
			n += equalCount16((*[tileSize]uint32)(a), (*[tileSize]uint32)(b))
		} else {
			for i := range a {
				n += b2i(a[i] == b[i])
			}
		}
		if n+(h-r-1)*w <= floor {
			return n
		}
	}
	return n
}

// equalCount16 counts the places where a and b hold the same pixel,
// written out for a tile's row.
func equalCount16(a, b *[tileSize]uint32) int {
	return b2i(a[0] == b[0]) + b2i(a[1] == b[1]) + b2i(a[2] == b[2]) + b2i(a[3] == b[3]) +
		b2i(a[4] == b[4]) + b2i(a[5] == b[5]) + b2i(a[6] == b[6]) + b2i(a[7] == b[7]) +
		b2i(a[8] == b[8]) + b2i(a[9] == b[9]) + b2i(a[10] == b[10]) + b2i(a[11] == b[11]) +
		b2i(a[12] == b[12]) + b2i(a[13] == b[13]) + b2i(a[14] == b[14]) + b2i(a[15] == b[15])
}

// flat reports whether the row is one colour: whether it equals itself
// moved by a pixel (the runtime's vectorised compare: most rows of a
// page are flat, and the loop over them cost 2 % of such a frame).
func flat(row []uint32) bool { return len(row) < 2 || equalU32(row[1:], row[:len(row)-1]) }

// tileMatches reports whether tile t of cur equals the old framebuffer
// displaced by v.
func (e *Encoder) tileMatches(t int, v vec) bool { return e.tileMatchesIn(e.rec, t, v) }

// tileMatchesIn reports whether tile t of cur equals src (the
// framebuffer or a reference screen) displaced by v.
func (e *Encoder) tileMatchesIn(src []uint32, t int, v vec) bool {
	x0, y0, w, h := e.tileBox(t)
	off := y0*e.w + x0
	x, y := x0+int(v.dx), y0+int(v.dy)
	if x < 0 || y < 0 || x+w > e.w || y+h > e.h {
		return false
	}
	so := y*e.w + x
	// Most tries fail: a pixel in the middle of the tile and the first
	// one settle most of them before a row is compared.
	mid := (h/2)*e.w + w/2
	if e.cur[off+mid] != src[so+mid] || e.cur[off] != src[so] {
		return false
	}
	for r := 0; r < h; r++ {
		if !equalU32(e.cur[off+r*e.w:off+r*e.w+w], src[so+r*e.w:so+r*e.w+w]) {
			return false
		}
	}
	return true
}

// applyCopies performs copy rects on fb: every source is read before any
// destination is written. Rects are in tile units clipped to the frame,
// and must have been checked to lie inside it.
func applyCopies(fb []uint32, w, h int, cs []copyRun, tmp []uint32) []uint32 {
	tmp = tmp[:0]
	for _, c := range cs {
		x0, y0 := int(c.x0)*tileSize, int(c.y0)*tileSize
		x1, y1 := min(int(c.x1)*tileSize, w), min(int(c.y1)*tileSize, h)
		sx, sy := x0+int(c.v.dx), y0+int(c.v.dy)
		for y := 0; y < y1-y0; y++ {
			o := (sy+y)*w + sx
			tmp = append(tmp, fb[o:o+x1-x0]...)
		}
	}
	i := 0
	for _, c := range cs {
		x0, y0 := int(c.x0)*tileSize, int(c.y0)*tileSize
		x1, y1 := min(int(c.x1)*tileSize, w), min(int(c.y1)*tileSize, h)
		for y := y0; y < y1; y++ {
			i += copy(fb[y*w+x0:y*w+x1], tmp[i:i+x1-x0])
		}
	}
	return tmp
}
