package viewer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// frameEv is one Events.Frame call: the framebuffer's hash then.
type frameEv struct {
	w, h  int
	sum   [32]byte
	rects []codec.Rect
}

// events collects a session's events on channels.
type events struct {
	frames  chan frameEv
	clip    chan string
	cursor  chan *viewer.Cursor
	pos     chan [3]int
	states  chan viewer.State
	consent chan proto.Perms
}

func newEvents() (*events, viewer.Events) {
	e := &events{
		frames: make(chan frameEv, 64), clip: make(chan string, 8), cursor: make(chan *viewer.Cursor, 8),
		pos: make(chan [3]int, 8), states: make(chan viewer.State, 64), consent: make(chan proto.Perms, 8),
	}
	return e, viewer.Events{
		Frame: func(fb *image.RGBA, rects []codec.Rect) {
			e.frames <- frameEv{fb.Rect.Dx(), fb.Rect.Dy(), sha256.Sum256(fb.Pix), append([]codec.Rect(nil), rects...)}
		},
		Clipboard: func(s string) { e.clip <- s },
		Cursor:    func(c *viewer.Cursor) { e.cursor <- c },
		CursorPos: func(x, y int, vis bool) {
			v := 0
			if vis {
				v = 1
			}
			e.pos <- [3]int{x, y, v}
		},
		State:   func(st viewer.State, err error) { e.states <- st },
		Consent: func(p proto.Perms) { e.consent <- p },
	}
}

func recv[T any](t *testing.T, ctx context.Context, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-ctx.Done():
		var zero T
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
		return zero
	}
}

// waitState reads states until want.
func waitState(t *testing.T, ctx context.Context, states <-chan viewer.State, want viewer.State) {
	t.Helper()
	for st := recv(t, ctx, states, "state "+want.String()); st != want; st = recv(t, ctx, states, "state "+want.String()) {
	}
}

var fixedClock = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// katConfig is a viewer configuration whose every byte on the wire is
// deterministic.
func katConfig(t *testing.T, b *fakeBroker, ev viewer.Events, seed string) viewer.Config {
	return viewer.Config{
		Broker: b, Dial: b.dial, Static: staticKey(t, "viewer"), Pins: proto.NewMemPinStore(),
		Events: ev, Software: "kat-viewer", Version: "1", Platform: "test/kat", User: "tech",
		PingInterval: -1, StatsInterval: -1, Channel: quietChannel,
		Rand: newDetRand("viewer " + seed), Now: fixedClock, Logger: testLogger(t),
	}
}

var allPerms = proto.PermView | proto.PermControl | proto.PermClipboard

// openSession connects a viewer to h and runs it; the host has answered
// Hello and Consent, with a 640x400 monitor.
func openSession(t *testing.T, ctx context.Context, h *testHost, cfg viewer.Config, target viewer.Target) (*viewer.Session, <-chan error) {
	t.Helper()
	h.accept(ctx)
	v, err := viewer.Connect(ctx, cfg, target)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	h.waitOpen(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- v.Run(ctx) }()
	hello := expect[*proto.Hello](ctx, h)
	if hello.Software != cfg.Software || hello.Platform != cfg.Platform || len(hello.Layout.Monitors) != 0 {
		t.Errorf("viewer hello = %+v", hello)
	}
	if cr := expect[*proto.ConsentRequest](ctx, h); cr.Want != allPerms {
		t.Errorf("consent request for %b, want %b", cr.Want, allPerms)
	}
	h.send(ctx, &proto.Hello{MinVersion: 1, MaxVersion: 1, Software: "kat-host", Version: "1", Platform: "test/kat",
		Layout: proto.Layout{Selected: 1, Monitors: []proto.Monitor{{ID: 1, Width: 640, Height: 400, Primary: true, Name: "KAT-1"}}}})
	h.send(ctx, &proto.Consent{Granted: allPerms})
	return v, runErr
}

