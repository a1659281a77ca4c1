package desktop

import (
	"runtime"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/deskway/deskway/proto"
)

// Keyboard path. Fyne reports a key press as up to three calls on the
// focused widget, in this order within one event: KeyDown (the physical
// key, no text), TypedKey (not for shortcuts; also alone for each
// auto-repeat), TypedRune (the character the key typed with the viewer's
// layout, if any). The host wants one proto.KeyEvent per press with the
// key code and the text together (the host types the text when its
// layout differs, CapKeyText). keyboard holds a press back until its
// text arrives or the next event shows that none will, then emits it.

// keyboard turns Fyne's key callbacks into proto.KeyEvents. It is owned
// by Fyne's goroutine.
type keyboard struct {
	held    map[fyne.KeyName]proto.KeyCode // pressed keys and the code sent for each
	mods    proto.Mods
	pending *proto.KeyEvent       // a press waiting for its text
	fresh   fyne.KeyName          // pressed just now: its own TypedKey is no repeat
	swallow map[fyne.KeyName]bool // presses taken by the viewer itself
	// hotkey is asked on each press whether the viewer takes it (true)
	// instead of the host; nil takes nothing.
	hotkey func(name fyne.KeyName, mods proto.Mods) bool
}

func newKeyboard() *keyboard {
	return &keyboard{held: map[fyne.KeyName]proto.KeyCode{}, swallow: map[fyne.KeyName]bool{}}
}

// down handles KeyDown and returns the events to send now.
func (k *keyboard) down(ev *fyne.KeyEvent, out []proto.KeyEvent) []proto.KeyEvent {
	out = k.flush(out)
	k.fresh = ev.Name
	if k.hotkey != nil && k.hotkey(ev.Name, k.mods) {
		k.swallow[ev.Name] = true
		return out
	}
	code := keyCode(ev)
	if code == proto.KeyUnidentified {
		return out
	}
	k.held[ev.Name] = code
	k.mods |= modOf(code)
	e := proto.KeyEvent{Down: true, Code: code, Mods: k.mods}
	if mayType(ev.Name) && !k.shortcut() {
		k.pending = &e // its text comes with TypedRune
		return out
	}
	return append(out, e)
}

// typedKey handles TypedKey (and TypedShortcut, which Fyne calls instead
// while Ctrl, Alt or Super is held): right after the KeyDown of the same
// key it is part of that press; for a key held down it is an auto-repeat.
func (k *keyboard) typedKey(ev *fyne.KeyEvent, out []proto.KeyEvent) []proto.KeyEvent {
	if ev.Name == k.fresh {
		k.fresh = ""
		return out
	}
	k.fresh = ""
	code, held := k.held[ev.Name]
	if !held {
		return out
	}
	out = k.flush(out)
	e := proto.KeyEvent{Down: true, Repeat: true, Code: code, Mods: k.mods}
	if mayType(ev.Name) && !k.shortcut() {
		k.pending = &e
		return out
	}
	return append(out, e)
}

// typedRune handles TypedRune: the text of the pending press, or text not
// tied to a key (an input method, a compose sequence).
func (k *keyboard) typedRune(r rune, out []proto.KeyEvent) []proto.KeyEvent {
	k.fresh = ""
	if !unicode.IsPrint(r) {
		return k.flush(out)
	}
	if k.pending != nil {
		e := *k.pending
		k.pending = nil
		e.Text = string(r)
		return append(out, e)
	}
	return append(out, proto.KeyEvent{Down: true, Code: proto.KeyUnidentified, Text: string(r), Mods: k.mods &^ (proto.ModControl | proto.ModAlt | proto.ModMeta)})
}

// up handles KeyUp.
func (k *keyboard) up(ev *fyne.KeyEvent, out []proto.KeyEvent) []proto.KeyEvent {
	out = k.flush(out)
	k.fresh = ""
	if k.swallow[ev.Name] {
		delete(k.swallow, ev.Name)
		return out
	}
	code, ok := k.held[ev.Name]
	if !ok {
		return out
	}
	delete(k.held, ev.Name)
	k.mods &^= modOf(code)
	for _, c := range k.held { // the other key of a pair may still be down
		k.mods |= modOf(c)
	}
	return append(out, proto.KeyEvent{Code: code, Mods: k.mods})
}

