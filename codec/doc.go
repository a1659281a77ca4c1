// Package codec turns a stream of screen frames into compact updates and
// back: change detection, motion detection (scrolls, moved windows), marks
// (glyphs and icons sent once and then referenced), tile caches and
// residual coding. It is pure Go, does no I/O and builds for WebAssembly.
//
// An Encoder keeps the previous frame and a model of the decoder's
// framebuffer. Each Encode compares the new frame with the previous one
// row by row, then per 16x16 tile; finds copies (scrolls, moved windows)
// by hashing rows of 16 pixels, from the previous screen and from the
// last two screens that stood still (reference screens both ends keep,
// for content that comes back at any offset: a page scrolled back to, a
// tab switched back to); looks changed tiles up in a tile cache;
// cuts marks (connected shapes on a uniform background) and sends each new
// one once into a dictionary both ends keep in step; codes what is left as
// pixel tiles (range coded against the framebuffer under a context
// model) or predicted photo
// residuals (or JPEG for photographic tiles in the lossy modes); and
// compresses the result, split into sections by symbol kind, with zstd
// streams that live from keyframe to keyframe. A Decoder mirrors this
// state and checks every count, size and reference before it uses or
// allocates anything.
package codec
