//go:build linux

package main

import (
	"encoding/binary"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evLoop runs the load generator's side of all its connections from one
// goroutine on epoll, as the relay does, so that the generator's own CPU
// per message stays small next to the relay's (with a goroutine per
// connection the generator took more than half a core at 500 sessions):
// on each tick of one timerfd it receives what came on every connection,
// then calls the sender, which writes the messages then due in one tight
// loop (no goroutine or timer per connection or message). A socket that is
// full keeps the rest of its bytes (wsConn.pend) until epoll says it has
// room, so one slow connection never holds up the others. The echo
// server of the direct path runs its connections on such loops too
// (woken by each arrival, as the relay's are), so that the direct
// reference costs what the relay's two hops cost without the relay's own
// work.
type evLoop struct {
	epfd  int
	tfd   int // the timerfd of the ticks
	wake  bool
	mu    sync.Mutex
	conns map[int32]*evConn
	tick  func(now time.Time)
	buf   []byte
}

type evConn struct {
	c      *wsConn
	carry  []byte
	server bool // client frames come in masked; answer unmasked
	onMsg  func(c *wsConn, op byte, p []byte)
}

// newEvLoop starts a loop that ticks every interval; wake: the loop is
// woken by each arrival (a server), else only by its ticks (see run).
func newEvLoop(interval time.Duration, wake bool) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ts := unix.NsecToTimespec(int64(interval))
	if err := unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err != nil {
		return nil, err
	}
	l := &evLoop{epfd: epfd, tfd: tfd, conns: map[int32]*evConn{}, buf: make([]byte, 256<<10), wake: wake}
	if l.wake {
		if err := unix.SetNonblock(epfd, true); err != nil {
			return nil, err
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tfd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, tfd, &ev); err != nil {
			return nil, err
		}
	}
	go l.run()
	return l, nil
}

// add moves c's socket into the loop; onMsg gets every data message.
func (l *evLoop) add(c *wsConn, server bool, onMsg func(c *wsConn, op byte, p []byte)) error {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return syscall.EINVAL
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	if err != nil {
		return err
	}
	ec := &evConn{c: c, server: server, onMsg: onMsg}
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		ec.carry = append([]byte(nil), b...)
	}
	c.nc.Close()
	unix.SetNonblock(fd, true)
	c.fd = fd
	l.mu.Lock()
	l.conns[int32(fd)] = ec
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// startTicks has the loop call tick on each of its ticks until stopTicks.
func (l *evLoop) startTicks(tick func(now time.Time)) error {
	l.mu.Lock()
	l.tick = tick
	l.mu.Unlock()
	return nil
}

func (l *evLoop) stopTicks() {
	l.mu.Lock()
	l.tick = nil
	l.mu.Unlock()
}

// run serves the loop. By default the goroutine sleeps on the timerfd
// alone and, on each tick, takes what epoll has collected meanwhile
// (epoll_pwait with no wait), then sends what is due: a message that
// arrives wakes nobody. On loopback the writer of a message runs the
// receiver's TCP input and wake-up in its own write; across a network
// the relay would never pay for waking its peers, and with a wake-up per
// arrival here the generator's and the relay's CPU per message grew with
// every wake-up (the tick adds 0 to one tick of delay to the receive time
// of every message, the same on both paths). DESKWAY_BENCH_WAKE=1 parks
// the generator's loops on epoll instead, woken by each arrival, as the
// echo server's always are.
func (l *evLoop) run() {
	waitFD := l.tfd
	if l.wake {
		waitFD = l.epfd
	}
	f := os.NewFile(uintptr(waitFD), "bench-loop")
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	events := make([]unix.EpollEvent, 256)
	var tb [8]byte
	poll := func(uintptr) bool {
		var tick func(time.Time)
		if !l.wake {
			if _, e := rawRead(l.tfd, tb[:]); e == unix.EAGAIN {
				return false
			}
			l.mu.Lock()
			tick = l.tick
			l.mu.Unlock()
		}
		for {
			n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
			if e != 0 {
				return e != unix.EINTR
			}
			l.mu.Lock()
			for i := range int(n) {
				ev := &events[i]
				if int(ev.Fd) == l.tfd {
					rawRead(l.tfd, tb[:])
					tick = l.tick
					continue
				}
				ec := l.conns[ev.Fd]
				if ec == nil {
					continue
				}
				l.mu.Unlock()
				if ev.Events&unix.EPOLLOUT != 0 && len(ec.c.pend) > 0 {
					ec.c.flush()
				}
				if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					l.readAll(ec)
				}
				l.mu.Lock()
			}
			l.mu.Unlock()
			if int(n) < len(events) {
				break
			}
		}
		// Receive first (their timestamps are taken as they are read),
		// then send what is due.
		if tick != nil {
			tick(time.Now())
		}
		return false
	}
	for rc.Read(poll) == nil {
	}
}

