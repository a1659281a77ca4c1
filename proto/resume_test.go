package proto

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// resumeBoth resumes h and v over a fresh Pipe and returns both results.
func resumeBoth(t testing.TB, h, v *Channel) (hi, vi ResumeInfo, herr, verr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc, vc := Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hi, herr = h.Resume(ctx, hc)
	}()
	vi, verr = v.Resume(ctx, vc)
	wg.Wait()
	return
}

// cut drops the current connection of c as a dying relay would.
func cut(c *Channel) {
	c.mu.Lock()
	g := c.gen
	c.mu.Unlock()
	g.conn.Close()
}

// TestResumeExactlyOnce: reliable messages from the viewer survive five
// relay failures: each arrives exactly once and in order; unreliable ones
// are delivered in order or dropped and counted.
func TestResumeExactlyOnce(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	for _, o := range []*ChannelOptions{&s.Host.Options, &s.Viewer.Options} {
		o.AckInterval = 2 * time.Millisecond
		o.MaxResumesPerHour = 100
	}
	h, v := PairForTest(t, s)
	const total = 3000
	var sent atomic.Int64
	var sendErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= total; i++ {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			if err := v.Send(context.Background(), b[:], i%3 != 0); err != nil {
				sendErr = err
				return
			}
			sent.Store(int64(i))
			if i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var (
		got      []uint64
		dropped  int
		recvDone = make(chan error, 1)
		mu       sync.Mutex
	)
	go func() {
		for {
			m, err := h.Recv(context.Background())
			if errors.Is(err, ErrInterrupted) {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				recvDone <- err
				return
			}
			n := binary.BigEndian.Uint64(m)
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
			if n == total {
				recvDone <- nil
				return
			}
		}
	}()
	for cuts := 0; cuts < 5; cuts++ {
		for sent.Load() < int64((cuts+1)*total/6) {
			time.Sleep(time.Millisecond)
		}
		cut(h)
		hi, vi, herr, verr := resumeBoth(t, h, v)
		if herr != nil || verr != nil {
			t.Fatalf("resume %d: host %v, viewer %v", cuts, herr, verr)
		}
		if hi.Counter != uint32(cuts+1) || vi.Counter != uint32(cuts+1) {
			t.Errorf("resume %d: counters %d / %d", cuts, hi.Counter, vi.Counter)
		}
		dropped += vi.Dropped
	}
	<-done
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	select {
	case err := <-recvDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("receiver did not get the last message")
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[uint64]bool{}
	prev := uint64(0)
	for _, n := range got {
		if n <= prev {
			t.Fatalf("message %d after %d: duplicated or reordered", n, prev)
		}
		prev = n
		seen[n] = true
	}
	lostUnreliable := 0
	for i := uint64(1); i <= total; i++ {
		if i%3 != 0 && !seen[i] {
			t.Errorf("reliable message %d lost", i)
		}
		if i%3 == 0 && !seen[i] {
			lostUnreliable++
		}
	}
	if lostUnreliable != dropped {
		t.Errorf("%d unreliable messages lost, ResumeInfo reported %d", lostUnreliable, dropped)
	}
	t.Logf("%d messages, %d unreliable dropped over 5 resumptions", len(got), dropped)
}

func TestResumeWindowAndBudget(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}

	t.Run("window", func(t *testing.T) {
		s := NewTestSetupForTest(t, ModeSupport, t.Name())
		s.Host.Options.Clock, s.Viewer.Options.Clock = clock, clock
		h, v := PairForTest(t, s)
		cut(h)
		advance(121 * time.Second)
		_, _, herr, verr := resumeBoth(t, h, v)
		if !errors.Is(herr, ErrResumeExpired) || !errors.Is(verr, ErrResumeExpired) {
			t.Fatalf("resume after 121 s: %v / %v, want ErrResumeExpired", herr, verr)
		}
		if _, err := v.Recv(context.Background()); !errors.Is(err, ErrResumeExpired) {
			t.Errorf("Recv after expiry = %v, want the terminal ErrResumeExpired", err)
		}
		if err := v.Send(context.Background(), []byte("x"), true); !errors.Is(err, ErrResumeExpired) {
			t.Errorf("Send after expiry = %v", err)
		}
	})

	t.Run("budget", func(t *testing.T) {
		s := NewTestSetupForTest(t, ModeSupport, t.Name())
		s.Host.Options.Clock, s.Viewer.Options.Clock = clock, clock
		h, v := PairForTest(t, s)
		for i := 1; i <= 10; i++ {
			cut(h)
			advance(time.Minute)
			_, vi, herr, verr := resumeBoth(t, h, v)
			if herr != nil || verr != nil || vi.Counter != uint32(i) {
				t.Fatalf("resume %d: %v / %v, counter %d", i, herr, verr, vi.Counter)
			}
			// The first record commits the host's pending state.
			if err := v.Send(context.Background(), []byte("ping"), true); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Recv(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		cut(h)
		_, _, herr, verr := resumeBoth(t, h, v)
		if !errors.Is(herr, ErrResumeLimit) || !errors.Is(verr, ErrResumeLimit) {
			t.Fatalf("11th resume in an hour: %v / %v, want ErrResumeLimit", herr, verr)
		}
	})
}

// TestResumePending: the host commits a resumption only on the first
// record; if the viewer committed but that record was lost, the viewer's
// next resumption (n+2 under the pending secret) still works.
func TestResumePending(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	h, v := PairForTest(t, s)
	cut(h)
	if _, _, herr, verr := resumeBoth(t, h, v); herr != nil || verr != nil {
		t.Fatal(herr, verr)
	}
	h.mu.Lock()
	pending, n := h.resume.pending != nil, h.resume.n
	h.mu.Unlock()
	if !pending || n != 0 {
		t.Fatalf("host after resume: pending %v, n %d; want pending, n 0", pending, n)
	}
	// The relay dies before any record of the viewer arrives.
	cut(h)
	_, vi, herr, verr := resumeBoth(t, h, v)
	if herr != nil || verr != nil || vi.Counter != 2 {
		t.Fatalf("second resume: %v / %v, counter %d", herr, verr, vi.Counter)
	}
	if err := v.Send(context.Background(), []byte("after"), true); err != nil {
		t.Fatal(err)
	}
	if m, err := h.Recv(context.Background()); err != nil || string(m) != "after" {
		t.Fatalf("Recv = %q, %v", m, err)
	}
	h.mu.Lock()
	pending, n = h.resume.pending != nil, h.resume.n
	h.mu.Unlock()
	if pending || n != 2 {
		t.Errorf("host after first record: pending %v, n %d; want committed n 2", pending, n)
	}
}

// TestResumeDuringInterruption: messages sent while interrupted: the
// reliable ones arrive after Resume, the unreliable ones are reported as
// dropped (the caller then sends a keyframe).
func TestResumeDuringInterruption(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	h, v := PairForTest(t, s)
	ctx := context.Background()
	cut(h)
	if _, err := h.Recv(ctx); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Recv after cut = %v, want ErrInterrupted", err)
	}
	for _, m := range []struct {
		data     string
		reliable bool
	}{{"frame-1", false}, {"key-a", true}, {"frame-2", false}, {"key-b", true}, {"frame-3", false}} {
		if err := h.Send(ctx, []byte(m.data), m.reliable); err != nil {
			t.Fatalf("Send(%s) while interrupted = %v, want nil", m.data, err)
		}
	}
	hi, _, herr, verr := resumeBoth(t, h, v)
	if herr != nil || verr != nil {
		t.Fatal(herr, verr)
	}
	if hi.Dropped != 3 || hi.Resent != 2 {
		t.Errorf("host ResumeInfo = %+v, want Dropped 3, Resent 2", hi)
	}
	for _, want := range []string{"key-a", "key-b"} {
		if m, err := v.Recv(ctx); err != nil || string(m) != want {
			t.Fatalf("Recv = %q, %v; want %q", m, err, want)
		}
	}
}

// FuzzHostResume gives an established host channel an arbitrary
// RESUME_INIT: no panic, no resumption except with the viewer's genuine
// message (which the host answers, pending, as it cannot tell a replay
// before commit), and the channel stays resumable (a relay cannot kill a
// session with garbage).
func FuzzHostResume(f *testing.F) {
	clk := newFakeClock()
	s := NewTestSetupForTest(f, ModeSupport, "fuzz resume")
	s.Host.Options.Clock, s.Viewer.Options.Clock = clk.Now, clk.Now
	s.Host.Logger, s.Viewer.Logger = nil, nil
	h, v := PairForTest(f, s)
	// A genuine RESUME_INIT as a seed.
	vc := &scriptConn{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	v.Resume(ctx, vc)
	cancel()
	if len(vc.out) == 0 {
		f.Fatal("viewer wrote no RESUME_INIT")
	}
	genuine := vc.out[0]
	f.Add(genuine)
	f.Add([]byte{byte(hsResumeInit), 0, 0, 0, 1})
	f.Add(append([]byte{byte(hsResumeInit), 0, 0, 0, 1}, h.sid[:]...))
	addMutationsN(f, *stressN/10, nil, genuine) // a KK handshake attempt per input
	f.Fuzz(func(t *testing.T, m []byte) {
		conn := &scriptConn{in: [][]byte{m}}
		_, err := h.Resume(context.Background(), conn)
		if err == nil && !bytes.Equal(m, genuine) {
			t.Fatalf("host resumed with %x", m)
		}
		h.mu.Lock()
		term := h.terminal
		// Each input is judged on its own: the genuine message's replays
		// resume (pending) and would spend the hourly budget, which is
		// not under test here.
		h.resume.times = nil
		h.mu.Unlock()
		if term != nil {
			t.Fatalf("garbage ended the channel: %v", term)
		}
	})
}
