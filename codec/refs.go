package codec

import (
	"math/bits"
	"slices"
)

// Reference screens: both ends keep the last numRefs screens that stood
// still (the places a user stopped to read), so content that comes back
// after it left the screen (a scroll back up, Home, a tab or window
// switched back to) is sent as copies even when it returns at an offset
// the motion search (previous screen only) and the tile cache (16x16
// tiles at their old grid positions) cannot see.
//
// The encoder decides when to save (Still): at the settleUpdates-th
// empty update in a row, or when its caller says the screen stood
// still, if the screen changed since the last save. The next update
// that is not empty carries the save in its flags (empty updates may be
// dropped by the caller): "save the framebuffer as it stands before
// this update" either as a
// new reference (flagSavePush: the oldest is dropped) or in place of the
// newest (flagSaveRepl: the screen changed only a little since, like a
// blinking caret or a typed word, and the older reference is worth more
// than a near copy of the newest). Both ends copy the whole framebuffer.
//
// Copies from a reference follow the copies of secOps once a reference
// has been saved (before that there is no count):
//
//	nref, nref x (ref x y w h s:dx s:dy)   (tile units; ref 0 is the newest)
//
// and are applied after them (their sources never change during an
// update). A keyframe drops the references.

// numRefs is the number of reference screens both ends keep.
const numRefs = 2

// A displacement into a reference is used only if it explains at least
// minRefTiles tiles and at least 1/minRefDensity of the dirty tiles in
// the box around them: a screen that comes back comes back as a region,
// while lines of text that also stood somewhere on an old screen (a
// terminal's listing, repeated words) match tiles scattered among
// others, and their copies cost more than the marks they replace.
const (
	minRefTiles   = 4
	minRefDensity = 4
)

// refVoteShare: a displacement is verified only if at least
// 1/refVoteShare of the dirty tiles voted for it: a screen that comes
// back brings many tiles along, a coincidence (a line of a listing that
// also stood somewhere on an old screen) a few, and verifying those
// costs as much as the search.
const refVoteShare = 32

// refSampleSigs is the most signatures that vote without a sample
// first.
const refSampleSigs = 4096

// settleUpdates is how many empty updates in a row make the screen count
// as still (at 10 fps, 0.2 s).
const settleUpdates = 2

// Flags of an update that saves the framebuffer before it is applied.
const (
	flagSavePush = 0x40
	flagSaveRepl = 0x80
)

// refStore holds the reference screens, newest first by age.
type refStore struct {
	slots [numRefs][]uint32
	n     int // valid references
	head  int // slot of the newest
}

func (r *refStore) reset() { r.n = 0 }

// slot returns the slot of reference i (0 the newest); i < r.n.
func (r *refStore) slot(i int) int { return (r.head - i + numRefs) % numRefs }

// get returns reference i.
func (r *refStore) get(i int) []uint32 { return r.slots[r.slot(i)] }

// save copies fb into a new reference (push) or over the newest, and
// returns its slot.
func (r *refStore) save(fb []uint32, push bool) int {
	if push || r.n == 0 {
		r.head = (r.head + 1) % numRefs
		r.n = min(r.n+1, numRefs)
	}
	s := r.slots[r.head]
	if len(s) != len(fb) {
		s = make([]uint32, len(fb))
		r.slots[r.head] = s
	}
	copy(s, fb)
	return r.head
}

// refCopy is a copy rect in tile units from reference ref.
type refCopy struct {
	copyRun
	ref int32
}

// applyRefCopies copies each rect from its reference into fb. The rects
// must have been checked to lie inside the screen with their sources.
func applyRefCopies(fb []uint32, w, h int, refs *refStore, cs []refCopy) {
	for _, c := range cs {
		src := refs.get(int(c.ref))
		x0, y0 := int(c.x0)*tileSize, int(c.y0)*tileSize
		x1, y1 := min(int(c.x1)*tileSize, w), min(int(c.y1)*tileSize, h)
		for y := y0; y < y1; y++ {
			o := (y+int(c.v.dy))*w + int(c.v.dx)
			copy(fb[y*w+x0:y*w+x1], src[o+x0:o+x1])
		}
	}
}

