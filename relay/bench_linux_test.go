//go:build linux

package relay

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/deskway/deskway/proto"
)

// rawClient is a bare WebSocket client (masked frames with the all-zero
// key, which the relay XORs all the same) so that benchmarks measure the
// relay rather than a client library.
type rawClient struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
	rbuf []byte
	hdr  [10]byte
}

func dialRaw(tb testing.TB, url string, ticket []byte) *rawClient {
	tb.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	io.WriteString(nc, "GET /v1/relay HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	c := &rawClient{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("upgrade: %v %v", resp, err)
	}
	c.write(tb, ticket)
	return c
}

func (c *rawClient) write(tb testing.TB, p []byte) {
	b := c.wbuf[:0]
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x82, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x82, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x82, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(append(b, 0, 0, 0, 0), p...)
	c.wbuf = b
	if _, err := c.nc.Write(b); err != nil {
		tb.Fatal(err)
	}
}

// read returns the next message's opcode and payload (unmasked server
// frames, no fragments from the relay's single-frame sends).
func (c *rawClient) read(tb testing.TB) (opcode, []byte) {
	h := c.hdr[:]
	if _, err := io.ReadFull(c.br, h[:2]); err != nil {
		tb.Fatal(err)
	}
	n := int(h[1] & 0x7F)
	switch n {
	case 126:
		io.ReadFull(c.br, h[2:4])
		n = int(binary.BigEndian.Uint16(h[2:]))
	case 127:
		io.ReadFull(c.br, h[2:10])
		n = int(binary.BigEndian.Uint64(h[2:]))
	}
	if cap(c.rbuf) < n {
		c.rbuf = make([]byte, n)
	}
	p := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, p); err != nil {
		tb.Fatal(err)
	}
	return opcode(h[0] & 0x0F), p
}

// readData skips notices.
func (c *rawClient) readData(tb testing.TB) []byte {
	for {
		op, p := c.read(tb)
		if op == opBinary {
			return p
		}
	}
}

func (c *rawClient) waitPaired(tb testing.TB) {
	for {
		op, p := c.read(tb)
		if op == opText && strings.Contains(string(p), `"paired"`) {
			return
		}
	}
}

func rawPair(tb testing.TB, r *testRelay) (host, viewer *rawClient) {
	sess := proto.NewSessionID()
	host = dialRaw(tb, r.url, r.ticket(tb, sess, proto.RoleHost, proto.ModeSupport))
	viewer = dialRaw(tb, r.url, r.ticket(tb, sess, proto.RoleViewer, proto.ModeSupport))
	host.waitPaired(tb)
	viewer.waitPaired(tb)
	return host, viewer
}

// BenchmarkForward sends one message at a time host → relay → viewer
// (a round of the whole path, so ns/op is latency, not throughput).
func BenchmarkForward(b *testing.B) {
	for _, size := range []int{400, 4096, 65536} {
		b.Run(byteSize(size), func(b *testing.B) {
			r := newTestRelay(b, nil)
			host, viewer := rawPair(b, r)
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				host.write(b, msg)
				viewer.readData(b)
			}
			st := r.s.Stats()
			b.ReportMetric(float64(st.ForwardDelaySum.Nanoseconds())/float64(max(st.ForwardDelayCount, 1)), "relay-ns/msg")
		})
	}
}

func byteSize(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// TestForwardAllocs guards the hot path: forwarding a message allocates
// nothing in the relay (the raw clients allocate nothing either once
// their buffers have grown).
func TestForwardAllocs(t *testing.T) {
	r := newTestRelay(t, nil)
	host, viewer := rawPair(t, r)
	msg := make([]byte, 400)
	allocs := testing.AllocsPerRun(2000, func() {
		host.write(t, msg)
		viewer.readData(t)
		viewer.write(t, msg)
		host.readData(t)
	})
	if allocs > 0.05 {
		t.Errorf("%.2f allocations per round of two forwarded messages, want 0", allocs)
	}
}
