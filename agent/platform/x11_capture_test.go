//go:build linux

package platform

import (
	"fmt"
	"image"
	"testing"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
)

// pattern is a window of known rectangles: the test draws it with an X
// client and then checks every pixel the agent captured.
type pattern struct {
	at    image.Rectangle // the window, root coordinates
	bg    uint32
	rects []patternRect // window coordinates, later ones on top
}

type patternRect struct {
	r     image.Rectangle
	color uint32
}

func testPattern(at image.Point) pattern {
	p := pattern{at: image.Rect(0, 0, 200, 120).Add(at), bg: 0x204060}
	colors := []uint32{0xff0000, 0x00ff00, 0x0000ff, 0xffffff, 0x000000, 0x123456, 0xfedcba, 0x808080}
	for i := range 24 {
		x, y := (i%6)*33+1, (i/6)*29+2
		p.rects = append(p.rects, patternRect{image.Rect(x, y, x+17+i%5, y+11+i%7), colors[i%len(colors)]})
	}
	// A one-pixel line and a single pixel: off-by-ones show here.
	p.rects = append(p.rects, patternRect{image.Rect(0, 119, 200, 120), 0xff00ff}, patternRect{image.Rect(199, 0, 200, 1), 0x00ffff})
	return p
}

// want returns the pattern's color at root coordinates pt.
func (p pattern) want(pt image.Point) uint32 {
	c := p.bg
	for _, r := range p.rects {
		if pt.Sub(p.at.Min).In(r.r) {
			c = r.color
		}
	}
	return c
}

func (p pattern) draw(x *xclient) {
	w := x.window(p.at, p.bg, 0)
	for _, r := range p.rects {
		x.fill(w, r.color, r.r)
	}
}

// checkPattern compares every pixel of the pattern in img, which holds
// area.
func checkPattern(t *testing.T, what string, img *codec.Frame, area image.Rectangle, p pattern) {
	t.Helper()
	bad := 0
	for y := p.at.Min.Y; y < p.at.Max.Y; y++ {
		for x := p.at.Min.X; x < p.at.Max.X; x++ {
			r, g, b := RGB(img, x-area.Min.X, y-area.Min.Y)
			got := uint32(r)<<16 | uint32(g)<<8 | uint32(b)
			if want := p.want(image.Pt(x, y)); got != want {
				if bad < 5 {
					t.Errorf("%s: pixel %d,%d = %06x, want %06x", what, x, y, got, want)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d pixels differ", what, bad, p.at.Dx()*p.at.Dy())
	}
}

func TestCapturePattern(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	t.Setenv("DISPLAY", d.Name) // the library path reads $DISPLAY
	x := newXClient(t, d)
	p := testPattern(image.Pt(37, 51))
	p.draw(x)

	fast, err := NewX11Capturer(d.Name)
	if err != nil {
		t.Fatalf("NewX11Capturer: %v", err)
	}
	defer fast.Close()
	if !fast.HasSHM() {
		t.Errorf("X11Capturer has no MIT-SHM on a local Xvfb")
	}
	capturers := []struct {
		name string
		c    interface {
			Displays() ([]proto.Monitor, error)
			Capture(image.Rectangle, *codec.Frame) ([]image.Rectangle, error)
		}
	}{{"library", NewLibCapturer()}, {"x11", fast}}

	var full [2]codec.Frame
	for i, c := range capturers {
		ds, err := c.c.Displays()
		if err != nil {
			t.Fatalf("%s: Displays: %v", c.name, err)
		}
		if len(ds) != 1 || MonitorBounds(ds[0]) != image.Rect(0, 0, 640, 400) {
			t.Errorf("%s: displays %+v, want one 640x400", c.name, ds)
		}
		for _, area := range []image.Rectangle{image.Rect(0, 0, 640, 400), image.Rect(30, 40, 300, 200)} {
			img := &full[i]
			if area != image.Rect(0, 0, 640, 400) {
				img = new(codec.Frame)
			}
			dmg, err := c.c.Capture(area, img)
			if err != nil {
				t.Fatalf("%s: Capture(%v): %v", c.name, area, err)
			}
			if want := whole(area); len(dmg) != 1 || dmg[0] != want[0] {
				t.Errorf("%s: first Capture(%v) changed %v, want the whole area", c.name, area, dmg)
			}
			if img.Width != area.Dx() || img.Height != area.Dy() {
				t.Fatalf("%s: Capture(%v) gave %dx%d", c.name, area, img.Width, img.Height)
			}
			checkPattern(t, fmt.Sprintf("%s %v", c.name, area), img, area, p)
		}
	}
	// Outside the pattern (Xvfb's root weave) the two paths agree too.
	diff := 0
	for y := range 400 {
		for x := range 640 {
			r1, g1, b1 := RGB(&full[0], x, y)
			r2, g2, b2 := RGB(&full[1], x, y)
			if r1 != r2 || g1 != g2 || b1 != b2 {
				diff++
			}
		}
	}
	if diff != 0 {
		t.Errorf("library and x11 captures of the whole screen differ in %d pixels", diff)
	}
}

func TestX11CaptureDamage(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	x := newXClient(t, d)
	p := testPattern(image.Pt(10, 10))
	w := x.window(p.at, p.bg, 0)

	c, err := NewX11Capturer(d.Name)
	if err != nil {
		t.Fatalf("NewX11Capturer: %v", err)
	}
	defer c.Close()
	area := image.Rect(0, 0, 640, 400)
	var img codec.Frame
	if _, err := c.Capture(area, &img); err != nil {
		t.Fatal(err)
	}
	if dmg, err := c.Capture(area, &img); err != nil || len(dmg) != 0 {
		t.Fatalf("Capture with nothing drawn = %v, %v; want no damage", dmg, err)
	}
	for _, r := range p.rects {
		x.fill(w, r.color, r.r)
	}
	dmg, err := c.Capture(area, &img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dmg) == 0 || dmg[0] == whole(area)[0] {
		t.Fatalf("Capture after drawing: changed %v, want the drawn rectangles", dmg)
	}
	var box image.Rectangle
	for _, r := range dmg {
		box = box.Union(r)
	}
	if !box.In(p.at) {
		t.Errorf("damage box %v reaches outside the drawn window %v", box, p.at)
	}
	checkPattern(t, "after damage", &img, area, p)

	// Another area reads everything again.
	sub := image.Rect(5, 5, 100, 100)
	var img2 codec.Frame
	if dmg, err := c.Capture(sub, &img2); err != nil || len(dmg) != 1 || dmg[0] != whole(sub)[0] {
		t.Errorf("Capture of a new area = %v, %v; want the whole area", dmg, err)
	}
	if _, err := c.Capture(image.Rect(600, 300, 700, 420), &img2); err == nil {
		t.Errorf("Capture of an area beyond the screen succeeded")
	}
}
