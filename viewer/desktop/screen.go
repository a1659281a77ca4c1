package desktop

import (
	"image"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// screenInput receives what the screen widget captures. Nil fields drop
// the event.
type screenInput struct {
	Pointer     func(x, y int, b proto.Buttons) // framebuffer pixels
	Wheel       func(dx, dy int)                // Wheel units
	Key         func(ev proto.KeyEvent)
	FocusGained func()
	FocusLost   func() // release every held key and button on the host
	// Hotkey decides whether a press belongs to the viewer (true) rather
	// than the host; see keyboard.hotkey.
	Hotkey func(name fyne.KeyName, mods proto.Mods) bool
}

// renderFigures are the screen's painting figures since the last take.
type renderFigures struct {
	Updates int           // frames handed over
	Handoff time.Duration // copying changed rects (Fyne's goroutine)
	Paints  int           // textures made from the image
	Paint   time.Duration // from the texture's making to the end of that paint
	// Handover is the mean Frame callback (queueing onto Fyne's
	// goroutine, waiting for it, the copy), part of the core's decode
	// time; the session window fills it in.
	Handover time.Duration
}

// maxMipLevel bounds the halvings kept for strong downscaling (1/8).
const maxMipLevel = 3

// screen shows the host's screen and captures keyboard and mouse for it.
// Owned by Fyne's goroutine: every method runs there.
type screen struct {
	widget.BaseWidget

	in     screenInput
	vp     viewport
	raster *canvas.Raster
	bg     *canvas.Rectangle
	curImg *canvas.Image // the host's cursor, when the local one does not show it

	// mips[0] is the host's screen as last handed over; mips[n] is it
	// halved n times (box filter), kept up to date by changed rects only
	// while fit mode shrinks the image enough to need it.
	mips  [maxMipLevel + 1]*image.RGBA
	level int

	kb      *keyboard
	keyBuf  []proto.KeyEvent
	buttons proto.Buttons
	hover   bool
	control bool // input goes to the host: show the host's cursor locally

	cursor     *hostCursor
	curX, curY int
	curVisible bool

	fig      renderFigures
	painting bool      // a texture was made and its paint is being timed
	madeAt   time.Time // when the last texture was made
	onPaint  func(time.Duration)
}

// hostCursor is the host's cursor shape as Fyne's custom cursor.
type hostCursor struct{ c *viewer.Cursor }

func (h *hostCursor) Image() (image.Image, int, int) { return h.c.Image, h.c.HotX, h.c.HotY }

func newScreen(in screenInput, mode ScaleMode) *screen {
	s := &screen{in: in, kb: newKeyboard(), bg: canvas.NewRectangle(image.Black.C)}
	s.vp.mode = mode
	s.kb.hotkey = in.Hotkey
	s.raster = canvas.NewRaster(s.generate)
	s.raster.ScaleMode = scaleFilter(mode)
	s.curImg = canvas.NewImageFromImage(nil)
	s.curImg.ScaleMode = canvas.ImageScalePixels
	s.curImg.Hide()
	s.ExtendBaseWidget(s)
	return s
}

func scaleFilter(m ScaleMode) canvas.ImageScale {
	if m == ScaleOne {
		return canvas.ImageScalePixels
	}
	return canvas.ImageScaleSmooth // linear filtering on the GPU
}

// generate hands Fyne the image to make the raster's texture from: no
// copy, no scaling on the CPU (the GPU scales the texture).
func (s *screen) generate(w, h int) image.Image {
	img := s.mips[s.level]
	if img == nil {
		img = s.mips[0]
	}
	if img == nil {
		return image.NewRGBA(image.Rect(0, 0, 1, 1))
	}
	if s.onPaint != nil && !s.painting {
		s.painting, s.madeAt = true, time.Now()
		go uiDoAndWait(s.painted) // runs when the current paint is done
	}
	return img
}

func (s *screen) painted() {
	d := time.Since(s.madeAt)
	s.painting = false
	s.fig.Paints++
	s.fig.Paint += d
	if s.onPaint != nil {
		s.onPaint(d)
	}
}

// takeFigures returns the figures since the last call and resets them.
func (s *screen) takeFigures() renderFigures {
	f := s.fig
	s.fig = renderFigures{}
	return f
}

// setMode switches between fit and 1:1.
func (s *screen) setMode(m ScaleMode) {
	s.vp.mode = m
	s.raster.ScaleMode = scaleFilter(m)
	s.Refresh()
}

// update copies the changed rects of the core's framebuffer into the
// image Fyne paints (all of it when the size changed) and asks for a
// paint. fb is only read during the call.
func (s *screen) update(fb *image.RGBA, rects []viewer.Rect) {
	t0 := time.Now()
	b := fb.Rect
	if s.mips[0] == nil || s.mips[0].Rect.Size() != b.Size() {
		img := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		copyRect(img, fb, img.Rect)
		s.mips = [maxMipLevel + 1]*image.RGBA{img}
		s.vp.fbW, s.vp.fbH = b.Dx(), b.Dy()
		s.level = 0
		s.Refresh() // new size: lay out again (fit, min size at 1:1)
	} else {
		for _, r := range rects {
			copyRect(s.mips[0], fb, r.Image())
			for l := 1; l <= s.level; l++ {
				halveRect(s.mips[l], s.mips[l-1], r.Image())
			}
		}
	}
	s.fig.Updates++
	s.fig.Handoff += time.Since(t0)
	s.raster.Refresh()
}

// copyRect copies r (clipped) from src to dst, two images of the same
// size with origins at (0, 0) and (src.Rect.Min).
func copyRect(dst, src *image.RGBA, r image.Rectangle) {
	r = r.Intersect(dst.Rect)
	if r.Empty() {
		return
	}
	n := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		d := dst.PixOffset(r.Min.X, y)
		o := src.PixOffset(src.Rect.Min.X+r.Min.X, src.Rect.Min.Y+y)
		copy(dst.Pix[d:d+n], src.Pix[o:o+n])
	}
}

