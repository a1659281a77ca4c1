package relay

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
)

// EngineGoroutine serves each connection with github.com/coder/websocket
// and a goroutine of its own (the HTTP handler returns after the
// upgrade): portable, and the baseline the epoll engine is measured
// against in docs/perf-relay.md.
const EngineGoroutine Engine = "goroutine"

// goEngine is the goroutine-per-connection engine. A pair session's
// reader streams each message into the peer's coder Writer (coder
// serialises writers, so notices wait for a message's end by
// themselves); a full peer blocks the reader: backpressure. A
// presentation viewer has a bounded queue drained by a writer goroutine
// that runs only while the queue is not empty.
type goEngine struct {
	s     *Server
	mu    sync.Mutex // guards conns, stopping
	set   map[*gconn]struct{}
	wg    sync.WaitGroup
	stop  chan struct{}
	stats loopStats
}

type gconn struct {
	ws       *websocket.Conn
	role     proto.Role
	slot     uint32
	sess     *session // set once joined
	lastRead atomic.Int64
	since    atomic.Int64 // waiting since (unix nanos); 0 when paired
	closed   atomic.Bool
	why      atomic.Pointer[string] // why the relay closed it, for the report

	qmu     sync.Mutex // presentation viewers: the queue
	queue   [][]byte   // whole frames' payloads; nil entry = lost notice
	qbytes  int
	writing bool
	lost    int64
}

// gsess is a session's state in the goroutine engine, guarded by mu.
type gsess struct {
	mu      sync.Mutex
	host    *gconn
	viewer  *gconn
	viewers map[uint32]*gconn
	next    uint32
	paired  chan struct{} // closed when a pair session has both ends
}

func newGoEngine(s *Server) *goEngine {
	e := &goEngine{s: s, set: make(map[*gconn]struct{}), stop: make(chan struct{})}
	e.wg.Add(1)
	go e.timers()
	return e
}

// serve is not used: handle does the upgrade with coder/websocket.
func (e *goEngine) serve(nc net.Conn, buffered []byte) { nc.Close() }

// handle upgrades with coder/websocket and starts the connection's
// goroutine; the handler returns at once.
func (e *goEngine) handle(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	c.SetReadLimit(proto.MaxTicketSize)
	gc := &gconn{ws: c}
	now := time.Now().UnixNano()
	gc.lastRead.Store(now)
	gc.since.Store(now)
	if e.s.isDraining() {
		e.s.stats.failures[failDraining].Add(1)
		c.Close(websocket.StatusCode(ws.CloseDraining), "relay draining")
		return
	}
	e.mu.Lock()
	e.set[gc] = struct{}{}
	e.wg.Add(1)
	e.mu.Unlock()
	e.stats.conns.Add(1)
	go e.run(gc)
}

// closeWith closes gc with a close code; why is the report's end reason.
func (e *goEngine) closeWith(gc *gconn, code int, reason, why string) {
	gc.why.CompareAndSwap(nil, &why)
	gc.ws.Close(websocket.StatusCode(code), reason)
}

func (e *goEngine) notice(gc *gconn, n ws.Notice) {
	b, _ := json.Marshal(n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gc.ws.Write(ctx, websocket.MessageText, b)
}

func (e *goEngine) run(gc *gconn) {
	defer e.wg.Done()
	defer func() {
		gc.closed.Store(true)
		gc.ws.CloseNow()
		e.mu.Lock()
		delete(e.set, gc)
		e.mu.Unlock()
		e.stats.conns.Add(-1)
	}()
	s := e.s
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TicketTimeout)
	typ, b, err := gc.ws.Read(ctx)
	cancel()
	if err != nil {
		return
	}
	if typ != websocket.MessageBinary {
		s.stats.failures[failTicketInvalid].Add(1)
		e.closeWith(gc, int(ws.CloseTicketInvalid), "the first message must be the binary ticket", "ticket_invalid")
		return
	}
	t, aerr := s.verify(b, time.Now())
	if aerr == nil {
		aerr = e.join(gc, t)
	}
	if aerr != nil {
		s.stats.failures[aerr.fail].Add(1)
		e.closeWith(gc, int(aerr.code), aerr.code.String(), failureNames[aerr.fail])
		return
	}
	reason := e.serveSession(gc)
	if why := gc.why.Load(); why != nil {
		reason = *why
	}
	e.leave(gc, reason)
}

