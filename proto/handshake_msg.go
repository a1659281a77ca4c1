package proto

// Handshake messages of dw/1 and version negotiation.
//
// Every handshake message is one MsgConn message whose first byte is its
// type. The types are 0x11..0x2f, so they never collide with a record
// (whose first byte is RecordVersion = 1). Each message is at most
// maxHandshakeMsg bytes, checked before parsing.
//
//	0x11 CLIENT_HELLO   V→H  lv_cat(ADa, Ya | KE1)
//	0x12 SERVER_HELLO   H→V  lv_cat(ADb, Yb | KE2)
//	0x13 CLIENT_FINISH  V→H  lv_cat("" | KE3, Noise XXpsk0 msg1)
//	0x14 SERVER_NOISE   H→V  Noise msg2 (e, ee, s, es)
//	0x15 CLIENT_NOISE   V→H  Noise msg3 (s, se)
//	0x21 RESUME_INIT    V→H  counter u32 BE ‖ session_id[16] ‖ Noise KKpsk0 msg1
//	0x22 RESUME_ACCEPT  H→V  Noise KKpsk0 msg2
//	0x2f ABORT          either  reason u8
//
//	ADa = lv_cat(nonce[16], mode[1], offers, device_hint)
//	      offers = (version u8, suite u8)*, best first, 1 to 16 pairs
//	      device_hint = "" or 16 bytes (pin.go, unattended mode only)
//	ADb = lv_cat(nonce[16], choice = version u8 ‖ suite u8)
//
// Negotiation: the host picks the highest version it supports among the
// offers with the suite of its mode. ADa and ADb are in the CPace
// transcript (ISK) and, with the mode, in the Noise prologue, so a relay
// that edits an offer, the choice or the mode makes the handshake fail:
// there is no downgrade, and no version or suite without encryption.
//
// ABORT is unauthenticated: a hint for the peer's error message (busy,
// locked, wrong code), never trusted for anything else.

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// handshakeType is the first byte of a handshake message.
type handshakeType uint8

const (
	hsClientHello  handshakeType = 0x11
	hsServerHello  handshakeType = 0x12
	hsClientFinish handshakeType = 0x13
	hsServerNoise  handshakeType = 0x14
	hsClientNoise  handshakeType = 0x15
	hsResumeInit   handshakeType = 0x21
	hsResumeAccept handshakeType = 0x22
	hsAbort        handshakeType = 0x2f
)

func (t handshakeType) String() string {
	switch t {
	case hsClientHello:
		return "CLIENT_HELLO"
	case hsServerHello:
		return "SERVER_HELLO"
	case hsClientFinish:
		return "CLIENT_FINISH"
	case hsServerNoise:
		return "SERVER_NOISE"
	case hsClientNoise:
		return "CLIENT_NOISE"
	case hsResumeInit:
		return "RESUME_INIT"
	case hsResumeAccept:
		return "RESUME_ACCEPT"
	case hsAbort:
		return "ABORT"
	}
	return fmt.Sprintf("handshake(%#x)", uint8(t))
}

const (
	// maxHandshakeMsg bounds every handshake message.
	maxHandshakeMsg = 2048
	// maxHandshakeField bounds one lv_cat field of a handshake message.
	maxHandshakeField = 1024
	adNonceLen        = 16
	maxOffers         = 16
	noiseDHLen        = 32
)

// ProtocolVersion is the version of dw/1 this package speaks.
const ProtocolVersion = 1

// Suites: a PAKE and the Noise protocol it feeds. Their names go into the
// Noise prologue.
const (
	suiteCPaceXX  uint8 = 1 // CPACE-RISTR255-SHA512 + Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s
	suiteOPAQUEXX uint8 = 2 // OPAQUE-3DH-RISTR255-SHA512-ARGON2ID + Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s
)

const (
	noiseXXName = "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s"
	noiseKKName = "Noise_KKpsk0_25519_ChaChaPoly_BLAKE2s"
)

func suiteName(s uint8) string {
	switch s {
	case suiteCPaceXX:
		return cpaceSuiteName + "+" + noiseXXName
	case suiteOPAQUEXX:
		return opaqueSuiteName + "+" + noiseXXName
	}
	return ""
}

