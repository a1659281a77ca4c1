package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// Config configures a Server. Zero fields take the defaults named.
type Config struct {
	// Store holds the state; required. The Server does not close it.
	Store Store
	// DataKey (32 bytes) seals TOTP secrets and ticket signing keys in
	// the store; required. Every instance on one database needs the same
	// key.
	DataKey []byte
	// PublicURL is the broker's URL as browsers and agents reach it
	// ("https://broker.example.com"); required. The embedded relay's URL
	// in tickets is derived from it.
	PublicURL string

	// EmbeddedRelay lists the relay embedded in this process (id
	// LocalRelayID, at PublicURL) first in every ticket. The command
	// mounts the relay's handler with ExtraHandlers.
	EmbeddedRelay bool
	// Relays are the standalone relays, in order of preference after the
	// embedded one.
	Relays []RelayConfig
	// RelayReportToken authenticates standalone relays posting session
	// reports; empty refuses every report over HTTP.
	RelayReportToken string
	// RelayCheckInterval spaces the relays' health checks. Default 30 s.
	RelayCheckInterval time.Duration
	// ExtraHandlers are mounted on the broker's mux as they are, outside
	// the console's middleware: e.g. "/v1/relay" for the embedded relay.
	ExtraHandlers map[string]http.Handler
	// OnTicketKeys, if set, is called with the published ticket keys when
	// the Server starts and whenever they change (to keep the embedded
	// relay's keys current).
	OnTicketKeys func(proto.TicketKeys)

	// InsecureHTTP serves without TLS: the session cookie loses its
	// Secure flag and __Host- prefix. Local use only.
	InsecureHTTP bool
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For names the client. Default none.
	TrustedProxies []netip.Prefix

	// PasswordParams for new hashes; default DefaultPasswordParams.
	PasswordParams PasswordParams
	// HashConcurrency bounds the password hashes computed at once.
	// Default 2×NumCPU.
	HashConcurrency int
	// LoginLimits throttle logins; zero fields take their defaults.
	LoginLimits LoginLimits

	// TicketLifetime is how long tickets are valid. Default and maximum
	// proto.MaxTicketLifetime (60 s).
	TicketLifetime time.Duration
	// KeyRotation is the age at which the ticket key gets a successor.
	// Default 30 days; negative never rotates.
	KeyRotation time.Duration
	// SupportTTL is how long a support nameplate waits. Default 10 min.
	SupportTTL time.Duration
	// EnrollTTL is how long an enrollment code is valid. Default 10 min.
	EnrollTTL time.Duration

	// ViewerURL is where the console's Connect buttons and the
	// technician's code field lead: ViewerURL+"?host=<id>" and
	// ViewerURL+"#code=<code>" (a fragment, so the secret digits never
	// reach the broker). Default "/view".
	ViewerURL string
	// MetricsToken, if set, lets a bearer of it read /metrics; loopback
	// clients and signed-in admins may read it anyway.
	MetricsToken string

	// Registry receives the broker's metrics. Default a new registry.
	Registry *prometheus.Registry
	// Instance names this broker process in presence records. Default
	// random.
	Instance string
	// HTTPClient makes the relays' health checks. Default a client with
	// a 5 s timeout.
	HTTPClient *http.Client
	// Logger receives the broker's logs; nil discards.
	Logger *slog.Logger
	// Version is shown in the console's footer and /healthz.
	Version string
}

// Server is the broker: the API, the console, the control connections of
// hosts and the background work (presence heartbeat, relay health,
// ticket keys, pruning). Create it with New, serve Handler, and run Run.
//
// A Server is safe for concurrent use.
type Server struct {
	cfg      Config
	st       Store
	log      *slog.Logger
	seal     *sealer
	hasher   *passwordHasher
	limits   *limiter
	relays   *relayRegistry
	keys     *keyring
	hub      *hub
	metrics  *metrics
	pages    map[string]*template.Template
	handler  http.Handler
	instance string
	public   *url.URL

	secureCookie bool
	cookieName   string

	// life ends when Run stops; the WebSocket handlers (counted in
	// conns) end with it.
	life       context.Context
	endLife    context.CancelFunc
	connMu     sync.Mutex
	connClosed bool
	conns      sync.WaitGroup
}

