//go:build linux

package platform

import (
	"errors"
	"fmt"
	"image"
	"os"
	"sync"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xinerama"
	"github.com/jezek/xgb/xproto"
	"golang.org/x/sys/unix"
)

// X11Capturer is the X11 fast path: one persistent connection, pixels
// read with MIT-SHM GetImage into a SysV shared segment (no copy through
// the socket), and a DAMAGE object on the root window so that a capture
// reads only the regions drawn since the previous one. Without MIT-SHM
// (a remote display) it reads with plain GetImage.
//
// The frame it fills is BGRA and keeps the previous capture: only damaged
// rectangles are rewritten. A capture of a different area than the
// previous one reads everything again.
//
// An X11Capturer is safe for concurrent use; captures are serialised.
type X11Capturer struct {
	mu     sync.Mutex
	c      *xgb.Conn
	root   xproto.Window
	width  int // of the root window
	height int
	dmg    damage.Damage
	region xfixes.Region

	// Shared memory; seg is 0 without MIT-SHM.
	seg    shm.Seg
	shmid  int
	shmbuf []byte

	last   image.Rectangle // area of the previous capture
	lastPx *byte           // and the buffer it went into
	closed bool
}

// maxDamageRects is how many damaged rectangles a capture reads one by one
// before it reads their bounding box instead.
const maxDamageRects = 64

// DisplayName returns the X display to use: name if set, else $DISPLAY.
func DisplayName(name string) string {
	if name != "" {
		return name
	}
	return os.Getenv("DISPLAY")
}

// dialX opens a connection to the X display name ("" = $DISPLAY).
func dialX(name string) (*xgb.Conn, *xproto.ScreenInfo, error) {
	name = DisplayName(name)
	if name == "" {
		return nil, nil, fmt.Errorf("platform: x11: %w (DISPLAY is not set)", ErrNoDisplay)
	}
	c, err := xgb.NewConnDisplay(name)
	if err != nil {
		return nil, nil, fmt.Errorf("platform: x11: connect to %s: %w", name, err)
	}
	return c, xproto.Setup(c).DefaultScreen(c), nil
}

