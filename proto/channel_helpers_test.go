package proto

// Test helpers shared by the internal tests and, through their exported
// ...ForTest names, by the external package proto_test (the export_test
// pattern: these files are compiled into the same test binary only).

import (
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
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
