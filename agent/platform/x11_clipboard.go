//go:build linux

package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xproto"
)

// X11Clipboard is the CLIPBOARD selection as an X client sees it (ICCCM
// §2): SetText takes ownership and answers other clients' requests for
// TARGETS, UTF8_STRING, STRING and TEXT (large text incrementally, INCR);
// Text asks the current owner for UTF8_STRING (or STRING) and reads it,
// INCR included, up to MaxClipboard bytes; XFixes selection events tell
// when another client takes the clipboard.
//
// One goroutine reads the connection's events; it is stopped by Close.
// An X11Clipboard is safe for concurrent use.
type X11Clipboard struct {
	c    *xgb.Conn
	win  xproto.Window // hidden window that owns the selection and receives replies
	prop xproto.Atom   // property on win where conversions land

	atoms struct{ clipboard, utf8, targets, text, str, incr, multiple, timestamp xproto.Atom }

	changes chan struct{} // capacity 1: another client took the clipboard
	done    chan struct{} // closed when the event loop ends

	readMu  sync.Mutex     // one Text at a time
	replies chan xgb.Event // SelectionNotify and PropertyNotify on win, while reading

	mu      sync.Mutex // guards the fields below; held briefly by the loop
	owned   bool
	text    []byte
	sends   map[incrKey]*incrSend
	reading bool
}

type incrKey struct {
	w    xproto.Window
	prop xproto.Atom
}

type incrSend struct {
	data []byte // what is left to send
	typ  xproto.Atom
}

// incrChunk is how much text goes in one property change; larger text is
// sent incrementally.
const incrChunk = 64 << 10

// clipboardTimeout bounds how long Text waits for the owner.
const clipboardTimeout = 3 * time.Second

// NewX11Clipboard connects to the X display name ("" = $DISPLAY).
func NewX11Clipboard(name string) (_ *X11Clipboard, err error) {
	c, scr, err := dialX(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	x := &X11Clipboard{
		c: c, changes: make(chan struct{}, 1), done: make(chan struct{}),
		replies: make(chan xgb.Event, 64), sends: map[incrKey]*incrSend{},
	}
	for _, a := range []struct {
		p    *xproto.Atom
		name string
	}{
		{&x.atoms.clipboard, "CLIPBOARD"}, {&x.atoms.utf8, "UTF8_STRING"}, {&x.atoms.targets, "TARGETS"},
		{&x.atoms.text, "TEXT"}, {&x.atoms.str, "STRING"}, {&x.atoms.incr, "INCR"},
		{&x.atoms.multiple, "MULTIPLE"}, {&x.atoms.timestamp, "TIMESTAMP"}, {&x.prop, "DESKWAY_CLIPBOARD"},
	} {
		r, err := xproto.InternAtom(c, false, uint16(len(a.name)), a.name).Reply()
		if err != nil {
			return nil, fmt.Errorf("platform: x11 clipboard: intern %s: %w", a.name, err)
		}
		*a.p = r.Atom
	}
	if x.win, err = xproto.NewWindowId(c); err != nil {
		return nil, fmt.Errorf("platform: x11 clipboard: %w", err)
	}
	err = xproto.CreateWindowChecked(c, 0, x.win, scr.Root, -10, -10, 1, 1, 0, xproto.WindowClassInputOnly,
		0, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange}).Check()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 clipboard: create window: %w", err)
	}
	if err := useExtension(c, "XFIXES"); err != nil {
		return nil, err
	}
	err = xfixes.SelectSelectionInputChecked(c, x.win, x.atoms.clipboard,
		xfixes.SelectionEventMaskSetSelectionOwner|xfixes.SelectionEventMaskSelectionWindowDestroy|
			xfixes.SelectionEventMaskSelectionClientClose).Check()
	if err != nil {
		return nil, fmt.Errorf("platform: x11 clipboard: select selection input: %w", err)
	}
	go x.loop()
	return x, nil
}

// Changes receives a value when another client takes the clipboard; read
// it with Text.
func (x *X11Clipboard) Changes() <-chan struct{} { return x.changes }

