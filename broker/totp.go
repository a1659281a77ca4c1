package broker

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP as authenticator apps expect it (RFC 6238): SHA-1, six digits,
// 30-second steps, one step of skew either way. Replay is refused by
// recording the last accepted step per user (Store.AdvanceTOTPStep),
// which totp.Validate alone does not do.
const (
	totpPeriod     = 30
	totpSkew       = 1
	totpMaxTries   = 5 // second-factor attempts per pending login
	recoveryCount  = 10
	recoveryLength = 10 // base32 characters: 50 bits
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// newTOTPKey makes a new 160-bit TOTP secret for an account.
func newTOTPKey(issuer, account string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, SecretSize: 20,
		Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("broker: totp: %w", err)
	}
	return k, nil
}

// totpStep checks code against the secret at now and the steps beside
// it, and returns the time step it matched. The caller must then record
// the step with Store.AdvanceTOTPStep, which refuses a step already used.
func totpStep(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	var step int64
	found := 0
	for d := -totpSkew; d <= totpSkew; d++ {
		t := now.Add(time.Duration(d*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step = t.Unix() / totpPeriod
			found = 1
		}
	}
	return step, found == 1
}

// totpPNG renders the otpauth URL of a key as a QR code.
func totpPNG(key *otp.Key) ([]byte, error) {
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCodes returns recovery codes to show once ("xxxxx-xxxxx")
// and their hashes to store.
func newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range recoveryCount {
		b := make([]byte, 7)
		rand.Read(b)
		s := lowerBase32.EncodeToString(b)[:recoveryLength]
		codes = append(codes, s[:5]+"-"+s[5:])
		hashes = append(hashes, recoveryHash(s))
	}
	return codes, hashes
}

// recoveryHash hashes a recovery code as typed: case, spaces and dashes
// do not matter. The codes carry 50 random bits, so a plain SHA-256 is
// enough.
func recoveryHash(code string) []byte {
	code = strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, code)
	h := sha256.Sum256([]byte("dw-recovery\x00" + code))
	return h[:]
}
