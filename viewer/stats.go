package viewer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/deskway/deskway/proto"
)

// State is where a session is.
type State uint8

const (
	StatePairing      State = iota + 1 // asking the broker for the session
	StateRelay                         // connecting to a relay, waiting for the host there
	StateHandshake                     // dw/1 handshake with the host
	StateConsent                       // open; waiting for the host's user to allow viewing
	StateOpen                          // the screen is shared
	StateReconnecting                  // the relay was lost; resuming through another
	StateClosed                        // ended
)

var stateNames = [...]string{"", "pairing", "connecting to relay", "handshake", "waiting for consent", "open", "reconnecting", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Stats are a session's figures for the status line.
type Stats struct {
	State  State
	Mode   proto.Mode
	HostID string
	// Relay is the id of the relay the session goes through now.
	Relay string
	// SAS is the 6-digit short authentication string to compare with
	// the host ("482 913"); HostKey is the host key's fingerprint and Pin
	// whether it was pinned now or matched a pin.
	SAS     string
	HostKey proto.Fingerprint
	Pin     proto.PinStatus
	Perms   proto.Perms
	// Width and Height are the framebuffer's size (0 before the first
	// keyframe).
	Width, Height int
	// RTT is the last round-trip time through the relay (0 until the
	// first pong); Handshake how long Connect's dw/1 handshake took (PAKE,
	// Noise, SAS, through the relay).
	RTT, Handshake time.Duration
	// FPS is the frames decoded per second, InBytesPerSec and
	// OutBytesPerSec the bytes on the wire per second, all over the last
	// StatsInterval.
	FPS                           float64
	InBytesPerSec, OutBytesPerSec float64
	// DecodeTime is the mean time to decode and paint a frame over the
	// last interval.
	DecodeTime time.Duration
	// Frames and Bytes are totals since Connect; Resumes counts relay
	// fail-overs.
	Frames, InBytes, OutBytes uint64
	Resumes                   int
}

// counters are updated from several goroutines.
type counters struct {
	in, out     atomic.Uint64
	frames      atomic.Uint64
	decodeMicro atomic.Uint64
}

// countConn counts a MsgConn's bytes.
type countConn struct {
	proto.MsgConn
	c *counters
}

func (c countConn) ReadMsg(ctx context.Context) ([]byte, error) {
	b, err := c.MsgConn.ReadMsg(ctx)
	c.c.in.Add(uint64(len(b)))
	return b, err
}

func (c countConn) WriteMsg(ctx context.Context, p []byte) error {
	err := c.MsgConn.WriteMsg(ctx, p)
	if err == nil {
		c.c.out.Add(uint64(len(p)))
	}
	return err
}

// rates turns two snapshots of the counters into per-second figures.
type rates struct {
	at                          time.Time
	in, out, frames, decodeMicr uint64
}

func (s *Session) snapshotRates(now time.Time) rates {
	return rates{at: now, in: s.ctr.in.Load(), out: s.ctr.out.Load(), frames: s.ctr.frames.Load(), decodeMicr: s.ctr.decodeMicro.Load()}
}

func (r rates) apply(prev rates, st *Stats) {
	st.InBytes, st.OutBytes, st.Frames = r.in, r.out, r.frames
	dt := r.at.Sub(prev.at).Seconds()
	if dt <= 0 {
		return
	}
	frames := r.frames - prev.frames
	st.FPS = float64(frames) / dt
	st.InBytesPerSec = float64(r.in-prev.in) / dt
	st.OutBytesPerSec = float64(r.out-prev.out) / dt
	if frames > 0 {
		st.DecodeTime = time.Duration((r.decodeMicr-prev.decodeMicr)/frames) * time.Microsecond
	}
}
