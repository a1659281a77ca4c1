package api

import (
	"crypto/ed25519"
	"time"

	"github.com/deskway/deskway/proto"
)

// Prefix is the path under which the broker serves this API.
const Prefix = "/api/v1"

// UserRole is what an account may do. Admins manage users, hosts, relays
// and read the audit log; technicians also join support sessions; users
// reach the hosts they own or were given.
type UserRole string

const (
	RoleAdmin      UserRole = "admin"
	RoleTechnician UserRole = "technician"
	RoleUser       UserRole = "user"
)

// Valid reports whether r is one of the three roles.
func (r UserRole) Valid() bool { return r == RoleAdmin || r == RoleTechnician || r == RoleUser }

// CanSupport reports whether the role may join support sessions.
func (r UserRole) CanSupport() bool { return r == RoleAdmin || r == RoleTechnician }

// User is an account as the API shows it (never its password hash or TOTP
// secret).
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      UserRole  `json:"role"`
	TOTP      bool      `json:"totp"`     // a second factor is set up
	Disabled  bool      `json:"disabled"` // may not sign in
	Created   time.Time `json:"created"`
	LastLogin time.Time `json:"last_login,omitzero"`
}

// LoginRequest is the body of POST /api/v1/login. TOTP is the current
// six-digit code when the account has a second factor; RecoveryCode may
// stand in for it once per code.
type LoginRequest struct {
	Name         string `json:"name"`
	Password     string `json:"password"`
	TOTP         string `json:"totp,omitempty"`
	RecoveryCode string `json:"recovery_code,omitempty"`
}

// LoginResponse carries a bearer token for the API. The token is secret;
// the broker keeps only its hash.
type LoginResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"` // absolute expiry; idle expiry comes sooner
	User    User      `json:"user"`
}

// CreateUserRequest is the body of POST /api/v1/users (admins).
type CreateUserRequest struct {
	Name     string   `json:"name"`
	Role     UserRole `json:"role"`
	Password string   `json:"password"`
}

// UpdateUserRequest is the body of PATCH /api/v1/users/{id} (admins). Nil
// fields are left as they are. Disabling a user or changing their password
// ends their sessions.
type UpdateUserRequest struct {
	Role      *UserRole `json:"role,omitempty"`
	Disabled  *bool     `json:"disabled,omitempty"`
	Password  *string   `json:"password,omitempty"`
	ResetTOTP bool      `json:"reset_totp,omitempty"`
}

// HostInfo is what a host says about itself.
type HostInfo struct {
	Name    string `json:"name"`    // shown in the console; at most MaxHostNameLen bytes
	OS      string `json:"os"`      // e.g. "linux/amd64 Debian 13"
	Version string `json:"version"` // agent version
}

// Limits on what hosts and people send.
const (
	MaxHostNameLen = 128
	MaxOSLen       = 128
	MaxVersionLen  = 64
	MaxUserNameLen = 64
	MaxPasswordLen = 1024
	MaxRequestBody = 64 << 10 // bytes of any JSON request body
)

