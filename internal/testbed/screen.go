package testbed

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"log"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// xgb's chatter about a missing ~/.Xauthority is not news to a test.
func init() { xgb.Logger = log.New(io.Discard, "", 0) }

// Patch is a rectangle of the test pattern.
type Patch struct {
	X, Y, W, H int
	RGB        uint32 // 0xRRGGBB
}

// Pattern is what DrawPattern puts at the top left of an X screen, 640x480:
// colour patches, a one-pixel checkerboard and thin lines, which a lossy
// or misaligned copy would not reproduce. Later patches cover earlier ones.
func Pattern() []Patch {
	ps := []Patch{
		{0, 0, 640, 480, 0x202020},
		{0, 0, 320, 240, 0xe03030}, {320, 0, 320, 240, 0x30c040},
		{0, 240, 320, 240, 0x3050e0}, {320, 240, 320, 240, 0xf0d020},
	}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x += 2 {
			ps = append(ps, Patch{288 + x + y%2, 208 + y, 1, 1, 0xffffff})
		}
	}
	for i := 0; i < 20; i++ {
		ps = append(ps, Patch{20 + 30*i, 400, 1, 60, 0x000000 + uint32(i*0x0c0c0c)})
	}
	return ps
}

// PatternAt returns the colour the pattern has at x, y.
func PatternAt(x, y int) uint32 {
	c := uint32(0)
	for _, p := range Pattern() {
		if x >= p.X && x < p.X+p.W && y >= p.Y && y < p.Y+p.H {
			c = p.RGB
		}
	}
	return c
}

// A Probe is a screen pixel and the colour it must have.
type Probe struct {
	X, Y int
	RGB  uint32
}

// PatternProbes returns probes of the pattern: a grid over all of it, and
// every pixel of a corner of the checkerboard. keep, if not nil, says
// which pixels to check (e.g. not those under a window that covers the
// pattern).
func PatternProbes(keep func(x, y int) bool) []Probe {
	var out []Probe
	add := func(x, y int) {
		if keep == nil || keep(x, y) {
			out = append(out, Probe{x, y, PatternAt(x, y)})
		}
	}
	for y := 0; y < 480; y += 7 {
		for x := 0; x < 640; x += 5 {
			add(x, y)
		}
	}
	for y := 208; y < 224; y++ {
		for x := 288; x < 304; x++ {
			add(x, y)
		}
	}
	return out
}

// DrawPattern puts a window with the pattern at the top left of the X
// screen (override-redirect: no window manager moves it) and keeps it
// until the test ends. The pattern is the window's background pixmap, so
// the X server itself repaints what another window uncovers.
func DrawPattern(t testing.TB, display string) {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatalf("testbed: X connection to %s: %v", display, err)
	}
	t.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	pix, _ := xproto.NewPixmapId(c)
	if err := xproto.CreatePixmapChecked(c, scr.RootDepth, pix, xproto.Drawable(scr.Root), 640, 480).Check(); err != nil {
		t.Fatalf("testbed: create pixmap: %v", err)
	}
	gcs := map[uint32]xproto.Gcontext{}
	for _, p := range Pattern() {
		gc, ok := gcs[p.RGB]
		if !ok {
			gc, _ = xproto.NewGcontextId(c)
			xproto.CreateGC(c, gc, xproto.Drawable(pix), xproto.GcForeground, []uint32{p.RGB})
			gcs[p.RGB] = gc
		}
		xproto.PolyFillRectangle(c, xproto.Drawable(pix), gc, []xproto.Rectangle{{X: int16(p.X), Y: int16(p.Y), Width: uint16(p.W), Height: uint16(p.H)}})
	}
	wid, _ := xproto.NewWindowId(c)
	err = xproto.CreateWindowChecked(c, scr.RootDepth, wid, scr.Root, 0, 0, 640, 480, 0,
		xproto.WindowClassInputOutput, scr.RootVisual,
		xproto.CwBackPixmap|xproto.CwOverrideRedirect, []uint32{uint32(pix), 1}).Check()
	if err != nil {
		t.Fatalf("testbed: create window: %v", err)
	}
	if err := xproto.MapWindowChecked(c, wid).Check(); err != nil { // a round trip: everything is drawn
		t.Fatalf("testbed: map window: %v", err)
	}
}

// Screenshot returns the root window of display as the X server has it
// (without the pointer, which Deskway sends apart from the screen).
// It supports the 24-bit TrueColor screens that Xvfb makes.
func Screenshot(display string) (*image.RGBA, error) {
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return nil, fmt.Errorf("testbed: X connection to %s: %w", display, err)
	}
	defer c.Close()
	scr := xproto.Setup(c).DefaultScreen(c)
	w, h := int(scr.WidthInPixels), int(scr.HeightInPixels)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	// In bands: one reply is limited to the server's maximum request size.
	const band = 64
	for y := 0; y < h; y += band {
		bh := min(band, h-y)
		r, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(scr.Root),
			0, int16(y), uint16(w), uint16(bh), 0xffffffff).Reply()
		if err != nil {
			return nil, fmt.Errorf("testbed: GetImage of %s: %w", display, err)
		}
		if r.Depth != 24 || len(r.Data) < 4*w*bh {
			return nil, fmt.Errorf("testbed: GetImage of %s: depth %d, %d bytes for %dx%d: want 24 bits in 32", display, r.Depth, len(r.Data), w, bh)
		}
		for i := 0; i < w*bh; i++ { // BGRX, little-endian
			o := img.PixOffset(i%w, y+i/w)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = r.Data[4*i+2], r.Data[4*i+1], r.Data[4*i], 0xff
		}
	}
	return img, nil
}

// Compare counts the pixels of a that differ from b (compared as RGB) and
// how many distinct colours a has (up to 1000); the images must have the
// same size.
func Compare(a, b image.Image) (differ, colours int, err error) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 0, 0, fmt.Errorf("testbed: compare %v with %v: sizes differ", a.Bounds().Size(), b.Bounds().Size())
	}
	seen := map[color.RGBA]bool{}
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			ar, ag, aB, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			br, bg, bB, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			if ar>>8 != br>>8 || ag>>8 != bg>>8 || aB>>8 != bB>>8 {
				differ++
			}
			if len(seen) < 1000 {
				seen[color.RGBA{uint8(ar >> 8), uint8(ag >> 8), uint8(aB >> 8), 0}] = true
			}
		}
	}
	return differ, len(seen), nil
}
