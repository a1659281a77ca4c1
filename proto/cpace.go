package proto

// CPace, cipher suite CPACE-RISTR255-SHA512, initiator–responder mode
// (draft-irtf-cfrg-cpace-21 §7, §8.3; SECURITY.md §4.2a), built on
// github.com/gtank/ristretto255. There is no obtainable Go CPace library;
// this one is checked byte for byte against the draft's ristretto255 test
// vectors (Appendix B.3, testdata/cpace/ristretto255.txt).
//
//	g   = element_derivation(SHA-512(generator_string(DSI, PRS, CI, sid, 128)))
//	      generator_string = lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid)
//	A→B : Ya = ya·g, ADa
//	B→A : Yb = yb·g, ADb
//	K   = scalar_mult_vfy(y, Y)        abort if Y does not decode or K = I
//	ISK = SHA-512(lv_cat(DSI‖"_ISK", sid, K) ‖ lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb))
//
// Scalars are 32 random bytes with the top 4 bits cleared (252 bits,
// always canonical, as the draft recommends). In dw/1 the viewer is the
// initiator A and the host the responder B; CI binds the mode, both roles
// and host_id, and sid is the broker's session_id, so a relay can neither
// reflect a message to its sender nor splice two pairings (SECURITY.md
// §4.6). ISK is not used as a key: it feeds the Noise psk (keys.go).

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

const (
	// cpaceDSI is G_Ristretto255.DSI.
	cpaceDSI = "CPaceRistretto255"
	// cpaceHashBlock is SHA-512's input block size s_in_bytes.
	cpaceHashBlock = 128
	// cpaceElementLen is the size of an encoded ristretto255 element.
	cpaceElementLen = 32
	// cpaceSuiteName names the PAKE in the Noise prologue.
	cpaceSuiteName = "CPACE-RISTR255-SHA512"
)

// Errors of the CPace abort conditions (draft §7.2, §9).
var (
	// ErrCPaceInvalidPoint: the peer's share does not decode to a group
	// element (wrong length or a non-canonical encoding).
	ErrCPaceInvalidPoint = errors.New("proto: cpace: peer share is not a valid ristretto255 encoding")
	// ErrCPaceIdentity: K is the neutral element.
	ErrCPaceIdentity = errors.New("proto: cpace: shared point is the identity")
)

// appendLEB128 appends n in LEB128 (draft Appendix A.1.1).
func appendLEB128(dst []byte, n int) []byte {
	for {
		if n < 0x80 {
			return append(dst, byte(n))
		}
		dst = append(dst, byte(n&0x7f)|0x80)
		n >>= 7
	}
}

// lvCat is the draft's lv_cat: each part prefixed with its LEB128 length.
// It is the injective encoding of every composite value in dw/1
// (SECURITY.md §4.0).
func lvCat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 3
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = appendLEB128(out, len(p))
		out = append(out, p...)
	}
	return out
}

// errLV is returned for any malformed lv_cat input.
var errLV = errors.New("malformed length-value encoding")

// lvSplit parses exactly n lv_cat fields filling all of b, each at most
// maxField bytes. Lengths are checked before use and must be minimally
// encoded (so that the encoding stays injective in both directions). The
// returned slices alias b.
func lvSplit(b []byte, n, maxField int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		l, used, err := readLEB128(b, maxField)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", i, err)
		}
		b = b[used:]
		if l > len(b) {
			return nil, fmt.Errorf("field %d: length %d exceeds the %d bytes left: %w", i, l, len(b), errLV)
		}
		out = append(out, b[:l:l])
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes: %w", len(b), errLV)
	}
	return out, nil
}

// readLEB128 reads one minimally encoded LEB128 length ≤ max (at most 3
// bytes, enough for 2^21).
func readLEB128(b []byte, max int) (n, used int, err error) {
	shift := 0
	for i := 0; i < 3; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("truncated length: %w", errLV)
		}
		c := b[i]
		n |= int(c&0x7f) << shift
		if c&0x80 == 0 {
			if i > 0 && c == 0 {
				return 0, 0, fmt.Errorf("non-minimal length: %w", errLV)
			}
			if n > max {
				return 0, 0, fmt.Errorf("length %d exceeds limit %d: %w", n, max, errLV)
			}
			return n, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, fmt.Errorf("length too long: %w", errLV)
}

// cpaceGeneratorString is generator_string(DSI, PRS, CI, sid, 128).
func cpaceGeneratorString(prs, ci, sid []byte) []byte {
	lenPRS := len(appendLEB128(nil, len(prs))) + len(prs)
	lenDSI := len(appendLEB128(nil, len(cpaceDSI))) + len(cpaceDSI)
	zpad := max(0, cpaceHashBlock-1-lenPRS-lenDSI)
	return lvCat([]byte(cpaceDSI), prs, make([]byte, zpad), ci, sid)
}

