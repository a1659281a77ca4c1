package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// pair is an encoder and decoder in lockstep with checks.
type pair struct {
	t   testing.TB
	enc *Encoder
	dec *Decoder
	out []byte
	fmt PixelFormat
}

func newPair(t testing.TB, opts EncoderOptions) *pair {
	return &pair{t: t, enc: NewEncoder(opts), dec: NewDecoder(DecoderOptions{})}
}

// step encodes s, decodes the update and returns its size and rects.
func (p *pair) step(s *screen) (int, []Rect) {
	p.t.Helper()
	var err error
	p.out, err = p.enc.Encode(p.out[:0], s.frame(p.fmt))
	if err != nil {
		p.t.Fatalf("Encode: %v", err)
	}
	rects, err := p.dec.Decode(p.out)
	if err != nil {
		p.t.Fatalf("Decode(%d bytes) = %v", len(p.out), err)
	}
	return len(p.out), rects
}

// exact steps and checks the decoded screen equals s.
func (p *pair) exact(s *screen, what string) int {
	p.t.Helper()
	n, _ := p.step(s)
	if x, y, ok := s.equalsImage(p.dec.Framebuffer()); !ok {
		p.t.Fatalf("%s: decoded screen differs at %d,%d", what, x, y)
	}
	return n
}

func TestRoundTripSynthetic(t *testing.T) {
	for _, f := range []PixelFormat{BGRA, RGBA} {
		t.Run(f.String(), func(t *testing.T) {
			p := newPair(t, EncoderOptions{})
			p.fmt = f
			s := newScreen(333, 207, 1) // not a multiple of the tile size
			s.fill(10, 10, 200, 150, 0xFFFFFFFF)
			s.text(14, 14, 20, rgb(0, 0, 0), 0xFFFFFFFF, 0)
			s.photo(220, 20, 100, 80)
			p.exact(s, "keyframe")
			for i := range 30 {
				switch i % 6 {
				case 0: // typing
					s.text(14+i*3, 40, 1, rgb(0, 0, 0), 0xFFFFFFFF, i)
				case 1: // scroll the text window
					s.scroll(10, 10, 200, 150, 13)
					s.fill(10, 147, 200, 13, 0xFFFFFFFF)
					s.text(14, 147, 18, rgb(0, 0, 128), 0xFFFFFFFF, i)
				case 2: // move a window
					s.move(220, 20, 100, 80, 200+i, 100, 0xFFF0F0F0)
					s.fill(0, 0, s.w, 5, 0xFFF0F0F0)
				case 3: // caret blink
					s.fill(150, 60, 1, 12, rgb(0, 0, 0))
				case 4:
					s.fill(150, 60, 1, 12, 0xFFFFFFFF)
				case 5: // photo changes
					s.photo(0, 170, 120, 37)
				}
				p.exact(s, fmt.Sprintf("step %d", i))
			}
			st := p.enc.Stats()
			if st.TilesCopied == 0 || st.MarksRef == 0 || st.TilesCached == 0 {
				t.Errorf("stats %+v: want copies, mark references and cache hits", st)
			}
		})
	}
}

func TestRoundTripRandom(t *testing.T) {
	// Random screens, random edits, random keyframes and size changes.
	for seed := uint64(1); seed <= 6; seed++ {
		p := newPair(t, EncoderOptions{CacheTiles: 8, MarkSlots: 16, MarkPixels: 4096})
		s := newScreen(97+int(seed)*13, 61+int(seed)*7, seed)
		for i := range 25 {
			r := s.rng
			switch r.IntN(8) {
			case 0:
				s.photo(r.IntN(s.w), r.IntN(s.h), r.IntN(60), r.IntN(60))
			case 1:
				s.text(r.IntN(s.w), r.IntN(s.h), r.IntN(10), rgb(uint8(r.IntN(256)), 0, 0), s.pix[0], r.IntN(40))
			case 2:
				h := 20 + r.IntN(s.h-20)
				s.scroll(0, 0, s.w, h, 1+r.IntN(h-1))
			case 3:
				s.fill(r.IntN(s.w), r.IntN(s.h), r.IntN(40), r.IntN(40), rgb(uint8(r.IntN(4)*60), 0, 200))
			case 4:
				p.enc.ForceKeyframe()
			case 5:
				s = newScreen(s.w+r.IntN(20)-10, s.h+r.IntN(20)-10, seed*100+uint64(i))
			case 6:
				w, h := 1+r.IntN(s.w/2), 1+r.IntN(s.h/2)
				s.move(r.IntN(s.w-w), r.IntN(s.h-h), w, h, r.IntN(s.w-w), r.IntN(s.h-h), s.pix[0])
			}
			p.exact(s, fmt.Sprintf("seed %d step %d", seed, i))
		}
	}
}

