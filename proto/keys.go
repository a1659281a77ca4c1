package proto

// Typed keys of the secure channel (SECURITY.md §4.0, STYLE.md §2).
//
// Every key has its own type so that keys cannot be mixed up: a static
// X25519 key pair (StaticPrivate, StaticPublic), its human-readable
// Fingerprint, and the channel's internal secrets (the CPace ISK, the
// Noise psk, the per-direction traffic keys, the resumption secret).
// Private and secret types embed a [0]func() so that == does not compile
// on them (a comparison of secrets is almost always a timing leak or a
// bug), and their LogValue prints at most a short fingerprint, never key
// material. Wiping is best effort: Go may have copied the bytes (the AEAD
// objects keep their own copy), but we drop every reference we hold.

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// StaticKeySize is the size of an X25519 static key, private or public.
const StaticKeySize = 32

// FingerprintLen is the length of a Fingerprint in characters: 26 base32
// characters, 130 bits of SHA-256(pub).
const FingerprintLen = 26

// fingerprintEncoding is RFC 4648 base32, lowercase, no padding.
var fingerprintEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// StaticPrivate is a long-term X25519 private key: a host's hostStatic or
// a viewer device's viewerStatic (SECURITY.md §4.0). It is not comparable.
// The zero value is "no key".
type StaticPrivate struct {
	_   [0]func()
	k   [StaticKeySize]byte
	pub StaticPublic // computed once
	set bool
}

// StaticPublic is the public half of a StaticPrivate. It is public
// information, comparable, and usable as a map key.
type StaticPublic [StaticKeySize]byte

// Fingerprint is base32(SHA-256(pub))[:26] of a static public key
// (SECURITY.md §4.3), lowercase: what users compare and pin files store.
type Fingerprint string

// NewStaticPrivate generates a static key from r (nil means crypto/rand).
func NewStaticPrivate(r io.Reader) (StaticPrivate, error) {
	var k StaticPrivate
	if _, err := io.ReadFull(randOrDefault(r), k.k[:]); err != nil {
		return StaticPrivate{}, fmt.Errorf("proto: generate static key: %w", err)
	}
	k.setPublic()
	return k, nil
}

// setPublic computes and caches the public key.
func (k *StaticPrivate) setPublic() {
	pub, err := curve25519.X25519(k.k[:], curve25519.Basepoint)
	if err != nil {
		// X25519 with the base point never yields the all-zero output.
		panic("proto: x25519 base point multiplication failed: " + err.Error())
	}
	copy(k.pub[:], pub)
	k.set = true
}

// StaticPrivateFromBytes makes a StaticPrivate from the 32 bytes that
// MarshalBinary returned.
func StaticPrivateFromBytes(b []byte) (StaticPrivate, error) {
	var k StaticPrivate
	if err := k.UnmarshalBinary(b); err != nil {
		return StaticPrivate{}, err
	}
	return k, nil
}

// IsZero reports whether k holds no key.
func (k StaticPrivate) IsZero() bool { return !k.set }

// Public returns the public key of k (the zero key if k is zero).
func (k StaticPrivate) Public() StaticPublic { return k.pub }

// MarshalBinary returns the 32 private key bytes, for the agent's and the
// viewers' key storage (an OS keystore or an encrypted 0600 file).
func (k StaticPrivate) MarshalBinary() ([]byte, error) {
	if !k.set {
		return nil, errors.New("proto: static private key: no key")
	}
	return append([]byte(nil), k.k[:]...), nil
}

// UnmarshalBinary sets k from 32 bytes.
func (k *StaticPrivate) UnmarshalBinary(b []byte) error {
	if len(b) != StaticKeySize {
		return fmt.Errorf("proto: static private key: length %d, want %d", len(b), StaticKeySize)
	}
	copy(k.k[:], b)
	k.setPublic()
	return nil
}

// LogValue prints only the fingerprint of the public half.
func (k StaticPrivate) LogValue() slog.Value {
	if !k.set {
		return slog.StringValue("private:none")
	}
	return slog.StringValue("private:" + string(k.Public().Fingerprint()))
}

// wipe zeroes the key.
func (k *StaticPrivate) wipe() {
	clear(k.k[:])
	k.pub = StaticPublic{}
	k.set = false
}

// dhKey returns the key as the two byte slices flynn/noise wants.
func (k StaticPrivate) dhKey() (priv, pub []byte) {
	p := k.Public()
	return append([]byte(nil), k.k[:]...), p[:]
}

// Fingerprint returns base32(SHA-256(p))[:26].
func (p StaticPublic) Fingerprint() Fingerprint {
	sum := sha256.Sum256(p[:])
	return Fingerprint(fingerprintEncoding.EncodeToString(sum[:])[:FingerprintLen])
}

// IsZero reports whether p is the all-zero key (no key).
func (p StaticPublic) IsZero() bool { return p == StaticPublic{} }

// String returns the fingerprint.
func (p StaticPublic) String() string { return string(p.Fingerprint()) }