// flush emits a pending press without text.
func (k *keyboard) flush(out []proto.KeyEvent) []proto.KeyEvent {
	if k.pending != nil {
		out = append(out, *k.pending)
		k.pending = nil
	}
	return out
}

// reset forgets every held key (after focus loss: the session releases
// them on the host with ReleaseAll).
func (k *keyboard) reset() {
	clear(k.held)
	clear(k.swallow)
	k.mods, k.pending, k.fresh = 0, nil, ""
}

// shortcut reports whether the held modifiers make a press a shortcut,
// which types no text.
func (k *keyboard) shortcut() bool {
	return k.mods&(proto.ModControl|proto.ModAlt|proto.ModMeta) != 0 && k.mods&proto.ModAltGraph == 0
}

// modOf is the modifier a key is, if any.
func modOf(c proto.KeyCode) proto.Mods {
	switch c {
	case proto.KeyShiftLeft, proto.KeyShiftRight:
		return proto.ModShift
	case proto.KeyControlLeft, proto.KeyControlRight:
		return proto.ModControl
	case proto.KeyAltLeft:
		return proto.ModAlt
	case proto.KeyAltRight:
		// AltGr on most layouts outside the US: a press with it held
		// waits for its text. Where it is a plain Alt no text comes and
		// the host gets Alt and the key.
		return proto.ModAltGraph
	case proto.KeyMetaLeft, proto.KeyMetaRight:
		return proto.ModMeta
	}
	return 0
}

// mayType reports whether a key may type a character, so its press waits
// for TypedRune: the keys with one-character names and Space.
func mayType(n fyne.KeyName) bool {
	return len(n) == 1 || n == fyne.KeySpace
}

// keyCode returns the physical key of a Fyne key event. On X11 (Linux and
// the BSDs) the scan code is the X keycode, evdev + 8, which is exact for
// every key; elsewhere, and for events without a scan code, the key's
// name is mapped (Fyne names keys by their US-layout position).
func keyCode(ev *fyne.KeyEvent) proto.KeyCode {
	if scanIsX11 && ev.Physical.ScanCode > 8 && ev.Physical.ScanCode < 8+0x300 {
		if c, ok := proto.KeyCodeFromEvdev(uint16(ev.Physical.ScanCode - 8)); ok {
			return c
		}
	}
	return keyByName[ev.Name]
}

var scanIsX11 = runtime.GOOS == "linux" || runtime.GOOS == "freebsd" || runtime.GOOS == "openbsd" || runtime.GOOS == "netbsd"

