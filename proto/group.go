package proto

// Presentation group keys (SECURITY.md §4.7): one host, N viewers, one
// ciphertext per screen frame that the relay fans out to every viewer.
//
// Keys. Once per session the host makes an Ed25519 presentation key
// SK_p (PK_p public). Per epoch it draws a group key GK_e (32 bytes of its
// Rand) and sends {e, GK_e, PK_p, roster} to every member as a GroupKey
// message over that member's own pairwise Channel (reliable). The
// broadcast path never carries keys. A new epoch starts on every join (a
// newcomer cannot read earlier traffic), every leave or kick (a leaver
// cannot read later traffic) and after RekeyRecords records, RekeyBytes
// bytes or RekeyAfter, at most one per RekeyInterval (≤ 1 s, so a change
// is applied within 1 s), and only between frames.
//
// Broadcast record: the header of §4.4 (record.go) with type GROUP (11):
//
//	header (16 bytes, AD): ver u8 = 1 | type u8 = 11 | epoch u32 BE | seq u64 BE | len u16 BE
//	body: ChaCha20-Poly1305(GK_epoch, nonce = header[2:14] = epoch BE32 ‖ seq BE64, AD = header, plaintext)
//	plaintext: u8 kind ‖ rest
//	  kind 1 FIRST  message          first record of a frame
//	  kind 2 MORE   message          a further record of the frame
//	  kind 3 END    signature[64]    closes the frame
//
// seq counts the host's records of an epoch from 0 (the host is the only
// sender under GK_e, so (key, nonce) never repeats); a message is a
// session message of 1..MaxPayload bytes. A frame is a FIRST record, any
// number of MORE records (at most MaxGroupFrameRecords data records and
// MaxGroupFrameBytes bytes of messages in all) and an END record, all of
// one epoch. Its signature chains the data records as sent:
//
//	h_0 = SHA-256("dw/1 group chain\x00" ‖ PK_p)
//	h_i = SHA-256(h_{i−1} ‖ header_i ‖ ciphertext_i)      for each FIRST/MORE record
//	signature = Ed25519(SK_p, "dw/1 group frame\x00" ‖ h_n)
//
// so a viewer that holds GK_e, even with the relay's help, can make
// records the others decrypt but never a frame they deliver.
//
// Receiver rules: it accepts keys only through SetKey, from its pairwise
// channel; records strictly in order (epoch == current and seq ==
// expected, or seq 0 of a later epoch whose key it holds, between
// frames); it keeps the previous epoch's key until the first record of
// the next epoch or for EpochGrace after the next key arrived; it holds
// records of an epoch whose key has not arrived yet (MaxGroupPending
// records, MaxGroupPendingBytes); it buffers a frame's messages until
// END verifies and delivers nothing unverified. Records of epochs before
// its first key are dropped (they predate its membership). Any other
// record fails the receiver (sticky error) until Resync, which the viewer
// calls after the relay's "lost" notice: it then skips to the next FIRST
// record after the last one accepted.
//
// Input never travels here: each viewer sends input only over its
// pairwise channel, so one viewer cannot forge another's.

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// GroupKeySize is the size of a group key GK_e.
	GroupKeySize = chacha20poly1305.KeySize
	// GroupPublicKeySize is the size of the presentation key PK_p.
	GroupPublicKeySize = ed25519.PublicKeySize
	// GroupRekeyInterval is the default and longest GroupConfig.RekeyInterval.
	GroupRekeyInterval = time.Second
	// GroupEpochGrace is the default GroupReceiverConfig.EpochGrace.
	GroupEpochGrace = 2 * time.Second

	groupFirst = 1 // plaintext kinds
	groupMore  = 2
	groupEnd   = 3

	groupSigRecordLen = recordHeaderLen + 1 + ed25519.SignatureSize + recordTagLen
	maxGroupKeysHeld  = 3 // the stream's epoch and up to two newer ones
)

var (
	groupChainContext = []byte("dw/1 group chain\x00")
	groupSigContext   = []byte("dw/1 group frame\x00")
)

