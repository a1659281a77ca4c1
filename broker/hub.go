package broker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/deskway/deskway/proto/api"
)

// The hub holds this instance's WebSockets to hosts (control) and to
// support agents (wait), and delivers session offers to them wherever the
// offer was made:
//
//  1. The instance that pairs a session (connect or join) stores the
//     host's offer in the store under the target ("host:<id>" or
//     "support:<wait token hash>") and notifies topic "offer" with the
//     target.
//  2. Every instance hears the notification (LISTEN/NOTIFY on
//     PostgreSQL; in process on SQLite). The one holding the target's
//     WebSocket takes the offers from the store (only one instance can
//     take each) and sends them.
//  3. An offer made while its host was between connections waits in the
//     store until the host is back, or until it expires with its tickets.
//
// Topic "kick" ("<host id> <conn id>") closes older connections of a host
// that connected again elsewhere; topic "revoke" ("<host id>") closes a
// deleted host's connection.
type hub struct {
	s       *Server
	mu      sync.Mutex
	targets map[string]*endpoint // by target
}

// endpoint is one WebSocket of a host or support agent on this instance.
type endpoint struct {
	target string
	hostID string // control connections
	connID string
	ws     *websocket.Conn
	out    chan []byte // offers to send, JSON Pairing
	once   sync.Once
	done   chan struct{} // closed by close
	code   websocket.StatusCode
	reason string
}

// close ends the endpoint's connection with code and reason (once).
func (e *endpoint) close(code websocket.StatusCode, reason string) {
	e.once.Do(func() {
		e.code, e.reason = code, reason
		close(e.done)
	})
}

func newHub(s *Server) *hub { return &hub{s: s, targets: map[string]*endpoint{}} }

func hostTarget(hostID string) string { return "host:" + hostID }

func supportTarget(waitHash []byte) string { return "support:" + hex.EncodeToString(waitHash) }

// add registers e, replacing (and closing) an older endpoint of the same
// target.
func (h *hub) add(e *endpoint) {
	h.mu.Lock()
	old := h.targets[e.target]
	h.targets[e.target] = e
	n := len(h.targets)
	h.mu.Unlock()
	if old != nil {
		old.close(api.CloseReplaced, "replaced by a newer connection")
	}
	h.s.metrics.connections.Set(float64(n))
}

func (h *hub) remove(e *endpoint) {
	h.mu.Lock()
	if h.targets[e.target] == e {
		delete(h.targets, e.target)
	}
	n := len(h.targets)
	h.mu.Unlock()
	h.s.metrics.connections.Set(float64(n))
}

func (h *hub) get(target string) *endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.targets[target]
}

func (h *hub) closeAll(code websocket.StatusCode, reason string) {
	h.mu.Lock()
	all := make([]*endpoint, 0, len(h.targets))
	for _, e := range h.targets {
		all = append(all, e)
	}
	h.mu.Unlock()
	for _, e := range all {
		e.close(code, reason)
	}
}

// notified handles a notification from the store (on the listener's
// goroutine).
func (h *hub) notified(topic, payload string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch topic {
	case "offer":
		if e := h.get(payload); e != nil {
			h.deliver(ctx, e)
		}
	case "kick":
		hostID, connID, _ := strings.Cut(payload, " ")
		if e := h.get(hostTarget(hostID)); e != nil && e.connID != connID {
			e.close(api.CloseReplaced, "the host connected again elsewhere")
		}
	case "revoke":
		if e := h.get(hostTarget(payload)); e != nil {
			e.close(api.CloseAuthFailed, "host deleted")
		}
	case TopicResync:
		h.mu.Lock()
		all := make([]*endpoint, 0, len(h.targets))
		for _, e := range h.targets {
			all = append(all, e)
		}
		h.mu.Unlock()
		for _, e := range all {
			h.deliver(ctx, e)
		}
	}
}

// deliver takes e's waiting offers from the store and queues them.
func (h *hub) deliver(ctx context.Context, e *endpoint) {
	offers, err := h.s.st.TakeOffers(ctx, e.target, time.Now())
	if err != nil {
		h.s.log.Warn("take offers", "target", e.target, "err", err)
		return
	}
	for _, o := range offers {
		select {
		case e.out <- o:
		default:
			h.s.log.Warn("offer queue full, offer dropped", "target", e.target)
		}
	}
}

