package desktop

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// remote is what a session window uses of a *viewer.Session. Input
// methods never block; Close may wait for the network.
type remote interface {
	Run(ctx context.Context) error
	Close() error
	Stats() viewer.Stats
	Pointer(x, y int, buttons proto.Buttons) error
	Wheel(dx, dy int) error
	Key(ev proto.KeyEvent) error
	CtrlAltDel() error
	ReleaseAll() error
	SendClipboard(text string) error
	SetViewOnly(on bool) error
	SetQuality(q proto.Quality) error
	ChooseMonitor(id uint32) error
	RequestRefresh() error
	RequestControl() error
}

var _ remote = (*viewer.Session)(nil)

// reconnecter is implemented by sessions that can move to a fresh relay
// connection on request (viewer.Session.Reconnect).
type reconnecter interface{ Reconnect() }

// connectFunc connects a session that reports to ev. It is called on its
// own goroutine.
type connectFunc func(ctx context.Context, ev viewer.Events) (remote, error)

// sessionConfig configures a session window.
type sessionConfig struct {
	Title   string
	Connect connectFunc
	// Redial, if set, is called on Fyne's goroutine when the user asks to
	// connect again after the session ended; it asks for what a new
	// connection needs (password, code) and returns the connectFunc, or
	// nil if the user cancelled.
	Redial func(parent fyne.Window, done func(connectFunc))
	Scale  ScaleMode
	// Size is the window's first size; default 1024x720.
	Size    fyne.Size
	Quality *proto.Quality
	// PinsPath is shown when a host key changed.
	PinsPath string
	// TimePaint measures each paint (needs the GL driver's main loop).
	TimePaint bool
	Logger    *slog.Logger
	// OnClosed is called when the window closes.
	OnClosed func()
}

// hotkeyFullScreen: Ctrl+Alt+Shift+F toggles full screen (the toolbar
// is hidden there). It is the only combination the viewer keeps.
const hotkeyMods = proto.ModControl | proto.ModAlt | proto.ModShift

// sessionWindow is the window of one session. Owned by Fyne's goroutine:
// every field is read and written there.
type sessionWindow struct {
	cfg sessionConfig
	app fyne.App
	win fyne.Window
	log *slog.Logger

	scr      *screen
	scroll   *container.Scroll
	message  *widget.Label
	msgBox   *fyne.Container
	status   *widget.Label
	toolbar  *fyne.Container
	scaleSel *widget.Select
	fullBtn  *widget.Button
	cadBtn   *widget.Button
	askBtn   *widget.Button // asks for control again while the host allows only viewing
	asked    bool           // askBtn was used; the host has not answered yet
	viewOnly *widget.Check
	clipBtn  *widget.Button
	monSel   *widget.Select
	refresh  *widget.Button
	reconn   *widget.Button
	endBtn   *widget.Button

	gen      int // connection generation: callbacks of an older one are dropped
	r        remote
	cancel   context.CancelFunc
	state    viewer.State
	err      error
	perms    proto.Perms
	hostView bool // the host switched to view only
	monitors []uint32
	layout   proto.Layout
	lastClip string // the clipboard text last exchanged, not to echo it
	stats    viewer.Stats
	render   renderFigures
	framed   bool // a frame was shown since the connection opened
	closed   bool

	conns sync.WaitGroup // the connection goroutines and closes

	// Frame callbacks, timed on the session's goroutine: count and
	// total nanoseconds since the last stats tick.
	handovers, handoverNs atomic.Int64
}

// newSessionWindow makes the window and starts connecting.
func newSessionWindow(a fyne.App, cfg sessionConfig) *sessionWindow {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Scale == "" {
		cfg.Scale = ScaleFit
	}
	w := &sessionWindow{cfg: cfg, app: a, log: cfg.Logger}
	w.win = a.NewWindow(cfg.Title + " — Deskway")
	w.build()
	w.win.SetOnClosed(w.closedByUser)
	w.win.SetPadded(false) // the picture reaches the window's edges
	if cfg.Size.IsZero() {
		cfg.Size = fyne.NewSize(1024, 720)
	}
	w.win.Resize(cfg.Size)
	w.start(cfg.Connect)
	return w
}

