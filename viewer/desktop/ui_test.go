package desktop

import (
	"testing"
	"time"
)

// uiQueue stands in for the GL driver's main loop: what the package runs
// "on Fyne's goroutine" is queued, and the test's goroutine runs it when
// it pumps, so the test and the UI code never touch widgets at once.
type uiQueue struct {
	t *testing.T
	c chan func()
}

func useUIQueue(t *testing.T) *uiQueue {
	q := &uiQueue{t: t, c: make(chan func(), 4096)}
	do, wait := uiDo, uiDoAndWait
	uiDo = func(f func()) { q.c <- f }
	uiDoAndWait = func(f func()) {
		done := make(chan struct{})
		q.c <- func() { defer close(done); f() }
		<-done
	}
	t.Cleanup(func() { uiDo, uiDoAndWait = do, wait })
	return q
}

// drain runs what is queued now.
func (q *uiQueue) drain() {
	for {
		select {
		case f := <-q.c:
			f()
		default:
			return
		}
	}
}

// until runs queued functions as they come until cond holds.
func (q *uiQueue) until(what string, cond func() bool) {
	q.t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		q.drain()
		if cond() {
			return
		}
		select {
		case f := <-q.c:
			f()
		case <-tick.C: // cond may depend on other goroutines
		case <-deadline:
			q.t.Fatalf("waiting for %s: timed out", what)
		}
	}
}

// call runs f (which waits for the UI, like a frame) on another
// goroutine and pumps until it returned.
func (q *uiQueue) call(f func()) {
	q.t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	q.until("a call to return", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
}
