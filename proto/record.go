package proto

// Record layer of dw/1 (SECURITY.md §4.4). After the handshake every
// MsgConn message is exactly one record:
//
//	header (16 bytes, the AEAD associated data):
//	  ver u8 = 1 | type u8 | epoch u32 BE | seq u64 BE | len u16 BE
//	body (len bytes):
//	  ChaCha20-Poly1305(k[dir][epoch], nonce = 0x00000000 ‖ LE64(seq), AD = header, plaintext)
//
// len is the body length, plaintext + 16-byte tag, at most 65 535 (the
// Noise maximum), so a plaintext is at most 65 519 bytes. Each direction
// has its own key (the two halves of Noise Split), so a record reflected
// to its sender fails authentication.
//
// Invariants:
//   - The receiver accepts exactly epoch == current and seq == expected;
//     replays, reorders, gaps, other epochs and bad lengths kill the
//     connection before any plaintext is released. Sizes are checked
//     before anything is allocated or decrypted.
//   - seq starts at 0 in every epoch and is never used twice with a key.
//     The sender switches epochs (REKEY) after RekeyRecords records,
//     RekeyBytes bytes of plaintext or RekeyAfter, whichever comes first,
//     and always before seq reaches maxRecordSeq = 2^64−4. Nonces 2^64−2
//     (flynn's ErrMaxNonce) and 2^64−1 (reserved for Rekey) are never
//     used; epoch 2^32−1 is never passed (ErrEpochExhausted).
//   - Rekey is Noise's: k' = ENCRYPT(k, 2^64−1, "", 0^32)[:32]. The old
//     key is overwritten and its AEAD dropped (forward secrecy inside a
//     session).
//   - There is no record type without encryption and no null cipher.
//
// Record types (plaintext layout):
//
//	DATA      1  app_seq u64 BE ‖ message   reliable application message
//	DATAGRAM  2  app_seq u64 BE ‖ message   unreliable (screen fragments)
//	ACK       3  app_seq u64 BE             cumulative: all ≤ app_seq received
//	REKEY     4  (empty)                    next record is epoch+1, seq 0
//	CLOSE     5  reason u8 ‖ text           authenticated end of session
//	KEEPALIVE 6  (empty)
//	SAS_COMMIT 7  C[32]      SAS_NONCE 8  N_V[32]      SAS_REVEAL 9  N_H[32]
//	GROUP_KEY 10 reserved, refused: the group key travels as a GroupKey
//	             session message inside DATA (msg_group.go)
//	GROUP     11 broadcast record of a presentation under the group key, not
//	             the channel's keys (group.go); a channel refuses it
//
// recordSealer and recordOpener are not safe for concurrent use; the
// Channel serialises them (channel.go).

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// RecordVersion is the version byte of every dw/1 record.
	RecordVersion = 1
	// recordHeaderLen is the size of the authenticated header.
	recordHeaderLen = 16
	// recordTagLen is the Poly1305 tag size.
	recordTagLen = chacha20poly1305.Overhead
	// MaxRecordBody is the largest body (ciphertext and tag).
	MaxRecordBody = 65535
	// MaxRecordPlaintext is the largest plaintext of one record.
	MaxRecordPlaintext = MaxRecordBody - recordTagLen
	// appSeqLen is the application sequence number in DATA and DATAGRAM.
	appSeqLen = 8
	// MaxPayload is the largest application message one record carries,
	// the largest msg Channel.Send accepts: 65 519 bytes of plaintext less
	// the 8-byte application sequence number.
	MaxPayload = MaxRecordPlaintext - appSeqLen
	// MaxRecordSize is the largest record on the wire.
	MaxRecordSize = recordHeaderLen + MaxRecordBody
	// maxCloseText bounds the text of a CLOSE record.
	maxCloseText = 256
	// maxRecordSeq is the last seq a record may use in an epoch; the
	// sender rekeys before passing it.
	maxRecordSeq = math.MaxUint64 - 3
)

// recordType is the type byte of a record header.
type recordType uint8