// LogValue prints the fingerprint.
func (p StaticPublic) LogValue() slog.Value { return slog.StringValue(string(p.Fingerprint())) }

// MarshalText encodes the whole key as 64 hex digits.
func (p StaticPublic) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(p[:])), nil }

// UnmarshalText decodes 64 hex digits.
func (p *StaticPublic) UnmarshalText(b []byte) error {
	if len(b) != 2*StaticKeySize {
		return fmt.Errorf("proto: static public key: %d hex digits, want %d", len(b), 2*StaticKeySize)
	}
	if _, err := hex.Decode(p[:], b); err != nil {
		return fmt.Errorf("proto: static public key: %v", err)
	}
	return nil
}

// staticPublicFromBytes copies a 32-byte key.
func staticPublicFromBytes(b []byte) (StaticPublic, error) {
	var p StaticPublic
	if len(b) != StaticKeySize {
		return p, fmt.Errorf("proto: static public key: length %d, want %d", len(b), StaticKeySize)
	}
	copy(p[:], b)
	return p, nil
}

// ParseFingerprint checks that s is a well-formed fingerprint (26
// characters of the lowercase base32 alphabet; upper case is folded).
func ParseFingerprint(s string) (Fingerprint, error) {
	if len(s) != FingerprintLen {
		return "", fmt.Errorf("proto: fingerprint %q: %d characters, want %d", truncateForError(s), len(s), FingerprintLen)
	}
	s = strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", fmt.Errorf("proto: fingerprint %q: invalid character %q", truncateForError(s), c)
		}
	}
	// 26 characters carry 130 bits; the last character holds 5 bits of
	// which all are data (26*5 = 130 ≤ 256), so every string is valid.
	return Fingerprint(s), nil
}

// Equal compares two fingerprints in constant time.
func (f Fingerprint) Equal(g Fingerprint) bool {
	return subtle.ConstantTimeCompare([]byte(f), []byte(g)) == 1
}

// truncateForError shortens attacker-controlled text quoted in errors.
func truncateForError(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// pakeKey is the PAKE's output: the CPace ISK (64 bytes) or the OPAQUE
// session secret (64 bytes). It only feeds the Noise psk derivation.
type pakeKey struct {
	_ [0]func()
	k [64]byte
}

func (k *pakeKey) wipe() { clear(k.k[:]) }

func (k pakeKey) LogValue() slog.Value { return slog.StringValue("pake-key:" + secretTag(k.k[:])) }

// noisePSK is the 32-byte Noise psk0 (SECURITY.md §4.3).
type noisePSK struct {
	_ [0]func()
	k [32]byte
}

func (k *noisePSK) wipe() { clear(k.k[:]) }

func (k noisePSK) LogValue() slog.Value { return slog.StringValue("psk:" + secretTag(k.k[:])) }

// trafficKey is one direction's ChaCha20-Poly1305 record key in one epoch.
type trafficKey struct {
	_ [0]func()
	k [32]byte
}

func (k *trafficKey) wipe() { clear(k.k[:]) }

func (k trafficKey) LogValue() slog.Value { return slog.StringValue("traffic:" + secretTag(k.k[:])) }

// resumeSecret is RS_n of SECURITY.md §4.5.
type resumeSecret struct {
	_ [0]func()
	k [32]byte
}

func (k *resumeSecret) wipe() { clear(k.k[:]) }

func (k resumeSecret) LogValue() slog.Value { return slog.StringValue("resume:" + secretTag(k.k[:])) }

// secretTag is a short one-way tag of a secret for logs: 4 bytes of
// SHA-256 over a domain-separated input. It identifies a key across log
// lines without revealing anything useful about it.
func secretTag(k []byte) string {
	h := sha256.New()
	h.Write([]byte("dw/1 log tag"))
	h.Write(k)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// derivePSK computes psk = HKDF-SHA-512(ikm = ISK or OPAQUE session
// secret, info = "dw/1 noise psk0")[:32] (SECURITY.md §4.3).
func derivePSK(k *pakeKey) noisePSK {
	var psk noisePSK
	out, err := hkdf.Key(sha512.New, k.k[:], nil, "dw/1 noise psk0", 32)
	if err != nil {
		panic("proto: hkdf: " + err.Error()) // only for lengths > 255*64
	}
	copy(psk.k[:], out)
	clear(out)
	return psk
}

// hkdf256 is HKDF-SHA-256 with a 32-byte output, used by resumption and
// the SAS.
func hkdf256(ikm, salt []byte, info string) [32]byte {
	out, err := hkdf.Key(sha256.New, ikm, salt, info, 32)
	if err != nil {
		panic("proto: hkdf: " + err.Error())
	}
	var k [32]byte
	copy(k[:], out)
	clear(out)
	return k
}

// randOrDefault returns r, or crypto/rand when r is nil. Every random
// value of the channel is drawn from the configured reader so that tests
// can inject deterministic randomness (golden transcripts).
func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
