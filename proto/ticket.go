package proto

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// TicketVersion is the version byte of the ticket layout that SignTicket
// writes and ParseTicket reads. See the package documentation, "Relay
// tickets".
const TicketVersion = 1

// ticketContext is signed in front of the payload so that a ticket
// signature can never be mistaken for a signature of anything else the
// broker's keys might sign.
const ticketContext = "dw-ticket-v1\x00"

// Errors of ParseTicket and VerifyTicket. The errors returned wrap exactly
// one of them with details, so errors.Is tells a relay which close code to
// send (docs/ARCHITECTURE.md, "Relay wire"): malformed, signature and
// unknown key → 4001, expired and not yet valid → 4002, audience → 4003.
var (
	ErrTicketMalformed   = errors.New("proto: ticket malformed")
	ErrTicketSignature   = errors.New("proto: ticket signature invalid")
	ErrTicketUnknownKey  = errors.New("proto: ticket signed by an unknown key")
	ErrTicketExpired     = errors.New("proto: ticket expired")
	ErrTicketNotYetValid = errors.New("proto: ticket not yet valid")
	ErrTicketAudience    = errors.New("proto: ticket not for this relay")
)

// TicketID names one ticket; a relay remembers the ids it accepted until
// their expiry so that each ticket is used once.
type TicketID [16]byte

// NewTicketID returns a random ticket id.
func NewTicketID() TicketID {
	var id TicketID
	rand.Read(id[:])
	return id
}

// String returns the id as 32 lowercase hex digits.
func (id TicketID) String() string { return hex.EncodeToString(id[:]) }

// RelayRef names one relay a ticket is good for: its id (the audience a
// relay checks) and its base URL (clients dial URL + "/v1/relay").
type RelayRef struct {
	ID  string
	URL string
}

// Ticket is a relay ticket: the broker's signed permission for one end of
// one session to use the listed relays for a short while. It authorises
// relay resources only; it carries no keys and the secure channel never
// trusts it (SECURITY.md §4.6).
//
// A Ticket is a plain value; it is not safe to change one while another
// goroutine reads it.
type Ticket struct {
	// Version and KeyID are set by ParseTicket and VerifyTicket; SignTicket
	// ignores them and writes TicketVersion and its kid argument.
	Version uint8
	KeyID   string

	ID      TicketID
	Session SessionID
	HostID  string
	Role    Role
	Mode    Mode
	// Relays lists the relays to try, best first. A relay accepts the
	// ticket only if its own id is in the list.
	Relays []RelayRef
	// IssuedAt ≤ NotBefore < Expiry, and Expiry − IssuedAt ≤
	// MaxTicketLifetime. The wire carries whole Unix seconds: SignTicket
	// drops fractions of a second, and the parsed times are in UTC.
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// MaxBytesPerSecond caps the rate the relay forwards for this end;
	// 0 means the relay's default.
	MaxBytesPerSecond uint64
}

// HasRelay reports whether the ticket lists a relay with the given id.
func (t *Ticket) HasRelay(id string) bool {
	return slices.ContainsFunc(t.Relays, func(r RelayRef) bool { return r.ID == id })
}

// LogValue implements slog.LogValuer with stable keys. A ticket's fields
// are not secret, and the signature (which alone would make it usable) is
// not part of a Ticket.
func (t *Ticket) LogValue() slog.Value {
	ids := make([]string, len(t.Relays))
	for i, r := range t.Relays {
		ids[i] = r.ID
	}
	return slog.GroupValue(
		slog.String("id", t.ID.String()),
		slog.String("kid", t.KeyID),
		slog.String("session", t.Session.String()),
		slog.String("host", t.HostID),
		slog.String("role", t.Role.String()),
		slog.String("mode", t.Mode.String()),
		slog.String("relays", strings.Join(ids, ",")),
		slog.Time("exp", t.Expiry),
	)
}

// maxTicketTime is the largest Unix time a ticket may carry
// (9999-12-31T23:59:59Z); it keeps the conversions to int64 exact.
const maxTicketTime = 253402300799

