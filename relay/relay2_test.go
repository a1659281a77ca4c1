//go:build linux

package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
)

func slotted(slot uint32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, slot), body...)
}

func TestPresentationFanOut(t *testing.T) {
	r := newTestRelay(t, nil)
	sess := proto.NewSessionID()
	host := r.connect(t, r.ticket(t, sess, proto.RoleHost, proto.ModePresentation))
	waitFor(t, host, ws.NoticeWaiting)
	var viewers []*ws.Conn
	for i := range 3 {
		v := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModePresentation))
		n := waitPaired(t, v)
		if n.Viewers != i+1 {
			t.Errorf("viewer %d: paired with viewers=%d, want %d", i+1, n.Viewers, i+1)
		}
		hn := waitFor(t, host, ws.NoticePaired)
		if hn.Slot != uint32(i+1) || hn.Viewers != i+1 {
			t.Errorf("host: paired %+v, want slot %d viewers %d", hn, i+1, i+1)
		}
		viewers = append(viewers, v)
	}
	ctx := ctx5(t)
	// Slot 0 goes to every viewer, without the slot.
	if err := host.WriteMsg(ctx, slotted(0, []byte("to all"))); err != nil {
		t.Fatal(err)
	}
	// Slot 2 goes to the second viewer only.
	if err := host.WriteMsg(ctx, slotted(2, []byte("to two"))); err != nil {
		t.Fatal(err)
	}
	if err := host.WriteMsg(ctx, slotted(0, []byte("again all"))); err != nil {
		t.Fatal(err)
	}
	for i, v := range viewers {
		want := []string{"to all", "again all"}
		if i == 1 {
			want = []string{"to all", "to two", "again all"}
		}
		for _, w := range want {
			got, err := v.ReadMsg(ctx)
			if err != nil || string(got) != w {
				t.Fatalf("viewer %d: got %q (%v), want %q", i+1, got, err, w)
			}
		}
	}
	// A viewer's message reaches the host prefixed with its slot.
	if err := viewers[2].WriteMsg(ctx, []byte("input")); err != nil {
		t.Fatal(err)
	}
	got, err := host.ReadMsg(ctx)
	if err != nil || !bytes.Equal(got, slotted(3, []byte("input"))) {
		t.Fatalf("host got %x (%v), want %x", got, err, slotted(3, []byte("input")))
	}
	// A viewer leaving is reported to the host with its slot.
	viewers[0].Close()
	if n := waitFor(t, host, ws.NoticePeerLeft); n.Slot != 1 {
		t.Errorf("peer_left %+v, want slot 1", n)
	}
}

func TestSlowViewerDoesNotStallOthers(t *testing.T) {
	r := newTestRelay(t, func(c *Config) { c.ViewerQueueBytes = 64 << 10 })
	sess := proto.NewSessionID()
	host := r.connect(t, r.ticket(t, sess, proto.RoleHost, proto.ModePresentation))
	slow := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModePresentation))
	fast := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModePresentation))
	waitPaired(t, slow)
	waitPaired(t, fast)
	ctx := ctx5(t)
	// The slow viewer reads nothing while the host sends far more than
	// its socket buffers and its queue hold; the fast one gets every
	// message, and the host is never held up.
	const n, size = 600, 16 << 10
	go func() {
		for i := range n {
			m := pattern(4+size, byte(i))
			binary.BigEndian.PutUint32(m, 0)
			binary.BigEndian.PutUint32(m[4:], uint32(i))
			if host.WriteMsg(ctx, m) != nil {
				return
			}
		}
	}()
	for i := range n {
		got, err := fast.ReadMsg(ctx)
		if err != nil {
			t.Fatalf("fast viewer, message %d: %v", i, err)
		}
		if v := binary.BigEndian.Uint32(got); v != uint32(i) {
			t.Fatalf("fast viewer: got message %d, want %d", v, i)
		}
	}
	// The slow viewer now reads: it gets a "lost" notice and, after it,
	// the latest messages, in order.
	var lost int64
	last := -1
	for {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		data, note, err := slow.Next(rctx)
		cancel()
		if err != nil {
			break
		}
		if note != nil {
			if note.Type == ws.NoticeLost {
				lost += note.Count
			}
			continue
		}
		v := int(binary.BigEndian.Uint32(data))
		if v <= last {
			t.Fatalf("slow viewer: message %d after %d", v, last)
		}
		last = v
	}
	if lost == 0 || last != n-1 {
		t.Fatalf("slow viewer: lost %d, last message %d; want a loss and the last message %d", lost, last, n-1)
	}
	if d := r.s.Stats().Dropped; d != lost {
		t.Errorf("Stats().Dropped = %d, want %d (the lost notices' sum)", d, lost)
	}
}

