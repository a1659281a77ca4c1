package proto

// OPAQUE (RFC 9807) for unattended access (SECURITY.md §4.2b), through
// github.com/bytemare/opaque v0.18.0 with DefaultConfiguration():
// OPRF and AKE on ristretto255/SHA-512, KDF/MAC/Hash SHA-512, KSF
// Argon2id t=3, m=64 MiB, p=4.
//
// Registration happens entirely on the host: the teleworker types the host
// access password into the agent, and RegisterHostPassword runs the client
// and the server halves in one process. The host keeps only the
// HostPasswordRecord (the RFC's registration record, the OPRF seed and the
// AKE key pair); the password never leaves the process and is never
// stored. Server identity = host_id, client identity = owner id, so the
// broker cannot route the owner to another host of the same owner: the
// viewer's envelope only opens with the host_id it asked for.
//
// Login (handshake.go): V→H KE1; H→V KE2; V→H KE3 ‖ Noise msg1. The
// OPAQUE session secret becomes the Noise psk; the host verifies KE3 and
// the first Noise message before it trusts anything.
//
// Every random input of the library (blinds, key shares, nonces, the
// masking nonce) is drawn from the configured io.Reader and passed in
// through the library's options, so golden transcripts are deterministic.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bytemare/ecc"
	"github.com/bytemare/opaque"
	"github.com/bytemare/opaque/message"
)

const (
	opaqueSuiteName = "OPAQUE-3DH-RISTR255-SHA512-ARGON2ID"
	// opaqueConfigDefault identifies DefaultConfiguration with the KSF's
	// default parameters in the record encoding.
	opaqueConfigDefault = 1

	opaqueScalarLen   = 32
	opaqueElementLen  = 32
	opaqueSeedLen     = 64  // OPRF seed: Nh
	opaqueRecordLen   = 192 // RegistrationRecord: Npk + Nh + Nn + Nm
	opaqueNonceLen    = 32
	opaqueKeyShareLen = 32 // seed for a derived AKE key share
	opaqueKE1Len      = 96
	opaqueKE2Len      = 320
	opaqueKE3Len      = 64

	// MaxHostPasswordRecordSize bounds an encoded HostPasswordRecord.
	MaxHostPasswordRecordSize = 1024
	// MaxIdentityLen bounds host_id and owner id in bytes.
	MaxIdentityLen = 256
	// MaxPasswordLen bounds a host access password in bytes.
	MaxPasswordLen = 1024
	// MinPasswordLen is the minimum length in characters of a password
	// that is not a passphrase (SECURITY.md §4.2b).
	MinPasswordLen = 12
	// MinPassphraseWords is the number of distinct words of at least
	// three letters that make a passphrase acceptable at any length.
	MinPassphraseWords = 4

	hostRecordMagic = "dwhp"
)

// ErrWeakPassword is returned (wrapped in a *PasswordError) by
// CheckHostPassword and RegisterHostPassword.
var ErrWeakPassword = errors.New("proto: host access password too weak")

// ErrHostRecord is returned (wrapped) for a malformed HostPasswordRecord.
var ErrHostRecord = errors.New("proto: malformed host password record")

// PasswordError says why a password was refused.
type PasswordError struct {
	Reason string
}

func (e *PasswordError) Error() string { return ErrWeakPassword.Error() + ": " + e.Reason }

// Unwrap returns ErrWeakPassword.
func (e *PasswordError) Unwrap() error { return ErrWeakPassword }

// opaqueConfig returns the one configuration dw/1 uses.
func opaqueConfig() *opaque.Configuration { return opaque.DefaultConfiguration() }

// HostPasswordRecord is everything the host stores for unattended access:
// the OPAQUE registration record (192 bytes), the OPRF seed, the AKE key
// pair, and the identities it was registered for. It holds secrets (the
// AKE private key and the OPRF seed: whoever has them can impersonate this
// host, and can run an offline dictionary attack at Argon2id cost), so
// store it like hostStatic (SECURITY.md §4.2b). It is not comparable and
// logs show only the identities. It is immutable and safe for concurrent
// use.
type HostPasswordRecord struct {
	_        [0]func()
	hostID   string
	ownerID  string
	akePriv  [opaqueScalarLen]byte
	akePub   [opaqueElementLen]byte
	oprfSeed [opaqueSeedLen]byte
	record   [opaqueRecordLen]byte
}

// HostID returns the host_id the record was registered for (the OPAQUE
// server identity).
func (r *HostPasswordRecord) HostID() string { return r.hostID }

