package proto

// The dw/1 handshake (SECURITY.md §4.2, §4.3, §4.6). The viewer is the
// initiator, the host the responder.
//
//	V→H  CLIENT_HELLO   ADa, Ya (CPace) | KE1 (OPAQUE)
//	     H: mode and version checks, device hint, then Limiter.Begin:
//	        the failure counter is fsynced before the reply (rule 1)
//	H→V  SERVER_HELLO   ADb, Yb | KE2
//	     V: ISK | OPAQUE session secret (a wrong password fails here)
//	V→H  CLIENT_FINISH  KE3 (OPAQUE only), Noise msg1: -> psk, e
//	     H: verifies KE3 and msg1 = key confirmation, before anything
//	        else; only then Attempt.Succeeded resets the counter
//	H→V  SERVER_NOISE   Noise msg2: <- e, ee, s, es   (host static, encrypted)
//	     V: pin check of the host static (hard failure on mismatch)
//	V→H  CLIENT_NOISE   Noise msg3: -> s, se          (viewer static, encrypted)
//	     then, as records in epoch 0, the SAS commit–reveal (sas.go)
//
// Noise is Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s (flynn/noise) with
//
//	psk      = HKDF-SHA-512(ikm = ISK | OPAQUE session secret, info = "dw/1 noise psk0")[:32]
//	prologue = "dw/1 prologue" ‖ lv_cat(ADa, ADb, mode, session_id, host_id,
//	                                     PAKE transcript, suite name)
//
// where the PAKE transcript is transcript_ir(Ya, ADa, Yb, ADb) for CPace
// and lv_cat(KE1, KE2) for OPAQUE; ADa and ADb carry the offered and
// chosen versions and suites. With psk0 the host learns at the first Noise
// message whether the peer knew the code or password, and reveals nothing
// about itself (not even its static key) before that. Both static keys
// travel encrypted. The split gives one key per direction; RS_0 for
// resumption is derived from them (resume.go).
//
// Errors: every failure is a *HandshakeError whose Err is one of the
// sentinels below (or *PinMismatchError, *LimitError, …). On failure the
// side that detected it sends an unauthenticated ABORT as a hint, closes
// the connection, and never retries on its own: each retry of a viewer is
// a guess for a fake host (SECURITY.md §4.2).

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/flynn/noise"
)

// Handshake errors.
var (
	// ErrAuthFailed: the peer did not prove knowledge of the code or
	// password, or a message was modified in transit. Viewers show
	// "authentication failed — wrong password or a man-in-the-middle".
	ErrAuthFailed = errors.New("proto: authentication failed: wrong code or password, or a man-in-the-middle")
	// ErrVersion: no common protocol version and suite.
	ErrVersion = errors.New("proto: no common protocol version")
	// ErrDowngrade: the host's choice is not one the viewer offered.
	ErrDowngrade = errors.New("proto: protocol downgrade detected")
	// ErrModeMismatch: the two ends disagree on the session mode.
	ErrModeMismatch = errors.New("proto: session mode mismatch")
	// ErrHandshakeMalformed: a handshake message does not parse.
	ErrHandshakeMalformed = errors.New("proto: malformed handshake message")
	// ErrUntrustedDevice: the host is in lockdown and the viewer's
	// static key is not the trusted device it claimed to be.
	ErrUntrustedDevice = errors.New("proto: host in lockdown: this device is not trusted")
	// ErrPeerRefused: the peer aborted the handshake without a more
	// specific reason.
	ErrPeerRefused = errors.New("proto: the peer refused the connection")
	// ErrModeUnsupported: the mode has no channel implementation yet
	// (presentation: multi-viewer group keys are future work).
	ErrModeUnsupported = errors.New("proto: session mode not supported by the secure channel")
)

// HandshakeError reports a failed handshake.
type HandshakeError struct {
	Role   Role   // who reports it
	Stage  string // "client hello", "server hello", "key confirmation", "static keys", "sas", …
	Remote bool   // the peer reported it with an (unauthenticated) ABORT
	Err    error
}