func TestChangeDetection(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(640, 480, 2)
	s.text(20, 20, 40, rgb(0, 0, 0), s.pix[0], 0)
	p.exact(s, "keyframe")
	if n, rects := p.step(s); n != 1 || len(rects) != 0 {
		t.Errorf("unchanged frame: %d bytes, rects %v; want 1 byte, none", n, rects)
	}
	s.pix[100*640+300] = rgb(255, 0, 0)
	n, rects := p.step(s)
	if want := []Rect{{288, 96, 16, 16}}; len(rects) != 1 || rects[0] != want[0] {
		t.Errorf("one pixel changed: rects %v, want %v", rects, want)
	}
	if n > 40 {
		t.Errorf("one pixel changed: %d bytes, want <= 40", n)
	}
}

func TestMotionScroll(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(800, 600, 3)
	s.fill(100, 50, 600, 500, rgb(30, 30, 30))
	for y := 0; y < 40; y++ {
		s.text(104, 52+y*12, 70, rgb(200, 200, 200), rgb(30, 30, 30), y*3)
	}
	key := p.exact(s, "keyframe")
	before := p.enc.Stats().TilesCopied
	s.scroll(100, 50, 600, 500, 36)
	s.fill(100, 514, 600, 36, rgb(30, 30, 30))
	n := p.exact(s, "scroll")
	if copied := p.enc.Stats().TilesCopied - before; copied < 500 {
		t.Errorf("scroll: %d tiles copied, want >= 500", copied)
	}
	if n*10 > key {
		t.Errorf("scroll: %d bytes, keyframe %d: want under a tenth", n, key)
	}
}

func TestMotionWindowMove(t *testing.T) {
	for _, d := range [][2]int{{37, 0}, {0, -21}, {-45, 33}} {
		p := newPair(t, EncoderOptions{})
		s := newScreen(800, 600, 4)
		s.fill(200, 150, 300, 200, 0xFFFFFFFF)
		s.photo(210, 180, 120, 100)
		s.text(340, 200, 18, rgb(0, 0, 0), 0xFFFFFFFF, 5)
		key := p.exact(s, "keyframe")
		s.move(200, 150, 300, 200, 200+d[0], 150+d[1], 0xFFF0F0F0)
		n := p.exact(s, "move")
		if st := p.enc.Stats(); st.TilesCopied < 150 || n*5 > key {
			t.Errorf("move by %v: %d tiles copied, %d bytes (keyframe %d): want >= 150 copied, under a fifth", d, st.TilesCopied, n, key)
		}
	}
}

func TestMarksDictionary(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(640, 480, 5)
	s.text(10, 10, 60, rgb(0, 0, 0), s.pix[0], 0)
	p.exact(s, "keyframe")
	st := p.enc.Stats()
	if st.MarksNew == 0 || st.MarksNew > 60 || st.MarksRef == 0 {
		t.Errorf("60 glyphs of a 40-glyph font: %d new marks, %d references", st.MarksNew, st.MarksRef)
	}
	// The same text again elsewhere is references only.
	s.text(10, 200, 60, rgb(0, 0, 0), s.pix[0], 0)
	n := p.exact(s, "repeat")
	if st2 := p.enc.Stats(); st2.MarksNew != st.MarksNew {
		t.Errorf("repeated text made %d new marks", st2.MarksNew-st.MarksNew)
	}
	if n > 200 {
		t.Errorf("repeated line of 60 glyphs: %d bytes, want <= 200", n)
	}
}

