package viewer_test

// A scripted host for the viewer's tests: the real dw/1 host side
// (proto.AcceptHost), the real codec encoder and fragmenter, over
// in-memory pipes that the fake broker's Dial hands out. It runs under
// WebAssembly too (no sockets, no exec).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"image"
	"image/color"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// detRand is the ChaCha20 keystream under SHA-256(seed): deterministic
// randomness for known answers.
type detRand struct{ c *chacha20.Cipher }

func newDetRand(seed string) io.Reader {
	k := sha256.Sum256([]byte("deskway viewer test " + seed))
	c, err := chacha20.NewUnauthenticatedCipher(k[:], make([]byte, chacha20.NonceSize))
	if err != nil {
		panic(err)
	}
	return &detRand{c}
}

func (d *detRand) Read(p []byte) (int, error) {
	clear(p)
	d.c.XORKeyStream(p, p)
	return len(p), nil
}

func staticKey(t testing.TB, seed string) proto.StaticPrivate {
	k, err := proto.NewStaticPrivate(newDetRand("static " + seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// quietChannel keeps the channel's timers out of a known-answer run: no
// ACK or keepalive records at times that depend on the scheduler.
var quietChannel = proto.ChannelOptions{AckInterval: time.Hour, KeepaliveInterval: time.Hour, DeadAfter: 4 * time.Hour}

// recConn records what is written through it: the wire bytes of one
// direction, each message length-prefixed into a hash.
type recConn struct {
	proto.MsgConn
	mu     sync.Mutex
	h      hash.Hash
	n      int
	frozen bool // stop recording (what follows depends on the encoder)
}

func (c *recConn) WriteMsg(ctx context.Context, p []byte) error {
	c.mu.Lock()
	if !c.frozen {
		fmt.Fprintf(c.h, "%d:", len(p))
		c.h.Write(p)
		c.n++
	}
	c.mu.Unlock()
	return c.MsgConn.WriteMsg(ctx, p)
}

func (c *recConn) freeze() {
	c.mu.Lock()
	c.frozen = true
	c.mu.Unlock()
}

func (c *recConn) sum() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%x", c.h.Sum(nil))
}

// fakeBroker is the broker's pairing as a value, and the relays as
// in-memory pipes whose host ends go to the test host.
type fakeBroker struct {
	pairing   viewer.Pairing
	err       error // from Join and Connect
	ticketErr error
	hostConns chan proto.MsgConn
	record    bool
	mu        sync.Mutex
	v2h, h2v  []*recConn
	dials     int
	dialErr   error
}

func newFakeBroker(mode proto.Mode, sid proto.SessionID) *fakeBroker {
	return &fakeBroker{
		pairing: viewer.Pairing{
			SessionID: sid, HostID: "host-1", Mode: mode, Role: proto.RoleViewer,
			Owner:  "owner-1",
			Relays: []viewer.Relay{{ID: "mem", URL: "http://relay.invalid", Ticket: []byte("t")}},
		},
		hostConns: make(chan proto.MsgConn, 4),
	}
}

func (b *fakeBroker) Join(ctx context.Context, nameplate string) (*viewer.Pairing, error) {
	if b.err != nil {
		return nil, b.err
	}
	p := b.pairing
	return &p, nil
}

func (b *fakeBroker) Connect(ctx context.Context, hostID string) (*viewer.Pairing, error) {
	return b.Join(ctx, "")
}

func (b *fakeBroker) Tickets(ctx context.Context, id proto.SessionID) (*viewer.Pairing, error) {
	if b.ticketErr != nil {
		return nil, b.ticketErr
	}
	if id != b.pairing.SessionID {
		return nil, &viewer.BrokerError{Status: 404, Code: "not_found", Message: "no such session"}
	}
	return b.Join(ctx, "")
}

func (b *fakeBroker) dial(ctx context.Context, relays []viewer.Relay, onNotice func(relayID, notice string)) (proto.MsgConn, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dialErr != nil {
		return nil, "", b.dialErr
	}
	b.dials++
	v, h := proto.Pipe()
	if b.record {
		rv := &recConn{MsgConn: v, h: sha256.New()}
		rh := &recConn{MsgConn: h, h: sha256.New()}
		b.v2h, b.h2v = append(b.v2h, rv), append(b.h2v, rh)
		v, h = rv, rh
	}
	b.hostConns <- h
	return v, fmt.Sprintf("mem-%d", b.dials), nil
}

// testHost is the host end of one session.
type testHost struct {
	t      testing.TB
	cfg    proto.HostConfig
	b      *fakeBroker
	ch     *proto.Channel
	err    error
	got    chan proto.Msg
	enc    *codec.Encoder
	frag   *proto.Fragmenter
	clip   *proto.Fragmenter
	cur    *proto.Fragmenter
	done   chan struct{}
	opened chan struct{} // closed when AcceptHost returned (ch, err set)
	end    error         // what ended the host's reader
}

func newTestHost(t testing.TB, mode proto.Mode, seed string) (*testHost, *fakeBroker) {
	t.Helper()
	var sid proto.SessionID
	io.ReadFull(newDetRand("sid "+seed), sid[:])
	b := newFakeBroker(mode, sid)
	h := &testHost{
		t: t, b: b,
		cfg: proto.HostConfig{
			Mode: mode, SessionID: sid, HostID: "host-1", Static: staticKey(t, "host"),
			Rand: newDetRand("host " + seed), Options: quietChannel, Logger: testLogger(t),
		},
		got:    make(chan proto.Msg, 1024),
		enc:    codec.NewEncoder(codec.EncoderOptions{}),
		frag:   proto.NewFragmenter(proto.StreamScreen, 0),
		clip:   proto.NewFragmenter(proto.StreamClipboard, 0),
		cur:    proto.NewFragmenter(proto.StreamCursor, 0),
		done:   make(chan struct{}),
		opened: make(chan struct{}),
	}
	lim, err := proto.NewLimiter(proto.SupportPolicy, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.cfg.Limiter = lim
	return h, b
}

// code returns the support code the host shows.
func (h *testHost) code(seed string) string {
	c, err := proto.NewSupportCode("123", newDetRand("code "+seed))
	if err != nil {
		h.t.Fatal(err)
	}
	h.cfg.Code = c
	return c.String()
}

// accept runs the host's handshake on the first connection the viewer
// dials, then reads the viewer's messages into h.got.
func (h *testHost) accept(ctx context.Context) {
	go func() {
		defer close(h.opened)
		var conn proto.MsgConn
		select {
		case conn = <-h.b.hostConns:
		case <-ctx.Done():
			h.err = ctx.Err()
			close(h.done)
			return
		}
		h.ch, h.err = proto.AcceptHost(ctx, conn, h.cfg)
		if h.err != nil {
			close(h.done)
			return
		}
		go h.read(ctx)
	}()
}

func (h *testHost) read(ctx context.Context) {
	defer close(h.done)
	for {
		b, err := h.ch.Recv(ctx)
		if err != nil {
			if errors.Is(err, proto.ErrInterrupted) {
				// The test resumes the channel on a new pipe; like the
				// agent, a failed resumption waits for the next one.
				for {
					var conn proto.MsgConn
					select {
					case conn = <-h.b.hostConns:
					case <-ctx.Done():
						h.end = ctx.Err()
						return
					}
					_, err := h.ch.Resume(ctx, conn)
					if err == nil {
						break
					}
					var ce *proto.CloseError
					if errors.Is(err, proto.ErrResumeExpired) || errors.Is(err, proto.ErrResumeLimit) || errors.As(err, &ce) {
						h.end = err
						return
					}
				}
				continue
			}
			h.end = err
			return
		}
		m, err := proto.Unmarshal(bytes.Clone(b))
		if err != nil {
			h.end = err
			return
		}
		h.got <- m
	}
}

// waitOpen waits for the handshake.
func (h *testHost) waitOpen(ctx context.Context) {
	h.t.Helper()
	select {
	case <-h.opened:
	case <-ctx.Done():
		h.t.Fatalf("host: handshake did not finish: %v", ctx.Err())
	}
	if h.err != nil {
		h.t.Fatalf("host: AcceptHost: %v", h.err)
	}
}

func (h *testHost) send(ctx context.Context, m proto.Msg) {
	h.t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.ch.Send(ctx, b, true); err != nil {
		h.t.Fatalf("host: send %v: %v", m.Type(), err)
	}
}

func (h *testHost) sendPayload(ctx context.Context, f *proto.Fragmenter, payload []byte, flags proto.FragFlags, reliable bool) uint32 {
	h.t.Helper()
	seq, err := f.Start(payload, flags)
	if err != nil {
		h.t.Fatal(err)
	}
	var buf []byte
	for {
		m, ok := f.Next(buf[:0])
		if !ok {
			return seq
		}
		buf = m
		if err := h.ch.Send(ctx, m, reliable); err != nil {
			h.t.Fatalf("host: send fragment: %v", err)
		}
	}
}

// sendFrame encodes img and sends it as one screen update.
func (h *testHost) sendFrame(ctx context.Context, img *image.RGBA) uint32 {
	h.t.Helper()
	keys := h.enc.Stats().Keyframes
	up, err := h.enc.Encode(nil, codec.FrameFromRGBA(img))
	if err != nil {
		h.t.Fatal(err)
	}
	var flags proto.FragFlags
	if h.enc.Stats().Keyframes > keys {
		flags = proto.FragKeyframe
	}
	return h.sendPayload(ctx, h.frag, up, flags, false)
}

// expect returns the next message from the viewer that is not a Ping, a
// Pong or a FrameAck unless want asks for those.
func expect[T proto.Msg](ctx context.Context, h *testHost) T {
	h.t.Helper()
	for {
		select {
		case m := <-h.got:
			if v, ok := m.(T); ok {
				return v
			}
			switch m.(type) {
			case *proto.Ping, *proto.Pong, *proto.FrameAck:
				continue
			}
			var zero T
			h.t.Fatalf("host: got %v (%+v), want %T", m.Type(), m, zero)
		case <-h.done:
			if len(h.got) > 0 {
				continue // what the reader got before it ended comes first
			}
			var zero T
			h.t.Fatalf("host: reader ended (%v) while waiting for %T", h.end, zero)
		case <-ctx.Done():
			var zero T
			h.t.Fatalf("host: waiting for %T: %v", zero, ctx.Err())
		}
	}
}

// testScreen draws a deterministic test picture: a gradient, bars of
// colour and a checkerboard whose phase is step.
func testScreen(w, h, step int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 0x40, 0xff}
			switch {
			case y < 16:
				c = []color.RGBA{{0xff, 0, 0, 0xff}, {0, 0xff, 0, 0xff}, {0, 0, 0xff, 0xff}, {0xff, 0xff, 0xff, 0xff}}[x*4/w]
			case x >= w/2 && y >= h/2 && ((x/8+y/8+step)%2 == 0):
				c = color.RGBA{0x10, 0x10, 0x10, 0xff}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}