func (e *HandshakeError) Error() string {
	by := ""
	if e.Remote {
		by = ", reported by the peer"
	}
	return fmt.Sprintf("proto: handshake (%v, %s%s): %v", e.Role, e.Stage, by, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// abortError is a received ABORT.
type abortError struct{ reason abortReason }

func (e abortError) Error() string { return errForAbort(e.reason).Error() }
func (e abortError) Unwrap() error { return errForAbort(e.reason) }

// HostConfig configures AcceptHost.
type HostConfig struct {
	Mode      Mode      // ModeSupport or ModeUnattended
	SessionID SessionID // from the broker's session offer
	HostID    string    // this host's id (CPace CI, OPAQUE server identity)
	Static    StaticPrivate

	// Code is the support code the host displays (ModeSupport).
	Code SupportCode
	// Password is the registered host access password (ModeUnattended).
	Password *HostPasswordRecord

	// Limiter admits PAKE attempts (required): one per support code, one
	// per host for unattended access, shared by all connections.
	Limiter AttemptLimiter
	// Trusted holds the owner's trusted viewer devices (may be nil).
	Trusted PinStore

	Options ChannelOptions
	Rand    io.Reader    // nil: crypto/rand
	Logger  *slog.Logger // nil: discard

	accept []uint8 // versions accepted; nil: defaultAccept (tests)
}

// ViewerConfig configures DialViewer.
type ViewerConfig struct {
	Mode      Mode
	SessionID SessionID
	HostID    string // the host the user asked for
	Static    StaticPrivate

	// Code is the support code the technician typed (ModeSupport).
	Code SupportCode
	// OwnerID and Password log in to an unattended host. The password is
	// used for the handshake only and not kept.
	OwnerID  string
	Password []byte

	// Pins holds host_id → pinned host key (may be nil: no pinning).
	Pins PinStore

	Options ChannelOptions
	Rand    io.Reader
	Logger  *slog.Logger

	offers []offer // offers sent; nil: defaultOffers (tests)
	hint   []byte  // device hint sent; nil: computed from Static (tests)
}

func (c *HostConfig) check() error {
	if _, ok := suiteForMode(c.Mode); !ok {
		return fmt.Errorf("%w: %v", ErrModeUnsupported, c.Mode)
	}
	if err := checkIdentity("host id", c.HostID); err != nil {
		return err
	}
	if c.SessionID.IsZero() {
		return errors.New("proto: host config: no session id")
	}
	if c.Static.IsZero() {
		return errors.New("proto: host config: no static key")
	}
	if c.Limiter == nil {
		return errors.New("proto: host config: no attempt limiter")
	}
	switch c.Mode {
	case ModeSupport:
		if c.Code.IsZero() {
			return errors.New("proto: host config: support mode without a code")
		}
	case ModeUnattended:
		if c.Password == nil {
			return errors.New("proto: host config: unattended mode without a password record")
		}
		if c.Password.HostID() != c.HostID {
			return fmt.Errorf("proto: host config: password record is for host %q, not %q", c.Password.HostID(), c.HostID)
		}
	}
	return nil
}

func (c *ViewerConfig) check() error {
	if _, ok := suiteForMode(c.Mode); !ok {
		return fmt.Errorf("%w: %v", ErrModeUnsupported, c.Mode)
	}
	if err := checkIdentity("host id", c.HostID); err != nil {
		return err
	}
	if c.SessionID.IsZero() {
		return errors.New("proto: viewer config: no session id")
	}
	if c.Static.IsZero() {
		return errors.New("proto: viewer config: no static key")
	}
	switch c.Mode {
	case ModeSupport:
		if c.Code.IsZero() {
			return errors.New("proto: viewer config: support mode without a code")
		}
	case ModeUnattended:
		if err := checkIdentity("owner id", c.OwnerID); err != nil {
			return err
		}
		if len(c.Password) == 0 || len(c.Password) > MaxPasswordLen {
			return fmt.Errorf("proto: viewer config: password must be 1 to %d bytes", MaxPasswordLen)
		}
	}
	return nil
}

// handshakeResult is what a completed handshake hands to the channel.
type handshakeResult struct {
	send, recv trafficKey
	hash       []byte // Noise handshake hash h
	peer       StaticPublic
	rs         resumeSecret
	trusted    bool // host: the viewer is a trusted device
}

var noiseSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// buildPrologue is dw/1's Noise prologue.
func buildPrologue(ada, adb []byte, mode Mode, sid SessionID, hostID string, transcript []byte, suite string) []byte {
	return append([]byte("dw/1 prologue"), lvCat(ada, adb, []byte{byte(mode)}, sid[:], []byte(hostID), transcript, []byte(suite))...)
}

func noiseXX(initiator bool, prologue []byte, psk *noisePSK, static StaticPrivate, r io.Reader) (*noise.HandshakeState, error) {
	priv, pub := static.dhKey()
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:           noiseSuite,
		Random:                r,
		Pattern:               noise.HandshakeXX,
		Initiator:             initiator,
		Prologue:              prologue,
		PresharedKey:          psk.k[:],
		PresharedKeyPlacement: 0,
		StaticKeypair:         noise.DHKey{Private: priv, Public: pub},
	})
	// flynn/noise keeps priv by reference for the whole handshake: it
	// is a copy of our key that dies with the HandshakeState.
	if err != nil {
		return nil, fmt.Errorf("proto: noise: %w", err)
	}
	return hs, nil
}

