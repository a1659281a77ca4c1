package relay

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

// Server is one relay. Create it with New, serve Handler (or mount
// RelayHandler) on an http.Server, and stop it with Shutdown. All methods
// are safe for concurrent use.
type Server struct {
	cfg  Config
	log  *slog.Logger
	keys atomic.Pointer[proto.TicketKeys]
	eng  engine

	mu       sync.Mutex // guards sessions, draining
	sessions map[proto.SessionID]*session
	draining bool

	tmu     sync.Mutex // guards used, pruneAt
	used    map[proto.TicketID]time.Time
	pruneAt int

	global *bucket // nil without a global cap

	reports chan api.RelaySessionReport
	wg      sync.WaitGroup // the report goroutine
	stop    chan struct{}
	once    sync.Once

	stats    serverStats
	registry *prometheus.Registry
}

// engine serves upgraded connections.
type engine interface {
	// serve takes over nc after a successful upgrade; buffered holds
	// bytes the HTTP server read past the request.
	serve(nc net.Conn, buffered []byte)
	// drain sends the drain notice to every connection.
	drain()
	// closeAll closes every connection with code 4007 and stops the
	// engine once they are gone.
	closeAll()
	// wait blocks until the engine stopped.
	wait()
	// conns returns the connections currently open.
	conns() int64
	// collect adds the engine's counters to st.
	collect(st *statsSnapshot)
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      c,
		log:      c.Logger.With("relay", c.RelayID),
		sessions: make(map[proto.SessionID]*session),
		used:     make(map[proto.TicketID]time.Time),
		pruneAt:  1024,
		reports:  make(chan api.RelaySessionReport, 4096),
		stop:     make(chan struct{}),
	}
	s.SetTicketKeys(c.TicketKeys)
	if c.GlobalBytesPerSecond > 0 {
		s.global = newBucket(c.GlobalBytesPerSecond, time.Now())
	}
	s.eng, err = newEngine(s)
	if err != nil {
		return nil, err
	}
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(collector{s}, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.wg.Add(1)
	go s.reportLoop()
	return s, nil
}

// SetTicketKeys replaces the broker's ticket public keys (key rotation).
func (s *Server) SetTicketKeys(keys proto.TicketKeys) {
	k := make(proto.TicketKeys, len(keys))
	for id, pub := range keys {
		k[id] = pub
	}
	s.keys.Store(&k)
}

// Handler serves /v1/relay, /healthz and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ws.Path, s.RelayHandler())
	mux.Handle("/healthz", s.HealthHandler())
	mux.Handle("/metrics", s.MetricsHandler())
	return mux
}

// RelayHandler serves the WebSocket endpoint alone, for a server that
// mounts it on its own mux at ws.Path.
func (s *Server) RelayHandler() http.Handler { return http.HandlerFunc(s.serveRelay) }

// HealthHandler answers 200 "ok", or 503 "draining" once Shutdown began.
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if s.isDraining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "draining\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
}

// MetricsHandler serves the Prometheus metrics of this Server.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}

