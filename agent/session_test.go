//go:build linux

package agent_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"image"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
	"github.com/deskway/deskway/relay"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

func init() { xgb.Logger = log.New(io.Discard, "", 0) }

// testRelay is a real relay on 127.0.0.1 and the broker key that signs
// its tickets.
type testRelay struct {
	url string
	key ed25519.PrivateKey
}

func startRelay(t testing.TB) *testRelay {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	s, err := relay.New(relay.Config{RelayID: "r1", TicketKeys: proto.TicketKeys{"k1": pub}})
	if err != nil {
		t.Fatalf("relay.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		srv.Close()
	})
	return &testRelay{url: srv.URL, key: priv}
}

func (r *testRelay) dial(t testing.TB, ctx context.Context, sid proto.SessionID, hostID string, role proto.Role, mode proto.Mode) proto.MsgConn {
	t.Helper()
	now := time.Now()
	tk, err := proto.SignTicket(&proto.Ticket{
		ID: proto.NewTicketID(), Session: sid, HostID: hostID, Role: role, Mode: mode,
		Relays:   []proto.RelayRef{{ID: "r1", URL: r.url}},
		IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute),
	}, "k1", r.key)
	if err != nil {
		t.Fatalf("SignTicket: %v", err)
	}
	c, err := ws.Dial(ctx, []ws.Relay{{RelayID: "r1", URL: r.url, Ticket: tk}}, nil)
	if err != nil {
		t.Fatalf("ws.Dial as %v: %v", role, err)
	}
	return c
}

// pair runs the secure channel's handshake through the relay and returns
// both ends: the host's (agent) and the viewer's.
func pair(t testing.TB, r *testRelay, mode proto.Mode) (host, viewer *proto.Channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sid := proto.NewSessionID()
	const hostID = "host-1"
	code, err := proto.NewSupportCode("123", nil)
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := proto.NewStaticPrivate(nil)
	vs, _ := proto.NewStaticPrivate(nil)
	lim, err := proto.NewLimiter(proto.SupportPolicy, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		ch  *proto.Channel
		err error
	}
	hc := make(chan res, 1)
	go func() {
		conn := r.dial(t, ctx, sid, hostID, proto.RoleHost, mode)
		ch, err := proto.AcceptHost(ctx, conn, proto.HostConfig{Mode: mode, SessionID: sid, HostID: hostID, Static: hs, Code: code, Limiter: lim})
		hc <- res{ch, err}
	}()
	vconn := r.dial(t, ctx, sid, hostID, proto.RoleViewer, mode)
	viewer, err = proto.DialViewer(ctx, vconn, proto.ViewerConfig{Mode: mode, SessionID: sid, HostID: hostID, Static: vs, Code: code})
	if err != nil {
		t.Fatalf("DialViewer: %v", err)
	}
	h := <-hc
	if h.err != nil {
		t.Fatalf("AcceptHost: %v", h.err)
	}
	return h.ch, viewer
}

// testViewer is the viewer's side of a session built from proto and codec
// directly: it decodes screen updates into a framebuffer and acks them.
type testViewer struct {
	t   testing.TB
	ch  *proto.Channel
	dec *codec.Decoder

	// Delay slows the viewer down before each ack.
	Delay time.Duration
	// Reconnect, if set, gives a new connection to resume on after the
	// relay failed.
	Reconnect func(ctx context.Context) proto.MsgConn
	resumes   int

	mu        sync.Mutex
	frames    int
	keyframes int
	maxLag    uint32 // most updates received beyond the last ack
	consent   proto.Perms
	cursor    *proto.CursorShape
	cursorPos proto.CursorPos
	clipboard string
	layout    proto.Layout
	ended     *proto.End
	fb        *image.RGBA // copy of the decoder's framebuffer after the last update
	err       error
}

func newTestViewer(t testing.TB, ch *proto.Channel) *testViewer {
	return &testViewer{t: t, ch: ch, dec: codec.NewDecoder(codec.DecoderOptions{})}
}

func (v *testViewer) send(ctx context.Context, m proto.Msg, reliable bool) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return v.ch.Send(ctx, b, reliable)
}