// splitKeys extracts the two transport keys of a finished Noise handshake
// (cs1: initiator → responder) and derives
// RS_0 = HKDF-SHA-256(ikm = k_v→h ‖ k_h→v, salt = h, info = "dw/1 resume").
func splitKeys(initiator bool, cs1, cs2 *noise.CipherState, h []byte) (send, recv trafficKey, rs resumeSecret) {
	var vh, hv trafficKey
	vh.k, hv.k = cs1.UnsafeKey(), cs2.UnsafeKey()
	ikm := append(append(make([]byte, 0, 64), vh.k[:]...), hv.k[:]...)
	rs.k = hkdf256(ikm, h, "dw/1 resume")
	clear(ikm)
	if initiator {
		return vh, hv, rs
	}
	return hv, vh, rs
}

// readHandshakeMsg reads one handshake message of type want and returns a
// copy of its body. An ABORT becomes an abortError.
func readHandshakeMsg(ctx context.Context, conn MsgConn, want handshakeType) ([]byte, error) {
	m, err := conn.ReadMsg(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %v: %w", want, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: empty message, want %v", ErrHandshakeMalformed, want)
	}
	if len(m) > maxHandshakeMsg {
		return nil, fmt.Errorf("%w: %v of %d bytes exceeds limit %d", ErrHandshakeMalformed, handshakeType(m[0]), len(m), maxHandshakeMsg)
	}
	if t := handshakeType(m[0]); t != want {
		if t == hsAbort && len(m) == 2 {
			return nil, abortError{abortReason(m[1])}
		}
		return nil, fmt.Errorf("%w: got %v, want %v", ErrHandshakeMalformed, t, want)
	}
	return bytes.Clone(m[1:]), nil
}

// writeHandshakeMsg sends one handshake message.
func writeHandshakeMsg(ctx context.Context, conn MsgConn, m []byte) error {
	if err := conn.WriteMsg(ctx, m); err != nil {
		return fmt.Errorf("write %v: %w", handshakeType(m[0]), err)
	}
	return nil
}

// sendAbort tells the peer why, best effort.
func sendAbort(ctx context.Context, conn MsgConn, err error) {
	var a abortError
	if errors.As(err, &a) {
		return // the peer aborted: no need to answer
	}
	_ = conn.WriteMsg(ctx, []byte{byte(hsAbort), byte(abortFor(err))})
}

func readNonce(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("proto: random: %w", err)
	}
	return b, nil
}

