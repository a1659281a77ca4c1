package broker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deskway/deskway/proto"
)

// Ticket key rotation. The broker signs tickets with one Ed25519 key and
// publishes (GET /api/v1/ticket-keys, and to the embedded relay) every key
// a relay may meet:
//
//   - a new key is published KeyLead before the broker starts signing
//     with it, so relays that refresh their keys every few minutes know
//     it before its first ticket;
//   - when a newer key becomes active the older one is retired, and stays
//     published for a ticket's lifetime plus the clock skew, until its
//     last ticket has expired; then it is deleted.
//
// Keys live in the store (the private half sealed with the data key), so
// every instance on one database signs with the same key.
const (
	// KeyLead is how long a new key is published before it signs.
	KeyLead = 15 * time.Minute
	// keyTail is how long a retired key stays published.
	keyTail = proto.MaxTicketLifetime + proto.TicketClockSkew + time.Minute
)

// keyring caches the ticket keys of the store. Safe for concurrent use.
type keyring struct {
	st       Store
	seal     *sealer
	log      *slog.Logger
	rotation time.Duration // a key older than this gets a successor; 0: never

	mu        sync.Mutex
	kid       string
	key       ed25519.PrivateKey
	published proto.TicketKeys
}

// ErrNoTicketKey means no ticket key is active (yet).
var ErrNoTicketKey = errors.New("broker: no active ticket key")

func newKID(now time.Time) string {
	return "k" + now.UTC().Format("20060102") + "-" + strings.ToLower(rand.Text()[:6])
}

// createKey stores a new key that starts signing at activates.
func createKey(ctx context.Context, st Store, seal *sealer, now, activates time.Time) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	kid := newKID(now)
	k := &TicketKey{KID: kid, Public: pub, Private: seal.seal("ticketkey:"+kid, priv.Seed()), Created: now, Activates: activates}
	if err := st.CreateTicketKey(ctx, k); err != nil {
		return "", err
	}
	return kid, nil
}

// maintain makes the first key when there is none, makes a successor
// when the active key is due for rotation, retires keys that a newer
// active key replaced and reloads the cache. It returns whether the set
// of published keys changed.
func (k *keyring) maintain(ctx context.Context, now time.Time) (bool, error) {
	keys, err := k.st.ListTicketKeys(ctx)
	if err != nil {
		return false, err
	}
	live := slices.DeleteFunc(slices.Clone(keys), func(t TicketKey) bool { return !t.Retired.IsZero() })
	switch {
	case len(live) == 0:
		// First start: a key that signs at once (no relay can know an
		// older one anyway).
		kid, err := createKey(ctx, k.st, k.seal, now, now)
		if err != nil {
			return false, err
		}
		k.log.Info("created the first ticket key", "kid", kid)
		return k.maintain(ctx, now)
	case k.rotation > 0:
		newest := live[len(live)-1] // ordered by activation
		if now.Sub(newest.Activates) >= k.rotation {
			kid, err := createKey(ctx, k.st, k.seal, now, now.Add(KeyLead))
			if err != nil {
				return false, err
			}
			k.log.Info("created a ticket key for rotation", "kid", kid, "activates", now.Add(KeyLead))
			return k.maintain(ctx, now)
		}
	}
	// Retire the active keys older than the newest active one.
	var active []TicketKey
	for _, t := range live {
		if !t.Activates.After(now) {
			active = append(active, t)
		}
	}
	for _, t := range active[:max(len(active)-1, 0)] {
		if err := k.st.RetireTicketKey(ctx, t.KID, now); err != nil && !errors.Is(err, ErrNotFound) {
			return false, err
		}
		k.log.Info("retired ticket key", "kid", t.KID)
	}
	if len(active) > 1 {
		if keys, err = k.st.ListTicketKeys(ctx); err != nil {
			return false, err
		}
	}
	return k.load(keys, now)
}

// load picks the signing key and the published set from keys.
func (k *keyring) load(keys []TicketKey, now time.Time) (bool, error) {
	pub := proto.TicketKeys{}
	var signer *TicketKey
	for i, t := range keys {
		if !t.Retired.IsZero() && now.Sub(t.Retired) > keyTail {
			continue
		}
		pub[t.KID] = ed25519.PublicKey(t.Public)
		if t.Retired.IsZero() && !t.Activates.After(now) {
			signer = &keys[i]
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	changed := !equalKeys(pub, k.published)
	k.published = pub
	if signer == nil {
		k.kid, k.key = "", nil
		return changed, nil
	}
	if signer.KID != k.kid {
		seed, err := k.seal.open("ticketkey:"+signer.KID, signer.Private)
		if err != nil {
			return changed, err
		}
		if len(seed) != ed25519.SeedSize {
			return changed, fmt.Errorf("broker: ticket key %s: seed of %d bytes", signer.KID, len(seed))
		}
		k.kid, k.key = signer.KID, ed25519.NewKeyFromSeed(seed)
	}
	return changed, nil
}

func equalKeys(a, b proto.TicketKeys) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, p := range a {
		if q, ok := b[kid]; !ok || !p.Equal(q) {
			return false
		}
	}
	return true
}

// sign signs t with the active key.
func (k *keyring) sign(t *proto.Ticket) ([]byte, error) {
	k.mu.Lock()
	kid, key := k.kid, k.key
	k.mu.Unlock()
	if key == nil {
		return nil, ErrNoTicketKey
	}
	return proto.SignTicket(t, kid, key)
}

// public returns the published keys (a copy).
func (k *keyring) public() proto.TicketKeys {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(proto.TicketKeys, len(k.published))
	for kid, p := range k.published {
		out[kid] = p
	}
	return out
}

// RotateTicketKey adds a ticket key that starts signing at activates
// (now + KeyLead lets relays learn it first; now, for a broker whose only
// relay is the embedded one). The broker instances pick it up within a
// minute.
func RotateTicketKey(ctx context.Context, st Store, dataKey []byte, activates time.Time) (string, error) {
	seal, err := newSealer(dataKey)
	if err != nil {
		return "", err
	}
	if err := checkDataKey(ctx, st, seal); err != nil {
		return "", err
	}
	return createKey(ctx, st, seal, time.Now(), activates)
}