const (
	recData      recordType = 1  // app_seq u64 ‖ message (reliable)
	recDatagram  recordType = 2  // app_seq u64 ‖ message (unreliable)
	recAck       recordType = 3  // app_seq u64
	recRekey     recordType = 4  // empty
	recClose     recordType = 5  // reason u8 ‖ text
	recKeepalive recordType = 6  // empty
	recSASCommit recordType = 7  // C[32]
	recSASNonce  recordType = 8  // N_V[32]
	recSASReveal recordType = 9  // N_H[32]
	recGroupKey  recordType = 10 // reserved: the group key is a GroupKey message (§4.7)
	recGroup     recordType = 11 // broadcast record of a presentation (group.go)
)

func (t recordType) String() string {
	switch t {
	case recData:
		return "DATA"
	case recDatagram:
		return "DATAGRAM"
	case recAck:
		return "ACK"
	case recRekey:
		return "REKEY"
	case recClose:
		return "CLOSE"
	case recKeepalive:
		return "KEEPALIVE"
	case recSASCommit:
		return "SAS_COMMIT"
	case recSASNonce:
		return "SAS_NONCE"
	case recSASReveal:
		return "SAS_REVEAL"
	case recGroupKey:
		return "GROUP_KEY"
	case recGroup:
		return "GROUP"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Record errors. Each one ends the connection; the channel can be resumed
// on a new connection (resume.go) unless it was closed.
var (
	// ErrRecordMalformed: bad version, length, type or plaintext layout.
	ErrRecordMalformed = errors.New("proto: malformed record")
	// ErrRecordOrder: a record out of order (replayed, reordered, after a
	// gap, or from another epoch).
	ErrRecordOrder = errors.New("proto: record out of order")
	// ErrRecordAuth: the record failed authentication (tampered, forged,
	// reflected, spliced from another session).
	ErrRecordAuth = errors.New("proto: record authentication failed")
	// ErrEpochExhausted: 2^32 epochs used; the session must be resumed
	// (new keys) or ended.
	ErrEpochExhausted = errors.New("proto: record epochs exhausted")
)

// rekeyPolicy says when a sender moves to the next epoch.
type rekeyPolicy struct {
	records uint64        // records per epoch, default 2^20
	bytes   uint64        // plaintext bytes per epoch, default 256 MiB
	after   time.Duration // epoch age, default 10 min
}

// aeadFunc makes the AEAD for a traffic key. Tests wrap it to record
// every (key, nonce) the channel uses.
type aeadFunc func(key []byte) cipher.AEAD

func newChaCha20Poly1305(key []byte) cipher.AEAD {
	a, err := chacha20poly1305.New(key)
	if err != nil {
		panic("proto: chacha20poly1305: " + err.Error()) // only for a wrong key size
	}
	return a
}

// recordNonce is 0x00000000 ‖ LE64(seq), the Noise ChaChaPoly nonce.
func recordNonce(n *[chacha20poly1305.NonceSize]byte, seq uint64) {
	clear(n[:4])
	binary.LittleEndian.PutUint64(n[4:], seq)
}

// nextTrafficKey is Noise's Rekey: ENCRYPT(k, 2^64−1, "", zeros)[:32].
func nextTrafficKey(aead cipher.AEAD) trafficKey {
	var nonce [chacha20poly1305.NonceSize]byte
	recordNonce(&nonce, math.MaxUint64)
	var zeros [32]byte
	out := aead.Seal(nil, nonce[:], zeros[:], nil)
	var k trafficKey
	copy(k.k[:], out[:32])
	clear(out)
	return k
}

// recordSealer encrypts one direction.
type recordSealer struct {
	newAEAD aeadFunc
	policy  rekeyPolicy
	key     trafficKey
	aead    cipher.AEAD
	epoch   uint32
	seq     uint64 // next seq to use
	records uint64 // records sealed in this epoch
	bytes   uint64 // plaintext bytes sealed in this epoch
	started time.Time
	nonce   [chacha20poly1305.NonceSize]byte // kept here so it does not escape per record
}

func newRecordSealer(k trafficKey, f aeadFunc, p rekeyPolicy, now time.Time) *recordSealer {
	if f == nil {
		f = newChaCha20Poly1305
	}
	s := &recordSealer{newAEAD: f, policy: p, key: k, started: now}
	s.aead = f(s.key.k[:])
	return s
}

// needRekey reports whether the next record must be preceded by REKEY.
func (s *recordSealer) needRekey(now time.Time) bool {
	return s.seq >= maxRecordSeq ||
		s.policy.records > 0 && s.records >= s.policy.records ||
		s.policy.bytes > 0 && s.bytes >= s.policy.bytes ||
		s.policy.after > 0 && now.Sub(s.started) >= s.policy.after
}

// seal appends one record to dst: header, then prefix ‖ body encrypted.
// prefix is small (a sequence number); body is the message. It refuses to
// use a seq past maxRecordSeq (the caller must rekey first).
func (s *recordSealer) seal(dst []byte, typ recordType, prefix, body []byte) ([]byte, error) {
	n := len(prefix) + len(body)
	if n > MaxRecordPlaintext {
		return dst, fmt.Errorf("%w: plaintext of %d bytes exceeds limit %d", ErrRecordMalformed, n, MaxRecordPlaintext)
	}
	if s.seq > maxRecordSeq {
		return dst, fmt.Errorf("proto: record: sequence number %d past limit: rekey first", s.seq)
	}
	start := len(dst)
	dst = append(dst, RecordVersion, byte(typ))
	dst = binary.BigEndian.AppendUint32(dst, s.epoch)
	dst = binary.BigEndian.AppendUint64(dst, s.seq)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n+recordTagLen))
	dst = append(dst, prefix...)
	dst = append(dst, body...)
	recordNonce(&s.nonce, s.seq)
	hdr := dst[start : start+recordHeaderLen]
	pt := dst[start+recordHeaderLen:]
	dst = s.aead.Seal(dst[:start+recordHeaderLen], s.nonce[:], pt, hdr)
	s.seq++
	s.records++
	s.bytes += uint64(n)
	return dst, nil
}

