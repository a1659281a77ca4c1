package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// MsgVersion is the newest version of the session message catalogue this
// package speaks, and MinMsgVersion the oldest. The two ends agree on one
// with their Hello messages (NegotiateVersion). The version history is in
// the package documentation.
const (
	MsgVersion    = 1
	MinMsgVersion = 1
)

// MsgType is the first byte of every session message. The layout of each
// type's body follows in the trailing comment: integers are big-endian,
// str8 is a one-byte length and that many bytes of UTF-8, bytes16 a
// two-byte length and that many bytes. A message is exactly its fields: a
// short or long message is malformed.
type MsgType uint8

// Session messages. Direction: H→V host to viewer, V→H viewer to host.
const (
	// Hello opens the session in both directions, before anything else.
	MsgHello = MsgType(0x01) // u16 min version | u16 max version | u64 caps | str8 software | str8 version | str8 platform | str8 user | layout
	// Layout tells the viewer the host's monitors changed (H→V).
	MsgLayout = MsgType(0x02) // u32 selected | u8 n ≤ 16 | n × (u32 id | i32 x | i32 y | u16 w | u16 h | u16 scale % | u8 flags | str8 name)

	// Fragment carries one piece of a large payload of a stream: a screen
	// update, clipboard text or a cursor shape (H→V; clipboard both ways).
	MsgFragment = MsgType(0x10) // u8 stream | u8 flags | u32 seq | u8 index | u8 last index | u32 total | bytes16 data
	// FrameAck acknowledges every screen update up to seq (V→H).
	MsgFrameAck = MsgType(0x11) // u32 seq | u32 decode µs
	// Refresh asks for a keyframe (V→H).
	MsgRefresh = MsgType(0x12) // u8 reason

	// Pointer, Wheel and KeyEvent are input (V→H), each ≤ MaxInputMsg.
	MsgPointer = MsgType(0x20) // i32 x | i32 y | u8 buttons
	MsgWheel   = MsgType(0x21) // i16 dx | i16 dy
	MsgKey     = MsgType(0x22) // u8 flags | u32 code | u16 mods | str8 text
	// Padded carries input in a record of a multiple of PadBucket bytes,
	// or nothing: keystroke-timing chaff (V→H, CapPadded).
	MsgPadded = MsgType(0x23) // n × (u8 len ≥ 1 | input message) | u8 0 | zeros (the end mark and zeros only if the input leaves room)

	// CursorCached selects a cursor shape the viewer has cached (H→V);
	// new shapes travel on StreamCursor.
	MsgCursorCached = MsgType(0x30) // u8 id
	MsgCursorPos    = MsgType(0x31) // i32 x | i32 y | u8 flags

	// Session control.
	MsgConsentRequest = MsgType(0x40) // u8 perms (V→H)
	MsgConsent        = MsgType(0x41) // u8 perms (H→V)
	MsgViewOnly       = MsgType(0x42) // u8 on (both)
	MsgQuality        = MsgType(0x43) // u8 mode | u8 quality | u8 max fps | u8 scale % (V→H)
	MsgMonitor        = MsgType(0x44) // u32 monitor id, 0 = all (V→H)
	MsgEnd            = MsgType(0x45) // u8 reason | str8 text (both)

	// Ping and Pong measure the round-trip time (both).
	MsgPing = MsgType(0x50) // u64 time µs
	MsgPong = MsgType(0x51) // u64 ping time µs | u64 time µs

	// GroupKey gives a presentation viewer the group key of an epoch and
	// the roster (H→V, over the viewer's pairwise channel only; §4.7).
	MsgGroupKey = MsgType(0x60) // u32 epoch | key[32] | presentation key[32] | u32 you | u8 n ≤ 128 | n × (u32 id | str8 name)
)

var msgNames = map[MsgType]string{
	MsgHello:          "hello",
	MsgLayout:         "layout",
	MsgFragment:       "fragment",
	MsgFrameAck:       "frame ack",
	MsgRefresh:        "refresh",
	MsgPointer:        "pointer",
	MsgWheel:          "wheel",
	MsgKey:            "key event",
	MsgPadded:         "padded input",
	MsgCursorCached:   "cursor cached",
	MsgCursorPos:      "cursor position",
	MsgConsentRequest: "consent request",
	MsgConsent:        "consent",
	MsgViewOnly:       "view-only",
	MsgQuality:        "quality",
	MsgMonitor:        "monitor choice",
	MsgEnd:            "end",
	MsgPing:           "ping",
	MsgPong:           "pong",
	MsgGroupKey:       "group key",
}

// String returns the message type's name as used in errors ("key event").
func (t MsgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("message type 0x%02x", uint8(t))
}

// newMsg returns a new message of type t, or nil for an unknown type.
func newMsg(t MsgType) Msg {
	switch t {
	case MsgHello:
		return new(Hello)
	case MsgLayout:
		return new(Layout)
	case MsgFragment:
		return new(Fragment)
	case MsgFrameAck:
		return new(FrameAck)
	case MsgRefresh:
		return new(Refresh)
	case MsgPointer:
		return new(Pointer)
	case MsgWheel:
		return new(Wheel)
	case MsgKey:
		return new(KeyEvent)
	case MsgPadded:
		return new(Padded)
	case MsgCursorCached:
		return new(CursorCached)
	case MsgCursorPos:
		return new(CursorPos)
	case MsgConsentRequest:
		return new(ConsentRequest)
	case MsgConsent:
		return new(Consent)
	case MsgViewOnly:
		return new(ViewOnly)
	case MsgQuality:
		return new(Quality)
	case MsgMonitor:
		return new(MonitorChoice)
	case MsgEnd:
		return new(End)
	case MsgPing:
		return new(Ping)
	case MsgPong:
		return new(Pong)
	case MsgGroupKey:
		return new(GroupKey)
	}
	return nil
}