// keyByName maps Fyne's key names to HID codes.
var keyByName = map[fyne.KeyName]proto.KeyCode{
	fyne.KeyEscape: proto.KeyEscape, fyne.KeyReturn: proto.KeyEnter, fyne.KeyTab: proto.KeyTab,
	fyne.KeyBackspace: proto.KeyBackspace, fyne.KeyInsert: proto.KeyInsert, fyne.KeyDelete: proto.KeyDelete,
	fyne.KeyRight: proto.KeyArrowRight, fyne.KeyLeft: proto.KeyArrowLeft, fyne.KeyDown: proto.KeyArrowDown,
	fyne.KeyUp: proto.KeyArrowUp, fyne.KeyPageUp: proto.KeyPageUp, fyne.KeyPageDown: proto.KeyPageDown,
	fyne.KeyHome: proto.KeyHome, fyne.KeyEnd: proto.KeyEnd,
	fyne.KeyF1: proto.KeyF1, fyne.KeyF2: proto.KeyF2, fyne.KeyF3: proto.KeyF3, fyne.KeyF4: proto.KeyF4,
	fyne.KeyF5: proto.KeyF5, fyne.KeyF6: proto.KeyF6, fyne.KeyF7: proto.KeyF7, fyne.KeyF8: proto.KeyF8,
	fyne.KeyF9: proto.KeyF9, fyne.KeyF10: proto.KeyF10, fyne.KeyF11: proto.KeyF11, fyne.KeyF12: proto.KeyF12,
	fyne.KeyEnter: proto.KeyNumpadEnter,
	fyne.Key0:     proto.KeyDigit0, fyne.Key1: proto.KeyDigit1, fyne.Key2: proto.KeyDigit2, fyne.Key3: proto.KeyDigit3,
	fyne.Key4: proto.KeyDigit4, fyne.Key5: proto.KeyDigit5, fyne.Key6: proto.KeyDigit6, fyne.Key7: proto.KeyDigit7,
	fyne.Key8: proto.KeyDigit8, fyne.Key9: proto.KeyDigit9,
	fyne.KeyA: proto.KeyA, fyne.KeyB: proto.KeyB, fyne.KeyC: proto.KeyC, fyne.KeyD: proto.KeyD, fyne.KeyE: proto.KeyE,
	fyne.KeyF: proto.KeyF, fyne.KeyG: proto.KeyG, fyne.KeyH: proto.KeyH, fyne.KeyI: proto.KeyI, fyne.KeyJ: proto.KeyJ,
	fyne.KeyK: proto.KeyK, fyne.KeyL: proto.KeyL, fyne.KeyM: proto.KeyM, fyne.KeyN: proto.KeyN, fyne.KeyO: proto.KeyO,
	fyne.KeyP: proto.KeyP, fyne.KeyQ: proto.KeyQ, fyne.KeyR: proto.KeyR, fyne.KeyS: proto.KeyS, fyne.KeyT: proto.KeyT,
	fyne.KeyU: proto.KeyU, fyne.KeyV: proto.KeyV, fyne.KeyW: proto.KeyW, fyne.KeyX: proto.KeyX, fyne.KeyY: proto.KeyY,
	fyne.KeyZ:     proto.KeyZ,
	fyne.KeySpace: proto.KeySpace, fyne.KeyApostrophe: proto.KeyQuote, fyne.KeyComma: proto.KeyComma,
	fyne.KeyMinus: proto.KeyMinus, fyne.KeyPeriod: proto.KeyPeriod, fyne.KeySlash: proto.KeySlash,
	fyne.KeyBackslash: proto.KeyBackslash, fyne.KeyLeftBracket: proto.KeyBracketLeft,
	fyne.KeyRightBracket: proto.KeyBracketRight, fyne.KeySemicolon: proto.KeySemicolon,
	fyne.KeyEqual: proto.KeyEqual, fyne.KeyAsterisk: proto.KeyNumpadMultiply, fyne.KeyPlus: proto.KeyNumpadAdd,
	fyne.KeyBackTick:     proto.KeyBackquote,
	desktop.KeyShiftLeft: proto.KeyShiftLeft, desktop.KeyShiftRight: proto.KeyShiftRight,
	desktop.KeyControlLeft: proto.KeyControlLeft, desktop.KeyControlRight: proto.KeyControlRight,
	desktop.KeyAltLeft: proto.KeyAltLeft, desktop.KeyAltRight: proto.KeyAltRight,
	desktop.KeySuperLeft: proto.KeyMetaLeft, desktop.KeySuperRight: proto.KeyMetaRight,
	desktop.KeyMenu: proto.KeyContextMenu, desktop.KeyPrintScreen: proto.KeyPrintScreen,
	desktop.KeyCapsLock: proto.KeyCapsLock,
}

// buttonOf maps Fyne's mouse buttons to the wire's.
func buttonOf(b desktop.MouseButton) proto.Buttons {
	var out proto.Buttons
	if b&desktop.MouseButtonPrimary != 0 {
		out |= proto.ButtonLeft
	}
	if b&desktop.MouseButtonSecondary != 0 {
		out |= proto.ButtonRight
	}
	if b&desktop.MouseButtonTertiary != 0 {
		out |= proto.ButtonMiddle
	}
	return out
}

// scrollNotch is Fyne's scroll delta for one wheel notch (its GLFW
// driver's scroll speed outside macOS).
const scrollNotch = 25

// wheelOf converts a Fyne scroll delta to Wheel units (1/120 notch, W3C
// signs: positive dy scrolls down; Fyne's positive DY scrolls up).
func wheelOf(d fyne.Delta) (dx, dy int) {
	conv := func(v float32) int {
		w := float64(v) * proto.WheelNotch / scrollNotch
		switch {
		case w > 0 && w < 1:
			return 1
		case w < 0 && w > -1:
			return -1
		}
		return int(w)
	}
	return -conv(d.DX), -conv(d.DY)
}
