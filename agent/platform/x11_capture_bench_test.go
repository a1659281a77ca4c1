//go:build linux

package platform

import (
	"image"
	"testing"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
)

// BenchmarkCapture1080p compares the library path with the X11 fast path
// on a 1920x1080 Xvfb: a full read (what the library always does, and the
// fast path on its first capture), an idle desktop (the fast path reads
// nothing) and a desktop where one 200x100 window redraws each frame.
//
//	go test -run '^$' -bench Capture1080p -benchtime 100x ./agent/platform/
func BenchmarkCapture1080p(b *testing.B) {
	d := testbed.Xvfb(b, 1920, 1080)
	b.Setenv("DISPLAY", d.Name)
	x := newXClient(b, d)
	win := x.window(image.Rect(300, 300, 500, 400), 0x102030, 0)
	area := image.Rect(0, 0, 1920, 1080)
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
		b.SetBytes(4 * 1920 * 1080)
	}

	b.Run("library", func(b *testing.B) {
		c := NewLibCapturer()
		var img codec.Frame
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Capture(area, &img); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	fast := func(b *testing.B, before func(i int), full bool) {
		c, err := NewX11Capturer(d.Name)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		var img codec.Frame
		if _, err := c.Capture(area, &img); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if before != nil {
				before(i)
			}
			if full {
				c.Invalidate()
			}
			if _, err := c.Capture(area, &img); err != nil {
				b.Fatal(err)
			}
			i++
		}
		report(b)
	}
	b.Run("x11-full", func(b *testing.B) { fast(b, nil, true) })
	b.Run("x11-idle", func(b *testing.B) { fast(b, nil, false) })
	b.Run("x11-window-redraw", func(b *testing.B) {
		fast(b, func(i int) { x.fill(win, uint32(i*0x010203)&0xffffff, image.Rect(0, 0, 200, 100)) }, false)
	})
}
