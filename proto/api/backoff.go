package api

import (
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter, for reconnecting to
// the broker. Attempt n (from 0) waits a random duration in [d/2, d] where
// d = min(Min·2ⁿ, Max): the cap keeps a long outage from stretching the
// waits without bound, and the jitter keeps many hosts that lost the broker
// at the same moment from coming back at the same moment.
//
// The zero value uses Min 500 ms and Max 30 s. A Backoff is a value; it
// holds no state and is safe for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0, 1); nil uses math/rand/v2. Tests set it.
	Rand func() float64
}

// Delay returns the wait before attempt n (n ≥ 0).
func (b Backoff) Delay(n int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 500 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return d/2 + time.Duration(r()*float64(d/2))
}