// Cookie names (SECURITY.md §5).
const (
	secureCookieName   = "__Host-dw_session"
	insecureCookieName = "dw_session"
)

// Session lifetimes.
const (
	idleTimeout     = 30 * time.Minute
	absoluteTimeout = 12 * time.Hour
	pendingTimeout  = 5 * time.Minute // between password and second factor
	touchEvery      = time.Minute     // how often Seen is written
)

// New checks the configuration, the data key against the store, and
// loads or creates the ticket keys.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("broker: config: no store")
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || (pub.Scheme != "https" && pub.Scheme != "http") || pub.Host == "" {
		return nil, fmt.Errorf("broker: config: public URL %q: want https://host[:port]", cfg.PublicURL)
	}
	if pub.Scheme == "http" && !cfg.InsecureHTTP {
		return nil, fmt.Errorf("broker: config: public URL %q is plain http; that needs InsecureHTTP", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimRight(pub.String(), "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RelayCheckInterval <= 0 {
		cfg.RelayCheckInterval = 30 * time.Second
	}
	if cfg.TicketLifetime <= 0 || cfg.TicketLifetime > proto.MaxTicketLifetime {
		cfg.TicketLifetime = proto.MaxTicketLifetime
	}
	if cfg.KeyRotation == 0 {
		cfg.KeyRotation = 30 * 24 * time.Hour
	}
	if cfg.SupportTTL <= 0 {
		cfg.SupportTTL = 10 * time.Minute
	}
	if cfg.EnrollTTL <= 0 {
		cfg.EnrollTTL = 10 * time.Minute
	}
	if cfg.ViewerURL == "" {
		cfg.ViewerURL = "/view"
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Instance == "" {
		cfg.Instance = "i-" + strings.ToLower(rand.Text()[:10])
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	seal, err := newSealer(cfg.DataKey)
	if err != nil {
		return nil, err
	}
	if err := checkDataKey(ctx, cfg.Store, seal); err != nil {
		return nil, err
	}
	hasher, err := newPasswordHasher(cfg.PasswordParams, cfg.HashConcurrency)
	if err != nil {
		return nil, err
	}
	if err := hasher.setPepper(cfg.DataKey); err != nil {
		return nil, err
	}
	var embedded *RelayConfig
	if cfg.EmbeddedRelay {
		embedded = &RelayConfig{ID: LocalRelayID, URL: cfg.PublicURL}
	}
	relays, err := newRelayRegistry(embedded, cfg.Relays, cfg.HTTPClient, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:          cfg,
		st:           cfg.Store,
		log:          cfg.Logger,
		seal:         seal,
		hasher:       hasher,
		limits:       newLimiter(cfg.LoginLimits),
		relays:       relays,
		instance:     cfg.Instance,
		public:       pub,
		secureCookie: !cfg.InsecureHTTP,
		cookieName:   secureCookieName,
	}
	if cfg.InsecureHTTP {
		s.cookieName = insecureCookieName
	}
	s.life, s.endLife = context.WithCancel(context.Background())
	rotation := cfg.KeyRotation
	if rotation < 0 {
		rotation = 0
	}
	s.keys = &keyring{st: cfg.Store, seal: seal, log: cfg.Logger, rotation: rotation}
	if _, err := s.keys.maintain(ctx, time.Now()); err != nil {
		return nil, fmt.Errorf("broker: ticket keys: %w", err)
	}
	if cfg.OnTicketKeys != nil {
		cfg.OnTicketKeys(s.keys.public())
	}
	s.metrics = newMetrics(cfg.Registry, s)
	s.hub = newHub(s)
	if s.pages, err = s.parsePages(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// checkDataKey stores a check value sealed with the data key on first
// use and opens it on every start, so a wrong key fails at once instead
// of at the first TOTP login.
func checkDataKey(ctx context.Context, st Store, seal *sealer) error {
	v, err := st.InitMeta(ctx, "data-key-check", seal.seal("data-key-check", []byte("deskway")))
	if err != nil {
		return err
	}
	if _, err := seal.open("data-key-check", v); err != nil {
		return ErrDataKey
	}
	return nil
}

// Handler returns the broker's HTTP handler: the API, the console, the
// static assets, /healthz, /metrics and the extra handlers.
func (s *Server) Handler() http.Handler { return s.handler }

// TicketKeys returns the ticket public keys the broker publishes.
func (s *Server) TicketKeys() proto.TicketKeys { return s.keys.public() }

// Instance returns the name of this broker instance.
func (s *Server) Instance() string { return s.instance }

// Run does the Server's background work until ctx ends: it listens for
// notifications from other instances, keeps the presence of its hosts
// fresh, checks the relays, maintains the ticket keys and prunes expired
// records. When ctx ends it closes the control connections (telling hosts
// to reconnect elsewhere), waits for their handlers and marks its hosts
// offline. Run once; the Server serves no WebSockets after it returned.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			err := s.st.Listen(ctx, s.hub.notified)
			if ctx.Err() == nil {
				s.log.Error("listener stopped", "err", err)
				time.Sleep(time.Second)
			}
		}
	})
	wg.Go(func() {
		s.relays.run(ctx, s.cfg.RelayCheckInterval, func(id string, healthy bool) { s.metrics.relayHealth(id, healthy) })
	})
	wg.Go(func() { s.every(ctx, OnlineWithin/3, s.heartbeat) })
	wg.Go(func() { s.every(ctx, time.Minute, s.maintainKeys) })
	wg.Go(func() { s.every(ctx, 5*time.Minute, s.prune) })
	<-ctx.Done()
	s.hub.closeAll(api.CloseShutdown, "broker shutting down")
	s.connMu.Lock()
	s.connClosed = true
	s.connMu.Unlock()
	s.endLife()
	s.conns.Wait()
	wg.Wait()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.st.ClearInstanceHosts(cctx, s.instance); err != nil {
		s.log.Warn("clearing presence", "err", err)
	}
	return ctx.Err()
}

func (s *Server) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

func (s *Server) heartbeat(ctx context.Context) {
	if err := s.st.TouchInstanceHosts(ctx, s.instance, time.Now()); err != nil && ctx.Err() == nil {
		s.log.Warn("presence heartbeat", "err", err)
	}
}

func (s *Server) maintainKeys(ctx context.Context) {
	changed, err := s.keys.maintain(ctx, time.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("ticket keys", "err", err)
		}
		return
	}
	if changed && s.cfg.OnTicketKeys != nil {
		s.cfg.OnTicketKeys(s.keys.public())
	}
}

