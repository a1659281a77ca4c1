package codec

import (
	"math/rand/v2"
	"testing"
)

// TestRangeCoderRoundTrip codes random bits under skewed models, including
// runs that end in zero bytes, and checks the decoder reads them back
// without reporting an overrun.
func TestRangeCoderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 200 {
		bitsIn := make([]int, n)
		for i := range bitsIn {
			if rng.IntN(10) == 0 || n%7 == 0 {
				bitsIn[i] = 1
			}
		}
		var ps [4]prob
		initProbs(ps[:])
		var e rcEncoder
		e.init([]byte{0xAA}) // a prefix the coder must keep
		for i, b := range bitsIn {
			e.bit(&ps[i%4], b)
		}
		out := e.finish()
		if out[0] != 0xAA {
			t.Fatalf("%d bits: prefix overwritten", n)
		}
		initProbs(ps[:])
		var d rcDecoder
		d.init(out[1:])
		for i, want := range bitsIn {
			if got := d.bit(&ps[i%4]); got != want {
				t.Fatalf("%d bits: bit %d = %d, want %d", n, i, got, want)
			}
		}
		if d.overrun() {
			t.Fatalf("%d bits: decoder overran %d bytes", n, len(out)-1)
		}
	}
}

// TestProbBounds: long runs of one bit keep both estimates of a prob
// inside (0, 2^16), which the coder's arithmetic needs.
func TestProbBounds(t *testing.T) {
	for _, b := range []int{0, 1} {
		p := probInit2
		for i := 0; i < 1000; i++ {
			p.update(b)
			f, s := uint32(p)&(1<<probBits-1), uint32(p>>probBits)&(1<<probBits-1)
			if f == 0 || s == 0 || p.p() == 0 {
				t.Fatalf("bit %d, step %d: estimates %d and %d", b, i, f, s)
			}
		}
	}
}