// validate checks every field of t (with kid as its key id) against the
// layout's rules and limits. SignTicket and ParseTicket share it, so a
// ticket parses if and only if it could have been signed.
func (t *Ticket) validate(kid string) error {
	if err := checkKeyID(kid); err != nil {
		return err
	}
	if err := checkID("host id", t.HostID); err != nil {
		return err
	}
	if t.Session.IsZero() {
		return errors.New("zero session id")
	}
	if t.Role != RoleHost && t.Role != RoleViewer {
		return fmt.Errorf("unknown role %d", t.Role)
	}
	if _, ok := modeNames[t.Mode]; !ok {
		return fmt.Errorf("unknown mode %d", t.Mode)
	}
	if len(t.Relays) == 0 || len(t.Relays) > MaxTicketRelays {
		return fmt.Errorf("relay count %d not in 1..%d", len(t.Relays), MaxTicketRelays)
	}
	for i, r := range t.Relays {
		if err := checkID("relay id", r.ID); err != nil {
			return fmt.Errorf("relay %d: %v", i, err)
		}
		if err := checkRelayURL(r.URL); err != nil {
			return fmt.Errorf("relay %d: %v", i, err)
		}
		for _, o := range t.Relays[:i] {
			if o.ID == r.ID {
				return fmt.Errorf("relay %d: duplicate relay id %q", i, r.ID)
			}
		}
	}
	iat, nbf, exp := t.IssuedAt.Unix(), t.NotBefore.Unix(), t.Expiry.Unix()
	for _, v := range []struct {
		name string
		t    time.Time
	}{{"issued-at", t.IssuedAt}, {"not-before", t.NotBefore}, {"expiry", t.Expiry}} {
		if s := v.t.Unix(); v.t.IsZero() || s < 0 || s > maxTicketTime {
			return fmt.Errorf("%s %v out of range", v.name, v.t)
		}
	}
	switch {
	case nbf < iat:
		return fmt.Errorf("not-before %d before issued-at %d", nbf, iat)
	case exp <= nbf:
		return fmt.Errorf("expiry %d not after not-before %d", exp, nbf)
	case exp-iat > int64(MaxTicketLifetime/time.Second):
		return fmt.Errorf("lifetime %ds exceeds %v", exp-iat, MaxTicketLifetime)
	}
	return nil
}

// checkID checks an id: 1 to MaxTicketIDLen bytes of printable ASCII
// without spaces.
func checkID(what, s string) error {
	if len(s) == 0 || len(s) > MaxTicketIDLen {
		return fmt.Errorf("%s length %d not in 1..%d", what, len(s), MaxTicketIDLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("%s %q: byte 0x%02x not printable ASCII", what, s, s[i])
		}
	}
	return nil
}

// checkKeyID checks a key id: an id that is also a single word of the
// ticket-key text format (no '#').
func checkKeyID(kid string) error {
	if err := checkID("key id", kid); err != nil {
		return err
	}
	if strings.ContainsRune(kid, '#') {
		return fmt.Errorf("key id %q contains '#'", kid)
	}
	return nil
}

// checkRelayURL checks a relay's base URL: absolute http(s) or ws(s) with
// a host, printable ASCII, at most MaxTicketURLLen bytes.
func checkRelayURL(s string) error {
	if len(s) == 0 || len(s) > MaxTicketURLLen {
		return fmt.Errorf("url length %d not in 1..%d", len(s), MaxTicketURLLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("url: byte 0x%02x not printable ASCII", s[i])
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("url %q: %v", s, err)
	}
	switch u.Scheme {
	case "https", "wss", "http", "ws":
	default:
		return fmt.Errorf("url %q: scheme %q is not http(s) or ws(s)", s, u.Scheme)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return fmt.Errorf("url %q: want scheme://host[:port][/path]", s)
	}
	return nil
}

// SignTicket checks t's fields and returns the ticket signed with key
// under the key id kid. t.Version and t.KeyID are ignored.
func SignTicket(t *Ticket, kid string, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("proto: sign ticket: private key length %d, want %d", len(key), ed25519.PrivateKeySize)
	}
	if err := t.validate(kid); err != nil {
		return nil, fmt.Errorf("proto: sign ticket: %v", err)
	}
	payload, err := t.marshalPayload(kid)
	if err != nil {
		return nil, fmt.Errorf("proto: sign ticket: %v", err)
	}
	b, err := signTicketPayload(payload, key)
	if err != nil {
		return nil, fmt.Errorf("proto: sign ticket: %v", err)
	}
	return b, nil
}

// signTicketPayload frames and signs a payload. Tests use it to sign
// payloads that SignTicket would refuse.
func signTicketPayload(payload []byte, key ed25519.PrivateKey) ([]byte, error) {
	msg := append([]byte(ticketContext), payload...)
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(payload) })
	b.AddBytes(ed25519.Sign(key, msg))
	out, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	if len(out) > MaxTicketSize {
		return nil, fmt.Errorf("ticket size %d exceeds %d", len(out), MaxTicketSize)
	}
	return out, nil
}