// Msg is one session message: the plaintext of one record of the secure
// channel. The message types of this package are the only
// implementations. A Msg is a plain value, not safe for concurrent
// mutation.
type Msg interface {
	// Type returns the message's type byte.
	Type() MsgType
	// AppendBinary appends the encoded message, type byte first, to b. It
	// checks the message's limits and returns b unchanged with a
	// *MsgError if one is broken.
	AppendBinary(b []byte) ([]byte, error)
	// DecodeFromBytes decodes the whole of b, type byte first, into the
	// message, replacing its contents. Byte-slice fields alias b instead
	// of copying it.
	DecodeFromBytes(b []byte) error

	// body is what each type implements; it also keeps Msg sealed.
	body
}

// body is a message's own part of the encoding.
type body interface {
	Type() MsgType
	// validate checks the limits and rules of the fields; encoders and
	// decoders share it.
	validate() error
	// appendBody appends the fields after the type byte; the message is
	// valid.
	appendBody(b []byte) []byte
	// decode reads the fields from the start of s, which begins after the
	// type byte, and returns the rest. It checks each length before
	// allocating and then calls validate. (s is passed by value: a
	// pointer through this interface would make every decode allocate.)
	decode(s cryptobyte.String) (cryptobyte.String, error)
}

// ErrUnknownMsgType is wrapped by Unmarshal's error for a type byte it
// does not know. A peer that negotiated the same version never sends one.
var ErrUnknownMsgType = errors.New("unknown message type")

// errTruncated is the detail of every error for a message cut short.
var errTruncated = errors.New("truncated")

// MsgError is the error of encoding or decoding a message that breaks the
// wire rules, e.g. "proto: unmarshal key event: text length 300 exceeds 64".
type MsgError struct {
	Op  string // "marshal" or "unmarshal"
	Msg string // what was being coded: a message type's name, "cursor shape"
	Err error
}

func (e *MsgError) Error() string { return "proto: " + e.Op + " " + e.Msg + ": " + e.Err.Error() }

// Unwrap returns the detail.
func (e *MsgError) Unwrap() error { return e.Err }

// AppendMsg appends the encoding of m to dst; it is m.AppendBinary(dst).
// With enough capacity in dst it does not allocate.
func AppendMsg(dst []byte, m Msg) ([]byte, error) { return m.AppendBinary(dst) }

// Marshal returns the encoding of m.
func Marshal(m Msg) ([]byte, error) { return m.AppendBinary(nil) }

// Unmarshal decodes one session message of at most MaxPayload
// bytes. The result is a pointer to one of this package's message types
// (*Hello, *Fragment, …). Large byte fields (Fragment.Data) alias b: they
// stay valid only as long as b does, which for a channel's receive buffer
// is until the next receive. Strings are copied.
func Unmarshal(b []byte) (Msg, error) {
	if len(b) == 0 {
		return nil, &MsgError{"unmarshal", "message", errTruncated}
	}
	m := newMsg(MsgType(b[0]))
	if m == nil {
		return nil, &MsgError{"unmarshal", "message", fmt.Errorf("%w 0x%02x", ErrUnknownMsgType, b[0])}
	}
	if err := decodeMsg(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// appendMsg implements AppendBinary: validate, then type byte and body.
func appendMsg(b []byte, m body) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, &MsgError{"marshal", m.Type().String(), err}
	}
	return m.appendBody(append(b, byte(m.Type()))), nil
}

// decodeMsg implements DecodeFromBytes.
func decodeMsg(b []byte, m body) error {
	t := m.Type()
	if len(b) > MaxPayload {
		return &MsgError{"unmarshal", t.String(), fmt.Errorf("length %d exceeds %d", len(b), MaxPayload)}
	}
	if len(b) == 0 || MsgType(b[0]) != t {
		return &MsgError{"unmarshal", t.String(), errors.New("wrong type byte")}
	}
	s, err := m.decode(cryptobyte.String(b[1:]))
	if err != nil {
		return &MsgError{"unmarshal", t.String(), err}
	}
	if !s.Empty() {
		return &MsgError{"unmarshal", t.String(), fmt.Errorf("%d trailing bytes", len(s))}
	}
	return nil
}

// Wire helpers. Readers return errTruncated when s is too short and check
// lengths before allocating.

func appendStr8(b []byte, s string) []byte { return append(append(b, uint8(len(s))), s...) }

func readStr8(s *cryptobyte.String, what string, max int, out *string) error {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) {
		return errTruncated
	}
	if len(v) > max {
		return fmt.Errorf("%s length %d exceeds %d", what, len(v), max)
	}
	*out = string(v)
	return nil
}

// checkText checks a UTF-8 string field of at most max bytes.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s length %d exceeds %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not UTF-8", what)
	}
	return nil
}

// checkBits checks that v has no bits outside known.
func checkBits[T ~uint8 | ~uint16](what string, v, known T) error {
	if v&^known != 0 {
		return fmt.Errorf("%s 0x%x has unknown bits 0x%x", what, v, v&^known)
	}
	return nil
}

// readUint reads big-endian unsigned integers of T's size into out.
func readUint[T ~uint8 | ~uint16 | ~uint32 | ~uint64](s *cryptobyte.String, out ...*T) error {
	n := bits.Len64(uint64(^T(0))) / 8
	for _, p := range out {
		var v []byte
		if !s.ReadBytes(&v, n) {
			return errTruncated
		}
		var x uint64
		for _, c := range v {
			x = x<<8 | uint64(c)
		}
		*p = T(x)
	}
	return nil
}

var be = binary.BigEndian
