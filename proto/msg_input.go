package proto

import (
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

// Buttons is the set of pressed mouse buttons, bit for bit as the W3C
// MouseEvent.buttons attribute.
type Buttons uint8

const (
	ButtonLeft    Buttons = 1 << iota // primary
	ButtonRight                       // secondary
	ButtonMiddle                      // auxiliary
	ButtonBack                        // X1
	ButtonForward                     // X2

	allButtons = ButtonLeft | ButtonRight | ButtonMiddle | ButtonBack | ButtonForward
)

// Pointer moves the host's pointer to X, Y, pixels of the shared screen
// (see Layout; values outside it are clamped by the host), with Buttons
// pressed. A button change is a Pointer message with the new set.
type Pointer struct {
	X, Y    int32
	Buttons Buttons
}

// Type implements Msg.
func (m *Pointer) Type() MsgType { return MsgPointer }

// AppendBinary implements Msg.
func (m *Pointer) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Pointer) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Pointer) validate() error { return checkBits("buttons", m.Buttons, allButtons) }

func (m *Pointer) appendBody(b []byte) []byte {
	b = be.AppendUint32(be.AppendUint32(b, uint32(m.X)), uint32(m.Y))
	return append(b, uint8(m.Buttons))
}

func (m *Pointer) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var x, y uint32
	if err := readUint(&s, &x, &y); err != nil {
		return s, err
	}
	if err := readUint(&s, &m.Buttons); err != nil {
		return s, err
	}
	m.X, m.Y = int32(x), int32(y)
	return s, m.validate()
}

// WheelNotch is one notch of a mouse wheel in Wheel units.
const WheelNotch = 120

// Wheel scrolls at the pointer's position by DX, DY in 1/120 of a notch
// (a classic wheel sends ±120 per notch; touchpads and smooth wheels send
// less). Signs as the W3C WheelEvent: positive DY scrolls down, positive
// DX right.
type Wheel struct {
	DX, DY int16
}

// Type implements Msg.
func (m *Wheel) Type() MsgType { return MsgWheel }

// AppendBinary implements Msg.
func (m *Wheel) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Wheel) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Wheel) validate() error { return nil }

func (m *Wheel) appendBody(b []byte) []byte {
	return be.AppendUint16(be.AppendUint16(b, uint16(m.DX)), uint16(m.DY))
}

func (m *Wheel) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var dx, dy uint16
	if err := readUint(&s, &dx, &dy); err != nil {
		return s, err
	}
	m.DX, m.DY = int16(dx), int16(dy)
	return s, nil
}

// Mods is the set of modifiers and lock states at a key event, as the
// viewer's platform reports them.
type Mods uint16

const (
	ModShift Mods = 1 << iota
	ModControl
	ModAlt
	ModMeta // Windows, Command, Super
	ModAltGraph
	ModCapsLock
	ModNumLock
	ModScrollLock

	allMods = ModShift | ModControl | ModAlt | ModMeta | ModAltGraph | ModCapsLock | ModNumLock | ModScrollLock
)

// KeyEvent presses or releases a key. Code is the physical key,
// independent of the keyboard layout; Text is what the key produced on
// the viewer with its layout and modifiers ("" for keys that type
// nothing). A host whose layout matches replays Code; one whose layout
// differs may type Text instead (CapKeyText). Code KeyUnidentified with
// Text is text input not tied to a key (an input method's result).
type KeyEvent struct {
	Down   bool // pressed (true) or released
	Repeat bool // an auto-repeat press; only with Down
	Code   KeyCode
	Mods   Mods
	Text   string // UTF-8, ≤ MaxKeyText bytes
}

const (
	keyDown   = 1 // KeyEvent flags bits
	keyRepeat = 2
)

// Type implements Msg.
func (m *KeyEvent) Type() MsgType { return MsgKey }

// AppendBinary implements Msg.
func (m *KeyEvent) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *KeyEvent) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *KeyEvent) validate() error {
	if m.Repeat && !m.Down {
		return errors.New("repeat on key release")
	}
	if err := checkBits("modifiers", m.Mods, allMods); err != nil {
		return err
	}
	return checkText("text", m.Text, MaxKeyText)
}

func (m *KeyEvent) appendBody(b []byte) []byte {
	var flags uint8
	if m.Down {
		flags |= keyDown
	}
	if m.Repeat {
		flags |= keyRepeat
	}
	b = be.AppendUint32(append(b, flags), uint32(m.Code))
	return appendStr8(be.AppendUint16(b, uint16(m.Mods)), m.Text)
}

func (m *KeyEvent) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var flags uint8
	var code uint32
	if err := readUint(&s, &flags); err != nil {
		return s, err
	}
	if err := readUint(&s, &code); err != nil {
		return s, err
	}
	if err := readUint(&s, &m.Mods); err != nil {
		return s, err
	}
	if err := readStr8(&s, "text", MaxKeyText, &m.Text); err != nil {
		return s, err
	}
	if err := checkBits("flags", flags, keyDown|keyRepeat); err != nil {
		return s, err
	}
	m.Down, m.Repeat, m.Code = flags&keyDown != 0, flags&keyRepeat != 0, KeyCode(code)
	return s, m.validate()
}