// SetText makes text the clipboard's content, owned by the agent.
func (x *X11Clipboard) SetText(text string) error {
	if len(text) > MaxClipboard {
		return fmt.Errorf("platform: x11 clipboard: %w: %d bytes exceed %d", ErrTooLarge, len(text), MaxClipboard)
	}
	x.mu.Lock()
	x.text, x.owned = []byte(text), true
	x.mu.Unlock()
	xproto.SetSelectionOwner(x.c, x.win, x.atoms.clipboard, xproto.TimeCurrentTime)
	r, err := xproto.GetSelectionOwner(x.c, x.atoms.clipboard).Reply()
	if err != nil {
		return fmt.Errorf("platform: x11 clipboard: %w", err)
	}
	if r.Owner != x.win {
		x.mu.Lock()
		x.owned = false
		x.mu.Unlock()
		return errors.New("platform: x11 clipboard: could not take the selection")
	}
	return nil
}

// Text returns the clipboard's text: the agent's own if it owns the
// clipboard, else what the owner converts to UTF8_STRING (or STRING). An
// empty clipboard, or one without text, is "".
func (x *X11Clipboard) Text(ctx context.Context) (string, error) {
	x.mu.Lock()
	if x.owned {
		s := string(x.text)
		x.mu.Unlock()
		return s, nil
	}
	x.mu.Unlock()

	x.readMu.Lock()
	defer x.readMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, clipboardTimeout)
	defer cancel()
	x.mu.Lock()
	x.reading = true
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		x.reading = false
		x.mu.Unlock()
		for len(x.replies) > 0 {
			<-x.replies
		}
	}()
	for _, target := range []xproto.Atom{x.atoms.utf8, x.atoms.str} {
		b, ok, err := x.convert(ctx, target)
		if err != nil {
			return "", err
		}
		if ok {
			if target == x.atoms.str {
				b = latin1ToUTF8(b)
			}
			if !utf8.Valid(b) {
				return "", errors.New("platform: x11 clipboard: owner sent invalid UTF-8")
			}
			return string(b), nil
		}
	}
	return "", nil
}

// convert asks the owner for target and reads the result. ok is false if
// the owner refused or there is none.
func (x *X11Clipboard) convert(ctx context.Context, target xproto.Atom) (_ []byte, ok bool, err error) {
	xproto.DeleteProperty(x.c, x.win, x.prop)
	xproto.ConvertSelection(x.c, x.win, x.atoms.clipboard, target, x.prop, xproto.TimeCurrentTime)
	for {
		ev, err := x.nextReply(ctx)
		if err != nil {
			return nil, false, err
		}
		n, isNotify := ev.(xproto.SelectionNotifyEvent)
		if !isNotify || n.Selection != x.atoms.clipboard {
			continue
		}
		if n.Property == 0 {
			return nil, false, nil
		}
		r, err := xproto.GetProperty(x.c, true, x.win, x.prop, 0, 0, MaxClipboard/4+1).Reply()
		if err != nil {
			return nil, false, fmt.Errorf("platform: x11 clipboard: get property: %w", err)
		}
		if r.Type == x.atoms.incr {
			b, err := x.readIncr(ctx)
			return b, err == nil, err
		}
		if r.BytesAfter > 0 || len(r.Value) > MaxClipboard {
			return nil, false, fmt.Errorf("platform: x11 clipboard: %w: more than %d bytes", ErrTooLarge, MaxClipboard)
		}
		return r.Value, r.Format == 8, nil
	}
}

// readIncr reads an incremental transfer: each chunk the owner puts in
// our property, which we delete to ask for the next, until an empty one.
func (x *X11Clipboard) readIncr(ctx context.Context) ([]byte, error) {
	var b []byte
	for {
		ev, err := x.nextReply(ctx)
		if err != nil {
			return nil, err
		}
		p, ok := ev.(xproto.PropertyNotifyEvent)
		if !ok || p.Atom != x.prop || p.State != xproto.PropertyNewValue {
			continue
		}
		r, err := xproto.GetProperty(x.c, true, x.win, x.prop, 0, 0, MaxClipboard/4+1).Reply()
		if err != nil {
			return nil, fmt.Errorf("platform: x11 clipboard: get property: %w", err)
		}
		if len(r.Value) == 0 {
			return b, nil
		}
		if len(b)+len(r.Value) > MaxClipboard || r.BytesAfter > 0 {
			return nil, fmt.Errorf("platform: x11 clipboard: %w: more than %d bytes", ErrTooLarge, MaxClipboard)
		}
		b = append(b, r.Value...)
	}
}

func (x *X11Clipboard) nextReply(ctx context.Context) (xgb.Event, error) {
	select {
	case ev := <-x.replies:
		return ev, nil
	case <-x.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("platform: x11 clipboard: owner did not answer: %w", ctx.Err())
	}
}

