package proto

// KeyCode is a physical key, independent of the keyboard layout: its USB
// HID usage, page << 16 | usage id (the keyboard page is 0x07, so KeyA is
// 0x070004). 0 is KeyUnidentified.
type KeyCode uint32

// KeyUnidentified is the code of an event not tied to a known key.
const KeyUnidentified KeyCode = 0