// cpaceGenerator is G.calculate_generator: the hash of the generator
// string mapped with ristretto255's one-way map (element_derivation).
func cpaceGenerator(prs, ci, sid []byte) *ristretto255.Element {
	h := sha512.Sum512(cpaceGeneratorString(prs, ci, sid))
	g, err := ristretto255.NewElement().SetUniformBytes(h[:])
	if err != nil {
		panic("proto: cpace: SetUniformBytes on 64 bytes failed: " + err.Error())
	}
	return g
}

// cpaceSampleScalar is G.sample_scalar: 32 random bytes, the 4 most
// significant bits cleared, little endian. A zero scalar (probability
// 2^-252) is redrawn.
func cpaceSampleScalar(r io.Reader) (*ristretto255.Scalar, error) {
	var b [32]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("proto: cpace: sample scalar: %w", err)
		}
		b[31] &= 0x0f
		s, err := ristretto255.NewScalar().SetCanonicalBytes(b[:])
		clear(b[:])
		if err != nil {
			panic("proto: cpace: 252-bit scalar not canonical: " + err.Error())
		}
		if s.Equal(ristretto255.NewScalar()) == 0 {
			return s, nil
		}
	}
}

// cpaceScalarMultVfy is G.scalar_mult_vfy(y, X), returning an error where
// the draft returns G.I: X must be a canonical encoding of a group element
// and y·X must not be the identity.
func cpaceScalarMultVfy(y *ristretto255.Scalar, x []byte) ([]byte, error) {
	if len(x) != cpaceElementLen {
		return nil, ErrCPaceInvalidPoint
	}
	p, err := ristretto255.NewElement().SetCanonicalBytes(x)
	if err != nil {
		return nil, ErrCPaceInvalidPoint
	}
	k := ristretto255.NewElement().ScalarMult(y, p)
	if k.Equal(ristretto255.NewIdentityElement()) == 1 {
		return nil, ErrCPaceIdentity
	}
	return k.Bytes(), nil
}

// cpaceCheckShare checks that a received share is a canonical encoding of
// a group element other than the identity, without any secret.
func cpaceCheckShare(y []byte) error {
	if len(y) != cpaceElementLen {
		return ErrCPaceInvalidPoint
	}
	p, err := ristretto255.NewElement().SetCanonicalBytes(y)
	if err != nil {
		return ErrCPaceInvalidPoint
	}
	if p.Equal(ristretto255.NewIdentityElement()) == 1 {
		return ErrCPaceIdentity
	}
	return nil
}

// cpaceISK computes ISK = SHA-512(lv_cat(DSI‖"_ISK", sid, K) ‖
// transcript_ir(Ya, ADa, Yb, ADb)).
func cpaceISK(sid, k, ya, ada, yb, adb []byte) pakeKey {
	h := sha512.New()
	h.Write(lvCat([]byte(cpaceDSI+"_ISK"), sid, k))
	h.Write(cpaceTranscript(ya, ada, yb, adb))
	var isk pakeKey
	h.Sum(isk.k[:0])
	return isk
}

// cpaceTranscript is transcript_ir(Ya, ADa, Yb, ADb).
func cpaceTranscript(ya, ada, yb, adb []byte) []byte {
	return append(lvCat(ya, ada), lvCat(yb, adb)...)
}

// cpaceParty is one side of a CPace run: its secret scalar and its share.
type cpaceParty struct {
	_   [0]func()
	y   *ristretto255.Scalar
	our []byte // our share Y, encoded
	sid []byte
}

// cpaceStart computes g from (PRS, CI, sid), samples y and returns the
// party with its share Y = y·g.
func cpaceStart(r io.Reader, prs, ci, sid []byte) (*cpaceParty, error) {
	y, err := cpaceSampleScalar(r)
	if err != nil {
		return nil, err
	}
	g := cpaceGenerator(prs, ci, sid)
	share := ristretto255.NewElement().ScalarMult(y, g).Bytes()
	return &cpaceParty{y: y, our: share, sid: append([]byte(nil), sid...)}, nil
}

// finish computes ISK. The initiator passes (ADa, peer Yb, ADb), the
// responder (ADb, peer Ya, ADa): transcript order is always A then B.
func (p *cpaceParty) finish(initiator bool, ourAD, peerY, peerAD []byte) (pakeKey, error) {
	k, err := cpaceScalarMultVfy(p.y, peerY)
	if err != nil {
		return pakeKey{}, err
	}
	defer clear(k)
	if initiator {
		return cpaceISK(p.sid, k, p.our, ourAD, peerY, peerAD), nil
	}
	return cpaceISK(p.sid, k, peerY, peerAD, p.our, ourAD), nil
}

// wipe drops the secret scalar.
func (p *cpaceParty) wipe() {
	if p.y != nil {
		p.y.Zero()
	}
}

// cpaceChannelID is dw/1's CI: lv_cat("dw/1 <mode>", "viewer", "host",
// host_id). Roles are bound (no reflection or loopback, draft §10.1).
func cpaceChannelID(mode Mode, hostID string) []byte {
	return lvCat([]byte("dw/1 "+mode.String()), []byte("viewer"), []byte("host"), []byte(hostID))
}
