//go:build linux

package platform

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// ownClipboard makes the test client own CLIPBOARD with text and answer
// UTF8_STRING requests until the test ends, as a text editor does after
// Ctrl+C.
func (x *xclient) ownClipboard(text string) {
	x.t.Helper()
	clip, utf8 := x.atom("CLIPBOARD"), x.atom("UTF8_STRING")
	w := x.window(imageRect(-5, -5, 1, 1), 0, 0)
	xproto.SetSelectionOwner(x.c, w, clip, xproto.TimeCurrentTime)
	x.sync()
	go func() {
		for {
			ev, err := x.c.WaitForEvent()
			if ev == nil && err == nil {
				return
			}
			req, ok := ev.(xproto.SelectionRequestEvent)
			if !ok {
				continue
			}
			prop := xproto.Atom(0)
			if req.Target == utf8 {
				prop = req.Property
				xproto.ChangeProperty(x.c, xproto.PropModeReplace, req.Requestor, prop, utf8, 8, uint32(len(text)), []byte(text))
			}
			n := xproto.SelectionNotifyEvent{Time: req.Time, Requestor: req.Requestor, Selection: clip, Target: req.Target, Property: prop}
			xproto.SendEvent(x.c, false, req.Requestor, 0, string(n.Bytes()))
		}
	}()
}

// readClipboard asks the owner of CLIPBOARD for UTF8_STRING, as a text
// editor does on Ctrl+V.
func (x *xclient) readClipboard() string {
	x.t.Helper()
	clip, utf8, prop := x.atom("CLIPBOARD"), x.atom("UTF8_STRING"), x.atom("TEST_PASTE")
	w := x.window(imageRect(-5, -5, 1, 1), 0, 0)
	xproto.ConvertSelection(x.c, w, clip, utf8, prop, xproto.TimeCurrentTime)
	ev := x.nextEvent(3*time.Second, func(ev xgb.Event) bool {
		_, ok := ev.(xproto.SelectionNotifyEvent)
		return ok
	}).(xproto.SelectionNotifyEvent)
	if ev.Property == 0 {
		x.t.Fatalf("test client: the clipboard owner refused UTF8_STRING")
	}
	r, err := xproto.GetProperty(x.c, true, w, prop, 0, 0, 1<<20).Reply()
	if err != nil {
		x.t.Fatalf("test client: get property: %v", err)
	}
	if r.Type != utf8 {
		x.t.Fatalf("test client: clipboard property type %d, want UTF8_STRING", r.Type)
	}
	return string(r.Value)
}

func TestX11ClipboardBothWays(t *testing.T) {
	d := testbed.Xvfb(t, 320, 200)
	cb, err := NewX11Clipboard(d.Name)
	if err != nil {
		t.Fatalf("NewX11Clipboard: %v", err)
	}
	defer cb.Close()
	ctx := context.Background()

	if got, err := cb.Text(ctx); err != nil || got != "" {
		t.Errorf("Text() of an empty clipboard = %q, %v; want \"\"", got, err)
	}

	// An X application copies: the agent is told and reads it.
	app := newXClient(t, d)
	const fromX = "copied in an X app: Grüße ✓\nline 2"
	app.ownClipboard(fromX)
	select {
	case <-cb.Changes():
	case <-time.After(3 * time.Second):
		t.Fatalf("no change notice after an X client took the clipboard")
	}
	if got, err := cb.Text(ctx); err != nil || got != fromX {
		t.Errorf("Text() = %q, %v; want %q", got, err, fromX)
	}

	// The agent sets text: another X application pastes it.
	const fromAgent = "from the viewer: café €5"
	if err := cb.SetText(fromAgent); err != nil {
		t.Fatalf("SetText: %v", err)
	}
	paster := newXClient(t, d)
	if got := paster.readClipboard(); got != fromAgent {
		t.Errorf("an X client pasted %q, want %q", got, fromAgent)
	}
	if got, _ := cb.Text(ctx); got != fromAgent {
		t.Errorf("Text() after SetText = %q, want %q", got, fromAgent)
	}
	if err := cb.SetText(strings.Repeat("x", MaxClipboard+1)); err == nil {
		t.Errorf("SetText of %d bytes succeeded", MaxClipboard+1)
	}
}

// TestX11ClipboardIncremental moves text larger than one property change
// between two clipboards (two X clients), which takes INCR both ways.
func TestX11ClipboardIncremental(t *testing.T) {
	d := testbed.Xvfb(t, 320, 200)
	a, err := NewX11Clipboard(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewX11Clipboard(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	big := strings.Repeat("0123456789abcdef→", 30000) // 570 000 bytes
	if err := a.SetText(big); err != nil {
		t.Fatal(err)
	}
	got, err := b.Text(context.Background())
	if err != nil || got != big {
		t.Fatalf("Text() of %d bytes sent incrementally: %d bytes, %v", len(big), len(got), err)
	}
}