// Still tells the encoder that the screen has not changed for a while
// (a few tenths of a second): if it changed since the last time, it
// becomes a reference screen. Encode calls it itself at the
// settleUpdates-th empty update in a row; a caller that does not call
// Encode while nothing changes (and may drop empty updates) calls it
// when the screen has stood still. The work (a copy of the screen and
// its index) is done now; the decoder is told with the next update
// that is not empty, and saves its framebuffer, which has not changed
// since, before applying it.
func (e *Encoder) Still() {
	if !e.started || e.touched == 0 || e.saveFlag != 0 {
		return
	}
	// Less than an eighth of the screen changed since the newest
	// reference: the same screen, refresh it in place.
	push := e.refs.n == 0 || e.touched*8 >= e.tw*e.th
	e.refIdx[e.refs.save(e.rec, push)].build(e.rec, e.w, e.h)
	clear(e.since)
	e.touched = 0
	e.saveFlag = flagSaveRepl
	if push {
		e.saveFlag = flagSavePush
	}
	e.stats.RefSaves++
}

// noteChanged records the dirty tiles as changed since the last save.
func (e *Encoder) noteChanged() {
	e.idle = 0
	for _, t := range e.dirty {
		if !e.since[t] {
			e.since[t] = true
			e.touched++
		}
	}
}