// Host is an enrolled machine as the API shows it.
type Host struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	OS        string    `json:"os"`
	Version   string    `json:"version"`
	OwnerID   string    `json:"owner_id"`
	OwnerName string    `json:"owner_name"`
	Online    bool      `json:"online"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Enrolled  time.Time `json:"enrolled"`
	// Users lists the names of the users other than the owner who may
	// reach the host.
	Users []string `json:"users,omitempty"`
}

// EnrollCodeRequest is the body of POST /api/v1/enroll-codes. Admins may
// make a code for another owner; everyone else makes codes for themselves.
type EnrollCodeRequest struct {
	OwnerID string `json:"owner_id,omitempty"`
}

// EnrollCode is a one-time enrollment code. The code is shown once; the
// broker keeps only its hash.
type EnrollCode struct {
	Code    string    `json:"code"`
	OwnerID string    `json:"owner_id"`
	Expires time.Time `json:"expires"`
}

// EnrollRequest is the body of POST /api/v1/enroll, sent by the agent.
// Proof is the device key's signature over EnrollProofMessage(Code,
// DevicePub): the agent shows it holds the key it enrolls.
type EnrollRequest struct {
	Code      string            `json:"code"`
	DevicePub ed25519.PublicKey `json:"device_pub"`
	Proof     []byte            `json:"proof"`
	HostInfo
}

// EnrollResponse names the new host and its owner.
type EnrollResponse struct {
	HostID  string `json:"host_id"`
	OwnerID string `json:"owner_id"`
}

// AccessRequest is the body of POST /api/v1/hosts/{id}/access: give the
// named user access to the host.
type AccessRequest struct {
	User string `json:"user"` // user name
}

// Pairing is the broker's answer to one end of a session: which session,
// which host, and the relay tickets for this end, best relay first. The
// viewer gets it from connect, join or a ticket refresh; the host gets it
// as an offer on its control or wait WebSocket.
type Pairing struct {
	SessionID proto.SessionID `json:"session_id"`
	HostID    string          `json:"host_id"`
	Mode      proto.Mode      `json:"mode"`
	Role      proto.Role      `json:"role"` // the end these tickets are for
	// Owner is, for unattended sessions, the host owner's user id: the
	// OPAQUE client identity both ends use.
	Owner string `json:"owner,omitempty"`
	// Viewer names the person on the viewer end, for the host's notice.
	Viewer  string        `json:"viewer,omitempty"`
	Tickets []RelayTicket `json:"tickets"`
	Expires time.Time     `json:"expires"` // the tickets' expiry
	// RefreshToken, given to the host only, lets it ask for fresh tickets
	// of this session with POST /api/v1/sessions/{id}/tickets.
	RefreshToken string `json:"refresh_token,omitempty"`
}

// SupportRequest is the body of POST /api/v1/support, sent by an agent
// that shares its screen for a support session. It needs no account.
type SupportRequest struct {
	HostInfo
}

// SupportResponse gives the agent its nameplate. The agent adds six
// secret digits of its own, which the broker never sees, and shows
// "NNN-SSS-SSS". WaitToken authenticates the agent on the wait WebSocket.
type SupportResponse struct {
	Nameplate string          `json:"nameplate"`
	SessionID proto.SessionID `json:"session_id"`
	HostID    string          `json:"host_id"`
	Expires   time.Time       `json:"expires"`
	WaitToken string          `json:"wait_token"`
}

// JoinRequest is the body of POST /api/v1/support/join: a technician
// joins the support session with this nameplate (only the nameplate: the
// secret digits stay in the viewer).
type JoinRequest struct {
	Nameplate string `json:"nameplate"`
}

// TicketsRequest is the body of POST /api/v1/sessions/{id}/tickets.
type TicketsRequest struct {
	Role proto.Role `json:"role"`
}

// Session is a session record.
type Session struct {
	ID         proto.SessionID `json:"id"`
	Mode       proto.Mode      `json:"mode"`
	HostID     string          `json:"host_id"`
	HostName   string          `json:"host_name"`
	ViewerID   string          `json:"viewer_id,omitempty"`
	ViewerName string          `json:"viewer_name,omitempty"`
	Nameplate  string          `json:"nameplate,omitempty"`
	Start      time.Time       `json:"start"`
	End        time.Time       `json:"end,omitzero"`
	Live       bool            `json:"live"`
	// Byte counts and end reason come from the relays' reports.
	BytesFromHost int64    `json:"bytes_from_host"`
	BytesToHost   int64    `json:"bytes_to_host"`
	EndReason     string   `json:"end_reason,omitempty"`
	Relays        []string `json:"relays,omitempty"`
}

// RelayStatus is one entry of the broker's relay registry.
type RelayStatus struct {
	ID       string    `json:"id"`
	URL      string    `json:"url"`
	Embedded bool      `json:"embedded"`
	Healthy  bool      `json:"healthy"`
	Checked  time.Time `json:"checked,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // user name, "host:<id>", "relay:<id>" or "-"
	Action string    `json:"action"` // e.g. "login", "user.create", "host.enroll", "session.start"
	Target string    `json:"target,omitempty"`
	IP     string    `json:"ip,omitempty"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
}
