package main

import (
	"slices"
	"testing"

	"github.com/deskway/deskway/codec"
)

func TestCopySpans(t *testing.T) {
	const stride = 400 // 100 pixels a row
	tests := []struct {
		name  string
		rects []codec.Rect
		gap   int
		want  []span
	}{
		{"none", nil, 0, nil},
		{"one pixel", []codec.Rect{{X: 2, Y: 1, W: 1, H: 1}}, 0, []span{{408, 412}}},
		{"full width", []codec.Rect{{X: 0, Y: 0, W: 100, H: 2}}, 0, []span{{0, 800}}},
		{"two rows of a column", []codec.Rect{{X: 10, Y: 5, W: 2, H: 2}}, 0, []span{{2040, 2448}}},
		{"apart", []codec.Rect{{X: 0, Y: 10, W: 1, H: 1}, {X: 0, Y: 0, W: 1, H: 1}}, 0, []span{{0, 4}, {4000, 4004}}},
		{"merged by the gap", []codec.Rect{{X: 0, Y: 10, W: 1, H: 1}, {X: 0, Y: 0, W: 1, H: 1}}, 4000, []span{{0, 4004}}},
		{"overlapping", []codec.Rect{{X: 0, Y: 0, W: 50, H: 3}, {X: 10, Y: 1, W: 10, H: 1}}, 0, []span{{0, 1000}}},
		{"empty rect skipped", []codec.Rect{{X: 5, Y: 5, W: 0, H: 3}}, 0, nil},
	}
	for _, tt := range tests {
		got := copySpans(nil, tt.rects, stride, tt.gap)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: copySpans(%v, gap %d) = %v, want %v", tt.name, tt.rects, tt.gap, got, tt.want)
		}
	}
	// Every byte of every rect is covered.
	rects := []codec.Rect{{X: 3, Y: 7, W: 20, H: 9}, {X: 60, Y: 2, W: 40, H: 1}, {X: 0, Y: 90, W: 100, H: 10}}
	spans := copySpans(make([]span, 1), rects, stride, 16)[1:]
	for _, r := range rects {
		for y := r.Y; y < r.Y+r.H; y++ {
			for x := r.X; x < r.X+r.W; x++ {
				off := y*stride + 4*x
				if !slices.ContainsFunc(spans, func(s span) bool { return s.lo <= off && off+4 <= s.hi }) {
					t.Fatalf("pixel %d,%d of %v not in %v", x, y, r, spans)
				}
			}
		}
	}
}
