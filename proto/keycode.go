package proto

import (
	"fmt"
)

// KeyCode is a physical key, independent of the keyboard layout: its USB
// HID usage, page << 16 | usage id (HID Usage Tables 1.5, §10 "Keyboard/
// Keypad Page (0x07)"; media keys are on the Consumer page 0x0C, Sleep and
// WakeUp on the Generic Desktop page 0x01). KeyA is 0x070004.
//
// The named keys are those of the W3C "UI Events KeyboardEvent code
// Values" that have a HID usage; String and ParseKeyCode map between a
// KeyCode and its KeyboardEvent.code value ("KeyA", "Digit1", "Enter",
// "ArrowLeft", "ControlLeft", "MetaLeft", "F1"…), which is what the
// browser viewer reads. Evdev and KeyCodeFromEvdev map to and from Linux
// evdev key codes (X11 keycodes are evdev + 8), which the agent and the
// native viewer use on Linux. The constants are named Key + the code
// value, without doubling "Key".
type KeyCode uint32

// KeyUnidentified is the code of an event not tied to a known key (W3C
// "Unidentified"), such as text from an input method.
const KeyUnidentified KeyCode = 0

// Named keys: the keyboard page in usage order, then Sleep and WakeUp
// (generic desktop page) and the media keys (consumer page).
const (
	KeyA                    KeyCode = 0x070004
	KeyB                    KeyCode = 0x070005
	KeyC                    KeyCode = 0x070006
	KeyD                    KeyCode = 0x070007
	KeyE                    KeyCode = 0x070008
	KeyF                    KeyCode = 0x070009
	KeyG                    KeyCode = 0x07000a
	KeyH                    KeyCode = 0x07000b
	KeyI                    KeyCode = 0x07000c
	KeyJ                    KeyCode = 0x07000d
	KeyK                    KeyCode = 0x07000e
	KeyL                    KeyCode = 0x07000f
	KeyM                    KeyCode = 0x070010
	KeyN                    KeyCode = 0x070011
	KeyO                    KeyCode = 0x070012
	KeyP                    KeyCode = 0x070013
	KeyQ                    KeyCode = 0x070014
	KeyR                    KeyCode = 0x070015
	KeyS                    KeyCode = 0x070016
	KeyT                    KeyCode = 0x070017
	KeyU                    KeyCode = 0x070018
	KeyV                    KeyCode = 0x070019
	KeyW                    KeyCode = 0x07001a
	KeyX                    KeyCode = 0x07001b
	KeyY                    KeyCode = 0x07001c
	KeyZ                    KeyCode = 0x07001d
	KeyDigit1               KeyCode = 0x07001e
	KeyDigit2               KeyCode = 0x07001f
	KeyDigit3               KeyCode = 0x070020
	KeyDigit4               KeyCode = 0x070021
	KeyDigit5               KeyCode = 0x070022
	KeyDigit6               KeyCode = 0x070023
	KeyDigit7               KeyCode = 0x070024
	KeyDigit8               KeyCode = 0x070025
	KeyDigit9               KeyCode = 0x070026
	KeyDigit0               KeyCode = 0x070027
	KeyEnter                KeyCode = 0x070028
	KeyEscape               KeyCode = 0x070029
	KeyBackspace            KeyCode = 0x07002a
	KeyTab                  KeyCode = 0x07002b
	KeySpace                KeyCode = 0x07002c
	KeyMinus                KeyCode = 0x07002d
	KeyEqual                KeyCode = 0x07002e
	KeyBracketLeft          KeyCode = 0x07002f
	KeyBracketRight         KeyCode = 0x070030
	KeyBackslash            KeyCode = 0x070031
	KeySemicolon            KeyCode = 0x070033
	KeyQuote                KeyCode = 0x070034
	KeyBackquote            KeyCode = 0x070035
	KeyComma                KeyCode = 0x070036
	KeyPeriod               KeyCode = 0x070037
	KeySlash                KeyCode = 0x070038
	KeyCapsLock             KeyCode = 0x070039
	KeyF1                   KeyCode = 0x07003a
	KeyF2                   KeyCode = 0x07003b
	KeyF3                   KeyCode = 0x07003c
	KeyF4                   KeyCode = 0x07003d
	KeyF5                   KeyCode = 0x07003e
	KeyF6                   KeyCode = 0x07003f
	KeyF7                   KeyCode = 0x070040
	KeyF8                   KeyCode = 0x070041
	KeyF9                   KeyCode = 0x070042
	KeyF10                  KeyCode = 0x070043
	KeyF11                  KeyCode = 0x070044
	KeyF12                  KeyCode = 0x070045
	KeyPrintScreen          KeyCode = 0x070046
	KeyScrollLock           KeyCode = 0x070047
	KeyPause                KeyCode = 0x070048
	KeyInsert               KeyCode = 0x070049
	KeyHome                 KeyCode = 0x07004a
	KeyPageUp               KeyCode = 0x07004b
	KeyDelete               KeyCode = 0x07004c
	KeyEnd                  KeyCode = 0x07004d
	KeyPageDown             KeyCode = 0x07004e
	KeyArrowRight           KeyCode = 0x07004f
	KeyArrowLeft            KeyCode = 0x070050
	KeyArrowDown            KeyCode = 0x070051
	KeyArrowUp              KeyCode = 0x070052
	KeyNumLock              KeyCode = 0x070053
	KeyNumpadDivide         KeyCode = 0x070054
	KeyNumpadMultiply       KeyCode = 0x070055
	KeyNumpadSubtract       KeyCode = 0x070056
	KeyNumpadAdd            KeyCode = 0x070057
	KeyNumpadEnter          KeyCode = 0x070058
	KeyNumpad1              KeyCode = 0x070059
	KeyNumpad2              KeyCode = 0x07005a
	KeyNumpad3              KeyCode = 0x07005b
	KeyNumpad4              KeyCode = 0x07005c
	KeyNumpad5              KeyCode = 0x07005d
	KeyNumpad6              KeyCode = 0x07005e
	KeyNumpad7              KeyCode = 0x07005f
	KeyNumpad8              KeyCode = 0x070060
	KeyNumpad9              KeyCode = 0x070061
	KeyNumpad0              KeyCode = 0x070062
	KeyNumpadDecimal        KeyCode = 0x070063
	KeyIntlBackslash        KeyCode = 0x070064
	KeyContextMenu          KeyCode = 0x070065
	KeyPower                KeyCode = 0x070066
	KeyNumpadEqual          KeyCode = 0x070067
	KeyF13                  KeyCode = 0x070068
	KeyF14                  KeyCode = 0x070069
	KeyF15                  KeyCode = 0x07006a
	KeyF16                  KeyCode = 0x07006b
	KeyF17                  KeyCode = 0x07006c
	KeyF18                  KeyCode = 0x07006d
	KeyF19                  KeyCode = 0x07006e
	KeyF20                  KeyCode = 0x07006f
	KeyF21                  KeyCode = 0x070070
	KeyF22                  KeyCode = 0x070071
	KeyF23                  KeyCode = 0x070072
	KeyF24                  KeyCode = 0x070073
	KeyOpen                 KeyCode = 0x070074
	KeyHelp                 KeyCode = 0x070075
	KeySelect               KeyCode = 0x070077
	KeyAgain                KeyCode = 0x070079
	KeyUndo                 KeyCode = 0x07007a
	KeyCut                  KeyCode = 0x07007b
	KeyCopy                 KeyCode = 0x07007c
	KeyPaste                KeyCode = 0x07007d
	KeyFind                 KeyCode = 0x07007e
	KeyAudioVolumeMute      KeyCode = 0x07007f
	KeyAudioVolumeUp        KeyCode = 0x070080
	KeyAudioVolumeDown      KeyCode = 0x070081
	KeyNumpadComma          KeyCode = 0x070085
	KeyIntlRo               KeyCode = 0x070087
	KeyKanaMode             KeyCode = 0x070088
	KeyIntlYen              KeyCode = 0x070089
	KeyConvert              KeyCode = 0x07008a
	KeyNonConvert           KeyCode = 0x07008b
	KeyLang1                KeyCode = 0x070090
	KeyLang2                KeyCode = 0x070091
	KeyLang3                KeyCode = 0x070092
	KeyLang4                KeyCode = 0x070093
	KeyLang5                KeyCode = 0x070094
	KeyAbort                KeyCode = 0x07009b
	KeyProps                KeyCode = 0x0700a3
	KeyNumpadParenLeft      KeyCode = 0x0700b6
	KeyNumpadParenRight     KeyCode = 0x0700b7
	KeyNumpadBackspace      KeyCode = 0x0700bb
	KeyNumpadMemoryStore    KeyCode = 0x0700d0
	KeyNumpadMemoryRecall   KeyCode = 0x0700d1
	KeyNumpadMemoryClear    KeyCode = 0x0700d2
	KeyNumpadMemoryAdd      KeyCode = 0x0700d3
	KeyNumpadMemorySubtract KeyCode = 0x0700d4
	KeyNumpadClear          KeyCode = 0x0700d8
	KeyNumpadClearEntry     KeyCode = 0x0700d9
	KeyControlLeft          KeyCode = 0x0700e0
	KeyShiftLeft            KeyCode = 0x0700e1
	KeyAltLeft              KeyCode = 0x0700e2
	KeyMetaLeft             KeyCode = 0x0700e3
	KeyControlRight         KeyCode = 0x0700e4
	KeyShiftRight           KeyCode = 0x0700e5
	KeyAltRight             KeyCode = 0x0700e6
	KeyMetaRight            KeyCode = 0x0700e7
	KeySleep                KeyCode = 0x010082
	KeyWakeUp               KeyCode = 0x010083
	KeyMediaTrackNext       KeyCode = 0x0c00b5
	KeyMediaTrackPrevious   KeyCode = 0x0c00b6
	KeyMediaStop            KeyCode = 0x0c00b7
	KeyEject                KeyCode = 0x0c00b8
	KeyMediaPlayPause       KeyCode = 0x0c00cd
	KeyMediaSelect          KeyCode = 0x0c0183
	KeyLaunchMail           KeyCode = 0x0c018a
	KeyLaunchApp2           KeyCode = 0x0c0192
	KeyLaunchApp1           KeyCode = 0x0c0194
	KeyBrowserSearch        KeyCode = 0x0c0221
	KeyBrowserHome          KeyCode = 0x0c0223
	KeyBrowserBack          KeyCode = 0x0c0224
	KeyBrowserForward       KeyCode = 0x0c0225
	KeyBrowserStop          KeyCode = 0x0c0226
	KeyBrowserRefresh       KeyCode = 0x0c0227
	KeyBrowserFavorites     KeyCode = 0x0c022a
)

