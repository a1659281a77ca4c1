//go:build linux

package agent_test

import (
	"context"
	"crypto/ed25519"
	"image"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
	"github.com/deskway/deskway/relay"
)

// TestSessionRelayFailover kills the relay a session runs through: both
// ends reconnect through a second relay, the channel resumes without a
// new PAKE, the agent sends a keyframe and the viewer follows the screen
// again.
func TestSessionRelayFailover(t *testing.T) {
	d := testbed.Xvfb(t, 640, 400)
	draw := newXDraw(t, d, image.Rect(0, 0, 640, 400))
	pub, priv, _ := ed25519.GenerateKey(nil)
	newRelay := func(id string) (*relay.Server, *httptest.Server) {
		s, err := relay.New(relay.Config{RelayID: id, TicketKeys: proto.TicketKeys{"k1": pub}})
		if err != nil {
			t.Fatal(err)
		}
		return s, httptest.NewServer(s.Handler())
	}
	r1, srv1 := newRelay("r1")
	r2, srv2 := newRelay("r2")
	defer srv2.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r2.Shutdown(ctx)
		cancel()
	}()

	sid := proto.NewSessionID()
	dial := func(ctx context.Context, id, url string, role proto.Role) proto.MsgConn {
		now := time.Now()
		tk, err := proto.SignTicket(&proto.Ticket{
			ID: proto.NewTicketID(), Session: sid, HostID: "host-1", Role: role, Mode: proto.ModeSupport,
			Relays: []proto.RelayRef{{ID: id, URL: url}}, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute),
		}, "k1", priv)
		if err != nil {
			t.Error(err)
			return nil
		}
		c, err := ws.Dial(ctx, []ws.Relay{{RelayID: id, URL: url, Ticket: tk}}, nil)
		if err != nil {
			t.Errorf("dial %s as %v: %v", id, role, err)
			return nil
		}
		return c
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, _ := proto.NewSupportCode("7", nil)
	hs, _ := proto.NewStaticPrivate(nil)
	vs, _ := proto.NewStaticPrivate(nil)
	lim, _ := proto.NewLimiter(proto.SupportPolicy, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	hc := make(chan *proto.Channel, 1)
	go func() {
		ch, err := proto.AcceptHost(ctx, dial(ctx, "r1", srv1.URL, proto.RoleHost), proto.HostConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "host-1", Static: hs, Code: code, Limiter: lim})
		if err != nil {
			t.Error(err)
		}
		hc <- ch
	}()
	vch, err := proto.DialViewer(ctx, dial(ctx, "r1", srv1.URL, proto.RoleViewer), proto.ViewerConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "host-1", Static: vs, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	hch := <-hc

	cap, err := platform.NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer cap.Close()
	s := agent.NewSession(hch, agent.SessionConfig{
		Desktop: agent.Desktop{Screen: cap, Prompter: platform.AutoPrompter{Grant: proto.PermView}},
		Mode:    proto.ModeSupport, MaxFPS: 30,
		Reconnect: func(ctx context.Context) (proto.MsgConn, error) {
			return dial(ctx, "r2", srv2.URL, proto.RoleHost), nil
		},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	v := newTestViewer(t, vch)
	v.Reconnect = func(ctx context.Context) proto.MsgConn { return dial(ctx, "r2", srv2.URL, proto.RoleViewer) }
	go v.run(ctx)

	check, _ := platform.NewX11Capturer(d.Name)
	defer check.Close()
	var screen codec.Frame
	converged := func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return diff(v.fb, &screen) == 0
	}
	draw.fill(0x3366cc, image.Rect(10, 10, 200, 100))
	check.Capture(image.Rect(0, 0, 640, 400), &screen)
	waitFor(t, 10*time.Second, "the first picture", converged)

	// The relay goes away: a shutdown whose grace period is over at once
	// closes every connection it carries.
	killed := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	r1.Shutdown(sctx)
	scancel()
	srv1.CloseClientConnections()
	srv1.Close()

	draw.fill(0xcc3366, image.Rect(300, 200, 500, 350))
	check.Capture(image.Rect(0, 0, 640, 400), &screen)
	waitFor(t, 20*time.Second, "the picture after the fail-over", converged)
	t.Logf("viewer follows the screen again %v after the relay died", time.Since(killed).Round(time.Millisecond))
	v.mu.Lock()
	resumes, keys := v.resumes, v.keyframes
	v.mu.Unlock()
	if resumes != 1 || keys < 2 {
		t.Errorf("viewer resumed %d times and got %d keyframes, want 1 resume and a keyframe after it", resumes, keys)
	}
	cancel()
	<-done
}
