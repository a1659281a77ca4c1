//go:build linux

package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

const testKID = "k1"

// testEngine is the engine newTestRelay builds; TestGoroutineEngine runs
// the behaviour tests again with EngineGoroutine.
var testEngine = EngineAuto

type testRelay struct {
	s   *Server
	url string
	key ed25519.PrivateKey
	hs  *httptest.Server

	mu      sync.Mutex
	reports []api.RelaySessionReport
}

func newTestRelay(t testing.TB, mod func(*Config)) *testRelay {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRelay{key: priv}
	cfg := Config{
		RelayID:    "r1",
		TicketKeys: proto.TicketKeys{testKID: pub},
		Loops:      2,
		Engine:     testEngine,
		Report: func(rep api.RelaySessionReport) {
			r.mu.Lock()
			r.reports = append(r.reports, rep)
			r.mu.Unlock()
		},
	}
	if tt, ok := t.(*testing.T); ok {
		cfg.Logger = slog.New(slog.NewTextHandler(tt.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	r.hs = httptest.NewServer(s.Handler())
	r.url = r.hs.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		r.hs.Close()
	})
	return r
}

type ticketOpt func(*proto.Ticket)

func (r *testRelay) ticket(t testing.TB, sess proto.SessionID, role proto.Role, mode proto.Mode, opts ...ticketOpt) []byte {
	t.Helper()
	now := time.Now()
	tk := &proto.Ticket{
		ID: proto.NewTicketID(), Session: sess, HostID: "host-1", Role: role, Mode: mode,
		Relays:   []proto.RelayRef{{ID: "r1", URL: r.url}},
		IssuedAt: now.Add(-time.Second), NotBefore: now.Add(-time.Second), Expiry: now.Add(50 * time.Second),
	}
	key := r.key
	for _, o := range opts {
		o(tk)
	}
	b, err := proto.SignTicket(tk, testKID, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *testRelay) connect(t testing.TB, ticket []byte) *ws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ws.Connect(ctx, ws.Relay{RelayID: "r1", URL: r.url, Ticket: ticket}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.WebSocket().CloseNow() })
	return c
}

// pair connects a host and a viewer of a new session and waits until both
// are paired.
func (r *testRelay) pair(t testing.TB, mode proto.Mode) (host, viewer *ws.Conn) {
	t.Helper()
	sess := proto.NewSessionID()
	host = r.connect(t, r.ticket(t, sess, proto.RoleHost, mode))
	viewer = r.connect(t, r.ticket(t, sess, proto.RoleViewer, mode))
	waitPaired(t, host)
	waitPaired(t, viewer)
	return host, viewer
}

func waitPaired(t testing.TB, c *ws.Conn) ws.Notice {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.WaitPaired(ctx, nil)
	if err != nil {
		t.Fatalf("WaitPaired: %v", err)
	}
	return n
}

