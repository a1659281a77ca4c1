package proto

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// SessionID names one session, chosen by the broker at pairing time. It is
// public: it is the CPace sid, it is in the Noise prologue and in every
// relay ticket of the session, which binds all of them together.
type SessionID [16]byte

// NewSessionID returns a random session id.
func NewSessionID() SessionID {
	var id SessionID
	rand.Read(id[:])
	return id
}

// String returns the id as 32 lowercase hex digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id (no session).
func (id SessionID) IsZero() bool { return id == SessionID{} }

// ParseSessionID parses the 32 hex digits made by String.
func ParseSessionID(s string) (SessionID, error) {
	var id SessionID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("proto: session id %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("proto: session id %q: %v", s, err)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler (JSON as a hex string).
func (id SessionID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *SessionID) UnmarshalText(b []byte) error {
	v, err := ParseSessionID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Mode is the kind of session.
type Mode uint8

const (
	ModeSupport      Mode = 1 // one-time support code, CPace, customer consents
	ModeUnattended   Mode = 2 // the owner reaches their host, OPAQUE on the host access password
	ModePresentation Mode = 3 // one host, N viewers
)

var modeNames = map[Mode]string{
	ModeSupport:      "support",
	ModeUnattended:   "unattended",
	ModePresentation: "presentation",
}

func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses a mode name made by String.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if name == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("proto: unknown session mode %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) {
	if _, ok := modeNames[m]; !ok {
		return nil, fmt.Errorf("proto: invalid mode %d", uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	*m = v
	return err
}

// Role is which end of a session a party is.
type Role uint8

const (
	RoleHost   Role = 1 // the agent whose screen is shared
	RoleViewer Role = 2 // a viewer (native or browser)
)

func (r Role) String() string {
	switch r {
	case RoleHost:
		return "host"
	case RoleViewer:
		return "viewer"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole parses a role name made by String.
func ParseRole(s string) (Role, error) {
	switch s {
	case "host":
		return RoleHost, nil
	case "viewer":
		return RoleViewer, nil
	}
	return 0, fmt.Errorf("proto: unknown role %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) {
	if r != RoleHost && r != RoleViewer {
		return nil, fmt.Errorf("proto: invalid role %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}
