//go:build linux

package relay

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
)

// The epoll engine. Outbound flow of a pair session, all on the loop that
// owns the session:
//
//	epoll_wait returns src readable
//	read(src.fd, l.buf)                    one syscall per chunk
//	process: for each client frame, parse the header, unmask the payload
//	  in place, write the unmasked server header in place just before
//	  it and slide the payload down (the output never overtakes the input:
//	  a server header is 4 bytes shorter than the client's)
//	forward: write(dst.fd, l.buf[:w])       one syscall per chunk
//	  if dst's socket is full: copy the rest to dst.out (pooled), pause
//	  src until EPOLLOUT on dst drains it.
//
// Control frames (ping, pong, close) are answered by the relay; notices
// and control frames to an end whose outgoing stream is in the middle of
// a forwarded message wait in conn.deferred for the message's end.

const (
	readBufSize = 128 << 10
	maxEvents   = 256
	// hostQueueBytes bounds what viewers may queue to a presentation
	// host before the relay stops reading them.
	hostQueueBytes = 256 << 10
	// closeLinger bounds how long a closing connection may take to
	// flush its close frame.
	closeLinger = 2 * time.Second
)

func newEngine(s *Server) (engine, error) {
	switch s.cfg.Engine {
	case EngineAuto, EngineEpoll:
	case EngineGoroutine:
		return newGoEngine(s), nil
	default:
		return nil, fmt.Errorf("relay: engine %q not available", s.cfg.Engine)
	}
	e := &epollEngine{s: s}
	for i := range s.cfg.Loops {
		l, err := newLoop(s, e, i)
		if err != nil {
			for _, l := range e.loops {
				l.closeFDs()
			}
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	for _, l := range e.loops {
		e.wg.Add(1)
		go l.run()
	}
	return e, nil
}

type epollEngine struct {
	s     *Server
	loops []*loop
	next  atomic.Uint32
	wg    sync.WaitGroup
	nconn atomic.Int64
}

func (e *epollEngine) serve(nc net.Conn, buffered []byte) {
	fd, err := takeFD(nc)
	if err != nil {
		e.s.log.Warn("relay: cannot take over connection", "err", err)
		nc.Close()
		return
	}
	l := e.loops[int(e.next.Add(1))%len(e.loops)]
	c := &conn{fd: int32(fd), state: stTicket}
	if len(buffered) > 0 {
		c.carry, c.stash = buffered, true
	}
	e.nconn.Add(1)
	if !l.post(func(l *loop) { l.adopt(c, true) }) {
		unix.Close(fd) // the loop has stopped
		e.nconn.Add(-1)
	}
}

func (e *epollEngine) drain() {
	for _, l := range e.loops {
		l.post(func(l *loop) { l.drain() })
	}
}

func (e *epollEngine) closeAll() {
	for _, l := range e.loops {
		l.post(func(l *loop) { l.closeAll() })
	}
}

func (e *epollEngine) wait() { e.wg.Wait() }

func (e *epollEngine) conns() int64 { return e.nconn.Load() }

func (e *epollEngine) collect(st *statsSnapshot) {
	for _, l := range e.loops {
		l.stats.addTo(st)
	}
}

// takeFD takes the socket out of net/http and the Go netpoller: it
// duplicates the descriptor and closes the original, which deregisters
// it from the runtime's epoll. A connection that is not a plain socket
// (TLS served in-process) is bridged through a socket pair.
func takeFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if _, tcp := nc.(*net.TCPConn); !ok || !tcp {
		return bridge(nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	nc.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// bridge connects nc to a new socket pair and returns the loop's end:
// two goroutines copy between nc and the pair. It serves TLS connections
// accepted by the process itself; behind a TLS-terminating proxy the
// relay takes the socket directly.
func bridge(nc net.Conn) (int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		nc.Close()
		return -1, fmt.Errorf("socketpair: %w", err)
	}
	f := os.NewFile(uintptr(fds[1]), "relay-bridge")
	pc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		unix.Close(fds[0])
		nc.Close()
		return -1, err
	}
	cp := func(dst, src net.Conn) {
		bp := bridgePool.Get().(*[]byte)
		_, _ = copyBuffer(dst, src, *bp)
		bridgePool.Put(bp)
		dst.Close()
		src.Close()
	}
	go cp(pc, nc)
	go cp(nc, pc)
	return fds[0], nil
}

var bridgePool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

func copyBuffer(dst, src net.Conn, buf []byte) (int64, error) {
	var n int64
	for {
		r, err := src.Read(buf)
		if r > 0 {
			w, werr := dst.Write(buf[:r])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if err != nil {
			return n, err
		}
	}
}

// connection states
const (
	stTicket  uint8 = iota // waiting for the ticket
	stWaiting              // in a session, no peer
	stPaired               // in a session with a peer
)

// routes of the message being read from a connection
const (
	routeNone    uint8 = iota // between messages
	routeStream               // streamed to the pair peer frame by frame
	routeWhole                // collected whole in conn.msg (ticket, presentation)
	routeDiscard              // dropped (the peer left mid-message)
)

// pause reasons
const (
	pauseBackpressure uint8 = 1 << iota // the peer's socket is full
	pauseWaiting                        // data before the peer came
	pauseThrottle                       // over a byte-rate cap
	pauseMigrating                      // moving to another loop
)

// conn is one client connection. It is owned by one loop; only that
// loop's goroutine touches it after adopt.
type conn struct {
	fd    int32
	state uint8
	role  proto.Role
	slot  uint32
	sess  *session
	l     *loop

	// Reader state: the frame being read.
	op      opcode
	fin     bool
	inFrame bool
	inMsg   bool // a data message is in progress (fragments)
	route   uint8
	koff    uint8
	key     [4]byte
	rem     int64 // payload bytes left in the frame
	msgLen  int64 // bytes of the message so far
	msg     []byte
	ctl     []byte
	carry   []byte // unparsed input kept between reads
	stash   bool   // carry holds data to process even without a read

	readable bool
	paused   uint8
	closing  bool
	closed   bool
	shutWr   bool // the close frame went out
	hup      bool // the peer closed its side

	// Writer state.
	out      []byte // pending output, from outOff
	outOff   int
	blocked  bool  // out could not be written: waiting for EPOLLOUT
	dirty    bool  // out has data not yet tried
	outSince int64 // when out last became non-empty
	outMsg   bool  // a forwarded message into this conn is in progress
	deferred []byte
	waiters  []*conn // sources paused until out drains
	scan     int     // start of a frame at or before outOff (presentation drops)

	since    int64 // unix nanos: accepted (ticket) or waiting since
	lastRead int64
	pinged   bool
	closeBy  int64 // closing: give up flushing at this time
	ticket   *proto.Ticket
}

// loop is one event loop: an epoll instance, the connections registered
// with it, and the sessions they belong to. Everything but inbox is owned
// by the loop's goroutine.
type loop struct {
	s    *Server
	e    *epollEngine
	id   int
	epfd int
	efd  int // eventfd to wake the loop for inbox tasks

	mu    sync.Mutex
	inbox []func(*loop)
	dead  bool        // the loop stopped: post refuses
	soon  atomic.Bool // a wake-up in 10 ms is armed

	buf      []byte
	events   []unix.EpollEvent
	conns    []*conn // by fd
	nconns   int
	now      time.Time
	nowNano  int64
	lastTick int64
	again    []*conn
	dirty    []*conn
	throttle []*conn
	stopping bool

	stats loopStats
}

func newLoop(s *Server, e *epollEngine, id int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("relay: epoll_create: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("relay: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("relay: epoll_ctl: %w", err)
	}
	return &loop{s: s, e: e, id: id, epfd: epfd, efd: efd,
		buf: make([]byte, readBufSize), events: make([]unix.EpollEvent, maxEvents)}, nil
}

func (l *loop) closeFDs() {
	unix.Close(l.epfd)
	unix.Close(l.efd)
}

// post runs f on the loop's goroutine; it returns false when the loop
// has stopped.
func (l *loop) post(f func(*loop)) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	wake := len(l.inbox) == 0
	l.inbox = append(l.inbox, f)
	l.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		unix.Write(l.efd, one[:])
	}
	return true
}

// run serves the loop until it stops. The loop's epoll descriptor is
// itself registered with the Go runtime's netpoller: the goroutine parks
// in the scheduler while nothing is ready and polls its own epoll without
// blocking when woken. A goroutine blocked in epoll_wait instead would
// cost a thread hand-off on every wake-up.
func (l *loop) run() {
	defer l.e.wg.Done()
	l.tickClock()
	l.lastTick = l.nowNano
	if err := unix.SetNonblock(l.epfd, true); err != nil {
		l.s.log.Error("relay: epoll fd", "err", err)
		l.closeFDs()
		return
	}
	f := os.NewFile(uintptr(l.epfd), "relay-epoll")
	defer unix.Close(l.efd)
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		l.s.log.Error("relay: epoll fd", "err", err)
		return
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	tickDone := make(chan struct{})
	defer close(tickDone)
	go func() {
		for {
			select {
			case <-ticker.C:
				l.post(nil) // a nil task just wakes the loop
			case <-tickDone:
				return
			}
		}
	}()
	done := false
	poll := func(uintptr) bool { // made once: a closure per wake-up would allocate
		done = l.poll()
		return done
	}
	for {
		err := rc.Read(poll)
		if done || err != nil {
			if err != nil {
				l.s.log.Error("relay: epoll", "err", err)
			}
			return
		}
	}
}

// poll handles what is ready without blocking. It returns true when the
// loop has stopped, false when it should park until the epoll descriptor
// is readable.
func (l *loop) poll() bool {
	for {
		n, err := rawEpollPoll(l.epfd, l.events)
		if err != 0 && err != unix.EINTR {
			l.s.log.Error("relay: epoll_wait", "err", err)
			return true
		}
		l.tickClock()
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			if ev.Fd == int32(l.efd) {
				var b [8]byte
				unix.Read(l.efd, b[:])
				continue
			}
			c := l.lookup(ev.Fd)
			if c == nil {
				continue
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.blocked {
				l.flush(c)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !c.closed {
				c.readable = true
				if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					// The peer closed: read on past short reads to the
					// end of file, no further edge will come.
					c.hup = true
				}
				if c.paused != 0 && !c.closing && c.paused&pauseBackpressure == 0 && ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					// Gone while waiting or throttled: nobody gets its data.
					l.closeConn(c, 0, "", "closed")
					continue
				}
				l.onReadable(c)
			}
		}
		l.runInbox()
		if len(l.again) > 0 {
			again := l.again
			l.again = nil
			for _, c := range again {
				l.onReadable(c)
			}
		}
		l.flushDirty()
		if len(l.throttle) > 0 {
			l.unthrottle()
		}
		if l.nowNano-l.lastTick >= int64(time.Second) || (l.stopping && l.nowNano-l.lastTick >= int64(50*time.Millisecond)) {
			l.lastTick = l.nowNano
			l.tick()
		}
		if l.stopping && l.nconns == 0 {
			l.mu.Lock()
			l.dead = true
			l.mu.Unlock()
			l.runInbox()
			if l.nconns > 0 { // adopted at the last moment: adopt closes them
				l.mu.Lock()
				l.dead = false
				l.mu.Unlock()
				continue
			}
			return true
		}
		if n < len(l.events) && len(l.again) == 0 {
			if len(l.throttle) > 0 || l.stopping {
				// Come back soon: a cap may have refilled, a closing
				// connection may need finishing.
				if l.soon.CompareAndSwap(false, true) {
					time.AfterFunc(10*time.Millisecond, func() { l.soon.Store(false); l.post(nil) })
				}
			}
			return false
		}
	}
}

