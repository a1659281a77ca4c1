package api

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// The control WebSocket (GET /api/v1/hosts/control) and the support wait
// WebSocket (GET /api/v1/support/{nameplate}/wait) carry JSON text
// messages, one ControlMsg each.
//
// Control, for an enrolled host:
//
//	broker → host  {"type":"challenge","nonce":<32 bytes>}
//	host → broker  {"type":"auth","host_id":…,"signature":<Ed25519 over ControlProofMessage>,"info":{…}}
//	broker → host  {"type":"welcome","host_id":…,"message":<host name>}
//	broker → host  {"type":"offer","offer":{Pairing}}    (any number, any time)
//	host → broker  {"type":"info","info":{…}}           (name, OS or version changed)
//
// Wait, for a support agent:
//
//	agent → broker {"type":"auth","token":<wait token>}
//	broker → agent {"type":"waiting"}
//	broker → agent {"type":"offer","offer":{Pairing}}   (once; the broker then closes)
//
// The broker pings every 30 s; a host that misses pongs is offline.
// Closes with the codes below end a connection for a reason a client acts
// on.
type ControlMsg struct {
	Type      string    `json:"type"`
	Nonce     []byte    `json:"nonce,omitempty"`
	HostID    string    `json:"host_id,omitempty"`
	Signature []byte    `json:"signature,omitempty"`
	Token     string    `json:"token,omitempty"`
	Info      *HostInfo `json:"info,omitempty"`
	Offer     *Pairing  `json:"offer,omitempty"`
	Message   string    `json:"message,omitempty"`
}

// Control message types.
const (
	MsgChallenge = "challenge"
	MsgAuth      = "auth"
	MsgWelcome   = "welcome"
	MsgOffer     = "offer"
	MsgInfo      = "info"
	MsgWaiting   = "waiting"
)

// Close codes of the control and wait WebSockets.
const (
	// CloseAuthFailed: unknown host, wrong signature or wrong wait token.
	// Reconnecting does not help; the host must enroll again.
	CloseAuthFailed websocket.StatusCode = 4401
	// CloseReplaced: a newer connection of the same host took over.
	CloseReplaced websocket.StatusCode = 4409
	// CloseExpired: the support nameplate expired or was used.
	CloseExpired websocket.StatusCode = 4410
	// CloseShutdown: the broker is shutting down; reconnect (to another
	// instance) after a short, jittered wait.
	CloseShutdown websocket.StatusCode = 4503
)

// MaxControlMsg bounds one control message.
const MaxControlMsg = 64 << 10

// DecodeControlMsg decodes one control message, checking its size first.
func DecodeControlMsg(b []byte) (ControlMsg, error) {
	var m ControlMsg
	if len(b) > MaxControlMsg {
		return m, fmt.Errorf("api: control message: length %d exceeds limit %d", len(b), MaxControlMsg)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("api: control message: %w", err)
	}
	if m.Type == "" {
		return m, fmt.Errorf("api: control message: no type")
	}
	if len(m.Nonce) > NonceSize || len(m.Signature) > ed25519.SignatureSize {
		return m, fmt.Errorf("api: control message %q: oversized nonce or signature", m.Type)
	}
	return m, nil
}

// Errors of the WebSocket helpers.
var (
	// ErrHostRejected: the broker does not accept this host's key (it was
	// deleted, or never enrolled here). Enroll again.
	ErrHostRejected = errors.New("api: broker rejected the host's device key")
	// ErrSupportExpired: the support nameplate expired or was used.
	ErrSupportExpired = errors.New("api: support nameplate expired")
)

func (c *Client) wsURL(path string) (string, error) {
	if c.BaseURL == "" {
		return "", ErrNoBaseURL
	}
	u, err := url.Parse(c.url(path))
	if err != nil {
		return "", fmt.Errorf("api: %w", err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	}
	return u.String(), nil
}

// WSConn is the message layer of a control or wait WebSocket.
type wsConn struct{ ws *websocket.Conn }

func (w wsConn) write(ctx context.Context, m ControlMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.ws.Write(ctx, websocket.MessageText, b)
}

func (w wsConn) read(ctx context.Context) (ControlMsg, error) {
	typ, b, err := w.ws.Read(ctx)
	if err != nil {
		return ControlMsg{}, err
	}
	if typ != websocket.MessageText {
		return ControlMsg{}, fmt.Errorf("api: control: binary message")
	}
	return DecodeControlMsg(b)
}

// ControlConn is one authenticated control connection of a host.
// Next must not be called concurrently with itself; UpdateInfo and Close
// may be called from any goroutine.
type ControlConn struct {
	w      wsConn
	HostID string
	Name   string // the host's name as the broker knows it
}

// DialControl opens the control WebSocket and answers the broker's
// challenge with the device key.
func (c *Client) DialControl(ctx context.Context, hostID string, key ed25519.PrivateKey, info HostInfo) (*ControlConn, error) {
	u, err := c.wsURL("/hosts/control")
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, u, c.dialOptions())
	if err != nil {
		return nil, fmt.Errorf("api: control: %w", err)
	}
	ws.SetReadLimit(MaxControlMsg)
	w := wsConn{ws}
	fail := func(err error) (*ControlConn, error) {
		ws.CloseNow()
		if websocket.CloseStatus(err) == CloseAuthFailed {
			return nil, ErrHostRejected
		}
		return nil, fmt.Errorf("api: control: %w", err)
	}
	m, err := w.read(ctx)
	if err != nil {
		return fail(err)
	}
	if m.Type != MsgChallenge || len(m.Nonce) != NonceSize {
		return fail(fmt.Errorf("want a challenge, got %q", m.Type))
	}
	sig := ed25519.Sign(key, ControlProofMessage(m.Nonce, hostID))
	if err := w.write(ctx, ControlMsg{Type: MsgAuth, HostID: hostID, Signature: sig, Info: &info}); err != nil {
		return fail(err)
	}
	m, err = w.read(ctx)
	if err != nil {
		return fail(err)
	}
	if m.Type != MsgWelcome {
		return fail(fmt.Errorf("want welcome, got %q", m.Type))
	}
	return &ControlConn{w: w, HostID: hostID, Name: m.Message}, nil
}

