package main

import (
	"bufio"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskway/deskway/proto"
)

// A load-generator worker: it opens its share of the sessions through
// the relay (host and viewer each) and as many direct echo connections,
// tells the coordinator "ready" on stdout, starts sending at the time it
// reads as "go UNIXNANO" on stdin, and prints its counts and latency
// histograms, per path and per phase, as one JSON line when done.
//
// Relay and direct are interleaved in time: phases of Phase each, relay
// first, then direct, relay, … (the same connections and pacing; a
// path's flows are silent in the other's phases), so that each path has
// the machine to itself with the generator. Phase 0 drives both paths at
// once.

type workerParams struct {
	RelayAddr, EchoAddr string
	KeyFile, RelayID    string
	First, Count        int
	Rate, Size          int
	Warmup, Duration    time.Duration
	Phase               time.Duration
	Direct              bool
}

// phaseLen is the length of a phase: the whole run when the paths are not
// alternated.
func (p *workerParams) phaseLen() time.Duration {
	if p.Direct && p.Phase > 0 {
		return p.Phase
	}
	return p.Warmup + p.Duration + time.Second
}

// phasePath is the path (0 relay, 1 direct) phase k drives, -1 both.
func (p *workerParams) phasePath(k int) int {
	if !p.Direct {
		return 0
	}
	if p.Phase <= 0 {
		return -1
	}
	return k % 2
}

type pathResult struct {
	Sent  uint64         `json:"sent"`
	Recv  uint64         `json:"recv"`
	Gaps  uint64         `json:"gaps"`
	Notes uint64         `json:"lost_notices"`
	Hist  map[int]uint64 `json:"hist"`
}

type workerResult struct {
	Relay  pathResult   `json:"relay"`
	Direct pathResult   `json:"direct"`
	Phases []phaseStats `json:"phases,omitempty"`
	Err    string       `json:"err,omitempty"`
}

// phaseStats are one phase's figures of one path, by the send time of the
// messages.
type phaseStats struct {
	Phase int `json:"phase"`
	Path  int `json:"path"` // 0 relay, 1 direct
	pathResult
}

// pathStats are the live counters of one path (relay or direct) in one
// phase.
type pathStats struct {
	sent, recv, gaps, notes atomic.Uint64
	h                       latHist
}

func (p *pathStats) result() pathResult {
	return pathResult{Sent: p.sent.Load(), Recv: p.recv.Load(), Gaps: p.gaps.Load(), Notes: p.notes.Load(), Hist: p.h.sparse()}
}

// phased are a path's counters, phase by phase from start.
type phased struct {
	start, phase int64
	ph           []pathStats
}

func newPhased(p *workerParams) *phased {
	pl := p.phaseLen()
	n := int((p.Warmup+p.Duration)/pl) + 2
	return &phased{phase: int64(pl), ph: make([]pathStats, n)}
}

// at returns the counters of the phase in which ts falls.
func (s *phased) at(ts int64) *pathStats {
	k := (ts - s.start) / s.phase
	return &s.ph[max(0, min(k, int64(len(s.ph)-1)))]
}

// total sums the phases.
func (s *phased) total() pathResult {
	t := pathResult{Hist: map[int]uint64{}}
	for i := range s.ph {
		r := s.ph[i].result()
		t.Sent += r.Sent
		t.Recv += r.Recv
		t.Gaps += r.Gaps
		t.Notes += r.Notes
		for b, v := range r.Hist {
			t.Hist[b] += v
		}
	}
	return t
}

type flow struct {
	c   *wsConn
	st  *phased
	id  uint32
	seq uint64
}

// sendWindow is the measured interval: messages sent within it count.
type sendWindow struct{ from, to int64 }

func (w *sendWindow) in(ts int64) bool { return ts >= w.from && ts < w.to }