// TestKnownAnswerSession runs a whole support session with deterministic
// randomness and clock over in-memory pipes: CPace, Noise XXpsk0, SAS,
// hello, consent, cursor, two screen updates decoded and acknowledged,
// input, clipboard both ways, close. The SAS, the host key, every byte the
// viewer sent and the host's bytes up to the screen updates must equal
// testdata/kat-session.golden, natively and under GOOS=js GOARCH=wasm;
// the decoded screens must equal the host's exactly.
func TestKnownAnswerSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, b := newTestHost(t, proto.ModeSupport, "kat")
	b.record = true
	code := h.code("kat")
	e, ev := newEvents()
	v, runErr := openSession(t, ctx, h, katConfig(t, b, ev, "kat"), viewer.Target{Code: code})

	if got := recv(t, ctx, e.consent, "consent"); got != allPerms {
		t.Errorf("consent event %b, want %b", got, allPerms)
	}
	// A cursor shape: 4x4, hotspot 1,2.
	shape := proto.CursorShape{ID: 3, HotX: 1, HotY: 2, Width: 4, Height: 4, Pix: bytes.Repeat([]byte{0xff, 0x80, 0x00, 0xc0}, 16)}
	sb, err := shape.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.sendPayload(ctx, h.cur, sb, 0, true)
	if c := recv(t, ctx, e.cursor, "cursor"); c.ID != 3 || c.HotX != 1 || c.HotY != 2 || !bytes.Equal(c.Image.Pix, shape.Pix) {
		t.Errorf("cursor = %+v, want id 3 hotspot 1,2 and the shape's pixels", c)
	}

	// Two screen updates of 320x200: the host's 640x400 monitor at half
	// scale. The host's wire is recorded up to here: the updates' bytes
	// are the encoder's business and change with it; the decoded
	// framebuffer must equal the host's screen exactly.
	b.h2v[0].freeze()
	var last frameEv
	for step := range 2 {
		img := testScreen(320, 200, step)
		seq := h.sendFrame(ctx, img)
		ack := expect[*proto.FrameAck](ctx, h)
		if ack.Seq != seq || ack.DecodeMicros != 0 {
			t.Errorf("ack = %+v, want seq %d and 0 µs (fixed clock)", ack, seq)
		}
		last = recv(t, ctx, e.frames, "frame")
		if last.w != 320 || last.h != 200 || last.sum != sha256.Sum256(img.Pix) {
			t.Errorf("frame %d: %dx%d %x, want 320x200 %x", step, last.w, last.h, last.sum, sha256.Sum256(img.Pix))
		}
	}
	if st := v.Stats(); st.Width != 320 || st.Height != 200 || st.State != viewer.StateOpen || st.SAS == "" {
		t.Errorf("stats = %+v, want 320x200, open, a SAS", st)
	}

	// The host's pointer at 100,50 of its screen is at 50,25 of the
	// framebuffer, and the viewer's 10,20 at 20,40 of the screen.
	h.send(ctx, &proto.CursorPos{X: 100, Y: 50, Visible: true})
	if p := recv(t, ctx, e.pos, "cursor position"); p != [3]int{50, 25, 1} {
		t.Errorf("cursor position %v, want 50,25 visible", p)
	}
	if err := v.Pointer(10, 20, proto.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	key, _ := viewer.KeyFromDOM("KeyA", "a", true, false, 0)
	if err := v.Key(key); err != nil {
		t.Fatal(err)
	}
	if err := v.Wheel(0, proto.WheelNotch); err != nil {
		t.Fatal(err)
	}
	if err := v.SendClipboard("héllo wörld"); err != nil {
		t.Fatal(err)
	}
	if p := expect[*proto.Pointer](ctx, h); *p != (proto.Pointer{X: 20, Y: 40, Buttons: proto.ButtonLeft}) {
		t.Errorf("host got pointer %+v, want 20,40 left", p)
	}
	if k := expect[*proto.KeyEvent](ctx, h); !k.Down || k.Code != proto.KeyA || k.Text != "a" {
		t.Errorf("host got key %+v, want KeyA down text a", k)
	}
	if w := expect[*proto.Wheel](ctx, h); *w != (proto.Wheel{DY: proto.WheelNotch}) {
		t.Errorf("host got wheel %+v", w)
	}
	if f := expect[*proto.Fragment](ctx, h); f.Stream != proto.StreamClipboard || string(f.Data) != "héllo wörld" {
		t.Errorf("host got fragment %v %q, want clipboard text", f.Stream, f.Data)
	}
	h.sendPayload(ctx, h.clip, []byte("from the host ✓"), 0, true)
	if s := recv(t, ctx, e.clip, "clipboard"); s != "from the host ✓" {
		t.Errorf("clipboard %q", s)
	}

	sas := v.SAS()
	fp, pin := v.HostKey()
	if pin != proto.PinNew || fp != h.cfg.Static.Public().Fingerprint() {
		t.Errorf("host key %s %v, want %s new", fp, pin, h.cfg.Static.Public().Fingerprint())
	}
	if err := v.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := recv(t, ctx, runErr, "Run"); err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}
	if end := expect[*proto.End](ctx, h); end.Reason != proto.EndNormal {
		t.Errorf("host got end %+v", end)
	}
	<-h.done
	var ce *proto.CloseError
	if !errors.As(h.end, &ce) || !ce.Remote || ce.Reason != proto.CloseUser {
		t.Errorf("host channel ended with %v, want CLOSE by the viewer", h.end)
	}

	got := fmt.Sprintf("sas %s\nhost-key %s\nwire viewer-to-host %d %s\nwire host-to-viewer until the screen %d %s\n",
		sas, fp, b.v2h[0].n, b.v2h[0].sum(), b.h2v[0].n, b.h2v[0].sum())
	golden(t, "kat-session.golden", got)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("known answers differ from %s:\ngot:\n%swant:\n%s", path, got, want)
	}
}

