// Package ws carries Deskway's sessions over WebSocket: it adapts a
// github.com/coder/websocket connection to proto.MsgConn (binary messages
// are session data, text messages are relay notices) and dials relays the
// way docs/ARCHITECTURE.md ("Relay wire") describes: send the ticket as the
// first message, wait for "paired", and race several relays MONET-style.
//
// It builds for GOOS=js GOARCH=wasm, where the browser's WebSocket is used;
// there the page's proxy settings apply instead of HTTPS_PROXY.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/coder/websocket"

	"github.com/deskway/deskway/proto"
)

// Path is where a relay serves its WebSocket endpoint, relative to its base
// URL.
const Path = "/v1/relay"

// DefaultReadLimit bounds one incoming message unless Options say
// otherwise: a dw/1 record (16-byte header, 65 535-byte body) plus a
// presentation slot, rounded up.
const DefaultReadLimit = 1 << 17

// MaxNoticeLen bounds a relay notice (a text message).
const MaxNoticeLen = 1024

// CloseCode is a WebSocket close status the relay uses to say why it ended
// a connection (docs/ARCHITECTURE.md, "Relay wire").
type CloseCode int

const (
	CloseTicketInvalid  CloseCode = 4001 // ticket malformed or signature invalid
	CloseTicketExpired  CloseCode = 4002 // ticket expired or not yet valid
	CloseTicketAudience CloseCode = 4003 // ticket is for another relay
	CloseTicketReused   CloseCode = 4004 // ticket already used
	ClosePairingTimeout CloseCode = 4005 // the peer never came
	CloseSessionFull    CloseCode = 4006 // session full or role already present
	CloseDraining       CloseCode = 4007 // relay draining: move to another relay
	CloseLimit          CloseCode = 4008 // rate or size limit exceeded
	CloseCapacity       CloseCode = 4009 // relay at capacity (max sessions)
)

var closeNames = map[CloseCode]string{
	CloseTicketInvalid:  "ticket invalid",
	CloseTicketExpired:  "ticket expired",
	CloseTicketAudience: "ticket for another relay",
	CloseTicketReused:   "ticket already used",
	ClosePairingTimeout: "pairing timeout",
	CloseSessionFull:    "session full",
	CloseDraining:       "relay draining",
	CloseLimit:          "limit exceeded",
	CloseCapacity:       "relay at capacity",
}

func (c CloseCode) String() string {
	if s, ok := closeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("close(%d)", int(c))
}

// RelayError is returned when a relay closed the connection with one of
// its close codes.
type RelayError struct {
	Code   CloseCode
	Reason string
}

func (e *RelayError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("ws: relay closed the connection: %d %s: %s", int(e.Code), e.Code, e.Reason)
	}
	return fmt.Sprintf("ws: relay closed the connection: %d %s", int(e.Code), e.Code)
}

// Retry reports whether another relay (or a fresh ticket) may succeed where
// this one failed: true for everything but a malformed ticket.
func (e *RelayError) Retry() bool { return e.Code != CloseTicketInvalid }

// Notice types a relay sends as text messages.
const (
	NoticeWaiting  = "waiting"   // the ticket was accepted; the peer is not there yet
	NoticePaired   = "paired"    // the peer is there (Viewers counts presentation viewers; Slot names the one that joined)
	NoticeLost     = "lost"      // a presentation viewer lost Count messages: resynchronise
	NoticePeerLeft = "peer_left" // the peer went away (Slot: which presentation viewer)
	NoticeDrain    = "drain"     // the relay is shutting down: move to another within RetryMS
)

// Notice is one relay notice. Fields that do not apply are zero.
type Notice struct {
	Type    string `json:"type"`
	Viewers int    `json:"viewers,omitempty"`
	Slot    uint32 `json:"slot,omitempty"`
	Count   int64  `json:"count,omitempty"`
	RetryMS int64  `json:"retry_ms,omitempty"`
}

// ParseNotice decodes a notice. It rejects notices longer than
// MaxNoticeLen and notices without a type.
func ParseNotice(b []byte) (Notice, error) {
	var n Notice
	if len(b) > MaxNoticeLen {
		return n, fmt.Errorf("ws: notice length %d exceeds %d", len(b), MaxNoticeLen)
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return Notice{}, fmt.Errorf("ws: notice: %v", err)
	}
	if n.Type == "" {
		return Notice{}, errors.New("ws: notice without a type")
	}
	return n, nil
}

