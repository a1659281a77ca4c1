package desktop

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// fakeRemote records what the session window asks of the session. Run
// blocks until Close or the context ends.
type fakeRemote struct {
	mu       sync.Mutex
	calls    []string
	keys     []proto.KeyEvent
	ptrs     []proto.Pointer
	running  chan struct{}
	done     chan struct{}
	once     sync.Once
	releases int
}

func newFakeRemote() *fakeRemote {
	return &fakeRemote{running: make(chan struct{}), done: make(chan struct{})}
}

func (f *fakeRemote) call(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeRemote) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeRemote) Run(ctx context.Context) error {
	close(f.running)
	select {
	case <-ctx.Done():
	case <-f.done:
	}
	return nil
}

func (f *fakeRemote) Close() error {
	f.call("Close")
	f.once.Do(func() { close(f.done) })
	return nil
}

func (f *fakeRemote) Stats() viewer.Stats { return viewer.Stats{} }

func (f *fakeRemote) Pointer(x, y int, b proto.Buttons) error {
	f.mu.Lock()
	f.ptrs = append(f.ptrs, proto.Pointer{X: int32(x), Y: int32(y), Buttons: b})
	f.mu.Unlock()
	return nil
}

func (f *fakeRemote) Wheel(dx, dy int) error { f.call(fmt.Sprintf("Wheel %d %d", dx, dy)); return nil }

func (f *fakeRemote) Key(ev proto.KeyEvent) error {
	f.mu.Lock()
	f.keys = append(f.keys, ev)
	f.mu.Unlock()
	return nil
}

func (f *fakeRemote) CtrlAltDel() error { f.call("CtrlAltDel"); return nil }
func (f *fakeRemote) ReleaseAll() error {
	f.mu.Lock()
	f.releases++ // on every focus loss, e.g. a tap on the toolbar
	f.mu.Unlock()
	return nil
}
func (f *fakeRemote) SendClipboard(s string) error { f.call("SendClipboard " + s); return nil }
func (f *fakeRemote) RequestControl() error        { f.call("RequestControl"); return nil }
func (f *fakeRemote) SetViewOnly(on bool) error {
	f.call(fmt.Sprintf("SetViewOnly %v", on))
	return nil
}
func (f *fakeRemote) SetQuality(q proto.Quality) error {
	f.call(fmt.Sprintf("SetQuality %d %d", q.Mode, q.MaxFPS))
	return nil
}
func (f *fakeRemote) ChooseMonitor(id uint32) error {
	f.call(fmt.Sprintf("ChooseMonitor %d", id))
	return nil
}
func (f *fakeRemote) RequestRefresh() error { f.call("RequestRefresh"); return nil }
func (f *fakeRemote) Reconnect()            { f.call("Reconnect") }

// openTestSession opens a session window on the test driver whose
// connection is f; it returns once the window runs the session, with the
// callbacks the core would call (each pumps the UI queue).
func openTestSession(t *testing.T, f *fakeRemote, mod func(*sessionConfig)) (*sessionWindow, testEvents) {
	t.Helper()
	q := useUIQueue(t)
	a := test.NewApp()
	t.Cleanup(a.Quit)
	evs := make(chan viewer.Events, 1)
	cfg := sessionConfig{Title: "office-pc", Connect: func(ctx context.Context, ev viewer.Events) (remote, error) {
		evs <- ev
		return f, nil
	}}
	if mod != nil {
		mod(&cfg)
	}
	w := newSessionWindow(a, cfg)
	w.win.Resize(fyne.NewSize(800, 600))
	ev := <-evs
	q.until("the session to run", func() bool { return w.r != nil })
	t.Cleanup(func() {
		w.Close()
		w.wait()
	})
	return w, testEvents{ev, q}
}

// testEvents calls the core's callbacks as the core would, from another
// goroutine, and runs the UI work they queue.
type testEvents struct {
	ev viewer.Events
	q  *uiQueue
}

