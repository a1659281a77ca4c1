package proto

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Perms are what the person at the host allows the viewer to do. Each is
// granted and withdrawn separately (DESIGN.md: the customer consents to
// viewing and, separately, to control).
type Perms uint8

const (
	PermView      Perms = 1 << iota // see the screen and cursor
	PermControl                     // send pointer, wheel and key events
	PermClipboard                   // exchange clipboard text

	allPerms = PermView | PermControl | PermClipboard
)

// ConsentRequest asks the host's user for permissions (V→H). The host
// answers with Consent, now or when the user decides.
type ConsentRequest struct {
	Want Perms
}

// Type implements Msg.
func (m *ConsentRequest) Type() MsgType { return MsgConsentRequest }

// AppendBinary implements Msg.
func (m *ConsentRequest) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *ConsentRequest) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *ConsentRequest) validate() error            { return checkBits("perms", m.Want, allPerms) }
func (m *ConsentRequest) appendBody(b []byte) []byte { return append(b, uint8(m.Want)) }
func (m *ConsentRequest) decode(s cryptobyte.String) (cryptobyte.String, error) {
	if err := readUint(&s, &m.Want); err != nil {
		return s, err
	}
	return s, m.validate()
}

// Consent is the complete set of permissions the host's user grants now
// (H→V): a grant adds bits, a withdrawal clears them. The host sends no
// screen before PermView and ignores input without PermControl; the
// viewer stops sending what was withdrawn.
type Consent struct {
	Granted Perms
}

// Type implements Msg.
func (m *Consent) Type() MsgType { return MsgConsent }

// AppendBinary implements Msg.
func (m *Consent) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Consent) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Consent) validate() error            { return checkBits("perms", m.Granted, allPerms) }
func (m *Consent) appendBody(b []byte) []byte { return append(b, uint8(m.Granted)) }
func (m *Consent) decode(s cryptobyte.String) (cryptobyte.String, error) {
	if err := readUint(&s, &m.Granted); err != nil {
		return s, err
	}
	return s, m.validate()
}

// ViewOnly switches view-only mode on or off. From the viewer: it will not
// send input until it switches back. From the host: it ignores input
// until it switches back (control consent stays as it was).
type ViewOnly struct {
	On bool
}

// Type implements Msg.
func (m *ViewOnly) Type() MsgType { return MsgViewOnly }

// AppendBinary implements Msg.
func (m *ViewOnly) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *ViewOnly) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *ViewOnly) validate() error { return nil }

func (m *ViewOnly) appendBody(b []byte) []byte {
	if m.On {
		return append(b, 1)
	}
	return append(b, 0)
}

func (m *ViewOnly) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var on uint8
	if err := readUint(&s, &on); err != nil {
		return s, err
	}
	m.On = on == 1
	return s, checkBits("on", on, 1)
}

// QualityMode is the codec mode a viewer asks for.
type QualityMode uint8

const (
	QualityAuto         QualityMode = 0 // the host decides from the link
	QualityLossless     QualityMode = 1 // every pixel exact
	QualityBalanced     QualityMode = 2 // photo regions lossy, text exact
	QualityLowBandwidth QualityMode = 3 // thin links: lossy, fewer colours
)

// Quality is the viewer's hint for the stream (V→H); the host follows it
// within its own limits and the capabilities both announced.
type Quality struct {
	Mode         QualityMode
	Quality      uint8 // 0–100 for the lossy parts; ignored when lossless
	MaxFPS       uint8 // frames per second at most; 0 = the host's default
	ScalePercent uint8 // the host scales frames to this percent (1–100, CapHostScaling); 0 = no preference
}

// Type implements Msg.
func (m *Quality) Type() MsgType { return MsgQuality }

// AppendBinary implements Msg.
func (m *Quality) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Quality) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Quality) validate() error {
	switch {
	case m.Mode > QualityLowBandwidth:
		return fmt.Errorf("unknown mode %d", m.Mode)
	case m.Quality > 100:
		return fmt.Errorf("quality %d exceeds 100", m.Quality)
	case m.ScalePercent > 100:
		return fmt.Errorf("scale %d%% exceeds 100%%", m.ScalePercent)
	}
	return nil
}

func (m *Quality) appendBody(b []byte) []byte {
	return append(b, uint8(m.Mode), m.Quality, m.MaxFPS, m.ScalePercent)
}

