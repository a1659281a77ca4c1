package codec

import (
	"image"
	"math/rand/v2"
)

// screen is a synthetic desktop for tests: flat backgrounds, text drawn
// from a small bitmap font, windows, scrolling and photographic noise,
// in internal pixels (R | G<<8 | B<<16 | 0xFF<<24).
type screen struct {
	w, h int
	pix  []uint32
	rng  *rand.Rand
	font [][]uint8 // glyphs of glyphW x glyphH, 0 = background
}

const glyphW, glyphH = 7, 12

func newScreen(w, h int, seed uint64) *screen {
	s := &screen{w: w, h: h, pix: make([]uint32, w*h), rng: rand.New(rand.NewPCG(seed, 1))}
	// A font: 40 random connected glyphs (a stem and bars touching it)
	// with anti-aliased edges (levels 1 and 2; 3 is full ink).
	for range 40 {
		g := make([]uint8, glyphW*glyphH)
		stem := 1 + s.rng.IntN(glyphW-2)
		top := 2 + s.rng.IntN(3)
		for y := top; y < glyphH-2; y++ {
			g[y*glyphW+stem] = 3
		}
		for range 1 + s.rng.IntN(3) {
			y := top + s.rng.IntN(glyphH-2-top)
			for x := 1; x < glyphW-1; x++ {
				if g[y*glyphW+x] == 0 {
					g[y*glyphW+x] = uint8(1 + s.rng.IntN(3))
				}
			}
		}
		s.font = append(s.font, g)
	}
	s.fill(0, 0, w, h, 0xFFF0F0F0)
	return s
}

func rgb(r, g, b uint8) uint32 { return uint32(r) | uint32(g)<<8 | uint32(b)<<16 | opaque }

func (s *screen) fill(x, y, w, h int, c uint32) {
	for yy := max(y, 0); yy < min(y+h, s.h); yy++ {
		for xx := max(x, 0); xx < min(x+w, s.w); xx++ {
			s.pix[yy*s.w+xx] = c
		}
	}
}

// text draws n glyphs from (x, y) in colour fg over whatever is there,
// blending the anti-aliased levels with bg.
func (s *screen) text(x, y, n int, fg, bg uint32, seed int) {
	for i := 0; i < n; i++ {
		g := s.font[(seed+i*7)%len(s.font)]
		for yy := 0; yy < glyphH; yy++ {
			for xx := 0; xx < glyphW; xx++ {
				px, py := x+i*(glyphW+1)+xx, y+yy
				if px >= s.w || py >= s.h || g[yy*glyphW+xx] == 0 {
					continue
				}
				s.pix[py*s.w+px] = blend(fg, bg, int(g[yy*glyphW+xx]))
			}
		}
	}
}

func blend(fg, bg uint32, level int) uint32 {
	mix := func(sh uint) uint32 {
		a, b := int(fg>>sh&0xff), int(bg>>sh&0xff)
		return uint32((a*level + b*(3-level)) / 3)
	}
	return mix(0) | mix(8)<<8 | mix(16)<<16 | opaque
}

// photo fills a rect with smooth noise (a photograph stand-in).
func (s *screen) photo(x, y, w, h int) {
	for yy := y; yy < min(y+h, s.h); yy++ {
		for xx := x; xx < min(x+w, s.w); xx++ {
			v := (xx + yy) % 400 * 200 / 400
			n1, n2, n3 := s.rng.IntN(4), s.rng.IntN(4), s.rng.IntN(4)
			s.pix[yy*s.w+xx] = rgb(uint8(v+n1), uint8(v/2+n2), uint8(255-v+n3))
		}
	}
}

// scroll moves rows of the rect up by dy, leaving the bottom as it was.
func (s *screen) scroll(x, y, w, h, dy int) {
	for yy := y; yy < y+h-dy; yy++ {
		copy(s.pix[yy*s.w+x:yy*s.w+x+w], s.pix[(yy+dy)*s.w+x:(yy+dy)*s.w+x+w])
	}
}

// move copies the rect to (nx, ny) and fills where it was with c.
func (s *screen) move(x, y, w, h, nx, ny int, c uint32) {
	tmp := make([]uint32, w*h)
	for yy := 0; yy < h; yy++ {
		copy(tmp[yy*w:yy*w+w], s.pix[(y+yy)*s.w+x:])
	}
	s.fill(x, y, w, h, c)
	for yy := 0; yy < h; yy++ {
		copy(s.pix[(ny+yy)*s.w+nx:(ny+yy)*s.w+nx+w], tmp[yy*w:yy*w+w])
	}
}

// frame returns the screen as a Frame in the given format, with a stride
// wider than the row to catch stride bugs.
func (s *screen) frame(f PixelFormat) Frame {
	stride := s.w*4 + 12
	pix := make([]byte, stride*s.h)
	for y := 0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			p := s.pix[y*s.w+x]
			r, g, b := byte(p), byte(p>>8), byte(p>>16)
			o := y*stride + x*4
			if f == BGRA {
				pix[o], pix[o+1], pix[o+2], pix[o+3] = b, g, r, byte(x) // X byte varies: must be ignored
			} else {
				pix[o], pix[o+1], pix[o+2], pix[o+3] = r, g, b, 0xff
			}
		}
	}
	return Frame{Pix: pix, Stride: stride, Width: s.w, Height: s.h, Format: f}
}

// equalsImage reports the first pixel where m differs from the screen.
func (s *screen) equalsImage(m *image.RGBA) (x, y int, ok bool) {
	if m == nil || m.Rect.Dx() != s.w || m.Rect.Dy() != s.h {
		return -1, -1, false
	}
	for y := 0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			p := s.pix[y*s.w+x]
			o := m.PixOffset(x, y)
			if m.Pix[o] != byte(p) || m.Pix[o+1] != byte(p>>8) || m.Pix[o+2] != byte(p>>16) || m.Pix[o+3] != 0xff {
				return x, y, false
			}
		}
	}
	return 0, 0, true
}
