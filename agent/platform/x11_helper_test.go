//go:build linux

package platform

import (
	"image"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// xclient is an ordinary X client of the test: it makes windows, draws
// into them and watches the events the server delivers, so that tests
// check what reached the X server, not the agent's own state.
type xclient struct {
	t    testing.TB
	c    *xgb.Conn
	scr  *xproto.ScreenInfo
	root xproto.Window
}

func newXClient(t testing.TB, d *testbed.Display) *xclient {
	t.Helper()
	c, err := xgb.NewConnDisplay(d.Name)
	if err != nil {
		t.Fatalf("test client: connect to %s: %v", d.Name, err)
	}
	t.Cleanup(c.Close)
	// Register xgb's extension tables now, before any connection has
	// events to read (see useExtension).
	for name := range extInits {
		useExtension(c, name)
	}
	scr := xproto.Setup(c).DefaultScreen(c)
	return &xclient{t: t, c: c, scr: scr, root: scr.Root}
}

// sync waits until the server has processed every request sent so far.
func (x *xclient) sync() {
	x.t.Helper()
	if _, err := xproto.GetInputFocus(x.c).Reply(); err != nil {
		x.t.Fatalf("test client: sync: %v", err)
	}
}

// window maps an override-redirect window at r with background bg
// (0xRRGGBB) that selects events in mask.
func (x *xclient) window(r image.Rectangle, bg uint32, mask uint32) xproto.Window {
	x.t.Helper()
	w, err := xproto.NewWindowId(x.c)
	if err != nil {
		x.t.Fatal(err)
	}
	err = xproto.CreateWindowChecked(x.c, x.scr.RootDepth, w, x.root,
		int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0,
		xproto.WindowClassInputOutput, x.scr.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{bg, 1, mask}).Check()
	if err != nil {
		x.t.Fatalf("test client: create window: %v", err)
	}
	xproto.MapWindow(x.c, w)
	x.sync()
	return w
}

// fill paints r of window w with color (0xRRGGBB).
func (x *xclient) fill(w xproto.Window, color uint32, rs ...image.Rectangle) {
	x.t.Helper()
	gc, err := xproto.NewGcontextId(x.c)
	if err != nil {
		x.t.Fatal(err)
	}
	xproto.CreateGC(x.c, gc, xproto.Drawable(w), xproto.GcForeground, []uint32{color})
	var xr []xproto.Rectangle
	for _, r := range rs {
		xr = append(xr, xproto.Rectangle{X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy())})
	}
	xproto.PolyFillRectangle(x.c, xproto.Drawable(w), gc, xr)
	xproto.FreeGC(x.c, gc)
	x.sync()
}

// nextEvent returns the next event that keep accepts, failing the test
// after timeout.
func (x *xclient) nextEvent(timeout time.Duration, keep func(xgb.Event) bool) xgb.Event {
	x.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ev, err := x.c.PollForEvent()
		if err != nil {
			x.t.Fatalf("test client: X error: %v", err)
		}
		if ev == nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if keep(ev) {
			return ev
		}
	}
	x.t.Fatalf("test client: no matching event within %v", timeout)
	return nil
}

// pointer returns the pointer position on the root window.
func (x *xclient) pointer() image.Point {
	x.t.Helper()
	r, err := xproto.QueryPointer(x.c, x.root).Reply()
	if err != nil {
		x.t.Fatalf("test client: query pointer: %v", err)
	}
	return image.Pt(int(r.RootX), int(r.RootY))
}

func imageRect(x, y, w, h int) image.Rectangle { return image.Rect(x, y, x+w, y+h) }

// atom interns name.
func (x *xclient) atom(name string) xproto.Atom {
	x.t.Helper()
	r, err := xproto.InternAtom(x.c, false, uint16(len(name)), name).Reply()
	if err != nil {
		x.t.Fatalf("test client: intern %s: %v", name, err)
	}
	return r.Atom
}
