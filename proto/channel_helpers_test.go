package proto

// Test helpers shared by the internal tests and, through their exported
// ...ForTest names, by the external package proto_test (the export_test
// pattern: these files are compiled into the same test binary only).

import (
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20"
)

// detRand is a deterministic random stream: the ChaCha20 keystream under
// SHA-256(seed). Golden transcripts inject it everywhere.
type detRand struct{ c *chacha20.Cipher }

func (d *detRand) Read(p []byte) (int, error) {
	clear(p)
	d.c.XORKeyStream(p, p)
	return len(p), nil
}

// NewDetRandForTest returns a deterministic reader for seed.
func NewDetRandForTest(seed string) io.Reader {
	k := sha256.Sum256([]byte("dw/1 test rand " + seed))
	c, err := chacha20.NewUnauthenticatedCipher(k[:], make([]byte, chacha20.NonceSize))
	if err != nil {
		panic(err)
	}
	return &detRand{c}
}

// TestPassword is the host access password of the test host record.
const TestPassword = "correct horse battery staple"

var (
	testRecordOnce sync.Once
	testRecord     *HostPasswordRecord
	testRecordErr  error
)

// HostRecordForTest returns a host password record for host "host-1",
// owner "owner@example.com" and TestPassword, registered once per test
// binary with deterministic randomness (one Argon2id run).
func HostRecordForTest(t testing.TB) *HostPasswordRecord {
	t.Helper()
	testRecordOnce.Do(func() {
		testRecord, testRecordErr = RegisterHostPassword("host-1", "owner@example.com", []byte(TestPassword), NewDetRandForTest("record"))
	})
	if testRecordErr != nil {
		t.Fatal(testRecordErr)
	}
	return testRecord
}

// TestSetup holds a matching pair of configurations.
type TestSetup struct {
	Host   HostConfig
	Viewer ViewerConfig
}

// StaticForTest returns a deterministic static key.
func StaticForTest(seed string) StaticPrivate {
	k, err := NewStaticPrivate(NewDetRandForTest("static " + seed))
	if err != nil {
		panic(err)
	}
	return k
}