// TestResume breaks the connection mid-session: the viewer gets fresh
// tickets, resumes the channel on a new connection, input queued during
// the break arrives exactly once, and a screen update lost with the break
// makes the viewer ask for a keyframe.
func TestResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, b := newTestHost(t, proto.ModeSupport, "resume")
	b.record = true
	code := h.code("resume")
	e, ev := newEvents()
	cfg := katConfig(t, b, ev, "resume")
	cfg.Now = nil
	v, runErr := openSession(t, ctx, h, cfg, viewer.Target{Code: code})
	h.sendFrame(ctx, testScreen(320, 200, 0))
	expect[*proto.FrameAck](ctx, h)
	recv(t, ctx, e.frames, "frame")

	b.v2h[0].Close() // the relay dies
	waitState(t, ctx, e.states, viewer.StateReconnecting)
	for i := range 5 {
		if err := v.Key(proto.KeyEvent{Down: true, Code: proto.KeyDigit1 + proto.KeyCode(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, ctx, e.states, viewer.StateOpen)
	for i := range 5 {
		if k := expect[*proto.KeyEvent](ctx, h); k.Code != proto.KeyDigit1+proto.KeyCode(i) {
			t.Errorf("key %d after resume = %v, want %v", i, k.Code, proto.KeyDigit1+proto.KeyCode(i))
		}
	}

	// An update lost with the old connection: the next one does not
	// decode, so the viewer asks for a keyframe.
	lost, err := h.enc.Encode(nil, codec.FrameFromRGBA(testScreen(320, 200, 1)))
	if err != nil {
		t.Fatal(err)
	}
	h.frag.Start(lost, 0)
	h.frag.Reset()
	h.sendFrame(ctx, testScreen(320, 200, 2))
	if r := expect[*proto.Refresh](ctx, h); r.Reason != proto.RefreshResume {
		t.Errorf("refresh reason %v, want resume", r.Reason)
	}
	h.enc.ForceKeyframe()
	want := testScreen(320, 200, 3)
	h.sendFrame(ctx, want)
	if f := recv(t, ctx, e.frames, "frame"); f.sum != sha256.Sum256(want.Pix) {
		t.Errorf("framebuffer after the keyframe differs from the host's screen")
	}
	if st := v.Stats(); st.Resumes != 1 || st.Relay != "mem-2" {
		t.Errorf("stats after resume: %d resumes via %q, want 1 via mem-2", st.Resumes, st.Relay)
	}
	v.Close()
	if err := recv(t, ctx, runErr, "Run"); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestConnectErrors checks that each way of failing gives its error.
func TestConnectErrors(t *testing.T) {
	otherKey := staticKey(t, "someone else").Public().Fingerprint()
	tests := []struct {
		name  string
		setup func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target)
		want  error
	}{
		{"malformed code", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			target.Code = "12-34"
		}, viewer.ErrWrongCode},
		{"unknown nameplate", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			b.err = &viewer.BrokerError{Status: 404, Code: "not_found", Message: "no such code"}
		}, viewer.ErrWrongCode},
		{"wrong secret digits", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			target.Code = "123-000-000"
		}, viewer.ErrWrongCode},
		{"host offline", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			b.err = &viewer.BrokerError{Status: 409, Code: "host_offline", Message: "offline"}
		}, viewer.ErrHostOffline},
		{"host never at the relay", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			b.dialErr = fmt.Errorf("%w: the relay's pairing timed out", viewer.ErrHostOffline)
		}, viewer.ErrHostOffline},
		{"no relay", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			b.dialErr = errors.New("connection refused")
		}, viewer.ErrNoRelay},
		{"not signed in", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			b.err = &viewer.BrokerError{Status: 401, Code: "unauthorized"}
		}, viewer.ErrNotSignedIn},
		{"host key changed", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			cfg.Pins = proto.NewMemPinStore(proto.PinEntry{Name: "host-1", Fingerprint: otherKey})
		}, viewer.ErrHostKeyChanged},
		{"pairing for another mode", func(h *testHost, b *fakeBroker, cfg *viewer.Config, target *viewer.Target) {
			b.pairing.Mode = proto.ModeUnattended
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			h, b := newTestHost(t, proto.ModeSupport, "errors")
			target := viewer.Target{Code: h.code("errors")}
			_, ev := newEvents()
			cfg := katConfig(t, b, ev, "errors")
			tt.setup(h, b, &cfg, &target)
			h.accept(ctx)
			v, err := viewer.Connect(ctx, cfg, target)
			if err == nil {
				v.Close()
				t.Fatalf("Connect succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Connect = %v, want %v", err, tt.want)
			}
			if msg := viewer.Explain(err); msg == "" || strings.HasPrefix(msg, "Error:") != (tt.want == nil) {
				t.Errorf("Explain(%v) = %q", err, msg)
			}
		})
	}
}

