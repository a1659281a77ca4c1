package proto

// Resumption for relay fail-over without a new PAKE (SECURITY.md §4.5).
//
// At the end of the XX handshake both ends derive
//
//	RS_0 = HKDF-SHA-256(ikm = k_v→h ‖ k_h→v, salt = h, info = "dw/1 resume")
//
// When the relay is lost, both ends get a new connection for the same
// session (through another relay) and call Channel.Resume on it. The
// viewer initiates Noise_KKpsk0_25519_ChaChaPoly_BLAKE2s with the statics
// authenticated by the XX handshake:
//
//	psk      = HKDF-SHA-256(RS_n, info = "dw/1 resume psk" ‖ u32(n+1))
//	prologue = "dw/1 resume" ‖ lv_cat(session_id, u32(n+1), h_prev)
//	V→H  RESUME_INIT    u32(n+1) ‖ session_id ‖ (-> psk, e, es, ss; payload last_rx_app_seq)
//	H→V  RESUME_ACCEPT  (<- e, ee, se; payload last_rx_app_seq)
//
// The split gives fresh transport keys (fresh ee: forward secrecy) and
// records restart at epoch 0. Then
// RS_{n+1} = HKDF-SHA-256(RS_n ‖ k_v→h' ‖ k_h→v', salt = h_new, "dw/1 resume")
// and RS_n is erased. The viewer commits n+1 when RESUME_ACCEPT
// verifies. The host keeps the resumption *pending* and commits only on
// the first valid record from the viewer on the new connection, so a
// RESUME_INIT replayed verbatim by a relay never advances its state. If
// the viewer committed but its first record was lost with the relay, its
// next RESUME_INIT carries n+2 under the pending RS_{n+1}; the host then
// commits the pending state, since only the viewer could have built that
// message. The host keeps up to maxPending pending states (one per
// RESUME_INIT it answered since the last commit): a RESUME_INIT replayed
// on another connection before the viewer's first record adds a pending
// state nobody can use, and does not evict the one the viewer holds. Any
// other counter (≤ n: replayed or stale; ≥ n+2 without a matching pending
// state) is refused with ErrResumeRejected.
//
// Limits: a resumption must start within ResumeWindow (120 s) of the last
// authenticated record, and at most MaxResumesPerHour (10) succeed per
// hour; past either the channel fails (ErrResumeExpired, ErrResumeLimit)
// and a new PAKE (support: a new code) is required. A failed resumption
// handshake (bad MAC, wrong counter) leaves the channel interrupted: a
// relay cannot kill a session by sending garbage, only by dropping it.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/flynn/noise"
)

// Resumption errors.
var (
	// ErrResumeRejected: a RESUME_INIT with a replayed, stale or foreign
	// counter or session id. The channel stays interrupted.
	ErrResumeRejected = errors.New("proto: resumption rejected")
	// ErrResumeExpired: the resumption window passed; a new PAKE is
	// required. The channel failed.
	ErrResumeExpired = errors.New("proto: resumption window expired")
	// ErrResumeLimit: too many resumptions this hour; a new PAKE is
	// required. The channel failed.
	ErrResumeLimit = errors.New("proto: too many resumptions")
)

// ResumeInfo reports what a resumption did.
type ResumeInfo struct {
	// Counter is n of RS_n after this resumption.
	Counter uint32
	// Resent is the number of reliable messages retransmitted.
	Resent int
	// Dropped is the number of unreliable messages the peer never got.
	// If it is not zero the sender of screen fragments sends a keyframe.
	Dropped int
}

// resumeState is the resumption chain of a channel, guarded by c.mu.
type resumeState struct {
	rs      resumeSecret // RS_n
	n       uint32
	hPrev   []byte           // handshake hash of the last (re)handshake
	pending []*pendingResume // host: resumptions not yet confirmed by a record, oldest first
	times   []time.Time      // successful resumptions in the last hour
}

type pendingResume struct {
	gen     *connGen
	counter uint32
	rs      resumeSecret // RS_counter
	h       []byte
}

func (s *resumeState) wipe() {
	s.rs.wipe()
	s.dropPending()
}

// maxPending bounds the host's pending resumptions.
const maxPending = 4

