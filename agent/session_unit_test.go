//go:build linux

package agent_test

import (
	"context"
	"image"
	"image/color"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/agenttest"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// pipePair runs the handshake over an in-memory pipe.
func pipePair(t testing.TB) (host, viewer *proto.Channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b := proto.Pipe()
	code, _ := proto.NewSupportCode("5", nil)
	hs, _ := proto.NewStaticPrivate(nil)
	vs, _ := proto.NewStaticPrivate(nil)
	lim, _ := proto.NewLimiter(proto.SupportPolicy, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	sid := proto.NewSessionID()
	hc := make(chan *proto.Channel, 1)
	go func() {
		ch, err := proto.AcceptHost(ctx, a, proto.HostConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "h", Static: hs, Code: code, Limiter: lim})
		if err != nil {
			t.Error(err)
		}
		hc <- ch
	}()
	viewer, err := proto.DialViewer(ctx, b, proto.ViewerConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "h", Static: vs, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	return <-hc, viewer
}

// TestSessionMonitorsScaleRefresh uses a fake desktop of two monitors
// side by side: the primary is shared first, the viewer picks the other
// one and then all of them, asks for half-size frames (host scaling) and
// for a keyframe.
func TestSessionMonitorsScaleRefresh(t *testing.T) {
	// Left half red, right half blue, with a white square in each.
	m := image.NewRGBA(image.Rect(0, 0, 320, 120))
	for y := range 120 {
		for x := range 320 {
			c := color.RGBA{200, 0, 0, 255}
			if x >= 160 {
				c = color.RGBA{0, 0, 200, 255}
			}
			if (x%160) >= 20 && (x%160) < 60 && y >= 20 && y < 60 {
				c = color.RGBA{255, 255, 255, 255}
			}
			m.Set(x, y, c)
		}
	}
	screen := &agenttest.Screen{
		Frames: []codec.Frame{codec.FrameFromRGBA(m)},
		Monitors: []proto.Monitor{
			{ID: 7, X: 0, Y: 0, Width: 160, Height: 120, Name: "left"},
			{ID: 9, X: 160, Y: 0, Width: 160, Height: 120, Primary: true, Name: "right"},
		},
	}
	hch, vch := pipePair(t)
	s := agent.NewSession(hch, agent.SessionConfig{
		Desktop: agent.Desktop{Screen: screen, Prompter: &agenttest.Prompter{Grant: proto.PermView}},
		Mode:    proto.ModeSupport, MaxFPS: 30,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	v := newTestViewer(t, vch)
	go v.run(ctx)
	defer func() { cancel(); <-done; vch.Close(context.Background(), proto.CloseNormal) }()

	// fbIs waits until the viewer's framebuffer is w×h and its top left
	// pixel has red value r.
	fbIs := func(what string, w, h int, r uint8) {
		t.Helper()
		waitFor(t, 10*time.Second, what, func() bool {
			v.mu.Lock()
			defer v.mu.Unlock()
			return v.fb != nil && v.fb.Rect.Dx() == w && v.fb.Rect.Dy() == h && v.fb.Pix[0] == r
		})
	}
	fbIs("the primary (right, blue) monitor", 160, 120, 0)
	v.mu.Lock()
	if l := v.layout; l.Selected != 9 || len(l.Monitors) != 2 {
		t.Errorf("layout %+v, want 2 monitors with the primary (9) selected", l)
	}
	v.mu.Unlock()

	v.send(ctx, &proto.MonitorChoice{ID: 7}, true)
	fbIs("the left (red) monitor", 160, 120, 200)
	v.send(ctx, &proto.MonitorChoice{ID: 0}, true)
	fbIs("all monitors", 320, 120, 200)

	v.send(ctx, &proto.Quality{Mode: proto.QualityLossless, ScalePercent: 50}, true)
	fbIs("half-size frames", 160, 60, 200)

	v.mu.Lock()
	keys := v.keyframes
	v.mu.Unlock()
	v.send(ctx, &proto.Refresh{Reason: proto.RefreshRequested}, true)
	waitFor(t, 10*time.Second, "a keyframe after Refresh", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.keyframes > keys
	})
}
