package proto

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// MsgConn carries whole binary messages in order, in both directions: a
// WebSocket to a relay (package proto/ws), or an in-memory Pipe in tests.
// The secure channel runs over any MsgConn.
//
// ReadMsg must not be called concurrently with itself, nor WriteMsg with
// itself; one reader and one writer may run at the same time.
type MsgConn interface {
	// ReadMsg returns the next message. The returned slice is valid until
	// the next call to ReadMsg. io.EOF means the peer closed the
	// connection.
	ReadMsg(ctx context.Context) ([]byte, error)
	// WriteMsg sends one message. It does not keep p after it returns.
	WriteMsg(ctx context.Context, p []byte) error
	// Close closes the connection; blocked reads and writes return.
	Close() error
}

// ErrClosed is returned by a Pipe end after it, or its peer, was closed.
var ErrClosed = errors.New("proto: connection closed")

// Pipe returns two connected in-memory MsgConns: what one writes, the other
// reads. Each direction buffers up to 64 messages before WriteMsg blocks.
// Messages are copied on write. Closing one end makes reads on the other
// return io.EOF once the buffered messages are drained (always io.EOF, never
// ErrClosed), and makes writes on either end return ErrClosed.
func Pipe() (MsgConn, MsgConn) {
	ab := newPipeDir()
	ba := newPipeDir()
	return &pipeEnd{in: ba, out: ab}, &pipeEnd{in: ab, out: ba}
}

type pipeDir struct {
	ch     chan []byte
	once   sync.Once
	closed chan struct{}
}

func newPipeDir() *pipeDir {
	return &pipeDir{ch: make(chan []byte, 64), closed: make(chan struct{})}
}

func (d *pipeDir) close() { d.once.Do(func() { close(d.closed) }) }

type pipeEnd struct {
	in, out *pipeDir
	closed  atomic.Bool // this end called Close
}

func (p *pipeEnd) ReadMsg(ctx context.Context) ([]byte, error) {
	// Buffered messages come first, whoever closed.
	select {
	case m := <-p.in.ch:
		return m, nil
	default:
	}
	if p.isClosed() {
		return nil, ErrClosed
	}
	select {
	case m := <-p.in.ch:
		return m, nil
	case <-p.in.closed:
		// Drain what was written before the close.
		select {
		case m := <-p.in.ch:
			return m, nil
		default:
		}
		if p.isClosed() {
			return nil, ErrClosed
		}
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeEnd) WriteMsg(ctx context.Context, b []byte) error {
	if p.isClosed() {
		return ErrClosed
	}
	select {
	case <-p.out.closed:
		return ErrClosed
	case <-p.in.closed:
		return ErrClosed
	default:
	}
	m := append([]byte(nil), b...)
	select {
	case p.out.ch <- m:
		return nil
	case <-p.out.closed:
		return ErrClosed
	case <-p.in.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes both directions of this end: the peer's reads return io.EOF
// once drained, this end's reads and writes return ErrClosed.
func (p *pipeEnd) Close() error {
	p.closed.Store(true)
	p.out.close()
	p.in.close()
	return nil
}

func (p *pipeEnd) isClosed() bool { return p.closed.Load() }
