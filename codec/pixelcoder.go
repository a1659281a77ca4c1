package codec

import (
	"bytes"
	"math/bits"
	"unsafe"
)

// Pixel tiles (text, UI, anything with few colours) are coded with the
// range coder against the decoder's framebuffer as it stands when the
// tile is reached: after the copies, lossy rects and marks of the update
// and after the tiles before it in raster order. Nothing is reset at a
// tile's border: the pixels above and to the left come from the
// neighbouring tiles, and the models persist from keyframe to keyframe.
//
// A tile is first "fresh" (no pixel equals the framebuffer's: new
// content, keyframes) or not. Each row of the tile is then, unless the
// tile is fresh, "all kept" (every pixel equals the framebuffer's: the
// tile changed elsewhere), else "same as the row above", else coded pixel
// by pixel:
//
//   - "kept" (not in fresh tiles): the pixel equals the framebuffer's (the previous frame's,
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
	fresh   [2]prob
	rowKeep [4]prob
	rowN    [8]prob
	keep    [36]prob
	eq      [numCands][256]prob
	pred    [3][1 << predBits]uint32 // colour, alpha byte replaced by predTag
	color   colorModel
	// Per-row "kept" flags of the tile being coded (0 kept, 1 written).
	kept [2][tileSize]uint8
	// prevFresh: the last tile coded was fresh.
	prevFresh int
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

// How the previous pixel of a row was coded: part of the context of the
// candidates' bits (runs of one kind).
const (
	hitKept  = iota // kept, or first coded pixel of the row
	hitW            // same as W
	hitCand         // another candidate
	hitColor        // by the recent colours or literally
	hitNone  = hitKept
)

func hitClass(hit int) int {
	switch hit {
	case candW:
		return hitW
	case numCands:
		return hitColor
	}
	return hitCand
}

// Row modes, and the context of the next row's mode.
const (
	rowKept = iota
	rowSameN
	rowCoded
	rowFirst
)

func (m *pixModel) reset() {
	initProbs(m.fresh[:])
	m.prevFresh = 0
	initProbs(m.rowKeep[:])
	initProbs(m.rowN[:])
	initProbs(m.keep[:])
	for i := range m.eq {
		initProbs(m.eq[i][:])
	}
	for i := range m.pred {
		clear(m.pred[i][:])
	}
	m.color.reset()
}

// predTag is the check a remembered colour keeps, in place of its
// alpha byte, of the neighbourhood it came after: the low bits of its
// hash (the slot is chosen by the high bits). A colour is offered only
// where the check matches: neighbourhoods that share a slot do not
// offer each other's colours (but 1 in 256 still does).
func predTag(h uint32) uint32 { return h & 0xff }