// loop handles the connection's events until it closes.
func (x *X11Clipboard) loop() {
	defer close(x.done)
	for {
		ev, xerr := x.c.WaitForEvent()
		if ev == nil && xerr == nil {
			return
		}
		switch e := ev.(type) {
		case xproto.SelectionRequestEvent:
			x.serve(e)
		case xproto.SelectionClearEvent:
			x.mu.Lock()
			x.owned, x.text = false, nil
			x.mu.Unlock()
		case xfixes.SelectionNotifyEvent:
			if e.Owner != x.win {
				x.mu.Lock()
				x.owned = false
				x.mu.Unlock()
				if e.Owner != 0 {
					select {
					case x.changes <- struct{}{}:
					default:
					}
				}
			}
		case xproto.SelectionNotifyEvent:
			x.toReader(e)
		case xproto.PropertyNotifyEvent:
			if e.Window == x.win {
				x.toReader(e)
			} else if e.State == xproto.PropertyDelete {
				x.sendIncr(e.Window, e.Atom)
			}
		}
	}
}

func (x *X11Clipboard) toReader(ev xgb.Event) {
	x.mu.Lock()
	reading := x.reading
	x.mu.Unlock()
	if reading {
		select {
		case x.replies <- ev:
		default: // a reader that is this far behind has timed out
		}
	}
}

// serve answers another client's request for our selection.
func (x *X11Clipboard) serve(e xproto.SelectionRequestEvent) {
	x.mu.Lock()
	owned, text := x.owned, x.text
	x.mu.Unlock()
	prop := e.Property
	if prop == 0 { // obsolete clients
		prop = e.Target
	}
	a := x.atoms
	switch {
	case !owned || e.Selection != a.clipboard:
		prop = 0
	case e.Target == a.targets:
		targets := []xproto.Atom{a.targets, a.utf8, a.str, a.text, a.timestamp}
		buf := make([]byte, 4*len(targets))
		for i, t := range targets {
			xgb.Put32(buf[4*i:], uint32(t))
		}
		xproto.ChangeProperty(x.c, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomAtom, 32, uint32(len(targets)), buf)
	case e.Target == a.timestamp:
		buf := make([]byte, 4)
		xproto.ChangeProperty(x.c, xproto.PropModeReplace, e.Requestor, prop, xproto.AtomInteger, 32, 1, buf)
	case e.Target == a.utf8 || e.Target == a.text || e.Target == a.str:
		typ, data := a.utf8, text
		if e.Target == a.str {
			typ, data = a.str, utf8ToLatin1(text)
		}
		if len(data) > incrChunk {
			x.mu.Lock()
			x.sends[incrKey{e.Requestor, prop}] = &incrSend{data: data, typ: typ}
			x.mu.Unlock()
			xproto.ChangeWindowAttributes(x.c, e.Requestor, xproto.CwEventMask, []uint32{xproto.EventMaskPropertyChange})
			buf := make([]byte, 4)
			xgb.Put32(buf, uint32(len(data)))
			xproto.ChangeProperty(x.c, xproto.PropModeReplace, e.Requestor, prop, a.incr, 32, 1, buf)
		} else {
			xproto.ChangeProperty(x.c, xproto.PropModeReplace, e.Requestor, prop, typ, 8, uint32(len(data)), data)
		}
	default:
		prop = 0
	}
	n := xproto.SelectionNotifyEvent{Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop}
	xproto.SendEvent(x.c, false, e.Requestor, 0, string(n.Bytes()))
}

// sendIncr writes the next chunk of an incremental transfer after the
// requestor deleted the previous one.
func (x *X11Clipboard) sendIncr(w xproto.Window, prop xproto.Atom) {
	k := incrKey{w, prop}
	x.mu.Lock()
	s := x.sends[k]
	if s == nil {
		x.mu.Unlock()
		return
	}
	n := min(incrChunk, len(s.data))
	chunk := s.data[:n]
	s.data = s.data[n:]
	if n == 0 {
		delete(x.sends, k)
	}
	x.mu.Unlock()
	xproto.ChangeProperty(x.c, xproto.PropModeReplace, w, prop, s.typ, 8, uint32(n), chunk)
	if n == 0 {
		xproto.ChangeWindowAttributes(x.c, w, xproto.CwEventMask, []uint32{0})
	}
}

func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

func utf8ToLatin1(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for _, r := range string(b) {
		if r > 0xff {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}

// Close gives up the selection and closes the connection.
func (x *X11Clipboard) Close() error {
	x.c.Close()
	<-x.done
	return nil
}