// join puts gc into its session and sends the notices.
func (e *goEngine) join(gc *gconn, t *proto.Ticket) *admitError {
	sess, aerr := e.s.lookup(t, &gsess{paired: make(chan struct{})}, time.Now())
	if aerr != nil {
		return aerr
	}
	g := sess.owner.(*gsess)
	g.mu.Lock()
	if sess.dead {
		g.mu.Unlock()
		return e.join(gc, t)
	}
	full := func(why string) *admitError {
		if g.host == nil && g.viewer == nil && len(g.viewers) == 0 {
			e.s.remove(sess, "session_full", time.Now())
		}
		g.mu.Unlock()
		return &admitError{ws.CloseSessionFull, failSessionFull, why}
	}
	// role, slot and sess are read by timers and drain under e.mu.
	e.mu.Lock()
	gc.role = t.Role
	e.mu.Unlock()
	switch {
	case t.Role == proto.RoleHost:
		if g.host != nil {
			return full("a host is already connected")
		}
		g.host = gc
	case sess.mode == proto.ModePresentation:
		if len(g.viewers) >= e.s.cfg.MaxViewers {
			return full("presentation full")
		}
		if g.viewers == nil {
			g.viewers = map[uint32]*gconn{}
		}
		g.next++
		gc.slot = g.next
		g.viewers[gc.slot] = gc
	default:
		if g.viewer != nil {
			return full("a viewer is already connected")
		}
		g.viewer = gc
	}
	e.mu.Lock()
	gc.sess = sess
	e.mu.Unlock()
	gc.ws.SetReadLimit(-1) // serveSession enforces MaxMessageBytes with close code 4008
	e.notice(gc, ws.Notice{Type: ws.NoticeWaiting})
	if sess.mode != proto.ModePresentation {
		if g.host != nil && g.viewer != nil {
			e.notice(g.host, ws.Notice{Type: ws.NoticePaired, Viewers: 1})
			e.notice(g.viewer, ws.Notice{Type: ws.NoticePaired, Viewers: 1})
			g.host.since.Store(0)
			g.viewer.since.Store(0)
			close(g.paired)
		}
	} else if g.host != nil && len(g.viewers) > 0 {
		n := len(g.viewers)
		if gc == g.host {
			for slot, v := range g.viewers {
				e.notice(v, ws.Notice{Type: ws.NoticePaired, Viewers: n})
				e.notice(g.host, ws.Notice{Type: ws.NoticePaired, Viewers: n, Slot: slot})
				v.since.Store(0)
			}
		} else {
			e.notice(gc, ws.Notice{Type: ws.NoticePaired, Viewers: n})
			e.notice(g.host, ws.Notice{Type: ws.NoticePaired, Viewers: n, Slot: gc.slot})
		}
		g.host.since.Store(0)
		gc.since.Store(0)
	}
	g.mu.Unlock()
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// serveSession forwards gc's messages until it leaves and says why.
func (e *goEngine) serveSession(gc *gconn) string {
	sess := gc.sess
	g := sess.owner.(*gsess)
	ctx := context.Background()
	for {
		typ, r, err := gc.ws.Reader(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
				return "limit"
			}
			return "closed"
		}
		gc.lastRead.Store(time.Now().UnixNano())
		if typ != websocket.MessageBinary {
			e.closeWith(gc, 1003, "only binary messages are forwarded", "error")
			return "error"
		}
		r = &limitReader{r: r, n: int64(e.s.cfg.MaxMessageBytes)}
		if sess.mode == proto.ModePresentation {
			if err := e.present(gc, g, r); err != nil {
				if errors.Is(err, errTooBig) {
					e.tooBig(gc)
					return "limit"
				}
				return "error"
			}
			continue
		}
		// Pair: wait for the peer, then stream the message into it.
		g.mu.Lock()
		ch := g.paired
		g.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(e.s.cfg.PairTimeout):
			e.s.stats.failures[failPairingTimeout].Add(1)
			e.closeWith(gc, int(ws.ClosePairingTimeout), "the peer did not come", "pairing_timeout")
			return "pairing_timeout"
		}
		g.mu.Lock()
		peer := g.viewer
		if gc.role == proto.RoleViewer {
			peer = g.host
		}
		g.mu.Unlock()
		if peer == nil {
			io.Copy(io.Discard, r)
			continue
		}
		t0 := time.Now()
		w, err := peer.ws.Writer(ctx, websocket.MessageBinary)
		if err != nil {
			io.Copy(io.Discard, r)
			continue
		}
		bp := copyBufs.Get().(*[]byte)
		n, err := io.CopyBuffer(w, r, *bp)
		copyBufs.Put(bp)
		if errors.Is(err, errTooBig) {
			// Part of it went out: the peer's stream cannot be
			// completed, so the peer goes too.
			e.tooBig(gc)
			e.closeWith(peer, 1011, "the peer sent an oversized message", "limit")
			return "limit"
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		e.stats.observe(time.Since(t0))
		e.account(gc, sess, g, n)
		if err != nil && gc.ws.Ping(ctx) != nil {
			return "closed"
		}
	}
}