// Group errors. Record-level faults of a broadcast record wrap
// ErrRecordMalformed, ErrRecordOrder or ErrRecordAuth like a channel's.
var (
	// ErrGroupSignature: a frame's signature does not verify (a forged,
	// altered or spliced frame); nothing of it is delivered.
	ErrGroupSignature = errors.New("proto: group frame signature invalid")
	// ErrGroupFrame: records that do not form frames (a frame without its
	// start or end, cut by an epoch change, or over its limits).
	ErrGroupFrame = errors.New("proto: malformed group frame")
	// ErrGroupKey: a GroupKey the receiver refuses, or no key for a
	// record's epoch (it expired).
	ErrGroupKey = errors.New("proto: group key refused")
	// ErrGroupNoKey: the host has no epoch yet (nobody joined).
	ErrGroupNoKey = errors.New("proto: group has no key yet")
	// ErrGroupRekeyDue: a membership change or periodic rekey is due;
	// call Group.Poll and send its keys before the next frame.
	ErrGroupRekeyDue = errors.New("proto: group rekey due: call Poll and send the keys first")
	// ErrGroupMember: Join of a member or Leave of a non-member, a bad
	// id or name, or too many viewers.
	ErrGroupMember = errors.New("proto: group membership")
	// ErrGroupClosed: Close was called.
	ErrGroupClosed = errors.New("proto: group closed")
)

// IsGroupRecord reports whether a message from the relay is a broadcast
// record (for a GroupReceiver) rather than one of the viewer's pairwise
// channel. It looks at the first two bytes only.
func IsGroupRecord(msg []byte) bool {
	return len(msg) >= 2 && msg[0] == RecordVersion && recordType(msg[1]) == recGroup
}

// groupChainStart is h_0.
func groupChainStart(pk []byte) (h [sha256.Size]byte) {
	d := sha256.New()
	d.Write(groupChainContext)
	d.Write(pk)
	d.Sum(h[:0])
	return h
}

// groupChainNext sets *h to SHA-256(*h ‖ rec).
func groupChainNext(d hash.Hash, h *[sha256.Size]byte, rec []byte) {
	d.Reset()
	d.Write(h[:])
	d.Write(rec)
	d.Sum(h[:0])
}

func groupSigMessage(h *[sha256.Size]byte) []byte {
	m := make([]byte, 0, len(groupSigContext)+len(h))
	return append(append(m, groupSigContext...), h[:]...)
}

// GroupConfig configures a host's Group. Zero fields take their defaults.
type GroupConfig struct {
	Rand          io.Reader        // nil: crypto/rand; the group keys and SK_p's seed
	Clock         func() time.Time // nil: time.Now
	RekeyInterval time.Duration    // least time between two epochs; default and at most 1 s
	RekeyRecords  uint64           // default 2^20 records per epoch
	RekeyBytes    uint64           // default 256 MiB of messages per epoch
	RekeyAfter    time.Duration    // default 10 min per epoch
}

// GroupKeyUpdate is one GroupKey message for one viewer, to send (reliable)
// over that viewer's pairwise channel before the next broadcast record.
type GroupKeyUpdate struct {
	To  uint32
	Msg *GroupKey
}

// Group is the host's side of a presentation's broadcast (see the file
// comment). It is not safe for concurrent use: the host's session loop
// owns it. Use: Join and Leave as viewers come and go, Poll before each
// frame; send every GroupKeyUpdate they return over the viewer's channel
// first; then AppendRecord for each message of a frame and AppendEndFrame,
// and send each record to all viewers (relay slot 0).
type Group struct {
	cfg  GroupConfig
	sk   ed25519.PrivateKey
	pk   [GroupPublicKeySize]byte
	h0   [sha256.Size]byte
	sha  hash.Hash
	err  error // ErrGroupClosed once closed
	memb []GroupMember
	// dirty: the members changed since the current key was made.
	dirty bool

	epoch     uint32 // 0 until the first Join
	key       [GroupKeySize]byte
	aead      cipher.AEAD
	seq       uint64 // next seq in the epoch
	records   uint64
	bytes     uint64
	started   time.Time // the epoch's start, and so the last rekey
	nonce     [chacha20poly1305.NonceSize]byte
	inFrame   bool
	chain     [sha256.Size]byte
	frameRecs int
	frameLen  int
}

