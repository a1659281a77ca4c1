//go:build linux

package agent_test

import (
	"context"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/broker"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
	"github.com/deskway/deskway/relay"
)

// testBroker is a real broker (SQLite in a temporary directory) with its
// embedded relay, on 127.0.0.1.
type testBroker struct {
	url   string
	admin *broker.Admin
	ts    *httptest.Server
}

// startBroker starts a broker over plain HTTP (its relay on epoll), or
// over TLS with withTLS (its relay on goroutines, as behind the broker's
// own TLS).
func startBroker(t *testing.T, withTLS ...bool) *testBroker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := broker.OpenStore(ctx, "sqlite:"+filepath.Join(t.TempDir(), "broker.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var h, rh atomic.Pointer[http.Handler]
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	useTLS := len(withTLS) > 0 && withTLS[0]
	engine := relay.EngineAuto
	if useTLS {
		ts.StartTLS()
		engine = relay.EngineGoroutine
	} else {
		ts.Start()
	}
	var relayMu sync.Mutex
	var relaySrv *relay.Server
	srv, err := broker.New(ctx, broker.Config{
		Store: st, DataKey: []byte("0123456789abcdef0123456789abcdef"), PublicURL: ts.URL,
		EmbeddedRelay: true, InsecureHTTP: !useTLS, RelayCheckInterval: time.Hour,
		PasswordParams: broker.PasswordParams{Memory: 8 << 10, Time: 1, Threads: 1},
		ExtraHandlers: map[string]http.Handler{ws.Path: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*rh.Load()).ServeHTTP(w, r)
		})},
		OnTicketKeys: func(keys proto.TicketKeys) {
			relayMu.Lock()
			defer relayMu.Unlock()
			if relaySrv != nil {
				relaySrv.SetTicketKeys(keys)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	relayMu.Lock()
	relaySrv, err = relay.New(relay.Config{RelayID: broker.LocalRelayID, TicketKeys: srv.TicketKeys(), Engine: engine})
	relayMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	rhandler := relaySrv.RelayHandler()
	rh.Store(&rhandler)
	handler := srv.Handler()
	h.Store(&handler)
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	admin, err := broker.NewAdmin(st, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		relaySrv.Shutdown(sctx)
		scancel()
		ts.CloseClientConnections()
		ts.Close()
		st.Close()
	})
	return &testBroker{url: ts.URL, admin: admin, ts: ts}
}

func (b *testBroker) login(t *testing.T, name, password string) *api.Client {
	t.Helper()
	c := &api.Client{BaseURL: b.url, HTTPClient: b.ts.Client()}
	resp, err := c.Login(context.Background(), api.LoginRequest{Name: name, Password: password})
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	c.Token = resp.Token
	return c
}

// joinAsViewer dials the relays of the viewer's pairing p, runs the
// handshake with cfg (session, host and a new static key filled in) and
// starts a test viewer on the channel.
func joinAsViewer(t *testing.T, ctx context.Context, b *testBroker, p *api.Pairing, cfg proto.ViewerConfig) *testViewer {
	t.Helper()
	rs := make([]ws.Relay, len(p.Tickets))
	for i, tk := range p.Tickets {
		rs[i] = ws.Relay(tk)
	}
	conn, err := ws.Dial(ctx, rs, &ws.Options{HTTPClient: b.ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.SessionID, cfg.HostID = p.SessionID, p.HostID
	cfg.Static, _ = proto.NewStaticPrivate(nil)
	vch, err := proto.DialViewer(ctx, conn, cfg)
	if err != nil {
		t.Fatalf("DialViewer: %v", err)
	}
	return newTestViewer(t, vch)
}

// statusLines collects what the agent shows the person at the host.
type statusLines struct {
	mu    sync.Mutex
	lines []string
}

func (s *statusLines) add(l string) { s.mu.Lock(); s.lines = append(s.lines, l); s.mu.Unlock() }

func (s *statusLines) find(re *regexp.Regexp) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

// expectScreen draws on the display and waits until the viewer shows it.
func expectScreen(t *testing.T, d *testbed.Display, v *testViewer) {
	t.Helper()
	draw := newXDraw(t, d, image.Rect(20, 20, 300, 200))
	draw.fill(0x2288cc, image.Rect(10, 10, 100, 60))
	check, err := platform.NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var screen codec.Frame
	check.Capture(image.Rect(0, 0, d.Width, d.Height), &screen)
	waitFor(t, 20*time.Second, "the viewer to show the host's screen", func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		return diff(v.fb, &screen) == 0
	})
}

func runConfig(t *testing.T, d *testbed.Display, b *testBroker, dir string, status *statusLines) agent.RunConfig {
	cap, err := platform.NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cap.Close() })
	return agent.RunConfig{
		Client: &api.Client{BaseURL: b.url, HTTPClient: b.ts.Client()}, Info: api.HostInfo{Name: "test-pc", OS: "linux/amd64", Version: "test"},
		Dir: dir, Status: status.add,
		Session: agent.SessionConfig{Desktop: agent.Desktop{Screen: cap, Prompter: platform.AutoPrompter{Grant: proto.PermView | proto.PermControl}}},
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// TestSupportModeEndToEnd runs `deskway-agent share` against a real
// broker and relay: the agent shows a code, a technician signs in, joins
// with the nameplate only, and proves the whole code in the handshake;
// the screen reaches the viewer.
func TestSupportModeEndToEnd(t *testing.T) {
	d := testbed.Xvfb(t, 480, 320)
	b := startBroker(t)
	supportSession(t, d, b, nil)
}

// TestSupportModeThroughProxy is the support session with the agent
// behind an HTTP proxy that allows only CONNECT, as in an office: the API
// calls, the wait WebSocket and the relay WebSocket all go through it.
func TestSupportModeThroughProxy(t *testing.T) {
	d := testbed.Xvfb(t, 480, 320)
	b := startBroker(t, true)
	proxy, connects := startConnectProxy(t)
	tr := b.ts.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(proxy)
	supportSession(t, d, b, &http.Client{Transport: tr})
	if n := connects.Load(); n < 3 {
		t.Errorf("the proxy saw %d CONNECTs, want at least 3 (API, wait WebSocket, relay)", n)
	}
}

// startConnectProxy serves HTTP CONNECT on 127.0.0.1 and refuses
// everything else.
func startConnectProxy(t *testing.T) (*url.URL, *atomic.Int32) {
	t.Helper()
	var connects atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		dst, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		connects.Add(1)
		src, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			dst.Close()
			return
		}
		src.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(dst, src); dst.Close() }()
		io.Copy(src, dst)
		src.Close()
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	u, _ := url.Parse(srv.URL)
	return u, &connects
}

