package broker

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// DataKeySize is the size of the broker's data key.
const DataKeySize = 32

// ErrDataKey means the data key cannot open what the database holds: the
// broker was started with another key than the one the database was
// created with.
var ErrDataKey = errors.New("broker: the data key does not match this database")

// sealer encrypts secrets at rest (TOTP secrets, ticket signing keys)
// with AES-256-GCM under the data key. The purpose (e.g. "totp:<user
// id>") is the additional data, so a sealed value cannot be moved to
// another row or use.
//
// Safe for concurrent use.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("broker: data key of %d bytes, want %d", len(key), DataKeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{aead}, nil
}

func (s *sealer) seal(purpose string, plaintext []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, []byte(purpose))
}

func (s *sealer) open(purpose string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed %s too short", ErrDataKey, purpose)
	}
	p, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot open %s", ErrDataKey, purpose)
	}
	return p, nil
}
