//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// The relay wire (docs/ARCHITECTURE.md) over the browser's WebSocket:
// the ticket as the first binary message, notices as text messages,
// session data as binary messages, errors as close codes 4001–4009. The
// native viewer speaks the same through proto/ws.

const (
	// maxQueued bounds what a connection holds that Go has not read: the
	// browser's WebSocket has no backpressure on receive. The host's ack
	// window keeps it far below.
	maxQueued = 64 << 20
	// maxBuffered is how much unsent data WriteMsg lets the browser hold
	// before it waits.
	maxBuffered = 4 << 20
	// pairingTimeout is the relay's close code when the peer never came.
	pairingTimeout = 4005
)

// wsConn is a proto.MsgConn over a browser WebSocket. ReadMsg and WriteMsg
// follow the MsgConn contract; the browser calls onmessage and onclose on
// the page's event loop, which only queue and signal.
type wsConn struct {
	ws       js.Value
	relayID  string
	onNotice func(relayID, notice string)
	events   []string // listeners added, with funcs
	funcs    []js.Func

	mu      sync.Mutex
	queue   [][]byte
	queued  int
	paired  bool
	wait    chan struct{} // signalled (non-blocking) on every change
	err     error         // set once when closed
	closed  chan struct{}
	waiting func()
}

// dialRelay opens one relay, sends the ticket and waits for "paired".
func dialRelay(ctx context.Context, r viewer.Relay, onNotice func(relayID, notice string), waiting func()) (*wsConn, error) {
	u := strings.TrimSuffix(r.URL, "/") + "/v1/relay"
	u = strings.Replace(u, "http://", "ws://", 1)
	u = strings.Replace(u, "https://", "wss://", 1)
	c := &wsConn{relayID: r.ID, onNotice: onNotice, waiting: waiting, wait: make(chan struct{}, 1), closed: make(chan struct{})}
	var ws js.Value
	if err := catch(func() { ws = js.Global().Get("WebSocket").New(u) }); err != nil {
		return nil, fmt.Errorf("deskway-wasm: relay %s: %w", r.ID, err)
	}
	c.ws = ws
	ws.Set("binaryType", "arraybuffer")
	opened := make(chan struct{})
	c.on("open", func(js.Value) { close(opened) })
	c.on("message", c.message)
	c.on("close", func(e js.Value) { c.fail(closeError(r.ID, e.Get("code").Int(), e.Get("reason").String())) })
	c.on("error", func(js.Value) {}) // a close event follows with the code
	select {
	case <-opened:
	case <-c.closed:
		return nil, c.err
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
	c.send(r.Ticket)
	for {
		c.mu.Lock()
		paired, err := c.paired, c.err
		c.mu.Unlock()
		if paired {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		select {
		case <-c.wait:
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
	}
}

func (c *wsConn) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(this js.Value, args []js.Value) any {
		f(arg(args, 0))
		return nil
	})
	c.events, c.funcs = append(c.events, event), append(c.funcs, fn)
	c.ws.Call("addEventListener", event, fn)
}

func (c *wsConn) signal() {
	select {
	case c.wait <- struct{}{}:
	default:
	}
}

// message runs on the page's event loop: it must not block.
func (c *wsConn) message(e js.Value) {
	data := e.Get("data")
	if data.Type() == js.TypeString {
		n := js.Global().Get("JSON").Call("parse", data) // notices are small JSON objects
		typ := jsString(n.Get("type"))
		c.mu.Lock()
		if typ == "paired" {
			c.paired = true
		}
		waiting := c.waiting
		if typ == "waiting" {
			c.waiting = nil
		}
		c.mu.Unlock()
		if typ == "waiting" && waiting != nil {
			waiting()
		}
		if c.onNotice != nil {
			c.onNotice(c.relayID, typ)
		}
		c.signal()
		return
	}
	u8 := js.Global().Get("Uint8Array").New(data)
	b := make([]byte, u8.Length())
	js.CopyBytesToGo(b, u8)
	c.mu.Lock()
	if !c.paired {
		c.mu.Unlock()
		c.fail(fmt.Errorf("deskway-wasm: relay %s: data before paired", c.relayID))
		return
	}
	c.queue = append(c.queue, b)
	c.queued += len(b)
	over := c.queued > maxQueued
	c.mu.Unlock()
	if over {
		c.fail(fmt.Errorf("deskway-wasm: relay %s: more than %d bytes unread", c.relayID, maxQueued))
		return
	}
	c.signal()
}

// closeError maps a WebSocket close to the MsgConn's error.
func closeError(relayID string, code int, reason string) error {
	switch {
	case code == 1000 || code == 1001:
		return io.EOF
	case code == pairingTimeout:
		return fmt.Errorf("%w: relay %s: %d pairing timeout: the host never came", viewer.ErrHostOffline, relayID, code)
	case code >= 4000 && code <= 4999:
		return fmt.Errorf("deskway-wasm: relay %s closed the connection: %d %s", relayID, code, reason)
	}
	return fmt.Errorf("deskway-wasm: relay %s: connection closed (%d)", relayID, code)
}

// fail closes the connection with err (once).
func (c *wsConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.mu.Unlock()
	close(c.closed)
	c.ws.Call("close", 1000)
	c.signal()
	// No event reaches a released func: the listeners go first.
	for i, f := range c.funcs {
		c.ws.Call("removeEventListener", c.events[i], f)
		f.Release()
	}
	c.events, c.funcs = nil, nil
}

// ReadMsg implements proto.MsgConn.
func (c *wsConn) ReadMsg(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			b := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.queued -= len(b)
			c.mu.Unlock()
			return b, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-c.wait:
		case <-c.closed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// WriteMsg implements proto.MsgConn.
func (c *wsConn) WriteMsg(ctx context.Context, p []byte) error {
	for c.ws.Get("bufferedAmount").Int() > maxBuffered {
		select {
		case <-c.closed:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.send(p)
}

func (c *wsConn) send(p []byte) error {
	return catch(func() { c.ws.Call("send", uint8Array(p)) })
}

// Close implements proto.MsgConn.
func (c *wsConn) Close() error {
	c.fail(proto.ErrClosed)
	return nil
}

// catch turns a JS exception thrown by f into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = errors.New(je.Error())
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// dialRelays is the browser's viewer.DialFunc: it races the relays.
func dialRelays(ctx context.Context, relays []viewer.Relay, onNotice func(relayID, notice string)) (proto.MsgConn, string, error) {
	c, i, err := race(ctx, len(relays), defaultRace, func(ctx context.Context, i int, waiting func()) (proto.MsgConn, error) {
		c, err := dialRelay(ctx, relays[i], onNotice, waiting)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, "", err
	}
	return c, relays[i].ID, nil
}
