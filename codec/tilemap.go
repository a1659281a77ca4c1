package codec

import "math/bits"

// The tile map says which tiles an update codes and how: for each, the
// number of tiles passed over since the previous one and the tile's mode,
// range coded. Skips are coded as their bit length (unary, under a
// context of whether the previous skip was zero: runs of neighbouring
// tiles) and then their bits; modes under the previous tile's mode. A
// keyframe's map, every tile in a row, costs a few bytes.
type tileMapModel struct {
	skipLen  [2][maxSkipBits + 1]prob
	skipBits [maxSkipBits + 1][maxSkipBits]prob
	mode     [numTileModes][4]prob
	// State of the update being coded.
	prevZero int
	prevMode int
}

// maxSkipBits is the bit length of the largest skip + 1: 2^18 tiles cover
// 8192x8192 pixels (the decoder's default limit is smaller).
const maxSkipBits = 18

func (m *tileMapModel) reset() {
	for i := range m.skipLen {
		initProbs(m.skipLen[i][:])
	}
	for i := range m.skipBits {
		initProbs(m.skipBits[i][:])
	}
	for i := range m.mode {
		initProbs(m.mode[i][:])
	}
}

// start begins an update's map.
func (m *tileMapModel) start() { m.prevZero, m.prevMode = 1, tilePixels }

func (m *tileMapModel) encode(e *rcEncoder, skip, mode int) {
	v := skip + 1
	n := bits.Len(uint(v)) // 1..maxSkipBits
	for i := 1; i < n; i++ {
		e.bit(&m.skipLen[m.prevZero][i], 1)
	}
	if n < maxSkipBits {
		e.bit(&m.skipLen[m.prevZero][n], 0)
	}
	for i := n - 2; i >= 0; i-- {
		e.bit(&m.skipBits[n][i], v>>i&1)
	}
	e.tree(m.mode[m.prevMode][:], 2, mode)
	m.prevZero, m.prevMode = b2i(skip == 0), mode
}

// decode returns the next skip and mode; a skip may exceed the screen and
// the mode may be unknown: the caller checks.
func (m *tileMapModel) decode(d *rcDecoder) (skip, mode int) {
	n := 1
	for n < maxSkipBits && d.bit(&m.skipLen[m.prevZero][n]) == 1 {
		n++
	}
	v := 1
	for i := n - 2; i >= 0; i-- {
		v = v<<1 | d.bit(&m.skipBits[n][i])
	}
	mode = d.tree(m.mode[m.prevMode][:], 2)
	m.prevZero, m.prevMode = b2i(v == 1), mode
	return v - 1, mode
}
