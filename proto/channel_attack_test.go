package proto_test

// The malicious-transport suite (SECURITY.md §6 rows 4 and 6): a relay
// built from proto/prototest flips bits, drops, duplicates, reorders,
// truncates, reflects, splices, replays and stalls. Acceptance: zero
// accepted forgeries, zero plaintext delivered from or after a tampered
// record, always a clear error, and no desynchronisation (the channel
// resumes and goes on).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/prototest"
	"github.com/flynn/noise"
)

// permissive replaces the host's limiter by one without limits, for
// tests that fail many handshakes on purpose.
func permissive(t testing.TB, s *proto.TestSetup) {
	l, err := proto.NewLimiter(proto.LimiterPolicy{}, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Host.Limiter = l
}

// quiet disables the timers so that the only records are the ones a test
// sends.
func quiet(s *proto.TestSetup) {
	for _, o := range []*proto.ChannelOptions{&s.Host.Options, &s.Viewer.Options} {
		o.AckInterval = time.Hour
		o.KeepaliveInterval = time.Hour
		o.DeadAfter = 2 * time.Hour
		o.MaxResumesPerHour = 1 << 20
	}
}

// relayHandshake runs a handshake through a new relay with hook.
func relayHandshake(t testing.TB, s *proto.TestSetup, hook prototest.Hook) (*prototest.Relay, proto.PairResult) {
	t.Helper()
	r := prototest.New(hook)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := proto.HandshakeForTest(ctx, s, r.Host(), r.Viewer())
	return r, res
}

func closePair(p proto.PairResult) {
	if p.Host != nil {
		p.Host.Close(context.Background(), proto.CloseNormal)
	}
	if p.Viewer != nil {
		p.Viewer.Close(context.Background(), proto.CloseNormal)
	}
}

// flipAll flips each selected bit of each handshake message (including
// the SAS records, which are part of channel set-up) in a fresh handshake
// and requires both ends to fail. Runs are deterministic: every run with
// the same seed produces the same messages up to the flipped one.
func flipAll(t *testing.T, mode proto.Mode, bits func(msgLen int) []int) {
	seed := t.Name()
	base := proto.NewTestSetupForTest(t, mode, seed)
	permissive(t, base)
	r, res := relayHandshake(t, base, nil)
	if res.HostErr != nil || res.ViewerErr != nil {
		t.Fatalf("honest handshake: %v / %v", res.HostErr, res.ViewerErr)
	}
	logs := [2][][]byte{r.Log(prototest.ViewerToHost), r.Log(prototest.HostToViewer)}
	closePair(res)
	r.Close()

	type job struct {
		dir      prototest.Dir
		msg, bit int
	}
	var jobs []job
	for d, msgs := range logs {
		for n, m := range msgs {
			for _, b := range bits(len(m)) {
				jobs = append(jobs, job{prototest.Dir(d), n, b})
			}
		}
	}
	var (
		next     atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				s := proto.NewTestSetupForTest(t, mode, seed)
				permissive(t, s)
				r, res := relayHandshake(t, s, prototest.FlipBit(j.dir, j.msg, j.bit))
				if err := tamperedOutcome(res); err != nil {
					failures.Add(1)
					t.Errorf("flip %v msg %d bit %d: %v", j.dir, j.msg, j.bit, err)
				}
				closePair(res)
				r.Close()
			}
		}()
	}
	wg.Wait()
	t.Logf("%s: %d handshake messages, %d bit flips, %d undetected", mode, len(logs[0])+len(logs[1]), len(jobs), failures.Load())
}

