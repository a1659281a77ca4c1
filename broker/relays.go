package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// RelayConfig names a relay: its id (a ticket's audience) and base URL
// (clients dial URL + "/v1/relay"; the broker checks URL + "/healthz").
type RelayConfig struct {
	ID  string
	URL string
}

// LocalRelayID is the registry id of the relay embedded in the broker
// process.
const LocalRelayID = "local"

// ParseRelayConfig parses "ID=URL".
func ParseRelayConfig(s string) (RelayConfig, error) {
	id, u, ok := strings.Cut(s, "=")
	if !ok || id == "" || u == "" {
		return RelayConfig{}, fmt.Errorf("broker: relay %q: want ID=URL", s)
	}
	rc := RelayConfig{ID: id, URL: strings.TrimRight(u, "/")}
	return rc, rc.validate()
}

func (rc RelayConfig) validate() error {
	// A ticket with just this relay must be signable.
	t := proto.Ticket{Session: proto.SessionID{1}, HostID: "h", Role: proto.RoleHost, Mode: proto.ModeSupport,
		Relays: []proto.RelayRef{{ID: rc.ID, URL: rc.URL}}, IssuedAt: time.Unix(1, 0), NotBefore: time.Unix(1, 0), Expiry: time.Unix(2, 0)}
	if _, err := proto.SignTicket(&t, "k", make([]byte, 64)); err != nil {
		return fmt.Errorf("broker: relay %s=%s: %w", rc.ID, rc.URL, err)
	}
	return nil
}

// relayRegistry knows the relays the broker hands out in tickets and
// whether each answered its last health check. Relays not yet checked
// count as healthy; the embedded relay always does.
//
// Safe for concurrent use.
type relayRegistry struct {
	client *http.Client
	log    *slog.Logger
	mu     sync.Mutex
	relays []*relayState
}

type relayState struct {
	cfg      RelayConfig
	embedded bool
	healthy  bool
	checked  time.Time
	err      string
}

func newRelayRegistry(embedded *RelayConfig, others []RelayConfig, client *http.Client, log *slog.Logger) (*relayRegistry, error) {
	r := &relayRegistry{client: client, log: log}
	if embedded != nil {
		r.relays = append(r.relays, &relayState{cfg: *embedded, embedded: true, healthy: true})
	}
	for _, rc := range others {
		if err := rc.validate(); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(r.relays, func(s *relayState) bool { return s.cfg.ID == rc.ID }) {
			return nil, fmt.Errorf("broker: relay id %q listed twice", rc.ID)
		}
		r.relays = append(r.relays, &relayState{cfg: rc, healthy: true})
	}
	return r, nil
}

// pick returns the relays for a ticket, best first: the healthy ones in
// configuration order, at most proto.MaxTicketRelays. When none is
// healthy it returns them all: trying is better than refusing.
func (r *relayRegistry) pick() []proto.RelayRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []proto.RelayRef
	for _, s := range r.relays {
		if s.healthy {
			out = append(out, proto.RelayRef{ID: s.cfg.ID, URL: s.cfg.URL})
		}
	}
	if len(out) == 0 {
		for _, s := range r.relays {
			out = append(out, proto.RelayRef{ID: s.cfg.ID, URL: s.cfg.URL})
		}
	}
	return out[:min(len(out), proto.MaxTicketRelays)]
}

func (r *relayRegistry) status() []api.RelayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.RelayStatus, len(r.relays))
	for i, s := range r.relays {
		out[i] = api.RelayStatus{ID: s.cfg.ID, URL: s.cfg.URL, Embedded: s.embedded, Healthy: s.healthy, Checked: s.checked, Error: s.err}
	}
	return out
}

// origins returns the WebSocket origins of the standalone relays, for
// the console's Content-Security-Policy connect-src.
func (r *relayRegistry) origins() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.relays {
		if s.embedded {
			continue
		}
		u, err := url.Parse(s.cfg.URL)
		if err != nil {
			continue
		}
		switch u.Scheme {
		case "https", "wss":
			out = append(out, "wss://"+u.Host, "https://"+u.Host)
		case "http", "ws":
			out = append(out, "ws://"+u.Host, "http://"+u.Host)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// has reports whether id is a registered relay.
func (r *relayRegistry) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.relays, func(s *relayState) bool { return s.cfg.ID == id })
}

// run checks every standalone relay's /healthz every interval until ctx
// ends.
func (r *relayRegistry) run(ctx context.Context, interval time.Duration, onChange func(id string, healthy bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.checkAll(ctx, onChange)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *relayRegistry) checkAll(ctx context.Context, onChange func(id string, healthy bool)) {
	r.mu.Lock()
	var todo []RelayConfig
	for _, s := range r.relays {
		if !s.embedded {
			todo = append(todo, s.cfg)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, rc := range todo {
		wg.Go(func() {
			err := r.check(ctx, rc)
			r.mu.Lock()
			for _, s := range r.relays {
				if s.cfg.ID != rc.ID {
					continue
				}
				was := s.healthy
				s.healthy, s.checked, s.err = err == nil, time.Now(), ""
				if err != nil {
					s.err = err.Error()
				}
				if was != s.healthy {
					r.log.Info("relay health changed", "relay", rc.ID, "healthy", s.healthy, "err", err)
				}
				if onChange != nil {
					onChange(rc.ID, s.healthy)
				}
			}
			r.mu.Unlock()
		})
	}
	wg.Wait()
}

func (r *relayRegistry) check(ctx context.Context, rc RelayConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := strings.Replace(strings.Replace(rc.URL, "wss://", "https://", 1), "ws://", "http://", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}
