package viewer

import (
	"unicode"
	"unicode/utf8"

	"github.com/deskway/deskway/proto"
)

// KeyFromDOM builds a KeyEvent from a browser KeyboardEvent: code is its
// layout-independent KeyboardEvent.code ("KeyA", "ArrowLeft"), key its
// KeyboardEvent.key ("a", "ä", "Enter") and mods its modifier state. Text
// is the character the key typed with the viewer's layout, if it typed
// one: never for shortcuts (Ctrl, Alt or Meta held without AltGraph),
// never on release. ok is false for an event that carries neither a known
// key nor text (such as a dead key's first press).
func KeyFromDOM(code, key string, down, repeat bool, mods proto.Mods) (ev proto.KeyEvent, ok bool) {
	kc, _ := proto.ParseKeyCode(code)
	ev = proto.KeyEvent{Down: down, Repeat: repeat && down, Code: kc, Mods: mods}
	shortcut := mods&(proto.ModControl|proto.ModAlt|proto.ModMeta) != 0 && mods&proto.ModAltGraph == 0
	if down && !shortcut && utf8.RuneCountInString(key) == 1 {
		if r, _ := utf8.DecodeRuneInString(key); unicode.IsPrint(r) {
			ev.Text = key
		}
	}
	return ev, kc != proto.KeyUnidentified || ev.Text != ""
}

// ButtonsFromDOM converts a W3C MouseEvent.buttons bit set; the bits are
// the same, unknown ones are dropped.
func ButtonsFromDOM(b int) proto.Buttons {
	return proto.Buttons(b) & (proto.ButtonLeft | proto.ButtonRight | proto.ButtonMiddle | proto.ButtonBack | proto.ButtonForward)
}

// WheelFromDOM converts a W3C WheelEvent delta in its deltaMode (0
// pixels, 1 lines, 2 pages) to Wheel units (1/120 notch): a notch is
// about 100 pixels in Chromium and Firefox, or 3 lines.
func WheelFromDOM(delta float64, mode int) int {
	switch mode {
	case 1:
		delta *= proto.WheelNotch / 3.0
	case 2:
		delta *= proto.WheelNotch
	default:
		delta *= proto.WheelNotch / 100.0
	}
	if delta > 0 && delta < 1 {
		return 1
	}
	if delta < 0 && delta > -1 {
		return -1
	}
	return int(delta)
}
