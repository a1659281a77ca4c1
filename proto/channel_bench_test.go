package proto

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchHandshake measures whole dw/1 handshakes (PAKE, Noise XXpsk0, SAS)
// over an in-memory Pipe, both ends in this process (so one handshake
// costs the work of both ends).
func benchHandshake(b *testing.B, mode Mode) {
	s := NewTestSetupForTest(b, mode, "bench")
	s.Host.Logger, s.Viewer.Logger = nil, nil
	s.Host.Rand, s.Viewer.Rand = nil, nil
	lim, _ := NewLimiter(LimiterPolicy{}, &MemLimiterStore{}, LimiterOptions{})
	s.Host.Limiter = lim
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		hc, vc := Pipe()
		r := HandshakeForTest(ctx, s, hc, vc)
		if r.HostErr != nil || r.ViewerErr != nil {
			b.Fatal(r.HostErr, r.ViewerErr)
		}
		r.Host.Close(ctx, CloseNormal)
		r.Viewer.Close(ctx, CloseNormal)
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "handshakes/s")
}

func BenchmarkHandshakeSupport(b *testing.B)    { benchHandshake(b, ModeSupport) }
func BenchmarkHandshakeUnattended(b *testing.B) { benchHandshake(b, ModeUnattended) }

var benchSizes = []int{1 << 10, 64<<10 - 32}

// BenchmarkRecordSeal measures sealing one record (ChaCha20-Poly1305 and
// the header) of 1 KiB and of about 64 KiB (the largest record).
func BenchmarkRecordSeal(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			s, _ := recordPairForTest(rekeyPolicy{})
			body := make([]byte, n)
			prefix := make([]byte, appSeqLen)
			buf := make([]byte, 0, MaxRecordSize)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = s.seal(buf[:0], recData, prefix, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordOpen measures checking and opening one record.
func BenchmarkRecordOpen(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			s, o := recordPairForTest(rekeyPolicy{})
			rec, _ := s.seal(nil, recData, make([]byte, appSeqLen), make([]byte, n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				o.seq = 0 // reopen the same record
				if _, _, err := o.open(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChannel measures a reliable message through the whole channel
// (Send, seal, in-memory transport, reader goroutine, open, Recv):
// throughput and allocations per record.
func BenchmarkChannel(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			s := NewTestSetupForTest(b, ModeSupport, "bench channel")
			s.Host.Logger, s.Viewer.Logger = nil, nil
			h, v := PairForTest(b, s)
			msg := make([]byte, n)
			ctx := context.Background()
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Send(ctx, msg, true); err != nil {
					b.Fatal(err)
				}
				if _, err := h.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