// Next returns the next session offer. ErrHostRejected means the host was
// deleted; any other error means the connection is gone.
func (cc *ControlConn) Next(ctx context.Context) (*Pairing, error) {
	for {
		m, err := cc.w.read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == CloseAuthFailed {
				return nil, ErrHostRejected
			}
			return nil, fmt.Errorf("api: control: %w", err)
		}
		if m.Type == MsgOffer && m.Offer != nil {
			return m.Offer, nil
		}
		// Unknown message types are for newer agents: skip them.
	}
}

// UpdateInfo tells the broker the host's new name, OS or version.
func (cc *ControlConn) UpdateInfo(ctx context.Context, info HostInfo) error {
	return cc.w.write(ctx, ControlMsg{Type: MsgInfo, Info: &info})
}

// Close closes the connection.
func (cc *ControlConn) Close() error {
	return cc.w.ws.Close(websocket.StatusNormalClosure, "")
}

// ControlConfig configures RunControl.
type ControlConfig struct {
	HostID string
	Key    ed25519.PrivateKey
	Info   HostInfo
	// OnOffer is called with each session offer, on RunControl's
	// goroutine: hand long work to another goroutine.
	OnOffer func(*Pairing)
	// OnState, if set, is called when the connection comes up (err nil)
	// and each time it goes down (err says why).
	OnState func(connected bool, err error)
	// Backoff spaces reconnection attempts; the zero value is fine.
	Backoff Backoff
	// StableAfter is how long a connection must have lasted for the next
	// reconnection to start from the shortest wait again (default 1 min).
	StableAfter time.Duration
}

// RunControl keeps the host's control connection up until ctx ends:
// it reconnects with capped exponential backoff and jitter whenever the
// connection fails or the broker restarts. It returns ErrHostRejected when
// the broker no longer knows the host, and ctx.Err() when ctx ends.
func (c *Client) RunControl(ctx context.Context, cfg ControlConfig) error {
	stable := cfg.StableAfter
	if stable <= 0 {
		stable = time.Minute
	}
	state := func(up bool, err error) {
		if cfg.OnState != nil {
			cfg.OnState(up, err)
		}
	}
	attempt := 0
	for {
		cc, err := c.DialControl(ctx, cfg.HostID, cfg.Key, cfg.Info)
		if err == nil {
			state(true, nil)
			began := time.Now()
			err = cc.run(ctx, cfg.OnOffer)
			cc.w.ws.CloseNow()
			if time.Since(began) >= stable {
				attempt = 0
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		state(false, err)
		if errors.Is(err, ErrHostRejected) {
			return err
		}
		t := time.NewTimer(cfg.Backoff.Delay(attempt))
		attempt++
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (cc *ControlConn) run(ctx context.Context, onOffer func(*Pairing)) error {
	for {
		p, err := cc.Next(ctx)
		if err != nil {
			return err
		}
		if onOffer != nil {
			onOffer(p)
		}
	}
}

// WaitSupport waits on the support wait WebSocket until a technician
// joins, and returns the host's end of the session. It reconnects after
// transient failures; it returns ErrSupportExpired when the nameplate
// expired, and ctx.Err() when ctx ends.
func (c *Client) WaitSupport(ctx context.Context, s *SupportResponse, b Backoff) (*Pairing, error) {
	u, err := c.wsURL("/support/" + url.PathEscape(s.Nameplate) + "/wait")
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		p, err := c.waitOnce(ctx, u, s.WaitToken)
		if err == nil || errors.Is(err, ErrSupportExpired) {
			return p, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !s.Expires.IsZero() && time.Now().After(s.Expires) {
			return nil, ErrSupportExpired
		}
		t := time.NewTimer(b.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Client) waitOnce(ctx context.Context, u, token string) (*Pairing, error) {
	ws, _, err := websocket.Dial(ctx, u, c.dialOptions())
	if err != nil {
		return nil, fmt.Errorf("api: support wait: %w", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(MaxControlMsg)
	w := wsConn{ws}
	if err := w.write(ctx, ControlMsg{Type: MsgAuth, Token: token}); err != nil {
		return nil, fmt.Errorf("api: support wait: %w", err)
	}
	for {
		m, err := w.read(ctx)
		if err != nil {
			switch websocket.CloseStatus(err) {
			case CloseExpired, CloseAuthFailed:
				return nil, ErrSupportExpired
			}
			return nil, fmt.Errorf("api: support wait: %w", err)
		}
		if m.Type == MsgOffer && m.Offer != nil {
			ws.Close(websocket.StatusNormalClosure, "")
			return m.Offer, nil
		}
	}
}