// suiteForMode is the suite each mode uses.
func suiteForMode(m Mode) (uint8, bool) {
	switch m {
	case ModeSupport:
		return suiteCPaceXX, true
	case ModeUnattended:
		return suiteOPAQUEXX, true
	}
	return 0, false
}

// offer is one (version, suite) pair of ADa.
type offer struct {
	version, suite uint8
}

// defaultOffers is what a viewer offers for a mode: every version it
// supports, best first.
func defaultOffers(m Mode) []offer {
	s, _ := suiteForMode(m)
	return []offer{{ProtocolVersion, s}}
}

// defaultAccept is the set of versions a host accepts.
var defaultAccept = []uint8{ProtocolVersion}

// clientAD is a parsed ADa.
type clientAD struct {
	nonce  []byte
	mode   Mode
	offers []offer
	hint   []byte
}

func (a clientAD) marshal() []byte {
	offers := make([]byte, 0, 2*len(a.offers))
	for _, o := range a.offers {
		offers = append(offers, o.version, o.suite)
	}
	return lvCat(a.nonce, []byte{byte(a.mode)}, offers, a.hint)
}

func parseClientAD(b []byte) (clientAD, error) {
	var a clientAD
	f, err := lvSplit(b, 4, 2*maxOffers)
	if err != nil {
		return a, fmt.Errorf("%w: ADa: %v", ErrHandshakeMalformed, err)
	}
	if len(f[0]) != adNonceLen {
		return a, fmt.Errorf("%w: ADa nonce of %d bytes", ErrHandshakeMalformed, len(f[0]))
	}
	if len(f[1]) != 1 {
		return a, fmt.Errorf("%w: ADa mode of %d bytes", ErrHandshakeMalformed, len(f[1]))
	}
	if len(f[2]) == 0 || len(f[2])%2 != 0 {
		return a, fmt.Errorf("%w: ADa offers of %d bytes", ErrHandshakeMalformed, len(f[2]))
	}
	if len(f[3]) != 0 && len(f[3]) != deviceHintLen {
		return a, fmt.Errorf("%w: ADa device hint of %d bytes", ErrHandshakeMalformed, len(f[3]))
	}
	a.nonce, a.mode, a.hint = f[0], Mode(f[1][0]), f[3]
	for i := 0; i < len(f[2]); i += 2 {
		a.offers = append(a.offers, offer{f[2][i], f[2][i+1]})
	}
	return a, nil
}

// serverAD is a parsed ADb.
type serverAD struct {
	nonce  []byte
	choice offer
}

func (a serverAD) marshal() []byte {
	return lvCat(a.nonce, []byte{a.choice.version, a.choice.suite})
}

func parseServerAD(b []byte) (serverAD, error) {
	var a serverAD
	f, err := lvSplit(b, 2, adNonceLen)
	if err != nil {
		return a, fmt.Errorf("%w: ADb: %v", ErrHandshakeMalformed, err)
	}
	if len(f[0]) != adNonceLen || len(f[1]) != 2 {
		return a, fmt.Errorf("%w: ADb fields of %d and %d bytes", ErrHandshakeMalformed, len(f[0]), len(f[1]))
	}
	a.nonce, a.choice = f[0], offer{f[1][0], f[1][1]}
	return a, nil
}

// chooseOffer is the host's negotiation: the highest accepted version
// offered with the mode's suite.
func chooseOffer(offers []offer, accept []uint8, suite uint8) (offer, bool) {
	var best offer
	found := false
	for _, o := range offers {
		if o.suite != suite || o.version == 0 {
			continue
		}
		for _, v := range accept {
			if o.version == v && (!found || v > best.version) {
				best, found = o, true
			}
		}
	}
	return best, found
}

// helloMsg is CLIENT_HELLO or SERVER_HELLO: an AD and a PAKE message.
type helloMsg struct {
	ad, pake []byte
}

func marshalHello(t handshakeType, ad, pake []byte) []byte {
	return append([]byte{byte(t)}, lvCat(ad, pake)...)
}

func parseHello(body []byte) (helloMsg, error) {
	f, err := lvSplit(body, 2, maxHandshakeField)
	if err != nil {
		return helloMsg{}, fmt.Errorf("%w: hello: %v", ErrHandshakeMalformed, err)
	}
	return helloMsg{f[0], f[1]}, nil
}

