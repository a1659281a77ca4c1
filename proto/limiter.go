package proto

// Online-guessing limits, enforced by the host, never the broker
// (SECURITY.md §4.2 "Online-guessing limits").
//
// Rule 1, count before respond: AcceptHost calls AttemptLimiter.Begin
// when a PAKE request arrives and sends Yb / KE2 only after Begin
// returned, and Begin returns only after the incremented failure counter
// is durably stored (the store fsyncs). The counter is reset only after
// the host verified the viewer's key confirmation (Attempt.Succeeded), so
// a connection dropped after the reply, or a process killed between reply
// and confirmation, counts as a failure.
//
// Rule 2, serial: at most one attempt is in flight per limiter (one per
// host, or per support code); a concurrent Begin fails with ErrBusy at
// once.
//
// The policies: SupportPolicy (a code dies after 3 failures, expires after
// 10 minutes and is consumed by its first success) and UnattendedPolicy
// (5 free failures, then a delay of 1 minute doubling per failure up to 1
// hour; from 20 consecutive failures the host is in lockdown: only devices
// pinned as trusted may still try, and they still wait the delay).
//
// Limiter is the policy logic, with an injectable clock. Its state goes
// through a LimiterStore (Load/Save); the agent implements the store with
// a file (write to a temporary file, fsync, rename, fsync the directory);
// MemLimiterStore is for tests and ephemeral codes. The state's encoding
// (LimiterState.MarshalBinary) is small, versioned and checksummed.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"
	"time"
)

// AttemptLimiter admits PAKE attempts on a host. AcceptHost requires one.
// Implementations must be safe for concurrent use.
type AttemptLimiter interface {
	// Begin admits one attempt or refuses it with ErrBusy, a *LimitError,
	// ErrCodeExhausted, ErrCodeUsed or ErrCodeExpired. Before it returns
	// an Attempt it must have durably recorded the attempt as a failure.
	Begin(ctx context.Context, info AttemptInfo) (Attempt, error)
}

// AttemptInfo is what the host knows about an attempt before the PAKE.
type AttemptInfo struct {
	// Trusted: the viewer claims (by device hint) to be a device the
	// owner pinned as trusted. The claim is verified against the viewer's
	// static key at the end of the handshake.
	Trusted bool
}

// Attempt is one admitted PAKE attempt.
type Attempt interface {
	// TrustedOnly reports that the host is in lockdown and admitted the
	// attempt only for its trusted-device claim: the handshake must verify
	// the device key before calling Succeeded.
	TrustedOnly() bool
	// Succeeded records a verified key confirmation: the failure counter
	// is reset (and a single-use code consumed), durably, before it
	// returns.
	Succeeded() error
	// End releases the in-flight slot. An attempt ended without
	// Succeeded stays counted as a failure.
	End()
}

// Limiter errors.
var (
	// ErrBusy: another PAKE attempt is in flight on this host.
	ErrBusy = errors.New("proto: host busy: another connection attempt is in progress")
	// ErrRateLimited is matched by every *LimitError.
	ErrRateLimited = errors.New("proto: too many failed attempts")
	// ErrCodeExhausted: the support code had its 3 failed attempts; the
	// host shows a new code.
	ErrCodeExhausted = errors.New("proto: support code invalidated after too many wrong attempts")
	// ErrCodeUsed: the support code was already used by a session.
	ErrCodeUsed = errors.New("proto: support code already used")
	// ErrCodeExpired: the support code is older than its lifetime.
	ErrCodeExpired = errors.New("proto: support code expired")
)

// LimitError refuses an attempt for a while, or for unknown devices.
type LimitError struct {
	RetryAfter time.Duration // how long until the next attempt is admitted
	Lockdown   bool          // lockdown: only trusted devices are admitted
}

