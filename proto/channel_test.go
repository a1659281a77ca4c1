package proto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestChannelSupport(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	h, v := PairForTest(t, s)
	if h.SAS() == "" || h.SAS() != v.SAS() {
		t.Errorf("SAS host %q viewer %q, want equal and non-empty", h.SAS(), v.SAS())
	}
	if len(h.SAS()) != 7 || h.SAS()[3] != ' ' {
		t.Errorf("SAS %q, want \"ddd ddd\"", h.SAS())
	}
	if !bytes.Equal(h.HandshakeHash(), v.HandshakeHash()) || len(h.HandshakeHash()) != 32 {
		t.Errorf("handshake hashes %x / %x", h.HandshakeHash(), v.HandshakeHash())
	}
	if h.PeerStatic() != s.Viewer.Static.Public() || v.PeerStatic() != s.Host.Static.Public() {
		t.Error("peer statics do not match the configured keys")
	}
	exchange(t, h, v)
}

func TestChannelUnattended(t *testing.T) {
	s := NewTestSetupForTest(t, ModeUnattended, t.Name())
	h, v := PairForTest(t, s)
	if h.SAS() != v.SAS() {
		t.Errorf("SAS host %q viewer %q", h.SAS(), v.SAS())
	}
	exchange(t, h, v)
}

// exchange sends messages both ways, reliable and not, of several sizes.
func exchange(t *testing.T, h, v *Channel) {
	t.Helper()
	ctx := context.Background()
	sizes := []int{0, 1, 100, 1500, MaxPayload}
	for i, n := range sizes {
		msg := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := v.Send(ctx, msg, i%2 == 0); err != nil {
			t.Fatalf("viewer Send(%d bytes): %v", n, err)
		}
		got, err := h.Recv(ctx)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("host Recv = %d bytes, %v; want %d bytes", len(got), err, n)
		}
		if err := h.Send(ctx, msg, i%2 == 1); err != nil {
			t.Fatalf("host Send(%d bytes): %v", n, err)
		}
		got, err = v.Recv(ctx)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("viewer Recv = %d bytes, %v; want %d bytes", len(got), err, n)
		}
	}
	if err := v.Send(ctx, make([]byte, MaxPayload+1), true); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("Send(MaxPayload+1) = %v, want ErrMessageTooLarge", err)
	}
}

func TestChannelCloseAuthenticated(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	h, v := PairForTest(t, s)
	ctx := context.Background()
	if err := h.Send(ctx, []byte("last words"), true); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(ctx, CloseUser); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := v.Recv(ctx)
	if err != nil || string(got) != "last words" {
		t.Fatalf("Recv = %q, %v; want the message sent before CLOSE", got, err)
	}
	_, err = v.Recv(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || !ce.Remote || ce.Reason != CloseUser {
		t.Fatalf("Recv after CLOSE = %v, want remote *CloseError(CloseUser)", err)
	}
	if err := v.Send(ctx, []byte("x"), true); !errors.As(err, &ce) {
		t.Errorf("Send after peer CLOSE = %v, want *CloseError", err)
	}
	if _, err := h.Recv(ctx); !errors.As(err, &ce) || ce.Remote {
		t.Errorf("host Recv after its Close = %v, want local *CloseError", err)
	}
	if err := h.Close(ctx, CloseUser); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestChannelEOFIsInterrupted: a transport EOF without CLOSE is never a
// clean end.
func TestChannelEOFIsInterrupted(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s, hc, vc)
	if r.HostErr != nil || r.ViewerErr != nil {
		t.Fatal(r.HostErr, r.ViewerErr)
	}
	defer r.Host.Close(context.Background(), CloseNormal)
	defer r.Viewer.Close(context.Background(), CloseNormal)
	hc.Close() // the relay drops the host's connection
	_, err := r.Viewer.Recv(context.Background())
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("viewer Recv after EOF = %v, want ErrInterrupted", err)
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		t.Fatalf("EOF reported as a close: %v", err)
	}
}

func TestHandshakeWrongCode(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	wrong, _ := ParseSupportCode("123-000-000")
	s.Viewer.Code = wrong
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s, hc, vc)
	var he *HandshakeError
	if !errors.Is(r.HostErr, ErrAuthFailed) || !errors.As(r.HostErr, &he) || he.Stage != "key confirmation" || he.Remote {
		t.Errorf("host error = %v, want local ErrAuthFailed at key confirmation", r.HostErr)
	}
	if !errors.Is(r.ViewerErr, ErrAuthFailed) {
		t.Errorf("viewer error = %v, want ErrAuthFailed", r.ViewerErr)
	}
	if st := s.Host.Limiter.(*Limiter).State(); st.Failures != 1 {
		t.Errorf("failures = %d, want 1", st.Failures)
	}
}