// tamperedOutcome checks a handshake whose messages were tampered with:
// the end that received the tampered message must fail; if the other
// end had already finished (it sent the last set-up message, SAS_REVEAL,
// and cannot know its fate: the last message of any protocol), its
// channel must deliver nothing and report an error.
func tamperedOutcome(res proto.PairResult) error {
	switch {
	case res.HostErr == nil && res.ViewerErr == nil:
		return fmt.Errorf("both ends completed a tampered handshake")
	case res.HostErr != nil && res.ViewerErr != nil:
		return nil
	}
	c := res.Host
	if c == nil {
		c = res.Viewer
	}
	m, err := recvTimeout(c, 10*time.Second)
	if err == nil {
		return fmt.Errorf("%v delivered %q on a channel whose peer failed the handshake", c.Role(), m)
	}
	if !isRecordError(err) && !errors.Is(err, proto.ErrInterrupted) {
		return fmt.Errorf("%v: unclear error %v", c.Role(), err)
	}
	return nil
}

// TestTamperHandshakeEveryBit flips every bit of every message of a
// support-mode handshake (CPace + Noise XXpsk0 + SAS).
func TestTamperHandshakeEveryBit(t *testing.T) {
	step := 1
	if proto.ReducedForTest() {
		step = 7 // every 7th bit: all bit positions within bytes, all bytes, fewer runs
	}
	flipAll(t, proto.ModeSupport, func(n int) []int {
		var out []int
		for b := 0; b < 8*n; b += step {
			out = append(out, b)
		}
		return out
	})
}

// TestTamperHandshakeOPAQUE flips sampled bits of an unattended-mode
// handshake. Each run costs an Argon2id on the viewer, so 4 positions per
// message spread over the message (natively; 1 under wasm) stand in for
// every bit; the Noise and SAS messages are the same code as in the
// support-mode test above.
func TestTamperHandshakeOPAQUE(t *testing.T) {
	per := 4
	if proto.ReducedForTest() {
		per = 1
	}
	flipAll(t, proto.ModeUnattended, func(n int) []int {
		var out []int
		for i := range per {
			out = append(out, (8*n-1)*i/max(per-1, 1)+i%8)
		}
		for i := range out {
			out[i] = min(out[i], 8*n-1)
		}
		return out
	})
}

// recordPair sets up a quiet channel pair over a relay.
func recordPair(t *testing.T, seed string) (*prototest.Relay, *proto.Channel, *proto.Channel) {
	t.Helper()
	s := proto.NewTestSetupForTest(t, proto.ModeSupport, seed)
	quiet(s)
	r, res := relayHandshake(t, s, nil)
	if res.HostErr != nil || res.ViewerErr != nil {
		t.Fatalf("handshake: %v / %v", res.HostErr, res.ViewerErr)
	}
	t.Cleanup(func() { closePair(res); r.Close() })
	return r, res.Host, res.Viewer
}