// NewTestSetupForTest returns configurations for mode whose randomness
// derives from seed: the session id, both static keys, the support code,
// and both ends' random streams.
func NewTestSetupForTest(t testing.TB, mode Mode, seed string) *TestSetup {
	t.Helper()
	var sid SessionID
	io.ReadFull(NewDetRandForTest("sid "+seed), sid[:])
	lim, err := NewLimiter(LimiterPolicy{}, &MemLimiterStore{}, LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := &TestSetup{
		Host: HostConfig{
			Mode: mode, SessionID: sid, HostID: "host-1", Static: StaticForTest("host"),
			Limiter: lim, Rand: NewDetRandForTest("host " + seed),
			Logger: testLogger(t),
		},
		Viewer: ViewerConfig{
			Mode: mode, SessionID: sid, HostID: "host-1", Static: StaticForTest("viewer"),
			Rand: NewDetRandForTest("viewer " + seed), Logger: testLogger(t),
		},
	}
	switch mode {
	case ModeSupport:
		code, err := NewSupportCode("123", NewDetRandForTest("code "+seed))
		if err != nil {
			t.Fatal(err)
		}
		s.Host.Code, s.Viewer.Code = code, code
		s.Host.Limiter, err = NewLimiter(SupportPolicy, &MemLimiterStore{}, LimiterOptions{})
		if err != nil {
			t.Fatal(err)
		}
	case ModeUnattended:
		s.Host.Password = HostRecordForTest(t)
		s.Viewer.OwnerID = "owner@example.com"
		s.Viewer.Password = []byte(TestPassword)
	}
	return s
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// PairResult is the outcome of both ends of a handshake.
type PairResult struct {
	Host, Viewer       *Channel
	HostErr, ViewerErr error
}

// HandshakeForTest runs AcceptHost on hostConn and DialViewer on
// viewerConn concurrently and returns both outcomes.
func HandshakeForTest(ctx context.Context, s *TestSetup, hostConn, viewerConn MsgConn) PairResult {
	var r PairResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Host, r.HostErr = AcceptHost(ctx, hostConn, s.Host)
	}()
	r.Viewer, r.ViewerErr = DialViewer(ctx, viewerConn, s.Viewer)
	wg.Wait()
	return r
}

// PairForTest establishes a channel pair over an in-memory Pipe and
// registers their Close with t.Cleanup.
func PairForTest(t testing.TB, s *TestSetup) (host, viewer *Channel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc, vc := Pipe()
	r := HandshakeForTest(ctx, s, hc, vc)
	if r.HostErr != nil || r.ViewerErr != nil {
		t.Fatalf("handshake: host %v, viewer %v", r.HostErr, r.ViewerErr)
	}
	t.Cleanup(func() {
		r.Host.Close(context.Background(), CloseNormal)
		r.Viewer.Close(context.Background(), CloseNormal)
	})
	return r.Host, r.Viewer
}

// SetOffersForTest makes the viewer offer exactly these (version, suite)
// pairs, as a flat list v1, s1, v2, s2, ...
func (c *ViewerConfig) SetOffersForTest(pairs ...uint8) {
	c.offers = nil
	for i := 0; i+1 < len(pairs); i += 2 {
		c.offers = append(c.offers, offer{pairs[i], pairs[i+1]})
	}
}

// SetAcceptForTest makes the host accept exactly these versions.
func (c *HostConfig) SetAcceptForTest(versions ...uint8) { c.accept = versions }

// SetAEADForTest wraps the record AEAD (nonce hygiene tests).
func (o *ChannelOptions) SetAEADForTest(f func(key []byte) cipher.AEAD) { o.newAEAD = f }

// Suite ids for tests.
const (
	SuiteCPaceForTest  = suiteCPaceXX
	SuiteOPAQUEForTest = suiteOPAQUEXX
)

// RecordTypeForTest returns the type byte of a record message.
func RecordTypeForTest(m []byte) int {
	if len(m) < recordHeaderLen || m[0] != RecordVersion {
		return -1
	}
	return int(m[1])
}

// Record type numbers for tests.
const (
	RecDataForTest      = int(recData)
	RecDatagramForTest  = int(recDatagram)
	RecAckForTest       = int(recAck)
	RecKeepaliveForTest = int(recKeepalive)
	RecCloseForTest     = int(recClose)
)

// DescribeMsgForTest names a wire message: a handshake message type, or
// "record TYPE eE sS" for a record.
func DescribeMsgForTest(m []byte) string {
	if len(m) == 0 {
		return "empty"
	}
	if h, err := parseRecordHeader(m); err == nil {
		return fmt.Sprintf("record %v e%d s%d", h.typ, h.epoch, h.seq)
	}
	return handshakeType(m[0]).String()
}

// stressN adds deterministic mutations of the seeds to every fuzz target
// of the secure channel, so their properties can be checked on many inputs
// where the fuzzing engine cannot run (or in CI without -fuzz):
//
//	go test ./proto/ -run '^Fuzz' -proto.stress=20000
var stressN = flag.Int("proto.stress", 0, "add this many mutated seeds to each fuzz target of the secure channel")

// addMutations adds *stressN mutations of seeds (bit flips, byte changes,
// truncations, extensions, splices) to f. wrap turns an input into the
// target's arguments (nil: the input itself).
func addMutations(f *testing.F, wrap func([]byte) []any, seeds ...[]byte) {
	if *stressN <= 0 || len(seeds) == 0 {
		return
	}
	h := sha256.Sum256([]byte(f.Name()))
	r := mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(h[:8]), 1))
	for i := range *stressN {
		m := mutate(r, seeds[i%len(seeds)], seeds[r.IntN(len(seeds))])
		if wrap != nil {
			f.Add(wrap(m)...)
		} else {
			f.Add(m)
		}
	}
}

func mutate(r *mrand.Rand, s, other []byte) []byte {
	b := append([]byte(nil), s...)
	for range 1 + r.IntN(3) {
		switch op := r.IntN(6); {
		case op == 0 && len(b) > 0:
			i := r.IntN(8 * len(b))
			b[i/8] ^= 1 << (i % 8)
		case op == 1 && len(b) > 0:
			b[r.IntN(len(b))] = byte(r.IntN(256))
		case op == 2 && len(b) > 0:
			b = b[:r.IntN(len(b))]
		case op == 3:
			extra := make([]byte, 1+r.IntN(64))
			for i := range extra {
				extra[i] = byte(r.IntN(256))
			}
			at := r.IntN(len(b) + 1)
			b = append(b[:at], append(extra, b[at:]...)...)
		case op == 4 && len(other) > 0:
			at := r.IntN(len(b) + 1)
			b = append(b[:at], other[r.IntN(len(other)):]...)
		case op == 5 && len(b) > 1:
			i, j := r.IntN(len(b)), r.IntN(len(b))
			b[i], b[j] = b[j], b[i]
		}
	}
	return b
}

// addMutationsN is addMutations with its own count, for expensive targets.
func addMutationsN(f *testing.F, n int, wrap func([]byte) []any, seeds ...[]byte) {
	saved := *stressN
	*stressN = n
	defer func() { *stressN = saved }()
	addMutations(f, wrap, seeds...)
}

// ReducedForTest reports whether the crypto-heavy test loops (every-bit
// flips, 10^6 records, Argon2id runs) should run reduced: with -short,
// under the race detector (which multiplies their cost and gains nothing
// at full scale) and under WebAssembly.
func ReducedForTest() bool { return testing.Short() || raceEnabled || runtime.GOOS == "js" }

// ClaimDeviceForTest makes the viewer send the device hint of fp (a
// device it may not be).
func (c *ViewerConfig) ClaimDeviceForTest(fp Fingerprint) { c.hint = deviceHint(c.SessionID, fp) }