func TestHandshakeWrongPassword(t *testing.T) {
	s := NewTestSetupForTest(t, ModeUnattended, t.Name())
	s.Viewer.Password = []byte("correct horse battery stapler")
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s, hc, vc)
	if !errors.Is(r.ViewerErr, ErrAuthFailed) {
		t.Errorf("viewer error = %v, want ErrAuthFailed", r.ViewerErr)
	}
	if !errors.Is(r.HostErr, ErrAuthFailed) {
		t.Errorf("host error = %v, want ErrAuthFailed", r.HostErr)
	}
	if st := s.Host.Limiter.(*Limiter).State(); st.Failures != 1 {
		t.Errorf("failures = %d, want 1 (counted before KE2)", st.Failures)
	}
}

// TestHandshakeOPAQUEServerIdentity: a viewer that asked for host-1 cannot
// be routed to another host of the same owner (SECURITY.md §6 row 10).
func TestHandshakeOPAQUEServerIdentity(t *testing.T) {
	rec, err := RegisterHostPassword("host-2", "owner@example.com", []byte(TestPassword), NewDetRandForTest("host-2"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewTestSetupForTest(t, ModeUnattended, t.Name())
	s.Host.HostID = "host-2"
	s.Host.Password = rec
	// The viewer still asks for host-1: the broker routed it elsewhere.
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s, hc, vc)
	if !errors.Is(r.ViewerErr, ErrAuthFailed) {
		t.Errorf("viewer error = %v, want ErrAuthFailed", r.ViewerErr)
	}
	if r.HostErr == nil {
		t.Error("host accepted a viewer that asked for another host")
	}
}

func TestHandshakeModeMismatch(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	s.Viewer.Mode = ModeUnattended
	s.Viewer.OwnerID = "owner@example.com"
	s.Viewer.Password = []byte(TestPassword)
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s, hc, vc)
	if !errors.Is(r.HostErr, ErrModeMismatch) || !errors.Is(r.ViewerErr, ErrModeMismatch) {
		t.Errorf("errors = %v / %v, want ErrModeMismatch", r.HostErr, r.ViewerErr)
	}
	if st := s.Host.Limiter.(*Limiter).State(); st.Failures != 0 {
		t.Errorf("a mode mismatch counted as an attempt")
	}
}

func TestHandshakeConfigChecks(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	for _, tc := range []struct {
		name string
		edit func(*HostConfig)
	}{
		{"no limiter", func(c *HostConfig) { c.Limiter = nil }},
		{"no static", func(c *HostConfig) { c.Static = StaticPrivate{} }},
		{"no session", func(c *HostConfig) { c.SessionID = SessionID{} }},
		{"no code", func(c *HostConfig) { c.Code = SupportCode{} }},
		{"presentation", func(c *HostConfig) { c.Mode = ModePresentation }},
	} {
		cfg := s.Host
		tc.edit(&cfg)
		hc, _ := Pipe()
		if _, err := AcceptHost(context.Background(), hc, cfg); err == nil {
			t.Errorf("%s: AcceptHost accepted the config", tc.name)
		}
	}
}

// TestPinning: the first session pins the host; a different host key
// under the same host_id is a hard failure; the right key matches.
func TestPinning(t *testing.T) {
	pins := NewMemPinStore()
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	s.Viewer.Pins = pins
	h, v := PairForTest(t, s)
	if v.PinStatus() != PinNew {
		t.Errorf("first contact: pin status %v, want new", v.PinStatus())
	}
	if fp, ok, _ := pins.Lookup("host-1"); !ok || fp != h.static.Public().Fingerprint() {
		t.Errorf("pinned %q, %v; want the host's fingerprint", fp, ok)
	}

	s2 := NewTestSetupForTest(t, ModeSupport, t.Name()+"-2")
	s2.Viewer.Pins = pins
	_, v2 := PairForTest(t, s2)
	if v2.PinStatus() != PinMatched {
		t.Errorf("second contact: pin status %v, want matched", v2.PinStatus())
	}

	s3 := NewTestSetupForTest(t, ModeSupport, t.Name()+"-3")
	s3.Viewer.Pins = pins
	s3.Host.Static = StaticForTest("impostor")
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s3, hc, vc)
	var pm *PinMismatchError
	if !errors.As(r.ViewerErr, &pm) || pm.Name != "host-1" || pm.Got != s3.Host.Static.Public().Fingerprint() {
		t.Fatalf("viewer error = %v, want *PinMismatchError", r.ViewerErr)
	}
	if r.HostErr == nil || r.Host != nil {
		t.Errorf("host error = %v: the viewer must abort before the channel opens", r.HostErr)
	}
	if fp, _, _ := pins.Lookup("host-1"); fp != h.static.Public().Fingerprint() {
		t.Error("a mismatch changed the pin")
	}
}