// OwnerID returns the owner id (the OPAQUE client identity).
func (r *HostPasswordRecord) OwnerID() string { return r.ownerID }

// LogValue prints the identities only.
func (r *HostPasswordRecord) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host_id", r.hostID), slog.String("owner", r.ownerID))
}

// RegisterHostPassword registers a host access password on the host: it
// checks the password against CheckHostPassword, then runs both halves of
// OPAQUE registration (RFC 9807 §5) in this process with server identity
// hostID and client identity ownerID. r supplies all randomness (nil
// means crypto/rand). It costs one Argon2id (t=3, m=64 MiB, p=4).
func RegisterHostPassword(hostID, ownerID string, password []byte, r io.Reader) (*HostPasswordRecord, error) {
	if err := checkIdentity("host id", hostID); err != nil {
		return nil, err
	}
	if err := checkIdentity("owner id", ownerID); err != nil {
		return nil, err
	}
	if !utf8.Valid(password) {
		return nil, &PasswordError{Reason: "not valid UTF-8"}
	}
	if err := CheckHostPassword(string(password)); err != nil {
		return nil, err
	}
	r = randOrDefault(r)
	conf := opaqueConfig()
	g := ecc.Group(conf.AKE)

	rec := &HostPasswordRecord{hostID: hostID, ownerID: ownerID}
	sk, err := opaqueRandomScalar(r, g)
	if err != nil {
		return nil, err
	}
	copy(rec.akePriv[:], sk.Encode())
	copy(rec.akePub[:], g.Base().Multiply(sk).Encode())
	if _, err := io.ReadFull(r, rec.oprfSeed[:]); err != nil {
		return nil, fmt.Errorf("proto: register password: %w", err)
	}
	blind, err := opaqueRandomScalar(r, ecc.Group(conf.OPRF))
	if err != nil {
		return nil, err
	}
	envNonce := make([]byte, opaqueNonceLen)
	if _, err := io.ReadFull(r, envNonce); err != nil {
		return nil, fmt.Errorf("proto: register password: %w", err)
	}

	client, err := conf.Client()
	if err != nil {
		return nil, fmt.Errorf("proto: register password: %w", err)
	}
	defer client.ClearState()
	server, err := rec.server()
	if err != nil {
		return nil, err
	}
	req, err := client.RegistrationInit(password, &opaque.ClientOptions{OPRFBlind: blind})
	if err != nil {
		return nil, fmt.Errorf("proto: register password: %w", err)
	}
	resp, err := server.RegistrationResponse(req, rec.credentialID(), nil)
	if err != nil {
		return nil, fmt.Errorf("proto: register password: %w", err)
	}
	upload, exportKey, err := client.RegistrationFinalize(resp, []byte(ownerID), []byte(hostID),
		&opaque.ClientOptions{RegistrationEnvelopeNonce: envNonce})
	if err != nil {
		return nil, fmt.Errorf("proto: register password: %w", err)
	}
	clear(exportKey)
	b := upload.Serialize()
	if len(b) != opaqueRecordLen {
		return nil, fmt.Errorf("proto: register password: record is %d bytes, want %d", len(b), opaqueRecordLen)
	}
	copy(rec.record[:], b)
	return rec, nil
}

// credentialID is the OPAQUE credential identifier: stable for the
// record's lifetime and unique per (host, owner).
func (r *HostPasswordRecord) credentialID() []byte {
	return lvCat([]byte("dw/1 unattended"), []byte(r.hostID), []byte(r.ownerID))
}

// server returns an OPAQUE server holding the record's key material.
func (r *HostPasswordRecord) server() (*opaque.Server, error) {
	conf := opaqueConfig()
	server, err := conf.Server()
	if err != nil {
		return nil, fmt.Errorf("proto: opaque server: %w", err)
	}
	sk, err := server.Deserialize.DecodePrivateKey(r.akePriv[:])
	if err != nil {
		return nil, fmt.Errorf("%w: AKE private key: %v", ErrHostRecord, err)
	}
	if err := server.SetKeyMaterial(&opaque.ServerKeyMaterial{
		PrivateKey:     sk,
		PublicKeyBytes: bytes.Clone(r.akePub[:]),
		OPRFGlobalSeed: bytes.Clone(r.oprfSeed[:]),
		Identity:       []byte(r.hostID),
	}); err != nil {
		return nil, fmt.Errorf("%w: key material: %v", ErrHostRecord, err)
	}
	return server, nil
}