// run says hello and handles the host's messages until the channel ends.
func (v *testViewer) run(ctx context.Context) {
	err := v.send(ctx, &proto.Hello{MinVersion: 1, MaxVersion: proto.MsgVersion, Caps: ^proto.Caps(0), Software: "test-viewer", User: "Tess Viewer"}, true)
	screen := proto.NewDefragmenter(proto.StreamScreen)
	cursor := proto.NewDefragmenter(proto.StreamCursor)
	clip := proto.NewDefragmenter(proto.StreamClipboard)
	lastAck := ^uint32(0)
	needKey := false
	for err == nil {
		var b []byte
		if b, err = v.ch.Recv(ctx); err != nil {
			if errors.Is(err, proto.ErrInterrupted) && v.Reconnect != nil && ctx.Err() == nil {
				if _, err = v.ch.Resume(ctx, v.Reconnect(ctx)); err == nil {
					// Updates in flight are lost: start again from a keyframe.
					screen.Reset()
					needKey = true
					v.mu.Lock()
					v.resumes++
					v.mu.Unlock()
					continue
				}
			}
			break
		}
		var m proto.Msg
		if m, err = proto.Unmarshal(b); err != nil {
			break
		}
		switch m := m.(type) {
		case *proto.Fragment:
			var d *proto.Defragmenter
			switch m.Stream {
			case proto.StreamScreen:
				d = screen
			case proto.StreamCursor:
				d = cursor
			case proto.StreamClipboard:
				d = clip
			}
			key := m.Flags&proto.FragKeyframe != 0
			var payload []byte
			var done bool
			if payload, done, err = d.Add(m); err != nil || !done {
				break
			}
			switch m.Stream {
			case proto.StreamScreen:
				if needKey && !key {
					err = v.send(ctx, &proto.FrameAck{Seq: m.Seq}, true)
					break
				}
				needKey = false
				if _, err = v.dec.Decode(payload); err != nil {
					break
				}
				v.mu.Lock()
				v.frames++
				if key {
					v.keyframes++
				}
				v.maxLag = max(v.maxLag, m.Seq-lastAck)
				v.fb = cloneRGBA(v.dec.Framebuffer())
				v.mu.Unlock()
				time.Sleep(v.Delay)
				err = v.send(ctx, &proto.FrameAck{Seq: m.Seq}, true)
				lastAck = m.Seq
			case proto.StreamCursor:
				var cs proto.CursorShape
				if err = cs.DecodeFromBytes(payload); err == nil {
					cs.Pix = append([]byte(nil), cs.Pix...)
					v.mu.Lock()
					v.cursor = &cs
					v.mu.Unlock()
				}
			case proto.StreamClipboard:
				v.mu.Lock()
				v.clipboard = string(payload)
				v.mu.Unlock()
			}
		case *proto.Consent:
			v.mu.Lock()
			v.consent = m.Granted
			v.mu.Unlock()
		case *proto.CursorPos:
			v.mu.Lock()
			v.cursorPos = *m
			v.mu.Unlock()
		case *proto.Hello:
			v.mu.Lock()
			v.layout = m.Layout
			v.mu.Unlock()
		case *proto.End:
			v.mu.Lock()
			v.ended = m
			v.mu.Unlock()
		}
	}
	v.mu.Lock()
	v.err = err
	v.mu.Unlock()
}

func cloneRGBA(m *image.RGBA) *image.RGBA {
	c := *m
	c.Pix = append([]byte(nil), m.Pix...)
	return &c
}

// waitFor polls cond for up to d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

// diff counts pixels of the viewer's framebuffer that differ from img.
func diff(fb *image.RGBA, img *codec.Frame) int {
	if fb == nil || fb.Rect.Dx() != img.Width || fb.Rect.Dy() != img.Height {
		return -1
	}
	n := 0
	for y := range img.Height {
		for x := range img.Width {
			r, g, b := platform.RGB(img, x, y)
			p := fb.Pix[y*fb.Stride+4*x:]
			if p[0] != r || p[1] != g || p[2] != b {
				n++
			}
		}
	}
	return n
}

