package codec

import (
	"math/rand/v2"
	"testing"
)

// TestPixelCoderRoundTrip codes tiles of a small screen against a
// framebuffer that already holds part of them (kept pixels, rows equal to
// the row above, new colours, repeats) and checks the decoder's
// framebuffer ends up equal to the encoder's and to the source.
func TestPixelCoderRoundTrip(t *testing.T) {
	const sw, sh = 40, 37 // partial tiles at the right and bottom
	rng := rand.New(rand.NewPCG(7, 7))
	colors := []uint32{rgb(255, 255, 255), rgb(0, 0, 0), rgb(128, 128, 128), rgb(200, 10, 10), rgb(1, 2, 3)}
	for _, tc := range []struct {
		name   string
		change float64 // share of pixels that differ from the old screen
		ncol   int
	}{
		{"unchanged", 0, 2},
		{"caret", 0.01, 2},
		{"typing", 0.1, 3},
		{"half", 0.5, 5},
		{"new", 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := make([]uint32, sw*sh)
			for i := range old {
				old[i] = colors[rng.IntN(2)]
			}
			cur := append([]uint32(nil), old...)
			for i := range cur {
				if rng.Float64() < tc.change {
					cur[i] = colors[rng.IntN(tc.ncol)]
				}
			}
			for x := 0; x < sw; x++ { // a row equal to the one above
				cur[17*sw+x] = cur[16*sw+x]
			}
			cur[5] = rgb(uint8(rng.IntN(256)), 7, 9) // a literal colour
			encFB := append([]uint32(nil), old...)
			decFB := append([]uint32(nil), old...)
			var em, dm pixModel
			em.reset()
			dm.reset()
			var rc rcEncoder
			rc.init(nil)
			for ty := 0; ty < sh; ty += tileSize {
				for tx := 0; tx < sw; tx += tileSize {
					em.encode(&rc, cur, encFB, ty*sw+tx, sw, min(tileSize, sw-tx), min(tileSize, sh-ty))
				}
			}
			data := rc.finish()
			var rd rcDecoder
			rd.init(data)
			for ty := 0; ty < sh; ty += tileSize {
				for tx := 0; tx < sw; tx += tileSize {
					dm.decode(&rd, decFB, ty*sw+tx, sw, min(tileSize, sw-tx), min(tileSize, sh-ty))
				}
			}
			if rd.overrun() {
				t.Fatalf("decoder read past %d bytes", len(data))
			}
			for i := range cur {
				if encFB[i] != cur[i] || decFB[i] != cur[i] {
					t.Fatalf("pixel %d,%d: encoder model %08x, decoder %08x, want %08x", i%sw, i/sw, encFB[i], decFB[i], cur[i])
				}
			}
			t.Logf("%d pixels, %.0f%% changed: %d bytes", sw*sh, tc.change*100, len(data))
		})
	}
}

// TestPixelCoderKeptIsCheap checks that an unchanged tile in a changed
// update costs next to nothing and a one-pixel change stays small.
func TestPixelCoderKeptIsCheap(t *testing.T) {
	const sw, sh = 16 * 8, 16 * 8
	fb := make([]uint32, sw*sh)
	for i := range fb {
		fb[i] = rgb(240, 240, 240)
	}
	cur := append([]uint32(nil), fb...)
	cur[3*sw+70] = rgb(0, 0, 0)
	var m pixModel
	m.reset()
	var rc rcEncoder
	rc.init(nil)
	for ty := 0; ty < sh; ty += tileSize {
		for tx := 0; tx < sw; tx += tileSize {
			m.encode(&rc, cur, fb, ty*sw+tx, sw, tileSize, tileSize)
		}
	}
	if n := len(rc.finish()); n > 40 {
		t.Errorf("64 tiles, one pixel changed: %d bytes, want <= 40", n)
	}
}