// TestLabelMarksMatchesFlood checks the run labelling of mark shapes
// against a plain flood fill from each changed pixel in scan order (the
// definition): the same shapes, boxes, pixels and order, on screens of
// random glyphs over tiles of two backgrounds, in keyframes and updates.
func TestLabelMarksMatchesFlood(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	e := NewEncoder(EncoderOptions{})
	shapes := 0
	for round := range 40 {
		w, h := 16*(3+rng.IntN(6))+rng.IntN(16), 16*(2+rng.IntN(5))+rng.IntN(16)
		e.setSize(w, h)
		e.key = round%3 == 0
		bgs := []uint32{rgb(255, 255, 255), rgb(30, 30, 30)}
		for i := range e.cur {
			e.cur[i] = bgs[0]
			e.rec[i] = bgs[0]
		}
		e.dirty = e.dirty[:0]
		for tile := range e.tw * e.th {
			if rng.IntN(5) == 0 {
				continue // not dirty
			}
			e.dirty = append(e.dirty, int32(tile))
			e.state[tile] = stCoded
			if rng.IntN(6) == 0 {
				e.state[tile] = stCached
			}
			e.bg[tile] = bgs[rng.IntN(2)]
			if rng.IntN(8) == 0 {
				e.bg[tile] = 0 // no background
			}
			off, tw, th := e.tileRect(tile)
			for y := range th {
				for x := range tw {
					e.cur[off+y*w+x] = e.bg[tile] | opaque
				}
			}
		}
		// Glyph-like blobs across tile borders, some unchanged.
		for range 30 {
			x, y := rng.IntN(w), rng.IntN(h)
			c := rgb(uint8(rng.IntN(4)*60), 0, uint8(rng.IntN(3)*90))
			for range 1 + rng.IntN(40) {
				e.cur[y*w+x] = c
				if rng.IntN(3) == 0 {
					e.rec[y*w+x] = c
				}
				x = min(max(x+rng.IntN(3)-1, 0), w-1)
				y = min(max(y+rng.IntN(3)-1, 0), h-1)
			}
		}
		e.cands, e.candPix = e.cands[:0], e.candPix[:0]
		e.labelMarks()
		got := append([]markCand(nil), e.cands...)
		gotPix := append([]uint32(nil), e.candPix...)
		want, wantPix := floodMarks(e)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d shapes, flood finds %d", round, len(got), len(want))
		}
		shapes += len(want)
		for i := range want {
			g, f := got[i], want[i]
			gp, fp := gotPix[g.off:g.off+g.w*g.h], wantPix[f.off:f.off+f.w*f.h]
			g.off, f.off = 0, 0
			if g != f || !slices.Equal(gp, fp) {
				t.Fatalf("round %d, shape %d: %+v, flood %+v", round, i, g, f)
			}
		}
	}
	if shapes < 200 {
		t.Errorf("%d shapes in 40 rounds: the screens test too little", shapes)
	}
	t.Logf("%d shapes", shapes)
}