// NewGroup makes the session's presentation key. Nobody holds a group
// key until the first Join.
func NewGroup(cfg GroupConfig) (*Group, error) {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	switch {
	case cfg.RekeyInterval == 0:
		cfg.RekeyInterval = GroupRekeyInterval
	case cfg.RekeyInterval < 0 || cfg.RekeyInterval > GroupRekeyInterval:
		return nil, fmt.Errorf("proto: group rekey interval %v outside (0, %v]", cfg.RekeyInterval, GroupRekeyInterval)
	}
	if cfg.RekeyRecords == 0 {
		cfg.RekeyRecords = 1 << 20
	}
	if cfg.RekeyBytes == 0 {
		cfg.RekeyBytes = 256 << 20
	}
	if cfg.RekeyAfter <= 0 {
		cfg.RekeyAfter = 10 * time.Minute
	}
	var seed [ed25519.SeedSize]byte
	if _, err := io.ReadFull(cfg.Rand, seed[:]); err != nil {
		return nil, fmt.Errorf("proto: group presentation key: %w", err)
	}
	g := &Group{cfg: cfg, sk: ed25519.NewKeyFromSeed(seed[:]), sha: sha256.New()}
	clear(seed[:])
	copy(g.pk[:], g.sk.Public().(ed25519.PublicKey))
	g.h0 = groupChainStart(g.pk[:])
	return g, nil
}

// PresentationKey returns PK_p.
func (g *Group) PresentationKey() [GroupPublicKeySize]byte { return g.pk }

// Epoch returns the current epoch, 0 before the first.
func (g *Group) Epoch() uint32 { return g.epoch }

// Members returns the current members, in the order they joined.
func (g *Group) Members() []GroupMember { return slices.Clone(g.memb) }

// Join adds viewer id (its relay slot, ≠ 0) named name. If a new epoch
// can start now it does, and Join returns the GroupKey of the new epoch
// for every member, the newcomer included; otherwise (rate limit, or a
// frame is open) it returns none and Poll applies the change when it can.
func (g *Group) Join(id uint32, name string) ([]GroupKeyUpdate, error) {
	if g.err != nil {
		return nil, g.err
	}
	switch {
	case id == 0:
		return nil, fmt.Errorf("%w: viewer id 0", ErrGroupMember)
	case slices.ContainsFunc(g.memb, func(m GroupMember) bool { return m.ID == id }):
		return nil, fmt.Errorf("%w: viewer %d already joined", ErrGroupMember, id)
	case len(g.memb) >= MaxGroupViewers:
		return nil, fmt.Errorf("%w: %d viewers already, the most there can be", ErrGroupMember, len(g.memb))
	}
	if err := checkText("viewer name", name, MaxHelloField); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrGroupMember, err)
	}
	g.memb = append(g.memb, GroupMember{ID: id, Name: name})
	g.dirty = true
	return g.Poll()
}

