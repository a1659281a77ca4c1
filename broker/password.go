package broker

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the Argon2id parameters for new password hashes.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultPasswordParams follow SECURITY.md §5: t=3, m=64 MiB, p=2.
var DefaultPasswordParams = PasswordParams{Memory: 64 << 10, Time: 3, Threads: 2}

// Bounds on the parameters read from a stored hash, so that a corrupted
// or hostile row cannot make a login allocate without limit.
const (
	maxArgonMemory  = 1 << 20 // KiB: 1 GiB
	maxArgonTime    = 64
	maxArgonThreads = 64
	argonSaltLen    = 16
	argonKeyLen     = 32
	maxPHCLen       = 256
)

// ErrBadHash is returned for a stored password hash that does not parse.
var ErrBadHash = errors.New("broker: malformed password hash")

// phc is a parsed "$argon2id$v=19$m=…,t=…,p=…[,k=1]$salt$hash" string.
// k=1 marks a peppered hash: Argon2id of HMAC-SHA-256(pepper, password),
// the pepper derived from the broker's data key (SECURITY.md §5), so a
// copy of the database alone cannot be attacked offline.
type phc struct {
	params   PasswordParams
	peppered bool
	salt     []byte
	key      []byte
}

func (p phc) String() string {
	k := ""
	if p.peppered {
		k = ",k=1"
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d%s$%s$%s", argon2.Version, p.params.Memory, p.params.Time, p.params.Threads, k,
		base64.RawStdEncoding.EncodeToString(p.salt), base64.RawStdEncoding.EncodeToString(p.key))
}

// parsePHC parses an Argon2id PHC string, checking every bound before
// it allocates or computes anything.
func parsePHC(s string) (phc, error) {
	var p phc
	if len(s) > maxPHCLen {
		return p, fmt.Errorf("%w: length %d exceeds %d", ErrBadHash, len(s), maxPHCLen)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: not $argon2id$v=%d$…", ErrBadHash, argon2.Version)
	}
	for _, kv := range strings.Split(f[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return p, fmt.Errorf("%w: parameter %q", ErrBadHash, kv)
		}
		switch {
		case k == "m" && n <= maxArgonMemory:
			p.params.Memory = uint32(n)
		case k == "t" && n <= maxArgonTime:
			p.params.Time = uint32(n)
		case k == "p" && n <= maxArgonThreads:
			p.params.Threads = uint8(n)
		case k == "k" && n == 1:
			p.peppered = true
		default:
			return p, fmt.Errorf("%w: parameter %q out of range", ErrBadHash, kv)
		}
	}
	if p.params.Memory == 0 || p.params.Time == 0 || p.params.Threads == 0 || p.params.Memory < 8*uint32(p.params.Threads) {
		return p, fmt.Errorf("%w: parameters %q", ErrBadHash, f[3])
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.Strict().DecodeString(f[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return p, fmt.Errorf("%w: salt", ErrBadHash)
	}
	if p.key, err = base64.RawStdEncoding.Strict().DecodeString(f[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, fmt.Errorf("%w: key", ErrBadHash)
	}
	return p, nil
}

// passwordHasher hashes and verifies passwords with Argon2id. Each hash
// takes Memory KiB for its duration, so at most a bounded number run at
// once (a semaphore, 2×NumCPU by default); the others wait, honouring
// their context.
//
// Safe for concurrent use.
type passwordHasher struct {
	params PasswordParams
	pepper []byte // nil: new hashes are not peppered (no data key)
	sem    chan struct{}
	// dummy is a hash of a random password with the current parameters,
	// made on first use: logins for unknown users verify against it, so
	// they cost what a login for a known user costs.
	dummyOnce sync.Once
	dummy     phc
}

func newPasswordHasher(params PasswordParams, concurrency int) (*passwordHasher, error) {
	if params == (PasswordParams{}) {
		params = DefaultPasswordParams
	}
	if params.Memory > maxArgonMemory || params.Time > maxArgonTime || params.Threads > maxArgonThreads ||
		params.Memory < 8*uint32(params.Threads) || params.Time == 0 || params.Threads == 0 {
		return nil, fmt.Errorf("broker: password parameters %+v out of range", params)
	}
	if concurrency <= 0 {
		concurrency = 2 * runtime.NumCPU()
	}
	return &passwordHasher{params: params, sem: make(chan struct{}, concurrency)}, nil
}

// pepperInfo derives the password pepper from the data key.
const pepperInfo = "deskway broker password pepper v1"

// setPepper makes new hashes peppered with a key derived from dataKey,
// and lets Verify check peppered ones.
func (h *passwordHasher) setPepper(dataKey []byte) error {
	pepper, err := hkdf.Key(sha256.New, dataKey, nil, pepperInfo, 32)
	if err != nil {
		return fmt.Errorf("broker: password pepper: %w", err)
	}
	h.pepper = pepper
	return nil
}

// input is what Argon2id hashes for password: the password itself, or
// its HMAC under the pepper.
func (h *passwordHasher) input(password string, peppered bool) []byte {
	if !peppered {
		return []byte(password)
	}
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(password))
	return m.Sum(nil)
}

func (h *passwordHasher) derive(password string, params PasswordParams) phc {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	peppered := h.pepper != nil
	return phc{params: params, peppered: peppered, salt: salt,
		key: argon2.IDKey(h.input(password, peppered), salt, params.Time, params.Memory, params.Threads, argonKeyLen)}
}

func (h *passwordHasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker: password hashing: %w", ctx.Err())
	}
}

func (h *passwordHasher) release() { <-h.sem }

// Hash returns the PHC string of a new hash of password.
func (h *passwordHasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.derive(password, h.params).String(), nil
}

// ErrNoPepper is returned for a peppered hash when the hasher has no
// pepper: the broker was started without the data key it was made with.
var ErrNoPepper = errors.New("broker: a peppered password hash, but no data key to check it with")

// Verify reports whether password matches the PHC string, and whether
// the hash should be replaced because its parameters are not the current
// ones or it is not peppered while new hashes are.
func (h *passwordHasher) Verify(ctx context.Context, stored, password string) (ok, rehash bool, err error) {
	p, err := parsePHC(stored)
	if err == nil && p.peppered && h.pepper == nil {
		err = ErrNoPepper
	}
	if err != nil {
		// Spend the same time as a real check, then fail.
		h.VerifyDummy(ctx, password)
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	key := argon2.IDKey(h.input(password, p.peppered), p.salt, p.params.Time, p.params.Memory, p.params.Threads, uint32(len(p.key)))
	ok = subtle.ConstantTimeCompare(key, p.key) == 1
	return ok, ok && (p.params != h.params || p.peppered != (h.pepper != nil)), nil
}

// VerifyDummy costs what Verify costs with the current parameters and
// always fails: for unknown users.
func (h *passwordHasher) VerifyDummy(ctx context.Context, password string) {
	h.dummyOnce.Do(func() {
		// Outside the semaphore: a salt and a key of the right sizes is
		// all the dummy needs, so no hash is computed for it.
		h.dummy = phc{params: h.params, salt: make([]byte, argonSaltLen), key: make([]byte, argonKeyLen)}
		rand.Read(h.dummy.salt)
		rand.Read(h.dummy.key)
	})
	if h.acquire(ctx) != nil {
		return
	}
	defer h.release()
	key := argon2.IDKey(h.input(password, h.pepper != nil), h.dummy.salt, h.params.Time, h.params.Memory, h.params.Threads, argonKeyLen)
	subtle.ConstantTimeCompare(key, h.dummy.key)
}
