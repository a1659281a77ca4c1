package proto

// Short authentication string (SECURITY.md §4.8): a commit–reveal
// exchange inside the established channel, right after the handshake,
// host first:
//
//	H→V  SAS_COMMIT  C = SHA-256("dw/1 sas commit" ‖ h ‖ N_H)
//	V→H  SAS_NONCE   N_V
//	H→V  SAS_REVEAL  N_H                (the viewer checks C)
//	SAS = uint32(HKDF-SHA-256(ikm = N_H ‖ N_V, salt = h, info = "dw/1 sas")[:4]) mod 10^6
//
// shown as "482 913" on both screens. h is the Noise handshake hash. A
// man-in-the-middle (who somehow knows the code) runs two handshakes with
// two different h; it must fix its commitment to the viewer before it sees
// N_V, and its N_V' to the host before it sees N_H, so each SAS is uniform
// to it and the two match with probability 10^-6. A naive SAS = f(h) would
// let it grind ephemeral keys until f(h1) = f(h2) (about 2^20 tries:
// milliseconds). The records are ordinary authenticated records (types
// 7, 8, 9) in epoch 0.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	sasNonceLen = 32
	// sasModulus gives 6 decimal digits.
	sasModulus = 1_000_000
)

// ErrSASCommitment is returned by the viewer when the host's revealed
// nonce does not match its commitment (a man-in-the-middle or a bug).
var ErrSASCommitment = errors.New("proto: sas: revealed nonce does not match the commitment")

// sasCommit computes C = SHA-256("dw/1 sas commit" ‖ h ‖ N_H).
func sasCommit(h, nH []byte) [32]byte {
	d := sha256.New()
	d.Write([]byte("dw/1 sas commit"))
	d.Write(h)
	d.Write(nH)
	var c [32]byte
	d.Sum(c[:0])
	return c
}

// sasCheck verifies a revealed N_H against the commitment in constant time.
func sasCheck(commit, h, nH []byte) error {
	c := sasCommit(h, nH)
	if len(commit) != len(c) || subtle.ConstantTimeCompare(commit, c[:]) != 1 {
		return ErrSASCommitment
	}
	return nil
}

// sasNumber derives the SAS value modulo m (10^6 in dw/1; tests use
// smaller moduli to measure grinding).
func sasNumber(h, nH, nV []byte, m uint32) uint32 {
	ikm := make([]byte, 0, len(nH)+len(nV))
	ikm = append(append(ikm, nH...), nV...)
	k := hkdf256(ikm, h, "dw/1 sas")
	return binary.BigEndian.Uint32(k[:4]) % m
}

// formatSAS prints a 6-digit SAS as "482 913".
func formatSAS(v uint32) string {
	return fmt.Sprintf("%03d %03d", v/1000%1000, v%1000)
}

// sasString is the SAS both ends display.
func sasString(h, nH, nV []byte) string { return formatSAS(sasNumber(h, nH, nV, sasModulus)) }