// keyTable lists every named key once: its code, KeyboardEvent.code value
// and Linux evdev code (0 where Linux has none).
var keyTable = [...]struct {
	code  KeyCode
	name  string
	evdev uint16
}{
	{KeyA, "KeyA", 30},
	{KeyB, "KeyB", 48},
	{KeyC, "KeyC", 46},
	{KeyD, "KeyD", 32},
	{KeyE, "KeyE", 18},
	{KeyF, "KeyF", 33},
	{KeyG, "KeyG", 34},
	{KeyH, "KeyH", 35},
	{KeyI, "KeyI", 23},
	{KeyJ, "KeyJ", 36},
	{KeyK, "KeyK", 37},
	{KeyL, "KeyL", 38},
	{KeyM, "KeyM", 50},
	{KeyN, "KeyN", 49},
	{KeyO, "KeyO", 24},
	{KeyP, "KeyP", 25},
	{KeyQ, "KeyQ", 16},
	{KeyR, "KeyR", 19},
	{KeyS, "KeyS", 31},
	{KeyT, "KeyT", 20},
	{KeyU, "KeyU", 22},
	{KeyV, "KeyV", 47},
	{KeyW, "KeyW", 17},
	{KeyX, "KeyX", 45},
	{KeyY, "KeyY", 21},
	{KeyZ, "KeyZ", 44},
	{KeyDigit1, "Digit1", 2},
	{KeyDigit2, "Digit2", 3},
	{KeyDigit3, "Digit3", 4},
	{KeyDigit4, "Digit4", 5},
	{KeyDigit5, "Digit5", 6},
	{KeyDigit6, "Digit6", 7},
	{KeyDigit7, "Digit7", 8},
	{KeyDigit8, "Digit8", 9},
	{KeyDigit9, "Digit9", 10},
	{KeyDigit0, "Digit0", 11},
	{KeyEnter, "Enter", 28},
	{KeyEscape, "Escape", 1},
	{KeyBackspace, "Backspace", 14},
	{KeyTab, "Tab", 15},
	{KeySpace, "Space", 57},
	{KeyMinus, "Minus", 12},
	{KeyEqual, "Equal", 13},
	{KeyBracketLeft, "BracketLeft", 26},
	{KeyBracketRight, "BracketRight", 27},
	{KeyBackslash, "Backslash", 43},
	{KeySemicolon, "Semicolon", 39},
	{KeyQuote, "Quote", 40},
	{KeyBackquote, "Backquote", 41},
	{KeyComma, "Comma", 51},
	{KeyPeriod, "Period", 52},
	{KeySlash, "Slash", 53},
	{KeyCapsLock, "CapsLock", 58},
	{KeyF1, "F1", 59},
	{KeyF2, "F2", 60},
	{KeyF3, "F3", 61},
	{KeyF4, "F4", 62},
	{KeyF5, "F5", 63},
	{KeyF6, "F6", 64},
	{KeyF7, "F7", 65},
	{KeyF8, "F8", 66},
	{KeyF9, "F9", 67},
	{KeyF10, "F10", 68},
	{KeyF11, "F11", 87},
	{KeyF12, "F12", 88},
	{KeyPrintScreen, "PrintScreen", 99},
	{KeyScrollLock, "ScrollLock", 70},
	{KeyPause, "Pause", 119},
	{KeyInsert, "Insert", 110},
	{KeyHome, "Home", 102},
	{KeyPageUp, "PageUp", 104},
	{KeyDelete, "Delete", 111},
	{KeyEnd, "End", 107},
	{KeyPageDown, "PageDown", 109},
	{KeyArrowRight, "ArrowRight", 106},
	{KeyArrowLeft, "ArrowLeft", 105},
	{KeyArrowDown, "ArrowDown", 108},
	{KeyArrowUp, "ArrowUp", 103},
	{KeyNumLock, "NumLock", 69},
	{KeyNumpadDivide, "NumpadDivide", 98},
	{KeyNumpadMultiply, "NumpadMultiply", 55},
	{KeyNumpadSubtract, "NumpadSubtract", 74},
	{KeyNumpadAdd, "NumpadAdd", 78},
	{KeyNumpadEnter, "NumpadEnter", 96},
	{KeyNumpad1, "Numpad1", 79},
	{KeyNumpad2, "Numpad2", 80},
	{KeyNumpad3, "Numpad3", 81},
	{KeyNumpad4, "Numpad4", 75},
	{KeyNumpad5, "Numpad5", 76},
	{KeyNumpad6, "Numpad6", 77},
	{KeyNumpad7, "Numpad7", 71},
	{KeyNumpad8, "Numpad8", 72},
	{KeyNumpad9, "Numpad9", 73},
	{KeyNumpad0, "Numpad0", 82},
	{KeyNumpadDecimal, "NumpadDecimal", 83},
	{KeyIntlBackslash, "IntlBackslash", 86},
	{KeyContextMenu, "ContextMenu", 127},
	{KeyPower, "Power", 116},
	{KeyNumpadEqual, "NumpadEqual", 117},
	{KeyF13, "F13", 183},
	{KeyF14, "F14", 184},
	{KeyF15, "F15", 185},
	{KeyF16, "F16", 186},
	{KeyF17, "F17", 187},
	{KeyF18, "F18", 188},
	{KeyF19, "F19", 189},
	{KeyF20, "F20", 190},
	{KeyF21, "F21", 191},
	{KeyF22, "F22", 192},
	{KeyF23, "F23", 193},
	{KeyF24, "F24", 194},
	{KeyOpen, "Open", 134},
	{KeyHelp, "Help", 138},
	{KeySelect, "Select", 132},
	{KeyAgain, "Again", 129},
	{KeyUndo, "Undo", 131},
	{KeyCut, "Cut", 137},
	{KeyCopy, "Copy", 133},
	{KeyPaste, "Paste", 135},
	{KeyFind, "Find", 136},
	{KeyAudioVolumeMute, "AudioVolumeMute", 113},
	{KeyAudioVolumeUp, "AudioVolumeUp", 115},
	{KeyAudioVolumeDown, "AudioVolumeDown", 114},
	{KeyNumpadComma, "NumpadComma", 121},
	{KeyIntlRo, "IntlRo", 89},
	{KeyKanaMode, "KanaMode", 93},
	{KeyIntlYen, "IntlYen", 124},
	{KeyConvert, "Convert", 92},
	{KeyNonConvert, "NonConvert", 94},
	{KeyLang1, "Lang1", 122},
	{KeyLang2, "Lang2", 123},
	{KeyLang3, "Lang3", 90},
	{KeyLang4, "Lang4", 91},
	{KeyLang5, "Lang5", 85},
	{KeyAbort, "Abort", 0},
	{KeyProps, "Props", 0},
	{KeyNumpadParenLeft, "NumpadParenLeft", 179},
	{KeyNumpadParenRight, "NumpadParenRight", 180},
	{KeyNumpadBackspace, "NumpadBackspace", 0},
	{KeyNumpadMemoryStore, "NumpadMemoryStore", 0},
	{KeyNumpadMemoryRecall, "NumpadMemoryRecall", 0},
	{KeyNumpadMemoryClear, "NumpadMemoryClear", 0},
	{KeyNumpadMemoryAdd, "NumpadMemoryAdd", 0},
	{KeyNumpadMemorySubtract, "NumpadMemorySubtract", 0},
	{KeyNumpadClear, "NumpadClear", 0},
	{KeyNumpadClearEntry, "NumpadClearEntry", 0},
	{KeyControlLeft, "ControlLeft", 29},
	{KeyShiftLeft, "ShiftLeft", 42},
	{KeyAltLeft, "AltLeft", 56},
	{KeyMetaLeft, "MetaLeft", 125},
	{KeyControlRight, "ControlRight", 97},
	{KeyShiftRight, "ShiftRight", 54},
	{KeyAltRight, "AltRight", 100},
	{KeyMetaRight, "MetaRight", 126},
	{KeySleep, "Sleep", 142},
	{KeyWakeUp, "WakeUp", 143},
	{KeyMediaTrackNext, "MediaTrackNext", 163},
	{KeyMediaTrackPrevious, "MediaTrackPrevious", 165},
	{KeyMediaStop, "MediaStop", 166},
	{KeyEject, "Eject", 161},
	{KeyMediaPlayPause, "MediaPlayPause", 164},
	{KeyMediaSelect, "MediaSelect", 171},
	{KeyLaunchMail, "LaunchMail", 155},
	{KeyLaunchApp2, "LaunchApp2", 140},
	{KeyLaunchApp1, "LaunchApp1", 144},
	{KeyBrowserSearch, "BrowserSearch", 217},
	{KeyBrowserHome, "BrowserHome", 172},
	{KeyBrowserBack, "BrowserBack", 158},
	{KeyBrowserForward, "BrowserForward", 159},
	{KeyBrowserStop, "BrowserStop", 128},
	{KeyBrowserRefresh, "BrowserRefresh", 173},
	{KeyBrowserFavorites, "BrowserFavorites", 156},
}