func (w *sessionWindow) build() {
	w.scr = newScreen(screenInput{
		Pointer:     w.pointer,
		Wheel:       w.wheel,
		Key:         w.key,
		FocusGained: w.focusGained,
		FocusLost:   w.focusLost,
		Hotkey:      w.hotkey,
	}, w.cfg.Scale)
	if w.cfg.TimePaint {
		w.scr.onPaint = func(time.Duration) {}
	}
	w.scroll = container.NewScroll(w.scr)
	w.message = widget.NewLabel("")
	w.message.Wrapping = fyne.TextWrapWord
	w.message.Alignment = fyne.TextAlignCenter
	w.msgBox = container.NewCenter(container.NewGridWrap(fyne.NewSize(520, 160), w.message))

	w.scaleSel = widget.NewSelect([]string{"Fit", "1:1"}, func(s string) {
		w.back(func() {
			m := ScaleFit
			if s == "1:1" {
				m = ScaleOne
			}
			w.scr.setMode(m)
			w.scroll.Refresh()
		})()
	})
	w.scaleSel.SetSelected(map[ScaleMode]string{ScaleFit: "Fit", ScaleOne: "1:1"}[w.cfg.Scale])
	w.fullBtn = widget.NewButton("Full screen", w.toggleFullScreen)
	w.cadBtn = widget.NewButton("Ctrl-Alt-Del", w.back(func() { w.input(w.r.CtrlAltDel()) }))
	w.askBtn = widget.NewButton("Ask for control", w.back(func() {
		w.asked = true
		w.updateControls()
		w.input(w.r.RequestControl())
	}))
	w.viewOnly = widget.NewCheck("View only", func(on bool) { w.back(func() { w.setViewOnly(on) })() })
	w.clipBtn = widget.NewButton("Send clipboard", w.back(func() { w.sendClipboard(true) }))
	w.monSel = widget.NewSelect(nil, func(s string) { w.back(func() { w.chooseMonitor(s) })() })
	w.monSel.PlaceHolder = "Monitor"
	w.refresh = widget.NewButton("Refresh", w.back(func() { w.input(w.r.RequestRefresh()) }))
	w.reconn = widget.NewButton("Reconnect", w.reconnect)
	w.endBtn = widget.NewButton("Disconnect", w.disconnect)
	w.toolbar = container.NewHBox(w.scaleSel, w.fullBtn, w.askBtn, w.cadBtn, w.viewOnly, w.clipBtn, w.monSel, w.refresh,
		layout.NewSpacer(), w.reconn, w.endBtn)
	w.status = widget.NewLabel("")
	w.status.Truncation = fyne.TextTruncateEllipsis
	w.win.SetContent(container.NewBorder(w.toolbar, w.status, nil, nil, container.NewStack(w.scroll, w.msgBox)))
	w.win.Canvas().Focus(w.scr)
	w.updateControls()
}

// back wraps a toolbar action: the keyboard goes back to the screen
// afterwards, which a tap on the toolbar took it from.
func (w *sessionWindow) back(f func()) func() {
	return func() {
		f()
		if w.r != nil && !w.closed {
			w.win.Canvas().Focus(w.scr)
		}
	}
}

// start connects with connect on a new goroutine; the callbacks of an
// earlier connection are dropped from now on.
func (w *sessionWindow) start(connect connectFunc) {
	w.gen++
	gen := w.gen
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.r, w.err, w.perms, w.hostView, w.framed, w.asked = nil, nil, 0, false, false, false
	w.setState(viewer.StatePairing, nil)
	ev := w.events(gen)
	w.conns.Add(1)
	go func() {
		defer w.conns.Done()
		r, err := connect(ctx, ev)
		if err != nil {
			uiDo(func() {
				if w.gen == gen {
					w.connectFailed(err)
				}
			})
			return
		}
		live := make(chan bool, 1)
		uiDo(func() {
			ok := w.gen == gen && !w.closed
			if ok {
				w.r = r
				w.updateControls()
			}
			live <- ok
		})
		if !<-live {
			r.Close()
			return
		}
		err = r.Run(ctx)
		w.log.Info("session ended", "err", err)
	}()
}

