package platform

import (
	"errors"
	"fmt"
	"image"
)

// PixelFormat is the byte order of an Image's 32-bit pixels; the fourth
// byte is ignored. The values match codec.PixelFormat.
type PixelFormat uint8

const (
	BGRA PixelFormat = iota // X11 ZPixmap on little-endian machines, Windows DIBs
	RGBA                    // image.RGBA
)

func (f PixelFormat) String() string {
	switch f {
	case BGRA:
		return "BGRA"
	case RGBA:
		return "RGBA"
	}
	return fmt.Sprintf("PixelFormat(%d)", uint8(f))
}

// Image is a captured area of the screen: Height rows of Width 32-bit
// pixels, each row Stride bytes after the previous. A capturer updates an
// Image in place, so the caller keeps one per area it captures.
type Image struct {
	Pix           []byte
	Stride        int
	Width, Height int
	Format        PixelFormat
}

// RGB returns the red, green and blue of the pixel at x, y.
func (m *Image) RGB(x, y int) (r, g, b uint8) {
	p := m.Pix[y*m.Stride+4*x:]
	if m.Format == BGRA {
		return p[2], p[1], p[0]
	}
	return p[0], p[1], p[2]
}

// resize makes m a w×h image in format f, reusing its buffer if it is big
// enough. It reports whether the geometry or format changed.
func (m *Image) resize(w, h int, f PixelFormat) bool {
	changed := m.Width != w || m.Height != h || m.Format != f || m.Stride != 4*w
	m.Width, m.Height, m.Stride, m.Format = w, h, 4*w, f
	if n := 4 * w * h; cap(m.Pix) >= n {
		m.Pix = m.Pix[:n]
	} else {
		m.Pix = make([]byte, n)
		changed = true
	}
	return changed
}

// Display is one monitor of the host.
type Display struct {
	// ID is stable while the monitor is attached; never 0 (0 means "all
	// displays" to the viewer).
	ID uint32
	// Bounds is where the monitor is on the virtual desktop.
	Bounds  image.Rectangle
	Primary bool
	Name    string
}

// Union returns the bounding box of all displays: the area of "all
// monitors".
func Union(ds []Display) image.Rectangle {
	var r image.Rectangle
	for _, d := range ds {
		r = r.Union(d.Bounds)
	}
	return r
}

// Damage says what changed in an area since its previous capture.
type Damage struct {
	// All is true when the whole area may have changed: the first capture,
	// a platform that does not track changes, or too many small changes.
	All bool
	// Rects are the changed rectangles, relative to the area's top left
	// corner, when All is false. Empty means nothing changed.
	Rects []image.Rectangle
}

// Empty reports whether nothing changed.
func (d Damage) Empty() bool { return !d.All && len(d.Rects) == 0 }

// Button is a pointer button, bit for bit as proto.Buttons.
type Button uint8

const (
	ButtonLeft    Button = 1 << iota // primary
	ButtonRight                      // secondary
	ButtonMiddle                     // auxiliary
	ButtonBack                       // X1
	ButtonForward                    // X2
)

func (b Button) String() string {
	switch b {
	case ButtonLeft:
		return "left"
	case ButtonRight:
		return "right"
	case ButtonMiddle:
		return "middle"
	case ButtonBack:
		return "back"
	case ButtonForward:
		return "forward"
	}
	return fmt.Sprintf("Button(%#x)", uint8(b))
}

// CursorShape is the pointer's image.
type CursorShape struct {
	// Serial changes whenever the shape does; equal serials mean equal
	// shapes within one Cursor's life.
	Serial        uint32
	Width, Height int
	HotX, HotY    int
	// Pix is Width·Height·4 bytes of non-premultiplied RGBA, rows top to
	// bottom.
	Pix []byte
}

// CursorState is where the pointer is and which shape it has.
type CursorState struct {
	X, Y    int // virtual desktop pixels
	Visible bool
	Serial  uint32 // of the current shape; fetch it with Shape when it changes
}

// Perms are what the person at the host allows a viewer.
type Perms uint8

const (
	PermView      Perms = 1 << iota // see the screen
	PermControl                     // pointer and keyboard
	PermClipboard                   // clipboard text both ways
)

func (p Perms) String() string {
	s := ""
	for _, x := range []struct {
		p    Perms
		name string
	}{{PermView, "view"}, {PermControl, "control"}, {PermClipboard, "clipboard"}} {
		if p&x.p != 0 {
			if s != "" {
				s += "+"
			}
			s += x.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// ConsentRequest is what a consent prompt asks.
type ConsentRequest struct {
	// Viewer names who asks ("Jane Doe (technician)").
	Viewer string
	// Want is what the viewer asks for; the answer is a subset.
	Want Perms
	// SAS is the short authentication string both ends show, or "".
	SAS string
}

// Errors shared by the implementations.
var (
	// ErrNoDisplay means there is no display to talk to (no DISPLAY, no
	// desktop session).
	ErrNoDisplay = errors.New("platform: no display")
	// ErrUnsupported means this platform cannot do the operation.
	ErrUnsupported = errors.New("platform: not supported on this platform")
	// ErrTooLarge means clipboard text exceeds the bound.
	ErrTooLarge = errors.New("platform: clipboard text too large")
	// ErrClosed means the object was closed.
	ErrClosed = errors.New("platform: closed")
)

// MaxClipboard bounds clipboard text in bytes, both ways (proto's
// MaxClipboard).
const MaxClipboard = 1 << 20
