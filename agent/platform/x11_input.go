//go:build linux

package platform

import (
	"fmt"
	"sync"
	"time"
	"unicode"

	"github.com/deskway/deskway/proto"
	"github.com/go-vgo/robotgo"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// robotMu serialises robotgo, whose X11 side is one process-wide Xlib
// Display (not thread-safe), and remembers which display it points at.
var (
	robotMu      sync.Mutex
	robotDisplay string
)

// robot runs f with robotgo pointed at display.
func robot(display string, f func()) error {
	robotMu.Lock()
	defer robotMu.Unlock()
	if display != robotDisplay {
		if err := robotgo.SetXDisplayName(display); err != nil {
			return fmt.Errorf("platform: robotgo: display %s: %w", display, err)
		}
		robotDisplay = display
	}
	f()
	return nil
}

// X11Input injects input into an X display: the pointer and its main
// buttons and wheel through robotgo (XTest), keys by physical code and
// text through XTest on its own connection.
//
// Keys: a HID usage becomes the X keycode evdev+8, so a key is the same
// physical key whatever the host's layout. Text: each character is typed
// with the key that produces it in the host's current layout (with Shift
// if needed); a character the layout lacks is bound for the moment to a
// spare keycode, so text survives any pair of layouts. Scratch bindings
// are kept round-robin (rebinding a keycode right after its key event
// would race the client's lookup) and removed by Close.
//
// An X11Input is safe for concurrent use; calls are serialised.
type X11Input struct {
	display string

	mu      sync.Mutex
	c       *xgb.Conn
	root    xproto.Window
	wheel   [2]int           // sub-notch wheel remainder, x and y, in 1/120
	scratch []xproto.Keycode // spare keycodes we bound, oldest first
	spare   []xproto.Keycode // spare keycodes not bound yet
	bound   map[xproto.Keysym]xproto.Keycode
	closed  bool
}

// NewX11Input connects to the X display name ("" = $DISPLAY) and checks
// that it has XTest.
func NewX11Input(name string) (*X11Input, error) {
	c, scr, err := dialX(name)
	if err != nil {
		return nil, err
	}
	if err := useExtension(c, "XTEST"); err != nil {
		c.Close()
		return nil, fmt.Errorf("platform: x11 input: XTEST: %w", err)
	}
	in := &X11Input{display: DisplayName(name), c: c, root: scr.Root, bound: map[xproto.Keysym]xproto.Keycode{}}
	// Open robotgo's display now, so that the first event is not late.
	if err := robot(in.display, func() {}); err != nil {
		c.Close()
		return nil, err
	}
	return in, nil
}

// MovePointer moves the pointer to x, y on the virtual desktop.
func (in *X11Input) MovePointer(x, y int) error {
	return robot(in.display, func() { robotgo.Move(x, y) })
}

// Button presses or releases one pointer button (one bit of
// proto.Buttons) where the pointer is.
func (in *X11Input) Button(b proto.Buttons, down bool) error {
	var name string
	switch b {
	case proto.ButtonLeft:
		name = "left"
	case proto.ButtonRight:
		name = "right"
	case proto.ButtonMiddle:
		name = "center"
	case proto.ButtonBack, proto.ButtonForward:
		// robotgo knows only three buttons; X buttons 8 and 9 go
		// through XTest directly.
		detail := byte(8)
		if b == proto.ButtonForward {
			detail = 9
		}
		typ := byte(xproto.ButtonPress)
		if !down {
			typ = xproto.ButtonRelease
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		xtest.FakeInput(in.c, typ, detail, 0, in.root, 0, 0, 0)
		return in.syncLocked()
	default:
		return fmt.Errorf("platform: x11 input: unknown button %#x", uint8(b))
	}
	upDown := "down"
	if !down {
		upDown = "up"
	}
	return robot(in.display, func() { robotgo.Toggle(name, upDown) })
}

// Wheel scrolls by dx, dy in 1/120 notch (positive: right, down). X
// scrolls in whole notches (buttons 4-7); the remainder carries over.
func (in *X11Input) Wheel(dx, dy int) error {
	in.mu.Lock()
	in.wheel[0] += dx
	in.wheel[1] += dy
	nx, ny := in.wheel[0]/120, in.wheel[1]/120
	in.wheel[0] -= nx * 120
	in.wheel[1] -= ny * 120
	in.mu.Unlock()
	if nx == 0 && ny == 0 {
		return nil
	}
	// robotgo: positive y is up (button 4), positive x is left (button 6).
	return robot(in.display, func() { robotgo.Scroll(-nx, -ny, 0) })
}

// Key presses or releases a physical key.
func (in *X11Input) Key(code proto.KeyCode, down bool) error {
	k, ok := lookupKey(uint32(code))
	if !ok {
		return fmt.Errorf("platform: x11 input: %w: %v", ErrUnknownKey, code)
	}
	typ := byte(xproto.KeyPress)
	if !down {
		typ = xproto.KeyRelease
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	xtest.FakeInput(in.c, typ, byte(k.evdev+8), 0, in.root, 0, 0, 0)
	return in.syncLocked()
}

// syncLocked waits until the server has processed our requests, so that
// they are ordered with robotgo's, which go over another connection.
func (in *X11Input) syncLocked() error {
	if in.closed {
		return ErrClosed
	}
	if _, err := xproto.GetInputFocus(in.c).Reply(); err != nil {
		return fmt.Errorf("platform: x11 input: %w", err)
	}
	return nil
}

// keyboard is a snapshot of the server's keyboard state.
type keyboard struct {
	min      xproto.Keycode
	perCode  int
	syms     []xproto.Keysym
	shift    xproto.Keycode   // a keycode that is Shift
	modsDown []xproto.Keycode // modifier keys held down now
	lock     bool             // Caps Lock on
}

func (in *X11Input) keyboardLocked() (*keyboard, error) {
	setup := xproto.Setup(in.c)
	minK, maxK := setup.MinKeycode, setup.MaxKeycode
	km, err := xproto.GetKeyboardMapping(in.c, minK, byte(maxK-minK+1)).Reply()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 input: keyboard mapping: %w", err)
	}
	mm, err := xproto.GetModifierMapping(in.c).Reply()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 input: modifier mapping: %w", err)
	}
	keys, err := xproto.QueryKeymap(in.c).Reply()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 input: query keymap: %w", err)
	}
	ptr, err := xproto.QueryPointer(in.c, in.root).Reply()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 input: query pointer: %w", err)
	}
	kb := &keyboard{min: minK, perCode: int(km.KeysymsPerKeycode), syms: km.Keysyms, lock: ptr.Mask&xproto.ModMaskLock != 0}
	per := int(mm.KeycodesPerModifier)
	for mod := 0; mod < 8; mod++ {
		if mod == 1 { // Lock: leave Caps Lock as it is
			continue
		}
		for _, kc := range mm.Keycodes[mod*per : (mod+1)*per] {
			if kc == 0 {
				continue
			}
			if mod == 0 && kb.shift == 0 {
				kb.shift = kc
			}
			if keys.Keys[kc/8]&(1<<(kc%8)) != 0 {
				kb.modsDown = append(kb.modsDown, kc)
			}
		}
	}
	if in.spare == nil && len(in.scratch) == 0 {
		for i := 0; i*kb.perCode < len(kb.syms); i++ {
			kc := minK + xproto.Keycode(i)
			if kc <= 8 { // keycode 8 is often claimed by XKB
				continue
			}
			empty := true
			for _, s := range kb.syms[i*kb.perCode : (i+1)*kb.perCode] {
				empty = empty && s == 0
			}
			if empty {
				in.spare = append(in.spare, kc)
			}
		}
	}
	return kb, nil
}

