//go:build linux || windows || darwin || freebsd

package platform

import (
	"fmt"
	"image"
	"sync"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
	"github.com/kbinani/screenshot"
)

// LibCapturer captures through github.com/kbinani/screenshot: every
// platform the library supports, a new RGBA image per capture, no change
// tracking (every capture reports the whole area as changed). On X11 it reads the display named by the
// DISPLAY environment variable.
//
// A LibCapturer is safe for concurrent use.
type LibCapturer struct {
	mu sync.Mutex // serialises the library, which opens a connection per call
}

// NewLibCapturer returns the library capturer.
func NewLibCapturer() *LibCapturer { return &LibCapturer{} }

// Displays lists the active displays; the first is the primary. IDs are
// the library's display indexes plus one.
func (c *LibCapturer) Displays() ([]proto.Monitor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := screenshot.NumActiveDisplays()
	if n <= 0 {
		return nil, fmt.Errorf("platform: capture: %w (the library found no active display)", ErrNoDisplay)
	}
	ds := make([]proto.Monitor, 0, n)
	for i := range n {
		b := screenshot.GetDisplayBounds(i)
		if b.Empty() {
			continue
		}
		ds = append(ds, monitor(uint32(i+1), b, i == 0, fmt.Sprintf("display %d", i+1)))
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("platform: capture: %w (every display is empty)", ErrNoDisplay)
	}
	return ds, nil
}

// Capture reads area (virtual desktop coordinates) into f, replacing its
// pixels with an RGBA buffer, and reports the whole area as changed.
func (c *LibCapturer) Capture(area image.Rectangle, f *codec.Frame) ([]image.Rectangle, error) {
	if area.Empty() {
		return nil, fmt.Errorf("platform: capture: empty area %v", area)
	}
	c.mu.Lock()
	m, err := screenshot.CaptureRect(area)
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("platform: capture %v: %w", area, err)
	}
	*f = codec.Frame{Pix: m.Pix, Stride: m.Stride, Width: m.Rect.Dx(), Height: m.Rect.Dy(), Format: codec.RGBA}
	return whole(area), nil
}

// Close does nothing: the library keeps no connection.
func (c *LibCapturer) Close() error { return nil }
