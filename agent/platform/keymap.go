package platform

// Keys are USB HID usages: page<<16 | usage id, the values of
// proto.KeyCode. The keyboard page is 0x07; a few consumer-page keys
// (0x0c) are media keys.
const (
	hidKeyboardPage = 0x07
	hidConsumerPage = 0x0c
)

// hidKey is where one HID keyboard usage goes on each platform.
type hidKey struct {
	// evdev is the Linux input event code; the X keycode is evdev+8 with
	// the evdev and libinput drivers and in Xvfb.
	evdev uint16
	// scan is the PC scan code set 1 that Windows' SendInput takes with
	// KEYEVENTF_SCANCODE; 0xe0xx marks an extended key.
	scan uint16
}

// hidKeyboard maps keyboard-page usage ids to platform codes, after the
// Linux kernel's hid-input table and Microsoft's "USB HID to PS/2 scan
// code translation table". Zero entries are keys we cannot send.
var hidKeyboard = [256]hidKey{
	0x04: {30, 0x1e}, 0x05: {48, 0x30}, 0x06: {46, 0x2e}, 0x07: {32, 0x20}, // a b c d
	0x08: {18, 0x12}, 0x09: {33, 0x21}, 0x0a: {34, 0x22}, 0x0b: {35, 0x23}, // e f g h
	0x0c: {23, 0x17}, 0x0d: {36, 0x24}, 0x0e: {37, 0x25}, 0x0f: {38, 0x26}, // i j k l
	0x10: {50, 0x32}, 0x11: {49, 0x31}, 0x12: {24, 0x18}, 0x13: {25, 0x19}, // m n o p
	0x14: {16, 0x10}, 0x15: {19, 0x13}, 0x16: {31, 0x1f}, 0x17: {20, 0x14}, // q r s t
	0x18: {22, 0x16}, 0x19: {47, 0x2f}, 0x1a: {17, 0x11}, 0x1b: {45, 0x2d}, // u v w x
	0x1c: {21, 0x15}, 0x1d: {44, 0x2c}, // y z
	0x1e: {2, 0x02}, 0x1f: {3, 0x03}, 0x20: {4, 0x04}, 0x21: {5, 0x05}, 0x22: {6, 0x06}, // 1-5
	0x23: {7, 0x07}, 0x24: {8, 0x08}, 0x25: {9, 0x09}, 0x26: {10, 0x0a}, 0x27: {11, 0x0b}, // 6-0
	0x28: {28, 0x1c},                                                       // Enter
	0x29: {1, 0x01},                                                        // Escape
	0x2a: {14, 0x0e},                                                       // Backspace
	0x2b: {15, 0x0f},                                                       // Tab
	0x2c: {57, 0x39},                                                       // Space
	0x2d: {12, 0x0c},                                                       // Minus
	0x2e: {13, 0x0d},                                                       // Equal
	0x2f: {26, 0x1a},                                                       // BracketLeft
	0x30: {27, 0x1b},                                                       // BracketRight
	0x31: {43, 0x2b},                                                       // Backslash
	0x32: {43, 0x2b},                                                       // IntlHash (non-US #), the same key position
	0x33: {39, 0x27},                                                       // Semicolon
	0x34: {40, 0x28},                                                       // Quote
	0x35: {41, 0x29},                                                       // Backquote
	0x36: {51, 0x33},                                                       // Comma
	0x37: {52, 0x34},                                                       // Period
	0x38: {53, 0x35},                                                       // Slash
	0x39: {58, 0x3a},                                                       // CapsLock
	0x3a: {59, 0x3b}, 0x3b: {60, 0x3c}, 0x3c: {61, 0x3d}, 0x3d: {62, 0x3e}, // F1-F4
	0x3e: {63, 0x3f}, 0x3f: {64, 0x40}, 0x40: {65, 0x41}, 0x41: {66, 0x42}, // F5-F8
	0x42: {67, 0x43}, 0x43: {68, 0x44}, 0x44: {87, 0x57}, 0x45: {88, 0x58}, // F9-F12
	0x46: {99, 0xe037},                                   // PrintScreen
	0x47: {70, 0x46},                                     // ScrollLock
	0x48: {119, 0xe11d},                                  // Pause (its real sequence is E1 1D 45; SendInput takes this)
	0x49: {110, 0xe052},                                  // Insert
	0x4a: {102, 0xe047},                                  // Home
	0x4b: {104, 0xe049},                                  // PageUp
	0x4c: {111, 0xe053},                                  // Delete
	0x4d: {107, 0xe04f},                                  // End
	0x4e: {109, 0xe051},                                  // PageDown
	0x4f: {106, 0xe04d},                                  // ArrowRight
	0x50: {105, 0xe04b},                                  // ArrowLeft
	0x51: {108, 0xe050},                                  // ArrowDown
	0x52: {103, 0xe048},                                  // ArrowUp
	0x53: {69, 0x45},                                     // NumLock
	0x54: {98, 0xe035},                                   // NumpadDivide
	0x55: {55, 0x37},                                     // NumpadMultiply
	0x56: {74, 0x4a},                                     // NumpadSubtract
	0x57: {78, 0x4e},                                     // NumpadAdd
	0x58: {96, 0xe01c},                                   // NumpadEnter
	0x59: {79, 0x4f}, 0x5a: {80, 0x50}, 0x5b: {81, 0x51}, // Numpad1-3
	0x5c: {75, 0x4b}, 0x5d: {76, 0x4c}, 0x5e: {77, 0x4d}, // Numpad4-6
	0x5f: {71, 0x47}, 0x60: {72, 0x48}, 0x61: {73, 0x49}, // Numpad7-9
	0x62: {82, 0x52},                                                           // Numpad0
	0x63: {83, 0x53},                                                           // NumpadDecimal
	0x64: {86, 0x56},                                                           // IntlBackslash (the key left of Z on ISO keyboards)
	0x65: {127, 0xe05d},                                                        // ContextMenu
	0x66: {116, 0xe05e},                                                        // Power
	0x67: {117, 0x59},                                                          // NumpadEqual
	0x68: {183, 0x64}, 0x69: {184, 0x65}, 0x6a: {185, 0x66}, 0x6b: {186, 0x67}, // F13-F16
	0x6c: {187, 0x68}, 0x6d: {188, 0x69}, 0x6e: {189, 0x6a}, 0x6f: {190, 0x6b}, // F17-F20
	0x70: {191, 0x6c}, 0x71: {192, 0x6d}, 0x72: {193, 0x6e}, 0x73: {194, 0x76}, // F21-F24
	0x75: {138, 0},      // Help
	0x7f: {113, 0xe020}, // AudioVolumeMute
	0x80: {115, 0xe030}, // AudioVolumeUp
	0x81: {114, 0xe02e}, // AudioVolumeDown
	0x85: {121, 0x7e},   // NumpadComma
	0x87: {89, 0x73},    // IntlRo
	0x88: {93, 0x70},    // KanaMode
	0x89: {124, 0x7d},   // IntlYen
	0x8a: {92, 0x79},    // Convert
	0x8b: {94, 0x7b},    // NonConvert
	0x90: {122, 0xe0f2}, // Lang1 (Hangul/English)
	0x91: {123, 0xe0f1}, // Lang2 (Hanja)
	0xe0: {29, 0x1d},    // ControlLeft
	0xe1: {42, 0x2a},    // ShiftLeft
	0xe2: {56, 0x38},    // AltLeft
	0xe3: {125, 0xe05b}, // MetaLeft
	0xe4: {97, 0xe01d},  // ControlRight
	0xe5: {54, 0x36},    // ShiftRight
	0xe6: {100, 0xe038}, // AltRight
	0xe7: {126, 0xe05c}, // MetaRight
}

