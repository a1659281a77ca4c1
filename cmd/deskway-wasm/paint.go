//go:build js && wasm

package main

import (
	"image"
	"syscall/js"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/viewer"
)

// spanGap is how far apart two changed byte ranges may be and still be
// copied into JS as one: 64 KiB costs about as much as a call.
const spanGap = 64 << 10

// painter draws the session's framebuffer on a <canvas>: a persistent
// ImageData of the screen's size over a JS Uint8ClampedArray; each frame
// copies the changed bytes into it (one CopyBytesToJS per band of rows)
// and paints only the changed rects (putImageData's dirty rectangle).
// It runs on the session's event goroutine only.
type painter struct {
	screen, ctx  js.Value // the <canvas> and its 2D context
	cursor, cctx js.Value // the cursor's <canvas> (may be null)
	on           js.Value // the page's callbacks (may be null)
	w, h         int
	data         js.Value // Uint8ClampedArray, w·h·4 bytes
	img          js.Value // ImageData over data
	spans        []span
}

func newPainter(screen, cursor, on js.Value) *painter {
	p := &painter{screen: screen, cursor: cursor, on: on}
	opts := object(map[string]any{"alpha": false, "desynchronized": true})
	p.ctx = screen.Call("getContext", "2d", opts)
	if cursor.Truthy() {
		p.cctx = cursor.Call("getContext", "2d")
	}
	return p
}

func (p *painter) resize(w, h int) {
	p.w, p.h = w, h
	p.screen.Set("width", w)
	p.screen.Set("height", h)
	p.data = js.Global().Get("Uint8ClampedArray").New(w * h * 4)
	p.img = js.Global().Get("ImageData").New(p.data, w, h)
	call(p.on, "resize", w, h)
}

// frame is viewer.Events.Frame.
func (p *painter) frame(fb *image.RGBA, rects []codec.Rect) {
	w, h := fb.Rect.Dx(), fb.Rect.Dy()
	if w != p.w || h != p.h {
		p.resize(w, h)
	}
	p.spans = copySpans(p.spans[:0], rects, fb.Stride, spanGap)
	for _, s := range p.spans {
		js.CopyBytesToJS(p.data.Call("subarray", s.lo, s.hi), fb.Pix[s.lo:s.hi])
	}
	for _, r := range rects {
		p.ctx.Call("putImageData", p.img, 0, 0, r.X, r.Y, r.W, r.H)
	}
}

// setCursor is viewer.Events.Cursor: it draws the shape on the cursor's
// canvas and tells the page its size and hotspot.
func (p *painter) setCursor(c *viewer.Cursor) {
	if !p.cctx.Truthy() {
		return
	}
	w, h := c.Image.Rect.Dx(), c.Image.Rect.Dy()
	p.cursor.Set("width", w)
	p.cursor.Set("height", h)
	data := js.Global().Get("Uint8ClampedArray").New(len(c.Image.Pix))
	js.CopyBytesToJS(data, c.Image.Pix) // non-premultiplied RGBA, as ImageData
	p.cctx.Call("putImageData", js.Global().Get("ImageData").New(data, w, h), 0, 0)
	call(p.on, "cursor", object(map[string]any{"hotX": c.HotX, "hotY": c.HotY, "width": w, "height": h}))
}