// floodMarks is the definition labelMarks implements: from each changed
// pixel of the coded tiles with a background (every pixel in a
// keyframe), in scan order, the 8-connected pixels that differ from that
// background in such tiles with the same background, not taken before;
// kept as a candidate if it fits a mark.
func floodMarks(e *Encoder) ([]markCand, []uint32) {
	taken := make([]bool, len(e.cur))
	var cands []markCand
	var pix []uint32
	in := func(x, y int, bg uint32) bool {
		if x < 0 || y < 0 || x >= e.w || y >= e.h {
			return false
		}
		q, t := y*e.w+x, y/tileSize*e.tw+x/tileSize
		return !taken[q] && e.cur[q] != bg && e.state[t] == stCoded && e.bg[t] == bg
	}
	for _, t := range e.dirty {
		bg := e.bg[t]
		if e.state[t] != stCoded || bg == 0 {
			continue
		}
		x0, y0, tw, th := e.tileBox(int(t))
		for y := y0; y < y0+th; y++ {
			for x := x0; x < x0+tw; x++ {
				q := y*e.w + x
				if !in(x, y, bg) || (e.cur[q] == e.rec[q] && !e.key) {
					continue
				}
				comp := [][2]int{{x, y}}
				taken[q] = true
				for i := 0; i < len(comp); i++ {
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							nx, ny := comp[i][0]+dx, comp[i][1]+dy
							if in(nx, ny, bg) {
								taken[ny*e.w+nx] = true
								comp = append(comp, [2]int{nx, ny})
							}
						}
					}
				}
				bx0, by0, bx1, by1, kept := e.w, e.h, 0, 0, 0
				for _, c := range comp {
					bx0, by0, bx1, by1 = min(bx0, c[0]), min(by0, c[1]), max(bx1, c[0]), max(by1, c[1])
					if q := c[1]*e.w + c[0]; e.cur[q] == e.rec[q] && !e.key {
						kept++
					}
				}
				w, h := bx1-bx0+1, by1-by0+1
				if len(comp) < minMarkPixels || w > maxMarkSide || h > maxMarkSide {
					continue
				}
				box := make([]uint32, w*h)
				colours := map[uint32]bool{}
				for _, c := range comp {
					v := e.cur[c[1]*e.w+c[0]]
					colours[v] = true
					box[(c[1]-by0)*w+c[0]-bx0] = v
				}
				if len(colours) > 255 {
					continue
				}
				hs := hashPix(uint64(w<<8|h)*0x9E3779B97F4A7C15, box)
				cands = append(cands, markCand{bx0, by0, w, h, len(pix), hs, kept*2 >= len(comp), bg})
				pix = append(pix, box...)
			}
		}
	}
	return cands, pix
}

func TestMarksEvictionInStep(t *testing.T) {
	// A dictionary of 5 marks cycled by 40 glyphs: evictions on both ends
	// must agree, or the references paint the wrong shapes.
	p := newPair(t, EncoderOptions{MarkSlots: 5})
	s := newScreen(400, 300, 6)
	p.exact(s, "keyframe")
	for i := range 30 {
		s.fill(0, 0, 400, 300, s.pix[0])
		for k := range 4 { // one three-letter word, four times a line
			s.text(10+(i*13)%50+k*40, 10+(i*37)%200, 3, rgb(0, 0, 0), s.pix[0], i*3)
		}
		p.exact(s, fmt.Sprintf("step %d", i))
	}
	if st := p.enc.Stats(); st.MarksRef == 0 {
		t.Errorf("no mark references: %+v", st)
	}
}

func TestTileCacheEvictionInStep(t *testing.T) {
	p := newPair(t, EncoderOptions{CacheTiles: 3})
	s := newScreen(256, 64, 7)
	p.exact(s, "keyframe")
	// Tile contents cycling through one tile position with a three-tile
	// cache: two contents (hits), then five (every one evicted before it
	// comes back), then two again.
	period := []int{2, 2, 2, 2, 2, 2, 2, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 2, 2, 2, 2, 2, 2}
	for i, n := range period {
		s.fill(0, 0, 16, 16, rgb(0, 0, 0))
		s.fill(2, 2, 3+i%n, 9, rgb(255, 255, 255))
		s.fill(3, 3, 1, 1+i%n, rgb(255, 0, uint8(i%n)))
		p.exact(s, fmt.Sprintf("step %d", i))
	}
	if st := p.enc.Stats(); st.TilesCached < 10 {
		t.Errorf("%d cache hits, want >= 10: %+v", st.TilesCached, st)
	}
}

func TestPaletteAndPhotoResiduals(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(64, 32, 8)
	p.exact(s, "keyframe")
	// Three-colour stripes: a palette tile, no marks (no dominant bg).
	for x := 0; x < 16; x++ {
		s.fill(x, 0, 1, 16, []uint32{rgb(1, 2, 3), rgb(200, 0, 0), rgb(0, 0, 200)}[x%3])
	}
	s.photo(32, 0, 16, 16)
	p.exact(s, "residuals")
	st := p.enc.Stats()
	if st.TilesPixels == 0 || st.TilesPhoto == 0 {
		t.Errorf("stats %+v: want a palette tile and a photo tile", st)
	}
	// encodePhoto/decodePhoto round trip on its own.
	res := encodePhoto(nil, s.pix, 32, s.w, 16, 16)
	out := make([]uint32, len(s.pix))
	decodePhoto(res, out, 32, s.w, 16, 16)
	for y := 0; y < 16; y++ {
		if !equalU32(out[y*s.w+32:y*s.w+48], s.pix[y*s.w+32:y*s.w+48]) {
			t.Fatalf("photo residual round trip differs in row %d", y)
		}
	}
}