func (l *loop) tickClock() {
	l.now = time.Now()
	l.nowNano = l.now.UnixNano()
}

func (l *loop) runInbox() {
	l.mu.Lock()
	tasks := l.inbox
	l.inbox = nil
	l.mu.Unlock()
	for _, f := range tasks {
		if f != nil {
			f(l)
		}
	}
}

func (l *loop) lookup(fd int32) *conn {
	if int(fd) < len(l.conns) {
		return l.conns[fd]
	}
	return nil
}

// adopt registers c with this loop's epoll.
func (l *loop) adopt(c *conn, fresh bool) {
	c.l = l
	for int(c.fd) >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, max(len(l.conns), 64))...)
	}
	l.conns[c.fd] = c
	l.nconns++
	if fresh {
		c.since, c.lastRead = l.nowNano, l.nowNano
		l.stats.conns.Add(1)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: c.fd}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
		l.s.log.Warn("relay: epoll_ctl add", "err", err)
		l.finish(c)
		return
	}
	if l.stopping {
		l.closeConn(c, int(ws.CloseDraining), "relay draining", "drain")
		return
	}
	if c.stash {
		l.again = append(l.again, c)
	}
}

// release removes c from this loop without closing it (migration).
func (l *loop) release(c *conn) {
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, int(c.fd), nil)
	l.conns[c.fd] = nil
	l.nconns--
}

