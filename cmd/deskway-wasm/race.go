package main

import (
	"context"
	"errors"
	"time"

	"github.com/deskway/deskway/proto"
)

// attemptFunc opens relay i, sends its ticket and waits until the relay
// says "paired". It calls waiting once if the relay answers "waiting"
// first. On error it has closed what it opened.
type attemptFunc func(ctx context.Context, i int, waiting func()) (proto.MsgConn, error)

// raceOptions are the staggers of race (docs/ARCHITECTURE.md: ~150 ms
// after the first attempt unless it answered "waiting", then ~3 s).
type raceOptions struct {
	stagger, waitStagger time.Duration
}

var defaultRace = raceOptions{stagger: 150 * time.Millisecond, waitStagger: 3 * time.Second}

type raceEvent struct {
	i    int
	conn proto.MsgConn
	err  error
	wait bool
}

// race tries n relays MONET-style, as proto/ws.Dial does natively: the
// first at once, each next one after the stagger (the wait stagger while
// a started one sits in "waiting"), at once when all started ones failed.
// It returns the first paired connection and its index and closes the
// others, also those that pair after it returned.
func race(ctx context.Context, n int, o raceOptions, attempt attemptFunc) (proto.MsgConn, int, error) {
	if n == 0 {
		return nil, -1, errors.New("deskway-wasm: no relays")
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan raceEvent, 2*n)
	run := func(i int) {
		once := false
		c, err := attempt(actx, i, func() {
			if !once {
				once = true
				events <- raceEvent{i: i, wait: true}
			}
		})
		events <- raceEvent{i: i, conn: c, err: err}
	}
	started, done := 1, 0
	waiting := map[int]bool{}
	go run(0)
	timer := time.NewTimer(o.stagger)
	defer timer.Stop()
	var errs []error
	next := func() {
		if started < n {
			go run(started)
			started++
		}
		if len(waiting) > 0 {
			timer.Reset(o.waitStagger)
		} else {
			timer.Reset(o.stagger)
		}
	}
	for {
		select {
		case <-timer.C:
			next()
		case e := <-events:
			switch {
			case e.wait:
				waiting[e.i] = true
				timer.Reset(o.waitStagger)
			case e.err == nil:
				cancel()
				go drainRace(events, started-done-1)
				return e.conn, e.i, nil
			default:
				done++
				delete(waiting, e.i)
				errs = append(errs, e.err)
				if done == n {
					return nil, -1, errors.Join(errs...)
				}
				if done == started {
					next()
				}
			}
		case <-ctx.Done():
			go drainRace(events, started-done)
			return nil, -1, ctx.Err()
		}
	}
}

// drainRace closes the connections of the n attempts still out.
func drainRace(events chan raceEvent, n int) {
	for n > 0 {
		e := <-events
		if e.wait {
			continue
		}
		n--
		if e.conn != nil {
			e.conn.Close()
		}
	}
}
