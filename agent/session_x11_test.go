//go:build linux

package agent_test

import (
	"bytes"
	"context"
	"image"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// scriptedPrompter answers consent requests from a list, like a customer
// who first allows viewing only and control later.
type scriptedPrompter struct {
	answers chan proto.Perms
	asked   chan proto.Perms
}

func (p *scriptedPrompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	p.asked <- want
	select {
	case a := <-p.answers:
		return a & want, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *scriptedPrompter) ShowIndicator(text string) (agent.Indicator, error) {
	return platform.AutoPrompter{}.ShowIndicator(text)
}

// TestSessionInputCursorClipboard drives a session's input, cursor and
// clipboard through a real relay into a real X server, and checks what
// arrived through the X server: nothing is injected before control is
// granted; after it, pointer, buttons and keys arrive in a window; the
// cursor's shape change reaches the viewer; clipboard text crosses both
// ways.
func TestSessionInputCursorClipboard(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	in, err := platform.NewX11Input(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cur, err := platform.NewX11Cursor(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	cb, err := platform.NewX11Clipboard(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()

	// A window that records what the X server delivers to it.
	c, err := xgb.NewConnDisplay(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scr := xproto.Setup(c).DefaultScreen(c)
	win, _ := xproto.NewWindowId(c)
	xproto.CreateWindow(c, scr.RootDepth, win, scr.Root, 100, 100, 300, 200, 0, xproto.WindowClassInputOutput, scr.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{0x808080, 1, xproto.EventMaskKeyPress | xproto.EventMaskButtonPress | xproto.EventMaskPointerMotion})
	xproto.MapWindow(c, win)
	xproto.WarpPointer(c, 0, scr.Root, 0, 0, 0, 0, 5, 5)
	xproto.GetInputFocus(c).Reply()
	events := make(chan xgb.Event, 256)
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				close(events)
				return
			}
			if ev != nil {
				events <- ev
			}
		}
	}()
	nextEvent := func(what string, keep func(xgb.Event) bool) xgb.Event {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case ev := <-events:
				if keep(ev) {
					return ev
				}
			case <-timeout:
				t.Fatalf("the window got no %s", what)
				return nil
			}
		}
	}
	pointer := func() image.Point {
		r, err := xproto.QueryPointer(c, scr.Root).Reply()
		if err != nil {
			t.Fatal(err)
		}
		return image.Pt(int(r.RootX), int(r.RootY))
	}

	p := &scriptedPrompter{answers: make(chan proto.Perms, 4), asked: make(chan proto.Perms, 4)}
	p.answers <- proto.PermView // first: viewing only
	v, _, _ := session(t, d, 0, agent.SessionConfig{Desktop: agent.Desktop{Input: in, Cursor: cur, Clipboard: cb, Prompter: p}})
	ctx := context.Background()
	waitFor(t, 10*time.Second, "consent to viewing", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.consent == proto.PermView && v.frames > 0
	})

	// Without control nothing is injected.
	v.send(ctx, &proto.Pointer{X: 200, Y: 150, Buttons: proto.ButtonLeft}, true)
	v.send(ctx, &proto.Pointer{X: 200, Y: 150}, true)
	v.send(ctx, &proto.KeyEvent{Down: true, Code: proto.KeyA}, true)
	v.send(ctx, &proto.KeyEvent{Code: proto.KeyA}, true)
	time.Sleep(500 * time.Millisecond)
	if got := pointer(); got != image.Pt(5, 5) {
		t.Errorf("pointer moved to %v before control was granted", got)
	}
	for len(events) > 0 {
		if ev := <-events; ev != nil {
			switch ev.(type) {
			case xproto.ButtonPressEvent, xproto.KeyPressEvent:
				t.Errorf("input arrived before control was granted: %T", ev)
			}
		}
	}

	// The viewer asks for control; the customer allows it.
	p.answers <- proto.PermControl | proto.PermClipboard
	v.send(ctx, &proto.ConsentRequest{Want: proto.PermControl | proto.PermClipboard}, true)
	waitFor(t, 10*time.Second, "consent to control", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.consent == proto.PermView|proto.PermControl|proto.PermClipboard
	})

	v.send(ctx, &proto.Pointer{X: 250, Y: 180}, true)
	v.send(ctx, &proto.Pointer{X: 250, Y: 180, Buttons: proto.ButtonRight}, true)
	v.send(ctx, &proto.Pointer{X: 250, Y: 180}, true)
	bp := nextEvent("right button press", func(ev xgb.Event) bool { _, ok := ev.(xproto.ButtonPressEvent); return ok }).(xproto.ButtonPressEvent)
	if bp.Detail != 3 || bp.EventX != 150 || bp.EventY != 80 {
		t.Errorf("button press %d at %d,%d in the window, want 3 at 150,80", bp.Detail, bp.EventX, bp.EventY)
	}
	if got := pointer(); got != image.Pt(250, 180) {
		t.Errorf("pointer at %v, want 250,180", got)
	}
	// A key by physical code, then a character typed as text.
	v.send(ctx, &proto.KeyEvent{Down: true, Code: proto.KeyA}, true)
	v.send(ctx, &proto.KeyEvent{Code: proto.KeyA}, true)
	kp := nextEvent("key press", func(ev xgb.Event) bool { _, ok := ev.(xproto.KeyPressEvent); return ok }).(xproto.KeyPressEvent)
	if kp.Detail != 38 {
		t.Errorf("KeyA arrived as keycode %d, want 38", kp.Detail)
	}
	// This one in a padded record, after chaff (CapPadded), as a viewer
	// sends while someone types.
	v.send(ctx, &proto.Padded{}, true)
	v.send(ctx, &proto.Padded{Input: []proto.Msg{&proto.KeyEvent{Down: true, Code: proto.KeyQuote, Text: "é"}, &proto.KeyEvent{Code: proto.KeyQuote}}}, true)
	kp = nextEvent("key press of é", func(ev xgb.Event) bool { _, ok := ev.(xproto.KeyPressEvent); return ok }).(xproto.KeyPressEvent)
	km, err := xproto.GetKeyboardMapping(c, kp.Detail, 1).Reply()
	if err != nil || len(km.Keysyms) == 0 || km.Keysyms[0] != 0xe9 {
		t.Errorf("é arrived as keycode %d with keysyms %v, want eacute (0xe9)", kp.Detail, km.Keysyms)
	}

	// The cursor: a shape change on the host reaches the viewer.
	waitFor(t, 5*time.Second, "a first cursor shape", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.cursor != nil
	})
	v.mu.Lock()
	first := v.cursor.Pix
	v.mu.Unlock()
	font, _ := xproto.NewFontId(c)
	xproto.OpenFont(c, font, 6, "cursor")
	watch, _ := xproto.NewCursorId(c)
	xproto.CreateGlyphCursor(c, watch, font, font, 150, 151, 0, 0, 0, 0xffff, 0xffff, 0xffff)
	xproto.ChangeWindowAttributes(c, scr.Root, xproto.CwCursor, []uint32{uint32(watch)})
	xproto.ChangeWindowAttributes(c, win, xproto.CwCursor, []uint32{uint32(watch)})
	xproto.GetInputFocus(c).Reply()
	waitFor(t, 5*time.Second, "the new cursor shape at the viewer", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return !bytes.Equal(v.cursor.Pix, first)
	})
	v.mu.Lock()
	if v.cursorPos.X != 250 || v.cursorPos.Y != 180 {
		t.Errorf("viewer's cursor position %d,%d, want 250,180", v.cursorPos.X, v.cursorPos.Y)
	}
	v.mu.Unlock()

	// Clipboard: a host application copies; the viewer gets it.
	app, err := platform.NewX11Clipboard(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	app.SetText("copied on the host ✓")
	waitFor(t, 5*time.Second, "the host's clipboard at the viewer", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.clipboard == "copied on the host ✓"
	})
	// The viewer copies; a host application pastes it.
	frag := proto.NewFragmenter(proto.StreamClipboard, 0)
	frag.Start([]byte("copied at the viewer"), 0)
	for {
		m, ok := frag.Next(nil)
		if !ok {
			break
		}
		v.ch.Send(ctx, m, true)
	}
	waitFor(t, 5*time.Second, "the viewer's clipboard on the host", func() bool {
		got, _ := app.Text(ctx)
		return got == "copied at the viewer"
	})
}
