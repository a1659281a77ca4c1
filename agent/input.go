package agent

import (
	"image"

	"github.com/deskway/deskway/proto"
)

// Input handling, on the receive loop. Pointer coordinates are pixels of
// the shared area (a monitor, or all of them), clamped to it. Keys: a key
// that types text without Control, Alt or Meta is typed as its text (the
// viewer's layout decides the character, whatever the host's layout);
// every other key (Enter, arrows, modifiers, shortcuts) is replayed by
// physical code. Keys and buttons still held when control ends are
// released.

func (s *Session) pointer(m *proto.Pointer) error {
	in := s.cfg.Desktop.Input
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if in == nil || !s.has(proto.PermControl) {
		return nil
	}
	s.mu.Lock()
	area := s.area
	s.mu.Unlock()
	p := image.Pt(int(m.X), int(m.Y)).Add(area.Min)
	p.X = max(area.Min.X, min(p.X, area.Max.X-1))
	p.Y = max(area.Min.Y, min(p.Y, area.Max.Y-1))
	if p != s.ptr {
		s.inputErr(in.MovePointer(p.X, p.Y))
		s.ptr = p
	}
	want := m.Buttons
	for b := proto.ButtonLeft; b <= proto.ButtonForward; b <<= 1 {
		if (want^s.buttons)&b != 0 {
			s.inputErr(in.Button(b, want&b != 0))
		}
	}
	s.buttons = want
	return nil
}

// typingMods are the modifiers that make a key a shortcut, not text.
const typingMods = proto.ModControl | proto.ModAlt | proto.ModMeta

func (s *Session) key(m *proto.KeyEvent) {
	in := s.cfg.Desktop.Input
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if in == nil || !s.has(proto.PermControl) {
		return
	}
	s.mu.Lock()
	caps := s.caps
	s.mu.Unlock()
	usage := m.Code
	asText := m.Text != "" && m.Mods&typingMods == 0 && !isModifier(usage) && caps&proto.CapKeyText != 0
	if m.Code == proto.KeyUnidentified {
		if m.Down && m.Text != "" {
			s.inputErr(in.Type(m.Text))
		}
		return
	}
	if asText && !s.pressed[usage] {
		if m.Down {
			s.inputErr(in.Type(m.Text))
		}
		return
	}
	if m.Down == s.pressed[usage] && !m.Repeat {
		return // a release of a key we never pressed, or a second press
	}
	s.inputErr(in.Key(usage, m.Down))
	if m.Down {
		s.pressed[usage] = true
	} else {
		delete(s.pressed, usage)
	}
}

func isModifier(k proto.KeyCode) bool { return k >= proto.KeyControlLeft && k <= proto.KeyMetaRight }

// wheel scrolls while control is granted.
func (s *Session) wheel(m *proto.Wheel) {
	in := s.cfg.Desktop.Input
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if in != nil && s.has(proto.PermControl) {
		s.inputErr(in.Wheel(int(m.DX), int(m.DY)))
	}
}

// releaseInput releases every key and button the viewer holds.
func (s *Session) releaseInput() {
	in := s.cfg.Desktop.Input
	if in == nil {
		return
	}
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	for usage := range s.pressed {
		in.Key(usage, false)
		delete(s.pressed, usage)
	}
	for b := proto.ButtonLeft; b <= proto.ButtonForward; b <<= 1 {
		if s.buttons&b != 0 {
			in.Button(b, false)
		}
	}
	s.buttons = 0
}

func (s *Session) inputErr(err error) {
	if err != nil {
		s.log.Debug("input", "err", err)
	}
}
