package broker

import (
	"context"
	"errors"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// Errors of a Store.
var (
	ErrNotFound = errors.New("broker: not found")
	ErrConflict = errors.New("broker: already exists")
)

// Store keeps the broker's state: accounts, login sessions, enrollment
// codes, hosts and their presence, support nameplates, session records,
// the audit log, ticket keys, and offers in flight between instances.
// OpenStore opens one by its DSN: SQLite (the default, one file) or
// PostgreSQL (several broker instances as one service). Both pass the same
// test suite.
//
// A Store is safe for concurrent use. Methods that look one thing up
// return ErrNotFound when it is not there; methods that create return
// ErrConflict when a unique key is taken. Times are stored with
// microsecond precision, in UTC.
type Store interface {
	// Accounts.
	CreateUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	UserByName(ctx context.Context, name string) (*User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser writes u's role, disabled flag, password hash, TOTP
	// secrets and last login. It does not change TOTPStep.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user with their login sessions, recovery
	// codes, enrollment codes, access grants and owned hosts.
	DeleteUser(ctx context.Context, id string) error
	// AdvanceTOTPStep records step as the user's last accepted TOTP time
	// step if it is later than the one recorded, and reports whether it
	// was: false means the code was already used (RFC 6238 §5.2).
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
	// SetRecoveryCodes replaces the user's recovery code hashes.
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error
	// UseRecoveryCode removes the recovery code with this hash and
	// reports whether it was there.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error)
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)

	// Login sessions, keyed by the SHA-256 of their token.
	CreateAuthSession(ctx context.Context, s *AuthSession) error
	AuthSession(ctx context.Context, tokenHash []byte) (*AuthSession, error)
	TouchAuthSession(ctx context.Context, tokenHash []byte, seen time.Time) error
	// BumpAuthAttempts counts one more second-factor attempt on a pending
	// session and returns the new count.
	BumpAuthAttempts(ctx context.Context, tokenHash []byte) (int, error)
	DeleteAuthSession(ctx context.Context, tokenHash []byte) error
	// DeleteUserAuthSessions ends every session of the user except the
	// one with the hash keep (nil: all) and returns how many it ended.
	DeleteUserAuthSessions(ctx context.Context, userID string, keep []byte) (int, error)

	// Enrollment codes, keyed by the SHA-256 of the code.
	CreateEnrollCode(ctx context.Context, e *EnrollCode) error
	// ListEnrollCodes lists the unexpired codes of an owner ("" = all).
	ListEnrollCodes(ctx context.Context, ownerID string, now time.Time) ([]EnrollCode, error)
	DeleteEnrollCode(ctx context.Context, id string) error
	// TakeEnrollCode removes and returns the unexpired code with this
	// hash; of concurrent callers only one gets it.
	TakeEnrollCode(ctx context.Context, hash []byte, now time.Time) (*EnrollCode, error)

	// Hosts.
	CreateHost(ctx context.Context, h *Host) error
	HostByID(ctx context.Context, id string) (*Host, error)
	// ListHosts lists the hosts userID may reach (owner or grant), or
	// all hosts for userID "".
	ListHosts(ctx context.Context, userID string) ([]Host, error)
	UpdateHostInfo(ctx context.Context, id string, info api.HostInfo) error
	DeleteHost(ctx context.Context, id string) error
	// CanAccess reports whether userID owns the host or was granted it.
	CanAccess(ctx context.Context, hostID, userID string) (bool, error)
	GrantAccess(ctx context.Context, hostID, userID string) error
	RevokeAccess(ctx context.Context, hostID, userID string) error

	// Presence. A host is online while it has a connection id and its
	// instance refreshed SeenAt recently (Host.OnlineAt).
	SetHostOnline(ctx context.Context, hostID, instance, connID string, now time.Time) error
	// SetHostOffline clears the presence if connID is still the host's
	// connection (a newer connection elsewhere is left alone).
	SetHostOffline(ctx context.Context, hostID, connID string, now time.Time) error
	// TouchInstanceHosts refreshes SeenAt of every host connected to
	// instance: the heartbeat that keeps them online.
	TouchInstanceHosts(ctx context.Context, instance string, now time.Time) error
	// ClearInstanceHosts marks every host of instance offline.
	ClearInstanceHosts(ctx context.Context, instance string) error

	// Support nameplates.
	// CreateSupport stores a pending support request; ErrConflict means
	// its nameplate is taken by another pending, unexpired one.
	CreateSupport(ctx context.Context, s *Support) error
	// SupportByNameplate returns the pending, unexpired request.
	SupportByNameplate(ctx context.Context, nameplate string, now time.Time) (*Support, error)
	// ClaimSupport marks the pending, unexpired request as joined by
	// technicianID and returns it; of concurrent callers only one gets it.
	ClaimSupport(ctx context.Context, nameplate, technicianID string, now time.Time) (*Support, error)
	CountPendingSupport(ctx context.Context, now time.Time) (int, error)

	// Session records.
	CreateSession(ctx context.Context, s *Session) error
	SessionByID(ctx context.Context, id proto.SessionID) (*Session, error)
	ListSessions(ctx context.Context, f SessionFilter) ([]Session, error)
	// ReopenSession marks a session live again and records now as its
	// last ticket (fresh tickets after a relay failed).
	ReopenSession(ctx context.Context, id proto.SessionID, now time.Time) error
	// EndSession marks a live session ended.
	EndSession(ctx context.Context, id proto.SessionID, end time.Time, reason string) error
	// AddRelayReport adds a relay's byte counts to the session, adds the
	// relay to its list, and ends it with the report's end and reason.
	AddRelayReport(ctx context.Context, r *api.RelaySessionReport) error

	// Audit log.
	AppendAudit(ctx context.Context, e *api.AuditEntry) error
	QueryAudit(ctx context.Context, q api.AuditQuery) ([]api.AuditEntry, error)

	// Ticket signing keys; Private is sealed by the broker.
	CreateTicketKey(ctx context.Context, k *TicketKey) error
	ListTicketKeys(ctx context.Context) ([]TicketKey, error)
	RetireTicketKey(ctx context.Context, kid string, at time.Time) error

	// InitMeta stores value under key unless a value is there already,
	// and returns the stored value.
	InitMeta(ctx context.Context, key string, value []byte) ([]byte, error)

	// Offers in flight to a host's control connection or a support
	// agent's wait connection, wherever (on which instance) it is.
	PutOffer(ctx context.Context, target string, payload []byte, expires time.Time) error
	// TakeOffers removes and returns the unexpired offers for target,
	// oldest first; of concurrent callers each offer goes to one.
	TakeOffers(ctx context.Context, target string, now time.Time) ([][]byte, error)
	// Notify tells every instance's Listen (this one's too) about
	// something on topic. Payloads are at most 4000 bytes.
	Notify(ctx context.Context, topic, payload string) error
	// Listen calls fn for each notification until ctx ends. After it
	// (re)connects, it calls fn(TopicResync, ""): notifications may have
	// been missed. fn runs on Listen's goroutine.
	Listen(ctx context.Context, fn func(topic, payload string)) error

	// Prune removes expired login sessions, enrollment codes, nameplates
	// and offers, ends sessions idle since before staleBefore, and removes
	// ticket keys retired before keyBefore.
	Prune(ctx context.Context, now, staleBefore, keyBefore time.Time) error

	Close() error
}

// TopicResync is the topic of the notification Listen delivers after it
// (re)connects.
const TopicResync = "resync"

// User is an account.
type User struct {
	ID           string
	Name         string // lowercase, unique
	Role         api.UserRole
	PasswordHash string // PHC string
	Disabled     bool
	TOTPSecret   []byte // sealed; nil: no second factor
	TOTPPending  []byte // sealed; a secret being set up, not yet confirmed
	TOTPStep     int64  // last accepted TOTP time step
	Created      time.Time
	LastLogin    time.Time
}

// AuthSession is a login session (console cookie or API token). Pending
// sessions have passed the password and wait for the second factor.
type AuthSession struct {
	TokenHash []byte // SHA-256 of the token
	UserID    string
	API       bool // a bearer token rather than a cookie
	Pending   bool
	Attempts  int
	Created   time.Time
	Seen      time.Time
	Expires   time.Time // absolute
	IP        string
	UserAgent string
}

// EnrollCode is a one-time host enrollment code.
type EnrollCode struct {
	ID        string // shown in lists, to revoke by
	Hash      []byte // SHA-256 of the normalised code
	OwnerID   string
	CreatedBy string
	Created   time.Time
	Expires   time.Time
}

// Host is an enrolled machine.
type Host struct {
	ID        string
	Name      string
	OS        string
	Version   string
	OwnerID   string
	OwnerName string // filled by reads
	DevicePub []byte // Ed25519, unique
	Enrolled  time.Time
	Instance  string    // broker instance holding its control connection
	ConnID    string    // "" when offline
	SeenAt    time.Time // last heartbeat or connection
	Users     []string  // names of users granted access, filled by reads
}

// OnlineWithin is how recently a connected host's instance must have
// refreshed its presence for the host to count as online.
const OnlineWithin = 90 * time.Second

// OnlineAt reports whether h is online at now.
func (h *Host) OnlineAt(now time.Time) bool {
	return h.ConnID != "" && now.Sub(h.SeenAt) < OnlineWithin
}

// Support is a support request behind a nameplate.
type Support struct {
	Nameplate    string
	SessionID    proto.SessionID
	HostID       string // the ephemeral host id of the support agent
	WaitHash     []byte // SHA-256 of the wait token
	Info         api.HostInfo
	IP           string
	Created      time.Time
	Expires      time.Time
	TechnicianID string // "" while pending
}

// Session is a session record.
type Session struct {
	ID            proto.SessionID
	Mode          proto.Mode
	HostID        string
	HostName      string
	ViewerID      string
	ViewerName    string
	Nameplate     string
	RefreshHash   []byte // SHA-256 of the host's refresh token
	Start         time.Time
	End           time.Time // zero while live
	BytesFromHost int64
	BytesToHost   int64
	EndReason     string
	Relays        []string
}

// SessionFilter selects session records, newest first.
type SessionFilter struct {
	UserID string // sessions where this user is the viewer or owns the host
	HostID string
	Live   bool
	Limit  int // 0: 100
}

// TicketKey is an Ed25519 ticket signing key. The broker signs with the
// newest key whose Activates has passed and that is not retired; it
// publishes every key not retired for longer than a ticket lives, so
// relays learn a key before its first ticket and keep it until its last
// ticket expired.
type TicketKey struct {
	KID       string
	Public    []byte
	Private   []byte // sealed seed
	Created   time.Time
	Activates time.Time
	Retired   time.Time // zero: not retired
}