func (e *LimitError) Error() string {
	if e.Lockdown {
		return "proto: host in lockdown after too many failed attempts: only trusted devices may connect"
	}
	return fmt.Sprintf("proto: too many failed attempts: retry in %v", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *LimitError) Is(target error) bool { return target == ErrRateLimited }

// LimiterPolicy is an attempt policy.
type LimiterPolicy struct {
	// MaxFailures: after this many failures the secret is dead
	// (ErrCodeExhausted). 0: no such limit.
	MaxFailures uint32
	// SingleUse: the first success consumes the secret.
	SingleUse bool
	// Lifetime of the secret from the state's creation. 0: forever.
	Lifetime time.Duration
	// FreeFailures before delays start.
	FreeFailures uint32
	// BaseDelay is the delay after FreeFailures failures; it doubles per
	// further failure up to MaxDelay. 0: no delays.
	BaseDelay, MaxDelay time.Duration
	// LockdownAt: from this many consecutive failures only trusted
	// devices are admitted. 0: never.
	LockdownAt uint32
}

// SupportPolicy is the policy of a one-time support code.
var SupportPolicy = LimiterPolicy{MaxFailures: 3, SingleUse: true, Lifetime: 10 * time.Minute}

// UnattendedPolicy is the policy of a host access password.
var UnattendedPolicy = LimiterPolicy{FreeFailures: 5, BaseDelay: time.Minute, MaxDelay: time.Hour, LockdownAt: 20}

// Delay returns how long after the last failure an attempt must wait when
// failures have been counted.
func (p LimiterPolicy) Delay(failures uint32) time.Duration {
	if p.BaseDelay <= 0 || failures < p.FreeFailures {
		return 0
	}
	d := p.BaseDelay
	for i := p.FreeFailures; i < failures; i++ {
		d *= 2
		if p.MaxDelay > 0 && d >= p.MaxDelay {
			return p.MaxDelay
		}
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d
}

// LimiterState is the persisted state of a Limiter.
type LimiterState struct {
	Failures    uint32    // consecutive failures (attempts without a verified confirmation)
	LastFailure time.Time // when the last failure was counted (second resolution)
	Created     time.Time // when the secret was created (second resolution)
	Used        bool      // a single-use secret was consumed
}

const (
	limiterStateMagic = "dwls"
	limiterStateLen   = 4 + 1 + 1 + 4 + 8 + 8 + 4 // magic, version, flags, failures, last, created, crc32
	// MaxLimiterStateSize bounds an encoded LimiterState.
	MaxLimiterStateSize = limiterStateLen
)

// ErrLimiterState is returned (wrapped) for a malformed state.
var ErrLimiterState = errors.New("proto: malformed limiter state")

// MarshalBinary encodes the state in 30 bytes:
//
//	"dwls" | version u8 = 1 | flags u8 (bit 0: used) | failures u32 BE |
//	last_failure unix s i64 BE | created unix s i64 BE | CRC-32 (IEEE) of the rest
func (s LimiterState) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, limiterStateLen)
	b = append(b, limiterStateMagic...)
	var flags byte
	if s.Used {
		flags |= 1
	}
	b = append(b, 1, flags)
	b = binary.BigEndian.AppendUint32(b, s.Failures)
	b = binary.BigEndian.AppendUint64(b, uint64(unixOrZero(s.LastFailure)))
	b = binary.BigEndian.AppendUint64(b, uint64(unixOrZero(s.Created)))
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// ParseLimiterState decodes MarshalBinary's output. A torn or corrupted
// state fails the checksum: the agent must then fail closed (refuse
// attempts until an operator resets it), never start from zero.
func ParseLimiterState(b []byte) (LimiterState, error) {
	var s LimiterState
	if len(b) != limiterStateLen {
		return s, fmt.Errorf("%w: %d bytes, want %d", ErrLimiterState, len(b), limiterStateLen)
	}
	if string(b[:4]) != limiterStateMagic {
		return s, fmt.Errorf("%w: bad magic", ErrLimiterState)
	}
	if crc32.ChecksumIEEE(b[:len(b)-4]) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return s, fmt.Errorf("%w: checksum mismatch", ErrLimiterState)
	}
	if b[4] != 1 {
		return s, fmt.Errorf("%w: version %d, want 1", ErrLimiterState, b[4])
	}
	if b[5]&^1 != 0 {
		return s, fmt.Errorf("%w: unknown flags %#x", ErrLimiterState, b[5])
	}
	s.Used = b[5]&1 != 0
	s.Failures = binary.BigEndian.Uint32(b[6:10])
	last, created := int64(binary.BigEndian.Uint64(b[10:18])), int64(binary.BigEndian.Uint64(b[18:26]))
	const maxUnix = 253402300799 // 9999-12-31
	if last < 0 || last > maxUnix || created < 0 || created > maxUnix {
		return s, fmt.Errorf("%w: time out of range", ErrLimiterState)
	}
	s.LastFailure, s.Created = timeOrZero(last), timeOrZero(created)
	return s, nil
}

// LimiterStore persists a Limiter's state. Save must be durable (written
// and fsynced) before it returns: the host sends its PAKE reply right
// after.
type LimiterStore interface {
	Load() (LimiterState, error)
	Save(LimiterState) error
}

// MemLimiterStore keeps the state in memory (tests, and support codes
// that die with the process anyway). Safe for concurrent use.
type MemLimiterStore struct {
	mu    sync.Mutex
	state LimiterState
	saves int
}

// Load implements LimiterStore.
func (m *MemLimiterStore) Load() (LimiterState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, nil
}

// Save implements LimiterStore.
func (m *MemLimiterStore) Save(s LimiterState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = s
	m.saves++
	return nil
}

// LimiterEvent is something the agent should tell the user about.
type LimiterEvent uint8