// encode codes the w x h tile of cur at off (screen width sw) against fb,
// the decoder's framebuffer, and writes the tile into fb as it goes.
func (m *pixModel) encode(e *rcEncoder, cur, fb []uint32, off, sw, w, h int) {
	gx0, gy0 := off%sw, off/sw
	mode := rowFirst
	fresh := 1
	for y := 0; y < h && fresh == 1; y++ {
		row, dst := cur[off+y*sw:off+y*sw+w], fb[off+y*sw:off+y*sw+w]
		for x := range row {
			if row[x] == dst[x] {
				fresh = 0
				break
			}
		}
	}
	e.bit(&m.fresh[m.prevFresh], fresh)
	m.prevFresh = fresh
	for y := 0; y < h; y++ {
		gy := gy0 + y
		row := cur[off+y*sw : off+y*sw+w]
		dst := fb[off+y*sw : off+y*sw+w]
		kc := m.kept[y&1][:w]
		var kp []uint8
		if y > 0 {
			kp = m.kept[(y-1)&1][:w]
		}
		if fresh == 0 {
			same := equalU32(row, dst)
			e.bit(&m.rowKeep[mode], b2i(same))
			if same {
				clear(kc)
				mode = rowKept
				continue
			}
		}
		if gy > 0 {
			above := fb[off+(y-1)*sw : off+(y-1)*sw+w]
			same := equalU32(row, above)
			e.bit(&m.rowN[mode+4*fresh], b2i(same))
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
		m.encodeRow(e, row, fb, off+y*sw, gx0, gy, sw, kp, kc, fresh == 1)
	}
}

// rowStart returns the neighbours of a row's first pixel, w pixels from
// fb[i0] (screen column gx0, screen row gy, screen width sw), and the two
// rows above it, as wide (nil above the screen): W and WW left of it,
// N and NW above, and NE of its last pixel. Outside the screen they are 0.
func rowStart(fb []uint32, i0, w, gx0, gy, sw int) (wv, ww, n, nw, neEnd uint32, up, up2 []uint32) {
	if gx0 > 0 {
		wv = fb[i0-1]
		if gx0 > 1 {
			ww = fb[i0-2]
		}
	}
	if gy > 0 {
		up = fb[i0-sw : i0-sw+w]
		n = up[0]
		if gx0 > 0 {
			nw = fb[i0-sw-1]
		}
		if gx0+w < sw {
			neEnd = fb[i0-sw+w]
		}
		if gy > 1 {
			up2 = fb[i0-2*sw : i0-2*sw+w]
		}
	}
	return
}

// above returns NE and NN of pixel x from the rows above (up, up2: nil
// above the screen, ne then kept), NE past the row's end being neEnd.
func above(up, up2 []uint32, x int, ne, neEnd uint32) (uint32, uint32) {
	var nn uint32
	if up != nil {
		ne = neEnd
		if x+1 < len(up) {
			ne = up[x+1]
		}
		if up2 != nil {
			nn = up2[x]
		}
	}
	return ne, nn
}

// keepCtx is the context of pixel x's "kept" bit: whether W and N were
// kept (kc, kp: 2 outside the tile) and whether the old pixel continues
// W or N.
func keepCtx(kc, kp []uint8, x int, old, w, n uint32) int {
	kw, kn := 2, 2
	if x > 0 {
		kw = int(kc[x-1])
	}
	if kp != nil {
		kn = int(kp[x])
	}
	k := (kw*3 + kn) * 4
	if old == w {
		k++
	}
	if old == n {
		k += 2
	}
	return k
}

// sigOf tells how the neighbours relate: the context of the candidates'
// bits (edges, runs, corners).
func sigOf(w, n, ne, nw, ww, nn uint32) int {
	sig := 0
	if w == n {
		sig |= 1
	}
	if n == ne {
		sig |= 2
	}
	if w == nw {
		sig |= 4
	}
	if n == nw {
		sig |= 8
	}
	if w == ww {
		sig |= 16
	}
	if n == nn {
		sig |= 32
	}
	return sig
}

// cands returns the pixel's keys into the prediction tables and the
// candidates after W and N: NE, NW and the colours remembered after its
// neighbourhoods (0 where none is). The three table reads are issued
// together: the tables are larger than the cache, and these are the
// pixels that miss.
func (m *pixModel) cands(w, n, nw, ne, ww, nn uint32) (keys [3]uint32, cands [numCands - candNE]uint32) {
	keys = [3]uint32{predHash(w, n, nw, ne, 0), predHash(w, n, 0, 0, 1), predHash(ww, w, nn, n, 2)}
	cands = [numCands - candNE]uint32{ne, nw,
		m.pred[0][keys[0]>>(32-predBits)],
		m.pred[1][keys[1]>>(32-predBits)],
		m.pred[2][keys[2]>>(32-predBits)]}
	for j := range keys {
		if p := cands[2+j]; p != 0 && p>>24 == predTag(keys[j]) {
			cands[2+j] = p | opaque
		} else {
			cands[2+j] = 0
		}
	}
	return keys, cands
}

// offered reports whether candidate j (cv) is offered: unless it is
// absent, the kept colour or one offered before: W or N (offered where
// they differ from the kept colour) or an earlier candidate (offered, or
// itself one offered before).
func offered(cands *[numCands - candNE]uint32, j int, cv, old, w, n uint32) bool {
	return !(cv == 0 || cv == old || cv == w || cv == n ||
		j > 0 && cv == cands[0] || j > 1 && cv == cands[1] ||
		j > 2 && cv == cands[2] || j > 3 && cv == cands[3])
}

// remember makes v the colour remembered after the pixel's
// neighbourhoods (keys).
func (m *pixModel) remember(keys *[3]uint32, v uint32) {
	for j := range m.pred {
		m.pred[j][keys[j]>>(32-predBits)] = v&^opaque | predTag(keys[j])<<24
	}
}

// encodeRow codes one row of a tile pixel by pixel (row holds the
// source pixels, fb[i0:] the framebuffer's row, from screen column gx0
// on screen row gy), and writes it into fb as it goes; decodeRow mirrors
// it step for step. The neighbours are read from row slices into locals,
// W and N, which most pixels equal, are tried first, and the other
// candidates are gathered at once.
func (m *pixModel) encodeRow(e *rcEncoder, row, fb []uint32, i0, gx0, gy, sw int, kp, kc []uint8, fresh bool) {
	prevHit := hitNone
	cur := fb[i0 : i0+len(row)]
	kc = kc[:len(row)]
	// The neighbours slide along the row: W and WW are the row's own
	// pixels once coded (the framebuffer takes them), N and NW the NE
	// and N of the pixel before.
	w, ww, n, nw, neEnd, up, up2 := rowStart(fb, i0, len(row), gx0, gy, sw)
	var ne uint32
	for x, v := range row {
		if x > 0 {
			ww, w = w, row[x-1]
			nw, n = n, ne
		}
		var nn uint32
		ne, nn = above(up, up2, x, ne, neEnd)
		old := cur[x]
		kc[x] = 1
		if !fresh {
			k := keepCtx(kc, kp, x, old, w, n)
			if v == old {
				e.bit(&m.keep[k], 1)
				kc[x] = 0
				prevHit = hitKept
				continue
			}
			e.bit(&m.keep[k], 0)
		}
		ctx := sigOf(w, n, ne, nw, ww, nn) | prevHit<<6
		cur[x] = v
		// W, then N: no earlier candidate to repeat but W.
		if w != 0 && w != old {
			if v == w {
				e.bit(&m.eq[candW][ctx], 1)
				prevHit = hitW
				continue
			}
			e.bit(&m.eq[candW][ctx], 0)
		}
		if n != 0 && n != old && n != w {
			if v == n {
				e.bit(&m.eq[candN][ctx], 1)
				prevHit = hitCand
				continue
			}
			e.bit(&m.eq[candN][ctx], 0)
		}
		// NE, NW and the remembered colours, in the decoder's order;
		// nt counts the colours offered.
		keys, cands := m.cands(w, n, nw, ne, ww, nn)
		nt := b2i(w != 0 && w != old) + b2i(n != 0 && n != old && n != w)
		hit := numCands
		for j, cv := range cands {
			if !offered(&cands, j, cv, old, w, n) {
				continue
			}
			k := candNE + j
			if v == cv {
				e.bit(&m.eq[k][ctx], 1)
				hit = k
				break
			}
			e.bit(&m.eq[k][ctx], 0)
			nt++
		}
		if hit == numCands {
			ref, act := litPred(w, n, nw)
			m.color.encode(e, v, min(nt, 4), ref, act)
		}
		if hit >= candPred {
			// Pixels that equal W or N teach nothing those candidates do
			// not already offer.
			m.remember(&keys, v)
		}
		prevHit = hitClass(hit)
	}
}

// decode reads a tile coded by encode into fb.
func (m *pixModel) decode(d *rcDecoder, fb []uint32, off, sw, w, h int) {
	gx0, gy0 := off%sw, off/sw
	mode := rowFirst
	fresh := d.bit(&m.fresh[m.prevFresh])
	m.prevFresh = fresh
	for y := 0; y < h; y++ {
		gy := gy0 + y
		dst := fb[off+y*sw : off+y*sw+w]
		kc := m.kept[y&1][:w]
		var kp []uint8
		if y > 0 {
			kp = m.kept[(y-1)&1][:w]
		}
		if fresh == 0 && d.bit(&m.rowKeep[mode]) == 1 {
			clear(kc)
			mode = rowKept
			continue
		}
		if gy > 0 && d.bit(&m.rowN[mode+4*fresh]) == 1 {
			above := fb[off+(y-1)*sw : off+(y-1)*sw+w]
			for x := range kc {
				kc[x] = b2i8(above[x] != dst[x])
			}
			copy(dst, above)
			mode = rowSameN
			continue
		}
		mode = rowCoded
		m.decodeRow(d, fb, off+y*sw, w, gx0, gy, sw, kp, kc, fresh == 1)
	}
}

// decodeRow decodes one row of a tile coded by encodeRow: w pixels into
// fb[i0:] (screen column gx0 on, screen row gy), making its decisions in
// its order.
func (m *pixModel) decodeRow(d *rcDecoder, fb []uint32, i0, w, gx0, gy, sw int, kp, kc []uint8, fresh bool) {
	prevHit := hitNone
	cur := fb[i0 : i0+w]
	kc = kc[:w]
	wv, ww, n, nw, neEnd, up, up2 := rowStart(fb, i0, w, gx0, gy, sw)
	var ne uint32
	for x := range cur {
		if x > 0 {
			ww, wv = wv, cur[x-1]
			nw, n = n, ne
		}
		var nn uint32
		ne, nn = above(up, up2, x, ne, neEnd)
		old := cur[x]
		kc[x] = 1
		if !fresh && d.bit(&m.keep[keepCtx(kc, kp, x, old, wv, n)]) == 1 {
			kc[x] = 0
			prevHit = hitKept
			continue
		}
		ctx := sigOf(wv, n, ne, nw, ww, nn) | prevHit<<6
		if wv != 0 && wv != old && d.bit(&m.eq[candW][ctx]) == 1 {
			cur[x] = wv
			prevHit = hitW
			continue
		}
		if n != 0 && n != old && n != wv && d.bit(&m.eq[candN][ctx]) == 1 {
			cur[x] = n
			prevHit = hitCand
			continue
		}
		keys, cands := m.cands(wv, n, nw, ne, ww, nn)
		nt := b2i(wv != 0 && wv != old) + b2i(n != 0 && n != old && n != wv)
		hit := numCands
		var v uint32
		for j, cv := range cands {
			if !offered(&cands, j, cv, old, wv, n) {
				continue
			}
			k := candNE + j
			if d.bit(&m.eq[k][ctx]) == 1 {
				v, hit = cv, k
				break
			}
			nt++
		}
		if hit == numCands {
			ref, act := litPred(wv, n, nw)
			v = m.color.decode(d, min(nt, 4), ref, act)
		}
		if hit >= candPred {
			m.remember(&keys, v)
		}
		cur[x] = v
		prevHit = hitClass(hit)
	}
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
// 255 most recent ones (a screen's anti-aliased text and icons use a few
// hundred), under a small context chosen by the caller, after one bit
// that says whether the colour is among them; if not, the
// colour itself as green, red - green and blue - green (greys cost one
// channel), each as the zigzagged difference from a prediction, green
// under the activity around the pixel, the others under the size of the
// previous channel's difference.
type colorModel struct {
	known   [5]prob
	mtfLen  [5][16]prob
	mtfLow  [1 << mtfBits]prob
	litLen  [3][numMagCtx][16]prob
	litLow  [3][numMagCtx][256]prob
	recent  [mtfSize]uint32
	nrecent int
	// in counts the recent colours by a hash of 12 bits: a colour whose
	// count is zero is not among them, without a search (at 10 bits a
	// quarter of the new colours searched the whole list).
	in [1 << 12]uint8
}

func (m *colorModel) reset() {
	initProbs(m.known[:])
	for i := range m.mtfLen {
		initProbs(m.mtfLen[i][:])
	}
	initProbs(m.mtfLow[:])
	for i := range m.litLen {
		for j := range m.litLen[i] {
			initProbs(m.litLen[i][j][:])
			initProbs(m.litLow[i][j][:])
		}
	}
	m.nrecent = 0
	clear(m.in[:])
}

func colorHash(c uint32) uint32 { return (c * 0x9E3779B1) >> 20 }

// find returns the place of c among the recent colours, nrecent if it is
// not one of them.
func (m *colorModel) find(c uint32) int {
	if m.in[colorHash(c)] == 0 {
		return m.nrecent
	}
	// The runtime's vectorised search, over the list as bytes (a page
	// of text keeps a few hundred colours, and a colour is often deep
	// in the list); a hit must start on a colour's first byte.
	r := m.recent[:m.nrecent]
	if len(r) == 0 {
		return 0
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&r[0])), 4*len(r))
	key := (*[4]byte)(unsafe.Pointer(&c))[:]
	for off := 0; ; {
		j := bytes.Index(b[off:], key)
		if j < 0 {
			return len(r)
		}
		if j += off; j%4 == 0 {
			return j / 4
		}
		off = j + 1
	}
}

