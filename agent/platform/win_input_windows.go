//go:build windows

package platform

import (
	"fmt"
	"sync"
	"unicode/utf16"
	"unsafe"

	"github.com/deskway/deskway/proto"
	"github.com/go-vgo/robotgo"
)

// WinInput injects input on Windows: the pointer, its three main buttons
// and the wheel through robotgo; the X buttons, keys (by scan code, so a
// key is the same physical key whatever the layout) and text (as Unicode
// characters, KEYEVENTF_UNICODE, which survives any layout) through
// SendInput.
//
// A WinInput is safe for concurrent use; calls are serialised.
type WinInput struct {
	mu    sync.Mutex
	wheel [2]int
}

// NewWinInput returns the Windows injector.
func NewWinInput() (*WinInput, error) { return &WinInput{}, nil }

// input mirrors the Win32 INPUT structure on 64-bit Windows: a type and
// the largest member of the union (MOUSEINPUT, 32 bytes).
type input struct {
	typ uint32
	_   uint32
	u   [32]byte
}

type keybdInput struct {
	vk, scan  uint16
	flags     uint32
	time      uint32
	_         uint32
	extraInfo uintptr
}

type mouseInput struct {
	dx, dy    int32
	mouseData uint32
	flags     uint32
	time      uint32
	_         uint32
	extraInfo uintptr
}

const (
	inputMouse    = 0
	inputKeyboard = 1

	keyeventfExtendedKey = 0x0001
	keyeventfKeyUp       = 0x0002
	keyeventfUnicode     = 0x0004
	keyeventfScanCode    = 0x0008

	mouseeventfXDown  = 0x0080
	mouseeventfXUp    = 0x0100
	mouseeventfWheel  = 0x0800
	mouseeventfHWheel = 0x1000
)

func keyInput(k keybdInput) input {
	in := input{typ: inputKeyboard}
	*(*keybdInput)(unsafe.Pointer(&in.u[0])) = k
	return in
}

func mouseIn(m mouseInput) input {
	in := input{typ: inputMouse}
	*(*mouseInput)(unsafe.Pointer(&in.u[0])) = m
	return in
}

func sendInput(ins ...input) error {
	if len(ins) == 0 {
		return nil
	}
	n, _, err := procSendInput.Call(uintptr(len(ins)), uintptr(unsafe.Pointer(&ins[0])), unsafe.Sizeof(ins[0]))
	if int(n) != len(ins) {
		return fmt.Errorf("platform: SendInput: %d of %d events: %v", n, len(ins), err)
	}
	return nil
}

// MovePointer moves the pointer to x, y on the virtual desktop.
func (w *WinInput) MovePointer(x, y int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	robotgo.Move(x, y)
	return nil
}

// Button presses or releases one pointer button.
func (w *WinInput) Button(b proto.Buttons, down bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	upDown := "down"
	if !down {
		upDown = "up"
	}
	switch b {
	case proto.ButtonLeft:
		return robotgo.Toggle("left", upDown)
	case proto.ButtonRight:
		return robotgo.Toggle("right", upDown)
	case proto.ButtonMiddle:
		return robotgo.Toggle("center", upDown)
	case proto.ButtonBack, proto.ButtonForward:
		flags := uint32(mouseeventfXDown)
		if !down {
			flags = mouseeventfXUp
		}
		data := uint32(1) // XBUTTON1
		if b == proto.ButtonForward {
			data = 2
		}
		return sendInput(mouseIn(mouseInput{mouseData: data, flags: flags}))
	}
	return fmt.Errorf("platform: windows input: unknown button %#x", uint8(b))
}

// Wheel scrolls by dx, dy in 1/120 notch (positive: right, down). Windows
// takes the same units, so nothing is lost.
func (w *WinInput) Wheel(dx, dy int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ins []input
	if dy != 0 {
		ins = append(ins, mouseIn(mouseInput{mouseData: uint32(int32(-dy)), flags: mouseeventfWheel}))
	}
	if dx != 0 {
		ins = append(ins, mouseIn(mouseInput{mouseData: uint32(int32(dx)), flags: mouseeventfHWheel}))
	}
	return sendInput(ins...)
}

// Key presses or releases a physical key, by scan code.
func (w *WinInput) Key(code proto.KeyCode, down bool) error {
	k, ok := lookupKey(uint32(code))
	if !ok || k.scan == 0 {
		return fmt.Errorf("platform: windows input: %w: %v", ErrUnknownKey, code)
	}
	flags := uint32(keyeventfScanCode)
	if k.scan&0xff00 != 0 {
		flags |= keyeventfExtendedKey
	}
	if !down {
		flags |= keyeventfKeyUp
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return sendInput(keyInput(keybdInput{scan: k.scan & 0xff, flags: flags}))
}

// Type types text as Unicode characters, independent of the layout.
func (w *WinInput) Type(text string) error {
	var ins []input
	for _, r := range text {
		if r == '\n' {
			r = '\r' // Enter
		}
		for _, u := range utf16.Encode([]rune{r}) {
			ins = append(ins,
				keyInput(keybdInput{scan: u, flags: keyeventfUnicode}),
				keyInput(keybdInput{scan: u, flags: keyeventfUnicode | keyeventfKeyUp}))
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return sendInput(ins...)
}

// Close does nothing.
func (w *WinInput) Close() error { return nil }
