package viewer

import (
	"context"
	"fmt"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// fuzzSession is a Session on a real channel whose host end only drains,
// for feeding the message handler arbitrary plaintexts.
func fuzzSession(t testing.TB) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hk, _ := proto.NewStaticPrivate(nil)
	vk, _ := proto.NewStaticPrivate(nil)
	code, _ := proto.NewSupportCode("1", nil)
	lim, err := proto.NewLimiter(proto.SupportPolicy, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sid := proto.NewSessionID()
	a, b := proto.Pipe()
	var (
		host    *proto.Channel
		hostErr error
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		host, hostErr = proto.AcceptHost(ctx, a, proto.HostConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "h", Static: hk, Code: code, Limiter: lim})
	}()
	ch, err := proto.DialViewer(ctx, b, proto.ViewerConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "h", Static: vk, Code: code})
	wg.Wait()
	if err != nil || hostErr != nil {
		t.Fatalf("handshake: %v, %v", err, hostErr)
	}
	go func() {
		for {
			if _, err := host.Recv(context.Background()); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		ch.Close(context.Background(), proto.CloseNormal)
		host.Close(context.Background(), proto.CloseNormal)
	})
	cfg := Config{Static: vk, MaxWidth: 1024, MaxHeight: 1024}.withDefaults()
	return &Session{
		cfg: cfg, log: cfg.Logger, epoch: cfg.Now(), ch: ch, in: newInputQueue(8), kick: make(chan struct{}, 1),
		pressed: map[proto.KeyCode]proto.Mods{}, dec: codec.NewDecoder(cfg.decoderOptions()),
		screen: proto.NewDefragmenter(proto.StreamScreen), clip: proto.NewDefragmenter(proto.StreamClipboard),
		cursorFrag: proto.NewDefragmenter(proto.StreamCursor), state: StateConsent,
		ev: Events{Frame: func(fb *image.RGBA, rects []codec.Rect) {
			for _, r := range rects {
				if !r.Image().In(fb.Rect) {
					panic(fmt.Sprintf("rect %v outside the framebuffer %v", r, fb.Rect))
				}
			}
		}},
	}
}

// FuzzHandle feeds the viewer's message handler arbitrary plaintexts (as
// a host that broke the protocol, or a bug, would): it must return errors,
// never panic, and report only rects inside the framebuffer.
func FuzzHandle(f *testing.F) {
	enc := codec.NewEncoder(codec.EncoderOptions{})
	img := codec.Frame{Pix: make([]byte, 64*48*4), Stride: 64 * 4, Width: 64, Height: 48, Format: codec.RGBA}
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	up, _ := enc.Encode(nil, img)
	shape := proto.CursorShape{ID: 1, Width: 2, Height: 2, Pix: make([]byte, 16)}
	sb, _ := shape.AppendBinary(nil)
	seeds := []proto.Msg{
		&proto.Hello{MinVersion: 1, MaxVersion: 1, Layout: proto.Layout{Selected: 1, Monitors: []proto.Monitor{{ID: 1, Width: 640, Height: 480}}}},
		&proto.Layout{Monitors: []proto.Monitor{{ID: 2, X: -10, Width: 10, Height: 10}}},
		&proto.Consent{Granted: proto.PermView | proto.PermControl},
		&proto.Fragment{Stream: proto.StreamScreen, Flags: proto.FragKeyframe, Total: uint32(len(up)), Data: up},
		&proto.Fragment{Stream: proto.StreamCursor, Total: uint32(len(sb)), Data: sb},
		&proto.Fragment{Stream: proto.StreamClipboard, Total: 2, Data: []byte("hi")},
		&proto.CursorCached{ID: 1},
		&proto.CursorPos{X: 5, Y: 6, Visible: true},
		&proto.ViewOnly{On: true},
		&proto.Ping{Time: 1},
		&proto.Pong{PingTime: 1},
		&proto.End{Reason: proto.EndConsentDenied},
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s := fuzzSession(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s.handle(context.Background(), b)
	})
}
