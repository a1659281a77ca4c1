package relay

import "sync"

// Output buffers are pooled in two sizes so that a connection holds one
// only while its peer's socket is full or a presentation queue is not
// empty.
var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
	largeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128<<10); return &b }}
)

func getBuf(n int) []byte {
	if n <= 16<<10 {
		return (*smallBufs.Get().(*[]byte))[:0]
	}
	return (*largeBufs.Get().(*[]byte))[:0]
}

func putBuf(b []byte) {
	switch c := cap(b); {
	case c == 16<<10:
		b = b[:0]
		smallBufs.Put(&b)
	case c == 128<<10:
		b = b[:0]
		largeBufs.Put(&b)
	}
}
