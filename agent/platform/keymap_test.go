package platform

import (
	"testing"

	"github.com/deskway/deskway/proto"
)

// TestKeymapAgreesWithProto checks the platform table against proto's own
// evdev mapping for every key both know, and spot-checks scan codes.
func TestKeymapAgreesWithProto(t *testing.T) {
	n := 0
	for _, page := range []uint32{hidKeyboardPage, hidConsumerPage} {
		for id := uint32(0); id < 0x300; id++ {
			code := proto.KeyCode(page<<16 | id)
			want, ok := code.Evdev()
			got, mine := lookupKey(uint32(code))
			if !ok || !mine {
				continue
			}
			n++
			if got.evdev != want {
				t.Errorf("%v: evdev %d, proto says %d", code, got.evdev, want)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d keys in common with proto", n)
	}
	for _, tc := range []struct {
		code proto.KeyCode
		scan uint16
	}{
		{proto.KeyA, 0x1e}, {proto.KeyEnter, 0x1c}, {proto.KeyArrowLeft, 0xe04b},
		{proto.KeyControlRight, 0xe01d}, {proto.KeyMetaLeft, 0xe05b}, {proto.KeyF12, 0x58},
	} {
		if k, _ := lookupKey(uint32(tc.code)); k.scan != tc.scan {
			t.Errorf("%v: scan code %#x, want %#x", tc.code, k.scan, tc.scan)
		}
	}
}