// Leave removes viewer id (it left, or the host kicked it). It gets no
// further key; the new epoch starts now or, rate-limited, at the latest
// RekeyInterval after the previous one (Poll). Until then, and to the end
// of a frame already open, the leaver could still read the broadcast.
func (g *Group) Leave(id uint32) ([]GroupKeyUpdate, error) {
	if g.err != nil {
		return nil, g.err
	}
	i := slices.IndexFunc(g.memb, func(m GroupMember) bool { return m.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("%w: viewer %d is not a member", ErrGroupMember, id)
	}
	g.memb = slices.Delete(g.memb, i, i+1)
	g.dirty = true
	return g.Poll()
}

// rekeyWanted reports whether a new epoch is wanted, and from when on.
func (g *Group) rekeyWanted() (time.Time, bool) {
	switch {
	case g.dirty:
	case g.epoch == 0:
		return time.Time{}, false
	case g.records >= g.cfg.RekeyRecords || g.bytes >= g.cfg.RekeyBytes || g.seq >= maxRecordSeq:
	default:
		return g.started.Add(g.cfg.RekeyAfter), true
	}
	if g.epoch == 0 {
		return time.Time{}, true
	}
	return g.started.Add(g.cfg.RekeyInterval), true
}

// Due reports whether a new epoch is pending and from when Poll starts
// it (a time in the past: now, between frames). The host's loop calls
// Poll at the latest then.
func (g *Group) Due() (time.Time, bool) {
	at, ok := g.rekeyWanted()
	if !ok || g.err != nil {
		return time.Time{}, false
	}
	return at, true
}

// Poll starts a new epoch if one is due and allowed now (between frames,
// RekeyInterval after the last), and returns the GroupKey of the new epoch
// for every member. Otherwise it returns none.
func (g *Group) Poll() ([]GroupKeyUpdate, error) {
	if g.err != nil {
		return nil, g.err
	}
	at, ok := g.rekeyWanted()
	if !ok || g.inFrame || g.cfg.Clock().Before(at) {
		return nil, nil
	}
	return g.rekey()
}

func (g *Group) rekey() ([]GroupKeyUpdate, error) {
	if g.epoch == math.MaxUint32 {
		return nil, ErrEpochExhausted
	}
	var k [GroupKeySize]byte
	if _, err := io.ReadFull(g.cfg.Rand, k[:]); err != nil {
		return nil, fmt.Errorf("proto: group key: %w", err)
	}
	if k == [GroupKeySize]byte{} {
		return nil, errors.New("proto: group key: random source returned zeros")
	}
	clear(g.key[:])
	g.key = k
	clear(k[:])
	g.aead = newChaCha20Poly1305(g.key[:])
	g.epoch++
	g.seq, g.records, g.bytes = 0, 0, 0
	g.started = g.cfg.Clock()
	g.dirty = false
	roster := slices.Clone(g.memb)
	out := make([]GroupKeyUpdate, len(roster))
	for i, m := range roster {
		out[i] = GroupKeyUpdate{To: m.ID, Msg: &GroupKey{
			Epoch: g.epoch, Key: g.key, PresentationKey: g.pk, You: m.ID, Roster: roster,
		}}
	}
	return out, nil
}

// AppendRecord appends to dst the broadcast record carrying msg, a session
// message of 1..MaxPayload bytes, as the next part of the current frame
// (starting one if none is open). A frame is at most MaxGroupFrameRecords
// messages and MaxGroupFrameBytes bytes. Starting a frame while a new
// epoch is due fails with ErrGroupRekeyDue.
func (g *Group) AppendRecord(dst, msg []byte) ([]byte, error) {
	if g.err != nil {
		return dst, g.err
	}
	if g.epoch == 0 {
		return dst, ErrGroupNoKey
	}
	if len(msg) == 0 || len(msg) > MaxPayload {
		return dst, fmt.Errorf("%w: group message of %d bytes, want 1..%d", ErrRecordMalformed, len(msg), MaxPayload)
	}
	kind := byte(groupMore)
	if !g.inFrame {
		if at, ok := g.rekeyWanted(); ok && !g.cfg.Clock().Before(at) {
			return dst, ErrGroupRekeyDue
		}
		kind = groupFirst
		g.frameRecs, g.frameLen = 0, 0
		g.chain = g.h0
	}
	if g.frameRecs >= MaxGroupFrameRecords || g.frameLen+len(msg) > MaxGroupFrameBytes {
		return dst, fmt.Errorf("%w: frame would exceed %d records or %d bytes", ErrGroupFrame, MaxGroupFrameRecords, MaxGroupFrameBytes)
	}
	if g.seq > maxRecordSeq {
		return dst, fmt.Errorf("proto: group record: sequence number %d past limit: rekey first", g.seq)
	}
	start := len(dst)
	dst = g.seal(dst, kind, msg)
	groupChainNext(g.sha, &g.chain, dst[start:])
	g.inFrame = true
	g.frameRecs++
	g.frameLen += len(msg)
	return dst, nil
}

// AppendEndFrame appends the record that closes the current frame: its
// signature under SK_p.
func (g *Group) AppendEndFrame(dst []byte) ([]byte, error) {
	if g.err != nil {
		return dst, g.err
	}
	if !g.inFrame {
		return dst, fmt.Errorf("%w: no frame open", ErrGroupFrame)
	}
	if g.seq > maxRecordSeq {
		return dst, fmt.Errorf("proto: group record: sequence number %d past limit", g.seq)
	}
	sig := ed25519.Sign(g.sk, groupSigMessage(&g.chain))
	dst = g.seal(dst, groupEnd, sig)
	g.inFrame = false
	return dst, nil
}

// seal appends one record: header, kind ‖ body encrypted under GK_e.
func (g *Group) seal(dst []byte, kind byte, body []byte) []byte {
	n := 1 + len(body)
	start := len(dst)
	dst = append(dst, RecordVersion, byte(recGroup))
	dst = be.AppendUint32(dst, g.epoch)
	dst = be.AppendUint64(dst, g.seq)
	dst = be.AppendUint16(dst, uint16(n+recordTagLen))
	dst = append(append(dst, kind), body...)
	copy(g.nonce[:], dst[start+2:start+14])
	hdr := dst[start : start+recordHeaderLen]
	dst = g.aead.Seal(dst[:start+recordHeaderLen], g.nonce[:], dst[start+recordHeaderLen:], hdr)
	g.seq++
	g.records++
	g.bytes += uint64(len(body))
	return dst
}

// Close erases the keys; the Group is unusable afterwards.
func (g *Group) Close() {
	clear(g.key[:])
	clear(g.sk)
	g.aead = nil
	g.err = ErrGroupClosed
}

// GroupReceiverConfig configures a viewer's GroupReceiver.
type GroupReceiverConfig struct {
	// Deliver is called with the messages of each frame whose signature
	// verified, in order, with the receiver locked: it must not call the
	// receiver. The slices are valid only during the call. An error it
	// returns is returned by the Open or SetKey that delivered.
	Deliver func(msgs [][]byte) error
	// Clock is nil for time.Now.
	Clock func() time.Time
	// EpochGrace: how long an epoch's key stays usable once the next
	// epoch's key arrived, if the first record of the next epoch has not
	// come yet. Default GroupEpochGrace (2 s).
	EpochGrace time.Duration
}

type groupEpochKey struct {
	epoch uint32
	key   [GroupKeySize]byte
	aead  cipher.AEAD
	until time.Time // zero for the newest key
}

// GroupReceiver is a viewer's side of a presentation's broadcast (see the
// file comment). It is safe for concurrent use: SetKey typically runs on
// the pairwise channel's receive loop and Open on the broadcast one.
type GroupReceiver struct {
	mu      sync.Mutex
	cfg     GroupReceiverConfig
	err     error // sticky until Resync
	closed  bool
	pk      ed25519.PublicKey
	h0      [sha256.Size]byte
	sha     hash.Hash
	keys    []groupEpochKey // ascending epochs, ≤ maxGroupKeysHeld
	roster  []GroupMember
	first   uint32 // epoch of the first key; earlier records are not ours
	started bool   // a record was accepted
	epoch   uint32 // epoch of the last record accepted
	next    uint64 // seq expected next in epoch
	resync  bool   // skip to the next FIRST record

	inFrame bool
	chain   [sha256.Size]byte
	buf     []byte // the open frame's plaintexts, kind byte included
	offs    []int  // start of each plaintext in buf
	msgs    [][]byte
	nonce   [chacha20poly1305.NonceSize]byte

	pending      [][]byte // records of epochs whose key has not arrived
	pendingBytes int
}

// NewGroupReceiver returns a receiver with no key: it drops broadcast
// records until the first SetKey.
func NewGroupReceiver(cfg GroupReceiverConfig) *GroupReceiver {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.EpochGrace <= 0 {
		cfg.EpochGrace = GroupEpochGrace
	}
	if cfg.Deliver == nil {
		cfg.Deliver = func([][]byte) error { return nil }
	}
	return &GroupReceiver{cfg: cfg, sha: sha256.New()}
}

// Epoch returns the epoch of the last broadcast record accepted.
func (r *GroupReceiver) Epoch() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.epoch
}

