// Package agenttest has fakes of the agent's desktop interfaces for tests
// and benchmarks that isolate the session logic from a real desktop: a
// screen that plays back frames, an input recorder, a scripted prompter.
package agenttest

import (
	"context"
	"errors"
	"image"
	"sync"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// Screen shows Frames in turn on its virtual desktop: each Capture copies
// the next frame (cycling) and reports the whole area changed. All frames
// must have the size of the first. Monitors lists the monitors on it; nil
// means one primary monitor the size of the frames. Safe for concurrent
// use.
type Screen struct {
	Frames   []codec.Frame
	Monitors []proto.Monitor

	mu   sync.Mutex
	next int
}

// Displays reports one primary monitor the size of the frames.
func (s *Screen) Displays() ([]proto.Monitor, error) {
	if len(s.Frames) == 0 {
		return nil, errors.New("agenttest: screen has no frames")
	}
	if s.Monitors != nil {
		return s.Monitors, nil
	}
	f := s.Frames[0]
	return []proto.Monitor{{ID: 1, Width: uint16(f.Width), Height: uint16(f.Height), Primary: true, Name: "fake"}}, nil
}

// Capture copies the next frame's area into f.
func (s *Screen) Capture(area image.Rectangle, f *codec.Frame) ([]image.Rectangle, error) {
	s.mu.Lock()
	src := s.Frames[s.next%len(s.Frames)]
	s.next++
	s.mu.Unlock()
	if !area.In(image.Rect(0, 0, src.Width, src.Height)) {
		return nil, errors.New("agenttest: area outside the screen")
	}
	w, h := area.Dx(), area.Dy()
	if cap(f.Pix) < 4*w*h {
		f.Pix = make([]byte, 4*w*h)
	}
	f.Pix, f.Stride, f.Width, f.Height, f.Format = f.Pix[:4*w*h], 4*w, w, h, src.Format
	for y := 0; y < h; y++ {
		off := (area.Min.Y+y)*src.Stride + 4*area.Min.X
		copy(f.Pix[y*4*w:(y+1)*4*w], src.Pix[off:off+4*w])
	}
	return []image.Rectangle{image.Rect(0, 0, w, h)}, nil
}

// Prompter grants Grant to every consent request and shows an indicator
// that ends when End is called and takes back control when Withdraw is.
type Prompter struct {
	Grant proto.Perms

	mu   sync.Mutex
	inds []*Indicator
}

// Consent grants want & Grant.
func (p *Prompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	return want & p.Grant, nil
}

// ShowIndicator returns an Indicator the test can end.
func (p *Prompter) ShowIndicator(text string) (interface {
	SetText(string)
	Ended() <-chan struct{}
	Close() error
}, error) {
	ind := &Indicator{ended: make(chan struct{}), withdrawn: make(chan struct{}, 1)}
	ind.SetText(text)
	p.mu.Lock()
	p.inds = append(p.inds, ind)
	p.mu.Unlock()
	return ind, nil
}

// End ends the session as the person at the host would, by the last
// indicator shown.
func (p *Prompter) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.inds); n > 0 {
		p.inds[n-1].once.Do(func() { close(p.inds[n-1].ended) })
	}
}

// Shown returns the last indicator shown, or nil.
func (p *Prompter) Shown() *Indicator {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.inds); n > 0 {
		return p.inds[n-1]
	}
	return nil
}

// Withdraw takes back control as the person at the host would, by the
// last indicator shown. It reports false when that indicator does not
// offer it (control is not granted).
func (p *Prompter) Withdraw() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.inds); n > 0 {
		return p.inds[n-1].withdraw()
	}
	return false
}

// Indicator records its text and whether it offers to take back control.
type Indicator struct {
	mu        sync.Mutex
	text      string
	control   bool
	closed    bool
	ended     chan struct{}
	once      sync.Once
	withdrawn chan struct{}
}

func (i *Indicator) SetText(s string) { i.mu.Lock(); i.text = s; i.mu.Unlock() }

// SetControl records whether the indicator offers to take back control.
func (i *Indicator) SetControl(on bool) { i.mu.Lock(); i.control = on; i.mu.Unlock() }

// Control reports whether the indicator offers to take back control.
func (i *Indicator) Control() bool { i.mu.Lock(); defer i.mu.Unlock(); return i.control }

// Withdrawn delivers a value each time Withdraw is used.
func (i *Indicator) Withdrawn() <-chan struct{} { return i.withdrawn }

func (i *Indicator) withdraw() bool {
	if !i.Control() {
		return false
	}
	select {
	case i.withdrawn <- struct{}{}:
	default:
	}
	return true
}

// Text returns the current text.
func (i *Indicator) Text() string           { i.mu.Lock(); defer i.mu.Unlock(); return i.text }
func (i *Indicator) Ended() <-chan struct{} { return i.ended }
func (i *Indicator) Close() error           { i.mu.Lock(); i.closed = true; i.mu.Unlock(); return nil }