// resumeBoth resumes both ends through a fresh relay and returns it.
func resumeBoth(t *testing.T, h, v *proto.Channel) *prototest.Relay {
	t.Helper()
	r := prototest.New(nil)
	t.Cleanup(r.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var herr error
	done := make(chan struct{})
	go func() { _, herr = h.Resume(ctx, r.Host()); close(done) }()
	_, verr := v.Resume(ctx, r.Viewer())
	<-done
	if herr != nil || verr != nil {
		t.Fatalf("resume: host %v, viewer %v", herr, verr)
	}
	return r
}

func isRecordError(err error) bool {
	return errors.Is(err, proto.ErrRecordAuth) || errors.Is(err, proto.ErrRecordOrder) || errors.Is(err, proto.ErrRecordMalformed)
}

func recvTimeout(c *proto.Channel, d time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Recv(ctx)
}

// TestTamperRecords flips one random bit in each of 1000 transport
// records (both directions, header and body): every one is detected, the
// message after it on the same connection is not delivered either, and
// after a resumption both arrive exactly once.
func TestTamperRecords(t *testing.T) {
	n := 1000
	if proto.ReducedForTest() && runtime.GOOS != "js" {
		n = 200 // -short and -race; wasm runs all 1000 (about 30 s)
	}
	r, h, v := recordPair(t, t.Name())
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	counts := map[string]int{}
	for i := range n {
		dir := prototest.Dir(i % 2)
		sender, receiver := v, h
		if dir == prototest.HostToViewer {
			sender, receiver = h, v
		}
		next := len(r.Log(dir))
		msg := []byte(fmt.Sprintf("tampered %04d %s", i, bytes.Repeat([]byte("."), rng.IntN(64))))
		after := []byte(fmt.Sprintf("after %04d", i))
		bit := rng.IntN(8 * (16 + 8 + len(msg) + 16))
		r.SetHook(prototest.FlipBit(dir, next, bit))
		if err := sender.Send(ctx, msg, true); err != nil {
			t.Fatal(err)
		}
		if err := sender.Send(ctx, after, true); err != nil {
			t.Fatal(err)
		}
		got, err := recvTimeout(receiver, 10*time.Second)
		if err == nil {
			t.Fatalf("flip %d (bit %d of record %d %v): delivered %q", i, bit, next, dir, got)
		}
		if !isRecordError(err) {
			t.Fatalf("flip %d: error %v is not a record error", i, err)
		}
		switch {
		case errors.Is(err, proto.ErrRecordAuth):
			counts["auth"]++
		case errors.Is(err, proto.ErrRecordOrder):
			counts["order"]++
		default:
			counts["malformed"]++
		}
		r = resumeBoth(t, h, v)
		for _, want := range [][]byte{msg, after} {
			got, err := recvTimeout(receiver, 10*time.Second)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("flip %d: after resume Recv = %q, %v; want %q", i, got, err, want)
			}
		}
	}
	t.Logf("%d record flips detected: %v", n, counts)
}

// TestRecordAttacks: duplicate, reorder, drop, reflect (both ways),
// oversize and truncated records.
func TestRecordAttacks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dir      prototest.Dir
		hook     func(n int) prototest.Hook
		victim   string // "host" or "viewer": who must report the error
		want     error  // or ErrRecordAuth where the seqs happen to line up
		sendMore bool
	}{
		{"duplicate", prototest.ViewerToHost, func(n int) prototest.Hook { return prototest.Duplicate(prototest.ViewerToHost, n) }, "host", proto.ErrRecordOrder, false},
		{"reorder", prototest.ViewerToHost, func(n int) prototest.Hook { return prototest.Swap(prototest.ViewerToHost, n) }, "host", proto.ErrRecordOrder, true},
		{"drop", prototest.ViewerToHost, func(n int) prototest.Hook { return prototest.Drop(prototest.ViewerToHost, n) }, "host", proto.ErrRecordOrder, true},
		{"reflect to viewer", prototest.ViewerToHost, func(n int) prototest.Hook { return prototest.Reflect(prototest.ViewerToHost, n) }, "viewer", proto.ErrRecordOrder, false},
		{"reflect to host", prototest.HostToViewer, func(n int) prototest.Hook { return prototest.Reflect(prototest.HostToViewer, n) }, "host", proto.ErrRecordOrder, false},
		{"oversize", prototest.ViewerToHost, func(n int) prototest.Hook {
			return prototest.Edit(prototest.ViewerToHost, n, func(b []byte) []byte { return append(b, make([]byte, 70000)...) })
		}, "host", proto.ErrRecordMalformed, false},
		{"length lies", prototest.ViewerToHost, func(n int) prototest.Hook {
			return prototest.Edit(prototest.ViewerToHost, n, func(b []byte) []byte { b[14], b[15] = 0xff, 0xff; return b })
		}, "host", proto.ErrRecordMalformed, false},
		{"short", prototest.ViewerToHost, func(n int) prototest.Hook {
			return prototest.Edit(prototest.ViewerToHost, n, func(b []byte) []byte { return b[:10] })
		}, "host", proto.ErrRecordMalformed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, h, v := recordPair(t, t.Name())
			sender := v
			if tc.dir == prototest.HostToViewer {
				sender = h
			}
			victim := h
			if tc.victim == "viewer" {
				victim = v
			}
			r.SetHook(tc.hook(len(r.Log(tc.dir))))
			ctx := context.Background()
			sender.Send(ctx, []byte("one"), true)
			if tc.sendMore {
				sender.Send(ctx, []byte("two"), true)
			}
			var got [][]byte
			var err error
			for {
				var m []byte
				m, err = recvTimeout(victim, 10*time.Second)
				if err != nil {
					break
				}
				got = append(got, m)
			}
			if !errors.Is(err, tc.want) && !(tc.want == proto.ErrRecordOrder && errors.Is(err, proto.ErrRecordAuth)) {
				t.Fatalf("%s Recv error = %v, want %v", tc.victim, err, tc.want)
			}
			// What was delivered is a prefix of what was sent, never a
			// duplicate, never out of order.
			if victim != sender {
				for i, m := range got {
					if want := []string{"one", "two"}[i]; string(m) != want {
						t.Errorf("delivered %q as message %d, want %q", m, i, want)
					}
				}
				if tc.name == "duplicate" && len(got) != 1 {
					t.Errorf("duplicate delivered %d messages", len(got))
				}
			}
			// No desynchronisation: resume and carry on.
			resumeBoth(t, h, v)
			if err := v.Send(ctx, []byte("still here"), true); err != nil {
				t.Fatal(err)
			}
			for {
				m, err := recvTimeout(h, 10*time.Second)
				if err != nil {
					t.Fatalf("after resume: %v", err)
				}
				if string(m) == "still here" {
					break
				}
			}
		})
	}
}

