package broker

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// The broker's throughput figures, on each store, through HTTPS as
// clients see them:
//
//	go test -run '^$' -bench . -benchtime 20x ./broker/
//
// logins/s is bounded by Argon2id (production parameters, t=3 m=64 MiB
// p=2) and the hashing semaphore (2×NumCPU); tickets/s by the store
// (a session lookup, an audit entry) more than by Ed25519.

func benchBroker(b *testing.B, dsn string) (*testBroker, *api.Client) {
	tb := startBroker(b, openTestStore(b, dsn), nil, func(c *Config) {
		c.PasswordParams = DefaultPasswordParams
		c.LoginLimits = LoginLimits{PerIP: rate.Inf}
		c.Logger = nil
	})
	tb.addUser("alice", api.RoleUser, "alice-password")
	return tb, tb.login("alice", "alice-password")
}

func BenchmarkLogin(b *testing.B) {
	for _, kind := range storeKinds {
		for _, par := range []int{1, 4} {
			b.Run(kind.name+"/concurrent-"+strconv.Itoa(par), func(b *testing.B) {
				tb, _ := benchBroker(b, kind.dsn(b))
				c := tb.client("")
				ctx := context.Background()
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					var wg sync.WaitGroup
					for range par {
						wg.Go(func() {
							if _, err := c.Login(ctx, api.LoginRequest{Name: "alice", Password: "alice-password"}); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
					n += par
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "logins/s")
			})
		}
	}
}

func BenchmarkTickets(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind.name, func(b *testing.B) {
			tb, alice := benchBroker(b, kind.dsn(b))
			ctx := context.Background()
			host := tb.enrollHost(alice, "pc")
			offers, _, _ := runHost(b, tb.client(""), host)
			waitFor(b, "the host online", hostOnline(alice, host.id))
			p, err := alice.Connect(ctx, host.id)
			if err != nil {
				b.Fatal(err)
			}
			<-offers
			// Fresh tickets for a live session: what a viewer asks for on
			// fail-over. One signed ticket per call.
			b.Run("refresh", func(b *testing.B) {
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					if _, err := alice.Tickets(ctx, p.SessionID, proto.RoleViewer, ""); err != nil {
						b.Fatal(err)
					}
					n++
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tickets/s")
			})
			// A whole unattended pairing: session record, two tickets, the
			// offer to the host through the store, the audit entry.
			b.Run("connect", func(b *testing.B) {
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					if _, err := alice.Connect(ctx, host.id); err != nil {
						b.Fatal(err)
					}
					<-offers
					n += 2
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tickets/s")
				b.ReportMetric(float64(n/2)/b.Elapsed().Seconds(), "sessions/s")
			})
		})
	}
}

// BenchmarkSignTicket is the signing alone (no HTTP, no store).
func BenchmarkSignTicket(b *testing.B) {
	st := openTestStore(b, storeKinds[0].dsn(b))
	seal, _ := newSealer(testDataKey)
	k := &keyring{st: st, seal: seal, log: testLogger(b)}
	if _, err := k.maintain(context.Background(), time.Now()); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	t := proto.Ticket{Session: proto.NewSessionID(), HostID: "h-abcdefghijklmnop", Role: proto.RoleViewer, Mode: proto.ModeUnattended,
		Relays:   []proto.RelayRef{{ID: "local", URL: "https://broker.example.com"}, {ID: "eu", URL: "https://relay-eu.example.com"}},
		IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute)}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		t.ID = proto.NewTicketID()
		if _, err := k.sign(&t); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tickets/s")
}

// BenchmarkArgon2id is one password verification with the production
// parameters: the floor under a login's time.
func BenchmarkArgon2id(b *testing.B) {
	h, err := newPasswordHasher(DefaultPasswordParams, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	phc, _ := h.Hash(ctx, "correct horse battery")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if ok, _, _ := h.Verify(ctx, phc, "correct horse battery"); !ok {
			b.Fatal("no match")
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "hashes/s")
}
