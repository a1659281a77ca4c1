//go:build linux

package platform

import (
	"fmt"
	"sync"

	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// X11Cursor reads the pointer's position and shape through XFixes: it
// selects CursorNotify on the root window so that a shape change is seen
// as a new serial without fetching the image, and fetches the image
// (GetCursorImage) only when asked.
//
// An X11Cursor is safe for concurrent use.
type X11Cursor struct {
	mu     sync.Mutex
	c      *xgb.Conn
	root   xproto.Window
	serial uint32
	closed bool
}

// NewX11Cursor connects to the X display name ("" = $DISPLAY).
func NewX11Cursor(name string) (_ *X11Cursor, err error) {
	c, scr, err := dialX(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := useExtension(c, "XFIXES"); err != nil {
		return nil, err
	}
	if err := xfixes.SelectCursorInputChecked(c, scr.Root, xfixes.CursorNotifyMaskDisplayCursor).Check(); err != nil {
		return nil, fmt.Errorf("platform: x11 cursor: select cursor input: %w", err)
	}
	x := &X11Cursor{c: c, root: scr.Root}
	img, err := xfixes.GetCursorImage(c).Reply()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 cursor: %w", err)
	}
	x.serial = img.CursorSerial
	return x, nil
}

// State returns the pointer position and the serial of the current shape.
func (x *X11Cursor) State() (proto.CursorPos, uint32, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return proto.CursorPos{}, 0, ErrClosed
	}
	for {
		ev, _ := x.c.PollForEvent()
		if ev == nil {
			break
		}
		if n, ok := ev.(xfixes.CursorNotifyEvent); ok {
			x.serial = n.CursorSerial
		}
	}
	p, err := xproto.QueryPointer(x.c, x.root).Reply()
	if err != nil {
		return proto.CursorPos{}, 0, fmt.Errorf("platform: x11 cursor: query pointer: %w", err)
	}
	return proto.CursorPos{X: int32(p.RootX), Y: int32(p.RootY), Visible: true}, x.serial, nil
}

// Shape returns the current cursor image (straight RGBA) and its serial.
func (x *X11Cursor) Shape() (proto.CursorShape, uint32, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return proto.CursorShape{}, 0, ErrClosed
	}
	r, err := xfixes.GetCursorImage(x.c).Reply()
	if err != nil {
		return proto.CursorShape{}, 0, fmt.Errorf("platform: x11 cursor: get cursor image: %w", err)
	}
	x.serial = r.CursorSerial
	w, h := int(r.Width), int(r.Height)
	s := proto.CursorShape{Width: r.Width, Height: r.Height, HotX: r.Xhot, HotY: r.Yhot}
	if len(r.CursorImage) < w*h {
		return proto.CursorShape{}, 0, fmt.Errorf("platform: x11 cursor: image of %d pixels for %dx%d", len(r.CursorImage), w, h)
	}
	s.Pix = make([]byte, 4*w*h)
	for i, p := range r.CursorImage[:w*h] {
		unpremultiply(s.Pix[4*i:4*i+4], p)
	}
	return s, r.CursorSerial, nil
}

// unpremultiply writes the premultiplied ARGB pixel p as straight RGBA.
func unpremultiply(dst []byte, p uint32) {
	a := p >> 24
	r, g, b := p>>16&0xff, p>>8&0xff, p&0xff
	if a != 0 && a != 0xff {
		r, g, b = min(255, (r*255+a/2)/a), min(255, (g*255+a/2)/a), min(255, (b*255+a/2)/a)
	}
	dst[0], dst[1], dst[2], dst[3] = byte(r), byte(g), byte(b), byte(a)
}

// Close closes the connection.
func (x *X11Cursor) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.closed {
		x.closed = true
		x.c.Close()
	}
	return nil
}