// xdraw is a test X client that draws rectangles.
type xdraw struct {
	t   testing.TB
	c   *xgb.Conn
	win xproto.Window
	gc  xproto.Gcontext
}

func newXDraw(t testing.TB, d *testbed.Display, r image.Rectangle) *xdraw {
	t.Helper()
	c, err := xgb.NewConnDisplay(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	x := &xdraw{t: t, c: c}
	x.win, _ = xproto.NewWindowId(c)
	xproto.CreateWindow(c, scr.RootDepth, x.win, scr.Root, int16(r.Min.X), int16(r.Min.Y), uint16(r.Dx()), uint16(r.Dy()), 0,
		xproto.WindowClassInputOutput, scr.RootVisual, xproto.CwBackPixel|xproto.CwOverrideRedirect, []uint32{0xeeeeee, 1})
	xproto.MapWindow(c, x.win)
	x.gc, _ = xproto.NewGcontextId(c)
	xproto.CreateGC(c, x.gc, xproto.Drawable(x.win), 0, nil)
	x.sync()
	return x
}

func (x *xdraw) sync() { xproto.GetInputFocus(x.c).Reply() }

func (x *xdraw) fill(color uint32, r image.Rectangle) {
	xproto.ChangeGC(x.c, x.gc, xproto.GcForeground, []uint32{color})
	xproto.PolyFillRectangle(x.c, xproto.Drawable(x.win), x.gc, []xproto.Rectangle{{X: int16(r.Min.X), Y: int16(r.Min.Y), Width: uint16(r.Dx()), Height: uint16(r.Dy())}})
	x.sync()
}

// session starts an agent session on the display and a test viewer
// through a real relay. It returns the viewer and the agent's session.
func session(t *testing.T, d *testbed.Display, viewerDelay time.Duration, cfg agent.SessionConfig) (*testViewer, *agent.Session, chan error) {
	t.Helper()
	cap, err := platform.NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cap.Close() })
	r := startRelay(t)
	hostCh, viewCh := pair(t, r, proto.ModeSupport)
	cfg.Mode = proto.ModeSupport
	cfg.Desktop.Screen = cap
	if cfg.Desktop.Prompter == nil {
		cfg.Desktop.Prompter = platform.AutoPrompter{Grant: proto.PermView | proto.PermControl | proto.PermClipboard}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := agent.NewSession(hostCh, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- s.Run(ctx); close(finished) }()
	v := newTestViewer(t, viewCh)
	v.Delay = viewerDelay
	vdone := make(chan struct{})
	go func() { v.run(ctx); close(vdone) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Errorf("session did not end within 10s of cancel")
		}
		viewCh.Close(context.Background(), proto.CloseNormal)
		<-vdone
	})
	return v, s, done
}

