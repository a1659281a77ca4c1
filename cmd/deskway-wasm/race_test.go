package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
)

// fakeRelay is one relay's behaviour in a race.
type fakeRelay struct {
	delay   time.Duration // until paired or failed
	wait    bool          // answer "waiting" first
	err     error
	started time.Time
}

func TestRace(t *testing.T) {
	// Staggers far from the delays, so a busy machine does not change
	// the order.
	o := raceOptions{stagger: 300 * time.Millisecond, waitStagger: 5 * time.Second}
	tests := []struct {
		name    string
		relays  []fakeRelay
		want    int // winner, -1 for an error
		started int // attempts started at the end
	}{
		{"first wins at once", []fakeRelay{{delay: 0}, {delay: 0}}, 0, 1},
		{"slow first: the second starts after the stagger and wins", []fakeRelay{{delay: time.Minute}, {delay: 0}}, 1, 2},
		{"first waiting: the second waits for the wait stagger", []fakeRelay{{delay: time.Second, wait: true}, {delay: 0}}, 0, 1},
		{"first fails: the second starts at once", []fakeRelay{{err: errors.New("refused")}, {delay: 0}}, 1, 2},
		{"all fail", []fakeRelay{{err: errors.New("a")}, {err: errors.New("b")}}, -1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			started := 0
			closed := make(chan int, len(tt.relays))
			attempt := func(ctx context.Context, i int, waiting func()) (proto.MsgConn, error) {
				mu.Lock()
				started++
				mu.Unlock()
				r := tt.relays[i]
				if r.wait {
					waiting()
				}
				select {
				case <-time.After(r.delay):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				if r.err != nil {
					return nil, r.err
				}
				a, _ := proto.Pipe()
				return closeNotifier{a, closed, i}, nil
			}
			c, i, err := race(context.Background(), len(tt.relays), o, attempt)
			if i != tt.want || (err == nil) != (tt.want >= 0) {
				t.Fatalf("race = %d, %v; want %d", i, err, tt.want)
			}
			if c != nil {
				c.Close()
			}
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if started != tt.started {
				t.Errorf("%d attempts started, want %d", started, tt.started)
			}
		})
	}
}

type closeNotifier struct {
	proto.MsgConn
	closed chan int
	i      int
}

func (c closeNotifier) Close() error {
	c.closed <- c.i
	return c.MsgConn.Close()
}