// startSession connects a viewer to a new test host by support code and
// runs it, leaving the hello and consent exchange to the test.
func startSession(t *testing.T, ctx context.Context, seed string) (*testHost, *viewer.Session, *events, <-chan error) {
	t.Helper()
	h, b := newTestHost(t, proto.ModeSupport, seed)
	code := h.code(seed)
	e, ev := newEvents()
	h.accept(ctx)
	v, err := viewer.Connect(ctx, katConfig(t, b, ev, seed), viewer.Target{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	h.waitOpen(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- v.Run(ctx) }()
	return h, v, e, runErr
}

// TestConsentRefused: the person at the host says no.
func TestConsentRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, _, _, runErr := startSession(t, ctx, "consent")
	expect[*proto.Hello](ctx, h)
	expect[*proto.ConsentRequest](ctx, h)
	h.send(ctx, &proto.End{Reason: proto.EndConsentDenied, Text: "not now"})
	h.ch.Close(ctx, proto.ClosePolicy)
	err := recv(t, ctx, runErr, "Run")
	var end *viewer.EndError
	if !errors.Is(err, viewer.ErrConsentRefused) || !errors.As(err, &end) || end.Text != "not now" {
		t.Errorf("Run = %v, want consent refused with the host's text", err)
	}
	if msg := viewer.Explain(err); !strings.Contains(msg, "refused") {
		t.Errorf("Explain = %q", msg)
	}
}

// TestInputNeedsConsent: no input before control is granted, none in
// view-only mode, key releases of held keys still go out.
func TestInputNeedsConsent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, v, e, _ := startSession(t, ctx, "input")
	defer v.Close()
	if err := v.Pointer(1, 1, 0); !errors.Is(err, viewer.ErrInputNotAllowed) {
		t.Errorf("Pointer before consent = %v, want ErrInputNotAllowed", err)
	}
	h.send(ctx, &proto.Consent{Granted: proto.PermView | proto.PermControl})
	recv(t, ctx, e.consent, "consent")
	if err := v.SendClipboard("x"); !errors.Is(err, viewer.ErrInputNotAllowed) {
		t.Errorf("SendClipboard without clipboard consent = %v, want ErrInputNotAllowed", err)
	}
	if err := v.Key(proto.KeyEvent{Down: true, Code: proto.KeyShiftLeft, Mods: proto.ModShift}); err != nil {
		t.Fatal(err)
	}
	if err := v.SetViewOnly(true); err != nil {
		t.Fatal(err)
	}
	if err := v.Pointer(1, 1, 0); !errors.Is(err, viewer.ErrInputNotAllowed) {
		t.Errorf("Pointer in view-only mode = %v, want ErrInputNotAllowed", err)
	}
	expect[*proto.Hello](ctx, h)
	expect[*proto.ConsentRequest](ctx, h)
	if k := expect[*proto.KeyEvent](ctx, h); !k.Down || k.Code != proto.KeyShiftLeft {
		t.Errorf("got %+v, want ShiftLeft down", k)
	}
	if k := expect[*proto.KeyEvent](ctx, h); k.Down || k.Code != proto.KeyShiftLeft {
		t.Errorf("got %+v, want ShiftLeft released before view-only", k)
	}
	if vo := expect[*proto.ViewOnly](ctx, h); !vo.On {
		t.Errorf("got view-only %v, want on", vo.On)
	}
}

