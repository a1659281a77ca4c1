package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// Config configures a Server. Zero fields take the defaults documented on
// each; only RelayID and TicketKeys are required.
type Config struct {
	// RelayID is this relay's id: a ticket is accepted only if it lists
	// it (the audience).
	RelayID string
	// TicketKeys are the broker's ticket public keys by key id. Use
	// Server.SetTicketKeys to rotate them while running.
	TicketKeys proto.TicketKeys
	// Logger receives structured logs (session events, never per
	// message). Nil discards.
	Logger *slog.Logger
	// Report, if set, receives each session's accounting when its last
	// end has left. It is called from a relay goroutine and must not
	// block for long (hand the report to a queue).
	Report func(api.RelaySessionReport)

	// MaxSessions bounds the sessions open at once; a ticket for a new
	// session beyond it is refused with close code 4009. Default 20 000.
	MaxSessions int
	// MaxConnections bounds the WebSocket connections open at once,
	// including those that have not sent their ticket yet; beyond it the
	// upgrade is answered 503. Default 2 × MaxSessions + 1 000.
	MaxConnections int
	// MaxViewers bounds the viewers of one presentation session (4006
	// beyond). Default 100.
	MaxViewers int
	// MaxMessageBytes bounds one WebSocket message (all its fragments);
	// a larger one closes the connection with 4008. Default 128 KiB (a
	// dw/1 record is at most 65 551 bytes).
	MaxMessageBytes int
	// SessionBytesPerSecond caps what one session may send through the
	// relay, both directions together, when its ticket does not set a
	// cap; the relay stops reading a session over its cap until it is
	// back under (TCP backpressure). 0 means no cap. A ticket's own cap
	// applies when it is lower.
	SessionBytesPerSecond int64
	// GlobalBytesPerSecond caps all sessions together in the same way.
	// 0 means no cap.
	GlobalBytesPerSecond int64
	// ViewerQueueBytes bounds the queue of each presentation viewer; a
	// viewer whose queue would overflow loses the queued messages and
	// gets a "lost" notice. Default 1 MiB.
	ViewerQueueBytes int

	// TicketTimeout bounds the time from the upgrade to the ticket.
	// Default 10 s.
	TicketTimeout time.Duration
	// PairTimeout bounds how long an end waits for its peer (close code
	// 4005). Default 60 s.
	PairTimeout time.Duration
	// KeepAlive is how long a connection may be silent before the relay
	// pings it. Default 30 s.
	KeepAlive time.Duration
	// IdleTimeout closes a connection silent for this long (a ping
	// answered counts as traffic). Default 90 s.
	IdleTimeout time.Duration
	// DrainRetry is the retry_ms hint of the drain notice. Default 1 s.
	DrainRetry time.Duration

	// Loops is the number of event loops. Default GOMAXPROCS.
	Loops int
	// Engine selects the connection engine. Default EngineAuto.
	Engine Engine
}

// Engine names a way of serving connections.
type Engine string

const (
	// EngineAuto is EngineEpoll where it exists (Linux).
	EngineAuto Engine = ""
	// EngineEpoll serves connections from event loops on epoll.
	EngineEpoll Engine = "epoll"
)

func (c *Config) withDefaults() (Config, error) {
	o := *c
	if o.RelayID == "" {
		return o, errors.New("relay: config: no relay id")
	}
	if len(o.TicketKeys) == 0 {
		return o, errors.New("relay: config: no ticket keys")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxSessions, 20000)
	def(&o.MaxConnections, 2*o.MaxSessions+1000)
	def(&o.MaxViewers, 100)
	def(&o.MaxMessageBytes, 128<<10)
	def(&o.ViewerQueueBytes, 1<<20)
	def(&o.Loops, runtime.GOMAXPROCS(0))
	defd(&o.TicketTimeout, 10*time.Second)
	defd(&o.PairTimeout, 60*time.Second)
	defd(&o.KeepAlive, 30*time.Second)
	defd(&o.IdleTimeout, 90*time.Second)
	defd(&o.DrainRetry, time.Second)
	if o.IdleTimeout <= o.KeepAlive {
		return o, fmt.Errorf("relay: config: idle timeout %v not above keepalive %v", o.IdleTimeout, o.KeepAlive)
	}
	if o.MaxViewers > 1<<16 {
		return o, fmt.Errorf("relay: config: max viewers %d exceeds %d", o.MaxViewers, 1<<16)
	}
	return o, nil
}