// TestSessionFramebufferFollowsScreen checks that after each change on
// the host's screen the viewer's decoded framebuffer equals a capture of
// the screen.
func TestSessionFramebufferFollowsScreen(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	draw := newXDraw(t, d, image.Rect(50, 40, 450, 300))
	v, s, _ := session(t, d, 0, agent.SessionConfig{MaxFPS: 30})

	check, err := platform.NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var screen codec.Frame
	converge := func(step string) {
		t.Helper()
		if _, err := check.Capture(image.Rect(0, 0, 640, 400), &screen); err != nil {
			t.Fatal(err)
		}
		var n int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			v.mu.Lock()
			fb := v.fb
			v.mu.Unlock()
			if n = diff(fb, &screen); n == 0 {
				return
			}
		}
		v.mu.Lock()
		t.Logf("viewer: %d frames, err %v; agent: %+v", v.frames, v.err, s.Stats())
		if v.fb != nil {
			for y := 0; y < 400; y += 10 {
				for x := 0; x < 640; x += 10 {
					r, g, b := platform.RGB(&screen, x, y)
					p := v.fb.Pix[y*v.fb.Stride+4*x:]
					if p[0] != r || p[1] != g || p[2] != b {
						t.Logf("first diff at %d,%d: viewer %x, screen %02x%02x%02x", x, y, p[:3], r, g, b)
						y, x = 1000, 1000
					}
				}
			}
		}
		v.mu.Unlock()
		t.Fatalf("%s: viewer framebuffer differs from the screen in %d pixels after 10s", step, n)
	}
	converge("first frame")
	colors := []uint32{0xff0000, 0x00ff00, 0x0000ff, 0x123456, 0xffffff, 0x000000}
	for i := range 12 {
		r := image.Rect(i*29%300, i*17%200, i*29%300+40+i*5, i*17%200+30+i*3)
		draw.fill(colors[i%len(colors)], r)
		converge(fmt.Sprintf("change %d", i))
	}
	// A scroll-like move: the same content one step up.
	for i := range 5 {
		for y := 0; y < 260; y += 20 {
			draw.fill(colors[(y/20+i)%len(colors)], image.Rect(0, y, 400, y+20))
		}
		converge(fmt.Sprintf("scroll %d", i))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.consent != proto.PermView|proto.PermControl|proto.PermClipboard {
		t.Errorf("viewer got consent %v, want view+control+clipboard", v.consent)
	}
	if v.keyframes != 1 {
		t.Errorf("viewer got %d keyframes, want 1", v.keyframes)
	}
	if len(v.layout.Monitors) != 1 || v.layout.Monitors[0].Width != 640 {
		t.Errorf("layout %+v, want one 640x400 monitor", v.layout)
	}
	st := s.Stats()
	t.Logf("frames %d (keyframes %d), %d bytes, captures %d", st.Frames, st.Keyframes, st.ScreenBytes, st.Captures)
}

// TestSessionFlowControl slows the viewer down while the screen changes
// all the time: the agent keeps at most its window of updates in flight,
// merges the rest, and the viewer still ends on the final screen.
func TestSessionFlowControl(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	draw := newXDraw(t, d, image.Rect(0, 0, 640, 400))
	const delay = 150 * time.Millisecond
	v, s, _ := session(t, d, delay, agent.SessionConfig{MaxFPS: 60, Window: 2})

	start := time.Now()
	i := 0
	for time.Since(start) < 2*time.Second {
		draw.fill(uint32(i*0x0a0b0c)&0xffffff, image.Rect(i*7%600, i*11%360, i*7%600+40, i*11%360+40))
		i++
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	check, _ := platform.NewX11Capturer(d.Name)
	defer check.Close()
	var screen codec.Frame
	check.Capture(image.Rect(0, 0, 640, 400), &screen)
	waitFor(t, 10*time.Second, "the viewer to show the final screen", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return diff(v.fb, &screen) == 0
	})

	v.mu.Lock()
	frames, lag := v.frames, v.maxLag
	v.mu.Unlock()
	st := s.Stats()
	t.Logf("%d draws in %v; %d frames sent, %d reached the viewer, max lag %d updates, %d ticks skipped", i, elapsed.Round(time.Millisecond), st.Frames, frames, lag, st.Skipped)
	if lag > 2 {
		t.Errorf("viewer received update %d beyond its last ack, want at most the window of 2", lag)
	}
	// At 150 ms per frame the viewer takes about 7 frames a second, not
	// the 60 the agent may send: the agent must have merged changes.
	if max := int(elapsed/delay)*2 + 10; st.Frames > max {
		t.Errorf("agent sent %d frames in %v to a viewer taking %v per frame, want at most %d", st.Frames, elapsed, delay, max)
	}
	if st.Skipped == 0 {
		t.Errorf("agent never waited for an ack")
	}
}

func TestSessionEndedByHost(t *testing.T) {
	d := testbed.Xvfb(t, 320, 200)
	v, s, done := session(t, d, 0, agent.SessionConfig{})
	waitFor(t, 10*time.Second, "a first frame", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.frames > 0
	})
	s.End()
	select {
	case err := <-done:
		if !errors.Is(err, agent.ErrEndedByHost) {
			t.Errorf("Run after End = %v, want ErrEndedByHost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Run did not return after End")
	}
	waitFor(t, 5*time.Second, "the viewer to see End", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.ended != nil || v.err != nil
	})
}