func TestBalancedKeepsTextExact(t *testing.T) {
	for _, mode := range []Mode{Balanced, LowBandwidth} {
		p := newPair(t, EncoderOptions{Mode: mode})
		s := newScreen(320, 240, 9)
		s.fill(0, 0, 160, 240, 0xFFFFFFFF)
		s.text(4, 4, 18, rgb(0, 0, 0), 0xFFFFFFFF, 0)
		s.photo(160, 0, 160, 240)
		p.step(s)
		fb := p.dec.Framebuffer()
		var sse float64
		for y := 0; y < 240; y++ {
			for x := 0; x < 320; x++ {
				want := s.pix[y*320+x]
				o := fb.PixOffset(x, y)
				if x < 160 {
					if fb.Pix[o] != byte(want) || fb.Pix[o+1] != byte(want>>8) || fb.Pix[o+2] != byte(want>>16) {
						t.Fatalf("%v: text pixel %d,%d not exact", mode, x, y)
					}
					continue
				}
				for k := 0; k < 3; k++ {
					d := float64(fb.Pix[o+k]) - float64(byte(want>>(8*k)))
					sse += d * d
				}
			}
		}
		psnr := 10 * math.Log10(255*255/(sse/(160*240*3)))
		if st := p.enc.Stats(); st.TilesLossy == 0 || psnr < map[Mode]float64{Balanced: 27, LowBandwidth: 24}[mode] {
			t.Errorf("%v: %d lossy tiles, photo PSNR %.1f dB; want lossy tiles at >= 27 (24) dB", mode, st.TilesLossy, psnr)
		}
		// The next frame codes against the decoder's lossy pixels: still in step.
		s.text(4, 40, 10, rgb(0, 0, 0), 0xFFFFFFFF, 3)
		p.step(s)
	}
}

func TestScale(t *testing.T) {
	p := newPair(t, EncoderOptions{Scale: 2})
	s := newScreen(200, 100, 10)
	s.text(4, 4, 10, rgb(0, 0, 0), s.pix[0], 0)
	p.step(s)
	if b := p.dec.Framebuffer().Rect; b.Dx() != 100 || b.Dy() != 50 {
		t.Fatalf("scaled framebuffer %v, want 100x50", b)
	}
	if w, h := p.enc.Size(); w != 100 || h != 50 {
		t.Errorf("Size() = %d, %d", w, h)
	}
}

func TestDecoderErrors(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(64, 48, 11)
	key, err := p.enc.Encode(nil, s.frame(RGBA))
	if err != nil {
		t.Fatal(err)
	}
	s.text(1, 1, 3, rgb(0, 0, 0), s.pix[0], 1)
	delta, _ := p.enc.Encode(nil, s.frame(RGBA))

	for _, tc := range []struct {
		name   string
		update []byte
		want   error
	}{
		{"empty", nil, ErrCorrupt},
		{"bad version", []byte{0x02}, ErrCorrupt},
		{"two save flags", []byte{version | flagSavePush | flagSaveRepl}, ErrCorrupt},
		{"delta before keyframe", delta, ErrNeedKeyframe},
		{"keyframe without payload", []byte{version | flagKeyframe, 64, 48, 1, 1, 0x80, 0x20}, ErrCorrupt},
		{"screen too large", append([]byte{version | flagKeyframe | flagPayload}, 0x80, 0x80, 0x01, 0x10, 1, 1, 0x80, 0x20), ErrLimit},
		{"zero size", []byte{version | flagKeyframe | flagPayload, 0, 48, 1, 1, 0x80, 0x20}, ErrCorrupt},
		{"truncated keyframe", key[:len(key)-3], ErrCorrupt},
		{"keyframe plus garbage", append(bytes.Clone(key), 1, 2, 3), ErrCorrupt},
	} {
		d := NewDecoder(DecoderOptions{MaxWidth: 4096, MaxHeight: 4096})
		if _, err := d.Decode(tc.update); !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode(%x) = %v, want %v", tc.name, tc.update, err, tc.want)
		}
	}
	// After an error only a keyframe is accepted.
	d := NewDecoder(DecoderOptions{})
	if _, err := d.Decode(key); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode([]byte{0x21, 0xff}); err == nil {
		t.Fatal("garbage delta accepted")
	}
	if _, err := d.Decode(delta); !errors.Is(err, ErrNeedKeyframe) {
		t.Errorf("delta after an error: %v, want ErrNeedKeyframe", err)
	}
	if _, err := d.Decode(key); err != nil {
		t.Errorf("keyframe after an error: %v", err)
	}
}