func (s *resumeState) dropPending() {
	for _, p := range s.pending {
		p.rs.wipe()
	}
	s.pending = nil
}

// commit makes p the committed state and drops the other pending ones.
func (s *resumeState) commit(p *pendingResume) {
	s.rs.wipe()
	s.rs, s.n, s.hPrev = p.rs, p.counter, p.h
	for _, q := range s.pending {
		if q != p {
			q.rs.wipe()
		}
	}
	s.pending = nil
}

// commitPendingLocked commits a pending resumption when a valid record
// arrives on its connection.
func (c *Channel) commitPendingLocked(g *connGen) {
	for _, p := range c.resume.pending {
		if p.gen == g {
			c.resume.commit(p)
			c.log.Debug("resumption committed", "counter", p.counter)
			return
		}
	}
}

func resumePSK(rs *resumeSecret, counter uint32) noisePSK {
	var psk noisePSK
	psk.k = hkdf256(rs.k[:], nil, "dw/1 resume psk"+string(binary.BigEndian.AppendUint32(nil, counter)))
	return psk
}

func resumePrologue(sid SessionID, counter uint32, hPrev []byte) []byte {
	return append([]byte("dw/1 resume"), lvCat(sid[:], binary.BigEndian.AppendUint32(nil, counter), hPrev)...)
}

// nextResumeSecret is RS_{n+1} = HKDF-SHA-256(RS_n ‖ k_v→h ‖ k_h→v, salt = h_new, "dw/1 resume").
func nextResumeSecret(rs *resumeSecret, vh, hv *trafficKey, h []byte) resumeSecret {
	ikm := make([]byte, 0, 96)
	ikm = append(append(append(ikm, rs.k[:]...), vh.k[:]...), hv.k[:]...)
	var next resumeSecret
	next.k = hkdf256(ikm, h, "dw/1 resume")
	clear(ikm)
	return next
}

func (c *Channel) noiseKK(initiator bool, prologue []byte, psk *noisePSK) (*noise.HandshakeState, error) {
	priv, pub := c.static.dhKey()
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:           noiseSuite,
		Random:                c.rand,
		Pattern:               noise.HandshakeKK,
		Initiator:             initiator,
		Prologue:              prologue,
		PresharedKey:          psk.k[:],
		PresharedKeyPlacement: 0,
		StaticKeypair:         noise.DHKey{Private: priv, Public: pub},
		PeerStatic:            bytes.Clone(c.peer[:]),
	})
	// flynn/noise keeps priv by reference for the whole handshake: it
	// is a copy of our key that dies with the HandshakeState.
	if err != nil {
		return nil, fmt.Errorf("proto: noise: %w", err)
	}
	return hs, nil
}

