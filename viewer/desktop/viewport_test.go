package desktop

import (
	"testing"

	"fyne.io/fyne/v2"
)

func TestViewportPlace(t *testing.T) {
	tests := []struct {
		name     string
		vp       viewport
		size     fyne.Size
		pos      fyne.Position
		sz       fyne.Size
		zoom     float64
		mipLevel int
	}{
		{"fit, wider window: pillar boxes", viewport{ScaleFit, 1280, 720, 1}, fyne.NewSize(1000, 400),
			fyne.NewPos(144, 0), fyne.NewSize(711, 400), 400.0 / 720, 0},
		{"fit, taller window: letter boxes", viewport{ScaleFit, 1280, 720, 1}, fyne.NewSize(640, 600),
			fyne.NewPos(0, 120), fyne.NewSize(640, 360), 0.5, 0},
		{"fit scales up too", viewport{ScaleFit, 320, 200, 1}, fyne.NewSize(640, 400),
			fyne.NewPos(0, 0), fyne.NewSize(640, 400), 2, 0},
		{"fit on a 2x canvas: whole device pixels", viewport{ScaleFit, 1920, 1080, 2}, fyne.NewSize(800, 450),
			fyne.NewPos(0, 0), fyne.NewSize(800, 450), 1600.0 / 1920, 0},
		{"fit to a quarter needs halving", viewport{ScaleFit, 1920, 1080, 1}, fyne.NewSize(480, 270),
			fyne.NewPos(0, 0), fyne.NewSize(480, 270), 0.25, 2},
		{"1:1 larger than the window", viewport{ScaleOne, 1920, 1080, 1}, fyne.NewSize(800, 600),
			fyne.NewPos(0, 0), fyne.NewSize(1920, 1080), 1, 0},
		{"1:1 smaller: centred", viewport{ScaleOne, 640, 400, 1}, fyne.NewSize(800, 600),
			fyne.NewPos(80, 100), fyne.NewSize(640, 400), 1, 0},
		{"1:1 on a 2x canvas", viewport{ScaleOne, 640, 400, 2}, fyne.NewSize(320, 200),
			fyne.NewPos(0, 0), fyne.NewSize(320, 200), 1, 0},
		{"no frame yet", viewport{ScaleFit, 0, 0, 1}, fyne.NewSize(800, 600),
			fyne.Position{}, fyne.Size{}, 1, 0},
	}
	for _, tt := range tests {
		pos, sz := tt.vp.place(tt.size)
		if pos != tt.pos || sz != tt.sz {
			t.Errorf("%s: place(%v) = %v %v, want %v %v", tt.name, tt.size, pos, sz, tt.pos, tt.sz)
		}
		if z := tt.vp.zoom(tt.size); z != tt.zoom {
			t.Errorf("%s: zoom = %v, want %v", tt.name, z, tt.zoom)
		}
		if l := mipLevel(tt.vp.zoom(tt.size)); tt.vp.mode == ScaleFit && l != tt.mipLevel {
			t.Errorf("%s: mipLevel = %d, want %d", tt.name, l, tt.mipLevel)
		}
	}
}

func TestViewportToFramebuffer(t *testing.T) {
	vp := viewport{ScaleFit, 1280, 720, 1}
	size := fyne.NewSize(1000, 400) // image at x 144..855, scale 400/720
	tests := []struct {
		p      fyne.Position
		x, y   int
		inside bool
	}{
		{fyne.NewPos(144, 0), 0, 0, true},
		{fyne.NewPos(144+355.5, 200), 640, 360, true},
		{fyne.NewPos(854.9, 399.9), 1279, 719, true},
		{fyne.NewPos(10, 200), 0, 360, false},  // left pillar box: clamped
		{fyne.NewPos(990, -5), 1279, 0, false}, // outside: clamped
		{fyne.NewPos(855.5, 100), 1279, 180, false},
	}
	for _, tt := range tests {
		x, y, in := vp.toFramebuffer(tt.p, size)
		if x != tt.x || y != tt.y || in != tt.inside {
			t.Errorf("toFramebuffer(%v) = %d, %d, %v; want %d, %d, %v", tt.p, x, y, in, tt.x, tt.y, tt.inside)
		}
	}
	// And back: the host's cursor at a framebuffer pixel lands where a
	// click there would have come from.
	for _, fb := range [][2]int{{0, 0}, {640, 360}, {1000, 700}} {
		p := vp.fromFramebuffer(fb[0], fb[1], size)
		if x, y, _ := vp.toFramebuffer(p.Add(fyne.NewPos(0.01, 0.01)), size); x != fb[0] || y != fb[1] {
			t.Errorf("toFramebuffer(fromFramebuffer(%v)) = %d, %d", fb, x, y)
		}
	}
}