// TestReflectAligned reflects a record whose epoch and seq are exactly
// what its sender expects next from the peer: only the per-direction
// keys stop it.
func TestReflectAligned(t *testing.T) {
	r, h, v := recordPair(t, t.Name())
	ctx := context.Background()
	// After the SAS the viewer has sent 1 record and received 2: its next
	// send seq (1) is one behind its next receive seq (2). One more
	// record from the viewer lines them up.
	v.Send(ctx, []byte("aligning"), true)
	if m, err := recvTimeout(h, 10*time.Second); err != nil || string(m) != "aligning" {
		t.Fatal(m, err)
	}
	r.SetHook(prototest.Reflect(prototest.ViewerToHost, len(r.Log(prototest.ViewerToHost))))
	v.Send(ctx, []byte("mirror"), true)
	if m, err := recvTimeout(v, 10*time.Second); !errors.Is(err, proto.ErrRecordAuth) {
		t.Fatalf("viewer Recv of its own reflected record = %q, %v; want ErrRecordAuth", m, err)
	}
}

// TestTruncation: a relay that cuts the connection produces "interrupted"
// at both ends, never a clean close.
func TestTruncation(t *testing.T) {
	r, h, v := recordPair(t, t.Name())
	r.SetHook(prototest.CutAt(prototest.HostToViewer, len(r.Log(prototest.HostToViewer))))
	h.Send(context.Background(), []byte("never arrives"), true)
	for _, c := range []*proto.Channel{h, v} {
		_, err := recvTimeout(c, 10*time.Second)
		var ce *proto.CloseError
		if !errors.Is(err, proto.ErrInterrupted) || errors.As(err, &ce) {
			t.Errorf("%v: Recv = %v, want ErrInterrupted and no CloseError", c.Role(), err)
		}
	}
	resumeBoth(t, h, v)
	if m, err := recvTimeout(v, 10*time.Second); err != nil || string(m) != "never arrives" {
		t.Errorf("after resume: %q, %v", m, err)
	}
}