func (e testEvents) State(st viewer.State, err error) { e.ev.State(st, err); e.q.drain() }
func (e testEvents) Consent(p proto.Perms)            { e.ev.Consent(p); e.q.drain() }
func (e testEvents) Stats(st viewer.Stats)            { e.ev.Stats(st); e.q.drain() }
func (e testEvents) HostViewOnly(on bool)             { e.ev.HostViewOnly(on); e.q.drain() }
func (e testEvents) Layout(l proto.Layout)            { e.ev.Layout(l); e.q.drain() }
func (e testEvents) Clipboard(s string)               { e.ev.Clipboard(s); e.q.drain() }
func (e testEvents) Frame(fb *image.RGBA, rects []viewer.Rect) {
	e.q.call(func() { e.ev.Frame(fb, rects) })
}

// pattern is a test screen: four quadrants of distinct colours.
func pattern(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := quadrantColor(x*2/w, y*2/h)
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func quadrantColor(qx, qy int) color.RGBA {
	return [2][2]color.RGBA{{{220, 30, 30, 255}, {30, 30, 220, 255}}, {{30, 200, 30, 255}, {240, 240, 40, 255}}}[qx][qy]
}

func TestSessionWindowStates(t *testing.T) {
	f := newFakeRemote()
	w, ev := openTestSession(t, f, func(c *sessionConfig) {
		c.Redial = func(fyne.Window, func(connectFunc)) {}
	})
	check := func(step, wantMsg string, wantCAD bool) {
		t.Helper()
		msg := ""
		if w.msgBox.Visible() {
			msg = w.message.Text
		}
		if !strings.HasPrefix(msg, wantMsg) || (wantMsg == "" && msg != "") {
			t.Errorf("%s: message %q, want %q…", step, msg, wantMsg)
		}
		if got := !w.cadBtn.Disabled(); got != wantCAD {
			t.Errorf("%s: Ctrl-Alt-Del enabled %v, want %v", step, got, wantCAD)
		}
	}
	ev.State(viewer.StateRelay, nil)
	check("relay", "Connecting through a relay", false)
	ev.State(viewer.StateHandshake, nil)
	check("handshake", "Authenticating the host", false)
	ev.State(viewer.StateConsent, nil)
	check("consent", "Waiting for the person at the host", false)
	ev.Consent(proto.PermView)
	ev.State(viewer.StateOpen, nil)
	check("view only consent", "Waiting for the first picture", false)
	ev.Consent(proto.PermView | proto.PermControl | proto.PermClipboard)
	check("control consent", "Waiting for the first picture", true)
	ev.Frame(pattern(640, 400), []viewer.Rect{{W: 640, H: 400}})
	check("first frame", "", true)

	ev.Stats(viewer.Stats{State: viewer.StateOpen, Relay: "r1", RTT: 12 * time.Millisecond, FPS: 9.6, Width: 640, Height: 400,
		InBytesPerSec: 20 << 10, OutBytesPerSec: 300, SAS: "482 913", Frames: 1})
	for _, want := range []string{"open", "relay r1", "RTT 12 ms", "640x400", "10 fps", "↓ 20 KB/s ↑ <1 KB/s", "SAS 482 913"} {
		if !strings.Contains(w.status.Text, want) {
			t.Errorf("status %q lacks %q", w.status.Text, want)
		}
	}
	ev.HostViewOnly(true)
	check("host view only", "", false)
	if !strings.Contains(w.status.Text, "host set view only") {
		t.Errorf("status %q does not say the host set view only", w.status.Text)
	}
	ev.HostViewOnly(false)
	ev.State(viewer.StateReconnecting, errors.New("relay gone"))
	check("reconnecting keeps the picture", "", true)
	if w.reconn.Disabled() {
		t.Errorf("Reconnect disabled while live")
	}
	test.Tap(w.reconn)
	ev.State(viewer.StateOpen, nil)
	ev.State(viewer.StateClosed, &viewer.EndError{Reason: proto.EndConsentWithdrawn})
	check("closed", "The person at the host stopped sharing the screen.", false)
	if w.reconn.Disabled() || !w.endBtn.Disabled() {
		t.Errorf("after the end: Reconnect enabled %v (want true), Disconnect enabled %v (want false)", !w.reconn.Disabled(), !w.endBtn.Disabled())
	}
	if got := f.called(); !slices.Contains(got, "Reconnect") {
		t.Errorf("calls %v lack Reconnect", got)
	}
}

func TestSessionWindowInput(t *testing.T) {
	f := newFakeRemote()
	w, ev := openTestSession(t, f, nil)
	ev.Consent(proto.PermView | proto.PermControl | proto.PermClipboard)
	ev.State(viewer.StateOpen, nil)
	ev.Frame(pattern(640, 400), []viewer.Rect{{W: 640, H: 400}})

	// Keys typed into the screen reach the session with their text.
	w.scr.KeyDown(&fyne.KeyEvent{Name: fyne.KeyA})
	w.scr.TypedKey(&fyne.KeyEvent{Name: fyne.KeyA})
	w.scr.TypedRune('a')
	w.scr.KeyUp(&fyne.KeyEvent{Name: fyne.KeyA})
	// Ctrl+C is not a copy here: it goes to the host.
	w.scr.KeyDown(&fyne.KeyEvent{Name: desktop.KeyControlLeft})
	w.scr.KeyDown(&fyne.KeyEvent{Name: fyne.KeyC})
	w.scr.TypedShortcut(&fyne.ShortcutCopy{})
	w.scr.KeyUp(&fyne.KeyEvent{Name: fyne.KeyC})
	w.scr.KeyUp(&fyne.KeyEvent{Name: desktop.KeyControlLeft})
	f.mu.Lock()
	got := fmtKeys(f.keys)
	f.mu.Unlock()
	ctrl := fmt.Sprintf("%b", proto.ModControl)
	if want := `down KeyA "a", up KeyA, down ControlLeft mods=` + ctrl + `, down KeyC mods=` + ctrl + `, up KeyC mods=` + ctrl + `, up ControlLeft`; got != want {
		t.Errorf("keys sent:\n got %s\nwant %s", got, want)
	}

	// A click in the middle of the picture is the middle of the host's
	// screen, whatever the scaling.
	pos, sz := w.scr.vp.place(w.scr.Size())
	mid := pos.Add(fyne.NewPos(sz.Width/2, sz.Height/2))
	me := &desktop.MouseEvent{Button: desktop.MouseButtonPrimary}
	me.Position = mid
	w.scr.MouseDown(me)
	w.scr.MouseUp(me)
	f.mu.Lock()
	ptrs := slices.Clone(f.ptrs)
	f.mu.Unlock()
	want := []proto.Pointer{{X: 320, Y: 200, Buttons: proto.ButtonLeft}, {X: 320, Y: 200}}
	if !slices.Equal(ptrs, want) {
		t.Errorf("pointer events %v, want %v", ptrs, want)
	}
	if w.win.Canvas().Focused() != w.scr {
		t.Errorf("a click did not give the screen the keyboard focus")
	}
	test.Scroll(w.win.Canvas(), mid, 0, -scrollNotch)

	// View only: no more input, the session is told.
	test.Tap(w.viewOnly)
	w.scr.KeyDown(&fyne.KeyEvent{Name: fyne.KeyB})
	w.scr.MouseMoved(me)
	f.mu.Lock()
	nk, np := len(f.keys), len(f.ptrs)
	f.mu.Unlock()
	if nk != 6 || np != 2 {
		t.Errorf("in view only mode %d keys and %d pointer events were sent, want 6 and 2", nk, np)
	}
	test.Tap(w.cadBtn) // disabled: nothing
	test.Tap(w.viewOnly)
	test.Tap(w.cadBtn)
	test.Tap(w.refresh)
	if w.win.Canvas().Focused() != w.scr {
		t.Errorf("the screen lost the keyboard to the toolbar")
	}
	f.mu.Lock()
	f.releases = 0
	f.mu.Unlock()
	w.scr.FocusLost()
	wantCalls := []string{"Wheel 0 120", "SetViewOnly true", "SetViewOnly false", "CtrlAltDel", "RequestRefresh"}
	if got := f.called(); !slices.Equal(got, wantCalls) {
		t.Errorf("calls %v, want %v", got, wantCalls)
	}
	if f.releases != 1 {
		t.Errorf("focus loss released %d times, want 1", f.releases)
	}
}

// TestSessionWindowAskControl: while the host allows only viewing (it
// granted view only, or took control back), Ask for control is there;
// it asks once until the host answers, and goes once control is granted.
func TestSessionWindowAskControl(t *testing.T) {
	f := newFakeRemote()
	w, ev := openTestSession(t, f, nil)
	ev.State(viewer.StateOpen, nil)
	ev.Consent(proto.PermView | proto.PermControl)
	if w.askBtn.Visible() {
		t.Error("Ask for control is shown while control is granted")
	}
	ev.Consent(proto.PermView) // the host took control back
	if !w.askBtn.Visible() || w.askBtn.Disabled() {
		t.Fatal("Ask for control is not offered after the host took control back")
	}
	test.Tap(w.askBtn)
	test.Tap(w.askBtn) // disabled until the host answers: nothing
	if got := f.called(); !slices.Equal(got, []string{"RequestControl"}) {
		t.Errorf("calls %v, want one RequestControl", got)
	}
	ev.Consent(proto.PermView) // refused
	if w.askBtn.Disabled() {
		t.Error("Ask for control stays disabled after the host refused")
	}
	ev.Consent(proto.PermView | proto.PermControl)
	if w.askBtn.Visible() {
		t.Error("Ask for control is still shown once control is granted")
	}
}

func TestSessionWindowHotkey(t *testing.T) {
	f := newFakeRemote()
	w, ev := openTestSession(t, f, nil)
	ev.Consent(proto.PermView | proto.PermControl)
	ev.State(viewer.StateOpen, nil)
	for _, k := range []fyne.KeyName{desktop.KeyControlLeft, desktop.KeyAltLeft, desktop.KeyShiftLeft, fyne.KeyF} {
		w.scr.KeyDown(&fyne.KeyEvent{Name: k})
	}
	if !w.win.FullScreen() || w.toolbar.Visible() {
		t.Errorf("Ctrl+Alt+Shift+F: full screen %v, toolbar shown %v; want full screen without toolbar", w.win.FullScreen(), w.toolbar.Visible())
	}
	w.scr.KeyUp(&fyne.KeyEvent{Name: fyne.KeyF})
	f.mu.Lock()
	for _, k := range f.keys {
		if k.Code == proto.KeyF {
			t.Errorf("the hotkey's F went to the host: %+v", k)
		}
	}
	f.mu.Unlock()
}

func TestSessionWindowMonitorsAndClipboard(t *testing.T) {
	f := newFakeRemote()
	w, ev := openTestSession(t, f, nil)
	ev.Consent(proto.PermView | proto.PermControl | proto.PermClipboard)
	ev.State(viewer.StateOpen, nil)
	ev.Layout(proto.Layout{Selected: 7, Monitors: []proto.Monitor{
		{ID: 7, Width: 1920, Height: 1080, Primary: true, Name: "DP-1"},
		{ID: 9, X: 1920, Width: 1280, Height: 1024, Name: "HDMI-1"},
	}})
	wantOpts := []string{"All monitors", "1: 1920x1080 DP-1 (primary)", "2: 1280x1024 HDMI-1"}
	if !slices.Equal(w.monSel.Options, wantOpts) || w.monSel.SelectedIndex() != 1 || w.monSel.Disabled() {
		t.Errorf("monitor choice %q selected %d disabled %v; want %q, 1, enabled", w.monSel.Options, w.monSel.SelectedIndex(), w.monSel.Disabled(), wantOpts)
	}
	w.monSel.SetSelectedIndex(2)
	w.monSel.SetSelectedIndex(0)

	ev.Clipboard("copied on the host")
	if got := w.app.Clipboard().Content(); got != "copied on the host" {
		t.Errorf("local clipboard %q after the host's copy", got)
	}
	w.scr.FocusGained() // unchanged since: nothing to send
	w.app.Clipboard().SetContent("copied here")
	w.scr.FocusGained()
	w.scr.FocusGained()
	test.Tap(w.clipBtn)
	want := []string{"ChooseMonitor 9", "ChooseMonitor 0", "SendClipboard copied here", "SendClipboard copied here"}
	if got := f.called(); !slices.Equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	w.setQuality(&proto.Quality{Mode: proto.QualityLowBandwidth, MaxFPS: 5})
	if got := f.called(); got[len(got)-1] != "SetQuality 3 5" {
		t.Errorf("last call %q, want SetQuality 3 5", got[len(got)-1])
	}
}

// TestSessionWindowPicture checks what is painted: the host's screen,
// scaled to fit, and that an update copies only its changed rects.
func TestSessionWindowPicture(t *testing.T) {
	f := newFakeRemote()
	w, ev := openTestSession(t, f, nil)
	ev.Consent(proto.PermView)
	ev.State(viewer.StateOpen, nil)
	fb := pattern(640, 400)
	ev.Frame(fb, []viewer.Rect{{W: 640, H: 400}})

	shot := w.win.Canvas().Capture()
	pos, sz := w.scr.vp.place(w.scr.Size())
	origin := fyne.CurrentApp().Driver().AbsolutePositionForObject(w.scr).Add(pos)
	if sz.Width/sz.Height != 640.0/400 {
		t.Errorf("picture %v does not keep the aspect 640:400", sz)
	}
	for qx := range 2 {
		for qy := range 2 {
			px := int(origin.X + sz.Width*(float32(qx)+0.5)/2)
			py := int(origin.Y + sz.Height*(float32(qy)+0.5)/2)
			if got, want := color.RGBAModel.Convert(shot.At(px, py)).(color.RGBA), quadrantColor(qx, qy); !near(got, want) {
				t.Errorf("painted quadrant %d,%d at %d,%d: %v, want %v", qx, qy, px, py, got, want)
			}
		}
	}

	// Change a rect, and pixels outside it that the update does not
	// report: only the rect is copied.
	white := color.RGBA{255, 255, 255, 255}
	for y := 10; y < 20; y++ {
		for x := 10; x < 30; x++ {
			fb.SetRGBA(x, y, white)
		}
	}
	fb.SetRGBA(600, 300, white)
	ev.Frame(fb, []viewer.Rect{{X: 10, Y: 10, W: 20, H: 10}})
	img := w.scr.mips[0]
	if img.RGBAAt(15, 15) != white || img.RGBAAt(9, 15) != quadrantColor(0, 0) {
		t.Errorf("changed rect not copied exactly")
	}
	if img.RGBAAt(600, 300) == white {
		t.Errorf("a pixel outside the changed rects was copied")
	}
	if fig := w.scr.takeFigures(); fig.Updates != 2 {
		t.Errorf("%d updates counted, want 2", fig.Updates)
	}

	// A new screen size replaces the picture and lays it out again.
	ev.Frame(pattern(320, 320), []viewer.Rect{{W: 320, H: 320}})
	if _, sz := w.scr.vp.place(w.scr.Size()); sz.Width != sz.Height {
		t.Errorf("after a resize to 320x320 the picture is %v", sz)
	}
	test.Tap(w.endBtn)
	w.wait()
	if got := f.called(); !slices.Equal(got, []string{"Close"}) {
		t.Errorf("calls after Disconnect %v, want [Close]", got)
	}
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) bool { return x-y < 8 || y-x < 8 }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}