// Resume continues the channel on conn, a new connection of the same
// session (through another relay), after the old one broke. Both ends
// call it; the viewer speaks first. It takes ownership of conn (closed on
// error). If the old connection still looks alive it is dropped first.
// Reliable messages the peer has not received are retransmitted; see
// ResumeInfo for what was lost. On ErrResumeRejected or an
// authentication failure the channel stays interrupted and Resume may be
// tried again on another connection; ErrResumeExpired and ErrResumeLimit
// end the channel.
func (c *Channel) Resume(ctx context.Context, conn MsgConn) (ResumeInfo, error) {
	c.mu.Lock()
	if c.terminal != nil {
		err := c.terminal
		c.mu.Unlock()
		conn.Close()
		return ResumeInfo{}, err
	}
	old := c.gen
	c.mu.Unlock()
	c.breakConn(old, fmt.Errorf("%w: replaced by a resumption", ErrInterrupted))
	old.wg.Wait()

	if err := c.lockWrite(ctx); err != nil {
		conn.Close()
		return ResumeInfo{}, err
	}
	defer c.unlockWrite()

	c.mu.Lock()
	now := c.opts.Clock()
	if now.Sub(c.lastRx) > c.opts.ResumeWindow {
		c.setTerminalLocked(fmt.Errorf("%w: %v since the last authenticated record", ErrResumeExpired, now.Sub(c.lastRx).Round(time.Second)))
	}
	c.resume.times = pruneBefore(c.resume.times, now.Add(-time.Hour))
	if len(c.resume.times) >= c.opts.MaxResumesPerHour {
		c.setTerminalLocked(fmt.Errorf("%w: %d in the last hour", ErrResumeLimit, len(c.resume.times)))
	}
	if err := c.terminal; err != nil {
		c.mu.Unlock()
		sendAbort(ctx, conn, err)
		conn.Close()
		return ResumeInfo{}, err
	}
	c.mu.Unlock()

	hctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	var (
		res    *resumeResult
		err    error
		stage  string
		remote bool
	)
	if c.role == RoleViewer {
		stage = "resume init"
		res, err = c.resumeInitiator(hctx, conn)
	} else {
		stage = "resume accept"
		res, err = c.resumeResponder(hctx, conn)
	}
	if err != nil {
		remote = isAbort(err)
		sendAbort(hctx, conn, err)
		conn.Close()
		c.log.Info("resumption failed", "err", err)
		return ResumeInfo{}, &HandshakeError{Role: c.role, Stage: stage, Remote: remote, Err: err}
	}

	// Install the new keys and connection, then retransmit.
	now = c.opts.Clock()
	c.tx.wipe()
	c.tx = newRecordSealer(res.send, c.opts.newAEAD, c.opts.rekeyPolicy(), now)
	g := &connGen{conn: conn, rx: newRecordOpener(res.recv, c.opts.newAEAD), done: make(chan struct{})}
	c.mu.Lock()
	if res.peerRx > c.nextSeq {
		c.mu.Unlock()
		conn.Close()
		return ResumeInfo{}, &HandshakeError{Role: c.role, Stage: stage, Err: fmt.Errorf("%w: peer claims message %d, only %d sent", ErrResumeRejected, res.peerRx, c.nextSeq)}
	}
	c.ackLocked(res.peerRx)
	info := ResumeInfo{Counter: res.counter, Resent: len(c.unacked)}
	info.Dropped = int(c.nextSeq-res.peerRx) - len(c.unacked)
	resend := slices.Clone(c.unacked)
	c.gen = g
	c.lastRx = now
	c.lastTx = now
	c.ackDue, c.rxUnacked = false, 0
	c.resume.times = append(c.resume.times, now)
	if c.role == RoleViewer {
		c.resume.rs.wipe()
		c.resume.rs, c.resume.n, c.resume.hPrev = res.rs, res.counter, res.h
	} else {
		if len(c.resume.pending) == maxPending {
			c.resume.pending[0].rs.wipe()
			c.resume.pending = c.resume.pending[1:]
		}
		c.resume.pending = append(c.resume.pending, &pendingResume{gen: g, counter: res.counter, rs: res.rs, h: res.h})
	}
	c.mu.Unlock()
	c.startGen(g)
	for _, m := range resend {
		var p [appSeqLen]byte
		binary.BigEndian.PutUint64(p[:], m.seq)
		if err := c.writeLocked(g, recData, p[:], m.data); err != nil {
			break // broken again; Recv reports it
		}
	}
	c.log.Info("channel resumed", "counter", info.Counter, "resent", info.Resent, "dropped", info.Dropped)
	return info, nil
}

type resumeResult struct {
	send, recv trafficKey
	rs         resumeSecret // RS_counter
	h          []byte
	counter    uint32
	peerRx     uint64
}

func (c *Channel) resumeInitiator(ctx context.Context, conn MsgConn) (*resumeResult, error) {
	c.mu.Lock()
	n, rs, hPrev, rxSeq := c.resume.n, c.resume.rs, bytes.Clone(c.resume.hPrev), c.rxSeq
	c.mu.Unlock()
	if n == math.MaxUint32 {
		return nil, ErrResumeLimit
	}
	counter := n + 1
	psk := resumePSK(&rs, counter)
	defer psk.wipe()
	hs, err := c.noiseKK(true, resumePrologue(c.sid, counter, hPrev), &psk)
	if err != nil {
		return nil, err
	}
	msg1, _, _, err := hs.WriteMessage(nil, binary.BigEndian.AppendUint64(nil, rxSeq))
	if err != nil {
		return nil, fmt.Errorf("proto: noise resume msg1: %w", err)
	}
	if err := writeHandshakeMsg(ctx, conn, marshalResumeInit(counter, c.sid, msg1)); err != nil {
		return nil, err
	}
	body, err := readHandshakeMsg(ctx, conn, hsResumeAccept)
	if err != nil {
		return nil, err
	}
	payload, cs1, cs2, err := hs.ReadMessage(nil, body)
	if err != nil {
		return nil, fmt.Errorf("%w: resume msg2: %v", ErrAuthFailed, err)
	}
	if len(payload) != appSeqLen || cs1 == nil || cs2 == nil {
		return nil, fmt.Errorf("%w: resume msg2 payload of %d bytes", ErrHandshakeMalformed, len(payload))
	}
	res := &resumeResult{counter: counter, peerRx: binary.BigEndian.Uint64(payload), h: bytes.Clone(hs.ChannelBinding())}
	res.send.k, res.recv.k = cs1.UnsafeKey(), cs2.UnsafeKey()
	res.rs = nextResumeSecret(&rs, &res.send, &res.recv, res.h)
	return res, nil
}