// rekey moves to the next epoch. The caller has sealed a REKEY record.
func (s *recordSealer) rekey(now time.Time) error {
	if s.epoch == math.MaxUint32 {
		return ErrEpochExhausted
	}
	next := nextTrafficKey(s.aead)
	s.key.wipe()
	s.key = next
	s.aead = s.newAEAD(s.key.k[:])
	s.epoch++
	s.seq, s.records, s.bytes = 0, 0, 0
	s.started = now
	return nil
}

func (s *recordSealer) wipe() {
	s.key.wipe()
	s.aead = nil
}

// recordOpener decrypts one direction.
type recordOpener struct {
	newAEAD aeadFunc
	key     trafficKey
	aead    cipher.AEAD
	epoch   uint32
	seq     uint64 // next expected seq
	buf     []byte // plaintext buffer, reused
	nonce   [chacha20poly1305.NonceSize]byte
}

func newRecordOpener(k trafficKey, f aeadFunc) *recordOpener {
	if f == nil {
		f = newChaCha20Poly1305
	}
	o := &recordOpener{newAEAD: f, key: k}
	o.aead = f(o.key.k[:])
	return o
}

// recordHeader is a parsed header.
type recordHeader struct {
	typ   recordType
	epoch uint32
	seq   uint64
	len   int
}

