package viewer_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

func TestKeyFromDOM(t *testing.T) {
	tests := []struct {
		code, key    string
		down, repeat bool
		mods         proto.Mods
		want         proto.KeyEvent
		ok           bool
	}{
		{"KeyA", "a", true, false, 0, proto.KeyEvent{Down: true, Code: proto.KeyA, Text: "a"}, true},
		{"KeyA", "A", true, true, proto.ModShift, proto.KeyEvent{Down: true, Repeat: true, Code: proto.KeyA, Mods: proto.ModShift, Text: "A"}, true},
		{"KeyA", "a", false, false, 0, proto.KeyEvent{Code: proto.KeyA}, true},
		{"KeyQ", "a", true, false, 0, proto.KeyEvent{Down: true, Code: proto.KeyQ, Text: "a"}, true}, // AZERTY: the physical key stays Q
		{"KeyC", "c", true, false, proto.ModControl, proto.KeyEvent{Down: true, Code: proto.KeyC, Mods: proto.ModControl}, true},
		{"KeyQ", "@", true, false, proto.ModControl | proto.ModAlt | proto.ModAltGraph, proto.KeyEvent{Down: true, Code: proto.KeyQ, Mods: proto.ModControl | proto.ModAlt | proto.ModAltGraph, Text: "@"}, true},
		{"Enter", "Enter", true, false, 0, proto.KeyEvent{Down: true, Code: proto.KeyEnter}, true},
		{"Space", " ", true, false, 0, proto.KeyEvent{Down: true, Code: proto.KeySpace, Text: " "}, true},
		{"F5", "F5", true, false, 0, proto.KeyEvent{Down: true, Code: proto.KeyF5}, true},
		{"MetaLeft", "Meta", true, false, proto.ModMeta, proto.KeyEvent{Down: true, Code: proto.KeyMetaLeft, Mods: proto.ModMeta}, true},
		{"", "é", true, false, 0, proto.KeyEvent{Down: true, Text: "é"}, true},
		{"", "Dead", true, false, 0, proto.KeyEvent{Down: true}, false},
		{"Unknown", "\x01", true, false, 0, proto.KeyEvent{Down: true}, false},
	}
	for _, tt := range tests {
		got, ok := viewer.KeyFromDOM(tt.code, tt.key, tt.down, tt.repeat, tt.mods)
		if got != tt.want || ok != tt.ok {
			t.Errorf("KeyFromDOM(%q, %q, %v, %v, %b) = %+v, %v; want %+v, %v", tt.code, tt.key, tt.down, tt.repeat, tt.mods, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWheelFromDOM(t *testing.T) {
	tests := []struct {
		delta float64
		mode  int
		want  int
	}{
		{100, 0, 120}, {-100, 0, -120}, {53, 0, 63}, {0.3, 0, 1}, {-0.3, 0, -1}, {0, 0, 0},
		{3, 1, 120}, {1, 1, 40}, {1, 2, 120}, {-2, 2, -240},
	}
	for _, tt := range tests {
		if got := viewer.WheelFromDOM(tt.delta, tt.mode); got != tt.want {
			t.Errorf("WheelFromDOM(%v, %d) = %d, want %d", tt.delta, tt.mode, got, tt.want)
		}
	}
}

func TestButtonsFromDOM(t *testing.T) {
	for _, tt := range []struct {
		in   int
		want proto.Buttons
	}{{0, 0}, {1, proto.ButtonLeft}, {2, proto.ButtonRight}, {4, proto.ButtonMiddle}, {0x1f, 0x1f}, {0xff, 0x1f}} {
		if got := viewer.ButtonsFromDOM(tt.in); got != tt.want {
			t.Errorf("ButtonsFromDOM(%#x) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "Disconnected."},
		{fmt.Errorf("%w: x", viewer.ErrWrongCode), "Wrong code"},
		{fmt.Errorf("%w: x", viewer.ErrHostOffline), "offline"},
		{fmt.Errorf("%w: x", viewer.ErrWrongPassword), "wrong host access password"},
		{fmt.Errorf("%w: x", viewer.ErrHostKeyChanged), "key changed"},
		{&viewer.EndError{Reason: proto.EndConsentDenied}, "refused"},
		{&viewer.EndError{Reason: proto.EndConsentWithdrawn}, "stopped sharing"},
		{&viewer.EndError{Reason: proto.EndShutdown, Text: "reboot"}, "shutdown): reboot"},
		{fmt.Errorf("%w: x", viewer.ErrConnectionLost), "lost"},
		{errors.New("odd"), "Error: odd"},
	}
	for _, tt := range tests {
		if got := viewer.Explain(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("Explain(%v) = %q, want it to contain %q", tt.err, got, tt.want)
		}
	}
	if errors.Is(&viewer.EndError{Reason: proto.EndShutdown}, viewer.ErrConsentRefused) {
		t.Errorf("a shutdown matches ErrConsentRefused")
	}
}
