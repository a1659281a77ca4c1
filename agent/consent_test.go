//go:build linux

package agent_test

import (
	"context"
	"image"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/agenttest"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// heldPrompter records consent questions and answers each only when the
// test says so, as a person reading the window would.
type heldPrompter struct {
	agenttest.Prompter
	mu      sync.Mutex
	asked   []proto.Perms
	answers chan proto.Perms
}

func (p *heldPrompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	p.mu.Lock()
	p.asked = append(p.asked, want)
	p.mu.Unlock()
	select {
	case a := <-p.answers:
		return want & a, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *heldPrompter) questions() []proto.Perms {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proto.Perms(nil), p.asked...)
}

// TestSupportConsentAskedOnce: the viewer sends its Hello and what it
// wants together, as viewer.Session does. The person at the host gets one
// question, not a second window for the same request while the first is
// open, nor again after answering "view only"; a later request (the
// technician asks for control) is one new question.
func TestSupportConsentAskedOnce(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 64, 48))
	screen := &agenttest.Screen{Frames: []codec.Frame{codec.FrameFromRGBA(m)}}
	p := &heldPrompter{answers: make(chan proto.Perms)}
	hch, vch := pipePair(t)
	s := agent.NewSession(hch, agent.SessionConfig{
		Desktop: agent.Desktop{Screen: screen, Prompter: p},
		Mode:    proto.ModeSupport, MaxFPS: 30,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; vch.Close(context.Background(), proto.CloseNormal) }()
	go func() { // the viewer's side reads whatever comes
		for {
			if _, err := vch.Recv(ctx); err != nil {
				return
			}
		}
	}()
	send := func(m proto.Msg) {
		t.Helper()
		b, err := proto.Marshal(m)
		if err == nil {
			err = vch.Send(ctx, b, true)
		}
		if err != nil {
			t.Fatalf("send %T: %v", m, err)
		}
	}
	all := proto.PermView | proto.PermControl | proto.PermClipboard
	send(&proto.Hello{MinVersion: 1, MaxVersion: proto.MsgVersion, Caps: ^proto.Caps(0), Software: "test-viewer", User: "Tess"})
	send(&proto.ConsentRequest{Want: all})

	waitFor(t, 10*time.Second, "the consent question", func() bool { return len(p.questions()) > 0 })
	time.Sleep(300 * time.Millisecond) // time for a second window to (wrongly) open
	if q := p.questions(); len(q) != 1 {
		t.Fatalf("questions while the first is open: %v, want one", q)
	}
	p.answers <- proto.PermView // "View only"
	time.Sleep(300 * time.Millisecond)
	if q := p.questions(); len(q) != 1 {
		t.Fatalf("questions after the answer: %v, want the one answered", q)
	}

	send(&proto.ConsentRequest{Want: proto.PermControl})
	waitFor(t, 10*time.Second, "the question for control", func() bool { return len(p.questions()) == 2 })
	if q := p.questions(); q[1] != proto.PermControl {
		t.Errorf("second question for %v, want control", q[1])
	}
	p.answers <- proto.PermControl
}

// pointerRecorder is an Input that counts pointer moves.
type pointerRecorder struct {
	mu    sync.Mutex
	moves int
}

func (r *pointerRecorder) MovePointer(x, y int) error {
	r.mu.Lock()
	r.moves++
	r.mu.Unlock()
	return nil
}
func (r *pointerRecorder) Button(proto.Buttons, bool) error { return nil }
func (r *pointerRecorder) Wheel(int, int) error             { return nil }
func (r *pointerRecorder) Key(proto.KeyCode, bool) error    { return nil }
func (r *pointerRecorder) Type(string) error                { return nil }

func (r *pointerRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.moves
}

// TestSupportControlTakenBack: the person at the host takes back control
// through the indicator mid-session. The viewer is told (view only), its
// input is ignored from then on, the indicator says so and no longer
// offers it; the session goes on, and when the technician asks again and
// is granted control, input works again.
func TestSupportControlTakenBack(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 64, 48))
	screen := &agenttest.Screen{Frames: []codec.Frame{codec.FrameFromRGBA(m)}}
	all := proto.PermView | proto.PermControl | proto.PermClipboard
	p := &agenttest.Prompter{Grant: all}
	in := &pointerRecorder{}
	hch, vch := pipePair(t)
	s := agent.NewSession(hch, agent.SessionConfig{
		Desktop: agent.Desktop{Screen: screen, Input: in, Prompter: p},
		Mode:    proto.ModeSupport, MaxFPS: 30,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	v := newTestViewer(t, vch)
	go v.run(ctx)
	defer func() { cancel(); <-done; vch.Close(context.Background(), proto.CloseNormal) }()
	consent := func() proto.Perms { v.mu.Lock(); defer v.mu.Unlock(); return v.consent }

	waitFor(t, 10*time.Second, "control granted and offered back", func() bool {
		return consent() == all && p.Shown() != nil && p.Shown().Control()
	})
	v.send(ctx, &proto.Pointer{X: 5, Y: 5}, true)
	waitFor(t, 10*time.Second, "the pointer moved", func() bool { return in.count() == 1 })

	if !p.Withdraw() {
		t.Fatal("the indicator did not offer to take back control")
	}
	waitFor(t, 10*time.Second, "the viewer told it is view only", func() bool { return consent() == proto.PermView })
	ind := p.Shown()
	if ind.Control() {
		t.Error("the indicator still offers to take back control")
	}
	if txt := ind.Text(); !strings.Contains(txt, "can see this screen") || strings.Contains(txt, "control") {
		t.Errorf("indicator text %q, want it to say the technician can only see", txt)
	}
	v.send(ctx, &proto.Pointer{X: 9, Y: 9}, true)
	// Asked after the move, answered after the move was handled: the
	// answer shows the move was ignored.
	v.send(ctx, &proto.ConsentRequest{Want: proto.PermControl}, true)
	waitFor(t, 10*time.Second, "control granted again", func() bool { return consent()&proto.PermControl != 0 })
	if n := in.count(); n != 1 {
		t.Fatalf("%d pointer moves injected, want 1: input got through while view only", n)
	}
	if !ind.Control() {
		t.Error("the indicator does not offer to take back control once granted again")
	}
	v.send(ctx, &proto.Pointer{X: 12, Y: 12}, true)
	waitFor(t, 10*time.Second, "the pointer moved again", func() bool { return in.count() == 2 })
	select {
	case err := <-done:
		t.Fatalf("the session ended: %v", err)
	default:
	}
}