// hostHandshake runs the host's side.
type hostHandshake struct {
	cfg   *HostConfig
	conn  MsgConn
	rand  io.Reader
	log   *slog.Logger
	stage string
}

func (h *hostHandshake) run(ctx context.Context) (*handshakeResult, error) {
	cfg := h.cfg
	suite, _ := suiteForMode(cfg.Mode)

	h.stage = "client hello"
	body, err := readHandshakeMsg(ctx, h.conn, hsClientHello)
	if err != nil {
		return nil, err
	}
	hello, err := parseHello(body)
	if err != nil {
		return nil, err
	}
	ada, err := parseClientAD(hello.ad)
	if err != nil {
		return nil, err
	}
	if ada.mode != cfg.Mode {
		return nil, fmt.Errorf("%w: viewer asked for %v, host runs %v", ErrModeMismatch, ada.mode, cfg.Mode)
	}
	accept := cfg.accept
	if accept == nil {
		accept = defaultAccept
	}
	choice, ok := chooseOffer(ada.offers, accept, suite)
	if !ok {
		return nil, fmt.Errorf("%w: viewer offered %v", ErrVersion, ada.offers)
	}
	// Structural checks before the attempt is counted: garbage is not a
	// guess.
	var ke1 []byte
	switch suite {
	case suiteCPaceXX:
		if err := cpaceCheckShare(hello.pake); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrHandshakeMalformed, err)
		}
	case suiteOPAQUEXX:
		d, err := opaqueConfig().Deserializer()
		if err != nil {
			return nil, err
		}
		if _, err := opaqueDecodeKE1(d, hello.pake); err != nil {
			return nil, err
		}
		ke1 = hello.pake
	}
	trusted, trustedFP, err := h.matchHint(ada.hint)
	if err != nil {
		return nil, err
	}

	h.stage = "attempt"
	att, err := cfg.Limiter.Begin(ctx, AttemptInfo{Trusted: trusted})
	if err != nil {
		return nil, err
	}
	defer att.End()

	// The attempt is counted and durable: now the reply may go out.
	h.stage = "server hello"
	nonce, err := readNonce(h.rand, adNonceLen)
	if err != nil {
		return nil, err
	}
	adb := serverAD{nonce: nonce, choice: choice}.marshal()
	var (
		pake       pakeKey
		reply      []byte
		transcript []byte
		login      *opaqueServerLogin
	)
	switch suite {
	case suiteCPaceXX:
		party, err := cpaceStart(h.rand, cfg.Code.prs(), cpaceChannelID(cfg.Mode, cfg.HostID), cfg.SessionID[:])
		if err != nil {
			return nil, err
		}
		pake, err = party.finish(false, adb, hello.pake, hello.ad)
		party.wipe()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAuthFailed, err)
		}
		reply = party.our
		transcript = cpaceTranscript(hello.pake, hello.ad, party.our, adb)
	case suiteOPAQUEXX:
		var ke2 []byte
		login, ke2, err = opaqueServerRespond(h.rand, cfg.Password, ke1)
		if err != nil {
			return nil, err
		}
		defer login.wipe()
		reply = ke2
		transcript = lvCat(ke1, ke2)
	}
	defer pake.wipe()
	if err := writeHandshakeMsg(ctx, h.conn, marshalHello(hsServerHello, adb, reply)); err != nil {
		return nil, err
	}

	h.stage = "key confirmation"
	body, err = readHandshakeMsg(ctx, h.conn, hsClientFinish)
	if err != nil {
		return nil, err
	}
	fin, err := parseFinish(body)
	if err != nil {
		return nil, err
	}
	switch suite {
	case suiteCPaceXX:
		if len(fin.ke3) != 0 {
			return nil, fmt.Errorf("%w: KE3 in a CPace handshake", ErrHandshakeMalformed)
		}
	case suiteOPAQUEXX:
		if pake, err = login.finish(fin.ke3); err != nil {
			return nil, err
		}
	}
	psk := derivePSK(&pake)
	defer psk.wipe()
	prologue := buildPrologue(hello.ad, adb, cfg.Mode, cfg.SessionID, cfg.HostID, transcript, suiteName(suite))
	hs, err := noiseXX(false, prologue, &psk, cfg.Static, h.rand)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := hs.ReadMessage(nil, fin.noise); err != nil {
		return nil, fmt.Errorf("%w: noise msg1: %v", ErrAuthFailed, err)
	}
	// Key confirmation verified.
	if !att.TrustedOnly() {
		if err := att.Succeeded(); err != nil {
			return nil, err
		}
	}

	h.stage = "static keys"
	msg2, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("proto: noise msg2: %w", err)
	}
	if err := writeHandshakeMsg(ctx, h.conn, append([]byte{byte(hsServerNoise)}, msg2...)); err != nil {
		return nil, err
	}
	body, err = readHandshakeMsg(ctx, h.conn, hsClientNoise)
	if err != nil {
		return nil, err
	}
	_, cs1, cs2, err := hs.ReadMessage(nil, body)
	if err != nil {
		return nil, fmt.Errorf("%w: noise msg3: %v", ErrAuthFailed, err)
	}
	if cs1 == nil || cs2 == nil {
		return nil, fmt.Errorf("proto: noise: handshake not complete after msg3")
	}
	peer, err := staticPublicFromBytes(hs.PeerStatic())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshakeMalformed, err)
	}
	peerTrusted, err := h.isTrusted(peer.Fingerprint())
	if err != nil {
		return nil, err
	}
	if att.TrustedOnly() {
		if !peerTrusted || !peer.Fingerprint().Equal(trustedFP) {
			return nil, ErrUntrustedDevice
		}
		if err := att.Succeeded(); err != nil {
			return nil, err
		}
	}
	res := &handshakeResult{hash: bytes.Clone(hs.ChannelBinding()), peer: peer, trusted: peerTrusted}
	res.send, res.recv, res.rs = splitKeys(false, cs1, cs2, res.hash)
	return res, nil
}

