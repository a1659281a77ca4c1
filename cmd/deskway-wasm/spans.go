package main

import (
	"slices"

	"github.com/deskway/deskway/codec"
)

// span is a byte range [lo, hi) of a framebuffer's Pix.
type span struct{ lo, hi int }

// copySpans appends to dst the byte ranges of a framebuffer (rows stride
// bytes apart, 4 bytes a pixel) that hold rects, sorted and merged where
// they overlap or lie less than gap bytes apart. Copying a whole range
// also copies the pixels between a rect's rows, which are current too:
// the painter trades those bytes for fewer calls into JS.
func copySpans(dst []span, rects []codec.Rect, stride, gap int) []span {
	start := len(dst)
	for _, r := range rects {
		if r.W <= 0 || r.H <= 0 {
			continue
		}
		dst = append(dst, span{r.Y*stride + 4*r.X, (r.Y+r.H-1)*stride + 4*(r.X+r.W)})
	}
	s := dst[start:]
	slices.SortFunc(s, func(a, b span) int { return a.lo - b.lo })
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && x.lo <= out[n-1].hi+gap {
			out[n-1].hi = max(out[n-1].hi, x.hi)
			continue
		}
		out = append(out, x)
	}
	return dst[:start+len(out)]
}