func TestSessionWindowHostKeyChanged(t *testing.T) {
	q := useUIQueue(t)
	a := test.NewApp()
	defer a.Quit()
	pm := &proto.PinMismatchError{Name: "h-1", Pinned: "AAAA", Got: "BBBB"}
	w := newSessionWindow(a, sessionConfig{Title: "office-pc", PinsPath: "/home/u/.config/deskway/viewer/pins",
		Connect: func(ctx context.Context, ev viewer.Events) (remote, error) {
			return nil, fmt.Errorf("%w: %w", viewer.ErrHostKeyChanged, pm)
		}})
	w.wait()
	q.drain()
	if w.state != viewer.StateClosed || !strings.Contains(w.message.Text, "key changed") {
		t.Errorf("state %v, message %q; want closed with the key explanation", w.state, w.message.Text)
	}
	top := w.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog for a changed host key")
	}
	var texts []string
	for _, o := range test.LaidOutObjects(top) {
		if l, ok := o.(*widget.Label); ok {
			texts = append(texts, l.Text)
		}
		if b, ok := o.(*widget.Button); ok && b.Text != "Close" {
			t.Errorf("the dialog offers %q: a changed key must have no way on", b.Text)
		}
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"connection refused", "AAAA", "BBBB", "viewer/pins"} {
		if !strings.Contains(all, want) {
			t.Errorf("dialog text lacks %q:\n%s", want, all)
		}
	}
	w.Close()
}

