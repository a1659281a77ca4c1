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
// tells the coordinator "ready" on stdout, starts sending when it reads
// "go" on stdin, and prints its latCounts and latency histograms as one JSON
// line when done.

type workerParams struct {
	RelayAddr, EchoAddr string
	KeyFile, RelayID    string
	First, Count        int
	Rate, Size          int
	Warmup, Duration    time.Duration
	Direct              bool
}

type pathResult struct {
	Sent  uint64         `json:"sent"`
	Recv  uint64         `json:"recv"`
	Gaps  uint64         `json:"gaps"`
	Notes uint64         `json:"lost_notices"`
	Hist  map[int]uint64 `json:"hist"`
}

type workerResult struct {
	Relay  pathResult `json:"relay"`
	Direct pathResult `json:"direct"`
	Err    string     `json:"err,omitempty"`
}

// pathStats are the live counters of one path (relay or direct).
type pathStats struct {
	sent, recv, gaps, notes atomic.Uint64
	h                       latHist
}

func (p *pathStats) result() pathResult {
	return pathResult{Sent: p.sent.Load(), Recv: p.recv.Load(), Gaps: p.gaps.Load(), Notes: p.notes.Load(), Hist: p.h.sparse()}
}

type flow struct {
	c   *wsConn
	st  *pathStats
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
	relayStats, directStats := &pathStats{}, &pathStats{}
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

	// Receivers: an event loop (Linux), else a goroutine per connection.
	receiver := func(st *pathStats) func(c *wsConn, op byte, m []byte) {
		expect := uint64(0)
		return func(c *wsConn, op byte, m []byte) {
			now := time.Now().UnixNano()
			if op == wsText {
				if strings.Contains(string(m), `"lost"`) {
					st.notes.Add(1)
				}
				return
			}
			if len(m) < 20 {
				return
			}
			ts := int64(binary.LittleEndian.Uint64(m))
			seq := binary.LittleEndian.Uint64(m[8:])
			if seq > expect {
				st.gaps.Add(seq - expect)
			}
			expect = seq + 1
			if win.Load().in(ts) {
				st.recv.Add(1)
				st.h.add(time.Duration(now - ts))
			}
		}
	}
	loop, lerr := newEvLoop()
	if os.Getenv("DESKWAY_BENCH_NOLOOP") != "" {
		lerr = errors.New("event loop disabled")
	}
	recv := func(c *wsConn, st *pathStats) {
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
	var flows []*flow
	for i, pr := range pairs {
		recv(pr.h, relayStats)
		recv(pr.v, relayStats)
		flows = append(flows, &flow{c: pr.h, st: relayStats, id: uint32(4 * i)}, &flow{c: pr.v, st: relayStats, id: uint32(4*i + 1)})
		if p.Direct {
			recv(pr.e1, directStats)
			recv(pr.e2, directStats)
			flows = append(flows, &flow{c: pr.e1, st: directStats, id: uint32(4*i + 2)}, &flow{c: pr.e2, st: directStats, id: uint32(4*i + 3)})
		}
	}
	// Interleave relay and direct flows so that both see the same
	// moments of the machine's load.
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "go" {
		return errors.New("no go from the coordinator")
	}
	start := time.Now()
	win.Store(&sendWindow{from: start.Add(p.Warmup).UnixNano(), to: start.Add(p.Warmup + p.Duration).UnixNano()})
	end := start.Add(p.Warmup + p.Duration)
	sendLoop(flows, p, start, end, win.Load())

	// Let the last messages arrive.
	last := uint64(0)
	for range 30 {
		time.Sleep(100 * time.Millisecond)
		n := relayStats.recv.Load() + directStats.recv.Load()
		if n == last && relayStats.recv.Load() >= relayStats.sent.Load() && directStats.recv.Load() >= directStats.sent.Load() {
			break
		}
		last = n
	}
	time.Sleep(200 * time.Millisecond)
	res := workerResult{Relay: relayStats.result(), Direct: directStats.result()}
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

// sendLoop paces every flow at Rate/Size messages per second, their
// phases spread evenly over the period, until end.
func sendLoop(flows []*flow, p workerParams, start, end time.Time, win *sendWindow) {
	period := time.Duration(float64(time.Second) * float64(p.Size) / float64(p.Rate))
	n := len(flows)
	msg := make([]byte, p.Size)
	var sent uint64 // total sends so far, flow = sent % n
	for {
		now := time.Now()
		if !now.Before(end) {
			return
		}
		due := uint64(float64(now.Sub(start)) / float64(period) * float64(n))
		for ; sent < due; sent++ {
			f := flows[sent%uint64(n)]
			ts := time.Now().UnixNano()
			binary.LittleEndian.PutUint64(msg, uint64(ts))
			binary.LittleEndian.PutUint64(msg[8:], f.seq)
			binary.LittleEndian.PutUint32(msg[16:], f.id)
			f.seq++
			if err := f.c.write(wsBinary, msg); err != nil {
				continue
			}
			if win.in(ts) {
				f.st.sent.Add(1)
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func connectRelay(p workerParams, key ed25519.PrivateKey, sess proto.SessionID, role proto.Role) (*wsConn, error) {
	now := time.Now()
	t := &proto.Ticket{ID: proto.NewTicketID(), Session: sess, HostID: "bench", Role: role, Mode: proto.ModeSupport,
		Relays:   []proto.RelayRef{{ID: p.RelayID, URL: "http://" + p.RelayAddr}},
		IssuedAt: now.Add(-time.Second), NotBefore: now.Add(-time.Second), Expiry: now.Add(55 * time.Second)}
	b, err := proto.SignTicket(t, "bench", key)
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
