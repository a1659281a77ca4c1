package relay

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// clientFrame encodes a masked client frame header (for tests).
func clientFrame(fin bool, op opcode, payload []byte, key [4]byte) []byte {
	b := []byte{byte(op)}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, key[:]...)
	p := append([]byte(nil), payload...)
	for i := range p {
		p[i] ^= key[i&3]
	}
	return append(b, p...)
}

func TestParseHeader(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	tests := []struct {
		name    string
		in      []byte
		want    frameHeader
		n       int
		wantErr error
	}{
		{"small binary", clientFrame(true, opBinary, make([]byte, 5), key)[:6], frameHeader{true, opBinary, 5, key}, 6, nil},
		{"16-bit length", clientFrame(false, opBinary, make([]byte, 300), key)[:8], frameHeader{false, opBinary, 300, key}, 8, nil},
		{"64-bit length", clientFrame(true, opContinuation, make([]byte, 70000), key)[:14], frameHeader{true, opContinuation, 70000, key}, 14, nil},
		{"ping", clientFrame(true, opPing, []byte("hi"), key)[:6], frameHeader{true, opPing, 2, key}, 6, nil},
		{"short", []byte{0x82}, frameHeader{}, 0, nil},
		{"short mask", []byte{0x82, 0x85, 1, 2}, frameHeader{}, 0, nil},
		{"unmasked", []byte{0x82, 0x05}, frameHeader{}, 0, errUnmasked},
		{"rsv1", []byte{0xC2, 0x85, 1, 2, 3, 4}, frameHeader{}, 0, errReservedBits},
		{"opcode 3", []byte{0x83, 0x85, 1, 2, 3, 4}, frameHeader{}, 0, errBadOpcode},
		{"fragmented ping", []byte{0x09, 0x80, 1, 2, 3, 4}, frameHeader{}, 0, errBadControl},
		{"long ping", []byte{0x89, 0x80 | 126, 0, 200, 1, 2, 3, 4}, frameHeader{}, 0, errBadControl},
		{"non-minimal 16", []byte{0x82, 0x80 | 126, 0, 100, 1, 2, 3, 4}, frameHeader{}, 0, errNonMinimalLen},
		{"non-minimal 64", []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 4}, frameHeader{}, 0, errNonMinimalLen},
		{"top bit", []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, frameHeader{}, 0, errLength},
	}
	for _, tc := range tests {
		h, n, err := parseHeader(tc.in)
		if err != tc.wantErr || n != tc.n || (err == nil && n > 0 && h != tc.want) {
			t.Errorf("%s: parseHeader(%x) = %+v, %d, %v; want %+v, %d, %v", tc.name, tc.in, h, n, err, tc.want, tc.n, tc.wantErr)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	key := [4]byte{9, 8, 7, 6}
	for _, n := range []int{0, 5, 125, 126, 300, 65535, 65536} {
		fr := clientFrame(true, opBinary, make([]byte, n), key)
		f.Add(fr[:min(len(fr), maxHeader)])
	}
	f.Add([]byte{0x89, 0x80, 1, 2, 3, 4})
	f.Add([]byte{0x88, 0x82, 1, 2, 3, 4, 5, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parseHeader(b)
		if err != nil || n == 0 {
			return
		}
		if n > len(b) || n > maxHeader || n < 6 {
			t.Fatalf("parseHeader(%x): length %d", b, n)
		}
		if h.length < 0 || (h.op.control() && h.length > maxControlPayload) {
			t.Fatalf("parseHeader(%x): payload length %d for op %d", b, h.length, h.op)
		}
		// The header encodes back to the same bytes.
		var sh [10]byte
		hl := putServerHeader(sh[:], h.fin, h.op, h.length)
		re := append(sh[:hl:hl], h.key[:]...)
		re[1] |= 0x80
		if !bytes.Equal(re, b[:n]) {
			t.Fatalf("parseHeader(%x) = %+v; re-encoded %x", b[:n], h, re)
		}
		// No strict prefix parses.
		for i := range n {
			if _, m, err := parseHeader(b[:i]); m != 0 || err != nil {
				t.Fatalf("prefix %x of %x parsed: %d, %v", b[:i], b[:n], m, err)
			}
		}
	})
}

func TestUnmaskMatchesBytewise(t *testing.T) {
	key := [4]byte{0xA1, 0xB2, 0xC3, 0xD4}
	for _, n := range []int{0, 1, 3, 7, 8, 31, 32, 33, 100, 1000} {
		for off := range 4 {
			in := pattern(n, byte(n))
			want := append([]byte(nil), in...)
			for i := range want {
				want[i] ^= key[(off+i)&3]
			}
			got := append([]byte(nil), in...)
			if o := unmask(got, key, off); o != (off+n)&3 || !bytes.Equal(got, want) {
				t.Errorf("unmask(%d bytes, offset %d) differs from bytewise XOR (end offset %d)", n, off, o)
			}
		}
	}
}

func BenchmarkUnmask(b *testing.B) {
	buf := make([]byte, 400)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		unmask(buf, [4]byte{1, 2, 3, 4}, 1)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}