// NewX11Capturer connects to the X display name ("" = $DISPLAY) and sets
// up DAMAGE and, where the server offers it, MIT-SHM. It fails when the
// display's pixels are not 32-bit little-endian TrueColor (the fast path
// then does not apply: use LibCapturer).
func NewX11Capturer(name string) (_ *X11Capturer, err error) {
	c, scr, err := dialX(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := checkPixmapFormat(c, scr); err != nil {
		return nil, err
	}
	x := &X11Capturer{c: c, root: scr.Root, width: int(scr.WidthInPixels), height: int(scr.HeightInPixels)}
	if err := useExtension(c, "XFIXES"); err != nil {
		return nil, err
	}
	if err := useExtension(c, "DAMAGE"); err != nil {
		return nil, err
	}
	if x.dmg, err = damage.NewDamageId(c); err != nil {
		return nil, fmt.Errorf("platform: x11 capture: %w", err)
	}
	if err := damage.CreateChecked(c, x.dmg, xproto.Drawable(x.root), damage.ReportLevelNonEmpty).Check(); err != nil {
		return nil, fmt.Errorf("platform: x11 capture: create damage: %w", err)
	}
	if x.region, err = xfixes.NewRegionId(c); err != nil {
		return nil, fmt.Errorf("platform: x11 capture: %w", err)
	}
	if err := xfixes.CreateRegionChecked(c, x.region, nil).Check(); err != nil {
		return nil, fmt.Errorf("platform: x11 capture: create region: %w", err)
	}
	if err := x.attachShm(); err != nil {
		// A remote display: plain GetImage still works.
		x.seg = 0
	}
	return x, nil
}

// checkPixmapFormat checks that the root's depth is stored as 32 bits per
// pixel, least significant byte first, with the usual TrueColor masks, so
// that ZPixmap data is BGRA.
func checkPixmapFormat(c *xgb.Conn, scr *xproto.ScreenInfo) error {
	setup := xproto.Setup(c)
	if setup.ImageByteOrder != xproto.ImageOrderLSBFirst {
		return errors.New("platform: x11 capture: image byte order is MSB first")
	}
	bpp := 0
	for _, f := range setup.PixmapFormats {
		if f.Depth == scr.RootDepth {
			bpp = int(f.BitsPerPixel)
		}
	}
	if scr.RootDepth != 24 && scr.RootDepth != 32 || bpp != 32 {
		return fmt.Errorf("platform: x11 capture: root depth %d at %d bits per pixel, want 24 or 32 at 32", scr.RootDepth, bpp)
	}
	for _, d := range scr.AllowedDepths {
		for _, v := range d.Visuals {
			if v.VisualId == scr.RootVisual && (v.RedMask != 0xff0000 || v.GreenMask != 0xff00 || v.BlueMask != 0xff) {
				return fmt.Errorf("platform: x11 capture: root visual masks %06x %06x %06x, want ff0000 00ff00 0000ff", v.RedMask, v.GreenMask, v.BlueMask)
			}
		}
	}
	return nil
}

// attachShm makes a SysV segment the size of the root window and attaches
// it on both sides. The segment is marked for removal at once, so it goes
// away with the last process that has it attached, even after a crash.
func (x *X11Capturer) attachShm() error {
	if err := useExtension(x.c, "MIT-SHM"); err != nil {
		return err
	}
	size := x.width * x.height * 4
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|0o600)
	if err != nil {
		return fmt.Errorf("shmget: %w", err)
	}
	buf, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return fmt.Errorf("shmat: %w", err)
	}
	seg, err := shm.NewSegId(x.c)
	if err == nil {
		err = shm.AttachChecked(x.c, seg, uint32(id), false).Check()
	}
	unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	if err != nil {
		unix.SysvShmDetach(buf)
		return fmt.Errorf("shm attach: %w", err)
	}
	x.seg, x.shmid, x.shmbuf = seg, id, buf
	return nil
}

// HasSHM reports whether captures go through shared memory.
func (x *X11Capturer) HasSHM() bool { return x.seg != 0 }

// Displays lists the monitors from Xinerama, or the root window as one
// display when Xinerama has none.
func (x *X11Capturer) Displays() ([]proto.Monitor, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return xineramaDisplays(x.c, x.width, x.height), nil
}

func xineramaDisplays(c *xgb.Conn, w, h int) []proto.Monitor {
	root := []proto.Monitor{monitor(1, image.Rect(0, 0, w, h), true, "screen")}
	if err := useExtension(c, "XINERAMA"); err != nil {
		return root
	}
	if a, err := xinerama.IsActive(c).Reply(); err != nil || a.State == 0 {
		return root
	}
	r, err := xinerama.QueryScreens(c).Reply()
	if err != nil || len(r.ScreenInfo) == 0 {
		return root
	}
	ds := make([]proto.Monitor, 0, len(r.ScreenInfo))
	for i, s := range r.ScreenInfo {
		b := image.Rect(int(s.XOrg), int(s.YOrg), int(s.XOrg)+int(s.Width), int(s.YOrg)+int(s.Height))
		ds = append(ds, monitor(uint32(i+1), b, i == 0, fmt.Sprintf("screen %d", i+1)))
	}
	return ds
}