// marshalPayload writes the signed part of a ticket; the layout is in the
// package documentation.
func (t *Ticket) marshalPayload(kid string) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 256))
	b.AddUint8(TicketVersion)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(kid)) })
	b.AddBytes(t.ID[:])
	b.AddBytes(t.Session[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(t.HostID)) })
	b.AddUint8(uint8(t.Role))
	b.AddUint8(uint8(t.Mode))
	b.AddUint8(uint8(len(t.Relays)))
	for _, r := range t.Relays {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.ID)) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.URL)) })
	}
	b.AddUint64(uint64(t.IssuedAt.Unix()))
	b.AddUint64(uint64(t.NotBefore.Unix()))
	b.AddUint64(uint64(t.Expiry.Unix()))
	b.AddUint64(t.MaxBytesPerSecond)
	return b.Bytes()
}

// splitTicket separates a ticket into its payload and signature and
// parses the payload.
func splitTicket(b []byte) (t *Ticket, payload, sig []byte, err error) {
	if len(b) > MaxTicketSize {
		return nil, nil, nil, fmt.Errorf("%w: size %d exceeds %d", ErrTicketMalformed, len(b), MaxTicketSize)
	}
	s := cryptobyte.String(b)
	var p cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&p) || !s.ReadBytes(&sig, ed25519.SignatureSize) {
		return nil, nil, nil, fmt.Errorf("%w: truncated", ErrTicketMalformed)
	}
	if !s.Empty() {
		return nil, nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrTicketMalformed, len(s))
	}
	t, err = parseTicketPayload(p)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTicketMalformed, err)
	}
	return t, p, sig, nil
}

func parseTicketPayload(s cryptobyte.String) (*Ticket, error) {
	t := new(Ticket)
	var kid, host cryptobyte.String
	var role, mode, n uint8
	if !s.ReadUint8(&t.Version) {
		return nil, errors.New("truncated")
	}
	if t.Version != TicketVersion {
		return nil, fmt.Errorf("version %d, want %d", t.Version, TicketVersion)
	}
	if !s.ReadUint8LengthPrefixed(&kid) ||
		!s.CopyBytes(t.ID[:]) ||
		!s.CopyBytes(t.Session[:]) ||
		!s.ReadUint8LengthPrefixed(&host) ||
		!s.ReadUint8(&role) ||
		!s.ReadUint8(&mode) ||
		!s.ReadUint8(&n) {
		return nil, errors.New("truncated")
	}
	if n == 0 || n > MaxTicketRelays {
		return nil, fmt.Errorf("relay count %d not in 1..%d", n, MaxTicketRelays)
	}
	t.KeyID, t.HostID, t.Role, t.Mode = string(kid), string(host), Role(role), Mode(mode)
	t.Relays = make([]RelayRef, n)
	for i := range t.Relays {
		var id, u cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&id) || !s.ReadUint16LengthPrefixed(&u) {
			return nil, errors.New("truncated")
		}
		if len(u) > MaxTicketURLLen {
			return nil, fmt.Errorf("relay %d: url length %d exceeds %d", i, len(u), MaxTicketURLLen)
		}
		t.Relays[i] = RelayRef{ID: string(id), URL: string(u)}
	}
	var times [3]uint64
	for i := range times {
		if !s.ReadUint64(&times[i]) {
			return nil, errors.New("truncated")
		}
		if times[i] > maxTicketTime {
			return nil, fmt.Errorf("time %d out of range", times[i])
		}
	}
	if !s.ReadUint64(&t.MaxBytesPerSecond) {
		return nil, errors.New("truncated")
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%d trailing bytes", len(s))
	}
	t.IssuedAt = time.Unix(int64(times[0]), 0).UTC()
	t.NotBefore = time.Unix(int64(times[1]), 0).UTC()
	t.Expiry = time.Unix(int64(times[2]), 0).UTC()
	if err := t.validate(t.KeyID); err != nil {
		return nil, err
	}
	return t, nil
}

// ParseTicket decodes a ticket's fields without checking its signature,
// validity period or audience: for logging and diagnostics only. Never
// act on what it returns; use VerifyTicket. Errors wrap
// ErrTicketMalformed.
func ParseTicket(b []byte) (*Ticket, error) {
	t, _, _, err := splitTicket(b)
	return t, err
}