const (
	// EventCodeExhausted: a support code had its last wrong attempt; warn
	// the customer ("someone entered a wrong code") and show a new code.
	EventCodeExhausted LimiterEvent = iota + 1
	// EventLockdown: the host entered lockdown; notify the owner.
	EventLockdown
)

func (e LimiterEvent) String() string {
	switch e {
	case EventCodeExhausted:
		return "code-exhausted"
	case EventLockdown:
		return "lockdown"
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// LimiterOptions configures a Limiter.
type LimiterOptions struct {
	Clock  func() time.Time   // default time.Now
	Notify func(LimiterEvent) // called without locks held; may be nil
	Logger *slog.Logger       // nil: discard
}

// Limiter is the AttemptLimiter of one host (or one support code). It is
// safe for concurrent use.
type Limiter struct {
	policy LimiterPolicy
	store  LimiterStore
	opts   LimiterOptions
	log    *slog.Logger

	mu       sync.Mutex
	state    LimiterState
	inflight bool
}

// NewLimiter loads the state from store. A new state (Created zero) gets
// its creation time now, saved at once.
func NewLimiter(policy LimiterPolicy, store LimiterStore, opts LimiterOptions) (*Limiter, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	l := &Limiter{policy: policy, store: store, opts: opts, log: loggerOrDiscard(opts.Logger)}
	st, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("proto: limiter: load state: %w", err)
	}
	if st.Created.IsZero() {
		st.Created = opts.Clock().Truncate(time.Second)
		if err := store.Save(st); err != nil {
			return nil, fmt.Errorf("proto: limiter: save state: %w", err)
		}
	}
	l.state = st
	return l, nil
}

// State returns the current state.
func (l *Limiter) State() LimiterState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Begin implements AttemptLimiter.
func (l *Limiter) Begin(ctx context.Context, info AttemptInfo) (Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight {
		return nil, ErrBusy
	}
	now := l.opts.Clock()
	st := l.state
	p := l.policy
	switch {
	case p.SingleUse && st.Used:
		return nil, ErrCodeUsed
	case p.Lifetime > 0 && !now.Before(st.Created.Add(p.Lifetime)):
		return nil, ErrCodeExpired
	case p.MaxFailures > 0 && st.Failures >= p.MaxFailures:
		return nil, ErrCodeExhausted
	}
	trustedOnly := false
	if p.LockdownAt > 0 && st.Failures >= p.LockdownAt {
		if !info.Trusted {
			return nil, &LimitError{Lockdown: true}
		}
		trustedOnly = true
	}
	if d := p.Delay(st.Failures); d > 0 {
		if wait := st.LastFailure.Add(d).Sub(now); wait > 0 {
			return nil, &LimitError{RetryAfter: wait}
		}
	}
	st.Failures++
	st.LastFailure = now.Truncate(time.Second)
	if err := l.store.Save(st); err != nil {
		// Fail closed: without a durable count there is no reply.
		return nil, fmt.Errorf("proto: limiter: save state: %w", err)
	}
	l.state = st
	l.inflight = true
	l.log.Debug("pake attempt admitted", "failures", st.Failures, "trusted_only", trustedOnly)
	return &limiterAttempt{l: l, trustedOnly: trustedOnly}, nil
}

type limiterAttempt struct {
	l           *Limiter
	trustedOnly bool
	succeeded   bool
	ended       bool
}

func (a *limiterAttempt) TrustedOnly() bool { return a.trustedOnly }

func (a *limiterAttempt) Succeeded() error {
	l := a.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.ended || a.succeeded {
		return errors.New("proto: limiter: attempt already finished")
	}
	st := l.state
	st.Failures = 0
	st.LastFailure = time.Time{}
	if l.policy.SingleUse {
		st.Used = true
	}
	if err := l.store.Save(st); err != nil {
		return fmt.Errorf("proto: limiter: save state: %w", err)
	}
	l.state = st
	a.succeeded = true
	return nil
}

func (a *limiterAttempt) End() {
	l := a.l
	l.mu.Lock()
	if a.ended {
		l.mu.Unlock()
		return
	}
	a.ended = true
	l.inflight = false
	var ev LimiterEvent
	if !a.succeeded {
		switch f := l.state.Failures; {
		case l.policy.MaxFailures > 0 && f == l.policy.MaxFailures:
			ev = EventCodeExhausted
		case l.policy.LockdownAt > 0 && f == l.policy.LockdownAt:
			ev = EventLockdown
		}
	}
	l.mu.Unlock()
	if ev != 0 {
		l.log.Warn("pake attempts", "event", ev.String())
		if l.opts.Notify != nil {
			l.opts.Notify(ev)
		}
	}
}

// loggerOrDiscard returns l, or a logger that discards everything.
func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