// Shutdown drains the relay: it refuses new connections (close code
// 4007), tells every connected end to move ({"type":"drain"}), waits
// for the sessions to end, and when ctx ends first closes the rest with
// 4007. It returns after every connection and goroutine is gone, with
// ctx's error if it had to cut sessions short.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.draining = true
		n := len(s.sessions)
		s.mu.Unlock()
		s.log.Info("relay draining", "sessions", n)
		s.eng.drain()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
	wait:
		for s.sessionCount() > 0 {
			select {
			case <-ctx.Done():
				err = ctx.Err()
				break wait
			case <-t.C:
			}
		}
		s.eng.closeAll()
		s.eng.wait()
		close(s.stop)
		s.wg.Wait()
		s.log.Info("relay stopped")
	})
	return err
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// serveRelay checks the upgrade request (RFC 6455 §4.2.1), answers 101
// and hands the connection to the engine.
func (s *Server) serveRelay(w http.ResponseWriter, r *http.Request) {
	if s.eng.conns() >= int64(s.cfg.MaxConnections) {
		s.stats.failures[failCapacity].Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "relay: at capacity", http.StatusServiceUnavailable)
		return
	}
	if ge, ok := s.eng.(*goEngine); ok {
		ge.handle(w, r)
		return
	}
	if r.Method != http.MethodGet || !r.ProtoAtLeast(1, 1) ||
		!headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "relay: WebSocket upgrade required", http.StatusUpgradeRequired)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "relay: unsupported WebSocket version", http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		http.Error(w, "relay: bad Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "relay: cannot take over the connection", http.StatusInternalServerError)
		return
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
		buffered = append([]byte(nil), buffered...)
	}
	nc.SetDeadline(time.Now().Add(s.cfg.TicketTimeout))
	if _, err := io.WriteString(nc, resp); err != nil {
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	if s.isDraining() {
		s.stats.failures[failDraining].Add(1)
		nc.Write(appendClose(nil, int(ws.CloseDraining), "relay draining"))
		nc.Close()
		return
	}
	s.eng.serve(nc, buffered)
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Failure reasons, counted in deskway_relay_pairing_failures_total.
const (
	failTicketInvalid = iota
	failTicketExpired
	failTicketAudience
	failTicketReused
	failPairingTimeout
	failSessionFull
	failDraining
	failCapacity
	failLimit
	numFailures
)

var failureNames = [numFailures]string{"ticket_invalid", "ticket_expired", "ticket_audience", "ticket_reused",
	"pairing_timeout", "session_full", "draining", "capacity", "limit"}

// admitError is why a connection was refused: a close code and the
// failure counted.
type admitError struct {
	code   ws.CloseCode
	fail   int
	reason string
}

func (e *admitError) Error() string { return fmt.Sprintf("relay: %d %s: %s", e.code, e.code, e.reason) }

// verify checks a ticket offline and burns its id (single use).
func (s *Server) verify(b []byte, now time.Time) (*proto.Ticket, *admitError) {
	t, err := proto.VerifyTicket(b, *s.keys.Load(), s.cfg.RelayID, now)
	switch {
	case err == nil:
	case errors.Is(err, proto.ErrTicketExpired), errors.Is(err, proto.ErrTicketNotYetValid):
		return nil, &admitError{ws.CloseTicketExpired, failTicketExpired, err.Error()}
	case errors.Is(err, proto.ErrTicketAudience):
		return nil, &admitError{ws.CloseTicketAudience, failTicketAudience, err.Error()}
	default:
		return nil, &admitError{ws.CloseTicketInvalid, failTicketInvalid, err.Error()}
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if _, ok := s.used[t.ID]; ok {
		return nil, &admitError{ws.CloseTicketReused, failTicketReused, "ticket " + t.ID.String() + " already used"}
	}
	if len(s.used) >= s.pruneAt {
		for id, exp := range s.used {
			if now.After(exp) {
				delete(s.used, id)
			}
		}
		s.pruneAt = 2*len(s.used) + 1024
	}
	// Keep the id while the ticket could still be accepted.
	s.used[t.ID] = t.Expiry.Add(proto.TicketClockSkew)
	return t, nil
}

// lookup returns the live session a verified ticket joins, creating it
// on loop owner if it is new.
func (s *Server) lookup(t *proto.Ticket, owner any, now time.Time) (*session, *admitError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, &admitError{ws.CloseDraining, failDraining, "relay draining"}
	}
	sess := s.sessions[t.Session]
	if sess == nil {
		if len(s.sessions) >= s.cfg.MaxSessions {
			return nil, &admitError{ws.CloseCapacity, failCapacity, "relay at capacity"}
		}
		sess = &session{id: t.Session, mode: t.Mode, owner: owner, start: now,
			log: s.log.With("session", t.Session.String())}
		s.sessions[t.Session] = sess
		s.stats.sessionsStarted.Add(1)
	} else if sess.mode != t.Mode {
		return nil, &admitError{ws.CloseSessionFull, failSessionFull, "ticket mode differs from the session's"}
	}
	return sess, nil
}

// remove forgets a session whose last end left and reports it.
func (s *Server) remove(sess *session, reason string, now time.Time) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	sess.dead = true
	s.mu.Unlock()
	r := api.RelaySessionReport{
		SessionID:     sess.id,
		RelayID:       s.cfg.RelayID,
		Start:         sess.start,
		End:           now,
		BytesFromHost: sess.fromHost,
		BytesToHost:   sess.toHost,
		EndReason:     reason,
	}
	sess.log.Info("session ended", "reason", reason, "duration", now.Sub(sess.start).Round(time.Millisecond),
		"bytes_from_host", r.BytesFromHost, "bytes_to_host", r.BytesToHost)
	if s.cfg.Report == nil {
		return
	}
	select {
	case s.reports <- r:
	default:
		s.stats.reportsDropped.Add(1)
		sess.log.Warn("session report dropped: report queue full")
	}
}

// reportLoop hands reports to Config.Report off the event loops.
func (s *Server) reportLoop() {
	defer s.wg.Done()
	for {
		select {
		case r := <-s.reports:
			s.cfg.Report(r)
		case <-s.stop:
			for {
				select {
				case r := <-s.reports:
					s.cfg.Report(r)
				default:
					return
				}
			}
		}
	}
}

// session is one session on this relay. It is owned by one event loop
// (owner): only that loop reads or writes its fields after creation,
// except dead, which is written under Server.mu.
type session struct {
	id    proto.SessionID
	mode  proto.Mode
	owner any
	log   *slog.Logger
	start time.Time
	dead  bool

	host     *conn
	viewer   *conn            // pair sessions
	viewers  map[uint32]*conn // presentation sessions, by slot
	nextSlot uint32

	rate     *bucket // nil without a cap
	fromHost int64
	toHost   int64
	reason   string // why the last end left
}

func (s *session) empty() bool { return s.host == nil && s.viewer == nil && len(s.viewers) == 0 }

// bucket is a token bucket of bytes per second. It may go negative: the
// caller reads first and pauses while the balance is below zero.
type bucket struct {
	mu     sync.Mutex // only the global bucket is shared
	rate   int64
	burst  int64
	tokens int64
	last   time.Time
}

func newBucket(rate int64, now time.Time) *bucket {
	burst := max(rate, 64<<10)
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// take removes n tokens after refilling and reports whether the balance
// is still non-negative.
func (b *bucket) take(n int64, now time.Time) bool {
	b.refill(now)
	b.tokens -= n
	return b.tokens >= 0
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+int64(float64(b.rate)*d.Seconds()))
		b.last = now
	}
}

// ok reports whether the balance is non-negative after refilling.
func (b *bucket) ok(now time.Time) bool {
	b.refill(now)
	return b.tokens >= 0
}
