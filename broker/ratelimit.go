package broker

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LoginLimits are the login rate limits (SECURITY.md §5).
type LoginLimits struct {
	// PerIP is the sustained rate of login attempts from one client
	// network (/24 for IPv4, /64 for IPv6), Burst its burst. Defaults:
	// 10 a minute, burst 20.
	PerIP rate.Limit
	Burst int
	// After FreeFailures consecutive failures on one account, the next
	// attempt must wait FirstDelay, and each further failure doubles the
	// wait up to MaxDelay. Defaults 5, 1 s, 15 min.
	FreeFailures int
	FirstDelay   time.Duration
	MaxDelay     time.Duration
	// SoftLock: after SoftLockFailures failures within SoftLockWindow the
	// account waits SoftLockWindow from the last one. Defaults 10,
	// 15 min. There is never a permanent lock: that would let anyone
	// lock anyone out.
	SoftLockFailures int
	SoftLockWindow   time.Duration
}

func (l LoginLimits) withDefaults() LoginLimits {
	if l.PerIP == 0 {
		l.PerIP = rate.Every(6 * time.Second)
	}
	if l.Burst == 0 {
		l.Burst = 20
	}
	if l.FreeFailures == 0 {
		l.FreeFailures = 5
	}
	if l.FirstDelay == 0 {
		l.FirstDelay = time.Second
	}
	if l.MaxDelay == 0 {
		l.MaxDelay = 15 * time.Minute
	}
	if l.SoftLockFailures == 0 {
		l.SoftLockFailures = 10
	}
	if l.SoftLockWindow == 0 {
		l.SoftLockWindow = 15 * time.Minute
	}
	return l
}

// maxLimiterEntries bounds each table of the limiter; beyond it, idle
// entries are dropped first, then arbitrary ones (an attacker who fills
// the table only resets other attackers' counters early).
const maxLimiterEntries = 100_000

// limiter throttles attempts per client network and per account name
// (known or not: unknown names are throttled the same way, so the
// limiter tells nothing about which accounts exist). The state is per
// broker instance.
//
// Safe for concurrent use.
type limiter struct {
	cfg   LoginLimits
	mu    sync.Mutex
	nets  map[netip.Prefix]*netEntry
	accts map[string]*acctEntry
}

type netEntry struct {
	lim  *rate.Limiter
	last time.Time
}

type acctEntry struct {
	consecutive int
	recent      []time.Time // failure times within the soft-lock window
	until       time.Time   // no attempt before this
	last        time.Time
}

func newLimiter(cfg LoginLimits) *limiter {
	return &limiter{cfg: cfg.withDefaults(), nets: map[netip.Prefix]*netEntry{}, accts: map[string]*acctEntry{}}
}

// clientNet is the network an address is throttled as.
func clientNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// allowNet spends one token of the client network's bucket and says how
// long to wait when there is none.
func (l *limiter) allowNet(ip netip.Addr, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := clientNet(ip)
	e := l.nets[key]
	if e == nil {
		if len(l.nets) >= maxLimiterEntries {
			l.evictNetsLocked(now)
		}
		e = &netEntry{lim: rate.NewLimiter(l.cfg.PerIP, l.cfg.Burst)}
		l.nets[key] = e
	}
	e.last = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// allowAccount says whether an attempt on the account may go ahead now,
// and how long to wait when not.
func (l *limiter) allowAccount(name string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.accts[name]
	if e == nil || !now.Before(e.until) {
		return true, 0
	}
	return false, e.until.Sub(now)
}

// failure records a failed attempt on the account.
func (l *limiter) failure(name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.accts[name]
	if e == nil {
		if len(l.accts) >= maxLimiterEntries {
			l.evictAcctsLocked(now)
		}
		e = &acctEntry{}
		l.accts[name] = e
	}
	e.last = now
	e.consecutive++
	cut := 0
	for cut < len(e.recent) && now.Sub(e.recent[cut]) >= l.cfg.SoftLockWindow {
		cut++
	}
	e.recent = append(e.recent[cut:], now)
	if len(e.recent) > l.cfg.SoftLockFailures {
		e.recent = e.recent[len(e.recent)-l.cfg.SoftLockFailures:]
	}
	var wait time.Duration
	if n := e.consecutive - l.cfg.FreeFailures + 1; n > 0 {
		wait = l.cfg.FirstDelay
		for i := 1; i < n && wait < l.cfg.MaxDelay; i++ {
			wait *= 2
		}
		wait = min(wait, l.cfg.MaxDelay)
	}
	if len(e.recent) >= l.cfg.SoftLockFailures {
		wait = max(wait, l.cfg.SoftLockWindow)
	}
	e.until = now.Add(wait)
}

// success clears the account's failures.
func (l *limiter) success(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.accts, name)
}

func (l *limiter) evictNetsLocked(now time.Time) {
	for k, e := range l.nets {
		if now.Sub(e.last) > time.Hour {
			delete(l.nets, k)
		}
	}
	for k := range l.nets {
		if len(l.nets) < maxLimiterEntries {
			break
		}
		delete(l.nets, k)
	}
}

func (l *limiter) evictAcctsLocked(now time.Time) {
	for k, e := range l.accts {
		if !now.Before(e.until) && now.Sub(e.last) > l.cfg.SoftLockWindow {
			delete(l.accts, k)
		}
	}
	for k := range l.accts {
		if len(l.accts) < maxLimiterEntries {
			break
		}
		delete(l.accts, k)
	}
}