func TestStatusLine(t *testing.T) {
	if got := statusLine(viewer.StateClosed, viewer.Stats{SAS: "1"}, renderFigures{}, false); got != "closed" {
		t.Errorf("closed status %q", got)
	}
	got := statusLine(viewer.StateOpen, viewer.Stats{FPS: 10, InBytesPerSec: 3 << 20, DecodeTime: 4200 * time.Microsecond, Resumes: 1},
		renderFigures{Updates: 10, Paints: 2, Paint: 7 * time.Millisecond, Handover: 800 * time.Microsecond}, false)
	if got := statusLine(viewer.StateOpen, viewer.Stats{RTT: 420 * time.Microsecond}, renderFigures{}, false); !strings.Contains(got, "RTT <1 ms") {
		t.Errorf("status %q: want RTT <1 ms", got)
	}
	for _, want := range []string{"10 fps", "3.0 MB/s", "decode 3.4 ms", "paint 3.5 ms", "1 relay changes"} {
		if !strings.Contains(got, want) {
			t.Errorf("status %q lacks %q", got, want)
		}
	}
}

func TestSessionWindowNewHostKey(t *testing.T) {
	for _, tt := range []struct {
		mode proto.Mode
		pin  proto.PinStatus
		show bool
	}{
		{proto.ModeUnattended, proto.PinNew, true},
		{proto.ModeUnattended, proto.PinMatched, false},
		{proto.ModeSupport, proto.PinNew, false},
	} {
		f := newFakeRemote()
		w, ev := openTestSession(t, f, nil)
		ev.Stats(viewer.Stats{State: viewer.StateOpen, Mode: tt.mode, Pin: tt.pin, HostKey: "fpfpfpfpfpfpfpfpfpfpfpfpfp", SAS: "123 456"})
		top := w.win.Canvas().Overlays().Top()
		if shown := top != nil && hasLabel(top, "fpfpfpfpfpfpfpfpfpfpfpfpfp"); shown != tt.show {
			t.Errorf("%v session, pin %v: key shown %v, want %v", tt.mode, tt.pin, shown, tt.show)
		}
		ev.Stats(viewer.Stats{State: viewer.StateOpen, Mode: tt.mode, Pin: tt.pin, HostKey: "fp", SAS: "123 456"})
		if n := len(w.win.Canvas().Overlays().List()); tt.show && n != 1 {
			t.Errorf("%d dialogs after a second stats tick, want the one", n)
		}
	}
}