func (s *Server) prune(ctx context.Context) {
	now := time.Now()
	if err := s.st.Prune(ctx, now, now.Add(-24*time.Hour), now.Add(-keyTail)); err != nil && ctx.Err() == nil {
		s.log.Warn("prune", "err", err)
	}
}

// ReportRelaySession stores a relay's session report: the embedded
// relay's Config.Report calls it (through a queue), standalone relays
// reach it through POST /api/v1/relay/report.
func (s *Server) ReportRelaySession(ctx context.Context, r api.RelaySessionReport) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.st.AddRelayReport(ctx, &r); err != nil {
		return err
	}
	s.audit(ctx, auditEntry{actor: "relay:" + r.RelayID, action: "session.end", target: r.SessionID.String(), ok: true,
		detail: fmt.Sprintf("reason=%s from_host=%d to_host=%d duration=%s", r.EndReason, r.BytesFromHost, r.BytesToHost, r.End.Sub(r.Start).Round(time.Second))})
	return nil
}

// auditEntry is what handlers log; audit fills in the time.
type auditEntry struct {
	actor, action, target, ip, detail string
	ok                                bool
}

// audit appends to the audit log. A failure to write it is logged, not
// returned: the action it records has happened.
func (s *Server) audit(ctx context.Context, e auditEntry) {
	if e.actor == "" {
		e.actor = "-"
	}
	ae := &api.AuditEntry{Time: time.Now(), Actor: e.actor, Action: e.action, Target: e.target, IP: e.ip, OK: e.ok, Detail: e.detail}
	if err := s.st.AppendAudit(context.WithoutCancel(ctx), ae); err != nil {
		s.log.Error("audit log write failed", "action", e.action, "err", err)
	}
}

// tokenHash is how tokens are stored.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// newToken returns a random token of 130 bits.
func newToken() string { return rand.Text() }

// newID returns a random id with a prefix ("u-", "h-", ...).
func newID(prefix string) string { return prefix + strings.ToLower(rand.Text()[:16]) }