// halveRect updates the pixels of dst (src halved, box filter) that the
// change r of src touches.
func halveRect(dst, src *image.RGBA, r image.Rectangle) {
	r = image.Rect(r.Min.X/2, r.Min.Y/2, (r.Max.X+1)/2, (r.Max.Y+1)/2).Intersect(dst.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		s0 := src.PixOffset(2*r.Min.X, 2*y)
		s1 := s0 + src.Stride
		if 2*y+1 >= src.Rect.Max.Y {
			s1 = s0
		}
		d := dst.PixOffset(r.Min.X, y)
		for x := r.Min.X; x < r.Max.X; x++ {
			step := 4
			if 2*x+1 >= src.Rect.Max.X {
				step = 0
			}
			for c := range 4 {
				sum := uint(src.Pix[s0+c]) + uint(src.Pix[s0+step+c]) + uint(src.Pix[s1+c]) + uint(src.Pix[s1+step+c])
				dst.Pix[d+c] = uint8((sum + 2) / 4)
			}
			s0, s1, d = s0+8, s1+8, d+4
		}
	}
}

// mipLevel is how many halvings to hand Fyne at zoom z: the GPU's linear
// filter reads only 2x2 source pixels, so below 1/2 it would skip pixels
// (text flickers); halving first keeps every pixel's share.
func mipLevel(z float64) int {
	if z >= 0.5 || z <= 0 {
		return 0
	}
	return min(int(math.Floor(math.Log2(1/z))), maxMipLevel)
}

// setLevel builds the halvings up to level l.
func (s *screen) setLevel(l int) {
	if s.mips[0] == nil {
		l = 0
	}
	for i := 1; i <= l; i++ {
		src := s.mips[i-1]
		if s.mips[i] == nil {
			s.mips[i] = image.NewRGBA(image.Rect(0, 0, (src.Rect.Dx()+1)/2, (src.Rect.Dy()+1)/2))
			halveRect(s.mips[i], src, src.Rect)
		}
	}
	for i := l + 1; i <= maxMipLevel; i++ {
		s.mips[i] = nil // not kept current any more
	}
	if s.level != l {
		s.level = l
		s.raster.Refresh()
	}
}

// setCursor sets the host's cursor shape.
func (s *screen) setCursor(c *viewer.Cursor) {
	s.cursor = &hostCursor{c}
	s.curImg.Image = c.Image
	s.curImg.Refresh()
	s.placeCursor()
}

// setCursorPos moves the host's cursor (framebuffer pixels).
func (s *screen) setCursorPos(x, y int, visible bool) {
	s.curX, s.curY, s.curVisible = x, y, visible
	s.placeCursor()
}

// setControl says whether input goes to the host (the local pointer then
// shows the host's cursor shape instead of the overlay).
func (s *screen) setControl(on bool) {
	s.control = on
	s.placeCursor()
}

func (s *screen) placeCursor() {
	if s.cursor == nil || !s.curVisible || (s.hover && s.control) {
		if s.curImg.Visible() {
			s.curImg.Hide() // every Hide repaints the window: only on a change
		}
		return
	}
	size := s.Size()
	z := s.vp.zoom(size) / s.vp.px()
	b := s.cursor.c.Image.Bounds()
	p := s.vp.fromFramebuffer(s.curX, s.curY, size)
	pos := fyne.NewPos(p.X-float32(float64(s.cursor.c.HotX)*z), p.Y-float32(float64(s.cursor.c.HotY)*z))
	sz := fyne.NewSize(float32(float64(b.Dx())*z), float32(float64(b.Dy())*z))
	if pos != s.curImg.Position() {
		s.curImg.Move(pos)
	}
	if sz != s.curImg.Size() {
		s.curImg.Resize(sz)
	}
	if !s.curImg.Visible() {
		s.curImg.Show()
	}
}

