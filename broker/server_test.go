package broker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// testDataKey is the data key of the test brokers.
var testDataKey = []byte("0123456789abcdef0123456789abcdef")

// fastPasswords keeps Argon2id cheap in tests that are not about it.
var fastPasswords = PasswordParams{Memory: 8 << 10, Time: 1, Threads: 1}

// testBroker is a broker Server behind a real TLS listener on 127.0.0.1.
type testBroker struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	url    string
	st     Store
	cancel context.CancelFunc
	done   chan struct{}

	reqMu sync.Mutex
	reqs  []string // every request URI the broker served
}

// requests returns the URIs of the requests the broker served so far.
func (b *testBroker) requests() []string {
	b.reqMu.Lock()
	defer b.reqMu.Unlock()
	return slices.Clone(b.reqs)
}

// startBroker starts a broker on st. mod may change the configuration.
// A listener may be given to serve on a chosen address (restart tests).
func startBroker(t testing.TB, st Store, l net.Listener, mod func(*Config)) *testBroker {
	t.Helper()
	var h atomic.Pointer[http.Handler]
	b := &testBroker{t: t, done: make(chan struct{})}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.reqMu.Lock()
		b.reqs = append(b.reqs, r.RequestURI)
		b.reqMu.Unlock()
		(*h.Load()).ServeHTTP(w, r)
	}))
	if l != nil {
		ts.Listener.Close()
		ts.Listener = l
	}
	ts.Config.ErrorLog = log.New(t.Output(), "", 0)
	ts.StartTLS()
	cfg := Config{
		Store:              st,
		DataKey:            testDataKey,
		PublicURL:          ts.URL,
		EmbeddedRelay:      true,
		PasswordParams:     fastPasswords,
		RelayReportToken:   "report-token",
		RelayCheckInterval: time.Hour,
		Logger:             testLogger(t),
		Version:            "test",
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(context.Background(), cfg)
	if err != nil {
		ts.Close()
		t.Fatalf("New: %v", err)
	}
	handler := srv.Handler()
	h.Store(&handler)
	ctx, cancel := context.WithCancel(context.Background())
	b.srv, b.ts, b.url, b.st, b.cancel = srv, ts, ts.URL, st, cancel
	go func() {
		srv.Run(ctx)
		close(b.done)
	}()
	t.Cleanup(b.stop)
	return b
}

// stop stops the broker (idempotent): its background work, then its
// listener and connections.
func (b *testBroker) stop() {
	b.cancel()
	<-b.done
	b.ts.CloseClientConnections()
	b.ts.Close()
}

func (b *testBroker) client(token string) *api.Client {
	return &api.Client{BaseURL: b.url, HTTPClient: b.ts.Client(), Token: token}
}

func (b *testBroker) addUser(name string, role api.UserRole, password string) *User {
	b.t.Helper()
	u, err := b.srv.createUser(context.Background(), "test", name, role, password, "")
	if err != nil {
		b.t.Fatalf("createUser(%s): %v", name, err)
	}
	return u
}

// login signs in over the API and returns a client with the token.
func (b *testBroker) login(name, password string) *api.Client {
	b.t.Helper()
	c := b.client("")
	resp, err := c.Login(context.Background(), api.LoginRequest{Name: name, Password: password})
	if err != nil {
		b.t.Fatalf("Login(%s): %v", name, err)
	}
	c.Token = resp.Token
	return c
}

// testHost is an enrolled host with its device key.
type testHost struct {
	id   string
	name string
	key  ed25519.PrivateKey
}