func (e *goEngine) account(gc *gconn, sess *session, g *gsess, n int64) {
	g.mu.Lock()
	if gc.role == proto.RoleHost {
		sess.fromHost += n
	} else {
		sess.toHost += n
	}
	g.mu.Unlock()
	if gc.role == proto.RoleHost {
		e.stats.bytesFromHost.Add(n)
		e.stats.msgsFromHost.Add(1)
	} else {
		e.stats.bytesToHost.Add(n)
		e.stats.msgsToHost.Add(1)
	}
}

// present handles one presentation message from gc.
func (e *goEngine) present(gc *gconn, g *gsess, r io.Reader) error {
	m, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if gc.role != proto.RoleHost {
		g.mu.Lock()
		h := g.host
		g.mu.Unlock()
		e.account(gc, gc.sess, g, int64(len(m)))
		if h != nil {
			h.ws.Write(context.Background(), websocket.MessageBinary, append(binary.BigEndian.AppendUint32(nil, gc.slot), m...))
		}
		return nil
	}
	if len(m) < 4 {
		e.closeWith(gc, 1002, "presentation message without a slot", "error")
		return errors.New("no slot")
	}
	slot, body := binary.BigEndian.Uint32(m), m[4:]
	e.account(gc, gc.sess, g, int64(len(body)))
	g.mu.Lock()
	var dst []*gconn
	if slot != 0 {
		if v := g.viewers[slot]; v != nil {
			dst = append(dst, v)
		}
	} else {
		for _, v := range g.viewers {
			dst = append(dst, v)
		}
	}
	g.mu.Unlock()
	for _, v := range dst {
		e.enqueue(v, body)
	}
	return nil
}

// enqueue queues a message to a presentation viewer, dropping the queue
// when it would overflow, and starts its writer when idle.
func (e *goEngine) enqueue(v *gconn, m []byte) {
	v.qmu.Lock()
	defer v.qmu.Unlock()
	if v.qbytes+len(m) > e.s.cfg.ViewerQueueBytes {
		var n int64
		keep := v.queue[:0]
		for _, q := range v.queue {
			if q == nil {
				keep = append(keep, q)
				continue
			}
			n++
		}
		v.queue, v.qbytes = keep, 0
		v.lost += n
		e.stats.drops.Add(n)
		if len(m) > e.s.cfg.ViewerQueueBytes {
			v.lost++
			e.stats.drops.Add(1)
			m = nil
		}
		v.queue = append(v.queue, nil) // the lost notice
	}
	if m != nil {
		v.queue = append(v.queue, m)
		v.qbytes += len(m)
	}
	if !v.writing {
		v.writing = true
		e.wg.Add(1)
		go e.drainQueue(v)
	}
}

func (e *goEngine) drainQueue(v *gconn) {
	defer e.wg.Done()
	ctx := context.Background()
	for {
		v.qmu.Lock()
		if len(v.queue) == 0 || v.closed.Load() {
			v.queue, v.qbytes, v.writing = nil, 0, false
			v.qmu.Unlock()
			return
		}
		m := v.queue[0]
		v.queue = v.queue[1:]
		var lost int64
		if m == nil {
			lost, v.lost = v.lost, 0
		} else {
			v.qbytes -= len(m)
		}
		v.qmu.Unlock()
		t0 := time.Now()
		if m == nil {
			if lost > 0 {
				e.notice(v, ws.Notice{Type: ws.NoticeLost, Count: lost})
			}
			continue
		}
		if v.ws.Write(ctx, websocket.MessageBinary, m) != nil {
			continue
		}
		e.stats.observe(time.Since(t0))
	}
}