// Conn is a proto.MsgConn over a WebSocket. Binary messages are the
// session's; text messages are relay notices, passed to the notice
// callback from within ReadMsg (or Dial) and never returned as data.
//
// One goroutine may call ReadMsg while another calls WriteMsg; Close may be
// called at any time from any goroutine.
type Conn struct {
	ws       *websocket.Conn
	relayID  string
	limit    int
	mu       sync.Mutex // guards onNotice
	onNotice func(Notice)
	buf      []byte     // owned by the reader
	batch    *batchConn // gathers a large message's writes (nil: none)

	// pending holds a notice that arrived while Dial waited (owned by the
	// reader until Dial returns).
	paired Notice
}

var _ proto.MsgConn = (*Conn)(nil)

// NewConn wraps c. onNotice (may be nil) receives the relay's notices;
// readLimit bounds an incoming message (0 = DefaultReadLimit).
func NewConn(c *websocket.Conn, readLimit int, onNotice func(Notice)) *Conn {
	if readLimit <= 0 {
		readLimit = DefaultReadLimit
	}
	c.SetReadLimit(int64(readLimit))
	return &Conn{ws: c, limit: readLimit, onNotice: onNotice}
}

// WebSocket returns the underlying connection.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// RelayID is the id of the relay this connection goes through, when it
// came from Dial.
func (c *Conn) RelayID() string { return c.relayID }

// Paired returns the "paired" notice that completed Dial.
func (c *Conn) Paired() Notice { return c.paired }

// SetNoticeFunc replaces the notice callback.
func (c *Conn) SetNoticeFunc(f func(Notice)) {
	c.mu.Lock()
	c.onNotice = f
	c.mu.Unlock()
}

// ReadMsg returns the next binary message; the slice is valid until the
// next call. It returns io.EOF when the peer closed normally and a
// *RelayError when the relay closed with one of its codes.
func (c *Conn) ReadMsg(ctx context.Context) ([]byte, error) {
	for {
		typ, p, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			return p, nil
		}
		n, err := ParseNotice(p)
		if err != nil {
			continue // an unknown or broken notice carries no session data
		}
		c.notify(n)
	}
}

// Next returns the next message of either kind: session data (n == nil;
// the slice is valid until the next read) or a relay notice, which Next
// does not pass to the notice callback. Unparseable notices are skipped.
func (c *Conn) Next(ctx context.Context) (data []byte, n *Notice, err error) {
	for {
		typ, p, err := c.read(ctx)
		if err != nil {
			return nil, nil, err
		}
		if typ == websocket.MessageBinary {
			return p, nil, nil
		}
		if v, err := ParseNotice(p); err == nil {
			return nil, &v, nil
		}
	}
}

func (c *Conn) notify(n Notice) {
	c.mu.Lock()
	f := c.onNotice
	c.mu.Unlock()
	if f != nil {
		f(n)
	}
}

// read reads one whole message into c.buf.
func (c *Conn) read(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return 0, nil, mapError(err)
	}
	b := c.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, mapError(err)
		}
	}
	if cap(b) <= 2*c.limit {
		c.buf = b
	}
	return typ, b, nil
}

// WriteMsg sends p as one binary message.
func (c *Conn) WriteMsg(ctx context.Context, p []byte) error {
	if err := c.writeMsg(ctx, p); err != nil {
		return mapError(err)
	}
	return nil
}

// Close closes the connection normally.
func (c *Conn) Close() error {
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

// mapError turns a normal closure into io.EOF and a relay close code into
// a *RelayError.
func mapError(err error) error {
	switch code := websocket.CloseStatus(err); {
	case code == websocket.StatusNormalClosure || code == websocket.StatusGoingAway:
		return io.EOF
	case code >= 4000 && code <= 4999:
		var ce websocket.CloseError
		errors.As(err, &ce)
		return &RelayError{Code: CloseCode(code), Reason: ce.Reason}
	}
	return err
}
