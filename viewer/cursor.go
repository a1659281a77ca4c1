package viewer

import (
	"image"

	"github.com/deskway/deskway/proto"
)

// Cursor is a cursor shape of the host: a non-premultiplied RGBA image
// (the layout of a browser's ImageData) and its hotspot. A Cursor is not
// changed after it was reported; the session keeps up to
// proto.CursorCacheSize of them, as the host decides.
type Cursor struct {
	ID         uint8
	HotX, HotY int
	Image      *image.NRGBA
}

// newCursor copies a decoded shape (whose pixels alias the receive
// buffer).
func newCursor(c *proto.CursorShape) *Cursor {
	img := image.NewNRGBA(image.Rect(0, 0, int(c.Width), int(c.Height)))
	copy(img.Pix, c.Pix)
	return &Cursor{ID: c.ID, HotX: int(c.HotX), HotY: int(c.HotY), Image: img}
}