// Roster returns the roster of the newest key.
func (r *GroupReceiver) Roster() []GroupMember {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.roster)
}

// Err returns the error that failed the receiver, nil if none.
func (r *GroupReceiver) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// SetKey installs a GroupKey the viewer received over its pairwise
// channel — never anything from the broadcast path. The epoch must be
// newer than every key before, PK_p the same as in the first. Records
// held for its epoch are then opened (and frames delivered); SetKey
// returns the first error of those, which may have failed the receiver.
func (r *GroupReceiver) SetKey(k *GroupKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrGroupClosed
	}
	if err := k.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrGroupKey, err)
	}
	if r.pk != nil && !bytes.Equal(r.pk, k.PresentationKey[:]) {
		return fmt.Errorf("%w: epoch %d: presentation key changed", ErrGroupKey, k.Epoch)
	}
	if n := len(r.keys); n > 0 && k.Epoch <= r.keys[n-1].epoch || r.started && k.Epoch <= r.epoch {
		return fmt.Errorf("%w: epoch %d is not newer than the last", ErrGroupKey, k.Epoch)
	}
	if r.pk == nil {
		r.pk = ed25519.PublicKey(slices.Clone(k.PresentationKey[:]))
		r.h0 = groupChainStart(r.pk)
		r.first = k.Epoch
	}
	now := r.cfg.Clock()
	if n := len(r.keys); n > 0 {
		r.keys[n-1].until = now.Add(r.cfg.EpochGrace)
	}
	if len(r.keys) == maxGroupKeysHeld {
		r.dropKeys(1)
	}
	nk := groupEpochKey{epoch: k.Epoch, key: k.Key}
	nk.aead = newChaCha20Poly1305(nk.key[:])
	r.keys = append(r.keys, nk)
	r.roster = slices.Clone(k.Roster)
	// Open the records that waited for this key, in order. A failed
	// receiver drops them instead: after Resync it skips to a later frame.
	held := r.pending
	r.pending, r.pendingBytes = nil, 0
	var first error
	for _, rec := range held {
		if r.err != nil {
			if binary.BigEndian.Uint32(rec[2:6]) > k.Epoch {
				r.hold(rec)
			}
			continue
		}
		if err := r.open(rec); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// dropKeys erases the oldest n keys.
func (r *GroupReceiver) dropKeys(n int) {
	for i := range r.keys[:n] {
		clear(r.keys[i].key[:])
		r.keys[i].aead = nil
	}
	r.keys = slices.Delete(r.keys, 0, n)
}

// keyFor returns the key of epoch e, or nil if it is not held or expired.
func (r *GroupReceiver) keyFor(e uint32) *groupEpochKey {
	for i := range r.keys {
		k := &r.keys[i]
		if k.epoch == e {
			if !k.until.IsZero() && r.cfg.Clock().After(k.until) {
				return nil
			}
			return k
		}
	}
	return nil
}

// Open takes one broadcast record from the relay (slot prefix removed).
// It delivers the frame it completes, if any, through Deliver. A record
// the receiver cannot accept fails it: Open returns the error, now and
// until Resync, and delivers nothing of the open frame.
func (r *GroupReceiver) Open(rec []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrGroupClosed
	}
	return r.open(rec)
}