// Cursor implements desktop.Cursorable: the host's cursor while
// controlling it.
func (s *screen) Cursor() desktop.Cursor {
	switch {
	case !s.control || s.cursor == nil:
		return desktop.DefaultCursor
	case !s.curVisible:
		return desktop.HiddenCursor
	}
	return s.cursor
}

// CreateRenderer implements fyne.Widget.
func (s *screen) CreateRenderer() fyne.WidgetRenderer { return &screenRenderer{s} }

// MinSize implements fyne.CanvasObject.
func (s *screen) MinSize() fyne.Size {
	s.ExtendBaseWidget(s)
	return s.vp.minSize()
}

type screenRenderer struct{ s *screen }

func (r *screenRenderer) Layout(size fyne.Size) {
	s := r.s
	if c := fyne.CurrentApp().Driver().CanvasForObject(s); c != nil {
		s.vp.pixScale = c.Scale()
	}
	s.bg.Resize(size)
	pos, sz := s.vp.place(size)
	s.raster.Move(pos)
	s.raster.Resize(sz)
	if s.vp.mode == ScaleFit {
		s.setLevel(mipLevel(s.vp.zoom(size)))
	} else {
		s.setLevel(0)
	}
	s.placeCursor()
}

func (r *screenRenderer) MinSize() fyne.Size { return r.s.vp.minSize() }

func (r *screenRenderer) Refresh() {
	r.Layout(r.s.Size())
	canvas.Refresh(r.s.raster)
}

func (r *screenRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.s.bg, r.s.raster, r.s.curImg}
}

func (r *screenRenderer) Destroy() {}

// Keyboard: fyne.Focusable, desktop.Keyable, fyne.Tabbable,
// fyne.Shortcutable.

func (s *screen) FocusGained() {
	if s.in.FocusGained != nil {
		s.in.FocusGained()
	}
}

func (s *screen) FocusLost() {
	s.sendKeys(s.kb.flush(s.keyBuf[:0]))
	s.kb.reset()
	s.buttons = 0
	if s.in.FocusLost != nil {
		s.in.FocusLost()
	}
}

func (s *screen) KeyDown(ev *fyne.KeyEvent)  { s.sendKeys(s.kb.down(ev, s.keyBuf[:0])) }
func (s *screen) KeyUp(ev *fyne.KeyEvent)    { s.sendKeys(s.kb.up(ev, s.keyBuf[:0])) }
func (s *screen) TypedKey(ev *fyne.KeyEvent) { s.sendKeys(s.kb.typedKey(ev, s.keyBuf[:0])) }
func (s *screen) TypedRune(r rune)           { s.sendKeys(s.kb.typedRune(r, s.keyBuf[:0])) }

// AcceptsTab keeps Tab for the host instead of moving the focus.
func (s *screen) AcceptsTab() bool { return true }

// TypedShortcut keeps Fyne's shortcuts (Ctrl+C…) from the viewer: their
// keys went to the host with KeyDown already; Fyne calls it again for
// each auto-repeat while a modifier is held.
func (s *screen) TypedShortcut(sc fyne.Shortcut) {
	if ks, ok := sc.(fyne.KeyboardShortcut); ok {
		s.sendKeys(s.kb.typedKey(&fyne.KeyEvent{Name: ks.Key()}, s.keyBuf[:0]))
	}
}

func (s *screen) sendKeys(evs []proto.KeyEvent) {
	s.keyBuf = evs[:0]
	if s.in.Key == nil {
		return
	}
	for _, e := range evs {
		s.in.Key(e)
	}
}

// Mouse: desktop.Mouseable, desktop.Hoverable, fyne.Scrollable.

func (s *screen) MouseDown(ev *desktop.MouseEvent) {
	if c := fyne.CurrentApp().Driver().CanvasForObject(s); c != nil && c.Focused() != s {
		c.Focus(s)
	}
	s.sendKeys(s.kb.flush(s.keyBuf[:0]))
	s.buttons |= buttonOf(ev.Button)
	s.pointer(ev.Position)
}

func (s *screen) MouseUp(ev *desktop.MouseEvent) {
	s.buttons &^= buttonOf(ev.Button)
	s.pointer(ev.Position)
}

func (s *screen) MouseIn(ev *desktop.MouseEvent) {
	s.hover = true
	s.placeCursor()
	s.pointer(ev.Position)
}

func (s *screen) MouseMoved(ev *desktop.MouseEvent) { s.pointer(ev.Position) }

func (s *screen) MouseOut() {
	s.hover = false
	s.placeCursor()
}

func (s *screen) Scrolled(ev *fyne.ScrollEvent) {
	if s.in.Wheel == nil {
		return
	}
	dx, dy := wheelOf(ev.Scrolled)
	s.in.Wheel(dx, dy)
}

func (s *screen) pointer(p fyne.Position) {
	if s.in.Pointer == nil || s.vp.fbW == 0 {
		return
	}
	x, y, _ := s.vp.toFramebuffer(p, s.Size())
	s.in.Pointer(x, y, s.buttons)
}
