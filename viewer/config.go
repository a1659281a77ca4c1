package viewer

import (
	"context"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// Broker is the part of the broker's API a viewer uses. APIBroker adapts
// a proto/api Client (native viewer); the browser's glue calls the same
// endpoints with fetch, sending the console's session cookie. Errors the
// broker answered are *BrokerError.
type Broker interface {
	// Join joins the support session with this nameplate.
	Join(ctx context.Context, nameplate string) (*Pairing, error)
	// Connect starts an unattended session with a host.
	Connect(ctx context.Context, hostID string) (*Pairing, error)
	// Tickets returns fresh relay tickets of a live session (fail-over).
	Tickets(ctx context.Context, id proto.SessionID) (*Pairing, error)
}

// Pairing is the broker's answer to this viewer (the fields of
// api.Pairing a viewer uses): which session, which host, and the relays
// to try with a ticket for each, best first.
type Pairing struct {
	SessionID proto.SessionID
	HostID    string
	Mode      proto.Mode
	Role      proto.Role // the end the tickets are for: the viewer
	// Owner is, for unattended sessions, the owner's user id: the OPAQUE
	// client identity.
	Owner  string
	Relays []Relay
}

// Relay is one relay of a pairing: its id, base URL and the signed
// ticket to send it first.
type Relay struct {
	ID     string
	URL    string
	Ticket []byte
}

// BrokerError is an error response of the broker: its HTTP status and
// the code and message of its JSON body (docs/api.md).
type BrokerError struct {
	Status  int
	Code    string // api.CodeNotFound, …
	Message string
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("viewer: broker: %d %s: %s", e.Status, e.Code, e.Message)
}

// The broker's error codes the viewer tells apart (the values of
// proto/api's Code constants).
const (
	codeNotFound     = "not_found"
	codeExpired      = "expired"
	codeHostOffline  = "host_offline"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeUnavailable  = "unavailable"
	codeRateLimited  = "rate_limited"
	codeInternal     = "internal"
)

// Relay notices the session acts on (proto/ws's Notice types).
const (
	NoticeDrain    = "drain"     // the relay shuts down: move to another
	NoticePeerLeft = "peer_left" // the host left this relay
)

// DialFunc connects to one of the relays and returns the paired
// connection and the id of the relay it goes through. onNotice receives
// the type of each later relay notice; it is called from within ReadMsg
// and must not block. Errors should match ErrHostOffline when the host
// never came to the relay and ErrNoRelay otherwise. The native default is
// DialRelays (proto/ws); the browser's glue dials with the page's
// WebSocket.
type DialFunc func(ctx context.Context, relays []Relay, onNotice func(relayID, notice string)) (conn proto.MsgConn, relayID string, err error)

// Target is what to connect to: a support session by the code the
// customer read out, or an unattended host by its id and access password.
type Target struct {
	// Code is the support code as typed ("123-456-789"; spaces and dashes
	// are ignored). Only its nameplate is sent to the broker.
	Code string
	// HostID and Password reach an unattended host. The password is used
	// for OPAQUE inside the handshake and nowhere else; Connect does not
	// keep it.
	HostID   string
	Password []byte
}

// Events are the callbacks through which a Session reports what happens.
// Nil fields are skipped. They are called one at a time, never
// concurrently, from the Session's goroutines; see the package
// documentation.
type Events struct {
	// State reports a change of the session's state; err says why for
	// StateReconnecting and StateClosed (nil: closed by Close).
	State func(st State, err error)
	// Frame reports that rects of fb changed. fb is the decoder's
	// framebuffer (RGBA, alpha 255): valid until Frame returns, replaced
	// by another image when the host's screen size changes (the first
	// rect then covers all of it). The frame is acknowledged when Frame
	// returns, so a slow painter slows the host down instead of queueing.
	Frame func(fb *image.RGBA, rects []codec.Rect)
	// Cursor reports a new cursor shape (in framebuffer pixels).
	Cursor func(c *Cursor)
	// CursorPos reports where the host's pointer is, in framebuffer
	// pixels, and whether the cursor is shown.
	CursorPos func(x, y int, visible bool)
	// Clipboard reports clipboard text copied on the host.
	Clipboard func(text string)
	// Consent reports what the person at the host allows now.
	Consent func(granted proto.Perms)
	// Layout reports the host's monitors and which one is shared.
	Layout func(l proto.Layout)
	// HostViewOnly reports that the host switched its view-only mode:
	// while on, it ignores input.
	HostViewOnly func(on bool)
	// Stats reports the session's figures every Config.StatsInterval.
	Stats func(st Stats)
}

// Config configures a Session. Broker and Static are required; zero
// fields take the defaults documented on each.
type Config struct {
	// Broker pairs the viewer with the host and gives fresh tickets.
	Broker Broker
	// Static is this device's viewer key (viewerStatic, SECURITY.md
	// §4.0): the native viewer keeps it in a 0600 file (LoadStaticKey),
	// the browser in IndexedDB.
	Static proto.StaticPrivate
	// Pins holds host_id → pinned host key (SECURITY.md §4.3): the native
	// viewer a FilePinStore, the browser IndexedDB. Nil disables pinning.
	Pins proto.PinStore
	// Dial connects to the relays. Default DialRelays, except in the
	// browser, where it is required.
	Dial DialFunc
	// Events receives what happens.
	Events Events

	// Software, Version, Platform and User go into this end's Hello.
	// Defaults "deskway-viewer", "dev", GOOS/GOARCH, "".
	Software, Version, Platform, User string
	// Want is the permissions to ask the host's user for. Default view,
	// control and clipboard.
	Want proto.Perms
	// ViewOnly starts the session in view-only mode.
	ViewOnly bool
	// Quality, if set, is the stream hint sent at the start.
	Quality *proto.Quality

	// MaxWidth and MaxHeight bound the host's screen. Default 7680x4320.
	MaxWidth, MaxHeight int
	// InputQueue bounds the queued input events. Default 512.
	InputQueue int
	// KeystrokeTick is the cadence of input while a person types, when
	// the host takes padded input (CapPadded; input records are then
	// always padded to 64 bytes): keystrokes wait for the next tick and a
	// tick without one sends chaff, until a random 1–2 s after the last
	// key, so that the records' timing does not give away the typing
	// rhythm (SECURITY.md §4.4, as OpenSSH's ObscureKeystrokeTiming).
	// Default 20 ms; negative sends input at once.
	KeystrokeTick time.Duration
	// PingInterval is the cadence of RTT pings; negative disables them.
	// Default 2 s.
	PingInterval time.Duration
	// StatsInterval is the cadence of Events.Stats; negative disables it.
	// Default 1 s.
	StatsInterval time.Duration
	// BackoffMin and BackoffMax pace resumption attempts after the
	// first: a random wait in [d/2, d], d doubling from BackoffMin (250 ms)
	// up to BackoffMax (5 s).
	BackoffMin, BackoffMax time.Duration
	// Channel tunes the secure channel (its ResumeWindow bounds how long
	// Run tries to resume).
	Channel proto.ChannelOptions

	// Rand is the randomness of the handshake; nil means crypto/rand.
	// Tests inject a deterministic stream.
	Rand io.Reader
	// Now is the clock of the figures (RTT, decode times); nil means
	// time.Now.
	Now func() time.Time
	// Logger receives structured logs; nil discards them. The code and
	// password never appear in them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Dial == nil {
		c.Dial = defaultDial
	}
	if c.Software == "" {
		c.Software = "deskway-viewer"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Platform == "" {
		c.Platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	if c.Want == 0 {
		c.Want = proto.PermView | proto.PermControl | proto.PermClipboard
	}
	if c.MaxWidth <= 0 {
		c.MaxWidth = 7680
	}
	if c.MaxHeight <= 0 {
		c.MaxHeight = 4320
	}
	if c.InputQueue <= 0 {
		c.InputQueue = 512
	}
	if c.KeystrokeTick == 0 {
		c.KeystrokeTick = 20 * time.Millisecond
	}
	if c.PingInterval == 0 {
		c.PingInterval = 2 * time.Second
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = time.Second
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 250 * time.Millisecond
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = max(5*time.Second, c.BackoffMin)
	}
	if c.Channel.ResumeWindow <= 0 {
		c.Channel.ResumeWindow = 120 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// backoff returns the wait before resumption attempt n+1.
func (c Config) backoff(n int) time.Duration {
	d := c.BackoffMin
	for i := 0; i < n && d < c.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

func (c Config) decoderOptions() codec.DecoderOptions {
	return codec.DecoderOptions{MaxWidth: c.MaxWidth, MaxHeight: c.MaxHeight}
}