// toFront moves c, found at place i (nrecent: new), to the front.
func (m *colorModel) toFront(i int, c uint32) {
	if i == m.nrecent {
		if m.nrecent < mtfSize {
			m.nrecent++
		} else {
			i = mtfSize - 1
			m.in[colorHash(m.recent[i])]--
		}
		m.in[colorHash(c)]++
	}
	copy(m.recent[1:i+1], m.recent[:i])
	m.recent[0] = c
}

// touch moves c to the front of the recent colours.
func (m *colorModel) touch(c uint32) { m.toFront(m.find(c), c) }

// encodePlace codes a place in the recent colours as its bit length under context k, then the bits below the leading one
// under the bit length alone: deep places are rare, and share their
// statistics across contexts.
func (m *colorModel) encodePlace(e *rcEncoder, k, i int) {
	n := bits.Len(uint(i))
	e.tree(m.mtfLen[k][:], 4, n)
	if n > 1 {
		e.tree(m.mtfLow[1<<(n-1):], n-1, i-1<<(n-1))
	}
}

func (m *colorModel) decodePlace(d *rcDecoder, k int) int {
	n := d.tree(m.mtfLen[k][:], 4)
	if n <= 1 {
		return n
	}
	if n > mtfBits {
		return mtfSize // corrupt: read as a new colour
	}
	return 1<<(n-1) + d.tree(m.mtfLow[1<<(n-1):], n-1)
}