// offer stores an offer for target and tells the instances.
func (s *Server) offer(ctx context.Context, target string, p *api.Pairing) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := s.st.PutOffer(ctx, target, b, p.Expires); err != nil {
		return err
	}
	return s.st.Notify(ctx, "offer", target)
}

const (
	pingEvery   = 30 * time.Second
	authTimeout = 10 * time.Second
)

// serve runs an endpoint's connection until it fails or is closed: it
// sends queued offers and pings, and hands received messages to onMsg.
// closeAfterOffer ends the connection after the first offer (support).
func (s *Server) serveEndpoint(ctx context.Context, e *endpoint, onMsg func(api.ControlMsg), closeAfterOffer bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := wsMsg{e.ws}
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := w.read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			if onMsg != nil {
				onMsg(m)
			}
		}
	}()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			e.ws.Close(api.CloseShutdown, "broker shutting down")
			return ctx.Err()
		case <-e.done:
			e.ws.Close(e.code, e.reason)
			return nil
		case err := <-readErr:
			e.ws.CloseNow()
			return err
		case b := <-e.out:
			var p api.Pairing
			if json.Unmarshal(b, &p) != nil {
				continue
			}
			if err := w.write(ctx, api.ControlMsg{Type: api.MsgOffer, Offer: &p}); err != nil {
				e.ws.CloseNow()
				return err
			}
			if closeAfterOffer {
				e.ws.Close(websocket.StatusNormalClosure, "offer delivered")
				return nil
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, pingEvery)
			err := e.ws.Ping(pctx)
			pcancel()
			if err != nil {
				e.ws.CloseNow()
				return err
			}
		}
	}
}

// wsMsg reads and writes control messages on the broker's side.
type wsMsg struct{ ws *websocket.Conn }

func (w wsMsg) write(ctx context.Context, m api.ControlMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return w.ws.Write(ctx, websocket.MessageText, b)
}

func (w wsMsg) read(ctx context.Context) (api.ControlMsg, error) {
	typ, b, err := w.ws.Read(ctx)
	if err != nil {
		return api.ControlMsg{}, err
	}
	if typ != websocket.MessageText {
		return api.ControlMsg{}, errors.New("binary message")
	}
	return api.DecodeControlMsg(b)
}

// wsEndpoint serves a WebSocket endpoint with fn: it accepts the
// connection (same-origin only, messages of at most api.MaxControlMsg),
// counts the handler for Run's shutdown, and gives fn a context that ends
// with the request or with the Server's life.
func (s *Server) wsEndpoint(fn func(ctx context.Context, ws *websocket.Conn, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.connMu.Lock()
		if s.connClosed {
			s.connMu.Unlock()
			http.Error(w, "broker shutting down", http.StatusServiceUnavailable)
			return
		}
		s.conns.Add(1)
		s.connMu.Unlock()
		defer s.conns.Done()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(api.MaxControlMsg)
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(s.life, cancel)()
		fn(ctx, ws, r)
	}
}

