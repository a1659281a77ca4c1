package proto

import (
	"strings"
	"testing"
)

// TestKeyCodeBijection checks that code values and key codes map one to
// one, and evdev codes one to one where Linux has one.
func TestKeyCodeBijection(t *testing.T) {
	names := map[string]KeyCode{}
	codes := map[KeyCode]string{}
	evdevs := map[uint16]KeyCode{}
	for _, k := range KeyCodes() {
		name := k.String()
		if prev, dup := names[name]; dup {
			t.Errorf("name %q for %#x and %#x", name, uint32(prev), uint32(k))
		}
		if prev, dup := codes[k]; dup {
			t.Errorf("code %#x named %q and %q", uint32(k), prev, name)
		}
		names[name], codes[k] = k, name
		if got, ok := ParseKeyCode(name); !ok || got != k {
			t.Errorf("ParseKeyCode(%q) = %#x, %v; want %#x", name, uint32(got), ok, uint32(k))
		}
		if page := uint32(k) >> 16; page != 0x07 && page != 0x0c && page != 0x01 {
			t.Errorf("%s = %#x: HID page %#x", name, uint32(k), page)
		}
		if strings.HasPrefix(name, "KeyCode(") || name == "Unidentified" {
			t.Errorf("%#x has no name", uint32(k))
		}
		ev, ok := k.Evdev()
		if !ok {
			continue
		}
		if prev, dup := evdevs[ev]; dup {
			t.Errorf("evdev %d for %v and %v", ev, prev, k)
		}
		evdevs[ev] = k
		if got, ok := KeyCodeFromEvdev(ev); !ok || got != k {
			t.Errorf("KeyCodeFromEvdev(%d) = %v, %v; want %v", ev, got, ok, k)
		}
	}
	if len(names) < 170 {
		t.Errorf("%d named keys, want the full standard set (≥ 170)", len(names))
	}
}

func TestKeyCodeValues(t *testing.T) {
	tests := []struct {
		code  KeyCode
		name  string
		usage uint32
		evdev uint16 // 0: none
	}{
		{KeyA, "KeyA", 0x070004, 30},
		{KeyZ, "KeyZ", 0x07001d, 44},
		{KeyDigit1, "Digit1", 0x07001e, 2},
		{KeyDigit0, "Digit0", 0x070027, 11},
		{KeyEnter, "Enter", 0x070028, 28},
		{KeyEscape, "Escape", 0x070029, 1},
		{KeySpace, "Space", 0x07002c, 57},
		{KeyBackquote, "Backquote", 0x070035, 41},
		{KeyF1, "F1", 0x07003a, 59},
		{KeyF11, "F11", 0x070044, 87},
		{KeyF12, "F12", 0x070045, 88},
		{KeyF13, "F13", 0x070068, 183},
		{KeyF24, "F24", 0x070073, 194},
		{KeyDelete, "Delete", 0x07004c, 111},
		{KeyArrowLeft, "ArrowLeft", 0x070050, 105},
		{KeyArrowUp, "ArrowUp", 0x070052, 103},
		{KeyNumpad1, "Numpad1", 0x070059, 79},
		{KeyNumpad0, "Numpad0", 0x070062, 82},
		{KeyIntlBackslash, "IntlBackslash", 0x070064, 86},
		{KeyContextMenu, "ContextMenu", 0x070065, 127},
		{KeyIntlRo, "IntlRo", 0x070087, 89},
		{KeyIntlYen, "IntlYen", 0x070089, 124},
		{KeyLang1, "Lang1", 0x070090, 122},
		{KeyNumpadClear, "NumpadClear", 0x0700d8, 0},
		{KeyControlLeft, "ControlLeft", 0x0700e0, 29},
		{KeyShiftLeft, "ShiftLeft", 0x0700e1, 42},
		{KeyAltRight, "AltRight", 0x0700e6, 100},
		{KeyMetaLeft, "MetaLeft", 0x0700e3, 125},
		{KeyMetaRight, "MetaRight", 0x0700e7, 126},
		{KeySleep, "Sleep", 0x010082, 142},
		{KeyMediaPlayPause, "MediaPlayPause", 0x0c00cd, 164},
		{KeyBrowserBack, "BrowserBack", 0x0c0224, 158},
	}
	for _, tc := range tests {
		if uint32(tc.code) != tc.usage || tc.code.String() != tc.name {
			t.Errorf("%s = %#x %q, want %#x", tc.name, uint32(tc.code), tc.code.String(), tc.usage)
		}
		ev, ok := tc.code.Evdev()
		if ev != tc.evdev || ok != (tc.evdev != 0) {
			t.Errorf("%s.Evdev() = %d, %v; want %d", tc.name, ev, ok, tc.evdev)
		}
	}
}

func TestKeyCodeUnknown(t *testing.T) {
	if got := KeyUnidentified.String(); got != "Unidentified" {
		t.Errorf("KeyUnidentified.String() = %q", got)
	}
	if k, ok := ParseKeyCode("Unidentified"); !ok || k != KeyUnidentified {
		t.Errorf("ParseKeyCode(Unidentified) = %v, %v", k, ok)
	}
	for _, name := range []string{"", "Fn", "FnLock", "keya", "KeyA ", "Hyper"} {
		if k, ok := ParseKeyCode(name); ok || k != KeyUnidentified {
			t.Errorf("ParseKeyCode(%q) = %v, %v; want KeyUnidentified, false", name, k, ok)
		}
	}
	if got := KeyCode(0x07ffff).String(); got != "KeyCode(0x07ffff)" {
		t.Errorf("KeyCode(0x07ffff).String() = %q", got)
	}
	if _, ok := KeyCode(0x07ffff).Evdev(); ok {
		t.Errorf("unknown code has an evdev code")
	}
	if k, ok := KeyCodeFromEvdev(0); ok {
		t.Errorf("KeyCodeFromEvdev(0) = %v, true", k)
	}
	if _, ok := KeyNumpadClear.Evdev(); ok {
		t.Errorf("NumpadClear has an evdev code; Linux maps it to Delete")
	}
}

func BenchmarkParseKeyCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if k, ok := ParseKeyCode("ArrowLeft"); !ok || k != KeyArrowLeft {
			b.Fatal(k)
		}
	}
}