// events are the core's callbacks; each hops onto Fyne's goroutine and is
// dropped if the window moved on to another connection.
func (w *sessionWindow) events(gen int) viewer.Events {
	do := func(f func()) {
		uiDo(func() {
			if w.gen == gen && !w.closed {
				f()
			}
		})
	}
	return viewer.Events{
		State: func(st viewer.State, err error) { do(func() { w.setState(st, err) }) },
		Frame: func(fb *image.RGBA, rects []viewer.Rect) {
			// Wait: fb is only valid during this call, and the host is
			// paced by how long it takes.
			t0 := time.Now()
			uiDoAndWait(func() {
				if w.gen == gen && !w.closed {
					w.frame(fb, rects)
				}
			})
			w.handoverNs.Add(int64(time.Since(t0)))
			w.handovers.Add(1)
		},
		Cursor:       func(c *viewer.Cursor) { do(func() { w.scr.setCursor(c) }) },
		CursorPos:    func(x, y int, visible bool) { do(func() { w.scr.setCursorPos(x, y, visible) }) },
		Clipboard:    func(text string) { do(func() { w.hostClipboard(text) }) },
		Consent:      func(p proto.Perms) { do(func() { w.perms, w.asked = p, false; w.updateControls() }) },
		Layout:       func(l proto.Layout) { do(func() { w.setLayout(l) }) },
		HostViewOnly: func(on bool) { do(func() { w.hostView = on; w.updateControls() }) },
		Stats:        func(st viewer.Stats) { do(func() { w.setStats(st) }) },
	}
}

func (w *sessionWindow) frame(fb *image.RGBA, rects []viewer.Rect) {
	w.scr.update(fb, rects)
	if !w.framed {
		w.framed = true
		w.scroll.Refresh()
		w.updateControls()
	}
}

func (w *sessionWindow) setState(st viewer.State, err error) {
	w.state, w.err = st, err
	if st == viewer.StateClosed && w.cancel != nil {
		w.cancel()
	}
	w.updateControls()
}

// connectFailed shows why Connect failed; a changed host key is a hard
// failure with its own dialog and no way to go on.
func (w *sessionWindow) connectFailed(err error) {
	w.log.Info("connect failed", "err", err)
	w.setState(viewer.StateClosed, err)
	if errors.Is(err, viewer.ErrHostKeyChanged) {
		w.hostKeyDialog(err)
	}
}

// hostKeyDialog explains a changed host key (SECURITY.md §4.3): the
// connection was refused; there is no button to go on anyway.
func (w *sessionWindow) hostKeyDialog(err error) {
	msg := viewer.Explain(err)
	var pm *proto.PinMismatchError
	if errors.As(err, &pm) {
		msg += fmt.Sprintf("\n\nHost: %s\nPinned key: %s\nKey presented now: %s", pm.Name, pm.Pinned, pm.Got)
	}
	if w.cfg.PinsPath != "" {
		msg += "\n\nPinned keys are kept in " + w.cfg.PinsPath + "."
	}
	l := widget.NewLabel(msg)
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("Host key changed: connection refused", "Close", container.NewGridWrap(fyne.NewSize(480, 220), l), w.win)
	d.Show()
}

