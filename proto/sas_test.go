package proto

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"golang.org/x/crypto/curve25519"
)

func TestFormatSAS(t *testing.T) {
	for v, want := range map[uint32]string{482913: "482 913", 7: "000 007", 999999: "999 999", 1000: "001 000"} {
		if got := formatSAS(v); got != want {
			t.Errorf("formatSAS(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestSASCommitment(t *testing.T) {
	h := make([]byte, 32)
	nH := make([]byte, 32)
	nH[0] = 1
	c := sasCommit(h, nH)
	if err := sasCheck(c[:], h, nH); err != nil {
		t.Fatal(err)
	}
	other := append([]byte(nil), nH...)
	other[31] ^= 1
	for name, tc := range map[string][3][]byte{
		"other nonce": {c[:], h, other},
		"other hash":  {c[:], nH, nH},
		"short":       {c[:31], h, nH},
	} {
		if err := sasCheck(tc[0], tc[1], tc[2]); !errors.Is(err, ErrSASCommitment) {
			t.Errorf("%s: %v, want ErrSASCommitment", name, err)
		}
	}
}

// mitmHash stands for the handshake hash of the MITM's session with the
// viewer: it depends on the MITM's ephemeral key, which it may regenerate
// at will (here: a real X25519 key generation per try).
func mitmHash(r io.Reader, transcript []byte) []byte {
	var e [32]byte
	io.ReadFull(r, e[:])
	pub, _ := curve25519.X25519(e[:], curve25519.Basepoint)
	h := sha256.New()
	h.Write(transcript)
	h.Write(pub)
	return h.Sum(nil)
}

// naiveSAS is the design SECURITY.md §4.8 rejects: a SAS computed from
// the handshake hash alone.
func naiveSAS(h []byte, m uint32) uint32 {
	k := hkdf256(h, nil, "naive sas")
	return binary.BigEndian.Uint32(k[:4]) % m
}

// TestSASGrinding is the regression test of SECURITY.md §6 row 8, scaled
// down to a 2-digit SAS (m = 100) so that it runs in milliseconds: a MITM
// who knows the code sits between host (session 1, hash h1) and viewer
// (session 2, hash h2) and has a budget of 2^11 ephemeral keys.
//   - naive SAS = f(h): it grinds h2 until f(h2) = f(h1): success ≈ 1.
//   - commit–reveal (dw/1): it must commit to the viewer before it sees
//     N_V, and send N_V' to the host before it sees N_H: success ≈ 1/m.
//
// At m = 10^6 the same attacks need ~2^20 keys (milliseconds) against the
// naive SAS and succeed with probability 10^-6 against dw/1.
func TestSASGrinding(t *testing.T) {
	const m = 100
	const budget = 1 << 11
	r := NewDetRandForTest(t.Name())
	nonce := func() []byte {
		b := make([]byte, 32)
		io.ReadFull(r, b)
		return b
	}

	naiveWins := 0
	const naiveTrials = 20
	for range naiveTrials {
		h1 := nonce()
		target := naiveSAS(h1, m)
		for range budget {
			if naiveSAS(mitmHash(r, []byte("viewer session")), m) == target {
				naiveWins++
				break
			}
		}
	}
	if naiveWins < naiveTrials-1 {
		t.Errorf("naive SAS: MITM won %d of %d trials, want nearly all (grindable)", naiveWins, naiveTrials)
	}

	commitWins := 0
	const trials = 2000
	for range trials {
		h1 := nonce()                            // host ↔ MITM
		h2 := mitmHash(r, []byte("viewer side")) // MITM ↔ viewer, ground at will
		nH := nonce()                            // host's secret nonce; H→M gets only its commitment
		nHm := nonce()                           // the MITM commits towards the viewer first
		c2 := sasCommit(h2, nHm)                 // M→V
		nV := nonce()                            // V→M, after seeing c2
		// The MITM picks N_V' for the host knowing nV but not nH, so the
		// host's SAS is uniform to it whatever it picks: forward nV.
		nVm := nV
		// Host reveals nH; the MITM must reveal nHm to the viewer (any
		// other value fails the viewer's check).
		if sasCheck(c2[:], h2, nHm) != nil {
			t.Fatal("honest reveal rejected")
		}
		if sasCheck(c2[:], h2, nH) == nil && string(nH) != string(nHm) {
			t.Fatal("commitment opened to another nonce")
		}
		if sasNumber(h1, nH, nVm, m) == sasNumber(h2, nHm, nV, m) {
			commitWins++
		}
	}
	// Binomial(2000, 0.01): mean 20, sd 4.45; 45 is more than 5 sd above.
	if commitWins > 45 {
		t.Errorf("commit–reveal SAS: MITM won %d of %d trials, want about %d", commitWins, trials, trials/m)
	}
	t.Logf("m=%d, budget 2^11: naive SAS ground in %d/%d trials; commit–reveal MITM won %d/%d (expected ≈ %d)",
		m, naiveWins, naiveTrials, commitWins, trials, trials/m)
}
