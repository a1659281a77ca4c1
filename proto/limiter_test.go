package proto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fail runs one attempt that is not confirmed.
func fail(t *testing.T, l *Limiter, trusted bool) error {
	t.Helper()
	a, err := l.Begin(context.Background(), AttemptInfo{Trusted: trusted})
	if err != nil {
		return err
	}
	a.End()
	return nil
}

func TestPolicyDelay(t *testing.T) {
	p := UnattendedPolicy
	for _, tc := range []struct {
		failures uint32
		want     time.Duration
	}{
		{0, 0}, {4, 0}, {5, time.Minute}, {6, 2 * time.Minute}, {7, 4 * time.Minute}, {8, 8 * time.Minute},
		{9, 16 * time.Minute}, {10, 32 * time.Minute}, {11, time.Hour}, {12, time.Hour}, {20, time.Hour}, {1 << 31, time.Hour},
	} {
		if got := p.Delay(tc.failures); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
	if d := SupportPolicy.Delay(100); d != 0 {
		t.Errorf("support Delay = %v", d)
	}
}

// TestUnattendedSchedule walks the exact schedule of SECURITY.md §4.2 with
// a fake clock: 5 free failures, then 1 min doubling to 1 h, lockdown for
// unknown devices at 20, trusted devices still admitted after the delay,
// and a success resets everything.
func TestUnattendedSchedule(t *testing.T) {
	clk := newFakeClock()
	var events []LimiterEvent
	store := &MemLimiterStore{}
	l, err := NewLimiter(UnattendedPolicy, store, LimiterOptions{Clock: clk.Now, Notify: func(e LimiterEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := fail(t, l, false); err != nil {
			t.Fatalf("free attempt %d: %v", i+1, err)
		}
	}
	for f := uint32(5); f < 20; f++ {
		want := UnattendedPolicy.Delay(f)
		err := fail(t, l, false)
		var le *LimitError
		if !errors.As(err, &le) || le.RetryAfter != want || le.Lockdown {
			t.Fatalf("after %d failures: %v, want retry after %v", f, err, want)
		}
		clk.Advance(want - time.Second)
		if err := fail(t, l, false); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("after %d failures, 1 s early: %v, want ErrRateLimited", f, err)
		}
		clk.Advance(time.Second)
		if err := fail(t, l, false); err != nil {
			t.Fatalf("after %d failures and %v: %v", f, want, err)
		}
	}
	if st := l.State(); st.Failures != 20 {
		t.Fatalf("failures = %d, want 20", st.Failures)
	}
	if len(events) != 1 || events[0] != EventLockdown {
		t.Errorf("events = %v, want [lockdown]", events)
	}
	// Lockdown: unknown devices are refused whatever the delay.
	clk.Advance(24 * time.Hour)
	var le *LimitError
	if err := fail(t, l, false); !errors.As(err, &le) || !le.Lockdown {
		t.Fatalf("unknown device in lockdown: %v, want lockdown", err)
	}
	// A trusted device is admitted, once per hour, and must prove its key.
	a, err := l.Begin(context.Background(), AttemptInfo{Trusted: true})
	if err != nil || !a.TrustedOnly() {
		t.Fatalf("trusted device in lockdown: %v, trusted-only %v", err, a != nil && a.TrustedOnly())
	}
	a.End()
	if err := fail(t, l, true); !errors.As(err, &le) || le.RetryAfter != time.Hour {
		t.Fatalf("second trusted attempt at once: %v, want retry after 1h", err)
	}
	clk.Advance(time.Hour)
	a, err = l.Begin(context.Background(), AttemptInfo{Trusted: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Succeeded(); err != nil {
		t.Fatal(err)
	}
	a.End()
	if st := l.State(); st.Failures != 0 || !st.LastFailure.IsZero() {
		t.Errorf("after success: %+v, want reset", st)
	}
	if err := fail(t, l, false); err != nil {
		t.Errorf("unknown device after reset: %v", err)
	}
	// Every change went through the store.
	if st, _ := store.Load(); st != l.State() {
		t.Errorf("store %+v, limiter %+v", st, l.State())
	}
}

func TestSupportPolicy(t *testing.T) {
	clk := newFakeClock()
	var events []LimiterEvent
	l, err := NewLimiter(SupportPolicy, &MemLimiterStore{}, LimiterOptions{Clock: clk.Now, Notify: func(e LimiterEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := fail(t, l, false); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if err := fail(t, l, false); !errors.Is(err, ErrCodeExhausted) {
		t.Fatalf("4th attempt: %v, want ErrCodeExhausted", err)
	}
	if len(events) != 1 || events[0] != EventCodeExhausted {
		t.Errorf("events = %v", events)
	}

	l, _ = NewLimiter(SupportPolicy, &MemLimiterStore{}, LimiterOptions{Clock: clk.Now})
	a, err := l.Begin(context.Background(), AttemptInfo{})
	if err != nil {
		t.Fatal(err)
	}
	a.Succeeded()
	a.End()
	if err := fail(t, l, false); !errors.Is(err, ErrCodeUsed) {
		t.Errorf("after a success: %v, want ErrCodeUsed", err)
	}

	l, _ = NewLimiter(SupportPolicy, &MemLimiterStore{}, LimiterOptions{Clock: clk.Now})
	clk.Advance(10 * time.Minute)
	if err := fail(t, l, false); !errors.Is(err, ErrCodeExpired) {
		t.Errorf("after 10 min: %v, want ErrCodeExpired", err)
	}
}

func TestLimiterBusyAndFailClosed(t *testing.T) {
	l, _ := NewLimiter(UnattendedPolicy, &MemLimiterStore{}, LimiterOptions{})
	a, err := l.Begin(context.Background(), AttemptInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Begin(context.Background(), AttemptInfo{}); !errors.Is(err, ErrBusy) {
		t.Errorf("concurrent Begin = %v, want ErrBusy", err)
	}
	a.End()
	a.End() // idempotent
	if err := fail(t, l, false); err != nil {
		t.Errorf("Begin after End = %v", err)
	}
	// A store that cannot save refuses the attempt: no reply without a
	// durable count.
	bad := &failingStore{}
	l, err = NewLimiter(LimiterPolicy{}, bad, LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad.fail = true
	if _, err := l.Begin(context.Background(), AttemptInfo{}); err == nil {
		t.Error("Begin with a failing store succeeded")
	}
}

type failingStore struct {
	MemLimiterStore
	fail bool
}

func (f *failingStore) Save(s LimiterState) error {
	if f.fail {
		return errors.New("disk full")
	}
	return f.MemLimiterStore.Save(s)
}

func TestLimiterStateEncoding(t *testing.T) {
	s := LimiterState{Failures: 17, LastFailure: time.Unix(1_800_000_123, 0), Created: time.Unix(1_700_000_000, 0), Used: true}
	b, _ := s.MarshalBinary()
	if len(b) != MaxLimiterStateSize {
		t.Fatalf("encoded %d bytes, want %d", len(b), MaxLimiterStateSize)
	}
	got, err := ParseLimiterState(b)
	if err != nil || !got.LastFailure.Equal(s.LastFailure) || !got.Created.Equal(s.Created) || got.Failures != 17 || !got.Used {
		t.Fatalf("ParseLimiterState(%x) = %+v, %v; want %+v", b, got, err, s)
	}
	// Any single bit flip is detected (CRC-32 catches all of them).
	for i := range 8 * len(b) {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		if _, err := ParseLimiterState(c); !errors.Is(err, ErrLimiterState) {
			t.Errorf("flip of bit %d: %v, want ErrLimiterState", i, err)
		}
	}
	for _, n := range []int{0, 1, len(b) - 1, len(b) + 1} {
		c := make([]byte, n)
		copy(c, b)
		if _, err := ParseLimiterState(c); !errors.Is(err, ErrLimiterState) {
			t.Errorf("length %d: %v", n, err)
		}
	}
	zero, _ := LimiterState{}.MarshalBinary()
	if got, err := ParseLimiterState(zero); err != nil || got.Failures != 0 || !got.Created.IsZero() {
		t.Errorf("zero state: %+v, %v", got, err)
	}
}

func FuzzParseLimiterState(f *testing.F) {
	var seeds [][]byte
	for _, s := range []LimiterState{{}, {Failures: 3, Used: true, Created: time.Unix(1, 0)}, {Failures: 1 << 31, LastFailure: time.Unix(253402300799, 0)}} {
		b, _ := s.MarshalBinary()
		f.Add(b)
		seeds = append(seeds, b)
	}
	f.Add([]byte("dwls"))
	addMutations(f, nil, seeds...)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseLimiterState(b)
		if err != nil {
			return
		}
		again, _ := s.MarshalBinary()
		if string(again) != string(b) {
			t.Fatalf("ParseLimiterState(%x) = %+v re-encodes as %x", b, s, again)
		}
	})
}

// countingLimiter records how many attempts are in flight at once.
type countingLimiter struct {
	AttemptLimiter
	cur, max, admitted, refused atomic.Int64
}

type countingAttempt struct {
	Attempt
	l *countingLimiter
}

func (c *countingLimiter) Begin(ctx context.Context, info AttemptInfo) (Attempt, error) {
	a, err := c.AttemptLimiter.Begin(ctx, info)
	if err != nil {
		c.refused.Add(1)
		return nil, err
	}
	c.admitted.Add(1)
	n := c.cur.Add(1)
	for {
		m := c.max.Load()
		if n <= m || c.max.CompareAndSwap(m, n) {
			break
		}
	}
	return &countingAttempt{a, c}, nil
}

func (a *countingAttempt) End() {
	a.l.cur.Add(-1)
	a.Attempt.End()
}

// TestParallelAttempts (SECURITY.md §6 row 5): 100 viewers attack one host
// at once: at most one PAKE is in flight, the others get ErrBusy, and
// every admitted attempt was counted before its reply.
func TestParallelAttempts(t *testing.T) {
	base, _ := NewLimiter(LimiterPolicy{}, &MemLimiterStore{}, LimiterOptions{})
	lim := &countingLimiter{AttemptLimiter: base}
	wrong, _ := ParseSupportCode("123-000-000")
	var wg sync.WaitGroup
	var busy, authFailed atomic.Int64
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewTestSetupForTest(t, ModeSupport, "parallel")
			s.Host.Limiter = lim
			s.Viewer.Code = wrong
			s.Host.Rand, s.Viewer.Rand = nil, nil
			s.Host.Logger, s.Viewer.Logger = nil, nil
			hc, vc := Pipe()
			r := HandshakeForTest(context.Background(), s, hc, vc)
			switch {
			case errors.Is(r.HostErr, ErrBusy) && errors.Is(r.ViewerErr, ErrBusy):
				busy.Add(1)
			case errors.Is(r.HostErr, ErrAuthFailed) && errors.Is(r.ViewerErr, ErrAuthFailed):
				authFailed.Add(1)
			default:
				t.Errorf("attempt %d: host %v, viewer %v", i, r.HostErr, r.ViewerErr)
			}
		}()
	}
	wg.Wait()
	if m := lim.max.Load(); m != 1 {
		t.Errorf("max in flight = %d, want 1", m)
	}
	if got := base.State().Failures; int64(got) != lim.admitted.Load() || lim.admitted.Load() != authFailed.Load() {
		t.Errorf("failures %d, admitted %d, auth failures %d: every admitted attempt must count", got, lim.admitted.Load(), authFailed.Load())
	}
	t.Logf("100 parallel attempts: %d ran (one at a time), %d got busy", authFailed.Load(), busy.Load())
}

// TestCodeDiesAfterThree: three wrong codes through real handshakes, then
// even the right code is refused; 200 wrong codes on a permissive host
// are all rejected at the first Noise message.
func TestCodeDiesAfterThree(t *testing.T) {
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	right := s.Viewer.Code
	wrong, _ := ParseSupportCode("123-000-000")
	for i := range 4 {
		s.Viewer.Code = wrong
		if i == 3 {
			s.Viewer.Code = right
		}
		hc, vc := Pipe()
		r := HandshakeForTest(context.Background(), s, hc, vc)
		if i < 3 && (!errors.Is(r.HostErr, ErrAuthFailed) || !errors.Is(r.ViewerErr, ErrAuthFailed)) {
			t.Fatalf("wrong code %d: %v / %v", i+1, r.HostErr, r.ViewerErr)
		}
		if i == 3 && (!errors.Is(r.HostErr, ErrCodeExhausted) || !errors.Is(r.ViewerErr, ErrCodeExhausted)) {
			t.Fatalf("right code after 3 wrong ones: %v / %v, want ErrCodeExhausted", r.HostErr, r.ViewerErr)
		}
	}

	lim, _ := NewLimiter(LimiterPolicy{}, &MemLimiterStore{}, LimiterOptions{})
	for i := range 200 {
		s := NewTestSetupForTest(t, ModeSupport, fmt.Sprint(t.Name(), i))
		s.Host.Limiter = lim
		s.Viewer.Code, _ = ParseSupportCode(fmt.Sprintf("123-%06d", i))
		hc, vc := Pipe()
		r := HandshakeForTest(context.Background(), s, hc, vc)
		var he *HandshakeError
		if !errors.As(r.HostErr, &he) || !errors.Is(he, ErrAuthFailed) || he.Stage != "key confirmation" {
			t.Fatalf("wrong code %d: host %v, want ErrAuthFailed at the first Noise message", i, r.HostErr)
		}
	}
	if f := lim.State().Failures; f != 200 {
		t.Errorf("failures = %d, want 200", f)
	}
}

// TestBruteForceMonteCarlo (SECURITY.md §6 row 5): with the secret space
// shrunk to 100 (the attacker knows all but two digits) and the support
// policy (3 attempts per code), an attacker who tries 3 distinct guesses
// through real handshakes succeeds for about 3 % of the codes: one guess
// per attempt, nothing more.
func TestBruteForceMonteCarlo(t *testing.T) {
	codes := 300
	if ReducedForTest() {
		codes = 100
	}
	rng := NewDetRandForTest(t.Name())
	digit2 := func() int {
		var b [1]byte
		for {
			io.ReadFull(rng, b[:])
			if b[0] < 200 {
				return int(b[0]) % 100
			}
		}
	}
	wins := 0
	for i := range codes {
		secret := digit2()
		s := NewTestSetupForTest(t, ModeSupport, fmt.Sprint("mc", i))
		s.Host.Logger, s.Viewer.Logger = nil, nil
		s.Host.Code, _ = ParseSupportCode(fmt.Sprintf("123-4567%02d", secret))
		tried := map[int]bool{}
		for attempt := 0; attempt < 4; attempt++ {
			g := digit2()
			for tried[g] {
				g = digit2()
			}
			tried[g] = true
			s.Viewer.Code, _ = ParseSupportCode(fmt.Sprintf("123-4567%02d", g))
			hc, vc := Pipe()
			r := HandshakeForTest(context.Background(), s, hc, vc)
			if attempt == 3 {
				if r.HostErr == nil || !errors.Is(r.ViewerErr, ErrCodeExhausted) {
					t.Fatalf("code %d: 4th attempt: %v / %v, want ErrCodeExhausted", i, r.HostErr, r.ViewerErr)
				}
				break
			}
			if r.HostErr == nil {
				if g != secret {
					t.Fatalf("code %d: guess %02d accepted for secret %02d", i, g, secret)
				}
				wins++
				r.Host.Close(context.Background(), CloseNormal)
				r.Viewer.Close(context.Background(), CloseNormal)
				break
			}
		}
	}
	// Binomial(codes, 0.03); 99.9 % bound: mean + 3.3 sd.
	mean := 0.03 * float64(codes)
	limit := mean + 3.3*math.Sqrt(mean*0.97)
	if float64(wins) > limit {
		t.Errorf("attacker won %d of %d codes, want about %.0f (≤ %.0f)", wins, codes, mean, limit)
	}
	t.Logf("secret space 100, 3 attempts per code: attacker won %d of %d codes (expected %.1f)", wins, codes, mean)
}

// TestLockdownTrustedDevice: a host in lockdown (20 failures) refuses
// unknown devices before any PAKE, admits a trusted device (and resets on
// its success), and refuses a viewer that claims a trusted device's hint
// but holds another key — even with the right password.
func TestLockdownTrustedDevice(t *testing.T) {
	trusted := StaticForTest("viewer") // the setup's viewer key
	store := &MemLimiterStore{}
	store.Save(LimiterState{Failures: 20, Created: time.Unix(1, 0)}) // last failure long ago
	lim, err := NewLimiter(UnattendedPolicy, store, LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pins := NewMemPinStore(PinEntry{Name: "laptop", Fingerprint: trusted.Public().Fingerprint()})
	setup := func(name string) *TestSetup {
		s := NewTestSetupForTest(t, ModeUnattended, name)
		s.Host.Limiter, s.Host.Trusted = lim, pins
		return s
	}

	s := setup("unknown")
	s.Viewer.Static = StaticForTest("stranger")
	hc, vc := Pipe()
	r := HandshakeForTest(context.Background(), s, hc, vc)
	var le *LimitError
	if !errors.As(r.HostErr, &le) || !le.Lockdown || !errors.Is(r.ViewerErr, ErrRateLimited) {
		t.Fatalf("unknown device in lockdown: %v / %v", r.HostErr, r.ViewerErr)
	}

	s = setup("impostor")
	s.Viewer.Static = StaticForTest("stranger")
	s.Viewer.ClaimDeviceForTest(trusted.Public().Fingerprint())
	hc, vc = Pipe()
	r = HandshakeForTest(context.Background(), s, hc, vc)
	if !errors.Is(r.HostErr, ErrUntrustedDevice) {
		t.Fatalf("impostor with the right password: host %v, want ErrUntrustedDevice", r.HostErr)
	}
	if f := lim.State().Failures; f != 21 {
		t.Errorf("failures after the impostor = %d, want 21 (counted, not reset)", f)
	}

	// The trusted device waits out the 1 h delay the impostor caused.
	lim.opts.Clock = func() time.Time { return time.Now().Add(2 * time.Hour) }
	s = setup("trusted")
	hc, vc = Pipe()
	r = HandshakeForTest(context.Background(), s, hc, vc)
	if r.HostErr != nil || r.ViewerErr != nil {
		t.Fatalf("trusted device in lockdown: %v / %v", r.HostErr, r.ViewerErr)
	}
	defer r.Host.Close(context.Background(), CloseNormal)
	defer r.Viewer.Close(context.Background(), CloseNormal)
	if !r.Host.PeerTrusted() {
		t.Error("host does not report the trusted device")
	}
	if f := lim.State().Failures; f != 0 {
		t.Errorf("failures after the trusted device's success = %d, want 0", f)
	}
}
