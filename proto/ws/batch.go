//go:build !js

package ws

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// github.com/coder/websocket masks a client's frame inside its 4 KiB write
// buffer, so a 64 KiB message leaves as sixteen 4 KiB writes: sixteen
// system calls for the sender, and on loopback or a fast link sixteen
// wake-ups for the relay and the peer behind it. A batchConn sits under
// the WebSocket (and under TLS, when there is one) and gathers the writes
// of one message into a single write: Conn.WriteMsg holds it for the
// length of a large message and releases it after.

// batchMin is the smallest message worth holding for: anything shorter
// leaves in one write of coder/websocket's 4 KiB buffer anyway, with a
// client frame's header (at most 14 bytes).
const batchMin = 4<<10 - 14

// batchMax bounds what a held connection gathers before it writes
// anyway: a whole dw/1 record (64 KiB body) and its frame header fit.
const batchMax = 128 << 10

type batchConn struct {
	net.Conn
	mu   sync.Mutex
	held int // WriteMsg calls in progress
	buf  []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == 0 || len(b.buf)+len(p) > batchMax {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if b.held == 0 || len(p) > batchMax {
			return b.Conn.Write(p)
		}
	}
	if b.buf == nil {
		b.buf = make([]byte, 0, batchMax)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *batchConn) hold() {
	b.mu.Lock()
	b.held++
	b.mu.Unlock()
}

// release ends a hold and, when it was the last, writes what was gathered,
// giving up when ctx ends. A failed write leaves a frame half sent, so it
// closes the connection.
func (b *batchConn) release(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held--
	if b.held > 0 || len(b.buf) == 0 {
		return nil
	}
	expired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		b.Conn.SetWriteDeadline(time.Unix(1, 0))
		close(expired)
	})
	err := b.flushLocked()
	if !stop() {
		<-expired
		b.Conn.SetWriteDeadline(time.Time{})
		if err != nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		b.Conn.Close()
	}
	return err
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// batchingClient returns a client that dials like hc but through a
// batchConn, which it stores in *out once dialled. It returns hc itself
// when hc's transport is not an *http.Transport it can copy, or dials
// TLS itself: those connections go unbatched.
func batchingClient(hc *http.Client, out **batchConn) *http.Client {
	tr, ok := hc.Transport.(*http.Transport)
	if hc.Transport == nil {
		tr, ok = http.DefaultTransport.(*http.Transport)
	}
	if !ok || tr.DialTLSContext != nil || tr.DialTLS != nil || tr.Dial != nil {
		return hc
	}
	t := tr.Clone()
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		b := &batchConn{Conn: c}
		*out = b
		return b, nil
	}
	c := *hc
	c.Transport = t
	return &c
}
