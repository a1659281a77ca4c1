//go:build linux

package platform

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

const (
	usageA      = proto.KeyA
	usageShiftL = proto.KeyShiftLeft
)

func TestX11InputPointerAndKeys(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	x := newXClient(t, d)
	win := image.Rect(100, 80, 400, 300)
	w := x.window(win, 0x336699, xproto.EventMaskKeyPress|xproto.EventMaskKeyRelease|
		xproto.EventMaskButtonPress|xproto.EventMaskButtonRelease|xproto.EventMaskPointerMotion)
	xproto.SetInputFocus(x.c, xproto.InputFocusPointerRoot, w, xproto.TimeCurrentTime)
	x.sync()

	in, err := NewX11Input(d.Name)
	if err != nil {
		t.Fatalf("NewX11Input: %v", err)
	}
	defer in.Close()

	// Pointer moves: the server's pointer and the window's motion event.
	for _, p := range []image.Point{{150, 120}, {399, 299}, {100, 80}, {250, 200}} {
		if err := in.MovePointer(p.X, p.Y); err != nil {
			t.Fatalf("MovePointer(%v): %v", p, err)
		}
		if got := x.pointer(); got != p {
			t.Errorf("after MovePointer(%v) the server's pointer is at %v", p, got)
		}
		ev := x.nextEvent(2*time.Second, func(ev xgb.Event) bool {
			m, ok := ev.(xproto.MotionNotifyEvent)
			return ok && int(m.RootX) == p.X && int(m.RootY) == p.Y
		}).(xproto.MotionNotifyEvent)
		if got := image.Pt(int(ev.EventX), int(ev.EventY)); got != p.Sub(win.Min) {
			t.Errorf("motion event at %v in the window, want %v", got, p.Sub(win.Min))
		}
	}

	// Buttons and wheel: X button numbers as the window sees them.
	press := func(detail byte, down bool) func(xgb.Event) bool {
		return func(ev xgb.Event) bool {
			switch e := ev.(type) {
			case xproto.ButtonPressEvent:
				return down && e.Detail == xproto.Button(detail)
			case xproto.ButtonReleaseEvent:
				return !down && e.Detail == xproto.Button(detail)
			}
			return false
		}
	}
	for _, tc := range []struct {
		b      proto.Buttons
		detail byte
	}{{proto.ButtonLeft, 1}, {proto.ButtonMiddle, 2}, {proto.ButtonRight, 3}, {proto.ButtonBack, 8}, {proto.ButtonForward, 9}} {
		for _, down := range []bool{true, false} {
			if err := in.Button(tc.b, down); err != nil {
				t.Fatalf("Button(%v, %v): %v", tc.b, down, err)
			}
			x.nextEvent(2*time.Second, press(tc.detail, down))
		}
	}
	for _, tc := range []struct {
		dx, dy int
		detail byte
	}{{0, 120, 5}, {0, -120, 4}, {120, 0, 7}, {-120, 0, 6}} {
		if err := in.Wheel(tc.dx, tc.dy); err != nil {
			t.Fatalf("Wheel(%d, %d): %v", tc.dx, tc.dy, err)
		}
		x.nextEvent(2*time.Second, press(tc.detail, true))
	}
	// Half notches add up to one.
	in.Wheel(0, 60)
	in.Wheel(0, 60)
	x.nextEvent(2*time.Second, press(5, true))

	// Keys by physical code, with a modifier held.
	key := func(usage proto.KeyCode, down bool) {
		t.Helper()
		if err := in.Key(usage, down); err != nil {
			t.Fatalf("Key(%#x, %v): %v", usage, down, err)
		}
	}
	key(usageA, true)
	ev := x.nextEvent(2*time.Second, func(ev xgb.Event) bool { _, ok := ev.(xproto.KeyPressEvent); return ok }).(xproto.KeyPressEvent)
	if ev.Detail != 38 || ev.State&xproto.ModMaskShift != 0 {
		t.Errorf("KeyA: key press keycode %d state %#x, want 38 without Shift", ev.Detail, ev.State)
	}
	key(usageA, false)
	key(usageShiftL, true)
	key(usageA, true)
	ev = x.nextEvent(2*time.Second, func(ev xgb.Event) bool {
		e, ok := ev.(xproto.KeyPressEvent)
		return ok && e.Detail == 38
	}).(xproto.KeyPressEvent)
	if ev.State&xproto.ModMaskShift == 0 {
		t.Errorf("Shift+KeyA: key press state %#x, want Shift", ev.State)
	}
	key(usageA, false)
	key(usageShiftL, false)
	if err := in.Key(0x07ffff, true); err == nil {
		t.Errorf("Key(unknown usage) succeeded")
	}
}

// TestX11InputText types into a real terminal, which turns the key events
// into characters with its own keyboard lookup and writes them to a file.
func TestX11InputText(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	out := filepath.Join(t.TempDir(), "typed")
	t.Setenv("LC_ALL", "C.UTF-8")
	d.Run(t, "xterm", "-u8", "-geometry", "80x10+0+0", "-e", "sh", "-c", "stty -echo; exec cat > "+out)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(out); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("xterm did not start its shell within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let xterm map its window

	in, err := NewX11Input(d.Name)
	if err != nil {
		t.Fatalf("NewX11Input: %v", err)
	}
	defer in.Close()
	in.MovePointer(100, 50) // focus follows the pointer without a window manager

	// Plain ASCII, shifted characters, Latin-1 the US layout lacks,
	// characters from other scripts, and more distinct missing characters
	// than a keyboard has spare keycodes for at once.
	lines := []string{
		"Hello, World! ~`@#$%^&*()_+{}|:\"<>?",
		"Grüße, café, señor: ß Ø å ¿",
		"€ Ω Ж ש 日本語 ✓",
		"αβγδεζηθικλμνξοπρστυφχψω ÀÁÂÃÄÅÆÇÈÉÊË",
	}
	// Shift held by the viewer must not leak into the text.
	in.Key(usageShiftL, true)
	if err := in.Type(lines[0] + "\n"); err != nil {
		t.Fatalf("Type: %v", err)
	}
	in.Key(usageShiftL, false)
	for _, l := range lines[1:] {
		if err := in.Type(l + "\n"); err != nil {
			t.Fatalf("Type: %v", err)
		}
	}
	want := strings.Join(lines, "\n") + "\n"
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(out)
		if got = string(b); got == want {
			return
		}
	}
	t.Errorf("typed text arrived as\n%q\nwant\n%q", got, want)
}