func TestMessageTooBig(t *testing.T) {
	r := newTestRelay(t, func(c *Config) { c.MaxMessageBytes = 1000 })
	host, viewer := r.pair(t, proto.ModeSupport)
	ctx := ctx5(t)
	if err := host.WriteMsg(ctx, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if got, err := viewer.ReadMsg(ctx); err != nil || len(got) != 1000 {
		t.Fatalf("1000-byte message: %d bytes, %v", len(got), err)
	}
	host.WriteMsg(ctx, make([]byte, 1001))
	expectClose(t, host, ws.CloseLimit)
	// The viewer learns that its peer left.
	waitFor(t, viewer, ws.NoticePeerLeft)
}

func TestMaxSessions(t *testing.T) {
	r := newTestRelay(t, func(c *Config) { c.MaxSessions = 2 })
	r.pair(t, proto.ModeSupport)
	s2 := proto.NewSessionID()
	h2 := r.connect(t, r.ticket(t, s2, proto.RoleHost, proto.ModeSupport))
	waitFor(t, h2, ws.NoticeWaiting)
	c := r.connect(t, r.ticket(t, proto.NewSessionID(), proto.RoleHost, proto.ModeSupport))
	expectClose(t, c, ws.CloseCapacity)
	// An end of an existing session still gets in.
	v2 := r.connect(t, r.ticket(t, s2, proto.RoleViewer, proto.ModeSupport))
	waitPaired(t, v2)
}

func TestMaxConnections(t *testing.T) {
	r := newTestRelay(t, func(c *Config) { c.MaxConnections = 2 })
	r.pair(t, proto.ModeSupport)
	_, err := ws.Connect(ctx5(t), ws.Relay{RelayID: "r1", URL: r.url, Ticket: []byte("x")}, nil)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("third connection: %v, want a 503 at the upgrade", err)
	}
}

func TestPairingTimeout(t *testing.T) {
	r := newTestRelay(t, func(c *Config) { c.PairTimeout = 500 * time.Millisecond })
	sess := proto.NewSessionID()
	h := r.connect(t, r.ticket(t, sess, proto.RoleHost, proto.ModeSupport))
	waitFor(t, h, ws.NoticeWaiting)
	expectClose(t, h, ws.ClosePairingTimeout)
	waitReport(t, r, sess, "pairing_timeout")
}