// handleControl serves GET /api/v1/hosts/control: the host proves its
// device key, is marked online, and receives session offers.
func (s *Server) handleControl(ctx context.Context, ws *websocket.Conn, r *http.Request) {
	ip := s.clientIP(r).String()
	nonce := make([]byte, api.NonceSize)
	rand.Read(nonce)
	msg := wsMsg{ws}
	if err := msg.write(ctx, api.ControlMsg{Type: api.MsgChallenge, Nonce: nonce}); err != nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, authTimeout)
	m, err := msg.read(actx)
	cancel()
	if err != nil || m.Type != api.MsgAuth || m.HostID == "" || len(m.HostID) > 64 {
		ws.Close(api.CloseAuthFailed, "want auth")
		return
	}
	host, err := s.st.HostByID(ctx, m.HostID)
	if err != nil || len(host.DevicePub) != ed25519.PublicKeySize ||
		!ed25519.Verify(host.DevicePub, api.ControlProofMessage(nonce, m.HostID), m.Signature) {
		if err != nil && !errors.Is(err, ErrNotFound) {
			ws.Close(websocket.StatusInternalError, "try again")
			return
		}
		// Audited within the per-network rate, so that unauthenticated
		// clients cannot grow the log at will.
		if ok, _ := s.limits.allowNet(s.clientIP(r), time.Now()); ok {
			s.audit(ctx, auditEntry{actor: "host:" + truncate(m.HostID, 64), action: "host.auth", ip: ip, detail: "unknown host or bad signature"})
		}
		ws.Close(api.CloseAuthFailed, "unknown host or bad signature")
		return
	}
	if m.Info != nil && validHostInfo(*m.Info) == nil && (m.Info.Name != host.Name || m.Info.OS != host.OS || m.Info.Version != host.Version) {
		if err := s.st.UpdateHostInfo(ctx, host.ID, *m.Info); err == nil {
			host.Name, host.OS, host.Version = m.Info.Name, m.Info.OS, m.Info.Version
		}
	}
	e := &endpoint{target: hostTarget(host.ID), hostID: host.ID, connID: newID("c-"), ws: ws, out: make(chan []byte, 16), done: make(chan struct{})}
	s.hub.add(e)
	defer s.hub.remove(e)
	if err := s.st.SetHostOnline(ctx, host.ID, s.instance, e.connID, time.Now()); err != nil {
		ws.Close(websocket.StatusInternalError, "try again")
		return
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.st.SetHostOffline(cctx, host.ID, e.connID, time.Now())
		s.audit(cctx, auditEntry{actor: "host:" + host.ID, action: "host.disconnect", target: host.Name, ip: ip, ok: true})
	}()
	s.st.Notify(ctx, "kick", host.ID+" "+e.connID)
	if err := msg.write(ctx, api.ControlMsg{Type: api.MsgWelcome, HostID: host.ID, Message: host.Name}); err != nil {
		return
	}
	s.audit(ctx, auditEntry{actor: "host:" + host.ID, action: "host.connect", target: host.Name, ip: ip, ok: true,
		detail: "version " + host.Version})
	s.hub.deliver(ctx, e)
	s.serveEndpoint(ctx, e, func(m api.ControlMsg) {
		if m.Type == api.MsgInfo && m.Info != nil && validHostInfo(*m.Info) == nil {
			s.st.UpdateHostInfo(ctx, host.ID, *m.Info)
		}
	}, false)
}

// handleSupportWait serves GET /api/v1/support/{nameplate}/wait: the
// support agent authenticates with its wait token and receives the
// session offer when a technician joins.
func (s *Server) handleSupportWait(ctx context.Context, ws *websocket.Conn, r *http.Request) {
	msg := wsMsg{ws}
	actx, cancel := context.WithTimeout(ctx, authTimeout)
	m, err := msg.read(actx)
	cancel()
	if err != nil || m.Type != api.MsgAuth || m.Token == "" || len(m.Token) > 128 {
		ws.Close(api.CloseAuthFailed, "want auth")
		return
	}
	hash := tokenHash(m.Token)
	target := supportTarget(hash)
	var expires time.Time
	sp, err := s.st.SupportByNameplate(ctx, r.PathValue("nameplate"), time.Now())
	switch {
	case err == nil && subtle.ConstantTimeCompare(sp.WaitHash, hash) == 1:
		expires = sp.Expires
	case err == nil || errors.Is(err, ErrNotFound):
		// Joined already (the offer waits in the store), or expired, or
		// a wrong token: only the first has an offer to take.
		expires = time.Now().Add(s.cfg.TicketLifetime)
	default:
		ws.Close(websocket.StatusInternalError, "try again")
		return
	}
	e := &endpoint{target: target, ws: ws, out: make(chan []byte, 4), done: make(chan struct{})}
	s.hub.add(e)
	defer s.hub.remove(e)
	s.hub.deliver(ctx, e)
	if len(e.out) == 0 && (err != nil || sp == nil || subtle.ConstantTimeCompare(sp.WaitHash, hash) != 1) {
		ws.Close(api.CloseExpired, "no such support request")
		return
	}
	if err := msg.write(ctx, api.ControlMsg{Type: api.MsgWaiting}); err != nil {
		return
	}
	timer := time.AfterFunc(time.Until(expires), func() { e.close(api.CloseExpired, "support request expired") })
	defer timer.Stop()
	s.serveEndpoint(ctx, e, nil, true)
}
