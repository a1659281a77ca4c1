package viewer

import "github.com/deskway/deskway/codec"

// Rect is a changed rectangle of the framebuffer, as Events.Frame reports
// it: an alias of codec.Rect, so that a UI on this package (viewer/desktop
// may import viewer, proto and proto/api only) can name it without the
// codec.
type Rect = codec.Rect
