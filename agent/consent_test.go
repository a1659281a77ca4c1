//go:build linux

package agent_test

import (
	"context"
	"image"
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