// newHostKeyNotice shows, once, the key of a host reached for the first
// time, which is pinned from now on (SECURITY.md §4.3, §4.8). Support
// sessions are one-off hosts: their keys are pinned but not shown.
func (w *sessionWindow) newHostKeyNotice(fp proto.Fingerprint) {
	l := widget.NewLabel("This is the first connection from this device to this host. Its key was pinned:\n\n" + string(fp) +
		"\n\nIf the host shows its key, compare the two. From now on a different key is refused.")
	l.Wrapping = fyne.TextWrapWord
	dialog.NewCustom("New host key pinned", "OK", container.NewGridWrap(fyne.NewSize(460, 170), l), w.win).Show()
}

// stateMessage returns the text over the screen for a state, "" when the
// screen shows.
func stateMessage(st viewer.State, err error, framed bool) string {
	switch st {
	case viewer.StatePairing:
		return "Asking the broker for the session…"
	case viewer.StateRelay:
		return "Connecting through a relay; waiting for the host…"
	case viewer.StateHandshake:
		return "Authenticating the host (end-to-end)…"
	case viewer.StateConsent:
		return "Waiting for the person at the host to allow viewing…"
	case viewer.StateOpen:
		if !framed {
			return "Waiting for the first picture…"
		}
		return ""
	case viewer.StateReconnecting:
		return "The connection was interrupted; reconnecting through a relay…"
	case viewer.StateClosed:
		return viewer.Explain(err)
	}
	return ""
}

// updateControls shows the state: the message over the screen, what the
// buttons may do, the status line.
func (w *sessionWindow) updateControls() {
	msg := stateMessage(w.state, w.err, w.framed)
	setText(w.message, msg)
	if msg == "" || (w.framed && w.state == viewer.StateReconnecting) {
		w.msgBox.Hide()
	} else {
		w.msgBox.Show()
	}
	live := w.r != nil && w.state != viewer.StateClosed
	control := live && w.perms&proto.PermControl != 0 && !w.viewOnly.Checked && !w.hostView
	w.scr.setControl(control)
	enable(w.cadBtn, control)
	if live && w.perms&proto.PermView != 0 && w.perms&proto.PermControl == 0 && !w.hostView {
		w.askBtn.Show()
	} else {
		w.askBtn.Hide()
	}
	enable(w.askBtn, !w.asked)
	enable(w.clipBtn, live && w.perms&proto.PermClipboard != 0)
	enable(w.refresh, live)
	enable(w.endBtn, live || w.state != viewer.StateClosed)
	if live {
		w.viewOnly.Enable()
	} else {
		w.viewOnly.Disable()
	}
	if live && len(w.layout.Monitors) > 1 {
		w.monSel.Enable()
	} else {
		w.monSel.Disable()
	}
	_, canKick := w.r.(reconnecter)
	enable(w.reconn, w.state == viewer.StateClosed && w.cfg.Redial != nil || live && canKick)
	setText(w.status, statusLine(w.state, w.stats, w.render, w.hostView))
}

// setText changes a label's text if it differs: each change repaints the
// whole window, which costs a full paint of the picture with software GL.
func setText(l *widget.Label, s string) {
	if l.Text != s {
		l.SetText(s)
	}
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// statusLine is the text of the status line.
func statusLine(state viewer.State, st viewer.Stats, rf renderFigures, hostView bool) string {
	parts := []string{state.String()}
	if state == viewer.StateClosed || state == 0 {
		return parts[0]
	}
	if st.Relay != "" {
		parts = append(parts, "relay "+st.Relay)
	}
	// Figures are rounded so that an idle session's line stays the same
	// (a new text repaints the window).
	switch {
	case st.RTT >= time.Millisecond:
		parts = append(parts, fmt.Sprintf("RTT %d ms", st.RTT.Milliseconds()))
	case st.RTT > 0:
		parts = append(parts, "RTT <1 ms")
	}
	if st.Width > 0 {
		parts = append(parts, fmt.Sprintf("%dx%d", st.Width, st.Height))
	}
	parts = append(parts, fmt.Sprintf("%.0f fps", st.FPS), "↓ "+rate(st.InBytesPerSec)+" ↑ "+rate(st.OutBytesPerSec))
	if rf.Updates > 0 {
		parts = append(parts, fmt.Sprintf("decode %.1f ms", float64(decodeTime(st, rf).Microseconds())/1000))
	}
	if rf.Paints > 0 {
		parts = append(parts, fmt.Sprintf("paint %.1f ms", float64((rf.Paint/time.Duration(rf.Paints)).Microseconds())/1000))
	}
	if st.Resumes > 0 {
		parts = append(parts, fmt.Sprintf("%d relay changes", st.Resumes))
	}
	if hostView {
		parts = append(parts, "host set view only")
	}
	if st.SAS != "" {
		parts = append(parts, "SAS "+st.SAS)
	}
	return strings.Join(parts, " · ")
}

// decodeTime is the mean decoding time of a frame: the core's figure
// includes the Frame callback, which is the UI's.
func decodeTime(st viewer.Stats, rf renderFigures) time.Duration {
	return max(0, st.DecodeTime-rf.Handover)
}

// rate formats bytes per second.
func rate(b float64) string {
	switch {
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MB/s", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KB/s", b/(1<<10))
	case b > 0:
		return "<1 KB/s"
	}
	return "0 KB/s"
}