func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPairForwardsBothWays(t *testing.T) {
	r := newTestRelay(t, nil)
	host, viewer := r.pair(t, proto.ModeSupport)
	ctx := ctx5(t)
	sizes := []int{0, 1, 125, 126, 127, 4000, 65535, 65536, 100000}
	for i, n := range sizes {
		for _, dir := range []struct {
			name     string
			from, to *ws.Conn
		}{{"host->viewer", host, viewer}, {"viewer->host", viewer, host}} {
			want := pattern(n, byte(i))
			if err := dir.from.WriteMsg(ctx, want); err != nil {
				t.Fatalf("%s: WriteMsg(%d bytes): %v", dir.name, n, err)
			}
			got, err := dir.to.ReadMsg(ctx)
			if err != nil {
				t.Fatalf("%s: ReadMsg: %v", dir.name, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: got %d bytes, want %d (content differs: %v)", dir.name, len(got), n, len(got) == n)
			}
		}
	}
}

func TestPairForwardsFragmentsAndManyMessages(t *testing.T) {
	r := newTestRelay(t, nil)
	host, viewer := r.pair(t, proto.ModeUnattended)
	ctx := ctx5(t)
	// A fragmented message: the coder writer sends a frame per Write.
	w, err := host.WebSocket().Writer(ctx, websocket.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 5 {
		p := pattern(1000*i+3, byte(i))
		want = append(want, p...)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := viewer.ReadMsg(ctx)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("fragmented message: got %d bytes (err %v), want %d", len(got), err, len(want))
	}
	// Many small messages in a burst arrive in order.
	const n = 2000
	go func() {
		for i := range n {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			if err := viewer.WriteMsg(ctx, b[:]); err != nil {
				return
			}
		}
	}()
	for i := range n {
		got, err := host.ReadMsg(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if v := binary.BigEndian.Uint64(got); v != uint64(i) {
			t.Fatalf("message %d: got %d", i, v)
		}
	}
}

func TestPairBackpressureLosesNothing(t *testing.T) {
	r := newTestRelay(t, nil)
	host, viewer := r.pair(t, proto.ModeSupport)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // slow under -race on a busy machine
	defer cancel()
	// The viewer does not read while the host sends far more than the
	// socket buffers hold; then everything arrives in order.
	const n, size = 400, 32 << 10
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			m := pattern(size, byte(i))
			binary.BigEndian.PutUint32(m, uint32(i))
			if err := host.WriteMsg(ctx, m); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("host wrote %d MiB without the viewer reading (err %v): no backpressure", n*size>>20, err)
	default:
	}
	for i := range n {
		got, err := viewer.ReadMsg(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if v := binary.BigEndian.Uint32(got); v != uint32(i) || len(got) != size {
			t.Fatalf("message %d: got seq %d, %d bytes", i, v, len(got))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func closeCode(err error) ws.CloseCode {
	var re *ws.RelayError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// expectClose reads from c until the relay closes it and checks the code.
func expectClose(t *testing.T, c *ws.Conn, want ws.CloseCode) {
	t.Helper()
	ctx := ctx5(t)
	for {
		_, err := c.ReadMsg(ctx)
		if err == nil {
			continue
		}
		if got := closeCode(err); got != want {
			t.Fatalf("closed with %v (code %d), want %d %v", err, got, want, want)
		}
		return
	}
}

func TestTicketFailures(t *testing.T) {
	r := newTestRelay(t, nil)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	sess := proto.NewSessionID()
	used := r.ticket(t, sess, proto.RoleHost, proto.ModeSupport)
	first := r.connect(t, used)
	waitFor(t, first, ws.NoticeWaiting)
	tests := []struct {
		name   string
		ticket []byte
		want   ws.CloseCode
	}{
		{"malformed", []byte("not a ticket"), ws.CloseTicketInvalid},
		{"empty", []byte{}, ws.CloseTicketInvalid},
		{"bad signature", func() []byte {
			b := r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport)
			b[len(b)-1] ^= 1
			return b
		}(), ws.CloseTicketInvalid},
		{"other key", func() []byte {
			now := time.Now()
			b, err := proto.SignTicket(&proto.Ticket{ID: proto.NewTicketID(), Session: sess, HostID: "h", Role: proto.RoleViewer,
				Mode: proto.ModeSupport, Relays: []proto.RelayRef{{ID: "r1", URL: r.url}}, IssuedAt: now, NotBefore: now,
				Expiry: now.Add(time.Minute)}, testKID, otherKey)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}(), ws.CloseTicketInvalid},
		{"unknown kid", func() []byte {
			now := time.Now()
			b, _ := proto.SignTicket(&proto.Ticket{ID: proto.NewTicketID(), Session: sess, HostID: "h", Role: proto.RoleViewer,
				Mode: proto.ModeSupport, Relays: []proto.RelayRef{{ID: "r1", URL: r.url}}, IssuedAt: now, NotBefore: now,
				Expiry: now.Add(time.Minute)}, "k2", r.key)
			return b
		}(), ws.CloseTicketInvalid},
		{"expired", r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport, func(tk *proto.Ticket) {
			tk.IssuedAt = time.Now().Add(-3 * time.Minute)
			tk.NotBefore = tk.IssuedAt
			tk.Expiry = tk.IssuedAt.Add(time.Minute)
		}), ws.CloseTicketExpired},
		{"not yet valid", r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport, func(tk *proto.Ticket) {
			tk.IssuedAt = time.Now().Add(2 * time.Minute)
			tk.NotBefore = tk.IssuedAt
			tk.Expiry = tk.IssuedAt.Add(time.Minute)
		}), ws.CloseTicketExpired},
		{"wrong audience", r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport, func(tk *proto.Ticket) {
			tk.Relays = []proto.RelayRef{{ID: "r2", URL: r.url}}
		}), ws.CloseTicketAudience},
		{"reused", used, ws.CloseTicketReused},
		{"role already present", r.ticket(t, sess, proto.RoleHost, proto.ModeSupport), ws.CloseSessionFull},
		{"mode differs", r.ticket(t, sess, proto.RoleViewer, proto.ModePresentation), ws.CloseSessionFull},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := r.connect(t, tc.ticket)
			expectClose(t, c, tc.want)
		})
	}
	t.Run("text first", func(t *testing.T) {
		wc, _, err := websocket.Dial(ctx5(t), ws.URL(r.url), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer wc.CloseNow()
		wc.Write(ctx5(t), websocket.MessageText, []byte(`{"ticket":1}`))
		_, _, err = wc.Read(ctx5(t))
		if got := websocket.CloseStatus(err); got != websocket.StatusCode(ws.CloseTicketInvalid) {
			t.Fatalf("text first: %v, want close %d", err, ws.CloseTicketInvalid)
		}
	})
	// The first host is unaffected and pairs with a good viewer.
	v := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport))
	waitPaired(t, v)
	waitPaired(t, first)
	st := r.s.Stats()
	if st.PairingFailures["ticket_invalid"] < 5 || st.PairingFailures["ticket_reused"] != 1 || st.PairingFailures["ticket_expired"] != 2 || st.PairingFailures["ticket_audience"] != 1 || st.PairingFailures["session_full"] != 2 {
		t.Errorf("pairing failures = %v", st.PairingFailures)
	}
}

// waitFor reads until a notice of type typ arrives; data messages are an
// error.
func waitFor(t testing.TB, c *ws.Conn, typ string) ws.Notice {
	t.Helper()
	ctx := ctx5(t)
	for {
		data, n, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		if n == nil {
			t.Fatalf("waiting for %q: got a %d-byte data message", typ, len(data))
		}
		if n.Type == typ {
			return *n
		}
	}
}
