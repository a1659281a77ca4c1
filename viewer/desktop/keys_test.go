package desktop

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/deskway/deskway/proto"
)

// keyStep is one Fyne callback: "down X", "up X", "typed X" (TypedKey),
// "rune r".
type keyStep string

func runKeys(k *keyboard, steps []keyStep) []proto.KeyEvent {
	var out []proto.KeyEvent
	for _, s := range steps {
		verb, arg, _ := strings.Cut(string(s), " ")
		ev := &fyne.KeyEvent{Name: fyne.KeyName(arg)}
		switch verb {
		case "down":
			out = k.down(ev, out)
		case "up":
			out = k.up(ev, out)
		case "typed":
			out = k.typedKey(ev, out)
		case "rune":
			out = k.typedRune([]rune(arg)[0], out)
		case "flush":
			out = k.flush(out)
		default:
			panic("bad step " + string(s))
		}
	}
	return out
}

func fmtKeys(evs []proto.KeyEvent) string {
	var parts []string
	for _, e := range evs {
		s := "up "
		if e.Down {
			s = "down "
		}
		if e.Repeat {
			s = "repeat "
		}
		s += e.Code.String()
		if e.Text != "" {
			s += fmt.Sprintf(" %q", e.Text)
		}
		if e.Mods != 0 {
			s += fmt.Sprintf(" mods=%b", e.Mods)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func TestKeyboard(t *testing.T) {
	shift, ctrl := fmt.Sprintf("%b", proto.ModShift), fmt.Sprintf("%b", proto.ModControl)
	tests := []struct {
		name  string
		steps []keyStep
		want  string
	}{
		{"letter with its text", []keyStep{"down A", "typed A", "rune a", "up A"},
			`down KeyA "a", up KeyA`},
		{"shifted letter", []keyStep{"down LeftShift", "down A", "typed A", "rune A", "up A", "up LeftShift"},
			`down ShiftLeft mods=` + shift + `, down KeyA "A" mods=` + shift + `, up KeyA mods=` + shift + `, up ShiftLeft`},
		{"shortcut is sent at once, without text", []keyStep{"down LeftControl", "down C", "up C", "up LeftControl"},
			`down ControlLeft mods=` + ctrl + `, down KeyC mods=` + ctrl + `, up KeyC mods=` + ctrl + `, up ControlLeft`},
		{"auto-repeat while a modifier is held (TypedShortcut)", []keyStep{"down LeftControl", "down Left", "typed Left", "typed Left", "up Left"},
			`down ControlLeft mods=` + ctrl + `, down ArrowLeft mods=` + ctrl + `, repeat ArrowLeft mods=` + ctrl + `, up ArrowLeft mods=` + ctrl},
		{"key that types nothing goes at once", []keyStep{"down Left", "typed Left", "up Left"},
			`down ArrowLeft, up ArrowLeft`},
		{"a press without text is sent by the next event", []keyStep{"down 1", "down 2", "typed 2", "rune @"},
			`down Digit1, down Digit2 "@"`},
		{"auto-repeat", []keyStep{"down B", "typed B", "rune b", "typed B", "rune b", "typed Return", "up B"},
			`down KeyB "b", repeat KeyB "b", up KeyB`},
		{"repeat of a key without text", []keyStep{"down Return", "typed Return", "typed Return", "up Return"},
			`down Enter, repeat Enter, up Enter`},
		{"text from an input method", []keyStep{"rune é"},
			`down Unidentified "é"`},
		{"release of a key never pressed is dropped", []keyStep{"up A"}, ``},
		{"tab goes to the host", []keyStep{"down Tab", "typed Tab", "up Tab"}, `down Tab, up Tab`},
		{"space waits for its text", []keyStep{"down Space", "typed Space", "rune  ", "up Space"}, `down Space " ", up Space`},
		{"both shifts: one up keeps the modifier", []keyStep{"down LeftShift", "down RightShift", "up LeftShift", "down A", "rune A"},
			`down ShiftLeft mods=` + shift + `, down ShiftRight mods=` + shift + `, up ShiftLeft mods=` + shift + `, down KeyA "A" mods=` + shift},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fmtKeys(runKeys(newKeyboard(), tt.steps))
			if got != tt.want {
				t.Errorf("keys %v\n got: %s\nwant: %s", tt.steps, got, tt.want)
			}
		})
	}
}

func TestKeyboardHotkey(t *testing.T) {
	k := newKeyboard()
	var took []fyne.KeyName
	k.hotkey = func(n fyne.KeyName, m proto.Mods) bool {
		if n == fyne.KeyF && m&hotkeyMods == hotkeyMods {
			took = append(took, n)
			return true
		}
		return false
	}
	got := fmtKeys(runKeys(k, []keyStep{"down LeftControl", "down LeftAlt", "down LeftShift", "down F", "up F", "up LeftShift", "up LeftAlt", "up LeftControl", "down F", "rune f", "up F"}))
	if !slices.Equal(took, []fyne.KeyName{fyne.KeyF}) {
		t.Errorf("hotkey took %v, want [F]", took)
	}
	if strings.Contains(got, "KeyF mods") || !strings.HasSuffix(got, `down KeyF "f", up KeyF`) {
		t.Errorf("keys around the hotkey: %s", got)
	}
}

func TestKeyboardReset(t *testing.T) {
	k := newKeyboard()
	runKeys(k, []keyStep{"down LeftControl", "down A"})
	k.reset()
	if got := fmtKeys(runKeys(k, []keyStep{"up A", "down B", "rune b"})); got != `down KeyB "b"` {
		t.Errorf("after reset: %s", got)
	}
}

func TestKeyCode(t *testing.T) {
	tests := []struct {
		ev   fyne.KeyEvent
		want proto.KeyCode
	}{
		{fyne.KeyEvent{Name: fyne.KeyA}, proto.KeyA},
		{fyne.KeyEvent{Name: desktop.KeySuperLeft}, proto.KeyMetaLeft},
		{fyne.KeyEvent{Name: fyne.KeyEnter}, proto.KeyNumpadEnter},
		{fyne.KeyEvent{Name: "nonsense"}, proto.KeyUnidentified},
	}
	if scanIsX11 {
		// X keycodes are evdev + 8: 38 is KEY_A (30), whatever the name
		// says (a layout where that key types "q").
		tests = append(tests,
			struct {
				ev   fyne.KeyEvent
				want proto.KeyCode
			}{fyne.KeyEvent{Name: fyne.KeyQ, Physical: fyne.HardwareKey{ScanCode: 38}}, proto.KeyA},
			struct {
				ev   fyne.KeyEvent
				want proto.KeyCode
			}{fyne.KeyEvent{Name: fyne.KeyDelete, Physical: fyne.HardwareKey{ScanCode: 119}}, proto.KeyDelete},
		)
	}
	for _, tt := range tests {
		if got := keyCode(&tt.ev); got != tt.want {
			t.Errorf("keyCode(%+v) = %v, want %v", tt.ev, got, tt.want)
		}
	}
}

func TestWheelAndButtons(t *testing.T) {
	tests := []struct {
		d      fyne.Delta
		dx, dy int
	}{
		{fyne.Delta{DY: -scrollNotch}, 0, proto.WheelNotch}, // one notch towards the user: down
		{fyne.Delta{DY: scrollNotch}, 0, -proto.WheelNotch}, // away: up
		{fyne.Delta{DX: scrollNotch}, -proto.WheelNotch, 0}, // left
		{fyne.Delta{DY: -0.01}, 0, 1},                       // a touchpad's smallest step still scrolls
		{fyne.Delta{DY: -3 * scrollNotch}, 0, 3 * proto.WheelNotch},
	}
	for _, tt := range tests {
		if dx, dy := wheelOf(tt.d); dx != tt.dx || dy != tt.dy {
			t.Errorf("wheelOf(%+v) = %d, %d; want %d, %d", tt.d, dx, dy, tt.dx, tt.dy)
		}
	}
	if b := buttonOf(desktop.MouseButtonPrimary | desktop.MouseButtonTertiary); b != proto.ButtonLeft|proto.ButtonMiddle {
		t.Errorf("buttonOf(primary|tertiary) = %b", b)
	}
	if b := buttonOf(desktop.MouseButtonSecondary); b != proto.ButtonRight {
		t.Errorf("buttonOf(secondary) = %b", b)
	}
}