// supportSession runs a support session: the agent (with hc as its HTTP
// client, nil for the broker's own) shows a code, a technician joins.
func supportSession(t *testing.T, d *testbed.Display, b *testBroker, hc *http.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := b.admin.AddUser(ctx, "tess", api.RoleTechnician, "a long technician password"); err != nil {
		t.Fatal(err)
	}
	status := &statusLines{}
	cfg := runConfig(t, d, b, t.TempDir(), status)
	if hc != nil {
		cfg.Client.HTTPClient = hc
	}
	done := make(chan error, 1)
	go func() { done <- agent.RunSupport(ctx, cfg) }()

	codeRE := regexp.MustCompile(`Your support code is (\d+-\d{3}-\d{3})`)
	waitFor(t, 10*time.Second, "the support code", func() bool { return status.find(codeRE) != nil })
	code, err := proto.ParseSupportCode(status.find(codeRE)[1])
	if err != nil {
		t.Fatal(err)
	}
	tech := b.login(t, "tess", "a long technician password")
	p, err := tech.Join(ctx, code.Nameplate())
	if err != nil {
		t.Fatalf("Join(%s): %v", code.Nameplate(), err)
	}
	v := joinAsViewer(t, ctx, b, p, proto.ViewerConfig{Mode: proto.ModeSupport, Code: code})
	go v.run(ctx)
	expectScreen(t, d, v)
	v.send(ctx, &proto.End{Reason: proto.EndNormal}, true)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunSupport after the viewer ended = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("RunSupport did not return after the viewer ended the session")
	}
	if status.find(regexp.MustCompile(`short authentication string is \d{3} ?\d{3}`)) == nil {
		t.Errorf("the agent never showed the SAS; status: %q", status.lines)
	}
}

// TestUnattendedModeEndToEnd enrolls the agent with a code from the
// broker, sets the host access password locally, keeps the host online
// and lets its owner connect with the password (OPAQUE).
func TestUnattendedModeEndToEnd(t *testing.T) {
	d := testbed.Xvfb(t, 480, 320)
	b := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owner, err := b.admin.AddUser(ctx, "olga", api.RoleUser, "olga's account password")
	if err != nil {
		t.Fatal(err)
	}
	ec, err := b.admin.EnrollCode(ctx, "olga")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	status := &statusLines{}
	cfg := runConfig(t, d, b, dir, status)
	id, err := agent.Enroll(ctx, cfg.Client, dir, ec.Code, cfg.Info)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if id.OwnerID != owner.ID {
		t.Errorf("enrolled for owner %q, want %q", id.OwnerID, owner.ID)
	}
	const password = "correct horse battery staple"
	if err := agent.SetPassword(dir, []byte(password)); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- agent.RunHost(ctx, cfg) }()
	waitFor(t, 10*time.Second, "the host to be online", func() bool { return status.find(regexp.MustCompile(`^Online`)) != nil })

	olga := b.login(t, "olga", "olga's account password")
	p, err := olga.Connect(ctx, id.HostID)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	v := joinAsViewer(t, ctx, b, p, proto.ViewerConfig{Mode: proto.ModeUnattended, OwnerID: p.Owner, Password: []byte(password)})
	go v.run(ctx)
	expectScreen(t, d, v)
	v.mu.Lock()
	if v.consent != proto.PermView|proto.PermControl|proto.PermClipboard {
		t.Errorf("owner got %v, want everything without a prompt", v.consent)
	}
	v.mu.Unlock()
	cancel()
	<-done
	if strings.Contains(strings.Join(status.lines, "\n"), password) {
		t.Errorf("the password appeared in the status output")
	}
}