func (m *Quality) decode(s cryptobyte.String) (cryptobyte.String, error) {
	if err := readUint(&s, &m.Mode); err != nil {
		return s, err
	}
	if err := readUint(&s, &m.Quality, &m.MaxFPS, &m.ScalePercent); err != nil {
		return s, err
	}
	return s, m.validate()
}

// MonitorChoice asks the host to share one monitor (an id from its
// Layout) or, with ID 0, all of them. The host answers with a Layout
// whose Selected is what it now shares, then a keyframe.
type MonitorChoice struct {
	ID uint32
}

// Type implements Msg.
func (m *MonitorChoice) Type() MsgType { return MsgMonitor }

// AppendBinary implements Msg.
func (m *MonitorChoice) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *MonitorChoice) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *MonitorChoice) validate() error            { return nil }
func (m *MonitorChoice) appendBody(b []byte) []byte { return be.AppendUint32(b, m.ID) }
func (m *MonitorChoice) decode(s cryptobyte.String) (cryptobyte.String, error) {
	err := readUint(&s, &m.ID)
	return s, err
}

// EndReason says why a session ended. Unknown reasons are accepted and
// shown as a number.
type EndReason uint8

const (
	EndNormal           EndReason = 0 // the user ended the session
	EndConsentDenied    EndReason = 1 // the host's user refused the request
	EndConsentWithdrawn EndReason = 2 // the host's user withdrew viewing
	EndIdle             EndReason = 3 // idle too long
	EndShutdown         EndReason = 4 // the program or machine is shutting down
	EndReplaced         EndReason = 5 // another session took this one's place
	EndPolicy           EndReason = 6 // an administrator or policy ended it
	EndVersion          EndReason = 7 // no common message version
	EndProtocolError    EndReason = 8 // the peer sent something malformed
	EndInternalError    EndReason = 9 // this end failed
)

var endReasonNames = [...]string{
	"normal", "consent denied", "consent withdrawn", "idle", "shutdown",
	"replaced", "policy", "version", "protocol error", "internal error",
}

func (r EndReason) String() string {
	if int(r) < len(endReasonNames) {
		return endReasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// End says the sender is ending the session and why, with an optional
// human-readable text (≤ MaxEndText bytes). The sender then closes the
// channel; the receiver shows the reason.
type End struct {
	Reason EndReason
	Text   string
}

// Type implements Msg.
func (m *End) Type() MsgType { return MsgEnd }

// AppendBinary implements Msg.
func (m *End) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *End) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *End) validate() error            { return checkText("text", m.Text, MaxEndText) }
func (m *End) appendBody(b []byte) []byte { return appendStr8(append(b, uint8(m.Reason)), m.Text) }
func (m *End) decode(s cryptobyte.String) (cryptobyte.String, error) {
	if err := readUint(&s, &m.Reason); err != nil {
		return s, err
	}
	if err := readStr8(&s, "text", MaxEndText, &m.Text); err != nil {
		return s, err
	}
	return s, m.validate()
}

// Ping asks for a Pong. Time is the sender's monotonic clock in
// microseconds (any epoch); only the sender interprets it.
type Ping struct {
	Time uint64
}

// Type implements Msg.
func (m *Ping) Type() MsgType { return MsgPing }

// AppendBinary implements Msg.
func (m *Ping) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Ping) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Ping) validate() error            { return nil }
func (m *Ping) appendBody(b []byte) []byte { return be.AppendUint64(b, m.Time) }
func (m *Ping) decode(s cryptobyte.String) (cryptobyte.String, error) {
	err := readUint(&s, &m.Time)
	return s, err
}

// Pong answers a Ping at once: PingTime echoes the Ping's Time, so the
// pinger's RTT is its clock now minus PingTime. Time is the answering
// end's clock in microseconds, for estimating the clock offset.
type Pong struct {
	PingTime uint64
	Time     uint64
}

// Type implements Msg.
func (m *Pong) Type() MsgType { return MsgPong }

// AppendBinary implements Msg.
func (m *Pong) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Pong) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Pong) validate() error { return nil }

func (m *Pong) appendBody(b []byte) []byte {
	return be.AppendUint64(be.AppendUint64(b, m.PingTime), m.Time)
}

func (m *Pong) decode(s cryptobyte.String) (cryptobyte.String, error) {
	err := readUint(&s, &m.PingTime, &m.Time)
	return s, err
}