func TestNoStrictPrefixDecodes(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(100, 60, 12)
	s.text(2, 2, 10, rgb(0, 0, 0), s.pix[0], 0)
	key, _ := p.enc.Encode(nil, s.frame(RGBA))
	for n := 0; n < len(key); n++ {
		d := NewDecoder(DecoderOptions{})
		if _, err := d.Decode(key[:n]); err == nil {
			t.Errorf("prefix of %d of %d bytes decoded", n, len(key))
		}
	}
}

func TestEncodeRejectsBadFrames(t *testing.T) {
	e := NewEncoder(EncoderOptions{})
	for _, f := range []Frame{
		{Pix: make([]byte, 15), Stride: 8, Width: 2, Height: 2, Format: RGBA},
		{Pix: make([]byte, 64), Stride: 4, Width: 2, Height: 2, Format: RGBA},
		{Pix: make([]byte, 16), Stride: 8, Width: 0, Height: 2, Format: RGBA},
		{Pix: make([]byte, 64), Stride: 8, Width: 2, Height: 2, Format: 7},
	} {
		if _, err := e.Encode(nil, f); err == nil {
			t.Errorf("Encode(%dx%d stride %d, %d bytes, %v) accepted", f.Width, f.Height, f.Stride, len(f.Pix), f.Format)
		}
	}
}

func TestLRU(t *testing.T) {
	l := newLRU(3, 10)
	var ev []int32
	evict := func(s int32) { ev = append(ev, s) }
	a, b, c := l.alloc(4, evict), l.alloc(4, evict), l.alloc(1, evict)
	if a != 0 || b != 1 || c != 2 || len(ev) != 0 {
		t.Fatalf("alloc = %d %d %d, evicted %v", a, b, c, ev)
	}
	l.touch(a)
	// Cost 4 does not fit (9+4 > 10): evicts b, the least recently used.
	if s := l.alloc(4, evict); s != b || len(ev) != 1 || ev[0] != b {
		t.Errorf("alloc over budget = %d, evicted %v; want slot %d after evicting it", s, ev, b)
	}
	if !l.valid(int(a)) || !l.valid(int(c)) || l.valid(5) || l.valid(-1) {
		t.Errorf("valid wrong after eviction")
	}
}

// TestConvertRow checks the two-pixels-at-a-time conversion against one
// written pixel by pixel, for both formats, odd and even widths and a
// source that does not start on a word.
func TestConvertRow(t *testing.T) {
	src := make([]byte, 4*9+1)
	for i := range src {
		src[i] = byte(i*37 + 11)
	}
	for _, f := range []PixelFormat{RGBA, BGRA} {
		for _, start := range []int{0, 1} {
			for n := 0; n <= 8; n++ {
				s := src[start : start+4*n]
				got := make([]uint32, n)
				convertRow(got, s, f)
				for i := range n {
					r, g, b := s[4*i], s[4*i+1], s[4*i+2]
					if f == BGRA {
						r, b = b, r
					}
					if want := rgb(r, g, b); got[i] != want {
						t.Errorf("%v, %d pixels from byte %d: pixel %d = %#08x, want %#08x", f, n, start, i, got[i], want)
					}
				}
			}
		}
	}
}
