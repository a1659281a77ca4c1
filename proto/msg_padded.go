package proto

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// PadBucket is the size step of a Padded message: every one is a
// multiple of it, so an observer of the encrypted records sees input as
// records of 64 bytes (rarely 128), whatever they carry (SECURITY.md
// §4.4, traffic-analysis padding).
const PadBucket = 64

// Padded carries input messages (V→H, with CapPadded) in a record padded
// to a multiple of PadBucket bytes, so that the size of a record does not
// tell a key from a pointer move. With no input it is chaff: the
// viewer sends one every keystroke tick while a person types, so that
// the records' timing does not give away the typing rhythm. The host
// handles the input in order, as if each had come in a record of its
// own.
type Padded struct {
	// Input are *Pointer, *Wheel or *KeyEvent messages; their encodings
	// and the length byte before each take at most MaxInputMsg-2 bytes.
	Input []Msg
}

// Type implements Msg.
func (m *Padded) Type() MsgType { return MsgPadded }

// AppendBinary implements Msg.
func (m *Padded) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Padded) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

// PadInput reports whether m may travel in a Padded message: a pointer,
// wheel or key event.
func PadInput(m Msg) bool {
	switch m.(type) {
	case *Pointer, *Wheel, *KeyEvent:
		return true
	}
	return false
}

// PaddedSize returns the encoded size of a Padded message whose input
// messages take n bytes with their length bytes: the type byte, those
// and the end mark (a zero length byte, left out when the input fills the
// last bucket exactly), rounded up to PadBucket.
func PaddedSize(n int) int { return (1 + n + PadBucket - 1) / PadBucket * PadBucket }

func (m *Padded) validate() error {
	n := 0
	for i, in := range m.Input {
		if in == nil || !PadInput(in) {
			return fmt.Errorf("input %d is not a pointer, wheel or key event", i)
		}
		b, err := in.AppendBinary(nil)
		if err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
		n += 1 + len(b)
	}
	if n > MaxInputMsg-2 {
		return fmt.Errorf("input of %d bytes exceeds %d", n, MaxInputMsg-2)
	}
	return nil
}

func (m *Padded) appendBody(b []byte) []byte {
	start := len(b) - 1 // the type byte
	for _, in := range m.Input {
		at := len(b)
		b = append(b, 0)
		b, _ = in.AppendBinary(b)
		b[at] = byte(len(b) - at - 1)
	}
	size := PaddedSize(len(b) - start - 1)
	for len(b)-start < size {
		b = append(b, 0)
	}
	return b
}

func (m *Padded) decode(s cryptobyte.String) (cryptobyte.String, error) {
	total := len(s) + 1
	if total%PadBucket != 0 || total > MaxInputMsg {
		return s, fmt.Errorf("size %d is not a multiple of %d up to %d", total, PadBucket, MaxInputMsg)
	}
	m.Input = nil
	n := 0
	for !s.Empty() {
		var l uint8
		if !s.ReadUint8(&l) {
			return s, errTruncated
		}
		if l == 0 {
			for _, c := range s {
				if c != 0 {
					return s, errors.New("padding is not zero")
				}
			}
			s = s[len(s):]
			break
		}
		var in []byte
		if !s.ReadBytes(&in, int(l)) {
			return s, errTruncated
		}
		msg := newMsg(MsgType(in[0]))
		if msg == nil || !PadInput(msg) {
			return s, fmt.Errorf("input %d is a %v", len(m.Input), MsgType(in[0]))
		}
		if err := msg.DecodeFromBytes(in); err != nil {
			return s, fmt.Errorf("input %d: %w", len(m.Input), err)
		}
		m.Input = append(m.Input, msg)
		n += 1 + int(l)
	}
	if PaddedSize(n) != total {
		return s, fmt.Errorf("%d bytes of padding for %d bytes of input", total-1-n, n)
	}
	return s, nil
}
