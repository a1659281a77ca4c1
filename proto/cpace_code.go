package proto

// The support code (SECURITY.md §4.1): a broker-assigned nameplate
// (typically 3 digits, at most 5) followed by 6 secret digits generated
// on the host with crypto/rand by rejection sampling, shown as
// NNN-SSS-SSS. The broker only ever sees the nameplate. The whole digit
// string, with spaces and dashes removed, is CPace's PRS.

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

const (
	// SupportSecretDigits is the number of secret digits in a support code.
	SupportSecretDigits = 6
	// MaxNameplateDigits bounds the broker's nameplate.
	MaxNameplateDigits = 5
	// maxSupportCodeInput bounds what ParseSupportCode reads.
	maxSupportCodeInput = 64
)

// ErrSupportCode is returned (wrapped) for a malformed support code.
var ErrSupportCode = errors.New("proto: malformed support code")

// SupportCode is a one-time support code: nameplate ‖ secret digits. It is
// a secret, so it is not comparable and logs show only the nameplate. The
// zero value is no code.
type SupportCode struct {
	_      [0]func()
	digits string
}

// NewSupportCode appends 6 uniformly random secret digits from r (nil
// means crypto/rand) to the broker's nameplate (1 to 5 digits).
func NewSupportCode(nameplate string, r io.Reader) (SupportCode, error) {
	if len(nameplate) == 0 || len(nameplate) > MaxNameplateDigits || !allDigits(nameplate) {
		return SupportCode{}, fmt.Errorf("%w: nameplate %q: want 1 to %d digits", ErrSupportCode, truncateForError(nameplate), MaxNameplateDigits)
	}
	r = randOrDefault(r)
	secret := make([]byte, 0, SupportSecretDigits)
	var buf [16]byte
	for len(secret) < SupportSecretDigits {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return SupportCode{}, fmt.Errorf("proto: support code: %w", err)
		}
		for _, b := range buf {
			// 250 = 25·10: rejecting 250..255 keeps the digits uniform.
			if b < 250 && len(secret) < SupportSecretDigits {
				secret = append(secret, '0'+b%10)
			}
		}
	}
	clear(buf[:])
	return SupportCode{digits: nameplate + string(secret)}, nil
}

// ParseSupportCode reads a code as a person typed it: digits, with any
// spaces and dashes (which are removed). It needs at least one nameplate
// digit and the 6 secret digits.
func ParseSupportCode(s string) (SupportCode, error) {
	if len(s) > maxSupportCodeInput {
		return SupportCode{}, fmt.Errorf("%w: %d characters exceed limit %d", ErrSupportCode, len(s), maxSupportCodeInput)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '\t':
		default:
			return SupportCode{}, fmt.Errorf("%w: invalid character %q", ErrSupportCode, c)
		}
	}
	d := b.String()
	if n := len(d); n < 1+SupportSecretDigits || n > MaxNameplateDigits+SupportSecretDigits {
		return SupportCode{}, fmt.Errorf("%w: %d digits, want %d to %d", ErrSupportCode, n, 1+SupportSecretDigits, MaxNameplateDigits+SupportSecretDigits)
	}
	return SupportCode{digits: d}, nil
}

// IsZero reports whether c holds no code.
func (c SupportCode) IsZero() bool { return c.digits == "" }

// Nameplate returns the public part of the code.
func (c SupportCode) Nameplate() string {
	if len(c.digits) < SupportSecretDigits {
		return ""
	}
	return c.digits[:len(c.digits)-SupportSecretDigits]
}

// String returns the code for display, NNN-SSS-SSS. It contains the
// secret: show it to the customer, never log it.
func (c SupportCode) String() string {
	if c.IsZero() {
		return ""
	}
	n := len(c.digits) - SupportSecretDigits
	return c.digits[:n] + "-" + c.digits[n:n+3] + "-" + c.digits[n+3:]
}

// LogValue shows only the nameplate.
func (c SupportCode) LogValue() slog.Value {
	if c.IsZero() {
		return slog.StringValue("none")
	}
	return slog.StringValue(c.Nameplate() + "-***-***")
}

// prs returns CPace's password-related string: the normalised digits.
func (c SupportCode) prs() []byte { return []byte(c.digits) }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