// TestSASHonest: 50 honest runs, every SAS equal on both ends and the
// values spread.
func TestSASHonest(t *testing.T) {
	seen := map[string]bool{}
	for i := range 50 {
		s := NewTestSetupForTest(t, ModeSupport, fmt.Sprint(t.Name(), i))
		hc, vc := Pipe()
		r := HandshakeForTest(context.Background(), s, hc, vc)
		if r.HostErr != nil || r.ViewerErr != nil {
			t.Fatal(r.HostErr, r.ViewerErr)
		}
		if r.Host.SAS() != r.Viewer.SAS() {
			t.Errorf("run %d: SAS %q / %q", i, r.Host.SAS(), r.Viewer.SAS())
		}
		seen[r.Host.SAS()] = true
		r.Host.Close(context.Background(), CloseNormal)
		r.Viewer.Close(context.Background(), CloseNormal)
	}
	if len(seen) < 45 {
		t.Errorf("only %d distinct SAS in 50 runs", len(seen))
	}
}

// TestChannelConcurrentSenders: many goroutines send reliable messages;
// all arrive exactly once and each sender's order is kept.
func TestChannelConcurrentSenders(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	s.Host.Options.MaxUnacked = 4096 // make senders wait for ACKs
	s.Host.Options.AckInterval = 5 * time.Millisecond
	s.Viewer.Options.AckInterval = 5 * time.Millisecond
	h, v := PairForTest(t, s)
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if err := h.Send(context.Background(), []byte(fmt.Sprintf("%d %05d %s", i, j, bytes.Repeat([]byte("x"), 100))), true); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	last := map[int]int{}
	for range senders * each {
		m, err := v.Recv(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var i, j int
		fmt.Sscanf(string(m), "%d %d", &i, &j)
		if prev, ok := last[i]; ok && j != prev+1 {
			t.Fatalf("sender %d: message %d after %d", i, j, prev)
		}
		last[i] = j
	}
	wg.Wait()
}

// TestChannelEagerAck: with the ACK timer out of the way, a receiver
// that keeps reading still acknowledges every ackEagerBytes, so reliable
// messages worth several times the sender's MaxUnacked get through.
func TestChannelEagerAck(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	for _, o := range []*ChannelOptions{&s.Host.Options, &s.Viewer.Options} {
		o.AckInterval, o.KeepaliveInterval, o.DeadAfter = time.Hour, time.Hour, 4*time.Hour
	}
	h, v := PairForTest(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := make([]byte, MaxPayload)
	n := 3 * (4 << 20) / len(msg) // three default MaxUnacked buffers
	errc := make(chan error, 1)
	go func() {
		for range n {
			if err := h.Send(ctx, msg, true); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		if _, err := v.Recv(ctx); err != nil {
			t.Fatalf("message %d of %d: %v", i, n, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// TestChannelNoGoroutineLeak: Close waits for every goroutine the channel
// started, also after resumptions and on failed handshakes.
func TestChannelNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := range 5 {
		s := NewTestSetupForTest(t, ModeSupport, fmt.Sprint(t.Name(), i))
		hc, vc := Pipe()
		r := HandshakeForTest(context.Background(), s, hc, vc)
		if r.HostErr != nil || r.ViewerErr != nil {
			t.Fatal(r.HostErr, r.ViewerErr)
		}
		cut(r.Host)
		resumeBoth(t, r.Host, r.Viewer)
		r.Viewer.Close(context.Background(), CloseUser)
		r.Host.Close(context.Background(), CloseUser)
		s.Viewer.Code, _ = ParseSupportCode("999-999-999")
		hc, vc = Pipe()
		HandshakeForTest(context.Background(), s, hc, vc)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// stuckConn is a transport whose writes block (a relay applying
// backpressure forever) once stuck is set.
type stuckConn struct {
	MsgConn
	stuck atomic.Bool
}

func (c *stuckConn) WriteMsg(ctx context.Context, p []byte) error {
	if c.stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return c.MsgConn.WriteMsg(ctx, p)
}

// TestCloseWithStuckTransport: Close returns (within its ctx) even while
// a Send is blocked in the transport, and the blocked Send returns too.
func TestCloseWithStuckTransport(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	hc, vc := Pipe()
	sc := &stuckConn{MsgConn: vc}
	r := HandshakeForTest(context.Background(), s, hc, sc)
	if r.HostErr != nil || r.ViewerErr != nil {
		t.Fatal(r.HostErr, r.ViewerErr)
	}
	defer r.Host.Close(context.Background(), CloseNormal)
	sc.stuck.Store(true)
	sent := make(chan error, 1)
	go func() { sent <- r.Viewer.Send(context.Background(), []byte("stuck"), true) }()
	time.Sleep(20 * time.Millisecond) // let Send block in WriteMsg
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r.Viewer.Close(ctx, CloseUser)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a stuck transport", d)
	}
	select {
	case <-sent:
	case <-time.After(2 * time.Second):
		t.Error("the blocked Send did not return after Close")
	}
}