// onReadable reads one chunk from c and processes it. A connection with
// more to read goes on l.again so that others get their turn.
func (l *loop) onReadable(c *conn) {
	if c.closed {
		return
	}
	if c.closing {
		if c.shutWr {
			l.discard(c)
		}
		return
	}
	if c.paused != 0 || !(c.readable || c.stash) {
		return
	}
	buf := l.buf
	n0 := 0
	if len(c.carry) > 0 {
		if len(c.carry) > len(buf)/2 {
			// A large stash (data that arrived before the peer):
			// process it on its own.
			data := c.carry
			c.carry, c.stash = nil, false
			l.process(c, data)
			l.flushDirty()
			if c.paused == 0 && c.readable {
				l.again = append(l.again, c)
			}
			return
		}
		n0 = copy(buf, c.carry)
		c.carry = c.carry[:0]
	}
	c.stash = false
	n := 0
	eof := false
	if c.readable {
		want := len(buf) - n0
		var err unix.Errno
		n, err = rawRead(c.fd, buf[n0:n0+want])
		switch {
		case err == unix.EAGAIN:
			c.readable, n = false, 0
		case err == unix.EINTR:
			n = 0
			l.again = append(l.again, c)
		case err != 0:
			l.closeConn(c, 0, "", "error")
			return
		case n == 0:
			eof, c.readable = true, false
		case n < want:
			c.readable = c.hup
		default:
			l.again = append(l.again, c)
		}
		if n > 0 {
			c.lastRead, c.pinged = l.nowNano, false
			l.account(c, int64(n))
		}
	}
	if n0+n > 0 {
		l.process(c, buf[:n0+n])
	}
	if eof && !c.closing {
		l.closeConn(c, 0, "", "closed")
	}
	l.flushDirty()
}

