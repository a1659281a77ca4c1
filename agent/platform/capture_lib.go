//go:build linux || windows || darwin || freebsd

package platform

import (
	"fmt"
	"image"
	"sync"

	"github.com/kbinani/screenshot"
)

// LibCapturer captures through github.com/kbinani/screenshot: every
// platform the library supports, a new RGBA image per capture, no change
// tracking (every Damage is All). On X11 it reads the display named by the
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
func (c *LibCapturer) Displays() ([]Display, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := screenshot.NumActiveDisplays()
	if n <= 0 {
		return nil, fmt.Errorf("platform: capture: %w (the library found no active display)", ErrNoDisplay)
	}
	ds := make([]Display, 0, n)
	for i := range n {
		b := screenshot.GetDisplayBounds(i)
		if b.Empty() {
			continue
		}
		ds = append(ds, Display{ID: uint32(i + 1), Bounds: b, Primary: i == 0, Name: fmt.Sprintf("display %d", i+1)})
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("platform: capture: %w (every display is empty)", ErrNoDisplay)
	}
	return ds, nil
}

// Capture reads area (virtual desktop coordinates) into img, replacing its
// pixels with an RGBA buffer. The damage is always All.
func (c *LibCapturer) Capture(area image.Rectangle, img *Image) (Damage, error) {
	if area.Empty() {
		return Damage{}, fmt.Errorf("platform: capture: empty area %v", area)
	}
	c.mu.Lock()
	m, err := screenshot.CaptureRect(area)
	c.mu.Unlock()
	if err != nil {
		return Damage{}, fmt.Errorf("platform: capture %v: %w", area, err)
	}
	*img = Image{Pix: m.Pix, Stride: m.Stride, Width: m.Rect.Dx(), Height: m.Rect.Dy(), Format: RGBA}
	return Damage{All: true}, nil
}

// Close does nothing: the library keeps no connection.
func (c *LibCapturer) Close() error { return nil }