func (r *GroupReceiver) fail(err error) error {
	r.err = err
	r.inFrame = false
	r.buf, r.offs = r.buf[:0], r.offs[:0]
	return err
}

func (r *GroupReceiver) open(rec []byte) error {
	if r.err != nil {
		return r.err
	}
	h, err := parseRecordHeader(rec)
	if err != nil {
		return r.fail(err)
	}
	if h.typ != recGroup {
		return r.fail(fmt.Errorf("%w: %v record on the broadcast path", ErrRecordMalformed, h.typ))
	}
	ptLen := h.len - recordTagLen
	if ptLen < 1 {
		return r.fail(fmt.Errorf("%w: empty group record", ErrRecordMalformed))
	}
	if h.seq > maxRecordSeq {
		return r.fail(fmt.Errorf("%w: sequence number %d past limit", ErrRecordOrder, h.seq))
	}
	if n := len(r.keys); n == 0 || h.epoch > r.keys[n-1].epoch {
		r.hold(rec)
		return nil
	}
	switch {
	case !r.started && h.epoch < r.first:
		return nil // sent before we joined
	case !r.started:
		if !r.resync && h.seq != 0 {
			return r.fail(fmt.Errorf("%w: first record epoch %d seq %d, want seq 0", ErrRecordOrder, h.epoch, h.seq))
		}
	case h.epoch < r.epoch:
		return r.fail(fmt.Errorf("%w: got epoch %d seq %d, want epoch %d seq %d", ErrRecordOrder, h.epoch, h.seq, r.epoch, r.next))
	case h.epoch == r.epoch:
		if h.seq != r.next && !(r.resync && h.seq > r.next) {
			return r.fail(fmt.Errorf("%w: got epoch %d seq %d, want epoch %d seq %d", ErrRecordOrder, h.epoch, h.seq, r.epoch, r.next))
		}
	default: // a later epoch
		if r.inFrame {
			return r.fail(fmt.Errorf("%w: frame of epoch %d cut by epoch %d", ErrGroupFrame, r.epoch, h.epoch))
		}
		if h.seq != 0 && !r.resync {
			return r.fail(fmt.Errorf("%w: got epoch %d seq %d, want seq 0 of a new epoch", ErrRecordOrder, h.epoch, h.seq))
		}
	}
	k := r.keyFor(h.epoch)
	if k == nil {
		return r.fail(fmt.Errorf("%w: no key for epoch %d (expired or skipped)", ErrGroupKey, h.epoch))
	}
	if !r.inFrame {
		r.buf, r.offs = r.buf[:0], r.offs[:0]
	}
	// Check the size before allocating: a frame's messages, plus one
	// signature record, fit in MaxGroupFrameBytes + the END plaintext.
	if len(r.buf)+ptLen > MaxGroupFrameBytes+MaxGroupFrameRecords+1+ed25519.SignatureSize {
		return r.fail(fmt.Errorf("%w: frame exceeds %d bytes", ErrGroupFrame, MaxGroupFrameBytes))
	}
	r.grow(ptLen)
	copy(r.nonce[:], rec[2:14])
	off := len(r.buf)
	pt, err := k.aead.Open(r.buf[off:off], r.nonce[:], rec[recordHeaderLen:], rec[:recordHeaderLen])
	if err != nil {
		return r.fail(fmt.Errorf("%w: group epoch %d seq %d", ErrRecordAuth, h.epoch, h.seq))
	}
	// Authenticated under GK_e: in order from someone holding the key,
	// not yet from the host.
	if r.started && h.epoch > r.epoch || !r.started {
		r.dropOlderKeys(h.epoch)
	}
	r.started, r.epoch, r.next = true, h.epoch, h.seq+1
	kind := pt[0]
	if r.resync {
		if kind != groupFirst {
			return nil
		}
		r.resync = false
	}
	switch kind {
	case groupFirst, groupMore:
		switch {
		case kind == groupFirst && r.inFrame:
			return r.fail(fmt.Errorf("%w: frame start at epoch %d seq %d inside a frame", ErrGroupFrame, h.epoch, h.seq))
		case kind == groupMore && !r.inFrame:
			return r.fail(fmt.Errorf("%w: frame continuation at epoch %d seq %d without a start", ErrGroupFrame, h.epoch, h.seq))
		case len(pt) < 2:
			return r.fail(fmt.Errorf("%w: empty group message", ErrRecordMalformed))
		case len(r.offs) >= MaxGroupFrameRecords:
			return r.fail(fmt.Errorf("%w: frame exceeds %d records", ErrGroupFrame, MaxGroupFrameRecords))
		case off-len(r.offs)+len(pt)-1 > MaxGroupFrameBytes:
			return r.fail(fmt.Errorf("%w: frame exceeds %d bytes", ErrGroupFrame, MaxGroupFrameBytes))
		}
		if kind == groupFirst {
			r.inFrame = true
			r.chain = r.h0
		}
		groupChainNext(r.sha, &r.chain, rec)
		r.buf = r.buf[:off+len(pt)]
		r.offs = append(r.offs, off)
		return nil
	case groupEnd:
		if !r.inFrame {
			return r.fail(fmt.Errorf("%w: frame end at epoch %d seq %d without a start", ErrGroupFrame, h.epoch, h.seq))
		}
		if len(pt) != 1+ed25519.SignatureSize {
			return r.fail(fmt.Errorf("%w: frame end of %d bytes", ErrRecordMalformed, len(pt)))
		}
		if !ed25519.Verify(r.pk, groupSigMessage(&r.chain), pt[1:]) {
			return r.fail(fmt.Errorf("%w: frame ending at epoch %d seq %d", ErrGroupSignature, h.epoch, h.seq))
		}
		r.msgs = r.msgs[:0]
		for i, o := range r.offs {
			end := off
			if i+1 < len(r.offs) {
				end = r.offs[i+1]
			}
			r.msgs = append(r.msgs, r.buf[o+1:end])
		}
		r.inFrame = false
		err := r.cfg.Deliver(r.msgs)
		clear(r.msgs)
		return err
	}
	return r.fail(fmt.Errorf("%w: group record kind %d", ErrRecordMalformed, kind))
}

