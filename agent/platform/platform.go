package platform

import (
	"errors"
	"image"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// The package speaks in types of proto, codec and the standard library
// only, so that package agent can consume it through its own interfaces
// without either package importing the other:
//
//   - a display is a proto.Monitor (virtual desktop coordinates);
//   - a capture fills a codec.Frame in place and returns the changed
//     rectangles relative to the captured area: nil when nothing changed,
//     one rectangle covering the whole area when everything may have;
//   - buttons, key codes and permissions are proto.Buttons,
//     proto.KeyCode and proto.Perms;
//   - the cursor is a proto.CursorPos and a proto.CursorShape (ID unused)
//     with a serial that changes with the shape.

// MonitorBounds returns where m is on the virtual desktop.
func MonitorBounds(m proto.Monitor) image.Rectangle {
	return image.Rect(int(m.X), int(m.Y), int(m.X)+int(m.Width), int(m.Y)+int(m.Height))
}

// monitor makes a proto.Monitor of r.
func monitor(id uint32, r image.Rectangle, primary bool, name string) proto.Monitor {
	return proto.Monitor{ID: id, X: int32(r.Min.X), Y: int32(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy()), Primary: primary, Name: name}
}

// whole is the damage of a capture that may have changed everything.
func whole(area image.Rectangle) []image.Rectangle {
	return []image.Rectangle{image.Rect(0, 0, area.Dx(), area.Dy())}
}

// resizeFrame makes f a w×h frame in format pf with a packed stride,
// reusing its buffer if it is big enough. It reports whether the
// geometry, format or buffer changed.
func resizeFrame(f *codec.Frame, w, h int, pf codec.PixelFormat) bool {
	changed := f.Width != w || f.Height != h || f.Format != pf || f.Stride != 4*w
	f.Width, f.Height, f.Stride, f.Format = w, h, 4*w, pf
	if n := 4 * w * h; cap(f.Pix) >= n {
		f.Pix = f.Pix[:n]
	} else {
		f.Pix = make([]byte, n)
		changed = true
	}
	return changed
}

// RGB returns the red, green and blue of the pixel at x, y of f.
func RGB(f *codec.Frame, x, y int) (r, g, b uint8) {
	p := f.Pix[y*f.Stride+4*x:]
	if f.Format == codec.BGRA {
		return p[2], p[1], p[0]
	}
	return p[0], p[1], p[2]
}

// Indicator is the visible sign that a session is live: SetText replaces
// its text, Ended is closed when the person at the host ends the session,
// Close removes it (without closing Ended). It is an alias of an unnamed
// interface type, so package agent can name the same type.
type Indicator = interface {
	SetText(text string)
	Ended() <-chan struct{}
	Close() error
}

// ControlIndicator is an Indicator that also lets the person at the host
// take back control while the session goes on: SetControl shows or hides
// the way to do it, Withdrawn delivers a value each time it is used.
// The X11 and terminal indicators are ControlIndicators.
type ControlIndicator = interface {
	Indicator
	SetControl(on bool)
	Withdrawn() <-chan struct{}
}

// Errors shared by the implementations.
var (
	// ErrNoDisplay means there is no display to talk to (no DISPLAY, no
	// desktop session).
	ErrNoDisplay = errors.New("platform: no display")
	// ErrUnknownKey is wrapped by Key for a code with no key here.
	ErrUnknownKey = errors.New("unknown key")
	// ErrTooLarge means clipboard text exceeds MaxClipboard.
	ErrTooLarge = errors.New("platform: clipboard text too large")
	// ErrClosed means the object was closed.
	ErrClosed = errors.New("platform: closed")
)

// MaxClipboard bounds clipboard text in bytes, both ways.
const MaxClipboard = proto.MaxClipboard

// allPerms is every permission.
const allPerms = proto.PermView | proto.PermControl | proto.PermClipboard

// permString names perms for people ("view+control").
func permString(p proto.Perms) string {
	s := ""
	for _, x := range []struct {
		p    proto.Perms
		name string
	}{{proto.PermView, "view"}, {proto.PermControl, "control"}, {proto.PermClipboard, "clipboard"}} {
		if p&x.p != 0 {
			if s != "" {
				s += "+"
			}
			s += x.name
		}
	}
	if s == "" {
		return "nothing"
	}
	return s
}