func (w *sessionWindow) setStats(st viewer.Stats) {
	first := w.stats.SAS == "" && st.SAS != ""
	w.stats = st
	w.render = w.scr.takeFigures()
	if n, ns := w.handovers.Swap(0), w.handoverNs.Swap(0); n > 0 {
		w.render.Handover = time.Duration(ns / n)
	}
	if w.render.Updates > 0 || w.render.Paints > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		avg := func(d time.Duration, n int) float64 { return ms(d) / float64(max(n, 1)) }
		w.log.Debug("render", "fps", st.FPS, "decode_ms", ms(decodeTime(st, w.render)),
			"handover_ms", ms(w.render.Handover), "frames", w.render.Updates, "copy_ms", avg(w.render.Handoff, w.render.Updates),
			"paints", w.render.Paints, "paint_ms", avg(w.render.Paint, w.render.Paints),
			"width", st.Width, "height", st.Height)
	}
	if first {
		w.log.Info("session open", "sas", st.SAS, "host_key", st.HostKey, "pin", st.Pin.String(), "relay", st.Relay)
		if st.Pin == proto.PinNew && st.Mode == proto.ModeUnattended {
			w.newHostKeyNotice(st.HostKey)
		}
	}
	w.updateControls()
}

func (w *sessionWindow) setLayout(l proto.Layout) {
	w.layout = l
	opts := []string{"All monitors"}
	w.monitors = []uint32{0}
	sel := 0
	for i, m := range l.Monitors {
		name := fmt.Sprintf("%d: %dx%d", i+1, m.Width, m.Height)
		if m.Name != "" {
			name += " " + m.Name
		}
		if m.Primary {
			name += " (primary)"
		}
		opts = append(opts, name)
		w.monitors = append(w.monitors, m.ID)
		if m.ID == l.Selected {
			sel = i + 1
		}
	}
	w.monSel.Options = opts
	w.monSel.SetSelectedIndex(sel) // calls chooseMonitor, which sees no change
	w.updateControls()
}

func (w *sessionWindow) chooseMonitor(string) {
	i := w.monSel.SelectedIndex()
	if w.r == nil || i < 0 || i >= len(w.monitors) || w.monitors[i] == w.layout.Selected {
		return
	}
	w.input(w.r.ChooseMonitor(w.monitors[i]))
}

func (w *sessionWindow) setViewOnly(on bool) {
	if w.r != nil {
		w.input(w.r.SetViewOnly(on))
	}
	w.updateControls()
}

// setQuality sends new stream settings to the host.
func (w *sessionWindow) setQuality(q *proto.Quality) {
	w.cfg.Quality = q
	if w.r != nil && q != nil {
		w.input(w.r.SetQuality(*q))
	}
}

