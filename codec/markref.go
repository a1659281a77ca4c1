package codec

import "math/bits"

// Mark references and learnt marks are range coded in the marks' coder
// (secMarkPx) with a model both ends keep from keyframe to keyframe:
//
//   - new or reference, under whether the previous mark was new;
//   - a reference's dictionary slot by its place among the 63 slots most
//     recently referred to, defined or learnt (text reuses a few dozen
//     letters), else the slot number itself;
//   - the position: the bottom edge as the step from the previous mark's
//     (zero along a line of text), then the left edge as the step from
//     the previous mark's right edge (the gap between letters), under
//     whether the bottom moved;
//   - a learnt mark's size, and its background as "same as the previous
//     learnt mark's" or the colour itself.
//
// Counts stay in secMarks as varints.
type markRefModel struct {
	isNew   [2]prob
	place   [16]prob
	placeLo [64]prob
	slot    intModel
	dy      [2]sintModel // refs, learnt
	dx      [2][2]sintModel
	lsize   [2][64]prob
	sameBg  prob
	bg      [3][256]prob
	// State, reset at keyframes.
	recent  [63]int32
	nrecent int
	prevNew int
	prevBg  uint32
}

func (m *markRefModel) reset() {
	initProbs(m.isNew[:])
	initProbs(m.place[:])
	initProbs(m.placeLo[:])
	m.slot.reset()
	for i := range m.dy {
		m.dy[i].reset()
		m.dx[i][0].reset()
		m.dx[i][1].reset()
		initProbs(m.lsize[i][:])
	}
	m.sameBg = probInit2
	for i := range m.bg {
		initProbs(m.bg[i][:])
	}
	m.nrecent, m.prevNew, m.prevBg = 0, 0, 0
}

// used moves slot s to the front of the recent slots.
func (m *markRefModel) used(s int32) {
	i := 0
	for i < m.nrecent && m.recent[i] != s {
		i++
	}
	if i == m.nrecent {
		if m.nrecent < len(m.recent) {
			m.nrecent++
		} else {
			i--
		}
	}
	copy(m.recent[1:i+1], m.recent[:i])
	m.recent[0] = s
}

// encodeRef codes a reference to slot s (s < 0: a new mark follows).
func (m *markRefModel) encodeRef(e *rcEncoder, s int32) {
	if s < 0 {
		e.bit(&m.isNew[m.prevNew], 1)
		m.prevNew = 1
		return
	}
	e.bit(&m.isNew[m.prevNew], 0)
	m.prevNew = 0
	i := 0
	for i < m.nrecent && m.recent[i] != s {
		i++
	}
	// Places 0..62, 63: not among them.
	n := bits.Len(uint(i))
	e.tree(m.place[:], 3, n)
	if n > 1 {
		e.tree(m.placeLo[1<<(n-1):], n-1, i-1<<(n-1))
	}
	if i == m.nrecent {
		m.slot.encode(e, uint32(s))
	}
}

// decodeRef returns the slot referred to, -1 for a new mark; slots is
// the dictionary's size (a larger slot number is corrupt: -2).
func (m *markRefModel) decodeRef(d *rcDecoder, slots int) int32 {
	if d.bit(&m.isNew[m.prevNew]) == 1 {
		m.prevNew = 1
		return -1
	}
	m.prevNew = 0
	n := d.tree(m.place[:], 3)
	if n > 6 {
		return -2
	}
	i := n
	if n > 1 {
		i = 1<<(n-1) + d.tree(m.placeLo[1<<(n-1):], n-1)
	}
	if i < m.nrecent {
		return m.recent[i]
	}
	if i != m.nrecent {
		return -2
	}
	s := m.slot.decode(d, 32)
	if s >= uint32(slots) {
		return -2
	}
	return int32(s)
}

// encodePos codes a mark's position: k is 0 for references and new
// marks, 1 for learnt marks.
func (m *markRefModel) encodePos(e *rcEncoder, k, dx, dy int) {
	m.dy[k].encode(e, dy)
	m.dx[k][b2i(dy != 0)].encode(e, dx)
}

func (m *markRefModel) decodePos(d *rcDecoder, k int) (dx, dy int) {
	dy = m.dy[k].decode(d)
	dx = m.dx[k][b2i(dy != 0)].decode(d)
	return dx, dy
}

func (m *markRefModel) encodeLearnt(e *rcEncoder, w, h int, bg uint32) {
	e.tree(m.lsize[0][:], 6, w-1)
	e.tree(m.lsize[1][:], 6, h-1)
	if bg == m.prevBg {
		e.bit(&m.sameBg, 1)
		return
	}
	e.bit(&m.sameBg, 0)
	for i := range m.bg {
		e.tree(m.bg[i][:], 8, int(bg>>(8*i)&0xff))
	}
	m.prevBg = bg
}

func (m *markRefModel) decodeLearnt(d *rcDecoder) (w, h int, bg uint32) {
	w = d.tree(m.lsize[0][:], 6) + 1
	h = d.tree(m.lsize[1][:], 6) + 1
	if d.bit(&m.sameBg) == 1 {
		return w, h, m.prevBg
	}
	for i := range m.bg {
		bg |= uint32(d.tree(m.bg[i][:], 8)) << (8 * i)
	}
	bg |= opaque
	m.prevBg = bg
	return w, h, bg
}

// intModel codes an unsigned integer as its bit length, then the bits
// below the leading one, each under its length and position.
type intModel struct {
	n    [64]prob
	bits [33][32]prob
}

func (m *intModel) reset() {
	initProbs(m.n[:])
	for i := range m.bits {
		initProbs(m.bits[i][:])
	}
}

func (m *intModel) encode(e *rcEncoder, v uint32) {
	n := bits.Len32(v)
	e.tree(m.n[:], 6, n)
	for i := n - 2; i >= 0; i-- {
		e.bit(&m.bits[n][i], int(v>>i&1))
	}
}

// decode reads a value of at most max bits (longer: max bits of ones,
// which the caller's range check rejects).
func (m *intModel) decode(d *rcDecoder, max int) uint32 {
	n := d.tree(m.n[:], 6)
	if n == 0 {
		return 0
	}
	if n > max || n > 32 {
		return 1<<max - 1
	}
	v := uint32(1)
	for i := n - 2; i >= 0; i-- {
		v = v<<1 | uint32(d.bit(&m.bits[n][i]))
	}
	return v
}

// sintModel codes a signed integer: zero or not, the sign, then the
// magnitude less one.
type sintModel struct {
	zero, neg prob
	mag       intModel
}

func (m *sintModel) reset() {
	m.zero, m.neg = probInit2, probInit2
	m.mag.reset()
}

func (m *sintModel) encode(e *rcEncoder, v int) {
	if v == 0 {
		e.bit(&m.zero, 1)
		return
	}
	e.bit(&m.zero, 0)
	if v < 0 {
		e.bit(&m.neg, 1)
		v = -v
	} else {
		e.bit(&m.neg, 0)
	}
	m.mag.encode(e, uint32(v-1))
}

// decode reads a value; magnitudes beyond 2^20 come out as about 2^20,
// which no screen position allows.
func (m *sintModel) decode(d *rcDecoder) int {
	if d.bit(&m.zero) == 1 {
		return 0
	}
	neg := d.bit(&m.neg) == 1
	v := int(m.mag.decode(d, 20)) + 1
	if neg {
		return -v
	}
	return v
}