// encodeLit codes z, a zigzagged residual of channel ch under context
// k, as its bit length and then the bits below the leading one: small
// residuals take few steps of the coder.
func (m *colorModel) encodeLit(e *rcEncoder, ch, k, z int) {
	n := bits.Len(uint(z))
	e.tree(m.litLen[ch][k][:], 4, n)
	if n > 1 {
		e.tree(m.litLow[ch][k][1<<(n-1):], n-1, z-1<<(n-1))
	}
}

func (m *colorModel) decodeLit(d *rcDecoder, ch, k int) int {
	n := d.tree(m.litLen[ch][k][:], 4)
	if n <= 1 {
		return n
	}
	if n > 8 {
		return 0 // corrupt: any value will do
	}
	return 1<<(n-1) + d.tree(m.litLow[ch][k][1<<(n-1):], n-1)
}

func (m *colorModel) encode(e *rcEncoder, c uint32, k int, ref uint32, act int) {
	i := m.find(c)
	known := i < m.nrecent
	m.toFront(i, c)
	e.bit(&m.known[k], b2i(known))
	if known {
		m.encodePlace(e, k, i)
		return
	}
	g, rg, bg := planes(c)
	pg, prg, pbg := planes(ref)
	dg, drg, db := int8(g-pg), int8(rg-prg), int8(bg-pbg)
	m.encodeLit(e, 0, act, zigzag(dg))
	m.encodeLit(e, 1, magCtx(dg), zigzag(drg))
	m.encodeLit(e, 2, magCtx(drg), zigzag(db))
}