func runWorker(p workerParams) error {
	seed, err := os.ReadFile(p.KeyFile)
	if err != nil {
		return err
	}
	key := ed25519.NewKeyFromSeed(seed)
	relayStats, directStats := newPhased(&p), newPhased(&p)
	var win atomic.Pointer[sendWindow]
	win.Store(&sendWindow{from: 1<<63 - 1})

	// Connect, a few dozen at a time.
	type pair struct{ h, v, e1, e2 *wsConn }
	pairs := make([]pair, p.Count)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for i := range p.Count {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var pr pair
			err := func() error {
				sess := proto.NewSessionID()
				var err error
				if pr.h, err = connectRelay(p, key, sess, proto.RoleHost); err != nil {
					return err
				}
				if pr.v, err = connectRelay(p, key, sess, proto.RoleViewer); err != nil {
					return err
				}
				for _, c := range []*wsConn{pr.h, pr.v} {
					if err := waitPairedRaw(c); err != nil {
						return err
					}
				}
				if p.Direct {
					if pr.e1, err = wsDial(p.EchoAddr, "/echo"); err != nil {
						return err
					}
					if pr.e2, err = wsDial(p.EchoAddr, "/echo"); err != nil {
						return err
					}
				}
				return nil
			}()
			if err != nil {
				e := fmt.Errorf("session %d: %w", p.First+i, err)
				firstErr.CompareAndSwap(nil, &e)
				return
			}
			pairs[i] = pr
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return *e
	}

	// Receivers and sender: one event loop (Linux), else a goroutine per
	// connection and one sending goroutine.
	receiver := func(st *phased) func(c *wsConn, op byte, m []byte) {
		expect := uint64(0)
		return func(c *wsConn, op byte, m []byte) {
			now := time.Now().UnixNano()
			if op == wsText {
				if strings.Contains(string(m), `"lost"`) {
					st.at(now).notes.Add(1)
				}
				return
			}
			if len(m) < 20 {
				return
			}
			ts := int64(binary.LittleEndian.Uint64(m))
			seq := binary.LittleEndian.Uint64(m[8:])
			ps := st.at(ts)
			if seq > expect {
				ps.gaps.Add(seq - expect)
			}
			expect = seq + 1
			if win.Load().in(ts) {
				ps.recv.Add(1)
				ps.h.add(time.Duration(now - ts))
			}
		}
	}
	loop, lerr := newEvLoop(sendTick, os.Getenv("DESKWAY_BENCH_WAKE") != "")
	if os.Getenv("DESKWAY_BENCH_NOLOOP") != "" {
		lerr = errors.New("event loop disabled")
	}
	recv := func(c *wsConn, st *phased) {
		f := receiver(st)
		if lerr == nil && loop.add(c, false, f) == nil {
			return
		}
		go func() {
			for {
				op, m, err := c.read()
				if err != nil {
					return
				}
				f(c, op, m)
			}
		}()
	}
	var flows [2][]*flow
	for i, pr := range pairs {
		recv(pr.h, relayStats)
		recv(pr.v, relayStats)
		flows[0] = append(flows[0], &flow{c: pr.h, st: relayStats, id: uint32(4 * i)}, &flow{c: pr.v, st: relayStats, id: uint32(4*i + 1)})
		if p.Direct {
			recv(pr.e1, directStats)
			recv(pr.e2, directStats)
			flows[1] = append(flows[1], &flow{c: pr.e1, st: directStats, id: uint32(4*i + 2)}, &flow{c: pr.e2, st: directStats, id: uint32(4*i + 3)})
		}
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	var startNS int64
	if !in.Scan() {
		return errors.New("no go from the coordinator")
	}
	if _, err := fmt.Sscanf(in.Text(), "go %d", &startNS); err != nil {
		return fmt.Errorf("coordinator said %q", in.Text())
	}
	start := time.Unix(0, startNS)
	relayStats.start, directStats.start = startNS, startNS
	win.Store(&sendWindow{from: start.Add(p.Warmup).UnixNano(), to: start.Add(p.Warmup + p.Duration).UnixNano()})
	end := start.Add(p.Warmup + p.Duration)
	s := newSender(flows, &p, start, end, win.Load())
	if lerr == nil && loop.startTicks(s.tick) == nil {
		<-s.done
		loop.stopTicks()
	} else {
		for {
			select {
			case <-s.done:
			default:
				s.tick(time.Now())
				time.Sleep(sendTick)
				continue
			}
			break
		}
	}

	// Let the last messages arrive.
	last := uint64(0)
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		r, d := relayStats.total(), directStats.total()
		n := r.Recv + d.Recv
		if n == last && r.Recv >= r.Sent && d.Recv >= d.Sent {
			break
		}
		last = n
	}
	time.Sleep(200 * time.Millisecond)
	res := workerResult{Relay: relayStats.total(), Direct: directStats.total()}
	for path, st := range []*phased{relayStats, directStats} {
		for k := range st.ph {
			if r := st.ph[k].result(); r.Sent > 0 || r.Recv > 0 {
				res.Phases = append(res.Phases, phaseStats{Phase: k, Path: path, pathResult: r})
			}
		}
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	for _, pr := range pairs {
		for _, c := range []*wsConn{pr.h, pr.v, pr.e1, pr.e2} {
			if c != nil {
				c.close()
			}
		}
	}
	return nil
}

// sendTick is the loop's tick: what came is received and the messages due
// are sent in one batch.
const sendTick = 250 * time.Microsecond

// sender paces every flow of a path at Rate/Size messages per second,
// their phases spread evenly over the period, in the path's phases only,
// until end; tick sends what is due (from the loop, or a goroutine).
type sender struct {
	flows      [2][]*flow
	p          *workerParams
	period     time.Duration
	start, end time.Time
	win        *sendWindow
	next       [2]uint64 // sends due so far per path; flow = next % len
	msg        []byte
	done       chan struct{}
	closed     bool
}

func newSender(flows [2][]*flow, p *workerParams, start, end time.Time, win *sendWindow) *sender {
	return &sender{flows: flows, p: p, period: time.Duration(float64(time.Second) * float64(p.Size) / float64(p.Rate)),
		start: start, end: end, win: win, msg: make([]byte, p.Size), done: make(chan struct{})}
}

func (s *sender) tick(now time.Time) {
	if s.closed || now.Before(s.start) {
		return
	}
	if !now.Before(s.end) {
		s.closed = true
		close(s.done)
		return
	}
	el := now.Sub(s.start)
	active := s.p.phasePath(int(el / s.p.phaseLen()))
	for path, fl := range s.flows {
		n := uint64(len(fl))
		if n == 0 {
			continue
		}
		due := uint64(float64(el) / float64(s.period) * float64(n))
		if active >= 0 && active != path {
			s.next[path] = due // silent in the other path's phase
			continue
		}
		for ; s.next[path] < due; s.next[path]++ {
			f := fl[s.next[path]%n]
			ts := time.Now().UnixNano()
			binary.LittleEndian.PutUint64(s.msg, uint64(ts))
			binary.LittleEndian.PutUint64(s.msg[8:], f.seq)
			binary.LittleEndian.PutUint32(s.msg[16:], f.id)
			f.seq++
			if err := f.c.write(wsBinary, s.msg); err != nil {
				continue
			}
			if s.win.in(ts) {
				f.st.at(ts).sent.Add(1)
			}
		}
	}
}

func connectRelay(p workerParams, key ed25519.PrivateKey, sess proto.SessionID, role proto.Role) (*wsConn, error) {
	b, err := benchTicket(p, key, sess, role)
	if err != nil {
		return nil, err
	}
	c, err := wsDial(p.RelayAddr, "/v1/relay")
	if err != nil {
		return nil, err
	}
	if err := c.write(wsBinary, b); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// benchTicket signs a ticket for one end of a session on the bench relay.
func benchTicket(p workerParams, key ed25519.PrivateKey, sess proto.SessionID, role proto.Role) ([]byte, error) {
	now := time.Now()
	t := &proto.Ticket{ID: proto.NewTicketID(), Session: sess, HostID: "bench", Role: role, Mode: proto.ModeSupport,
		Relays:   []proto.RelayRef{{ID: p.RelayID, URL: "http://" + p.RelayAddr}},
		IssuedAt: now.Add(-time.Second), NotBefore: now.Add(-time.Second), Expiry: now.Add(55 * time.Second)}
	return proto.SignTicket(t, "bench", key)
}

// waitPairedRaw reads notices until "paired".
func waitPairedRaw(c *wsConn) error {
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		op, m, err := c.read()
		if err != nil {
			return err
		}
		if op == wsText && strings.Contains(string(m), `"paired"`) {
			return nil
		}
	}
}