// Capture updates f with area (root window coordinates) and returns the
// rectangles (relative to area) that changed since the previous capture
// into the same frame: nil if none, the whole area after a full read.
func (x *X11Capturer) Capture(area image.Rectangle, f *codec.Frame) ([]image.Rectangle, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil, ErrClosed
	}
	screen := image.Rect(0, 0, x.width, x.height)
	if area.Empty() || !area.In(screen) {
		return nil, fmt.Errorf("platform: x11 capture: area %v not inside the screen %v", area, screen)
	}
	rects, err := x.takeDamage()
	if err != nil {
		return nil, err
	}
	resized := resizeFrame(f, area.Dx(), area.Dy(), codec.BGRA)
	full := resized || area != x.last || &f.Pix[0] != x.lastPx
	x.last, x.lastPx = area, &f.Pix[0]
	if full {
		if err := x.read(area, area, f); err != nil {
			x.last = image.Rectangle{}
			return nil, err
		}
		return whole(area), nil
	}
	var changed []image.Rectangle
	var bbox image.Rectangle
	for _, r := range rects {
		if r = r.Intersect(area); !r.Empty() {
			changed = append(changed, r.Sub(area.Min))
			bbox = bbox.Union(r)
		}
	}
	if len(changed) > maxDamageRects {
		changed = append(changed[:0], bbox.Sub(area.Min))
	}
	for _, r := range changed {
		if err := x.read(r.Add(area.Min), area, f); err != nil {
			x.last = image.Rectangle{}
			return nil, err
		}
	}
	return changed, nil
}

// Invalidate makes the next capture read the whole area.
func (x *X11Capturer) Invalidate() {
	x.mu.Lock()
	x.last = image.Rectangle{}
	x.mu.Unlock()
}

// takeDamage moves the accumulated damage into x.region, fetches its
// rectangles and drains the DamageNotify events.
func (x *X11Capturer) takeDamage() ([]image.Rectangle, error) {
	for {
		ev, xerr := x.c.PollForEvent()
		if ev == nil && xerr == nil {
			break
		}
	}
	damage.Subtract(x.c, x.dmg, xfixes.Region(0), x.region)
	reply, err := xfixes.FetchRegion(x.c, x.region).Reply()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 capture: fetch damage: %w", err)
	}
	rs := make([]image.Rectangle, 0, len(reply.Rectangles))
	for _, r := range reply.Rectangles {
		rs = append(rs, image.Rect(int(r.X), int(r.Y), int(r.X)+int(r.Width), int(r.Y)+int(r.Height)))
	}
	return rs, nil
}

// read copies r (root coordinates, inside area) into f, which holds
// area.
func (x *X11Capturer) read(r, area image.Rectangle, f *codec.Frame) error {
	w, h := r.Dx(), r.Dy()
	var src []byte
	if x.seg != 0 {
		_, err := shm.GetImage(x.c, xproto.Drawable(x.root), int16(r.Min.X), int16(r.Min.Y), uint16(w), uint16(h),
			0xffffffff, xproto.ImageFormatZPixmap, x.seg, 0).Reply()
		if err != nil {
			return fmt.Errorf("platform: x11 capture: shm get image %v: %w", r, err)
		}
		src = x.shmbuf[:4*w*h]
	} else {
		// Plain GetImage in strips that stay well under the request limit.
		rows := max(1, (1<<20)/(4*w))
		for y := r.Min.Y; y < r.Max.Y; y += rows {
			n := min(rows, r.Max.Y-y)
			reply, err := xproto.GetImage(x.c, xproto.ImageFormatZPixmap, xproto.Drawable(x.root),
				int16(r.Min.X), int16(y), uint16(w), uint16(n), 0xffffffff).Reply()
			if err != nil {
				return fmt.Errorf("platform: x11 capture: get image %v: %w", r, err)
			}
			copyRows(f, image.Rect(r.Min.X, y, r.Max.X, y+n).Sub(area.Min), reply.Data)
		}
		return nil
	}
	copyRows(f, r.Sub(area.Min), src)
	return nil
}

// copyRows copies packed rows of 4·r.Dx() bytes from src into f at r.
func copyRows(f *codec.Frame, r image.Rectangle, src []byte) {
	rowLen := 4 * r.Dx()
	for y := 0; y < r.Dy(); y++ {
		off := (r.Min.Y+y)*f.Stride + 4*r.Min.X
		copy(f.Pix[off:off+rowLen], src[y*rowLen:])
	}
}

// Close releases the shared segment and the connection.
func (x *X11Capturer) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	if x.seg != 0 {
		shm.Detach(x.c, x.seg)
		xproto.GetInputFocus(x.c).Reply() // let the server detach first
		unix.SysvShmDetach(x.shmbuf)
	}
	x.c.Close()
	return nil
}