// finishMsg is CLIENT_FINISH: KE3 (OPAQUE) or nothing (CPace), and Noise
// msg1.
type finishMsg struct {
	ke3, noise []byte
}

func marshalFinish(ke3, noise1 []byte) []byte {
	return append([]byte{byte(hsClientFinish)}, lvCat(ke3, noise1)...)
}

func parseFinish(body []byte) (finishMsg, error) {
	f, err := lvSplit(body, 2, maxHandshakeField)
	if err != nil {
		return finishMsg{}, fmt.Errorf("%w: finish: %v", ErrHandshakeMalformed, err)
	}
	return finishMsg{f[0], f[1]}, nil
}

// resumeInitMsg is RESUME_INIT.
type resumeInitMsg struct {
	counter uint32
	sid     SessionID
	noise   []byte
}

const resumeInitHeader = 1 + 4 + 16

func marshalResumeInit(counter uint32, sid SessionID, noise1 []byte) []byte {
	b := make([]byte, 0, resumeInitHeader+len(noise1))
	b = append(b, byte(hsResumeInit))
	b = binary.BigEndian.AppendUint32(b, counter)
	b = append(b, sid[:]...)
	return append(b, noise1...)
}

func parseResumeInit(body []byte) (resumeInitMsg, error) {
	var m resumeInitMsg
	if len(body) < resumeInitHeader-1+noiseDHLen {
		return m, fmt.Errorf("%w: resume init of %d bytes", ErrHandshakeMalformed, len(body))
	}
	m.counter = binary.BigEndian.Uint32(body[:4])
	copy(m.sid[:], body[4:20])
	m.noise = body[20:]
	return m, nil
}

// abortReason is the byte of an ABORT message.
type abortReason uint8

const (
	abortAuth      abortReason = 1 // authentication failed (wrong code/password or MITM)
	abortBusy      abortReason = 2 // another attempt in flight
	abortLimited   abortReason = 3 // rate limited or lockdown
	abortVersion   abortReason = 4 // no common version/suite
	abortMode      abortReason = 5 // mode mismatch
	abortCodeDead  abortReason = 6 // support code exhausted, used or expired
	abortPin       abortReason = 7 // pin mismatch
	abortMalformed abortReason = 8 // malformed message
	abortResume    abortReason = 9 // resumption refused
	abortInternal  abortReason = 10
)

// abortFor maps a local handshake error to the reason sent to the peer.
func abortFor(err error) abortReason {
	var pin *PinMismatchError
	switch {
	case errors.Is(err, ErrAuthFailed), errors.Is(err, ErrUntrustedDevice):
		return abortAuth
	case errors.Is(err, ErrBusy):
		return abortBusy
	case errors.Is(err, ErrRateLimited):
		return abortLimited
	case errors.Is(err, ErrVersion), errors.Is(err, ErrDowngrade):
		return abortVersion
	case errors.Is(err, ErrModeMismatch):
		return abortMode
	case errors.Is(err, ErrCodeExhausted), errors.Is(err, ErrCodeUsed), errors.Is(err, ErrCodeExpired):
		return abortCodeDead
	case errors.As(err, &pin):
		return abortPin
	case errors.Is(err, ErrHandshakeMalformed):
		return abortMalformed
	case errors.Is(err, ErrResumeRejected), errors.Is(err, ErrResumeExpired), errors.Is(err, ErrResumeLimit):
		return abortResume
	}
	return abortInternal
}

// errForAbort maps a received reason to the error the receiver reports.
func errForAbort(r abortReason) error {
	switch r {
	case abortAuth:
		return ErrAuthFailed
	case abortBusy:
		return ErrBusy
	case abortLimited:
		return ErrRateLimited
	case abortVersion:
		return ErrVersion
	case abortMode:
		return ErrModeMismatch
	case abortCodeDead:
		return ErrCodeExhausted
	case abortPin:
		return ErrPeerRefused
	case abortMalformed:
		return ErrHandshakeMalformed
	case abortResume:
		return ErrResumeRejected
	}
	return ErrPeerRefused
}