func (b *testBroker) enrollHost(owner *api.Client, name string) testHost {
	b.t.Helper()
	ctx := context.Background()
	code, err := owner.NewEnrollCode(ctx, "")
	if err != nil {
		b.t.Fatalf("NewEnrollCode: %v", err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	resp, err := b.client("").Enroll(ctx, code.Code, key, api.HostInfo{Name: name, OS: "linux/amd64", Version: "0.1"})
	if err != nil {
		b.t.Fatalf("Enroll: %v", err)
	}
	return testHost{id: resp.HostID, name: name, key: key}
}

// runHost keeps the host's control connection up (as the agent will) and
// returns its offers.
func runHost(t testing.TB, c *api.Client, h testHost) (offers <-chan *api.Pairing, states <-chan bool, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	o := make(chan *api.Pairing, 8)
	st := make(chan bool, 64)
	done := make(chan error, 1)
	go func() {
		done <- c.RunControl(ctx, api.ControlConfig{
			HostID:  h.id,
			Key:     h.key,
			Info:    api.HostInfo{Name: h.name, OS: "linux/amd64", Version: "0.1"},
			OnOffer: func(p *api.Pairing) { o <- p },
			OnState: func(up bool, err error) {
				if err != nil {
					t.Logf("control connection: up=%v err=%v", up, err)
				}
				select {
				case st <- up:
				default:
				}
			},
			Backoff: api.Backoff{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		})
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, api.ErrHostRejected) {
			t.Errorf("RunControl = %v, want context.Canceled or ErrHostRejected", err)
		}
	}
	t.Cleanup(stop)
	return o, st, stop
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hostOnline(c *api.Client, id string) func() bool {
	return func() bool {
		h, err := c.Host(context.Background(), id)
		return err == nil && h.Online
	}
}

func recvOffer(t testing.TB, offers <-chan *api.Pairing) *api.Pairing {
	t.Helper()
	select {
	case p := <-offers:
		return p
	case <-time.After(20 * time.Second):
		t.Fatalf("no session offer reached the host")
		return nil
	}
}

// fetchKeys gets the ticket keys as a relay does.
func fetchKeys(t testing.TB, c *api.Client) proto.TicketKeys {
	t.Helper()
	b, err := c.TicketKeys(context.Background())
	if err != nil {
		t.Fatalf("TicketKeys: %v", err)
	}
	keys, err := proto.ParseTicketKeys(string(b))
	if err != nil {
		t.Fatalf("ParseTicketKeys(%q): %v", b, err)
	}
	return keys
}

// TestUnattendedFlow walks the unattended path on each store: a user
// makes an enrollment code, a host enrolls with its device key and keeps
// its control connection, shows online, the user connects, the host gets
// the offer, and both ends' tickets verify offline.
func TestUnattendedFlow(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := startBroker(t, openTestStore(t, kind.dsn(t)), nil, nil)
			ctx := context.Background()
			b.addUser("alice", api.RoleUser, "alice-password")
			alice := b.login("alice", "alice-password")
			host := b.enrollHost(alice, "office-pc")

			if h, err := alice.Host(ctx, host.id); err != nil || h.Online || h.Name != "office-pc" {
				t.Fatalf("Host before connecting = %+v, %v; want offline office-pc", h, err)
			}
			if _, err := alice.Connect(ctx, host.id); !api.IsCode(err, api.CodeHostOffline) {
				t.Errorf("Connect(offline host) = %v, want %s", err, api.CodeHostOffline)
			}
			offers, _, _ := runHost(t, b.client(""), host)
			waitFor(t, "the host to come online", hostOnline(alice, host.id))

			viewer, err := alice.Connect(ctx, host.id)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			offer := recvOffer(t, offers)
			me, _ := alice.Me(ctx)
			if offer.SessionID != viewer.SessionID || offer.Role != proto.RoleHost || viewer.Role != proto.RoleViewer ||
				offer.Mode != proto.ModeUnattended || viewer.Owner != me.ID || offer.Owner != me.ID || offer.RefreshToken == "" ||
				viewer.RefreshToken != "" || offer.Viewer != "alice" {
				t.Errorf("viewer %+v\nhost offer %+v", viewer, offer)
			}
			keys := fetchKeys(t, b.client(""))
			for _, p := range []*api.Pairing{viewer, offer} {
				if len(p.Tickets) != 1 || p.Tickets[0].RelayID != LocalRelayID || p.Tickets[0].URL != b.url {
					t.Fatalf("tickets %+v, want one for the embedded relay at %s", p.Tickets, b.url)
				}
				tk, err := proto.VerifyTicket(p.Tickets[0].Ticket, keys, LocalRelayID, time.Now())
				if err != nil {
					t.Fatalf("VerifyTicket(%s ticket): %v", p.Role, err)
				}
				if tk.Session != p.SessionID || tk.Role != p.Role || tk.HostID != host.id || tk.Mode != proto.ModeUnattended {
					t.Errorf("ticket %+v does not match pairing %+v", tk, p)
				}
			}
			// The session is on record.
			ss, err := alice.Sessions(ctx, true)
			if err != nil || len(ss) != 1 || ss[0].ID != viewer.SessionID || ss[0].HostName != "office-pc" {
				t.Errorf("Sessions(live) = %+v, %v", ss, err)
			}
		})
	}
}

// TestTwoInstances runs two brokers on one PostgreSQL: the host's control
// connection is on A, the viewer asks B, and the host gets the offer.
func TestTwoInstances(t *testing.T) {
	dsn := testbed.Postgres(t)
	a := startBroker(t, openTestStore(t, dsn), nil, nil)
	bb := startBroker(t, openTestStore(t, dsn), nil, nil)
	if a.srv.Instance() == bb.srv.Instance() {
		t.Fatalf("both instances are named %s", a.srv.Instance())
	}
	ctx := context.Background()
	a.addUser("alice", api.RoleUser, "alice-password")
	onA := a.login("alice", "alice-password")
	onB := bb.login("alice", "alice-password")
	host := a.enrollHost(onA, "office-pc")
	offers, _, _ := runHost(t, a.client(""), host)
	waitFor(t, "instance B to see the host online", hostOnline(onB, host.id))

	viewer, err := onB.Connect(ctx, host.id)
	if err != nil {
		t.Fatalf("Connect on B: %v", err)
	}
	offer := recvOffer(t, offers)
	if offer.SessionID != viewer.SessionID {
		t.Errorf("host on A got session %v, viewer on B %v", offer.SessionID, viewer.SessionID)
	}
	// Both instances sign with the same key: B's tickets verify with A's
	// published keys.
	if _, err := proto.VerifyTicket(viewer.Tickets[0].Ticket, fetchKeys(t, a.client("")), LocalRelayID, time.Now()); err != nil {
		t.Errorf("B's ticket with A's keys: %v", err)
	}
}
