package proto

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkGroupSeal and BenchmarkGroupOpen measure the broadcast path of
// a presentation: one frame of n messages of size bytes sealed by the host
// (ChaCha20-Poly1305 under GK_e, the SHA-256 chain, one Ed25519
// signature) and opened by one viewer (decrypt, chain, verify). The
// relay fans the same records out, so each further viewer costs its own
// Open and nothing on the host. MB/s counts message bytes.
func BenchmarkGroupSeal(b *testing.B) {
	for _, c := range groupBenchCases {
		b.Run(c.name, func(b *testing.B) {
			w := newGroupWorld(b, GroupConfig{RekeyAfter: time.Hour})
			w.join(1)
			msg := make([]byte, c.size)
			buf := make([]byte, 0, MaxRecordSize)
			b.SetBytes(int64(c.n * c.size))
			b.ReportAllocs()
			for b.Loop() {
				for range c.n {
					if _, err := w.g.AppendRecord(buf[:0], msg); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := w.g.AppendEndFrame(buf[:0]); err != nil {
					b.Fatal(err)
				}
				if w.g.records > 1<<19 {
					w.clock.add(GroupRekeyInterval)
					w.send(must(w.g.Poll()))
				}
			}
		})
	}
}

func BenchmarkGroupOpen(b *testing.B) {
	for _, c := range groupBenchCases {
		b.Run(c.name, func(b *testing.B) {
			// One epoch's worth of frames, sealed beforehand, opened in a loop
			// by fresh receivers.
			w := newGroupWorld(b, GroupConfig{})
			w.join(1)
			key := w.viewers[1].keys[0]
			msg := make([]byte, c.size)
			const frames = 8
			var recs [][]byte
			for range frames {
				for range c.n {
					recs = append(recs, must(w.g.AppendRecord(nil, msg)))
				}
				recs = append(recs, must(w.g.AppendEndFrame(nil)))
			}
			delivered := 0
			newRecv := func() *GroupReceiver {
				r := NewGroupReceiver(GroupReceiverConfig{Clock: w.clock.now, Deliver: func(m [][]byte) error {
					delivered += len(m)
					return nil
				}})
				if err := r.SetKey(key); err != nil {
					b.Fatal(err)
				}
				return r
			}
			r := newRecv()
			b.SetBytes(int64(c.n * c.size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == frames {
					b.StopTimer()
					old := r
					r, i = newRecv(), 0
					r.buf, r.offs, r.msgs = old.buf[:0], old.offs[:0], old.msgs[:0] // steady state
					b.StartTimer()
				}
				for _, rec := range recs[i*(c.n+1) : (i+1)*(c.n+1)] {
					if err := r.Open(rec); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
			if delivered == 0 {
				b.Fatal("nothing delivered")
			}
		})
	}
}

var groupBenchCases = []struct {
	name    string
	n, size int
}{
	{fmt.Sprintf("frame=1x%d", 1<<10), 1, 1 << 10},
	{fmt.Sprintf("frame=16x%d", MaxPayload), 16, MaxPayload},
	{fmt.Sprintf("frame=256x%d", MaxPayload), 256, MaxPayload},
}