// clientRecord returns the library's view of the stored record.
func (r *HostPasswordRecord) clientRecord(server *opaque.Server) (*opaque.ClientRecord, error) {
	reg, err := server.Deserialize.RegistrationRecord(r.record[:])
	if err != nil {
		return nil, fmt.Errorf("%w: registration record: %v", ErrHostRecord, err)
	}
	return &opaque.ClientRecord{
		RegistrationRecord:   reg,
		CredentialIdentifier: r.credentialID(),
		ClientIdentity:       []byte(r.ownerID),
	}, nil
}

// MarshalBinary encodes the record:
//
//	"dwhp" | version u8 = 1 | config u8 = 1 |
//	lv_cat(host_id, owner_id, ake_priv[32], ake_pub[32], oprf_seed[64], record[192])
func (r *HostPasswordRecord) MarshalBinary() ([]byte, error) {
	body := lvCat([]byte(r.hostID), []byte(r.ownerID), r.akePriv[:], r.akePub[:], r.oprfSeed[:], r.record[:])
	out := make([]byte, 0, len(hostRecordMagic)+2+len(body))
	out = append(out, hostRecordMagic...)
	out = append(out, 1, opaqueConfigDefault)
	return append(out, body...), nil
}

// ParseHostPasswordRecord decodes and validates what MarshalBinary made:
// size limit first, then the structure, then every key (the AKE public
// key must match the private key, the registration record must decode).
func ParseHostPasswordRecord(b []byte) (*HostPasswordRecord, error) {
	if len(b) > MaxHostPasswordRecordSize {
		return nil, fmt.Errorf("%w: %d bytes exceed limit %d", ErrHostRecord, len(b), MaxHostPasswordRecordSize)
	}
	if len(b) < len(hostRecordMagic)+2 || string(b[:len(hostRecordMagic)]) != hostRecordMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrHostRecord)
	}
	if v := b[4]; v != 1 {
		return nil, fmt.Errorf("%w: version %d, want 1", ErrHostRecord, v)
	}
	if c := b[5]; c != opaqueConfigDefault {
		return nil, fmt.Errorf("%w: configuration %d, want %d", ErrHostRecord, c, opaqueConfigDefault)
	}
	f, err := lvSplit(b[6:], 6, MaxIdentityLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHostRecord, err)
	}
	rec := &HostPasswordRecord{hostID: string(f[0]), ownerID: string(f[1])}
	if err := checkIdentity("host id", rec.hostID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHostRecord, err)
	}
	if err := checkIdentity("owner id", rec.ownerID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHostRecord, err)
	}
	for i, want := range []int{2: opaqueScalarLen, 3: opaqueElementLen, 4: opaqueSeedLen, 5: opaqueRecordLen} {
		if i >= 2 && len(f[i]) != want {
			return nil, fmt.Errorf("%w: field %d is %d bytes, want %d", ErrHostRecord, i, len(f[i]), want)
		}
	}
	copy(rec.akePriv[:], f[2])
	copy(rec.akePub[:], f[3])
	copy(rec.oprfSeed[:], f[4])
	copy(rec.record[:], f[5])
	server, err := rec.server() // checks pub == priv·G and the seed
	if err != nil {
		return nil, err
	}
	if _, err := rec.clientRecord(server); err != nil {
		return nil, err
	}
	return rec, nil
}

func checkIdentity(what, s string) error {
	if s == "" || len(s) > MaxIdentityLen || !utf8.ValidString(s) {
		return fmt.Errorf("proto: %s: want 1 to %d bytes of UTF-8", what, MaxIdentityLen)
	}
	return nil
}

// opaqueRandomScalar draws a non-zero canonical scalar of g from r (32
// bytes with the top 4 bits cleared, so always below the group order).
func opaqueRandomScalar(r io.Reader, g ecc.Group) (*ecc.Scalar, error) {
	var b [opaqueScalarLen]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("proto: opaque: random scalar: %w", err)
		}
		b[31] &= 0x0f
		s := g.NewScalar()
		err := s.Decode(b[:])
		clear(b[:])
		if err != nil {
			return nil, fmt.Errorf("proto: opaque: random scalar: %w", err)
		}
		if !s.IsZero() {
			return s, nil
		}
	}
}

// opaqueClientState is the viewer's login in progress.
type opaqueClientState struct {
	_ [0]func()
	c *opaque.Client
}