// account charges n bytes read from c to the byte-rate caps and pauses c
// when a cap is exceeded.
func (l *loop) account(c *conn, n int64) {
	over := false
	if s := c.sess; s != nil && s.rate != nil && !s.rate.take(n, l.now) {
		over = true
	}
	if g := l.s.global; g != nil {
		g.mu.Lock()
		if !g.take(n, l.now) {
			over = true
		}
		g.mu.Unlock()
	}
	if over && c.paused&pauseThrottle == 0 {
		c.paused |= pauseThrottle
		l.throttle = append(l.throttle, c)
	}
}

func (l *loop) unthrottle() {
	keep := l.throttle[:0]
	for _, c := range l.throttle {
		if c.closing {
			continue
		}
		ok := c.sess == nil || c.sess.rate == nil || c.sess.rate.ok(l.now)
		if g := l.s.global; ok && g != nil {
			g.mu.Lock()
			ok = g.ok(l.now)
			g.mu.Unlock()
		}
		if !ok {
			keep = append(keep, c)
			continue
		}
		l.unpause(c, pauseThrottle)
	}
	clear(l.throttle[len(keep):])
	l.throttle = keep
}

func (l *loop) unpause(c *conn, why uint8) {
	if c.paused&why == 0 {
		return
	}
	c.paused &^= why
	if c.paused == 0 && !c.closing && (c.readable || c.stash) {
		l.again = append(l.again, c)
	}
}

// process parses the client frames in b (which it may rewrite) and acts
// on them. See the flow at the top of this file.
func (l *loop) process(c *conn, b []byte) {
	var dst *conn
	if c.state == stPaired && c.sess.mode != proto.ModePresentation {
		dst = l.peer(c)
	}
	// The output for dst is b[o:w]: the first frame's server header goes
	// right before its payload (it is shorter than the client's header),
	// so a lone frame, or the middle of a large one, is not moved at all;
	// later frames of the same chunk slide down to w.
	p, o, w := 0, -1, 0
	var fwd int64
	for p < len(b) && !c.closing {
		if !c.inFrame {
			h, hn, err := parseHeader(b[p:])
			if err != nil {
				l.fail(c, 1002, err.Error(), "error")
				return
			}
			if hn == 0 {
				c.carry = append(c.carry[:0], b[p:]...)
				break
			}
			if !h.op.control() {
				if h.op == opContinuation {
					if !c.inMsg {
						l.fail(c, 1002, "continuation without a message", "error")
						return
					}
				} else {
					if c.inMsg {
						l.fail(c, 1002, "new message inside a fragmented one", "error")
						return
					}
					// A new message: decide where it goes.
					r := l.routeFor(c, h.op)
					if r == routeNone {
						// Not now: keep the input and stop reading.
						if o >= 0 {
							l.forward(c, dst, b[o:w], fwd)
						}
						c.carry = append(c.carry[:0], b[p:]...)
						c.stash = true
						return
					}
					if c.closing {
						return
					}
					c.route, c.inMsg, c.msgLen = r, true, 0
					if r == routeStream {
						dst = l.peer(c)
					}
				}
				c.msgLen += h.length
				if c.msgLen > int64(l.maxMessage(c)) {
					l.fail(c, int(ws.CloseLimit), fmt.Sprintf("message of %d bytes exceeds %d", c.msgLen, l.maxMessage(c)), "limit")
					l.s.stats.failures[failLimit].Add(1)
					return
				}
			}
			p += hn
			c.op, c.fin, c.rem, c.key, c.koff, c.inFrame = h.op, h.fin, h.length, h.key, 0, true
			if !h.op.control() && c.route == routeStream {
				if o < 0 {
					o = p - serverHeaderLen(h.length)
					w = o
				}
				w += putServerHeader(b[w:], h.fin, h.op, h.length)
				dst.outMsg = true
			}
		}
		k := int(min(c.rem, int64(len(b)-p)))
		seg := b[p : p+k]
		c.koff = uint8(unmask(seg, c.key, int(c.koff)))
		switch {
		case c.op.control():
			c.ctl = append(c.ctl, seg...)
		case c.route == routeStream:
			if o < 0 {
				o, w = p, p
			}
			if w != p {
				copy(b[w:], seg)
			}
			w += k
			fwd += int64(k)
		case c.route == routeWhole:
			c.msg = append(c.msg, seg...)
		}
		p += k
		c.rem -= int64(k)
		if c.rem > 0 {
			break
		}
		// End of a frame.
		c.inFrame = false
		if c.op.control() {
			l.control(c, c.op, c.ctl)
			c.ctl = c.ctl[:0]
			continue
		}
		if !c.fin {
			continue
		}
		// End of a message.
		c.inMsg = false
		r := c.route
		c.route = routeNone
		switch r {
		case routeStream:
			dst.outMsg = false
			l.countMsg(c)
			if len(dst.deferred) > 0 {
				l.forward(c, dst, b[o:w], fwd)
				o, w, fwd = -1, 0, 0
				d := dst.deferred
				dst.deferred = nil
				l.queue(dst, d)
			}
		case routeWhole:
			m := c.msg
			c.msg = nil
			if c.state == stTicket {
				// What follows the ticket is processed once the
				// connection is in its session, maybe on another
				// loop, which may own c as soon as admit returns.
				if p < len(b) {
					c.carry = append(c.carry[:0], b[p:]...)
					c.stash = true
				}
				l.admit(c, m)
				return
			}
			l.message(c, m)
			if cap(m) <= 4<<10 && c.msg == nil {
				c.msg = m[:0]
			}
		}
	}
	if o >= 0 && w > o {
		l.forward(c, dst, b[o:w], fwd)
	}
}