// TestRequestControlAgain: the host takes control back (a Consent
// without it); input is refused, and RequestControl asks again for what
// the session wanted.
func TestRequestControlAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, v, e, _ := startSession(t, ctx, "again")
	defer v.Close()
	expect[*proto.Hello](ctx, h)
	want := expect[*proto.ConsentRequest](ctx, h).Want
	h.send(ctx, &proto.Consent{Granted: want})
	recv(t, ctx, e.consent, "consent")
	h.send(ctx, &proto.Consent{Granted: proto.PermView})
	recv(t, ctx, e.consent, "control taken back")
	if err := v.Pointer(1, 1, 0); !errors.Is(err, viewer.ErrInputNotAllowed) {
		t.Errorf("Pointer after the host took control back = %v, want ErrInputNotAllowed", err)
	}
	if err := v.RequestControl(); err != nil {
		t.Fatal(err)
	}
	if got := expect[*proto.ConsentRequest](ctx, h).Want; got != want&^proto.PermView {
		t.Errorf("asked again for %v, want %v", got, want&^proto.PermView)
	}
}

// BenchmarkConnect measures Connect over in-memory pipes: pairing, the
// dw/1 handshake (CPace or OPAQUE with Argon2id, Noise XXpsk0, SAS) and
// the first messages, natively or in wasm (make test-wasm's node).
func BenchmarkConnect(b *testing.B) {
	for _, mode := range []proto.Mode{proto.ModeSupport, proto.ModeUnattended} {
		b.Run(mode.String(), func(b *testing.B) {
			var record *proto.HostPasswordRecord
			if mode == proto.ModeUnattended {
				var err error
				record, err = proto.RegisterHostPassword("host-1", "owner-1", []byte("correct horse battery staple"), newDetRand("record"))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				seed := fmt.Sprint("bench", n)
				n++
				h, fb := newTestHost(b, mode, seed)
				target := viewer.Target{Code: h.code(seed)}
				if mode == proto.ModeUnattended {
					h.cfg.Password = record
					target = viewer.Target{HostID: "host-1", Password: []byte("correct horse battery staple")}
				}
				h.accept(ctx)
				v, err := viewer.Connect(ctx, viewer.Config{Broker: fb, Dial: fb.dial, Static: staticKey(b, "viewer")}, target)
				if err != nil {
					b.Fatal(err)
				}
				h.waitOpen(ctx)
				v.Close()
				h.ch.Close(ctx, proto.CloseNormal)
				cancel()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(n), "ms/connect")
		})
	}
}