// matchHint finds the trusted device a device hint names.
func (h *hostHandshake) matchHint(hint []byte) (bool, Fingerprint, error) {
	if len(hint) == 0 || h.cfg.Trusted == nil {
		return false, "", nil
	}
	pins, err := h.cfg.Trusted.List()
	if err != nil {
		return false, "", fmt.Errorf("proto: trusted devices: %w", err)
	}
	for _, p := range pins {
		if subtle.ConstantTimeCompare(deviceHint(h.cfg.SessionID, p.Fingerprint), hint) == 1 {
			return true, p.Fingerprint, nil
		}
	}
	return false, "", nil
}

func (h *hostHandshake) isTrusted(fp Fingerprint) (bool, error) {
	if h.cfg.Trusted == nil {
		return false, nil
	}
	pins, err := h.cfg.Trusted.List()
	if err != nil {
		return false, fmt.Errorf("proto: trusted devices: %w", err)
	}
	for _, p := range pins {
		if p.Fingerprint.Equal(fp) {
			return true, nil
		}
	}
	return false, nil
}

// viewerHandshake runs the viewer's side.
type viewerHandshake struct {
	cfg   *ViewerConfig
	conn  MsgConn
	rand  io.Reader
	log   *slog.Logger
	stage string
}

func (v *viewerHandshake) run(ctx context.Context) (*handshakeResult, error) {
	cfg := v.cfg
	suite, _ := suiteForMode(cfg.Mode)
	offers := cfg.offers
	if offers == nil {
		offers = defaultOffers(cfg.Mode)
	}
	var hint []byte
	if cfg.Mode == ModeUnattended {
		hint = deviceHint(cfg.SessionID, cfg.Static.Public().Fingerprint())
		if cfg.hint != nil {
			hint = cfg.hint
		}
	}
	nonce, err := readNonce(v.rand, adNonceLen)
	if err != nil {
		return nil, err
	}
	ada := clientAD{nonce: nonce, mode: cfg.Mode, offers: offers, hint: hint}.marshal()

	v.stage = "client hello"
	var (
		party *cpaceParty
		pake1 []byte
	)
	var client *opaqueClientState
	switch suite {
	case suiteCPaceXX:
		party, err = cpaceStart(v.rand, cfg.Code.prs(), cpaceChannelID(cfg.Mode, cfg.HostID), cfg.SessionID[:])
		if err != nil {
			return nil, err
		}
		defer party.wipe()
		pake1 = party.our
	case suiteOPAQUEXX:
		client, pake1, err = newOpaqueClientState(v.rand, cfg.Password)
		if err != nil {
			return nil, err
		}
		defer client.wipe()
	}
	if err := writeHandshakeMsg(ctx, v.conn, marshalHello(hsClientHello, ada, pake1)); err != nil {
		return nil, err
	}

	v.stage = "server hello"
	body, err := readHandshakeMsg(ctx, v.conn, hsServerHello)
	if err != nil {
		return nil, err
	}
	hello, err := parseHello(body)
	if err != nil {
		return nil, err
	}
	adb, err := parseServerAD(hello.ad)
	if err != nil {
		return nil, err
	}
	if adb.choice.suite != suite || !offered(offers, adb.choice) {
		return nil, fmt.Errorf("%w: host chose version %d suite %d", ErrDowngrade, adb.choice.version, adb.choice.suite)
	}
	var (
		pake       pakeKey
		ke3        []byte
		transcript []byte
	)
	switch suite {
	case suiteCPaceXX:
		if pake, err = party.finish(true, ada, hello.pake, hello.ad); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAuthFailed, err)
		}
		transcript = cpaceTranscript(party.our, ada, hello.pake, hello.ad)
	case suiteOPAQUEXX:
		if ke3, pake, err = client.finish(hello.pake, cfg.OwnerID, cfg.HostID); err != nil {
			return nil, err
		}
		transcript = lvCat(pake1, hello.pake)
	}
	psk := derivePSK(&pake)
	pake.wipe()
	defer psk.wipe()
	prologue := buildPrologue(ada, hello.ad, cfg.Mode, cfg.SessionID, cfg.HostID, transcript, suiteName(suite))
	hs, err := noiseXX(true, prologue, &psk, cfg.Static, v.rand)
	if err != nil {
		return nil, err
	}
	msg1, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("proto: noise msg1: %w", err)
	}
	if err := writeHandshakeMsg(ctx, v.conn, marshalFinish(ke3, msg1)); err != nil {
		return nil, err
	}

	v.stage = "key confirmation"
	body, err = readHandshakeMsg(ctx, v.conn, hsServerNoise)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := hs.ReadMessage(nil, body); err != nil {
		return nil, fmt.Errorf("%w: noise msg2: %v", ErrAuthFailed, err)
	}
	v.stage = "static keys"
	peer, err := staticPublicFromBytes(hs.PeerStatic())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshakeMalformed, err)
	}
	if cfg.Pins != nil {
		pinned, ok, err := cfg.Pins.Lookup(cfg.HostID)
		if err != nil {
			return nil, fmt.Errorf("proto: pins: %w", err)
		}
		if ok && !pinned.Equal(peer.Fingerprint()) {
			return nil, &PinMismatchError{Name: cfg.HostID, Pinned: pinned, Got: peer.Fingerprint()}
		}
	}
	msg3, cs1, cs2, err := hs.WriteMessage(nil, nil)
	if err != nil || cs1 == nil || cs2 == nil {
		return nil, fmt.Errorf("proto: noise msg3: handshake not complete: %v", err)
	}
	if err := writeHandshakeMsg(ctx, v.conn, append([]byte{byte(hsClientNoise)}, msg3...)); err != nil {
		return nil, err
	}
	res := &handshakeResult{hash: bytes.Clone(hs.ChannelBinding()), peer: peer}
	res.send, res.recv, res.rs = splitKeys(true, cs1, cs2, res.hash)
	return res, nil
}

func offered(offers []offer, o offer) bool {
	for _, x := range offers {
		if x == o {
			return true
		}
	}
	return false
}
