package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A minimal WebSocket endpoint for the load generator (RFC 6455 framing
// over a net.Conn). The bench does not use github.com/coder/websocket on
// its side so that the load generator's own cost per message stays small
// next to the relay's on a 2-core machine. Clients mask with the all-zero
// key: legal on the wire, and the relay unmasks every payload all the
// same, so the relay's work is what it would be with any key.

type wsConn struct {
	fd     int // ≥ 0 once an evLoop serves the connection
	nc     net.Conn
	br     *bufio.Reader
	client bool
	wmu    sync.Mutex
	wbuf   []byte
	rbuf   []byte
	pend   []byte // bytes the socket had no room for (evLoop)
}

const (
	wsText   = 1
	wsBinary = 2
	wsClose  = 8
	wsPing   = 9
	wsPong   = 10
)

// wsDial opens a WebSocket to addr (host:port) at path.
func wsDial(addr, path string) (*wsConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	var k [16]byte
	rand.Read(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(k[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	nc.SetDeadline(time.Time{})
	return &wsConn{fd: -1, nc: nc, br: br, client: true}, nil
}

// write sends one message as one frame with one write.
func (c *wsConn) write(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:0]
	b = append(b, 0x80|op)
	m := byte(0)
	if c.client {
		m = 0x80
	}
	switch n := len(p); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xFFFF:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if c.client {
		b = append(b, 0, 0, 0, 0) // the all-zero mask key
	}
	b = append(b, p...)
	c.wbuf = b
	if c.fd >= 0 {
		return c.writeFD(b)
	}
	_, err := c.nc.Write(b)
	return err
}

var errWSClosed = errors.New("websocket closed")

// read returns the next data message (valid until the next read),
// answering pings on the way.
func (c *wsConn) read() (op byte, p []byte, err error) {
	msg := c.rbuf[:0]
	var msgOp byte
	for {
		var h [14]byte
		if _, err := io.ReadFull(c.br, h[:2]); err != nil {
			return 0, nil, err
		}
		fin, fop := h[0]&0x80 != 0, h[0]&0x0F
		masked := h[1]&0x80 != 0
		n := int64(h[1] & 0x7F)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, h[2:4]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint16(h[2:]))
		case 127:
			if _, err := io.ReadFull(c.br, h[2:10]); err != nil {
				return 0, nil, err
			}
			n = int64(binary.BigEndian.Uint64(h[2:]))
		}
		if n > 16<<20 {
			return 0, nil, fmt.Errorf("frame of %d bytes", n)
		}
		var key [4]byte
		if masked {
			if _, err := io.ReadFull(c.br, key[:]); err != nil {
				return 0, nil, err
			}
		}
		start := len(msg)
		if fop >= wsClose {
			start = 0
			msg = c.rbuf[:0]
		}
		msg = slices.Grow(msg, int(n))[:len(msg)+int(n)]
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			return 0, nil, err
		}
		if key != [4]byte{} {
			for i := range msg[start:] {
				msg[start+i] ^= key[i&3]
			}
		}
		switch fop {
		case wsPing:
			c.write(wsPong, msg[start:])
			msg = msg[:0]
			continue
		case wsPong:
			msg = msg[:0]
			continue
		case wsClose:
			code := 1005
			if len(msg) >= 2 {
				code = int(binary.BigEndian.Uint16(msg))
			}
			return 0, nil, fmt.Errorf("%w with code %d", errWSClosed, code)
		case wsText, wsBinary:
			msgOp = fop
		}
		if fin {
			c.rbuf = msg
			return msgOp, msg, nil
		}
	}
}

func (c *wsConn) close() {
	if c.fd >= 0 {
		closeFD(c.fd)
		return
	}
	c.nc.Close()
}

// wsUpgrade answers a WebSocket upgrade and returns the connection.
func wsUpgrade(w http.ResponseWriter, r *http.Request) (*wsConn, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		wsAccept(key)+"\r\n\r\n")
	return &wsConn{fd: -1, nc: nc, br: brw.Reader}, nil
}

// wsServe upgrades the request and runs serve on the connection in a
// goroutine of its own, with each message the client sends.
func wsServe(w http.ResponseWriter, r *http.Request, serve func(c *wsConn, op byte, p []byte) error) {
	c, err := wsUpgrade(w, r)
	if err != nil {
		return
	}
	go func() {
		defer c.nc.Close()
		for {
			op, p, err := c.read()
			if err != nil || serve(c, op, p) != nil {
				return
			}
		}
	}()
}

// echoHandler is the direct path: a WebSocket server that sends every
// message back, one goroutine per connection, the same framing code as
// the load generator (the single-session modes, and the load mode's echo
// server where there are no event loops or DESKWAY_BENCH_NOLOOP is set).
func echoHandler(w http.ResponseWriter, r *http.Request) {
	wsServe(w, r, func(c *wsConn, op byte, p []byte) error { return c.write(op, p) })
}

// echoLoops is the load mode's direct path: the same echo on one event
// loop per CPU (unmasking every payload and writing it back as soon as it
// is read, one write per read, as the relay does), connections dealt
// round robin.
func echoLoops() (http.Handler, error) {
	loops := make([]*evLoop, runtime.GOMAXPROCS(0))
	for i := range loops {
		l, err := newEvLoop(time.Second, true)
		if err != nil {
			return nil, err
		}
		loops[i] = l
	}
	var next atomic.Uint32
	echo := func(c *wsConn, op byte, p []byte) { c.write(op, p) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsUpgrade(w, r)
		if err != nil {
			return
		}
		if loops[next.Add(1)%uint32(len(loops))].add(c, true, echo) != nil {
			c.nc.Close()
		}
	}), nil
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}
