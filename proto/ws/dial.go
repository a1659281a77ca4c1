package ws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Relay is one relay to try: its id, base URL and the signed ticket for
// it. It has the fields of api.RelayTicket, so ws.Relay(t) converts one.
type Relay struct {
	RelayID string
	URL     string
	Ticket  []byte
}

// Options tune Dial and Connect. The zero value is ready to use.
type Options struct {
	// Stagger is how long Dial waits for an attempt before it starts the
	// next relay, unless an attempt has answered "waiting". Default 150 ms.
	Stagger time.Duration
	// WaitStagger is how long Dial lets every live attempt sit in
	// "waiting" before it tries the next relay anyway (the peer may have
	// reached another relay first). Default 3 s.
	WaitStagger time.Duration
	// ReadLimit bounds an incoming message. Default DefaultReadLimit.
	ReadLimit int
	// OnNotice, if set, receives every notice of every attempt, tagged
	// with the relay's id; on the returned Conn it keeps receiving them
	// from within ReadMsg.
	OnNotice func(relayID string, n Notice)
	// HTTPClient dials the relays (not in the browser). Default: a client
	// whose transport honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
	HTTPClient *http.Client
	// HTTPHeader is sent with the upgrade request (not in the browser).
	HTTPHeader http.Header
}

func (o *Options) stagger() time.Duration {
	if o == nil || o.Stagger <= 0 {
		return 150 * time.Millisecond
	}
	return o.Stagger
}

func (o *Options) waitStagger() time.Duration {
	if o == nil || o.WaitStagger <= 0 {
		return 3 * time.Second
	}
	return o.WaitStagger
}

// URL returns the WebSocket URL of a relay's endpoint from its base URL.
func URL(base string) string {
	return strings.TrimSuffix(base, "/") + Path
}

// Connect opens a WebSocket to one relay and sends the ticket. It does not
// wait for the relay's answer: call WaitPaired.
func Connect(ctx context.Context, r Relay, opts *Options) (*Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	wc, b, err := dial(ctx, URL(r.URL), opts)
	if err != nil {
		return nil, fmt.Errorf("ws: dial relay %s: %w", r.RelayID, err)
	}
	c := NewConn(wc, opts.ReadLimit, nil)
	c.relayID, c.batch = r.RelayID, b
	if opts.OnNotice != nil {
		id, f := r.RelayID, opts.OnNotice
		c.onNotice = func(n Notice) { f(id, n) }
	}
	if err := wc.Write(ctx, websocket.MessageBinary, r.Ticket); err != nil {
		wc.CloseNow()
		return nil, fmt.Errorf("ws: send ticket to relay %s: %w", r.RelayID, mapError(err))
	}
	return c, nil
}

// WaitPaired reads the relay's notices until "paired" and returns it.
// waiting, if not nil, is called when the relay answers "waiting".
func (c *Conn) WaitPaired(ctx context.Context, waiting func()) (Notice, error) {
	for {
		typ, p, err := c.read(ctx)
		if err != nil {
			return Notice{}, fmt.Errorf("ws: relay %s: %w", c.relayID, err)
		}
		if typ == websocket.MessageBinary {
			c.ws.Close(websocket.StatusProtocolError, "data before paired")
			return Notice{}, fmt.Errorf("ws: relay %s: data message before paired", c.relayID)
		}
		n, err := ParseNotice(p)
		if err != nil {
			continue
		}
		c.notify(n)
		switch n.Type {
		case NoticeWaiting:
			if waiting != nil {
				waiting()
			}
		case NoticePaired:
			c.paired = n
			return n, nil
		}
	}
}

type attempt struct {
	i    int
	c    *Conn
	err  error
	wait bool // the relay answered "waiting"; c and err are nil
}

// Dial races relays MONET-style: the first at once, each next one after
// Options.Stagger unless a live attempt has answered "waiting" (then after
// Options.WaitStagger), and at once when every started attempt failed. It
// returns the first connection that is paired and closes the others. The
// error lists every relay's failure when none paired.
func Dial(ctx context.Context, relays []Relay, opts *Options) (*Conn, error) {
	if len(relays) == 0 {
		return nil, errors.New("ws: dial: no relays")
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan attempt, 2*len(relays))
	run := func(i int) {
		c, err := Connect(actx, relays[i], opts)
		if err == nil {
			once := false
			_, err = c.WaitPaired(actx, func() {
				if !once {
					once = true
					events <- attempt{i: i, wait: true}
				}
			})
			if err != nil {
				c.ws.CloseNow()
				c = nil
			}
		}
		events <- attempt{i: i, c: c, err: err}
	}

	started, done := 1, 0
	waiting := map[int]bool{}
	go run(0)
	timer := time.NewTimer(opts.stagger())
	defer timer.Stop()
	var errs []error
	startNext := func() {
		if started < len(relays) {
			go run(started)
			started++
		}
		if len(waiting) > 0 {
			timer.Reset(opts.waitStagger())
		} else {
			timer.Reset(opts.stagger())
		}
	}
	var won *Conn
	for won == nil {
		select {
		case <-timer.C:
			startNext()
		case a := <-events:
			switch {
			case a.wait:
				waiting[a.i] = true
				timer.Reset(opts.waitStagger())
			case a.err == nil:
				won = a.c
				done++
			default:
				done++
				delete(waiting, a.i)
				errs = append(errs, a.err)
				if done == len(relays) {
					return nil, errors.Join(errs...)
				}
				if done == started {
					startNext()
				}
			}
		case <-ctx.Done():
			go drain(events, started-done)
			return nil, ctx.Err()
		}
	}
	// Close the losers, including any that pair after we return.
	cancel()
	go drain(events, started-done)
	return won, nil
}

// drain closes the connections of n outstanding attempts.
func drain(events chan attempt, n int) {
	for n > 0 {
		a := <-events
		if a.wait {
			continue
		}
		n--
		if a.c != nil {
			a.c.Close()
		}
	}
}