// hidConsumer maps the consumer-page media keys the viewers send.
var hidConsumer = map[uint16]hidKey{
	0x00b5: {163, 0xe019}, // MediaTrackNext
	0x00b6: {165, 0xe010}, // MediaTrackPrevious
	0x00b7: {166, 0xe024}, // MediaStop
	0x00cd: {164, 0xe022}, // MediaPlayPause
	0x00e2: {113, 0xe020}, // AudioVolumeMute
	0x00e9: {115, 0xe030}, // AudioVolumeUp
	0x00ea: {114, 0xe02e}, // AudioVolumeDown
}

// lookupKey returns the platform codes of a HID usage (page<<16 | id).
func lookupKey(usage uint32) (hidKey, bool) {
	page, id := usage>>16, uint16(usage)
	switch page {
	case hidKeyboardPage:
		if id < uint16(len(hidKeyboard)) && hidKeyboard[id].evdev != 0 {
			return hidKeyboard[id], true
		}
	case hidConsumerPage:
		k, ok := hidConsumer[id]
		return k, ok
	}
	return hidKey{}, false
}

// modifierUsages are the keyboard-page usages of the modifier keys
// (ControlLeft..MetaRight), which a session releases when it ends.
func isModifierUsage(usage uint32) bool {
	return usage>>16 == hidKeyboardPage && uint16(usage) >= 0xe0 && uint16(usage) <= 0xe7
}