// VerifyTicket decodes a ticket and checks, in this order, its structure,
// that its key id is in keys, its Ed25519 signature, that now is within
// its validity period widened by TicketClockSkew on both sides, and that
// relayID is one of its relays. The error wraps the ErrTicket… sentinel of
// the first check that failed. Single use (a cache of ticket ids until
// their expiry) is the relay's job.
func VerifyTicket(b []byte, keys TicketKeys, relayID string, now time.Time) (*Ticket, error) {
	t, payload, sig, err := splitTicket(b)
	if err != nil {
		return nil, err
	}
	pub, ok := keys[t.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: kid %q", ErrTicketUnknownKey, t.KeyID)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: kid %q: public key length %d, want %d", ErrTicketUnknownKey, t.KeyID, len(pub), ed25519.PublicKeySize)
	}
	var buf [len(ticketContext) + MaxTicketSize]byte
	msg := append(append(buf[:0], ticketContext...), payload...)
	if !ed25519.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("%w: kid %q", ErrTicketSignature, t.KeyID)
	}
	if from := t.NotBefore.Add(-TicketClockSkew); now.Before(from) {
		return nil, fmt.Errorf("%w: valid from %v (not-before − %v), now %v", ErrTicketNotYetValid, from, TicketClockSkew, now.UTC())
	}
	if until := t.Expiry.Add(TicketClockSkew); !now.Before(until) {
		return nil, fmt.Errorf("%w: valid until %v (expiry + %v), now %v", ErrTicketExpired, until, TicketClockSkew, now.UTC())
	}
	if !t.HasRelay(relayID) {
		return nil, fmt.Errorf("%w: relay %q not in ticket %v", ErrTicketAudience, relayID, t.ID)
	}
	return t, nil
}

// TicketKeys maps key ids to the broker's Ed25519 ticket public keys. A
// relay holds every key the broker may currently sign with, so that the
// broker can rotate keys: sign with a new kid once relays know it, drop
// the old kid after its last ticket expired.
//
// VerifyTicket only reads the map, so any number of goroutines may verify
// with one TicketKeys; to change the keys, build a new map and swap it in
// (e.g. with an atomic.Pointer) rather than editing one in use.
type TicketKeys map[string]ed25519.PublicKey

// ParseTicketKeys parses the text format of ticket public keys: one key a
// line, "kid base64url(public key)" separated by blanks; '#' starts a
// comment to the end of the line; blank lines are ignored. Base64url may
// be padded or not. A list without keys, a duplicate kid and more than
// MaxTicketKeys keys are errors.
func ParseTicketKeys(text string) (TicketKeys, error) {
	if len(text) > MaxTicketKeysText {
		return nil, fmt.Errorf("proto: ticket keys: size %d exceeds %d", len(text), MaxTicketKeysText)
	}
	if !utf8.ValidString(text) {
		return nil, errors.New("proto: ticket keys: not UTF-8")
	}
	keys := make(TicketKeys)
	for i, line := range strings.Split(text, "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("proto: ticket keys: line %d: %d fields, want \"kid key\"", i+1, len(f))
		}
		kid, enc := f[0], strings.TrimRight(f[1], "=")
		if err := checkKeyID(kid); err != nil {
			return nil, fmt.Errorf("proto: ticket keys: line %d: %v", i+1, err)
		}
		if _, dup := keys[kid]; dup {
			return nil, fmt.Errorf("proto: ticket keys: line %d: duplicate key id %q", i+1, kid)
		}
		if len(keys) == MaxTicketKeys {
			return nil, fmt.Errorf("proto: ticket keys: line %d: more than %d keys", i+1, MaxTicketKeys)
		}
		if base64.RawURLEncoding.DecodedLen(len(enc)) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("proto: ticket keys: line %d: key %q is not %d bytes of base64url", i+1, kid, ed25519.PublicKeySize)
		}
		pub, err := base64.RawURLEncoding.Strict().DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("proto: ticket keys: line %d: key %q: %v", i+1, kid, err)
		}
		keys[kid] = ed25519.PublicKey(pub)
	}
	if len(keys) == 0 {
		return nil, errors.New("proto: ticket keys: no keys")
	}
	return keys, nil
}

// FormatTicketKeys writes keys in the text format of ParseTicketKeys,
// sorted by key id, unpadded base64url. Keys with an invalid kid or a
// public key of the wrong length are left out, since ParseTicketKeys
// would refuse them.
func FormatTicketKeys(keys TicketKeys) string {
	var sb strings.Builder
	for _, kid := range slices.Sorted(maps.Keys(keys)) {
		pub := keys[kid]
		if checkKeyID(kid) != nil || len(pub) != ed25519.PublicKeySize {
			continue
		}
		sb.WriteString(kid)
		sb.WriteByte(' ')
		sb.WriteString(base64.RawURLEncoding.EncodeToString(pub))
		sb.WriteByte('\n')
	}
	return sb.String()
}