// findRefMotion finds copies from the reference screens for the dirty
// tiles the motion search left, writes them after secOps' copies,
// applies them to rec and drops the tiles they explain from e.dirty.
// It works as findMotion, with its signatures: those of the tiles' rows vote for the
// displacements to where they stand in a reference (looked up in the
// index of its every sigRows-th row made when it was saved), and the
// best are verified exactly.
func (e *Encoder) findRefMotion() {
	ops := &e.sec[secOps]
	m := &e.motion
	if e.refs.n == 0 || e.key {
		return // no count: the decoder holds no reference
	}
	if len(e.dirty) < minMotionTiles {
		ops.uvarint(0)
		return
	}
	// The signatures findMotion made of every dirty tile, of those
	// still dirty.
	left := e.refLeft
	for _, t := range e.dirty {
		left[t] = true
	}
	sigs := e.refSigs[:0]
	for _, s := range m.sigs {
		if left[int(s.ty)*e.tw+int(s.tx)] {
			sigs = append(sigs, s)
		}
	}
	e.refSigs = sigs
	for _, t := range e.dirty {
		left[t] = false
	}
	if len(sigs) < minMotionTiles*sigRows {
		ops.uvarint(0)
		return
	}
	m.vecOf = slices.Grow(m.vecOf[:0], len(e.dirty))[:len(e.dirty)]
	clear(m.vecOf)
	e.refRanked = e.refRanked[:0]
	mask := e.refMask
	for ref := range e.refs.n {
		src := e.refs.get(ref)
		ix := &e.refIdx[e.refs.slot(ref)]
		// On a page of new text most signatures hit lines that stood
		// elsewhere on the old screen: a quarter of the tiles vote
		// first, and the rest only if a displacement could gather
		// enough votes.
		if len(sigs) > refSampleSigs {
			sample := e.refSample[:0]
			for _, s := range sigs {
				if (s.tx+s.ty)&3 == 0 {
					sample = append(sample, s)
				}
			}
			e.refSample = sample
			e.refHits = ix.vote(&m.votes, sample, e.refHits[:0])
			best := int32(0)
			for _, c := range m.votes.count[:m.votes.n] {
				best = max(best, c)
			}
			if c := 4 * best; c < minRefTiles || int(c)*refVoteShare < len(e.dirty) {
				continue
			}
		}
		e.refHits = ix.vote(&m.votes, sigs, e.refHits[:0])
		// The best few displacements of this reference, most votes
		// first, then in the order they were first seen. A
		// displacement needs minRefTiles tiles, and a tile votes once
		// for it (one of its signature rows is indexed).
		first := len(e.refRanked)
		for i, v := range m.votes.keys[:m.votes.n] {
			c := m.votes.count[i]
			if c < minRefTiles || int(c)*refVoteShare < len(e.dirty) {
				continue
			}
			r := e.refRanked[first:]
			if len(r) == maxVectors && c <= r[len(r)-1].n {
				continue
			}
			if len(r) < maxVectors {
				e.refRanked = append(e.refRanked, refVec{})
			}
			r = e.refRanked[first:]
			j := len(r) - 1
			for j > 0 && c > r[j-1].n {
				r[j] = r[j-1]
				j--
			}
			r[j] = refVec{v, int32(ref), c}
		}
		if len(e.refRanked) == first {
			continue
		}
		// A tile with signatures is tried with the displacements it
		// voted for (a bit per rank) and its left neighbour's; one
		// without (too flat to vote) with all.
		for _, s := range sigs {
			mask[int(s.ty)*e.tw+int(s.tx)] = hasSigs
		}
		for _, h := range e.refHits {
			for k, rv := range e.refRanked[first:] {
				if rv.v == h.v {
					mask[h.t] |= 1 << k
					break
				}
			}
		}
		prevT, prevV := int32(-2), int32(0)
		for i, t := range e.dirty {
			if m.vecOf[i] != 0 {
				mask[t] = 0
				prevT, prevV = t, m.vecOf[i]
				continue
			}
			if prevT == t-1 && prevV > int32(first) && e.tileMatchesIn(src, int(t), e.refRanked[prevV-1].v) {
				m.vecOf[i] = prevV
			} else {
				b := mask[t] &^ hasSigs
				if mask[t] == 0 {
					b = 1<<(len(e.refRanked)-first) - 1
				}
				for ; b != 0; b &= b - 1 {
					k := first + bits.TrailingZeros16(b)
					if int32(k+1) != prevV && e.tileMatchesIn(src, int(t), e.refRanked[k].v) {
						m.vecOf[i] = int32(k + 1)
						break
					}
				}
			}
			mask[t] = 0
			prevT, prevV = t, m.vecOf[i]
		}
	}
	// Displacements that explain too few tiles, or tiles scattered
	// among others, are dropped (minRefTiles).
	const nv = numRefs * maxVectors
	var count, inBox [nv]int32
	var box [nv][4]int32
	for i, k := range m.vecOf {
		if k == 0 {
			continue
		}
		tx, ty := e.dirty[i]%int32(e.tw), e.dirty[i]/int32(e.tw)
		b := &box[k-1]
		if count[k-1] == 0 {
			*b = [4]int32{tx, ty, tx, ty}
		}
		b[0], b[1], b[2], b[3] = min(b[0], tx), min(b[1], ty), max(b[2], tx), max(b[3], ty)
		count[k-1]++
	}
	for _, t := range e.dirty {
		tx, ty := t%int32(e.tw), t/int32(e.tw)
		for k := range nv {
			if b := &box[k]; count[k] != 0 && tx >= b[0] && tx <= b[2] && ty >= b[1] && ty <= b[3] {
				inBox[k]++
			}
		}
	}
	for i, k := range m.vecOf {
		if k != 0 && (count[k-1] < minRefTiles || count[k-1]*minRefDensity < inBox[k-1]) {
			m.vecOf[i] = 0
		}
	}
	if !slices.ContainsFunc(m.vecOf, func(k int32) bool { return k != 0 }) {
		ops.uvarint(0)
		return
	}
	// Tiles next to a copied one that no displacement explains fully
	// (the edge of the returning region, something drawn over it) take
	// the neighbour's copy if it explains more of their pixels than
	// leaving them in place: the residual coder sends the rest.
	full := e.refFull
	for i, k := range m.vecOf {
		full[e.dirty[i]] = k
	}
	m.partial = slices.Grow(m.partial[:0], len(e.dirty))[:len(e.dirty)]
	for i, t := range e.dirty {
		m.partial[i] = false
		if m.vecOf[i] != 0 {
			continue
		}
		tx, ty := int(t)%e.tw, int(t)/e.tw
		var tried [8]int32
		nt := 0
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				nx, ny := tx+dx, ty+dy
				if nx < 0 || ny < 0 || nx >= e.tw || ny >= e.th {
					continue
				}
				if k := full[ny*e.tw+nx]; k != 0 && !slices.Contains(tried[:nt], k) {
					tried[nt] = k
					nt++
				}
			}
		}
		best, bk := minPartialMatch, int32(0)
		for _, k := range tried[:nt] {
			rv := e.refRanked[k-1]
			if n := e.matchCountIn(e.refs.get(int(rv.ref)), int(t), rv.v, best); n > best {
				best, bk = n, k
			}
		}
		if bk != 0 && e.matchCount(int(t), vec{}, best-1) < best {
			m.vecOf[i] = bk
			m.partial[i] = true
		}
	}
	for _, t := range e.dirty {
		full[t] = 0
	}
	m.rects = e.vecRects(m.vecOf, m.partial, m.rects[:0])
	open := e.refCopies[:0]
	for _, r := range m.rects {
		rv := e.refRanked[r.vi-1]
		open = append(open, refCopy{copyRun{r.x0, r.x1, r.y0, r.y1, rv.v}, rv.ref})
	}
	e.refCopies = open
	ops.uvarint(uint64(len(open)))
	for _, c := range open {
		ops.uvarint(uint64(c.ref))
		ops.copyRect(c.copyRun)
	}
	if len(open) == 0 {
		return
	}
	applyRefCopies(e.rec, e.w, e.h, &e.refs, open)
	e.stats.RefCopies += int64(len(open))
	e.dropCopied(&e.stats.TilesRefCopied)
}

// refVec is a displacement into reference ref, with its votes.
type refVec struct {
	v      vec
	ref, n int32
}

// hasSigs marks, in findRefMotion's per-tile masks of displacements,
// a tile that has signatures.
const hasSigs = 1 << 15