func (m *colorModel) decode(d *rcDecoder, k int, ref uint32, act int) uint32 {
	if d.bit(&m.known[k]) == 1 {
		// A place past the list (a corrupt input) reads a new colour.
		if i := m.decodePlace(d, k); i < m.nrecent {
			c := m.recent[i]
			m.toFront(i, c)
			return c
		}
	}
	pg, prg, pbg := planes(ref)
	dg := unzigzag(m.decodeLit(d, 0, act))
	drg := unzigzag(m.decodeLit(d, 1, magCtx(dg)))
	db := unzigzag(m.decodeLit(d, 2, magCtx(drg)))
	c := fromPlanes((int(dg)+pg)&0xff, (int(drg)+prg)&0xff, (int(db)+pbg)&0xff)
	m.toFront(m.nrecent, c)
	return c
}

// litPred predicts an escaped colour channel by channel with the median
// edge detector of W, N and NW (W alone at the screen's edges).
// The second result is the context of the green channel's residual:
// how much W, N and NW differ in green (flat, soft, edge, hard edge).
func litPred(w, n, nw uint32) (uint32, int) {
	if w == 0 || n == 0 || nw == 0 {
		return w, numMagCtx - 1
	}
	var p uint32
	for sh := 0; sh < 24; sh += 8 {
		a, b, d := int(w>>sh&0xff), int(n>>sh&0xff), int(nw>>sh&0xff)
		p |= uint32(med(a, b, d)) << sh
	}
	a, b, d := int(w>>8&0xff), int(n>>8&0xff), int(nw>>8&0xff)
	return p | opaque, magCtx(int8(min(abs(a-d)+abs(b-d), 127)))
}

// numMagCtx is the number of contexts magCtx tells apart.
const numMagCtx = 4

// magCtx buckets the size of a residual or gradient.
func magCtx(v int8) int {
	a := abs(int(v))
	switch {
	case a == 0:
		return 0
	case a < 8:
		return 1
	case a < 32:
		return 2
	}
	return 3
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// zigzag maps a residual to 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...: small
// residuals share the high bits of the tree.
func zigzag(v int8) int { return int(uint8(v<<1) ^ uint8(v>>7)) }

func unzigzag(z int) int8 { return int8(uint8(z)>>1) ^ -int8(z&1) }
