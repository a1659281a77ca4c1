package codec

import "encoding/binary"

// Update layout (version 1). All integers are unsigned LEB128 varints
// unless said otherwise; "s" marks zigzag-coded signed varints.
//
//	update   = flags:byte [keyframe] [payload]
//	flags    = version (low 4 bits, 1) | 0x10 keyframe | 0x20 has payload
//	           | 0x40 save the framebuffer as a new reference screen
//	           | 0x80 save it over the newest one (refs.go; before the
//	           update is applied, not with 0x10, not both)
//	keyframe = width height cacheTiles markSlots markPixels
//	payload  = streams (entropy.go): a mask of the zstd streams used,
//	           each one's raw and compressed length, their blocks
//
// Each zstd stream is one zstd frame that starts at the keyframe and
// spans every later update: each update's blocks are flushed, so the
// decoder gets exactly the raw length from them. Every stream holds some
// of the sections below, each a different kind of symbol, so that zstd's
// literal coder sees homogeneous statistics:
//
//	raw      = len(section) for each section of the stream, the sections
//	secOps   : ncopies, ncopies x (x y w h s:dx s:dy)   (tile units),
//	           then, once a reference screen is held (refs.go),
//	           nref, nref x (ref x y w h s:dx s:dy)
//	secTiles : ntiles, then for each coded tile skip (tiles passed over)
//	           and mode, range coded (tilemap.go)
//	secPixels: pixel tiles, range coded (pixelcoder.go)
//	secPhoto : photo tiles: predicted residuals, 3 planes per tile
//	secMarks : nmarks nlearnt
//	secMarkPx: range coded (markref.go, markcoder.go): for each of the
//	           nmarks marks, new or a dictionary slot, a new mark's
//	           pixels, its position; then for each of the nlearnt marks
//	           cut from the framebuffer after the tiles, its position,
//	           size and background
//	secLossy : nrects, nrects x (x y w h len jpeg) in tile units
//	secCache : cache-hit slots of the cache tiles in tile order, each as
//	           s:(slot - previous slot - 1)
//
// Decoding order: a save of the framebuffer as a reference screen,
// copies (all sources read before any destination is written), copies
// from reference screens, lossy rects, marks in order, tiles in raster order (cache
// hits read the cache as it was before this update; pixel tiles are coded
// against the framebuffer as it stands when they are reached), the
// learnt marks (cut from the framebuffer, background transparent) enter
// the mark dictionary in order, then every tile coded here (not cache
// hits, not lossy) enters the tile cache in raster order.
const (
	version      = 1
	flagKeyframe = 0x10
	flagPayload  = 0x20
)

// Sections of the raw payload.
const (
	secOps = iota
	secTiles
	secPixels
	secPhoto
	secMarks
	secMarkPx
	secLossy
	secCache
	numSections
)

// Tile modes in secTiles.
const (
	tileKeep   = iota // nothing to write (marks only, or no change after all)
	tilePixels        // range-coded pixels (pixelcoder.go)
	tilePhoto         // predicted residuals, every pixel
	tileCached        // copy of a cached tile
	numTileModes
)

// tileSize is the side of the change-detection and coding tile.
const tileSize = 16

// Mark size bounds: a connected shape larger than this is left to the
// residual coder.
const maxMarkSide = 64

type wbuf struct{ b []byte }

func (w *wbuf) byte(v byte) { w.b = append(w.b, v) }

func (w *wbuf) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func (w *wbuf) svarint(v int64) { w.b = binary.AppendVarint(w.b, v) }

func (w *wbuf) rgb(c uint32) { w.b = append(w.b, byte(c), byte(c>>8), byte(c>>16)) }

// rbuf reads a section. Errors are sticky: after the first one every read
// returns zero, and err says what went wrong; callers check err before
// acting on what they read.
type rbuf struct {
	b   []byte
	off int
	err error
	sec string
}

func (r *rbuf) fail(what string) {
	if r.err == nil {
		r.err = corruptf("%s: %s at offset %d", r.sec, what, r.off)
	}
}

func (r *rbuf) byte() byte {
	if r.off >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *rbuf) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *rbuf) svarint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

// intn reads a varint that must be at most max.
func (r *rbuf) intn(max int, what string) int {
	v := r.uvarint()
	if v > uint64(max) {
		r.fail(what + " out of range")
		return 0
	}
	return int(v)
}

// sint reads a signed varint within [-max, max].
func (r *rbuf) sint(max int, what string) int {
	v := r.svarint()
	if v > int64(max) || v < -int64(max) {
		r.fail(what + " out of range")
		return 0
	}
	return int(v)
}

func (r *rbuf) rgb() uint32 {
	if r.off+3 > len(r.b) {
		r.fail("truncated colour")
		return 0
	}
	p := r.b[r.off:]
	r.off += 3
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | opaque
}

func (r *rbuf) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.b) {
		r.fail("truncated bytes")
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

// opaque is the alpha byte of every internal pixel. Internal pixels are
// uint32 R | G<<8 | B<<16 | 0xFF<<24: image.RGBA's bytes read little-endian.
const opaque = 0xFF000000