func (w *sessionWindow) toggleFullScreen() {
	full := !w.win.FullScreen()
	w.win.SetFullScreen(full)
	if full {
		w.toolbar.Hide()
	} else {
		w.toolbar.Show()
	}
	w.win.Canvas().Focus(w.scr)
}

func (w *sessionWindow) hotkey(name fyne.KeyName, mods proto.Mods) bool {
	if name == fyne.KeyF && mods&hotkeyMods == hotkeyMods {
		w.toggleFullScreen()
		return true
	}
	return false
}

// Input from the screen widget.

func (w *sessionWindow) pointer(x, y int, b proto.Buttons) {
	if w.r != nil && w.scr.control {
		w.input(w.r.Pointer(x, y, b))
	}
}

func (w *sessionWindow) wheel(dx, dy int) {
	if w.r != nil && w.scr.control {
		w.input(w.r.Wheel(dx, dy))
	}
}

func (w *sessionWindow) key(ev proto.KeyEvent) {
	// Releases go even when control ended, so no key stays down.
	if w.r != nil && (w.scr.control || !ev.Down) {
		w.input(w.r.Key(ev))
	}
}

func (w *sessionWindow) focusGained() { w.sendClipboard(false) }

func (w *sessionWindow) focusLost() {
	if w.r != nil {
		w.input(w.r.ReleaseAll())
	}
}

// input logs why an input was not sent; not being allowed is normal
// (view only, no consent yet) and not logged.
func (w *sessionWindow) input(err error) {
	if err != nil && !errors.Is(err, viewer.ErrInputNotAllowed) && !errors.Is(err, viewer.ErrClosed) {
		w.log.Debug("input dropped", "err", err)
	}
}

// sendClipboard sends the local clipboard's text to the host: on request,
// or when the window gains focus and it changed since the last exchange.
func (w *sessionWindow) sendClipboard(always bool) {
	if w.r == nil || w.perms&proto.PermClipboard == 0 || w.state != viewer.StateOpen {
		return
	}
	text := w.app.Clipboard().Content()
	if text == "" || (!always && text == w.lastClip) || len(text) > proto.MaxClipboard {
		return
	}
	w.lastClip = text
	w.input(w.r.SendClipboard(text))
}

// hostClipboard puts the host's clipboard text on the local clipboard.
func (w *sessionWindow) hostClipboard(text string) {
	w.lastClip = text
	w.app.Clipboard().SetContent(text)
}

// reconnect moves a live session to a fresh relay connection now, or
// connects again after the session ended.
func (w *sessionWindow) reconnect() {
	if k, ok := w.r.(reconnecter); ok && w.state != viewer.StateClosed {
		k.Reconnect()
		return
	}
	if w.cfg.Redial == nil {
		return
	}
	w.cfg.Redial(w.win, func(c connectFunc) {
		if c != nil && !w.closed {
			w.start(c)
		}
	})
}

// disconnect ends the session and keeps the window with its last
// picture.
func (w *sessionWindow) disconnect() {
	w.endSession()
	w.setState(viewer.StateClosed, nil)
}

// endSession closes the remote without waiting for the network.
func (w *sessionWindow) endSession() {
	w.gen++ // drop the old connection's callbacks
	if r := w.r; r != nil {
		w.conns.Add(1)
		go func() {
			defer w.conns.Done()
			r.Close()
		}()
	}
	if w.cancel != nil {
		w.cancel()
	}
	w.r = nil
}

func (w *sessionWindow) closedByUser() {
	w.endSession()
	w.closed = true
	if w.cfg.OnClosed != nil {
		w.cfg.OnClosed()
	}
}

// Close closes the window (and the session).
func (w *sessionWindow) Close() { w.win.Close() }

// wait waits until the connection goroutines have returned (after the
// sessions ended); not on Fyne's goroutine, whose callbacks they may
// wait for.
func (w *sessionWindow) wait() { w.conns.Wait() }

var _ desktop.Cursorable = (*screen)(nil)