func TestIdleTimeoutAndKeepAlive(t *testing.T) {
	r := newTestRelay(t, func(c *Config) {
		c.KeepAlive = 200 * time.Millisecond
		c.IdleTimeout = 2500 * time.Millisecond
	})
	host, viewer := r.pair(t, proto.ModeSupport)
	// The viewer keeps reading, so it answers the relay's pings and
	// stays; the host reads nothing, so it does not answer and is cut.
	ctx := ctx5(t)
	go func() {
		for {
			if _, err := viewer.ReadMsg(ctx); err != nil {
				return
			}
		}
	}()
	time.Sleep(4 * time.Second)
	_, err := host.ReadMsg(ctx)
	if err != io.EOF {
		t.Fatalf("idle host: ReadMsg = %v, want io.EOF (close 1001)", err)
	}
	// The host's socket lingers until it answers the close or
	// closeLinger passes.
	for i := 0; r.s.Stats().Connections != 1; i++ {
		if i == 50 {
			t.Fatalf("connections = %d, want 1 (the viewer that answered pings)", r.s.Stats().Connections)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestByteRateCap(t *testing.T) {
	const rate = 256 << 10
	r := newTestRelay(t, func(c *Config) { c.SessionBytesPerSecond = rate })
	host, viewer := r.pair(t, proto.ModeSupport)
	ctx := ctx5(t)
	const total = 1 << 20 // burst 256 KiB, then 768 KiB at 256 KiB/s: about 3 s
	go func() {
		for range total / (32 << 10) {
			if host.WriteMsg(ctx, make([]byte, 32<<10)) != nil {
				return
			}
		}
	}()
	start := time.Now()
	got := 0
	for got < total {
		b, err := viewer.ReadMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got += len(b)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("1 MiB through a 256 KiB/s cap took %v, want at least 2 s", d)
	}
}

func TestDrain(t *testing.T) {
	r := newTestRelay(t, func(c *Config) { c.DrainRetry = 1500 * time.Millisecond })
	sess := proto.NewSessionID()
	host := r.connect(t, r.ticket(t, sess, proto.RoleHost, proto.ModeSupport))
	viewer := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport))
	waitPaired(t, host)
	waitPaired(t, viewer)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- r.s.Shutdown(ctx)
	}()
	for _, c := range []*ws.Conn{host, viewer} {
		if n := waitFor(t, c, ws.NoticeDrain); n.RetryMS != 1500 {
			t.Errorf("drain notice %+v, want retry_ms 1500", n)
		}
	}
	// Draining: health says so, new connections are refused.
	resp, err := http.Get(r.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz while draining: %d, want 503", resp.StatusCode)
	}
	late := r.connect(t, r.ticket(t, proto.NewSessionID(), proto.RoleHost, proto.ModeSupport))
	expectClose(t, late, ws.CloseDraining)
	// The existing session still works until its ends leave.
	ctx := ctx5(t)
	if err := host.WriteMsg(ctx, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	if got, err := viewer.ReadMsg(ctx); err != nil || string(got) != "last words" {
		t.Fatalf("during drain: %q, %v", got, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a session was open", err)
	case <-time.After(200 * time.Millisecond):
	}
	host.Close()
	viewer.Close()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v after the session ended", err)
	}
}

func TestDrainDeadlineClosesWith4007(t *testing.T) {
	r := newTestRelay(t, nil)
	host, viewer := r.pair(t, proto.ModeSupport)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := r.s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown = %v, want deadline exceeded", err)
	}
	expectClose(t, host, ws.CloseDraining)
	expectClose(t, viewer, ws.CloseDraining)
	waitReport(t, r, proto.SessionID{}, "drain")
}

// waitReport waits for the report of sess (or of any session when sess is
// zero) and checks its end reason.
func waitReport(t *testing.T, r *testRelay, sess proto.SessionID, reason string) {
	t.Helper()
	for range 100 {
		r.mu.Lock()
		for _, rep := range r.reports {
			if sess.IsZero() || rep.SessionID == sess {
				r.mu.Unlock()
				if rep.EndReason != reason || rep.RelayID != "r1" || rep.End.Before(rep.Start) {
					t.Errorf("report %+v, want end reason %q", rep, reason)
				}
				return
			}
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no report for session %v", sess)
}

func TestReportCountsBytes(t *testing.T) {
	r := newTestRelay(t, nil)
	sess := proto.NewSessionID()
	host := r.connect(t, r.ticket(t, sess, proto.RoleHost, proto.ModeSupport))
	viewer := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport))
	waitPaired(t, host)
	waitPaired(t, viewer)
	ctx := ctx5(t)
	host.WriteMsg(ctx, make([]byte, 1000))
	viewer.ReadMsg(ctx)
	viewer.WriteMsg(ctx, make([]byte, 300))
	host.ReadMsg(ctx)
	host.Close()
	waitFor(t, viewer, ws.NoticePeerLeft)
	viewer.Close()
	waitReport(t, r, sess, "closed")
	r.mu.Lock()
	rep := r.reports[len(r.reports)-1]
	r.mu.Unlock()
	if rep.BytesFromHost != 1000 || rep.BytesToHost != 300 {
		t.Errorf("report bytes from host %d, to host %d; want 1000, 300", rep.BytesFromHost, rep.BytesToHost)
	}
}

