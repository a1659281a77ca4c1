//go:build !js

package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// countConn counts the writes that reach the socket.
type countConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// sinkServer accepts one WebSocket and sends every binary message it
// reads, after the first (the ticket), to got.
func sinkServer(t *testing.T, got chan<- []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wc.SetReadLimit(1 << 20)
		defer wc.CloseNow()
		for i := 0; ; i++ {
			_, p, err := wc.Read(context.Background())
			if err != nil {
				close(got)
				return
			}
			if i > 0 {
				got <- p
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func countingClient(writes *atomic.Int64) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countConn{c, writes}, nil
		},
	}}
}

// A large message leaves in one write; every message arrives whole and
// in order.
func TestBatchOneWritePerMessage(t *testing.T) {
	got := make(chan []byte, 16)
	srv := sinkServer(t, got)
	var writes atomic.Int64
	ctx := context.Background()
	c, err := Connect(ctx, Relay{RelayID: "sink", URL: srv.URL, Ticket: []byte("ticket")}, &Options{HTTPClient: countingClient(&writes)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.batch == nil {
		t.Fatal("Connect did not batch an *http.Transport client")
	}
	for _, n := range []int{0, 1, 4095, 4096, 4097, 65536 + 16, batchMax + 5000} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		before := writes.Load()
		if err := c.WriteMsg(ctx, msg); err != nil {
			t.Fatalf("WriteMsg(%d bytes): %v", n, err)
		}
		w := writes.Load() - before
		want := int64(1)
		if n > batchMax {
			want = 2 // the buffer fills once before the end
		}
		if w != want {
			t.Errorf("a %d-byte message took %d writes, want %d", n, w, want)
		}
		select {
		case p := <-got:
			if !bytes.Equal(p, msg) {
				t.Fatalf("a %d-byte message arrived as %d bytes, or changed", n, len(p))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("a %d-byte message did not arrive", n)
		}
	}
}

// Writers in several goroutines, with pings between: every message
// arrives whole (the WebSocket serialises frames; the batch must not
// interleave or lose them).
func TestBatchConcurrentWriters(t *testing.T) {
	got := make(chan []byte, 64)
	srv := sinkServer(t, got)
	ctx := context.Background()
	c, err := Connect(ctx, Relay{RelayID: "sink", URL: srv.URL, Ticket: []byte("ticket")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { // the client's reader answers the server's nothing, but must run for pings
		for {
			if _, err := c.ReadMsg(ctx); err != nil {
				return
			}
		}
	}()
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := 100 + (w*each+i)*2111%70000
				msg := bytes.Repeat([]byte{byte(w)}, n)
				copy(msg, fmt.Sprintf("%d/%d/", w, i))
				if err := c.WriteMsg(ctx, msg); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			c.ws.Ping(pctx)
			cancel()
		}
	}()
	next := make([]int, writers)
	for range writers * each {
		var p []byte
		select {
		case p = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("messages stopped arriving")
		}
		var w, i int
		if _, err := fmt.Sscanf(string(p[:min(len(p), 12)]), "%d/%d/", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("a message arrived mangled: %.20q", p)
		}
		if i != next[w] {
			t.Fatalf("writer %d: message %d arrived, want %d", w, i, next[w])
		}
		next[w]++
		if want := 100 + (w*each+i)*2111%70000; len(p) != want {
			t.Fatalf("writer %d message %d: %d bytes, want %d", w, i, len(p), want)
		}
	}
	wg.Wait()
}

// A release whose write cannot go out gives up when its context ends,
// reports it, and closes the connection (a frame is half sent).
func TestBatchReleaseGivesUp(t *testing.T) {
	a, b := net.Pipe() // nobody reads b: a write on a blocks
	defer b.Close()
	bc := &batchConn{Conn: a}
	bc.hold()
	if n, err := bc.Write(make([]byte, 4096)); n != 4096 || err != nil {
		t.Fatalf("held Write = %d, %v", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- bc.release(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("release of a write nobody reads = %v, want the context's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("release did not give up when its context ended")
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the connection is still open after a failed release: %v", err)
	}
}

// Without a hold, writes go straight through.
func TestBatchNotHeld(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var writes atomic.Int64
	bc := &batchConn{Conn: countConn{a, &writes}}
	go io.Copy(io.Discard, b)
	for range 3 {
		if _, err := bc.Write(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if n := writes.Load(); n != 3 {
		t.Fatalf("%d writes reached the connection, want 3", n)
	}
}

// A client whose transport is not an *http.Transport is used as it is.
func TestBatchingClientLeavesOthers(t *testing.T) {
	hc := &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("no") })}
	var b *batchConn
	if got := batchingClient(hc, &b); got != hc {
		t.Fatal("batchingClient replaced a client it cannot copy")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