func (l *loop) maxMessage(c *conn) int {
	if c.state == stTicket {
		return proto.MaxTicketSize
	}
	return l.s.cfg.MaxMessageBytes
}

// routeFor decides where a new message from c goes. routeNone means
// "not yet": c is paused until its peer comes.
func (l *loop) routeFor(c *conn, op opcode) uint8 {
	if c.state == stTicket {
		if op != opBinary {
			l.fail(c, int(ws.CloseTicketInvalid), "the first message must be the binary ticket", "error")
			l.s.stats.failures[failTicketInvalid].Add(1)
			return routeDiscard
		}
		return routeWhole
	}
	if op != opBinary {
		l.fail(c, 1003, "only binary messages are forwarded", "error")
		return routeDiscard
	}
	if c.sess.mode == proto.ModePresentation {
		return routeWhole
	}
	if c.state != stPaired {
		c.paused |= pauseWaiting
		return routeNone
	}
	return routeStream
}

func (l *loop) countMsg(c *conn) {
	if c.role == proto.RoleHost {
		l.stats.msgsFromHost.Add(1)
	} else {
		l.stats.msgsToHost.Add(1)
	}
}

// forward writes a chunk of server frames read from src to dst.
func (l *loop) forward(src, dst *conn, p []byte, payload int64) {
	if payload > 0 && src.sess != nil {
		if src.role == proto.RoleHost {
			src.sess.fromHost += payload
			l.stats.bytesFromHost.Add(payload)
		} else {
			src.sess.toHost += payload
			l.stats.bytesToHost.Add(payload)
		}
	}
	if dst == nil || dst.closing {
		return
	}
	if len(dst.out) > dst.outOff && !dst.blocked {
		l.flush(dst)
	}
	if len(dst.out) == dst.outOff {
		n, err := rawWrite(dst.fd, p)
		if err != 0 && err != unix.EAGAIN && err != unix.EINTR {
			l.closeConn(dst, 0, "", "error")
			return
		}
		n = max(n, 0)
		l.stats.observe(time.Since(l.now))
		if n == len(p) {
			return
		}
		p = p[n:]
		dst.blocked = true
	}
	l.append(dst, p)
	if dst.blocked {
		src.paused |= pauseBackpressure
		dst.waiters = append(dst.waiters, src)
	}
}

// append adds p to c's pending output.
func (l *loop) append(c *conn, p []byte) {
	if len(c.out) == c.outOff {
		c.out, c.outOff, c.scan = c.out[:0], 0, 0
		c.outSince = l.nowNano
		if c.out == nil {
			c.out = getBuf(len(p))
		}
	}
	c.out = append(c.out, p...)
}