// find returns a keycode whose first or second level is sym.
func (kb *keyboard) find(sym xproto.Keysym) (kc xproto.Keycode, shifted, ok bool) {
	for i := 0; (i+1)*kb.perCode <= len(kb.syms); i++ {
		s := kb.syms[i*kb.perCode:]
		for level := 0; level < 2 && level < kb.perCode; level++ {
			if s[level] == sym {
				return kb.min + xproto.Keycode(i), level == 1, true
			}
		}
	}
	return 0, false, false
}

// keysymOf returns the X keysym that types r: Latin-1 keysyms are the
// code points, the rest are 0x01000000 + code point; newline and tab are
// Return and Tab.
func keysymOf(r rune) (xproto.Keysym, bool) {
	switch {
	case r == '\n' || r == '\r':
		return 0xff0d, true
	case r == '\t':
		return 0xff09, true
	case r == '\b':
		return 0xff08, true
	case r < 0x20 || r == 0x7f || !unicode.IsPrint(r) && r != ' ':
		return 0, false
	case r < 0x100:
		return xproto.Keysym(r), true
	case r <= unicode.MaxRune:
		return xproto.Keysym(0x01000000 | r), true
	}
	return 0, false
}

// Type types text as the person at the host would, whatever the layouts.
// Modifier keys held down are released during the text and pressed again
// after it. Characters that cannot be typed (control characters) are
// skipped.
func (in *X11Input) Type(text string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrClosed
	}
	kb, err := in.keyboardLocked()
	if err != nil {
		return err
	}
	for _, kc := range kb.modsDown {
		in.fakeKey(kc, false)
	}
	for _, r := range text {
		sym, ok := keysymOf(r)
		if !ok {
			continue
		}
		kc, shifted, ok := kb.find(sym)
		if !ok {
			kc, ok = in.bind(kb, sym)
			shifted = false
			if !ok {
				continue
			}
		}
		if kb.lock && unicode.IsLetter(r) && unicode.IsUpper(r) != unicode.IsLower(r) {
			// Caps Lock inverts Shift for letters.
			shifted = !shifted
		}
		if shifted && kb.shift != 0 {
			in.fakeKey(kb.shift, true)
		}
		in.fakeKey(kc, true)
		in.fakeKey(kc, false)
		if shifted && kb.shift != 0 {
			in.fakeKey(kb.shift, false)
		}
	}
	for _, kc := range kb.modsDown {
		in.fakeKey(kc, true)
	}
	return in.syncLocked()
}