func TestPeerReconnects(t *testing.T) {
	r := newTestRelay(t, nil)
	sess := proto.NewSessionID()
	host := r.connect(t, r.ticket(t, sess, proto.RoleHost, proto.ModeSupport))
	v1 := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport))
	waitPaired(t, host)
	waitPaired(t, v1)
	v1.Close()
	waitFor(t, host, ws.NoticePeerLeft)
	// A new viewer (new ticket) pairs with the waiting host.
	v2 := r.connect(t, r.ticket(t, sess, proto.RoleViewer, proto.ModeSupport))
	waitPaired(t, v2)
	waitFor(t, host, ws.NoticePaired)
	ctx := ctx5(t)
	v2.WriteMsg(ctx, []byte("hello again"))
	if got, err := host.ReadMsg(ctx); err != nil || string(got) != "hello again" {
		t.Fatalf("after reconnect: %q, %v", got, err)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	r := newTestRelay(t, nil)
	host, viewer := r.pair(t, proto.ModeSupport)
	ctx := ctx5(t)
	host.WriteMsg(ctx, []byte("x"))
	viewer.ReadMsg(ctx)
	expectClose(t, r.connect(t, []byte("junk")), ws.CloseTicketInvalid)
	resp, err := http.Get(r.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, b)
	}
	time.Sleep(100 * time.Millisecond)
	resp, err = http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"deskway_relay_sessions 1",
		"deskway_relay_connections 2",
		`deskway_relay_bytes_total{direction="from_host"} 1`,
		`deskway_relay_messages_total{direction="from_host"} 1`,
		"deskway_relay_dropped_messages_total 0",
		`deskway_relay_pairing_failures_total{reason="ticket_invalid"} 1`,
		"deskway_relay_forward_delay_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(string(b), "deskway_relay_"))
		}
	}
}

func TestHandshakeRejectsNonWebSocket(t *testing.T) {
	r := newTestRelay(t, nil)
	resp, err := http.Get(r.url + ws.Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: %d, want 426", resp.StatusCode)
	}
}

func TestDialRacesRelays(t *testing.T) {
	r1 := newTestRelay(t, nil)
	sess := proto.NewSessionID()
	ctx := ctx5(t)
	// The first relay listed is down; Dial moves on to the second.
	dead := ws.Relay{RelayID: "dead", URL: "http://127.0.0.1:1", Ticket: []byte("x")}
	hostc := make(chan *ws.Conn, 1)
	go func() {
		c, err := ws.Dial(ctx, []ws.Relay{dead, {RelayID: "r1", URL: r1.url, Ticket: r1.ticket(t, sess, proto.RoleHost, proto.ModeSupport)}},
			&ws.Options{Stagger: 50 * time.Millisecond})
		if err != nil {
			t.Error(err)
		}
		hostc <- c
	}()
	v, err := ws.Dial(ctx, []ws.Relay{{RelayID: "r1", URL: r1.url, Ticket: r1.ticket(t, sess, proto.RoleViewer, proto.ModeSupport)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	h := <-hostc
	if h == nil {
		t.Fatal("host did not pair")
	}
	defer h.Close()
	if h.RelayID() != "r1" || h.Paired().Type != ws.NoticePaired {
		t.Errorf("host paired via %q (%+v)", h.RelayID(), h.Paired())
	}
	v.WriteMsg(ctx, []byte("over r1"))
	if got, err := h.ReadMsg(ctx); err != nil || string(got) != "over r1" {
		t.Fatalf("%q, %v", got, err)
	}
	// A relay that refuses the ticket ends Dial with the relay's code.
	_, err = ws.Dial(ctx, []ws.Relay{{RelayID: "r1", URL: r1.url, Ticket: []byte("bad")}}, nil)
	if closeCode(err) != ws.CloseTicketInvalid {
		t.Errorf("Dial with a bad ticket: %v, want code %d", err, ws.CloseTicketInvalid)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTLS serves the relay over TLS from the process itself: the epoll
// engine bridges such connections through a socket pair.
func TestTLS(t *testing.T) {
	r := newTestRelay(t, nil)
	ts := httptest.NewTLSServer(r.s.Handler())
	defer ts.Close()
	sess := proto.NewSessionID()
	ctx := ctx5(t)
	opts := &ws.Options{HTTPClient: ts.Client()}
	dial := func(role proto.Role) *ws.Conn {
		c, err := ws.Connect(ctx, ws.Relay{RelayID: "r1", URL: ts.URL, Ticket: r.ticket(t, sess, role, proto.ModeSupport)}, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.WebSocket().CloseNow() })
		return c
	}
	host, viewer := dial(proto.RoleHost), dial(proto.RoleViewer)
	waitPaired(t, host)
	waitPaired(t, viewer)
	for _, n := range []int{10, 70000} {
		want := pattern(n, 3)
		if err := host.WriteMsg(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := viewer.ReadMsg(ctx); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("over TLS: %d bytes, %v; want %d", len(got), err, n)
		}
	}
}