// TestStall: a relay that holds everything of one direction: the
// receiver declares the connection dead after DeadAfter.
func TestStall(t *testing.T) {
	s := proto.NewTestSetupForTest(t, proto.ModeSupport, t.Name())
	for _, o := range []*proto.ChannelOptions{&s.Host.Options, &s.Viewer.Options} {
		o.KeepaliveInterval = 20 * time.Millisecond
		o.DeadAfter = 200 * time.Millisecond
	}
	r, res := relayHandshake(t, s, nil)
	if res.HostErr != nil || res.ViewerErr != nil {
		t.Fatal(res.HostErr, res.ViewerErr)
	}
	defer r.Close()
	defer closePair(res)
	r.SetHook(prototest.StallFrom(prototest.ViewerToHost, len(r.Log(prototest.ViewerToHost))))
	start := time.Now()
	_, err := recvTimeout(res.Host, 10*time.Second)
	if !errors.Is(err, proto.ErrInterrupted) {
		t.Fatalf("host Recv during stall = %v, want ErrInterrupted", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("declared dead after %v, before DeadAfter", d)
	}
}

// TestSplice: a relay connects the viewer of one session to the host of
// another: during the handshake (different codes, same code) and in the
// middle of established sessions.
func TestSplice(t *testing.T) {
	t.Run("handshake", func(t *testing.T) {
		a := proto.NewTestSetupForTest(t, proto.ModeSupport, "A")
		b := proto.NewTestSetupForTest(t, proto.ModeSupport, "B")
		for _, sameCode := range []bool{false, true} {
			s := &proto.TestSetup{Host: b.Host, Viewer: a.Viewer}
			if sameCode {
				s.Host.Code = a.Viewer.Code // same code, other session id
			}
			r, res := relayHandshake(t, s, nil)
			if res.HostErr == nil || res.ViewerErr == nil {
				t.Errorf("same code %v: spliced handshake succeeded: %v / %v", sameCode, res.HostErr, res.ViewerErr)
			}
			if !errors.Is(res.ViewerErr, proto.ErrAuthFailed) {
				t.Errorf("same code %v: viewer error %v, want ErrAuthFailed", sameCode, res.ViewerErr)
			}
			closePair(res)
			r.Close()
		}
		// Same code and session id, another host id: CI differs.
		s := proto.NewTestSetupForTest(t, proto.ModeSupport, "C")
		s.Host.HostID = "host-2"
		r, res := relayHandshake(t, s, nil)
		if res.HostErr == nil || res.ViewerErr == nil {
			t.Errorf("host id splice succeeded")
		}
		closePair(res)
		r.Close()
	})
	t.Run("records", func(t *testing.T) {
		ra, ha, va := recordPair(t, "A")
		rb, hb, vb := recordPair(t, "B")
		_ = ha
		_ = vb
		// Relay A forwards viewer A's records to host B.
		ra.SetHook(func(r *prototest.Relay, m prototest.Msg) {
			if m.Dir == prototest.ViewerToHost {
				rb.Deliver(prototest.ViewerToHost, m.Data)
				return
			}
			r.Deliver(m.Dir, m.Data)
		})
		va.Send(context.Background(), []byte("for host A"), true)
		m, err := recvTimeout(hb, 10*time.Second)
		if !errors.Is(err, proto.ErrRecordAuth) && !errors.Is(err, proto.ErrRecordOrder) {
			t.Fatalf("host B Recv = %q, %v; want a record error", m, err)
		}
	})
}

// TestResumeReplay: a recorded RESUME_INIT replayed after the resumption
// committed, and one with a stale counter, are rejected; the channel
// stays usable.
func TestResumeReplay(t *testing.T) {
	_, h, v := recordPair(t, t.Name())
	ctx := context.Background()
	r1 := resumeBoth(t, h, v)
	init := r1.Log(prototest.ViewerToHost)[0]
	if init[0] != 0x21 {
		t.Fatalf("first message of the resumption is %#x, want RESUME_INIT", init[0])
	}
	// Commit: the first record from the viewer.
	v.Send(ctx, []byte("commit"), true)
	if m, err := recvTimeout(h, 10*time.Second); err != nil || string(m) != "commit" {
		t.Fatal(m, err)
	}
	stale := bytes.Clone(init)
	stale[4] = 0 // counter 1 → 0
	forward := bytes.Clone(init)
	forward[4] = 9 // counter 9: no such pending state
	for _, tc := range []struct {
		name string
		msg  []byte
	}{{"replay", init}, {"stale counter", stale}, {"future counter", forward}} {
		r := prototest.New(nil)
		go r.Deliver(prototest.ViewerToHost, tc.msg)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := h.Resume(rctx, r.Host())
		cancel()
		if !errors.Is(err, proto.ErrResumeRejected) {
			t.Errorf("%s: host Resume = %v, want ErrResumeRejected", tc.name, err)
		}
		r.Close()
	}
	// The replay did not advance or break anything.
	resumeBoth(t, h, v)
	v.Send(ctx, []byte("after replays"), true)
	if m, err := recvTimeout(h, 10*time.Second); err != nil || string(m) != "after replays" {
		t.Fatalf("after replays: %q, %v", m, err)
	}
}

// TestResumeReplayBeforeCommit: the relay replays the RESUME_INIT on a
// second connection before the viewer's first record arrives. The host
// answers (it cannot tell), but the viewer's own pending state survives.
func TestResumeReplayBeforeCommit(t *testing.T) {
	_, h, v := recordPair(t, t.Name())
	r1 := resumeBoth(t, h, v)
	init := r1.Log(prototest.ViewerToHost)[0]
	r2 := prototest.New(nil)
	defer r2.Close()
	go r2.Deliver(prototest.ViewerToHost, init)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Resume(ctx, r2.Host()); err != nil {
		t.Fatalf("host answering the replay: %v", err)
	}
	// The real viewer lost its first record with relay 1 and resumes
	// again (counter 2 under its pending secret).
	resumeBoth(t, h, v)
	v.Send(context.Background(), []byte("ok"), true)
	if m, err := recvTimeout(h, 10*time.Second); err != nil || string(m) != "ok" {
		t.Fatalf("viewer after replay: %q, %v", m, err)
	}
}

// lvFields splits a one-byte-length lv_cat encoding (enough for the
// short fields of ADa and ADb).
func lvFields(t *testing.T, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		if n >= 0x80 || 1+n > len(b) {
			t.Fatalf("lvFields: bad length at %x", b)
		}
		out = append(out, b[1:1+n])
		b = b[1+n:]
	}
	return out
}

