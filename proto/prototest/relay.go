// Package prototest is a test harness for the secure channel of package
// proto: an in-memory relay between a viewer and a host through which
// every message passes a hook that may forward it, flip bits in it, drop,
// duplicate, reorder, truncate, reflect it back to its sender, splice it
// into another session or replay it later. It plays the malicious relay
// (adversary A2 of SECURITY.md §1) in the malicious-transport suite.
//
// A Relay is two proto.Pipe pairs and two forwarding goroutines, one per
// direction. The hook runs on the forwarding goroutine of the message's
// direction; it may call Deliver (to any end) and Cut. Messages are
// logged per direction before the hook sees them, so a test can replay
// them later. Everything is in memory and builds for WebAssembly.
package prototest

import (
	"context"
	"slices"
	"sync"

	"github.com/deskway/deskway/proto"
)

// Dir is the direction of a message.
type Dir int

const (
	ViewerToHost Dir = iota
	HostToViewer
)

func (d Dir) String() string {
	if d == ViewerToHost {
		return "viewer→host"
	}
	return "host→viewer"
}

// Reverse is the other direction.
func (d Dir) Reverse() Dir { return 1 - d }

// Msg is one message the relay received.
type Msg struct {
	Dir  Dir
	N    int    // index of the message in its direction, from 0
	Data []byte // a copy the hook may modify
}

// Hook decides what happens to a message: it calls r.Deliver zero or more
// times (with the message, a modified copy, or anything else) and may
// call r.Cut.
type Hook func(r *Relay, m Msg)

// Forward delivers every message unchanged.
func Forward(r *Relay, m Msg) { r.Deliver(m.Dir, m.Data) }

// Relay is a tampering in-memory relay. Its methods are safe for
// concurrent use.
type Relay struct {
	viewer, host proto.MsgConn // the ends the parties use
	toV, toH     proto.MsgConn // the relay's sides
	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup

	mu   sync.Mutex
	hook Hook
	log  [2][][]byte
	wmu  [2]sync.Mutex // serialises writes towards each end
}

// New starts a relay with hook (nil: Forward). Close it when done.
func New(hook Hook) *Relay {
	if hook == nil {
		hook = Forward
	}
	r := &Relay{hook: hook}
	r.viewer, r.toV = proto.Pipe()
	r.host, r.toH = proto.Pipe()
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(2)
	go r.pump(ViewerToHost, r.toV)
	go r.pump(HostToViewer, r.toH)
	return r
}

// Viewer returns the connection the viewer uses.
func (r *Relay) Viewer() proto.MsgConn { return r.viewer }

// Host returns the connection the host uses.
func (r *Relay) Host() proto.MsgConn { return r.host }

// SetHook replaces the hook for the messages that follow.
func (r *Relay) SetHook(h Hook) {
	if h == nil {
		h = Forward
	}
	r.mu.Lock()
	r.hook = h
	r.mu.Unlock()
}

// Log returns copies of every message received in direction d, in order.
func (r *Relay) Log(d Dir) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.log[d]))
	for i, m := range r.log[d] {
		out[i] = slices.Clone(m)
	}
	return out
}

// Deliver writes data to the receiving end of direction d (the host for
// ViewerToHost). It returns the pipe's error once that end is gone.
func (r *Relay) Deliver(d Dir, data []byte) error {
	c := r.toH
	if d == HostToViewer {
		c = r.toV
	}
	r.wmu[d].Lock()
	defer r.wmu[d].Unlock()
	return c.WriteMsg(r.ctx, data)
}

// Cut closes both ends as a relay that goes away does: each party reads
// EOF (after what was already delivered), never an authenticated CLOSE.
func (r *Relay) Cut() {
	r.toV.Close()
	r.toH.Close()
}

// Close cuts both ends and waits for the forwarding goroutines.
func (r *Relay) Close() {
	r.cancel()
	r.Cut()
	r.wg.Wait()
}

func (r *Relay) pump(d Dir, from proto.MsgConn) {
	defer r.wg.Done()
	for n := 0; ; n++ {
		m, err := from.ReadMsg(r.ctx)
		if err != nil {
			// The sender went away: let the other end see EOF too.
			if d == ViewerToHost {
				r.toH.Close()
			} else {
				r.toV.Close()
			}
			return
		}
		r.mu.Lock()
		r.log[d] = append(r.log[d], slices.Clone(m))
		hook := r.hook
		r.mu.Unlock()
		hook(r, Msg{Dir: d, N: n, Data: slices.Clone(m)})
	}
}

// FlipBit flips bit (0 = least significant bit of byte 0) of message n in
// direction d and forwards everything else.
func FlipBit(d Dir, n, bit int) Hook {
	return func(r *Relay, m Msg) {
		if m.Dir == d && m.N == n && bit/8 < len(m.Data) {
			m.Data[bit/8] ^= 1 << (bit % 8)
		}
		r.Deliver(m.Dir, m.Data)
	}
}

// Edit replaces message n of direction d by f(message).
func Edit(d Dir, n int, f func([]byte) []byte) Hook {
	return func(r *Relay, m Msg) {
		if m.Dir == d && m.N == n {
			m.Data = f(m.Data)
		}
		r.Deliver(m.Dir, m.Data)
	}
}

// Drop drops message n of direction d.
func Drop(d Dir, n int) Hook {
	return func(r *Relay, m Msg) {
		if m.Dir == d && m.N == n {
			return
		}
		r.Deliver(m.Dir, m.Data)
	}
}

// Duplicate delivers message n of direction d twice.
func Duplicate(d Dir, n int) Hook {
	return func(r *Relay, m Msg) {
		r.Deliver(m.Dir, m.Data)
		if m.Dir == d && m.N == n {
			r.Deliver(m.Dir, m.Data)
		}
	}
}

// Swap delivers message n+1 of direction d before message n.
func Swap(d Dir, n int) Hook {
	var held []byte
	return func(r *Relay, m Msg) {
		switch {
		case m.Dir == d && m.N == n:
			held = m.Data
		case m.Dir == d && m.N == n+1:
			r.Deliver(m.Dir, m.Data)
			r.Deliver(m.Dir, held)
		default:
			r.Deliver(m.Dir, m.Data)
		}
	}
}

// Reflect sends message n of direction d back to its sender instead of
// forwarding it.
func Reflect(d Dir, n int) Hook {
	return func(r *Relay, m Msg) {
		if m.Dir == d && m.N == n {
			r.Deliver(m.Dir.Reverse(), m.Data)
			return
		}
		r.Deliver(m.Dir, m.Data)
	}
}

// CutAt cuts the connection instead of delivering message n of
// direction d (a truncation: EOF without CLOSE).
func CutAt(d Dir, n int) Hook {
	return func(r *Relay, m Msg) {
		if m.Dir == d && m.N >= n {
			r.Cut()
			return
		}
		r.Deliver(m.Dir, m.Data)
	}
}

// StallFrom silently holds message n of direction d and everything after
// it in that direction (a stalled relay that keeps the connections open).
func StallFrom(d Dir, n int) Hook {
	return func(r *Relay, m Msg) {
		if m.Dir == d && m.N >= n {
			return
		}
		r.Deliver(m.Dir, m.Data)
	}
}