// refHit is a vote of tile t for displacement v.
type refHit struct {
	t int32
	v vec
}

// applyRefCopies reads the reference copies that follow secOps' copies,
// checks them and applies them.
func (d *Decoder) applyRefCopies(r *rbuf) error {
	if d.refs.n == 0 {
		return nil // no count before the first reference
	}
	n := r.intn(d.tw*d.th, "reference copy count")
	d.refCopies = d.refCopies[:0]
	area := 0
	for i := 0; i < n && r.err == nil; i++ {
		ref := r.intn(numRefs-1, "reference")
		c, err := d.readCopy(r, i, "reference copy", &area)
		if err != nil {
			return err
		}
		if r.err != nil {
			break
		}
		if ref >= d.refs.n {
			return corruptf("reference copy %d: no reference %d", i, ref)
		}
		d.refCopies = append(d.refCopies, refCopy{c, int32(ref)})
	}
	if r.err != nil {
		return r.err
	}
	applyRefCopies(d.pix, d.w, d.h, &d.refs, d.refCopies)
	return nil
}

// refIndex finds the 16-pixel row segments of a reference screen by
// hash: those of every sigRows-th row, at every x, except flat ones (a
// signature is never flat). It is made once per saved screen, on an idle
// update, so that the search on a busy one costs a lookup per signature
// instead of a pass over the screen.
type refIndex struct {
	w    int
	tw   int     // tiles per row
	head []int32 // per slot (high bits of hash*sigMix): first entry+1, 0 none
	next []int32 // per entry: next entry+1 in the same slot
	hash []uint64
	pos  []int32 // y*w + x
	sh   uint
}

func (ix *refIndex) build(fb []uint32, w, h int) {
	ix.w, ix.tw = w, (w+tileSize-1)/tileSize
	ix.hash, ix.pos, ix.next = ix.hash[:0], ix.pos[:0], ix.next[:0]
	var pow uint64 = 1
	for range tileSize - 1 {
		pow *= rollBase
	}
	for y := 0; y < h && w >= tileSize; y += sigRows {
		row := fb[y*w : y*w+w]
		hs := segHash(row)
		// run: how many pixels up to x+tileSize-1 equal the last one.
		run := 1
		for x := tileSize - 2; x >= 0 && row[x] == row[tileSize-1]; x-- {
			run++
		}
		for x := 0; ; x++ {
			if run < tileSize {
				ix.hash = append(ix.hash, hs)
				ix.pos = append(ix.pos, int32(y*w+x))
			}
			if x+tileSize >= len(row) {
				break
			}
			if row[x+tileSize] == row[x+tileSize-1] {
				run++
			} else {
				run = 1
			}
			hs = (hs-uint64(row[x])*pow)*rollBase + uint64(row[x+tileSize])
		}
	}
	n := 1
	for n < 2*len(ix.hash) {
		n <<= 1
	}
	ix.sh = uint(64 - bits.Len(uint(n-1)))
	if cap(ix.head) < n {
		ix.head = make([]int32, n)
	}
	ix.head = ix.head[:n]
	clear(ix.head)
	ix.next = slices.Grow(ix.next, len(ix.hash))[:len(ix.hash)]
	for i, hs := range ix.hash {
		p := hs * sigMix >> ix.sh
		ix.next[i] = ix.head[p]
		ix.head[p] = int32(i + 1)
	}
}

// vote counts in votes, for each signature whose segment stands in the
// reference at most maxSigRun times, the displacements to those places,
// and appends each vote to hits.
func (ix *refIndex) vote(votes *voteTable, sigs []sigEntry, hits []refHit) []refHit {
	votes.reset()
	if len(ix.head) == 0 {
		return hits
	}
	nvotes := 0
	var at [maxSigRun]int32
	for _, s := range sigs {
		n := 0
		for i := ix.head[s.hash*sigMix>>ix.sh]; i != 0; i = ix.next[i-1] {
			if ix.hash[i-1] != s.hash {
				continue
			}
			if n == maxSigRun {
				n++
				break
			}
			at[n] = ix.pos[i-1]
			n++
		}
		if n > maxSigRun {
			continue
		}
		for _, p := range at[:n] {
			y := int(p) / ix.w
			x := int(p) - y*ix.w
			v := vec{int32(x - int(s.tx)*tileSize), int32(y - int(s.ty)*tileSize - int(s.row))}
			votes.add(v)
			hits = append(hits, refHit{int32(s.ty)*int32(ix.tw) + int32(s.tx), v})
			if nvotes++; nvotes >= maxVotes {
				return hits
			}
		}
	}
	return hits
}