// TestPaddedInput: with a host that takes padded input, every input
// record is a Padded message of 64 bytes, and typing starts keystroke
// chaff: empty records on the tick, until some time after the last key.
func TestPaddedInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, v, e, _ := startSession(t, ctx, "padded")
	defer v.Close()
	expect[*proto.Hello](ctx, h)
	expect[*proto.ConsentRequest](ctx, h)
	h.send(ctx, &proto.Hello{MinVersion: 1, MaxVersion: 1, Caps: proto.CapPadded, Software: "kat-host",
		Layout: proto.Layout{Selected: 1, Monitors: []proto.Monitor{{ID: 1, Width: 640, Height: 400, Primary: true}}}})
	h.send(ctx, &proto.Consent{Granted: allPerms})
	recv(t, ctx, e.consent, "consent")

	// next returns the next Padded record and checks its size.
	next := func() *proto.Padded {
		t.Helper()
		p := expect[*proto.Padded](ctx, h)
		if b, err := proto.Marshal(p); err != nil || len(b) != proto.PadBucket {
			t.Fatalf("padded record of %d bytes (%v), want %d", len(b), err, proto.PadBucket)
		}
		return p
	}
	if err := v.Pointer(5, 6, proto.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	if p := next(); len(p.Input) != 1 {
		t.Fatalf("pointer: padded record with %d inputs, want 1", len(p.Input))
	} else if ptr, ok := p.Input[0].(*proto.Pointer); !ok || ptr.X != 5 || ptr.Y != 6 {
		t.Fatalf("pointer: got %+v", p.Input[0])
	}

	// Control messages through the same queue go as they are.
	if err := v.RequestRefresh(); err != nil {
		t.Fatal(err)
	}
	if r := expect[*proto.Refresh](ctx, h); r.Reason != proto.RefreshRequested {
		t.Errorf("refresh reason %v, want requested", r.Reason)
	}

	start := time.Now()
	for _, down := range []bool{true, false} {
		if err := v.Key(proto.KeyEvent{Down: down, Code: proto.KeyA, Text: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []*proto.KeyEvent
	chaff := 0
	for len(keys) < 2 {
		p := next()
		if len(p.Input) == 0 {
			chaff++
		}
		for _, in := range p.Input {
			keys = append(keys, in.(*proto.KeyEvent))
		}
	}
	if !keys[0].Down || keys[1].Down || keys[0].Code != proto.KeyA || keys[1].Code != proto.KeyA {
		t.Errorf("keys %+v, %+v; want A down then up", keys[0], keys[1])
	}
	// Chaff on the 20 ms tick for 1–2 s after the last key, then quiet.
	var last time.Time
	for {
		got := false
		select {
		case m := <-h.got:
			if p, ok := m.(*proto.Padded); ok {
				if len(p.Input) != 0 {
					t.Fatalf("unexpected input %+v", p.Input)
				}
				chaff++
				last = time.Now()
			}
			got = true
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		if !got {
			break
		}
	}
	took := last.Sub(start)
	if took < time.Second || took > 2500*time.Millisecond {
		t.Errorf("chaff for %v after the last key, want 1–2 s", took)
	}
	if min := int(took / (40 * time.Millisecond)); chaff < min {
		t.Errorf("%d chaff records in %v, want at least %d (one per 20 ms tick)", chaff, took, min)
	}
	t.Logf("%d chaff records over %v", chaff, took.Round(time.Millisecond))
}
