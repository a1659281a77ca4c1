//go:build !js

package viewer_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
	"github.com/deskway/deskway/relay"
	"github.com/deskway/deskway/viewer"
)

// relayBroker signs real tickets for real relays: the broker's part that
// the viewer uses (the broker's HTTP API has its own tests).
type relayBroker struct {
	t       *testing.T
	key     ed25519.PrivateKey
	sid     proto.SessionID
	mu      sync.Mutex
	relays  []proto.RelayRef // listed in tickets, best first
	tickets int
}

func (b *relayBroker) ticket(role proto.Role) []viewer.Relay {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tickets++
	now := time.Now()
	var out []viewer.Relay
	for _, r := range b.relays {
		tk, err := proto.SignTicket(&proto.Ticket{
			ID: proto.NewTicketID(), Session: b.sid, HostID: "host-1", Role: role, Mode: proto.ModeSupport,
			Relays: b.relays, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute),
		}, "k1", b.key)
		if err != nil {
			b.t.Fatal(err)
		}
		out = append(out, viewer.Relay{ID: r.ID, URL: r.URL, Ticket: tk})
	}
	return out
}

func (b *relayBroker) pairing() *viewer.Pairing {
	return &viewer.Pairing{SessionID: b.sid, HostID: "host-1", Mode: proto.ModeSupport, Role: proto.RoleViewer, Relays: b.ticket(proto.RoleViewer)}
}

func (b *relayBroker) Join(ctx context.Context, nameplate string) (*viewer.Pairing, error) {
	return b.pairing(), nil
}
func (b *relayBroker) Connect(ctx context.Context, hostID string) (*viewer.Pairing, error) {
	return nil, errors.New("not in this test")
}
func (b *relayBroker) Tickets(ctx context.Context, id proto.SessionID) (*viewer.Pairing, error) {
	return b.pairing(), nil
}

// hostDial reaches the relays as the host does, through proto/ws.
func (b *relayBroker) hostDial(ctx context.Context) (proto.MsgConn, error) {
	var rs []ws.Relay
	for _, r := range b.ticket(proto.RoleHost) {
		rs = append(rs, ws.Relay{RelayID: r.ID, URL: r.URL, Ticket: r.Ticket})
	}
	return ws.Dial(ctx, rs, nil)
}

func startRelay(t *testing.T, id string, keys proto.TicketKeys, pairTimeout time.Duration) (*relay.Server, string) {
	t.Helper()
	s, err := relay.New(relay.Config{RelayID: id, TicketKeys: keys, PairTimeout: pairTimeout, DrainRetry: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, srv.URL
}

// TestRelayFailover runs a session through real relays on loopback
// WebSockets: the viewer's default DialRelays, the host through
// proto/ws. Relay r1 shuts down mid-session; its drain notice moves both
// ends to r2 with fresh tickets, the channel resumes, and keys typed
// during the move arrive exactly once.
func TestRelayFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pub, key, _ := ed25519.GenerateKey(nil)
	keys := proto.TicketKeys{"k1": pub}
	r1, u1 := startRelay(t, "r1", keys, 30*time.Second)
	_, u2 := startRelay(t, "r2", keys, 30*time.Second)

	h, _ := newTestHost(t, proto.ModeSupport, "failover")
	code := h.code("failover")
	b := &relayBroker{t: t, key: key, sid: h.cfg.SessionID, relays: []proto.RelayRef{{ID: "r1", URL: u1}, {ID: "r2", URL: u2}}}

	// The host: accept, then answer hello and consent, then resume on
	// every interruption.
	hostDone := make(chan error, 1)
	keysGot := make(chan proto.KeyCode, 16)
	go func() {
		conn, err := b.hostDial(ctx)
		if err != nil {
			hostDone <- err
			return
		}
		ch, err := proto.AcceptHost(ctx, conn, h.cfg)
		if err != nil {
			hostDone <- err
			return
		}
		defer ch.Close(context.Background(), proto.CloseNormal)
		for {
			raw, err := ch.Recv(ctx)
			if errors.Is(err, proto.ErrInterrupted) {
				b.mu.Lock()
				b.relays = b.relays[1:] // the broker knows r1 is gone
				b.mu.Unlock()
				conn, err := b.hostDial(ctx)
				if err == nil {
					_, err = ch.Resume(ctx, conn)
				}
				if err != nil {
					hostDone <- err
					return
				}
				continue
			}
			if err != nil {
				hostDone <- err
				return
			}
			m, err := proto.Unmarshal(raw)
			if err != nil {
				hostDone <- err
				return
			}
			switch m := m.(type) {
			case *proto.ConsentRequest:
				for _, reply := range []proto.Msg{&proto.Hello{MinVersion: 1, MaxVersion: 1}, &proto.Consent{Granted: allPerms}} {
					out, _ := proto.Marshal(reply)
					ch.Send(ctx, out, true)
				}
			case *proto.KeyEvent:
				keysGot <- m.Code
			}
		}
	}()

	e, ev := newEvents()
	v, err := viewer.Connect(ctx, viewer.Config{Broker: b, Static: staticKey(t, "viewer"), Events: ev, Logger: testLogger(t)}, viewer.Target{Code: code})
	if err != nil {
		t.Fatalf("Connect through r1: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- v.Run(ctx) }()
	waitState(t, ctx, e.states, viewer.StateOpen)
	if st := v.Stats(); st.Relay != "r1" {
		t.Fatalf("connected through %q, want r1", st.Relay)
	}

	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	go r1.Shutdown(sctx) // drain: notice, then close
	defer scancel()
	waitState(t, ctx, e.states, viewer.StateReconnecting)
	for i := range 3 {
		v.Key(proto.KeyEvent{Down: true, Code: proto.KeyA + proto.KeyCode(i)})
	}
	waitState(t, ctx, e.states, viewer.StateOpen)
	for i := range 3 {
		if got := recv(t, ctx, keysGot, "key"); got != proto.KeyA+proto.KeyCode(i) {
			t.Errorf("key %d after the move = %v, want %v", i, got, proto.KeyA+proto.KeyCode(i))
		}
	}
	select {
	case k := <-keysGot:
		t.Errorf("an extra key %v arrived: input doubled by the resumption", k)
	case <-time.After(300 * time.Millisecond):
	}
	if st := v.Stats(); st.Relay != "r2" || st.Resumes != 1 {
		t.Errorf("after the move: relay %q, %d resumes; want r2, 1", st.Relay, st.Resumes)
	}
	v.Close()
	if err := recv(t, ctx, runErr, "Run"); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestRelayHostNeverCame: the host never reaches the relay, whose
// pairing timeout becomes ErrHostOffline.
func TestRelayHostNeverCame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pub, key, _ := ed25519.GenerateKey(nil)
	_, u := startRelay(t, "r1", proto.TicketKeys{"k1": pub}, 500*time.Millisecond)
	b := &relayBroker{t: t, key: key, sid: proto.NewSessionID(), relays: []proto.RelayRef{{ID: "r1", URL: u}}}
	_, err := viewer.Connect(ctx, viewer.Config{Broker: b, Static: staticKey(t, "viewer")}, viewer.Target{Code: "123-456-789"})
	if !errors.Is(err, viewer.ErrHostOffline) {
		t.Errorf("Connect = %v, want ErrHostOffline", err)
	}
}