func lvJoin(fs ...[]byte) []byte {
	var out []byte
	for _, f := range fs {
		out = append(out, byte(len(f)))
		out = append(out, f...)
	}
	return out
}

// editHello rewrites the AD of a CLIENT_HELLO or SERVER_HELLO.
func editHello(t *testing.T, msg []byte, edit func(ad [][]byte) [][]byte) []byte {
	outer := lvFields(t, msg[1:])
	ad := edit(lvFields(t, outer[0]))
	return append([]byte{msg[0]}, lvJoin(lvJoin(ad...), outer[1])...)
}

// TestDowngrade (SECURITY.md §6 row 6): a relay that edits the version
// offers, the host's choice or the mode, that offers only a legacy or an
// unknown (null) suite, or that strips the psk from Noise msg1, always
// makes the handshake fail.
func TestDowngrade(t *testing.T) {
	cp := proto.SuiteCPaceForTest
	setup := func(t *testing.T) *proto.TestSetup {
		s := proto.NewTestSetupForTest(t, proto.ModeSupport, t.Name())
		permissive(t, s)
		s.Viewer.SetOffersForTest(2, cp, 1, cp)
		s.Host.SetAcceptForTest(2, 1)
		return s
	}
	t.Run("honest v2", func(t *testing.T) {
		r, res := relayHandshake(t, setup(t), nil)
		defer r.Close()
		defer closePair(res)
		if res.HostErr != nil || res.ViewerErr != nil {
			t.Fatalf("honest two-version handshake: %v / %v", res.HostErr, res.ViewerErr)
		}
		hello := r.Log(prototest.HostToViewer)[0]
		if ad := lvFields(t, lvFields(t, hello[1:])[0]); ad[1][0] != 2 {
			t.Errorf("host chose version %d, want 2", ad[1][0])
		}
	})
	for _, tc := range []struct {
		name string
		hook prototest.Hook
		want error // what the host or the viewer reports
	}{
		{"strip v2 from offers", prototest.Edit(prototest.ViewerToHost, 0, func(m []byte) []byte {
			return editHello(t, m, func(ad [][]byte) [][]byte { ad[2] = []byte{1, cp}; return ad })
		}), proto.ErrAuthFailed},
		{"choice v2 → v1", prototest.Edit(prototest.HostToViewer, 0, func(m []byte) []byte {
			return editHello(t, m, func(ad [][]byte) [][]byte { ad[1] = []byte{1, cp}; return ad })
		}), proto.ErrAuthFailed},
		{"choice not offered", prototest.Edit(prototest.HostToViewer, 0, func(m []byte) []byte {
			return editHello(t, m, func(ad [][]byte) [][]byte { ad[1] = []byte{3, cp}; return ad })
		}), proto.ErrDowngrade},
		{"legacy version only", prototest.Edit(prototest.ViewerToHost, 0, func(m []byte) []byte {
			return editHello(t, m, func(ad [][]byte) [][]byte { ad[2] = []byte{0, cp}; return ad })
		}), proto.ErrVersion},
		{"null suite only", prototest.Edit(prototest.ViewerToHost, 0, func(m []byte) []byte {
			return editHello(t, m, func(ad [][]byte) [][]byte { ad[2] = []byte{2, 0, 1, 0}; return ad })
		}), proto.ErrVersion},
		{"mode byte", prototest.Edit(prototest.ViewerToHost, 0, func(m []byte) []byte {
			return editHello(t, m, func(ad [][]byte) [][]byte { ad[1] = []byte{byte(proto.ModeUnattended)}; return ad })
		}), proto.ErrModeMismatch},
		{"strip psk", prototest.Edit(prototest.ViewerToHost, 1, func(m []byte) []byte {
			// Replace Noise msg1 by a psk-less Noise_XX msg1.
			hs, err := noise.NewHandshakeState(noise.Config{
				CipherSuite: noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s),
				Pattern:     noise.HandshakeXX, Initiator: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			msg1, _, _, _ := hs.WriteMessage(nil, nil)
			return append([]byte{m[0]}, lvJoin(nil, msg1)...)
		}), proto.ErrAuthFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, res := relayHandshake(t, setup(t), tc.hook)
			defer r.Close()
			defer closePair(res)
			if res.HostErr == nil || res.ViewerErr == nil {
				t.Fatalf("handshake completed: host %v, viewer %v", res.HostErr, res.ViewerErr)
			}
			if !errors.Is(res.HostErr, tc.want) && !errors.Is(res.ViewerErr, tc.want) {
				t.Errorf("errors %v / %v, want %v", res.HostErr, res.ViewerErr, tc.want)
			}
		})
	}
}

// TestNoPlaintextOnTheWire: no record carries its plaintext in the clear
// (there is no null cipher), and no two runs produce the same bytes.
func TestNoPlaintextOnTheWire(t *testing.T) {
	secret := []byte("SECRET-KEYSTROKES-0123456789")
	var first [][]byte
	for run := range 2 {
		r, h, v := recordPair(t, fmt.Sprint(t.Name(), run))
		v.Send(context.Background(), secret, true)
		if m, err := recvTimeout(h, 10*time.Second); err != nil || !bytes.Equal(m, secret) {
			t.Fatal(m, err)
		}
		log := append(r.Log(prototest.ViewerToHost), r.Log(prototest.HostToViewer)...)
		for _, m := range log {
			if bytes.Contains(m, secret) || bytes.Contains(m, secret[:8]) {
				t.Fatalf("plaintext on the wire: %x", m)
			}
		}
		if run == 0 {
			first = log
			continue
		}
		for i := range min(len(first), len(log)) {
			if bytes.Equal(first[i], log[i]) {
				t.Errorf("message %d identical in two sessions", i)
			}
		}
	}
}
