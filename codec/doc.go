// Package codec turns a stream of screen frames into compact updates and
// back: change detection, motion detection (scrolls, moved windows), marks
// (glyphs and icons sent once and then referenced), tile caches and
// residual coding. It is pure Go, does no I/O and builds for WebAssembly.
package codec
