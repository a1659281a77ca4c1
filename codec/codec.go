package codec

import (
	"errors"
	"fmt"
	"image"
)

// PixelFormat is the byte order of a Frame's 32-bit pixels. The fourth
// byte (alpha or X) is always ignored.
type PixelFormat uint8

const (
	// BGRA is X11's native ZPixmap order on little-endian machines:
	// blue, green, red, X.
	BGRA PixelFormat = iota
	// RGBA is the order of image.RGBA: red, green, blue, alpha.
	RGBA
)

func (f PixelFormat) String() string {
	switch f {
	case BGRA:
		return "BGRA"
	case RGBA:
		return "RGBA"
	}
	return fmt.Sprintf("PixelFormat(%d)", uint8(f))
}

// Frame is one captured screen: Height rows of Width 32-bit pixels, each
// row starting Stride bytes after the previous one. The encoder only reads
// Pix during Encode and does not keep it.
type Frame struct {
	Pix           []byte
	Stride        int
	Width, Height int
	Format        PixelFormat
}

// FrameFromRGBA wraps an *image.RGBA (for instance a decoded PNG) as a
// Frame without copying.
func FrameFromRGBA(m *image.RGBA) Frame {
	b := m.Bounds()
	off := m.PixOffset(b.Min.X, b.Min.Y)
	return Frame{Pix: m.Pix[off:], Stride: m.Stride, Width: b.Dx(), Height: b.Dy(), Format: RGBA}
}

// Rect is a rectangle of the decoder's framebuffer that an update changed.
type Rect struct{ X, Y, W, H int }

// Image returns r as an image.Rectangle.
func (r Rect) Image() image.Rectangle { return image.Rect(r.X, r.Y, r.X+r.W, r.Y+r.H) }

// Mode selects how the encoder treats photographic content.
type Mode uint8

const (
	// Lossless reproduces every pixel exactly.
	Lossless Mode = iota
	// Balanced keeps text and UI exact and codes photographic tiles with a
	// lossy transform coder at EncoderOptions.Quality.
	Balanced
	// LowBandwidth is Balanced at a lower quality with more tiles treated
	// as photographic: for thin links (the agent's quality hint).
	LowBandwidth
)

func (m Mode) String() string {
	switch m {
	case Lossless:
		return "lossless"
	case Balanced:
		return "balanced"
	case LowBandwidth:
		return "low-bandwidth"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode parses the names printed by Mode.String.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "lossless":
		return Lossless, nil
	case "balanced":
		return Balanced, nil
	case "low-bandwidth", "low":
		return LowBandwidth, nil
	}
	return 0, fmt.Errorf("codec: unknown mode %q (want lossless, balanced or low-bandwidth)", s)
}

// EncoderOptions configures an Encoder. The zero value is a lossless
// encoder with default cache sizes.
type EncoderOptions struct {
	// Mode is Lossless (default), Balanced or LowBandwidth.
	Mode Mode
	// Quality is the JPEG quality (1..100) of photographic tiles in the
	// lossy modes. 0 means 92 in Balanced (about 40 dB on photographs) and
	// 60 in LowBandwidth.
	Quality int
	// Scale divides both dimensions of every frame by this integer factor
	// (box filter) before coding, for thin links. 0 and 1 mean no scaling.
	Scale int
	// CacheTiles is the number of 16x16 tiles in the content-addressed tile
	// cache both ends keep. 0 means 16384 (16 MiB per end, two screens).
	CacheTiles int
	// MarkSlots and MarkPixels bound the mark dictionary both ends keep:
	// at most MarkSlots marks and MarkPixels pixels in total, least
	// recently used evicted first. 0 means 8192 marks and 1<<20 pixels.
	MarkSlots, MarkPixels int
	// ZstdLevel is the klauspost/compress zstd level (1 fastest .. 4 best).
	// 0 means 2 (zstd.SpeedDefault).
	ZstdLevel int
}

// DecoderOptions bounds what a Decoder accepts; an update that asks for
// more is rejected with an error before anything is allocated.
type DecoderOptions struct {
	// MaxWidth and MaxHeight bound the screen size. 0 means 7680x4320.
	MaxWidth, MaxHeight int
	// MaxCacheTiles, MaxMarkSlots and MaxMarkPixels bound the caches the
	// encoder may ask for in a keyframe. 0 means 32768 tiles, 65536 marks
	// and 1<<22 pixels.
	MaxCacheTiles, MaxMarkSlots, MaxMarkPixels int
}

// Defaults of the caches, shared by encoder options and the decoder limits.
const (
	defaultCacheTiles = 16384
	defaultMarkSlots  = 8192
	defaultMarkPixels = 1 << 20
	defaultMaxWidth   = 7680
	defaultMaxHeight  = 4320
	defaultMaxCache   = 32768
	defaultMaxSlots   = 65536
	defaultMaxMarkPix = 1 << 22
	// zstdWindow is the history both ends of the entropy stage keep.
	zstdWindow = 8 << 20
)

// Errors returned by Decode.
var (
	// ErrCorrupt means the update is malformed; the decoder needs a
	// keyframe before it decodes anything else.
	ErrCorrupt = errors.New("codec: corrupt update")
	// ErrNeedKeyframe means an earlier update failed (or none came yet)
	// and only a keyframe can resynchronise the decoder.
	ErrNeedKeyframe = errors.New("codec: decoder needs a keyframe")
	// ErrLimit means the update asks for more than DecoderOptions allow.
	ErrLimit = errors.New("codec: limit exceeded")
)

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func limitf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrLimit}, args...)...)
}