// newOpaqueClientState starts a login as the viewer: it returns the
// client state and KE1.
func newOpaqueClientState(r io.Reader, password []byte) (*opaqueClientState, []byte, error) {
	conf := opaqueConfig()
	client, err := conf.Client()
	if err != nil {
		return nil, nil, fmt.Errorf("proto: opaque client: %w", err)
	}
	blind, err := opaqueRandomScalar(r, ecc.Group(conf.OPRF))
	if err != nil {
		return nil, nil, err
	}
	seed := make([]byte, opaqueKeyShareLen)
	nonce := make([]byte, opaqueNonceLen)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, nil, fmt.Errorf("proto: opaque client: %w", err)
	}
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, nil, fmt.Errorf("proto: opaque client: %w", err)
	}
	ke1, err := client.GenerateKE1(password, &opaque.ClientOptions{
		OPRFBlind: blind,
		AKE:       &opaque.AKEOptions{SecretKeyShareSeed: seed, Nonce: nonce},
	})
	clear(seed)
	if err != nil {
		client.ClearState()
		return nil, nil, fmt.Errorf("proto: opaque KE1: %w", err)
	}
	return &opaqueClientState{c: client}, ke1.Serialize(), nil
}

func (s *opaqueClientState) wipe() { s.c.ClearState() }

// finish processes KE2 with the identities the viewer expects and returns
// KE3 and the session secret. A wrong password, a wrong host (server
// identity) or a tampered KE2 all give ErrAuthFailed.
func (s *opaqueClientState) finish(ke2b []byte, ownerID, hostID string) ([]byte, pakeKey, error) {
	client := s.c
	defer client.ClearState()
	ke2, err := opaqueDecodeKE2(client.Deserialize, ke2b)
	if err != nil {
		return nil, pakeKey{}, err
	}
	ke3, session, export, err := client.GenerateKE3(ke2, []byte(ownerID), []byte(hostID))
	if err != nil {
		return nil, pakeKey{}, fmt.Errorf("%w: opaque: %v", ErrAuthFailed, err)
	}
	clear(export)
	var k pakeKey
	if len(session) != len(k.k) {
		return nil, pakeKey{}, fmt.Errorf("proto: opaque: session secret is %d bytes", len(session))
	}
	copy(k.k[:], session)
	clear(session)
	return ke3.Serialize(), k, nil
}

// opaqueServerLogin is the host's pending login after KE2.
type opaqueServerLogin struct {
	_         [0]func()
	server    *opaque.Server
	clientMAC []byte
	session   pakeKey
}

// opaqueServerRespond answers KE1 with KE2 (RFC 9807 §6.3.2).
func opaqueServerRespond(r io.Reader, rec *HostPasswordRecord, ke1b []byte) (*opaqueServerLogin, []byte, error) {
	server, err := rec.server()
	if err != nil {
		return nil, nil, err
	}
	ke1, err := opaqueDecodeKE1(server.Deserialize, ke1b)
	if err != nil {
		return nil, nil, err
	}
	cr, err := rec.clientRecord(server)
	if err != nil {
		return nil, nil, err
	}
	masking := make([]byte, opaqueNonceLen)
	seed := make([]byte, opaqueKeyShareLen)
	nonce := make([]byte, opaqueNonceLen)
	for _, b := range [][]byte{masking, seed, nonce} {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, nil, fmt.Errorf("proto: opaque KE2: %w", err)
		}
	}
	ke2, out, err := server.GenerateKE2(ke1, cr, &opaque.ServerOptions{
		MaskingNonce: masking,
		AKE:          &opaque.AKEOptions{SecretKeyShareSeed: seed, Nonce: nonce},
	})
	clear(seed)
	if err != nil {
		return nil, nil, fmt.Errorf("proto: opaque KE2: %w", err)
	}
	l := &opaqueServerLogin{server: server, clientMAC: out.ClientMAC}
	copy(l.session.k[:], out.SessionSecret)
	clear(out.SessionSecret)
	return l, ke2.Serialize(), nil
}

// finish verifies KE3 (the client's key confirmation) and returns the
// session secret.
func (l *opaqueServerLogin) finish(ke3b []byte) (pakeKey, error) {
	ke3, err := opaqueDecodeKE3(l.server.Deserialize, ke3b)
	if err != nil {
		return pakeKey{}, err
	}
	if err := l.server.LoginFinish(ke3, l.clientMAC); err != nil {
		return pakeKey{}, fmt.Errorf("%w: opaque KE3: %v", ErrAuthFailed, err)
	}
	return l.session, nil
}

func (l *opaqueServerLogin) wipe() {
	l.session.wipe()
	clear(l.clientMAC)
}

// The message decoders check the exact length before the library sees the
// bytes; the library then checks every element and nonce.