// parseRecordHeader checks the header of a whole record message: version,
// and that len matches the message exactly and is within limits. It reads
// nothing past the header and allocates nothing.
func parseRecordHeader(msg []byte) (recordHeader, error) {
	var h recordHeader
	if len(msg) < recordHeaderLen {
		return h, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrRecordMalformed, len(msg), recordHeaderLen)
	}
	if msg[0] != RecordVersion {
		return h, fmt.Errorf("%w: version %d, want %d", ErrRecordMalformed, msg[0], RecordVersion)
	}
	h.typ = recordType(msg[1])
	h.epoch = binary.BigEndian.Uint32(msg[2:6])
	h.seq = binary.BigEndian.Uint64(msg[6:14])
	h.len = int(binary.BigEndian.Uint16(msg[14:16]))
	if h.len < recordTagLen {
		return h, fmt.Errorf("%w: length %d shorter than the tag", ErrRecordMalformed, h.len)
	}
	if body := len(msg) - recordHeaderLen; body != h.len {
		if body > MaxRecordBody {
			return h, fmt.Errorf("%w: body of %d bytes exceeds limit %d", ErrRecordMalformed, body, MaxRecordBody)
		}
		return h, fmt.Errorf("%w: header length %d, body %d bytes", ErrRecordMalformed, h.len, body)
	}
	return h, nil
}

// open authenticates and decrypts one record. The returned plaintext is
// valid until the next call. On success the expected seq advances; after
// a REKEY record the opener moves to the next epoch.
func (o *recordOpener) open(msg []byte) (recordType, []byte, error) {
	h, err := parseRecordHeader(msg)
	if err != nil {
		return 0, nil, err
	}
	if h.epoch != o.epoch || h.seq != o.seq {
		return 0, nil, fmt.Errorf("%w: got epoch %d seq %d, want epoch %d seq %d", ErrRecordOrder, h.epoch, h.seq, o.epoch, o.seq)
	}
	if h.seq > maxRecordSeq {
		return 0, nil, fmt.Errorf("%w: sequence number %d past limit", ErrRecordOrder, h.seq)
	}
	recordNonce(&o.nonce, h.seq)
	if cap(o.buf) < h.len {
		o.buf = make([]byte, 0, max(h.len, 1024))
	}
	pt, err := o.aead.Open(o.buf[:0], o.nonce[:], msg[recordHeaderLen:], msg[:recordHeaderLen])
	if err != nil {
		return 0, nil, fmt.Errorf("%w: epoch %d seq %d", ErrRecordAuth, h.epoch, h.seq)
	}
	o.seq++
	if err := checkRecordPlaintext(h.typ, pt); err != nil {
		return 0, nil, err
	}
	if h.typ == recRekey {
		if o.epoch == math.MaxUint32 {
			return 0, nil, ErrEpochExhausted
		}
		next := nextTrafficKey(o.aead)
		o.key.wipe()
		o.key = next
		o.aead = o.newAEAD(o.key.k[:])
		o.epoch++
		o.seq = 0
	}
	return h.typ, pt, nil
}

func (o *recordOpener) wipe() {
	o.key.wipe()
	o.aead = nil
	clear(o.buf[:cap(o.buf)])
}

// checkRecordPlaintext checks the layout of an authenticated plaintext.
func checkRecordPlaintext(t recordType, pt []byte) error {
	switch t {
	case recData, recDatagram:
		if len(pt) < appSeqLen {
			return fmt.Errorf("%w: %v of %d bytes lacks the sequence number", ErrRecordMalformed, t, len(pt))
		}
	case recAck:
		if len(pt) != appSeqLen {
			return fmt.Errorf("%w: ACK of %d bytes", ErrRecordMalformed, len(pt))
		}
	case recRekey, recKeepalive:
		if len(pt) != 0 {
			return fmt.Errorf("%w: %v with %d bytes of payload", ErrRecordMalformed, t, len(pt))
		}
	case recClose:
		if len(pt) < 1 || len(pt) > 1+maxCloseText {
			return fmt.Errorf("%w: CLOSE of %d bytes", ErrRecordMalformed, len(pt))
		}
	case recSASCommit, recSASNonce, recSASReveal:
		if len(pt) != sasNonceLen {
			return fmt.Errorf("%w: %v of %d bytes, want %d", ErrRecordMalformed, t, len(pt), sasNonceLen)
		}
	default:
		return fmt.Errorf("%w: unknown type %d", ErrRecordMalformed, uint8(t))
	}
	return nil
}