func (in *X11Input) fakeKey(kc xproto.Keycode, down bool) {
	typ := byte(xproto.KeyPress)
	if !down {
		typ = xproto.KeyRelease
	}
	xtest.FakeInput(in.c, typ, byte(kc), 0, in.root, 0, 0, 0)
}

// bind binds sym to a spare keycode, reusing the oldest scratch keycode
// when none is left, and waits a moment so that clients see the new
// mapping before the key event.
func (in *X11Input) bind(kb *keyboard, sym xproto.Keysym) (xproto.Keycode, bool) {
	if kc, ok := in.bound[sym]; ok {
		return kc, true
	}
	var kc xproto.Keycode
	switch {
	case len(in.spare) > 0:
		kc, in.spare = in.spare[0], in.spare[1:]
	case len(in.scratch) > 0:
		kc, in.scratch = in.scratch[0], in.scratch[1:]
		for s, k := range in.bound {
			if k == kc {
				delete(in.bound, s)
			}
		}
	default:
		return 0, false
	}
	in.scratch = append(in.scratch, kc)
	in.bound[sym] = kc
	xproto.ChangeKeyboardMapping(in.c, 1, kc, 2, []xproto.Keysym{sym, sym})
	xproto.GetInputFocus(in.c).Reply()
	time.Sleep(10 * time.Millisecond)
	return kc, true
}

// Close removes the scratch bindings and closes the connection. It waits a
// moment first so that clients have looked up the last typed keys.
func (in *X11Input) Close() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	if len(in.scratch) > 0 {
		time.Sleep(50 * time.Millisecond)
		for _, kc := range in.scratch {
			xproto.ChangeKeyboardMapping(in.c, 1, kc, 2, []xproto.Keysym{0, 0})
		}
		xproto.GetInputFocus(in.c).Reply()
	}
	in.closed = true
	in.c.Close()
	// Close robotgo's display too while the server is still there: Xlib
	// exits the process when it finds a connection whose server is gone.
	robotMu.Lock()
	if robotDisplay == in.display {
		robotgo.CloseMainDisplay()
		robotDisplay = ""
	}
	robotMu.Unlock()
	return nil
}