func (c *Channel) resumeResponder(ctx context.Context, conn MsgConn) (*resumeResult, error) {
	body, err := readHandshakeMsg(ctx, conn, hsResumeInit)
	if err != nil {
		return nil, err
	}
	m, err := parseResumeInit(body)
	if err != nil {
		return nil, err
	}
	if m.sid != c.sid {
		return nil, fmt.Errorf("%w: session %v, this channel is %v", ErrResumeRejected, m.sid, c.sid)
	}
	// Candidates: the committed RS_n for n+1, or a pending RS_{n+1} for
	// n+2. Each is tried; a wrong one fails the Noise MAC.
	type candidate struct {
		base    resumeSecret
		hPrev   []byte
		pending *pendingResume
	}
	var cands []candidate
	c.mu.Lock()
	n := c.resume.n
	if m.counter == n+1 && n < math.MaxUint32 {
		cands = append(cands, candidate{c.resume.rs, bytes.Clone(c.resume.hPrev), nil})
	}
	for _, p := range c.resume.pending {
		if m.counter == p.counter+1 && p.counter < math.MaxUint32 {
			cands = append(cands, candidate{p.rs, bytes.Clone(p.h), p})
		}
	}
	rxSeq := c.rxSeq
	c.mu.Unlock()
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: counter %d, current %d (replayed or stale)", ErrResumeRejected, m.counter, n)
	}
	var (
		hs      *noise.HandshakeState
		payload []byte
		base    resumeSecret
		chosen  *pendingResume
	)
	err = nil
	for _, cand := range cands {
		psk := resumePSK(&cand.base, m.counter)
		hs, err = c.noiseKK(false, resumePrologue(c.sid, m.counter, cand.hPrev), &psk)
		psk.wipe()
		if err != nil {
			return nil, err
		}
		if payload, _, _, err = hs.ReadMessage(nil, m.noise); err == nil {
			base, chosen = cand.base, cand.pending
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: resume msg1: %v", ErrAuthFailed, err)
	}
	if len(payload) != appSeqLen {
		return nil, fmt.Errorf("%w: resume msg1 payload of %d bytes", ErrHandshakeMalformed, len(payload))
	}
	if chosen != nil {
		// Only the viewer holding RS_{pending} could have built this
		// message: it had completed that pending resumption.
		c.mu.Lock()
		if slices.Contains(c.resume.pending, chosen) {
			c.resume.commit(chosen)
		}
		c.mu.Unlock()
	}
	msg2, cs1, cs2, err := hs.WriteMessage(nil, binary.BigEndian.AppendUint64(nil, rxSeq))
	if err != nil || cs1 == nil || cs2 == nil {
		return nil, fmt.Errorf("proto: noise resume msg2: %v", err)
	}
	res := &resumeResult{counter: m.counter, peerRx: binary.BigEndian.Uint64(payload), h: bytes.Clone(hs.ChannelBinding())}
	res.recv.k, res.send.k = cs1.UnsafeKey(), cs2.UnsafeKey()
	res.rs = nextResumeSecret(&base, &res.recv, &res.send, res.h)
	if err := writeHandshakeMsg(ctx, conn, append([]byte{byte(hsResumeAccept)}, msg2...)); err != nil {
		return nil, err
	}
	return res, nil
}

// pruneBefore drops the times before cutoff (the slice is sorted).
func pruneBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}