func opaqueDecodeKE1(d *opaque.Deserializer, b []byte) (*message.KE1, error) {
	return opaqueDecode("KE1", b, opaqueKE1Len, d.KE1)
}

func opaqueDecodeKE2(d *opaque.Deserializer, b []byte) (*message.KE2, error) {
	return opaqueDecode("KE2", b, opaqueKE2Len, d.KE2)
}

func opaqueDecodeKE3(d *opaque.Deserializer, b []byte) (*message.KE3, error) {
	return opaqueDecode("KE3", b, opaqueKE3Len, d.KE3)
}

func opaqueDecode[M any](what string, b []byte, want int, decode func([]byte) (M, error)) (M, error) {
	var zero M
	if len(b) != want {
		return zero, fmt.Errorf("%w: opaque %s is %d bytes, want %d", ErrHandshakeMalformed, what, len(b), want)
	}
	m, err := decode(b)
	if err != nil {
		return zero, fmt.Errorf("%w: opaque %s: %v", ErrHandshakeMalformed, what, err)
	}
	return m, nil
}

// CheckHostPassword enforces the minimum policy for a host access password
// (SECURITY.md §4.2b): at least 12 characters, or a passphrase of at least
// 4 distinct words of 3 or more letters; and, zxcvbn-style, not mostly
// made of repeats, sequences, keyboard runs or a common password. It
// returns a *PasswordError (errors.Is ErrWeakPassword) that says why.
func CheckHostPassword(pw string) error {
	if len(pw) > MaxPasswordLen {
		return &PasswordError{Reason: fmt.Sprintf("longer than %d bytes", MaxPasswordLen)}
	}
	if !utf8.ValidString(pw) {
		return &PasswordError{Reason: "not valid UTF-8"}
	}
	if strings.TrimSpace(pw) == "" {
		return &PasswordError{Reason: "empty"}
	}
	passphrase := countPassphraseWords(pw) >= MinPassphraseWords
	if !passphrase && utf8.RuneCountInString(pw) < MinPasswordLen {
		return &PasswordError{Reason: fmt.Sprintf("shorter than %d characters and not a passphrase of %d words", MinPasswordLen, MinPassphraseWords)}
	}
	if passphrase {
		return nil
	}
	lower := strings.ToLower(pw)
	if distinctRunes(lower) < 5 {
		return &PasswordError{Reason: "too few different characters"}
	}
	if effectiveLength(lower) < 8 {
		return &PasswordError{Reason: "mostly repeats, sequences or keyboard runs"}
	}
	for _, w := range commonPasswords {
		if strings.Contains(lower, w) && effectiveLength(strings.ReplaceAll(lower, w, "")) < 6 {
			return &PasswordError{Reason: fmt.Sprintf("built on the common password %q", w)}
		}
	}
	return nil
}

// commonPasswords are bases that attackers try first (a tiny stand-in for
// zxcvbn's dictionaries).
var commonPasswords = []string{
	"password", "passwort", "qwerty", "azerty", "letmein", "welcome", "iloveyou",
	"admin", "administrator", "deskway", "monkey", "dragon", "sunshine", "football",
	"baseball", "master", "shadow", "123456", "654321", "abc123", "trustno1", "secret",
}

// countPassphraseWords counts distinct words of at least three letters.
func countPassphraseWords(pw string) int {
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(pw), func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '_' || r == '.' || r == ','
	}) {
		letters := 0
		for _, r := range w {
			if unicode.IsLetter(r) {
				letters++
			}
		}
		if letters >= 3 {
			seen[w] = true
		}
	}
	return len(seen)
}

func distinctRunes(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

// keyboardRows are runs a keyboard walk follows.
var keyboardRows = []string{"`1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./", "qwertzuiop", "yxcvbnm", "azertyuiop", "wxcvbn"}

// effectiveLength counts the characters that are not predictable from the
// previous one: a repeat, a ±1 step in code points, or the neighbour on a
// keyboard row costs nothing.
func effectiveLength(s string) int {
	n := 0
	var prev rune = -1
	for _, r := range s {
		if prev < 0 || !(r == prev || r == prev+1 || r == prev-1 || keyboardNeighbours(prev, r)) {
			n++
		}
		prev = r
	}
	return n
}

func keyboardNeighbours(a, b rune) bool {
	for _, row := range keyboardRows {
		i := strings.IndexRune(row, a)
		j := strings.IndexRune(row, b)
		if i >= 0 && j >= 0 && (i-j == 1 || j-i == 1) {
			return true
		}
	}
	return false
}