func (l *evLoop) readAll(ec *evConn) {
	for {
		n0 := copy(l.buf, ec.carry)
		ec.carry = ec.carry[:0]
		n, e := rawRead(ec.c.fd, l.buf[n0:])
		if e == unix.EINTR {
			continue
		}
		if e != 0 || n == 0 {
			if e != unix.EAGAIN {
				l.mu.Lock()
				delete(l.conns, int32(ec.c.fd))
				l.mu.Unlock()
				unix.Close(ec.c.fd)
			} else if n0 > 0 {
				ec.carry = append(ec.carry, l.buf[:n0]...)
			}
			return
		}
		l.frames(ec, l.buf[:n0+n])
		if n0+n < len(l.buf) {
			return // drained (edge-triggered: a new edge comes with new data)
		}
	}
}

// frames hands every whole message in b to onMsg and keeps the rest.
func (l *evLoop) frames(ec *evConn, b []byte) {
	for len(b) >= 2 {
		op := b[0] & 0x0F
		masked := b[1]&0x80 != 0
		n, h := int(b[1]&0x7F), 2
		switch n {
		case 126:
			if len(b) < 4 {
				break
			}
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				break
			}
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if n >= 126 && h == 2 {
			break // length not complete yet
		}
		var key []byte
		if masked {
			key = b[h : h+4 : h+4]
			h += 4
		}
		if len(b) < h+n {
			break
		}
		p := b[h : h+n]
		if masked && len(key) == 4 && (ec.server || (key[0]|key[1]|key[2]|key[3]) != 0) {
			for i := range p {
				p[i] ^= key[i&3]
			}
		}
		if op == wsText || op == wsBinary {
			ec.onMsg(ec.c, op, p)
		}
		b = b[h+n:]
	}
	ec.carry = append(ec.carry, b...)
}

func rawRead(fd int, p []byte) (int, unix.Errno) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// writeFD writes b to c's non-blocking socket from the loop: what the
// socket has no room for waits in c.pend (behind anything already
// waiting) until the loop sees EPOLLOUT.
func (c *wsConn) writeFD(b []byte) error {
	if len(c.pend) > 0 {
		c.pend = append(c.pend, b...)
		return nil
	}
	for len(b) > 0 {
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			b = b[n:]
		case unix.EAGAIN:
			c.pend = append(c.pend, b...)
			return nil
		case unix.EINTR:
		default:
			return e
		}
	}
	return nil
}

// flush writes what waits in c.pend, as far as the socket takes it.
func (c *wsConn) flush() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	p := c.pend
	for len(p) > 0 {
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			if e != unix.EAGAIN {
				p = p[:0] // the connection is gone; the loop sees it end
			}
			break
		}
		p = p[n:]
	}
	c.pend = append(c.pend[:0], p...)
}

// closeFD shuts a loop connection down; the loop closes the descriptor
// when it sees the end.
func closeFD(fd int) { unix.Shutdown(fd, unix.SHUT_RDWR) }

// raiseNoFile lifts the soft limit on open files to the hard one (the
// children inherit it).
func raiseNoFile() {
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		unix.Setrlimit(unix.RLIMIT_NOFILE, &l)
	}
}