// leave takes gc out of its session and tells the others.
func (e *goEngine) leave(gc *gconn, reason string) {
	sess := gc.sess
	if sess == nil {
		return
	}
	g := sess.owner.(*gsess)
	g.mu.Lock()
	defer g.mu.Unlock()
	var others []*gconn
	left := ws.Notice{Type: ws.NoticePeerLeft}
	switch {
	case gc == g.host:
		g.host = nil
		if g.viewer != nil {
			others = append(others, g.viewer)
		}
		for _, v := range g.viewers {
			others = append(others, v)
		}
	case gc == g.viewer:
		g.viewer = nil
		if g.host != nil {
			others = append(others, g.host)
		}
	default:
		delete(g.viewers, gc.slot)
		left.Slot = gc.slot
		if g.host != nil {
			others = append(others, g.host)
		}
	}
	if sess.mode != proto.ModePresentation {
		select {
		case <-g.paired:
			g.paired = make(chan struct{})
		default:
		}
	}
	now := time.Now()
	for _, o := range others {
		if sess.mode != proto.ModePresentation || gc.role == proto.RoleHost {
			o.since.Store(now.UnixNano())
		}
		go e.notice(o, left)
	}
	sess.reason = reason
	if g.host == nil && g.viewer == nil && len(g.viewers) == 0 {
		e.s.remove(sess, reason, now)
	}
}

// timers runs keepalive, idle and pairing timeouts once a second.
func (e *goEngine) timers() {
	defer e.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	cfg := &e.s.cfg
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		e.mu.Lock()
		for gc := range e.set {
			last := gc.lastRead.Load()
			switch since := gc.since.Load(); {
			case gc.sess == nil && now-since > int64(cfg.TicketTimeout):
				go e.closeWith(gc, int(ws.CloseTicketInvalid), "no ticket in time", "ticket_invalid")
			case gc.sess != nil && since != 0 && now-since > int64(cfg.PairTimeout) && !(gc.role == proto.RoleHost && gc.sess.mode == proto.ModePresentation):
				e.s.stats.failures[failPairingTimeout].Add(1)
				go e.closeWith(gc, int(ws.ClosePairingTimeout), "the peer did not come", "pairing_timeout")
			case now-last > int64(cfg.IdleTimeout):
				go e.closeWith(gc, 1001, "idle timeout", "idle")
			case now-last > int64(cfg.KeepAlive):
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), cfg.IdleTimeout-cfg.KeepAlive)
					defer cancel()
					if gc.ws.Ping(ctx) == nil {
						gc.lastRead.Store(time.Now().UnixNano())
					}
				}()
			}
		}
		e.mu.Unlock()
	}
}

func (e *goEngine) drain() {
	retry := e.s.cfg.DrainRetry.Milliseconds()
	e.mu.Lock()
	defer e.mu.Unlock()
	for gc := range e.set {
		if gc.sess == nil {
			go e.closeWith(gc, int(ws.CloseDraining), "relay draining", "drain")
			continue
		}
		go e.notice(gc, ws.Notice{Type: ws.NoticeDrain, RetryMS: retry})
	}
}

func (e *goEngine) closeAll() {
	e.mu.Lock()
	for gc := range e.set {
		go e.closeWith(gc, int(ws.CloseDraining), "relay draining", "drain")
	}
	e.mu.Unlock()
	close(e.stop)
}

func (e *goEngine) wait() { e.wg.Wait() }

func (e *goEngine) conns() int64 { return e.stats.conns.Load() }

func (e *goEngine) collect(st *statsSnapshot) { e.stats.addTo(st) }

var errTooBig = errors.New("relay: message too big")

// limitReader fails with errTooBig past n bytes.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n - 1, errTooBig // never pass on more than the limit
	}
	return n, err
}

func (e *goEngine) tooBig(gc *gconn) {
	e.s.stats.failures[failLimit].Add(1)
	e.closeWith(gc, int(ws.CloseLimit), "message too big", "limit")
}
