package codec

// New marks are coded with the range coder and a context model that both
// ends keep from keyframe to keyframe, like JBIG2's generic regions:
//
//   - size: w-1 and h-1 as 6-bit trees;
//   - for each pixel in raster order, "ink or not" with a context of the
//     eight nearest pixels already coded (W, WW, NW, N, NE, NN, NWW, NEE);
//   - for each ink pixel, its colour: "same as W", else "same as N", else
//     its place in a move-to-front list of the 255 most recent colours,
//     else (escape) the colour itself, channel by channel.
//
// Glyphs of one font and colour thus cost a fraction of a bit per
// background pixel and a few bits per edge pixel.

import "slices"

// mtfBits is the bit length of a place in the recent-colour list;
// mtfSize (the escape) is the number of places.
const (
	mtfBits = 8
	mtfSize = 1<<mtfBits - 1
)

type markModel struct {
	size  [2][64]prob
	ink   [256]prob
	eqW   [5][3]prob
	eqN   [5][2]prob
	eqP   [5][2]prob
	pred  [1 << predBits]uint32
	color colorModel
	refs  markRefModel
}

// predBits sizes the table that remembers, for each neighbourhood of
// colours seen before, the colour that came next: anti-aliased edges of
// one font repeat the same few blends around the same shapes.
const predBits = 16

func predKey(cw, cn, cnw, cne uint32, ink int) uint32 {
	return predHash(cw, cn, cnw, cne, ink) >> (32 - predBits)
}

// predHash is the full hash of a neighbourhood: the pixel coder keeps it
// beside the colour and offers the colour only when it matches, so that
// two neighbourhoods sharing a slot do not offer each other's colours.
func predHash(cw, cn, cnw, cne uint32, ink int) uint32 {
	return cw*0x9E3779B1 ^ cn*0x85EBCA77 ^ cnw*0xC2B2AE3D ^ cne*0x27D4EB2F ^ uint32(ink)*0x165667B1
}

func (m *markModel) reset() {
	initProbs(m.size[0][:])
	initProbs(m.size[1][:])
	initProbs(m.ink[:])
	for i := range m.eqW {
		initProbs(m.eqW[i][:])
		initProbs(m.eqN[i][:])
		initProbs(m.eqP[i][:])
	}
	clear(m.pred[:])
	m.color.reset()
	m.refs.reset()
}

// inkCtx is the context of pixel (x, y) of a w x h mark.
func inkCtx(pix []uint32, w, x, y int) int {
	at := func(dx, dy int) int {
		xx, yy := x+dx, y+dy
		if xx < 0 || yy < 0 || xx >= w {
			return 0
		}
		if pix[yy*w+xx] != 0 {
			return 1
		}
		return 0
	}
	return at(-1, 0) | at(-2, 0)<<1 | at(-1, -1)<<2 | at(0, -1)<<3 |
		at(1, -1)<<4 | at(0, -2)<<5 | at(-2, -1)<<6 | at(2, -1)<<7
}

// inkCount is the number of ink pixels among W, NW, N and NE in an ink
// context: colours are conditioned on it (edges are anti-aliased).
func inkCount(ctx int) int {
	return ctx&1 + ctx>>2&1 + ctx>>3&1 + ctx>>4&1
}

// neighbours returns the colours of the W and N pixels and the key of
// the colour predicted from the neighbourhood (colours 0 if clear or
// outside the mark).
func neighbours(pix []uint32, w, x, y, ctx int) (cw, cn, key uint32) {
	var cnw, cne uint32
	if x > 0 {
		cw = pix[y*w+x-1]
	}
	if y > 0 {
		cn = pix[(y-1)*w+x]
		if x > 0 {
			cnw = pix[(y-1)*w+x-1]
		}
		if x+1 < w {
			cne = pix[(y-1)*w+x+1]
		}
	}
	return cw, cn, predKey(cw, cn, cnw, cne, ctx)
}

func (m *markModel) encode(e *rcEncoder, pix []uint32, w, h int) {
	e.tree(m.size[0][:], 6, w-1)
	e.tree(m.size[1][:], 6, h-1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := pix[y*w+x]
			ink := 0
			if c != 0 {
				ink = 1
			}
			ctx := inkCtx(pix, w, x, y)
			e.bit(&m.ink[ctx], ink)
			if c == 0 {
				continue
			}
			cw, cn, key := neighbours(pix, w, x, y, ctx)
			m.encodeColor(e, c, cw, cn, key, inkCount(ctx))
			m.pred[key] = c
		}
	}
}

func (m *markModel) encodeColor(e *rcEncoder, c, cw, cn, key uint32, k int) {
	if cw != 0 {
		ctx := 0
		if cn != 0 {
			ctx = 1
			if cn == cw {
				ctx = 2
			}
		}
		if c == cw {
			e.bit(&m.eqW[k][ctx], 1)
			return
		}
		e.bit(&m.eqW[k][ctx], 0)
	}
	if cn != 0 && cn != cw {
		ctx := 0
		if cw != 0 {
			ctx = 1
		}
		if c == cn {
			e.bit(&m.eqN[k][ctx], 1)
			return
		}
		e.bit(&m.eqN[k][ctx], 0)
	}
	if p := m.pred[key]; p != 0 && p != cw && p != cn {
		ctx := 0
		if cw != 0 {
			ctx = 1
		}
		if c == p {
			e.bit(&m.eqP[k][ctx], 1)
			return
		}
		e.bit(&m.eqP[k][ctx], 0)
	}
	m.color.encode(e, c, k, 0, numMagCtx-1)
}

// decode reads one mark into pix (grown as needed) and returns it with
// its size. Sizes are at most 64x64 by construction.
func (m *markModel) decode(d *rcDecoder, pix []uint32) ([]uint32, int, int) {
	w := d.tree(m.size[0][:], 6) + 1
	h := d.tree(m.size[1][:], 6) + 1
	pix = slices.Grow(pix[:0], w*h)[:w*h]
	clear(pix)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			ctx := inkCtx(pix, w, x, y)
			if d.bit(&m.ink[ctx]) == 0 {
				continue
			}
			cw, cn, key := neighbours(pix, w, x, y, ctx)
			c := m.decodeColor(d, cw, cn, key, inkCount(ctx))
			pix[y*w+x] = c
			m.pred[key] = c
		}
	}
	return pix, w, h
}

func (m *markModel) decodeColor(d *rcDecoder, cw, cn, key uint32, k int) uint32 {
	if cw != 0 {
		ctx := 0
		if cn != 0 {
			ctx = 1
			if cn == cw {
				ctx = 2
			}
		}
		if d.bit(&m.eqW[k][ctx]) == 1 {
			return cw
		}
	}
	if cn != 0 && cn != cw {
		ctx := 0
		if cw != 0 {
			ctx = 1
		}
		if d.bit(&m.eqN[k][ctx]) == 1 {
			return cn
		}
	}
	if p := m.pred[key]; p != 0 && p != cw && p != cn {
		ctx := 0
		if cw != 0 {
			ctx = 1
		}
		if d.bit(&m.eqP[k][ctx]) == 1 {
			return p
		}
	}
	return m.color.decode(d, k, 0, numMagCtx-1)
}