// dropOlderKeys erases the keys of epochs before e: the stream moved on.
func (r *GroupReceiver) dropOlderKeys(e uint32) {
	n := 0
	for n < len(r.keys) && r.keys[n].epoch < e {
		n++
	}
	r.dropKeys(n)
}

// grow makes room for n more bytes in buf without doubling past the limit.
func (r *GroupReceiver) grow(n int) {
	need := len(r.buf) + n
	if need <= cap(r.buf) {
		return
	}
	c := min(max(2*cap(r.buf), need, 64<<10), MaxGroupFrameBytes+MaxGroupFrameRecords+1+ed25519.SignatureSize)
	r.buf = append(make([]byte, 0, max(c, need)), r.buf...)
}

// hold keeps a copy of a record whose epoch's key has not arrived,
// dropping the oldest held records beyond the limits (a gap the receiver
// will then report, or records from before it joined).
func (r *GroupReceiver) hold(rec []byte) {
	var b []byte
	for len(r.pending) > 0 && (len(r.pending) >= MaxGroupPending || r.pendingBytes+len(rec) > MaxGroupPendingBytes) {
		b = r.pending[0]
		r.pendingBytes -= len(b)
		r.pending[0] = nil
		r.pending = r.pending[1:]
	}
	r.pending = append(r.pending, append(b[:0], rec...))
	r.pendingBytes += len(rec)
}

// Resync clears a failure and the open frame after the relay reported lost
// messages (or after an error): the receiver then drops records up to the
// next frame start after the last record it accepted, and goes on strictly
// in order from there. Keys are kept.
func (r *GroupReceiver) Resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = nil
	r.inFrame = false
	r.buf, r.offs = r.buf[:0], r.offs[:0]
	r.resync = true
}

// Close erases the keys and buffers; the receiver is unusable afterwards.
func (r *GroupReceiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropKeys(len(r.keys))
	clear(r.buf[:cap(r.buf)])
	r.buf, r.offs, r.pending, r.pendingBytes = nil, nil, nil, 0
	r.closed = true
	r.err = ErrGroupClosed
}
