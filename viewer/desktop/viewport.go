package desktop

import (
	"math"

	"fyne.io/fyne/v2"
)

// viewport places the host's framebuffer in the screen widget and maps
// pointer positions back to framebuffer pixels. Sizes and positions of
// the widget are in Fyne units; pixScale is the canvas's device pixels per
// unit. It is a value: pure arithmetic, tested without a display.
type viewport struct {
	mode     ScaleMode
	fbW, fbH int     // framebuffer pixels; 0 before the first frame
	pixScale float32 // device pixels per Fyne unit; 0 means 1
}

func (v viewport) px() float64 {
	if v.pixScale <= 0 {
		return 1
	}
	return float64(v.pixScale)
}

// zoom returns device pixels per framebuffer pixel in a widget of size.
func (v viewport) zoom(size fyne.Size) float64 {
	if v.fbW <= 0 || v.fbH <= 0 {
		return 1
	}
	if v.mode == ScaleOne {
		return 1
	}
	px := v.px()
	z := math.Min(float64(size.Width)*px/float64(v.fbW), float64(size.Height)*px/float64(v.fbH))
	if z <= 0 || math.IsNaN(z) || math.IsInf(z, 0) {
		return 1
	}
	return z
}

// place returns the image's position and size in the widget, in units,
// on whole device pixels: centred, fitted (fit) or at its own size (1:1).
func (v viewport) place(size fyne.Size) (fyne.Position, fyne.Size) {
	if v.fbW <= 0 || v.fbH <= 0 {
		return fyne.Position{}, fyne.Size{}
	}
	px, z := v.px(), v.zoom(size)
	w := math.Round(float64(v.fbW) * z)
	h := math.Round(float64(v.fbH) * z)
	x := math.Max(0, math.Floor((float64(size.Width)*px-w)/2))
	y := math.Max(0, math.Floor((float64(size.Height)*px-h)/2))
	return fyne.NewPos(float32(x/px), float32(y/px)), fyne.NewSize(float32(w/px), float32(h/px))
}

// minSize is the widget's minimum: the image's size at 1:1 (so a scroll
// container scrolls), small when fitting.
func (v viewport) minSize() fyne.Size {
	if v.mode == ScaleOne && v.fbW > 0 && v.fbH > 0 {
		px := v.px()
		return fyne.NewSize(float32(float64(v.fbW)/px), float32(float64(v.fbH)/px))
	}
	return fyne.NewSize(160, 90)
}

// toFramebuffer maps a position in the widget to framebuffer pixels,
// clamped to the framebuffer; inside reports whether it was on the image.
func (v viewport) toFramebuffer(p fyne.Position, size fyne.Size) (x, y int, inside bool) {
	if v.fbW <= 0 || v.fbH <= 0 {
		return 0, 0, false
	}
	pos, sz := v.place(size)
	if sz.Width <= 0 || sz.Height <= 0 {
		return 0, 0, false
	}
	fx := float64(p.X-pos.X) / float64(sz.Width) * float64(v.fbW)
	fy := float64(p.Y-pos.Y) / float64(sz.Height) * float64(v.fbH)
	inside = fx >= 0 && fy >= 0 && fx < float64(v.fbW) && fy < float64(v.fbH)
	x = min(max(int(math.Floor(fx)), 0), v.fbW-1)
	y = min(max(int(math.Floor(fy)), 0), v.fbH-1)
	return x, y, inside
}

// fromFramebuffer maps framebuffer pixels to a position in the widget
// (the host's cursor).
func (v viewport) fromFramebuffer(x, y int, size fyne.Size) fyne.Position {
	pos, sz := v.place(size)
	if v.fbW <= 0 || v.fbH <= 0 {
		return pos
	}
	return fyne.NewPos(pos.X+float32(x)*sz.Width/float32(v.fbW), pos.Y+float32(y)*sz.Height/float32(v.fbH))
}