// queue adds relay-made frames (notices, control) to c's output, at once
// unless a forwarded message into c is in progress.
func (l *loop) queue(c *conn, frames []byte) {
	if c.closing {
		return
	}
	if c.outMsg {
		c.deferred = append(c.deferred, frames...)
		return
	}
	l.append(c, frames)
	if !c.dirty && !c.blocked {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

func (l *loop) notice(c *conn, n ws.Notice) {
	b, _ := appendNotice(nil, n)
	l.queue(c, b)
}

func (l *loop) flushDirty() {
	for len(l.dirty) > 0 {
		d := l.dirty
		l.dirty = nil
		for _, c := range d {
			c.dirty = false
			if !c.blocked && !c.closed {
				l.flush(c)
			}
		}
	}
}

// flush writes c's pending output; when it drains, the sources paused on
// c resume.
func (l *loop) flush(c *conn) {
	if c.closed {
		return
	}
	for c.outOff < len(c.out) {
		n, err := rawWrite(c.fd, c.out[c.outOff:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			c.blocked = true
			return
		}
		if err != 0 {
			c.out, c.outOff = c.out[:0], 0
			l.closeConn(c, 0, "", "error")
			return
		}
		c.outOff += n
	}
	c.blocked = false
	l.stats.observe(time.Duration(time.Now().UnixNano() - c.outSince))
	putBuf(c.out)
	c.out, c.outOff, c.scan = nil, 0, 0
	for _, w := range c.waiters {
		l.unpause(w, pauseBackpressure)
	}
	clear(c.waiters)
	c.waiters = c.waiters[:0]
	if c.closing {
		l.closeSent(c)
	}
}

// control handles a control frame from c.
func (l *loop) control(c *conn, op opcode, p []byte) {
	switch op {
	case opPing:
		l.queue(c, appendFrame(nil, opPong, p))
	case opPong:
	case opClose:
		code := 1000
		if len(p) >= 2 {
			code = int(binary.BigEndian.Uint16(p))
		}
		if code < 1000 || code == 1005 || code == 1006 || code == 1015 || code >= 5000 {
			code = 1002
		}
		l.closeConn(c, code, "", "closed")
	}
}

// message handles a whole message from c (the ticket, or presentation
// traffic).
func (l *loop) message(c *conn, m []byte) {
	if c.state == stTicket {
		l.admit(c, m)
		return
	}
	s := c.sess
	if c.role == proto.RoleHost {
		l.countMsg(c)
		if len(m) < 4 {
			l.fail(c, 1002, "presentation message without a slot", "error")
			return
		}
		slot := binary.BigEndian.Uint32(m)
		body := m[4:]
		s.fromHost += int64(len(body))
		l.stats.bytesFromHost.Add(int64(len(body)))
		var h [10]byte
		hn := putServerHeader(h[:], true, opBinary, int64(len(body)))
		if slot != 0 {
			if v := s.viewers[slot]; v != nil {
				l.fanout(v, h[:hn], body)
			}
			return
		}
		for _, v := range s.viewers {
			l.fanout(v, h[:hn], body)
		}
		return
	}
	// A viewer's message to the host, prefixed with the viewer's slot.
	l.countMsg(c)
	s.toHost += int64(len(m))
	l.stats.bytesToHost.Add(int64(len(m)))
	h := s.host
	if h == nil || h.closing {
		return
	}
	var hdr [14]byte
	hn := putServerHeader(hdr[:], true, opBinary, int64(len(m)+4))
	binary.BigEndian.PutUint32(hdr[hn:], c.slot)
	l.queue(h, hdr[:hn+4])
	l.queue(h, m)
	if len(h.out)-h.outOff > hostQueueBytes {
		c.paused |= pauseBackpressure
		h.waiters = append(h.waiters, c)
	}
}

// fanout queues one frame to a presentation viewer, dropping what the
// viewer has queued when it would overflow.
func (l *loop) fanout(v *conn, hdr, body []byte) {
	if v.closing || v.state != stPaired {
		return
	}
	if len(v.out)-v.outOff+len(hdr)+len(body) > l.s.cfg.ViewerQueueBytes && !v.blocked {
		l.flush(v) // what is only waiting for the end of this read may go
	}
	if len(v.out)-v.outOff+len(hdr)+len(body) > l.s.cfg.ViewerQueueBytes {
		n := dropQueued(v)
		fits := len(v.out)-v.outOff+len(hdr)+len(body) <= l.s.cfg.ViewerQueueBytes
		if !fits {
			n++ // this message alone does not fit
		}
		l.stats.drops.Add(n)
		if n > 0 {
			l.notice(v, ws.Notice{Type: ws.NoticeLost, Count: n})
		}
		if !fits {
			return
		}
	}
	l.queue(v, hdr)
	l.queue(v, body)
}

// dropQueued drops the frames of v's output that have not started and
// returns how many data messages it dropped.
func dropQueued(v *conn) int64 {
	pos := v.scan
	keep := v.outOff
	for pos < len(v.out) {
		fl := serverFrameLen(v.out[pos:])
		if pos+fl <= v.outOff {
			pos += fl
			continue
		}
		if pos < v.outOff {
			keep = pos + fl // in progress: keep the rest of it
		} else {
			keep = pos
		}
		break
	}
	v.scan = pos
	// Drop the data messages; keep notices and control frames.
	var n int64
	w := keep
	for q := keep; q < len(v.out); {
		fl := serverFrameLen(v.out[q:])
		if opcode(v.out[q]&0x0F) == opBinary {
			n++
		} else {
			w += copy(v.out[w:], v.out[q:q+fl])
		}
		q += fl
	}
	v.out = v.out[:w]
	return n
}

// serverFrameLen returns the length of the server frame at the start of b.
func serverFrameLen(b []byte) int {
	switch l := b[1] & 0x7F; l {
	case 126:
		return 4 + int(binary.BigEndian.Uint16(b[2:]))
	case 127:
		return 10 + int(binary.BigEndian.Uint64(b[2:]))
	default:
		return 2 + int(l)
	}
}

// admit verifies c's ticket and puts c into its session.
func (l *loop) admit(c *conn, b []byte) {
	t, aerr := l.s.verify(b, l.now)
	if aerr != nil {
		l.refuse(c, aerr)
		return
	}
	c.ticket = t
	l.join(c)
}

func (l *loop) refuse(c *conn, e *admitError) {
	l.s.stats.failures[e.fail].Add(1)
	l.s.log.Info("connection refused", "code", int(e.code), "reason", e.reason)
	l.closeConn(c, int(e.code), e.code.String(), failureNames[e.fail])
}

// join puts c (with a verified ticket) into its session, moving c to the
// session's loop first when another loop owns it.
func (l *loop) join(c *conn) {
	t := c.ticket
	sess, aerr := l.s.lookup(t, l, l.now)
	if aerr != nil {
		l.refuse(c, aerr)
		return
	}
	if owner := sess.owner.(*loop); owner != l {
		l.release(c)
		c.paused |= pauseMigrating
		owner.post(func(o *loop) {
			c.paused &^= pauseMigrating
			o.adopt(c, false)
			if !c.closing {
				o.join(c)
			}
		})
		return
	}
	if sess.dead {
		// It ended while c moved here: start it again.
		l.join(c)
		return
	}
	reject := func(why string) {
		l.refuse(c, &admitError{ws.CloseSessionFull, failSessionFull, why})
		if sess.empty() {
			l.s.remove(sess, "session_full", l.now)
		}
	}
	if sess.rate == nil {
		if r := l.sessionRate(t); r > 0 {
			sess.rate = newBucket(r, l.now)
		}
	} else if r := l.sessionRate(t); r > 0 && r < sess.rate.rate {
		sess.rate.rate = r
	}
	c.sess, c.role, c.ticket = sess, t.Role, nil
	switch {
	case t.Role == proto.RoleHost:
		if sess.host != nil {
			c.sess = nil
			reject("a host is already connected")
			return
		}
		sess.host = c
	case sess.mode == proto.ModePresentation:
		if len(sess.viewers) >= l.s.cfg.MaxViewers {
			c.sess = nil
			reject("presentation full")
			return
		}
		if sess.viewers == nil {
			sess.viewers = make(map[uint32]*conn)
		}
		sess.nextSlot++
		c.slot = sess.nextSlot
		sess.viewers[c.slot] = c
	default:
		if sess.viewer != nil {
			c.sess = nil
			reject("a viewer is already connected")
			return
		}
		sess.viewer = c
	}
	c.state, c.since = stWaiting, l.nowNano
	l.notice(c, ws.Notice{Type: ws.NoticeWaiting})
	sess.log.Debug("end joined", "role", c.role, "slot", c.slot)
	l.pair(sess, c)
	if c.stash {
		l.again = append(l.again, c)
	}
}

func (l *loop) sessionRate(t *proto.Ticket) int64 {
	r := l.s.cfg.SessionBytesPerSecond
	if t.MaxBytesPerSecond > 0 && (r == 0 || int64(t.MaxBytesPerSecond) < r) {
		r = int64(t.MaxBytesPerSecond)
	}
	return r
}

// pair sends "paired" to the ends that now have a peer after c joined.
func (l *loop) pair(s *session, c *conn) {
	if s.mode != proto.ModePresentation {
		h, v := s.host, s.viewer
		if h == nil || v == nil {
			return
		}
		for _, e := range [2]*conn{h, v} {
			e.state = stPaired
			l.notice(e, ws.Notice{Type: ws.NoticePaired, Viewers: 1})
			l.unpause(e, pauseWaiting)
		}
		s.log.Info("session paired")
		return
	}
	h := s.host
	if h == nil || len(s.viewers) == 0 {
		return
	}
	n := len(s.viewers)
	if c == h {
		// The host came (back): every viewer is paired now.
		for slot, v := range s.viewers {
			v.state = stPaired
			l.notice(v, ws.Notice{Type: ws.NoticePaired, Viewers: n})
			l.notice(h, ws.Notice{Type: ws.NoticePaired, Viewers: n, Slot: slot})
		}
	} else {
		c.state = stPaired
		l.notice(c, ws.Notice{Type: ws.NoticePaired, Viewers: n})
		l.notice(h, ws.Notice{Type: ws.NoticePaired, Viewers: n, Slot: c.slot})
	}
	h.state = stPaired
	s.log.Info("presentation viewer paired", "viewers", n)
}

// peer returns c's peer in a pair session.
func (l *loop) peer(c *conn) *conn {
	if c.role == proto.RoleHost {
		return c.sess.viewer
	}
	return c.sess.host
}

// leave takes c out of its session and tells the others.
func (l *loop) leave(c *conn, reason string) {
	s := c.sess
	if s == nil {
		return
	}
	c.sess = nil
	s.reason = reason
	left := ws.Notice{Type: ws.NoticePeerLeft}
	var others []*conn
	switch {
	case c.role == proto.RoleHost:
		s.host = nil
		if s.mode == proto.ModePresentation {
			for _, v := range s.viewers {
				others = append(others, v)
			}
		} else if s.viewer != nil {
			others = append(others, s.viewer)
		}
	case s.mode == proto.ModePresentation:
		delete(s.viewers, c.slot)
		left.Slot = c.slot
		if s.host != nil {
			s.host.state = stWaiting
			if len(s.viewers) > 0 {
				s.host.state = stPaired
			}
			l.peerLeft(s.host, c, left)
		}
	default:
		s.viewer = nil
		if s.host != nil {
			others = append(others, s.host)
		}
	}
	for _, o := range others {
		o.state, o.since = stWaiting, l.nowNano
		l.peerLeft(o, c, left)
	}
	for _, w := range c.waiters {
		l.unpause(w, pauseBackpressure)
	}
	c.waiters = nil
	if s.empty() {
		l.s.remove(s, reason, l.now)
	}
}

// peerLeft tells o that c left.
func (l *loop) peerLeft(o, c *conn, n ws.Notice) {
	if o.outMsg && c.route == routeStream {
		// c left in the middle of a message streamed into o: o's
		// stream cannot be completed.
		o.outMsg = false
		o.deferred = o.deferred[:0]
		l.closeConn(o, 0, "", "error")
		return
	}
	if o.route == routeStream && o.inMsg {
		o.route = routeDiscard // the rest of o's message goes nowhere
	}
	l.notice(o, n)
}

// fail closes c with a protocol or limit error.
func (l *loop) fail(c *conn, code int, reason, endReason string) {
	l.s.log.Debug("connection failed", "code", code, "reason", reason)
	l.closeConn(c, code, reason, endReason)
}

// closeConn takes c out of its session and closes it, with a close frame
// when code is not 0 and c's outgoing stream is between messages.
func (l *loop) closeConn(c *conn, code int, reason, endReason string) {
	if c.closing {
		return
	}
	c.closing = true
	l.leave(c, endReason)
	c.carry, c.msg, c.ctl, c.deferred = nil, nil, nil, nil
	if code != 0 && !c.outMsg && !c.closed {
		c.closeBy = l.nowNano + int64(closeLinger)
		l.append(c, appendClose(nil, code, reason))
		if !c.blocked {
			l.flush(c)
		}
		return
	}
	l.finish(c)
}

// closeSent runs when c's close frame is out: stop sending and read what
// the client still sends until it closes too (closing a socket with
// unread input would reset the connection and could lose the close frame
// at the client), or until closeBy.
func (l *loop) closeSent(c *conn) {
	if c.shutWr {
		return
	}
	c.shutWr = true
	unix.Shutdown(int(c.fd), unix.SHUT_WR)
	l.discard(c)
}

// discard reads and drops c's input after its close frame went out.
func (l *loop) discard(c *conn) {
	for c.readable && !c.closed {
		n, err := rawRead(c.fd, l.buf)
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			c.readable = false
		case err != 0 || n == 0:
			l.finish(c)
		}
	}
}

// finish closes c's descriptor and forgets it.
func (l *loop) finish(c *conn) {
	if c.closed {
		return
	}
	c.closed, c.closing = true, true
	if c.sess != nil {
		l.leave(c, "closed")
	}
	if c.paused&pauseMigrating == 0 && int(c.fd) < len(l.conns) && l.conns[c.fd] == c {
		l.conns[c.fd] = nil
		l.nconns--
	}
	unix.Close(int(c.fd))
	if c.out != nil {
		putBuf(c.out)
		c.out = nil
	}
	c.deferred, c.waiters, c.carry, c.msg = nil, nil, nil, nil
	l.stats.conns.Add(-1)
	l.e.nconn.Add(-1)
}

// tick runs the timers: ticket, pairing, keepalive and idle timeouts, and
// closing connections that do not drain.
func (l *loop) tick() {
	cfg := &l.s.cfg
	now := l.nowNano
	for _, c := range l.conns {
		if c == nil || c.closed {
			continue
		}
		if c.closing {
			if c.closeBy != 0 && now > c.closeBy {
				l.finish(c)
			}
			continue
		}
		switch {
		case c.state == stTicket && now-c.since > int64(cfg.TicketTimeout):
			l.refuse(c, &admitError{ws.CloseTicketInvalid, failTicketInvalid, "no ticket in time"})
		case c.state == stWaiting && now-c.since > int64(cfg.PairTimeout) && !(c.role == proto.RoleHost && c.sess != nil && c.sess.mode == proto.ModePresentation && c.sess.nextSlot > 0):
			l.refuse(c, &admitError{ws.ClosePairingTimeout, failPairingTimeout, "the peer did not come"})
		case now-c.lastRead > int64(cfg.IdleTimeout):
			l.closeConn(c, 1001, "idle timeout", "idle")
		case now-c.lastRead > int64(cfg.KeepAlive) && !c.pinged:
			c.pinged = true
			l.queue(c, appendFrame(nil, opPing, nil))
		}
	}
	l.flushDirty()
}

// drain tells every end to move to another relay.
func (l *loop) drain() {
	retry := l.s.cfg.DrainRetry.Milliseconds()
	for _, c := range l.conns {
		if c == nil || c.closing {
			continue
		}
		if c.state == stTicket {
			l.refuse(c, &admitError{ws.CloseDraining, failDraining, "relay draining"})
			continue
		}
		l.notice(c, ws.Notice{Type: ws.NoticeDrain, RetryMS: retry})
	}
	l.flushDirty()
}

// closeAll closes every connection with 4007 and stops the loop once
// they are gone.
func (l *loop) closeAll() {
	l.stopping = true
	for _, c := range l.conns {
		if c != nil && !c.closing {
			l.closeConn(c, int(ws.CloseDraining), "relay draining", "drain")
		}
	}
	l.flushDirty()
}
