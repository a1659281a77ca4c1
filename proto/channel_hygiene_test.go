package proto

import (
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// nonceAudit watches every Seal of every record AEAD (SECURITY.md §6 row
// 7). Within one key the nonce (the record seq) must strictly increase,
// which rules out any (key, nonce) pair being used twice — also across
// sealer instances, since a second sealer with the same key would go back
// to a smaller seq. Nonce 2^64−1 is Noise's Rekey derivation
// (ENCRYPT(k, 2^64−1, "", 0^32)), computed by both ends on the same
// zero plaintext; it is counted separately.
type nonceAudit struct {
	mu          sync.Mutex
	next        map[[32]byte]uint64
	seals       int
	reuses      int
	derivations int
	maxSeq      uint64
}

func newNonceAudit() *nonceAudit { return &nonceAudit{next: map[[32]byte]uint64{}} }

func (a *nonceAudit) factory(key []byte) cipher.AEAD {
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		panic(err)
	}
	return &auditAEAD{AEAD: aead, key: [32]byte(key), a: a}
}

type auditAEAD struct {
	cipher.AEAD
	key [32]byte
	a   *nonceAudit
}

func (x *auditAEAD) Seal(dst, nonce, plaintext, ad []byte) []byte {
	a := x.a
	seq := binary.LittleEndian.Uint64(nonce[4:])
	a.mu.Lock()
	if seq == math.MaxUint64 {
		if !bytes.Equal(plaintext, make([]byte, 32)) || len(ad) != 0 {
			a.reuses++ // the reserved nonce used for anything but Rekey
		}
		a.derivations++
	} else {
		if next, ok := a.next[x.key]; ok && seq < next {
			a.reuses++
		}
		a.next[x.key] = seq + 1
		a.seals++
		a.maxSeq = max(a.maxSeq, seq)
	}
	a.mu.Unlock()
	return x.AEAD.Seal(dst, nonce, plaintext, ad)
}

// TestNonceHygiene: 10^6 records (both directions), a rekey every 10 000
// records (80 rekeys, resumptions restart the count), 20 resumptions:
// zero (key, nonce) reuses.
func TestNonceHygiene(t *testing.T) {
	total := 1_000_000
	if ReducedForTest() {
		total = 200_000 // same rekeys and resumptions, fewer records
	}
	const phases = 20
	perPhase := total / phases / 2 // per direction
	audit := newNonceAudit()
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	for _, o := range []*ChannelOptions{&s.Host.Options, &s.Viewer.Options} {
		o.SetAEADForTest(audit.factory)
		o.RekeyRecords = uint64(total / 100) // 2 rekeys per direction and connection: 80 in all
		o.MaxResumesPerHour = 100
		o.RecvQueue = 1024
	}
	h, v := PairForTest(t, s)
	ctx := context.Background()
	for phase := range phases {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for _, p := range [][2]*Channel{{v, h}, {h, v}} {
			sender, receiver := p[0], p[1]
			wg.Add(2)
			go func() {
				defer wg.Done()
				var b [8]byte
				for i := range perPhase {
					binary.BigEndian.PutUint64(b[:], uint64(i))
					if err := sender.Send(ctx, b[:], true); err != nil {
						errs <- err
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				for i := range perPhase {
					m, err := receiver.Recv(ctx)
					if err != nil {
						errs <- err
						return
					}
					if binary.BigEndian.Uint64(m) != uint64(i) {
						errs <- errors.New("message out of order")
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("phase %d: %v", phase, err)
		}
		cut(h)
		if _, _, herr, verr := resumeBoth(t, h, v); herr != nil || verr != nil {
			t.Fatalf("resume %d: %v / %v", phase+1, herr, verr)
		}
	}
	audit.mu.Lock()
	defer audit.mu.Unlock()
	t.Logf("%d records sealed under %d keys, %d rekey derivations, 20 resumptions, %d reuses", audit.seals, len(audit.next), audit.derivations, audit.reuses)
	if audit.reuses != 0 {
		t.Errorf("%d (key, nonce) reuses", audit.reuses)
	}
	if audit.seals < total {
		t.Errorf("only %d records sealed", audit.seals)
	}
	// 2 directions × (1 initial + 20 resumed) connections, plus at least
	// 50 epochs from rekeying.
	if len(audit.next) < 42+50 {
		t.Errorf("%d keys used, want at least %d", len(audit.next), 42+50)
	}
	if audit.derivations < 2*50 {
		t.Errorf("%d rekey derivations, want at least 100 (sealer and opener of 50 rekeys)", audit.derivations)
	}
}

// TestChannelNearMaxSeq: a channel whose records start just below the
// last allowed seq rekeys before it, and never wraps.
func TestChannelNearMaxSeq(t *testing.T) {
	audit := newNonceAudit()
	s := NewTestSetupForTest(t, ModeSupport, t.Name())
	for _, o := range []*ChannelOptions{&s.Host.Options, &s.Viewer.Options} {
		o.SetAEADForTest(audit.factory)
		o.startSeq = maxRecordSeq - 3
	}
	h, v := PairForTest(t, s)
	for i := range 10 {
		if err := h.Send(context.Background(), []byte{byte(i)}, true); err != nil {
			t.Fatal(err)
		}
		if m, err := v.Recv(context.Background()); err != nil || m[0] != byte(i) {
			t.Fatalf("Recv %d = %v, %v", i, m, err)
		}
	}
	if err := h.lockWrite(context.Background()); err != nil {
		t.Fatal(err)
	}
	epoch, seq := h.tx.epoch, h.tx.seq
	h.unlockWrite()
	audit.mu.Lock()
	defer audit.mu.Unlock()
	if epoch != 1 || seq > 20 {
		t.Errorf("host sealer at epoch %d seq %d, want epoch 1 and a small seq", epoch, seq)
	}
	if audit.maxSeq > maxRecordSeq || audit.reuses != 0 {
		t.Errorf("max seq %d (limit %d), %d reuses", audit.maxSeq, uint64(maxRecordSeq), audit.reuses)
	}
}

// TestNonceAuditDetects: the audit itself sees a reused nonce, and a
// second sealer with the same key.
func TestNonceAuditDetects(t *testing.T) {
	audit := newNonceAudit()
	k, _ := recordTestKeys()
	s := newRecordSealer(k, audit.factory, rekeyPolicy{}, time.Unix(0, 0))
	s.seal(nil, recKeepalive, nil, nil)
	s.seal(nil, recKeepalive, nil, nil)
	s2 := newRecordSealer(k, audit.factory, rekeyPolicy{}, time.Unix(0, 0))
	s2.seal(nil, recKeepalive, nil, nil) // seq 0 again under the same key
	if audit.reuses != 1 {
		t.Errorf("audit counted %d reuses, want 1", audit.reuses)
	}
}