var (
	keyByName  = make(map[string]KeyCode, len(keyTable))
	keyByCode  = make(map[KeyCode]int, len(keyTable)) // index in keyTable
	keyByEvdev = make(map[uint16]KeyCode, len(keyTable))
)

func init() {
	for i, k := range keyTable {
		keyByName[k.name] = k.code
		keyByCode[k.code] = i
		if k.evdev != 0 {
			keyByEvdev[k.evdev] = k.code
		}
	}
}

// String returns k's KeyboardEvent.code value: "Unidentified" for
// KeyUnidentified, and "KeyCode(0x07ffff)" for a code without a name.
func (k KeyCode) String() string {
	if i, ok := keyByCode[k]; ok {
		return keyTable[i].name
	}
	if k == KeyUnidentified {
		return "Unidentified"
	}
	return fmt.Sprintf("KeyCode(0x%06x)", uint32(k))
}

// ParseKeyCode returns the key with the KeyboardEvent.code value code.
// "Unidentified" is KeyUnidentified; other values it does not know (and
// the non-HID keys "Fn", "FnLock", "Hyper", "Super", "Suspend", "Resume",
// "Turbo") give KeyUnidentified and false.
func ParseKeyCode(code string) (KeyCode, bool) {
	if code == "Unidentified" {
		return KeyUnidentified, true
	}
	k, ok := keyByName[code]
	return k, ok
}

// Evdev returns k's Linux evdev key code (KEY_* in linux/input-event-codes.h)
// and whether it has one.
func (k KeyCode) Evdev() (uint16, bool) {
	if i, ok := keyByCode[k]; ok && keyTable[i].evdev != 0 {
		return keyTable[i].evdev, true
	}
	return 0, false
}

// KeyCodeFromEvdev returns the key with the Linux evdev key code ev, and
// false if there is none.
func KeyCodeFromEvdev(ev uint16) (KeyCode, bool) {
	k, ok := keyByEvdev[ev]
	return k, ok
}

// KeyCodes returns every named key, in the order of the constants.
func KeyCodes() []KeyCode {
	ks := make([]KeyCode, len(keyTable))
	for i, k := range keyTable {
		ks[i] = k.code
	}
	return ks
}
