package main

import (
	"sync/atomic"
	"time"
)

// latHist is a latency histogram with 1 µs buckets up to 2 ms, 50 µs buckets
// up to 100 ms and 10 ms buckets up to 10 s. Safe for concurrent use.
type latHist struct {
	b [histBuckets]atomic.Uint64
}

const (
	histFine    = 2000 // 1 µs each, to 2 ms
	histMid     = 1960 // 50 µs each, to 100 ms
	histCoarse  = 990  // 10 ms each, to 10 s
	histBuckets = histFine + histMid + histCoarse + 1
)

func histIndex(d time.Duration) int {
	us := d.Microseconds()
	switch {
	case us < 0:
		return 0
	case us < histFine:
		return int(us)
	case us < 100_000:
		return histFine + int((us-histFine)/50)
	case us < 10_000_000:
		return histFine + histMid + int((us-100_000)/10_000)
	}
	return histBuckets - 1
}

// histUpper is the upper bound of bucket i in µs.
func histUpper(i int) float64 {
	switch {
	case i < histFine:
		return float64(i + 1)
	case i < histFine+histMid:
		return float64(histFine + (i-histFine+1)*50)
	case i < histBuckets-1:
		return float64(100_000 + (i-histFine-histMid+1)*10_000)
	}
	return 1e7
}

func (h *latHist) add(d time.Duration) { h.b[histIndex(d)].Add(1) }

// sparse returns the non-empty buckets as index → count.
func (h *latHist) sparse() map[int]uint64 {
	m := map[int]uint64{}
	for i := range h.b {
		if v := h.b[i].Load(); v != 0 {
			m[i] = v
		}
	}
	return m
}

// latCounts is a merged histogram.
type latCounts [histBuckets]uint64

func (c *latCounts) merge(m map[int]uint64) {
	for i, v := range m {
		if i >= 0 && i < histBuckets {
			c[i] += v
		}
	}
}

func (c *latCounts) total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// quantile returns the q-quantile in µs (the bucket's upper bound).
func (c *latCounts) quantile(q float64) float64 {
	n := c.total()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n-1)) + 1
	var cum uint64
	for i, v := range c {
		cum += v
		if cum >= rank {
			return histUpper(i)
		}
	}
	return histUpper(histBuckets - 1)
}
