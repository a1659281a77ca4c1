//go:build linux

package platform

import (
	"context"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// X11Prompter draws the consent dialog and the live indicator as small X
// windows with the core "fixed" font: no toolkit, so the agent stays one
// small binary. The dialog has three buttons (Deny, View only, View and
// control) and Escape denies; the indicator is a red bar at the top of the
// screen, kept above other windows, whose End button ends the session and
// whose Stop control button, there while control is granted, takes it
// back.
//
// An X11Prompter is safe for concurrent use; each dialog and indicator
// has its own connection.
type X11Prompter struct {
	Display string // "" = $DISPLAY
}

// Geometry of the dialog (window coordinates).
var (
	dialogSize    = image.Pt(480, 150)
	buttonDeny    = image.Rect(20, 104, 150, 134)
	buttonView    = image.Rect(170, 104, 300, 134)
	buttonControl = image.Rect(320, 104, 460, 134)
	indicatorSize = image.Pt(640, 26)
	buttonStop    = image.Rect(468, 3, 566, 23)
	buttonEnd     = image.Rect(572, 3, 636, 23)
)

// xwin is one top-level window on its own connection, with a font and
// graphics contexts to draw text and buttons.
type xwin struct {
	c      *xgb.Conn
	scr    *xproto.ScreenInfo
	w      xproto.Window
	at     image.Point // where it was placed on the root
	fg, bg xproto.Gcontext
	btn    xproto.Gcontext // black text on a light button
	light  xproto.Gcontext // fills a light button
}

func openWindow(display string, size image.Point, at image.Point, bg uint32, override bool, title string) (*xwin, error) {
	c, scr, err := dialX(display)
	if err != nil {
		return nil, err
	}
	x := &xwin{c: c, scr: scr, at: at}
	fail := func(err error) (*xwin, error) {
		c.Close()
		return nil, fmt.Errorf("platform: x11 prompt: %w", err)
	}
	if x.w, err = xproto.NewWindowId(c); err != nil {
		return fail(err)
	}
	ovr := uint32(0)
	if override {
		ovr = 1
	}
	mask := uint32(xproto.EventMaskExposure | xproto.EventMaskButtonPress | xproto.EventMaskKeyPress | xproto.EventMaskStructureNotify)
	err = xproto.CreateWindowChecked(c, scr.RootDepth, x.w, scr.Root, int16(at.X), int16(at.Y),
		uint16(size.X), uint16(size.Y), 1, xproto.WindowClassInputOutput, scr.RootVisual,
		xproto.CwBackPixel|xproto.CwBorderPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{bg, 0x000000, ovr, mask}).Check()
	if err != nil {
		return fail(err)
	}
	x.setProp("WM_NAME", "STRING", []byte(title))
	x.setProp("_NET_WM_NAME", "UTF8_STRING", []byte(title))
	font, err := xproto.NewFontId(c)
	if err != nil {
		return fail(err)
	}
	if err := xproto.OpenFontChecked(c, font, uint16(len("fixed")), "fixed").Check(); err != nil {
		return fail(fmt.Errorf("open font fixed: %w", err))
	}
	for _, g := range []struct {
		gc     *xproto.Gcontext
		fg, bg uint32
	}{{&x.fg, 0x000000, bg}, {&x.bg, bg, bg}, {&x.btn, 0x000000, 0xe0e0e0}, {&x.light, 0xe0e0e0, 0xe0e0e0}} {
		if *g.gc, err = xproto.NewGcontextId(c); err != nil {
			return fail(err)
		}
		xproto.CreateGC(c, *g.gc, xproto.Drawable(x.w), xproto.GcForeground|xproto.GcBackground|xproto.GcFont,
			[]uint32{g.fg, g.bg, uint32(font)})
	}
	xproto.MapWindow(c, x.w)
	xproto.ConfigureWindow(c, x.w, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
	if _, err := xproto.GetInputFocus(c).Reply(); err != nil {
		return fail(err)
	}
	return x, nil
}

func (x *xwin) setProp(name, typ string, v []byte) {
	a, err1 := xproto.InternAtom(x.c, false, uint16(len(name)), name).Reply()
	t, err2 := xproto.InternAtom(x.c, false, uint16(len(typ)), typ).Reply()
	if err1 == nil && err2 == nil {
		xproto.ChangeProperty(x.c, xproto.PropModeReplace, x.w, a.Atom, t.Atom, 8, uint32(len(v)), v)
	}
}

// text draws s at x, y (baseline) in Latin-1; other characters show as ?.
func (x *xwin) text(gc xproto.Gcontext, px, py int, s string) {
	b := utf8ToLatin1([]byte(s))
	if len(b) > 255 {
		b = b[:255]
	}
	xproto.ImageText8(x.c, byte(len(b)), xproto.Drawable(x.w), gc, int16(px), int16(py), string(b))
}

func (x *xwin) button(r image.Rectangle, label string) {
	xproto.PolyFillRectangle(x.c, xproto.Drawable(x.w), x.bg, []xproto.Rectangle{xrect(r)})
	xproto.PolyRectangle(x.c, xproto.Drawable(x.w), x.fg, []xproto.Rectangle{xrect(r)})
	x.text(x.fg, r.Min.X+(r.Dx()-6*len([]rune(label)))/2, r.Min.Y+r.Dy()/2+4, label)
}

func xrect(r image.Rectangle) xproto.Rectangle {
	return xproto.Rectangle{X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx() - 1), Height: uint16(r.Dy() - 1)}
}

func (x *xwin) close() { x.c.Close() }

// centre returns where a window of size goes to be centred on the screen.
func centre(scr *xproto.ScreenInfo, size image.Point) image.Point {
	return image.Pt((int(scr.WidthInPixels)-size.X)/2, (int(scr.HeightInPixels)-size.Y)/3)
}

// dialogAt is where the last dialog was placed, for tests.
var (
	dialogMu sync.Mutex
	dialogAt image.Point
)

// Consent shows the dialog and waits for a button, Escape, or ctx.
func (p *X11Prompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	c, scr, err := dialX(p.Display)
	if err != nil {
		return 0, err
	}
	at := centre(scr, dialogSize)
	c.Close()
	x, err := openWindow(p.Display, dialogSize, at, 0xf4f4f4, false, "Deskway: allow screen sharing?")
	if err != nil {
		return 0, err
	}
	defer x.close()
	dialogMu.Lock()
	dialogAt = at
	dialogMu.Unlock()

	onlyControl := want&proto.PermView == 0 && want&proto.PermControl != 0
	draw := func() {
		x.text(x.fg, 20, 26, "Deskway remote support")
		if onlyControl {
			// Asked again mid-session: they already see the screen.
			x.text(x.fg, 20, 48, viewer+" asks to use your mouse and keyboard again.")
		} else {
			x.text(x.fg, 20, 48, viewer+" asks to see your screen.")
		}
		if sas != "" {
			x.text(x.fg, 20, 66, "They should read you this number: "+sas)
		}
		x.text(x.fg, 20, 88, "You can end the session at any time.")
		x.button(buttonDeny, "Deny")
		label := "View and control"
		switch {
		case onlyControl:
			label = "Allow control"
		case want&proto.PermControl == 0:
			label = "Allow"
		}
		if !onlyControl {
			x.button(buttonView, "View only")
		}
		x.button(buttonControl, label)
		xproto.GetInputFocus(x.c).Reply()
	}
	draw()

	type answer struct {
		p   proto.Perms
		err error
	}
	answers := make(chan answer, 1)
	go func() {
		for {
			ev, xerr := x.c.WaitForEvent()
			if ev == nil && xerr == nil {
				answers <- answer{err: fmt.Errorf("platform: consent: %w", ErrClosed)}
				return
			}
			switch e := ev.(type) {
			case xproto.ExposeEvent:
				if e.Count == 0 {
					draw()
				}
			case xproto.KeyPressEvent:
				if e.Detail == 9 { // Escape (evdev 1 + 8)
					answers <- answer{}
					return
				}
			case xproto.ButtonPressEvent:
				pt := image.Pt(int(e.EventX), int(e.EventY))
				switch {
				case pt.In(buttonDeny):
					answers <- answer{}
					return
				case pt.In(buttonView) && !onlyControl:
					answers <- answer{p: want & proto.PermView}
					return
				case pt.In(buttonControl):
					answers <- answer{p: want}
					return
				}
			}
		}
	}()
	select {
	case a := <-answers:
		return a.p, a.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// x11Indicator is the red bar.
type x11Indicator struct {
	controlOffer // the Stop control button is shown while control is granted
	x            *xwin
	mu           sync.Mutex
	text         string
	ended        chan struct{}
	endOnce      sync.Once
	done         chan struct{}
	wg           sync.WaitGroup
}

// ShowIndicator shows the bar at the top centre of the screen.
func (p *X11Prompter) ShowIndicator(text string) (Indicator, error) {
	c, scr, err := dialX(p.Display)
	if err != nil {
		return nil, err
	}
	at := image.Pt((int(scr.WidthInPixels)-indicatorSize.X)/2, 0)
	c.Close()
	x, err := openWindow(p.Display, indicatorSize, at, 0xd03030, true, "Deskway session")
	if err != nil {
		return nil, err
	}
	ind := &x11Indicator{x: x, text: text, ended: make(chan struct{}), done: make(chan struct{}), controlOffer: newControlOffer()}
	ind.draw()
	ind.wg.Add(2)
	go ind.events()
	go ind.keepOnTop()
	return ind, nil
}

func (ind *x11Indicator) draw() {
	ind.mu.Lock()
	text := ind.text
	ind.mu.Unlock()
	control := ind.granted()
	x := ind.x
	xproto.PolyFillRectangle(x.c, xproto.Drawable(x.w), x.bg, []xproto.Rectangle{{Width: uint16(indicatorSize.X), Height: uint16(indicatorSize.Y)}})
	x.text(x.fg, 8, 17, text)
	if control {
		xproto.PolyFillRectangle(x.c, xproto.Drawable(x.w), x.light, []xproto.Rectangle{xrect(buttonStop)})
		x.text(x.btn, buttonStop.Min.X+13, 17, "Stop control")
	}
	xproto.PolyFillRectangle(x.c, xproto.Drawable(x.w), x.light, []xproto.Rectangle{xrect(buttonEnd)})
	x.text(x.btn, buttonEnd.Min.X+20, 17, "End")
	xproto.GetInputFocus(x.c).Reply()
}

func (ind *x11Indicator) events() {
	defer ind.wg.Done()
	for {
		ev, xerr := ind.x.c.WaitForEvent()
		if ev == nil && xerr == nil {
			return
		}
		switch e := ev.(type) {
		case xproto.ExposeEvent:
			if e.Count == 0 {
				ind.draw()
			}
		case xproto.ButtonPressEvent:
			pt := image.Pt(int(e.EventX), int(e.EventY))
			switch {
			case pt.In(buttonEnd):
				ind.endOnce.Do(func() { close(ind.ended) })
			case pt.In(buttonStop):
				ind.withdraw()
			}
		}
	}
}

// keepOnTop raises the bar now and then, so that no window hides it.
func (ind *x11Indicator) keepOnTop() {
	defer ind.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ind.done:
			return
		case <-t.C:
			xproto.ConfigureWindow(ind.x.c, ind.x.w, xproto.ConfigWindowStackMode, []uint32{xproto.StackModeAbove})
		}
	}
}

func (ind *x11Indicator) SetText(text string) {
	ind.mu.Lock()
	ind.text = text
	ind.mu.Unlock()
	ind.draw()
}

// SetControl shows the Stop control button while control is granted.
func (ind *x11Indicator) SetControl(on bool) {
	ind.setControl(on)
	ind.draw()
}

func (ind *x11Indicator) Ended() <-chan struct{} { return ind.ended }

func (ind *x11Indicator) Close() error {
	select {
	case <-ind.done:
		return nil
	default:
	}
	close(ind.done)
	ind.x.close()
	ind.wg.Wait()
	return nil
}
