//go:build linux

package main

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"sync"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/deskway/deskway/internal/testbed"
)

// hostDesk is the host's desktop: one X window over the whole screen that
// shows a picture, keeps the keyboard focus and reports the keys it gets
// (as keysyms), as an application on the customer's screen would.
type hostDesk struct {
	t    testing.TB
	c    *xgb.Conn
	win  xproto.Window
	gc   xproto.Gcontext
	mu   sync.Mutex
	pic  *xpic
	keys chan xproto.Keysym
	syms [][]xproto.Keysym // by keycode - min keycode
	min  xproto.Keycode
}

func newHostDesk(t testing.TB, d *testbed.Display, pic *xpic) *hostDesk {
	t.Helper()
	c := xconn(t, d)
	scr := xproto.Setup(c).DefaultScreen(c)
	h := &hostDesk{t: t, c: c, pic: pic, keys: make(chan xproto.Keysym, 64), min: xproto.Setup(c).MinKeycode}
	var err error
	if h.win, err = xproto.NewWindowId(c); err != nil {
		t.Fatal(err)
	}
	err = xproto.CreateWindowChecked(c, scr.RootDepth, h.win, scr.Root, 0, 0, uint16(d.Width), uint16(d.Height), 0,
		xproto.WindowClassInputOutput, scr.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{0, 1, xproto.EventMaskExposure | xproto.EventMaskKeyPress}).Check()
	if err != nil {
		t.Fatalf("create the host's window: %v", err)
	}
	if h.gc, err = xproto.NewGcontextId(c); err != nil {
		t.Fatal(err)
	}
	xproto.CreateGC(c, h.gc, xproto.Drawable(h.win), 0, nil)
	xproto.MapWindow(c, h.win)
	km, err := xproto.GetKeyboardMapping(c, h.min, byte(xproto.Setup(c).MaxKeycode-h.min+1)).Reply()
	if err != nil {
		t.Fatal(err)
	}
	n := int(km.KeysymsPerKeycode)
	for i := 0; i+n <= len(km.Keysyms); i += n {
		h.syms = append(h.syms, km.Keysyms[i:i+n])
	}
	h.draw()
	xproto.SetInputFocus(c, xproto.InputFocusParent, h.win, xproto.TimeCurrentTime)
	xproto.GetInputFocus(c).Reply() // sync
	go h.events()
	return h
}

func (h *hostDesk) events() {
	for {
		ev, err := h.c.WaitForEvent()
		if ev == nil && err == nil {
			return
		}
		switch e := ev.(type) {
		case xproto.ExposeEvent:
			if e.Count == 0 {
				h.draw()
			}
		case xproto.KeyPressEvent:
			var sym xproto.Keysym
			if i := int(e.Detail - h.min); i >= 0 && i < len(h.syms) {
				sym = h.syms[i][0]
			}
			select {
			case h.keys <- sym:
			default:
			}
		}
	}
}

// xpic is a picture in the X server's pixel layout (BGRX), ready to put.
type xpic struct {
	w, h int
	bgrx []byte
}

func toXPic(pic *image.RGBA) *xpic {
	w, h := pic.Rect.Dx(), pic.Rect.Dy()
	x := &xpic{w: w, h: h, bgrx: make([]byte, 4*w*h)}
	for y := range h {
		for i := range w {
			o, d := pic.PixOffset(pic.Rect.Min.X+i, pic.Rect.Min.Y+y), 4*(y*w+i)
			x.bgrx[d], x.bgrx[d+1], x.bgrx[d+2] = pic.Pix[o+2], pic.Pix[o+1], pic.Pix[o]
		}
	}
	return x
}

// show replaces the picture.
func (h *hostDesk) show(pic *xpic) {
	h.mu.Lock()
	h.pic = pic
	h.mu.Unlock()
	h.draw()
}

// draw puts the picture on the window, in strips under the core
// protocol's request size.
func (h *hostDesk) draw() {
	h.mu.Lock()
	pic := h.pic
	h.mu.Unlock()
	rows := max(1, 60000/pic.w)
	for y := 0; y < pic.h; y += rows {
		n := min(rows, pic.h-y)
		xproto.PutImage(h.c, xproto.ImageFormatZPixmap, xproto.Drawable(h.win), h.gc, uint16(pic.w), uint16(n), 0, int16(y), 0, 24,
			pic.bgrx[4*pic.w*y:4*pic.w*(y+n)])
	}
	xproto.GetInputFocus(h.c).Reply() // sync: drawn when this returns
}

// marker is a block of one colour on the host's screen, for finding the
// picture's place and scale in the viewer's window.
type marker struct {
	r image.Rectangle
	c color.RGBA
}

// markers sit where the corpus frame is plain desktop background.
var markers = []marker{
	{image.Rect(1400, 150, 1560, 250), color.RGBA{255, 0, 255, 255}},
	{image.Rect(1700, 150, 1860, 250), color.RGBA{0, 255, 255, 255}},
	{image.Rect(1400, 850, 1560, 950), color.RGBA{255, 255, 0, 255}},
	{image.Rect(100, 850, 260, 950), color.RGBA{0, 255, 0, 255}},
}

// desktopPicture is a frame of the recorded corpus (a real desktop:
// xterm with top, a file manager, an editor) with the markers on it.
func desktopPicture(t testing.TB) *image.RGBA {
	t.Helper()
	raw, err := os.ReadFile(testbed.Corpus(t) + "/window-drag/frame-00040.png")
	if err != nil {
		t.Fatal(err)
	}
	pic := decodePNG(t, raw)
	for _, m := range markers {
		draw.Draw(pic, m.r, image.NewUniform(m.c), image.Point{}, draw.Src)
	}
	return pic
}

// decodePNG decodes a corpus frame.
func decodePNG(t testing.TB, raw []byte) *image.RGBA {
	t.Helper()
	src, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	pic := image.NewRGBA(src.Bounds())
	draw.Draw(pic, pic.Rect, src, src.Bounds().Min, draw.Src)
	return pic
}
