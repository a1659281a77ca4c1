package proto

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Caps are capability bits a Hello announces. A feature is on for the
// session only if both ends announce it (their intersection). Bits this
// version does not know are kept, not refused, so that newer peers can
// announce more.
type Caps uint64

const (
	CapClipboard    Caps = 1 << iota // clipboard text on StreamClipboard
	CapCursor                        // cursor shape and position apart from the screen (StreamCursor, CursorPos)
	CapMultiMonitor                  // several monitors: Layout with more than one, MonitorChoice
	CapLossless                      // codec mode lossless
	CapBalanced                      // codec mode balanced (lossy photo regions, exact text)
	CapLowBandwidth                  // codec mode for thin links
	CapKeyText                       // the host may type KeyEvent.Text instead of the key code (layouts differ)
	CapHostScaling                   // the host can scale frames down (Quality.ScalePercent)
	CapPadded                        // the host takes input in Padded records (traffic-analysis padding, keystroke chaff)
)

// Hello is the first message in each direction. It negotiates the
// version of this catalogue (NegotiateVersion) and the capabilities, names
// the software at each end, and gives the host's screen layout.
type Hello struct {
	// MinVersion..MaxVersion is the range of MsgVersion this end speaks;
	// 1 ≤ MinVersion ≤ MaxVersion.
	MinVersion, MaxVersion uint16
	Caps                   Caps
	// Software and Version name the program ("deskway-agent", "1.4.2"),
	// Platform where it runs ("linux/amd64", "js/wasm"); each ≤
	// MaxHelloField bytes of UTF-8.
	Software, Version, Platform string
	// User is the display name of the person at this end, shown to the
	// other (the customer sees who is asking to view); may be empty.
	User string
	// Layout is the host's monitors; a viewer sends an empty layout.
	Layout Layout
}

// NegotiateVersion returns the highest message version both Hellos
// support, or an error if their ranges do not overlap.
func NegotiateVersion(local, peer *Hello) (uint16, error) {
	v := min(local.MaxVersion, peer.MaxVersion)
	if v < max(local.MinVersion, peer.MinVersion) {
		return 0, fmt.Errorf("proto: no common message version: local %d..%d, peer %d..%d",
			local.MinVersion, local.MaxVersion, peer.MinVersion, peer.MaxVersion)
	}
	return v, nil
}

func (m *Hello) Type() MsgType { return MsgHello }

// AppendBinary implements Msg.
func (m *Hello) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Hello) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Hello) validate() error {
	if m.MinVersion < 1 || m.MinVersion > m.MaxVersion {
		return fmt.Errorf("version range %d..%d invalid", m.MinVersion, m.MaxVersion)
	}
	for _, f := range []struct{ what, s string }{
		{"software", m.Software}, {"version", m.Version}, {"platform", m.Platform}, {"user", m.User},
	} {
		if err := checkText(f.what, f.s, MaxHelloField); err != nil {
			return err
		}
	}
	return m.Layout.validate()
}

func (m *Hello) appendBody(b []byte) []byte {
	b = be.AppendUint16(b, m.MinVersion)
	b = be.AppendUint16(b, m.MaxVersion)
	b = be.AppendUint64(b, uint64(m.Caps))
	b = appendStr8(b, m.Software)
	b = appendStr8(b, m.Version)
	b = appendStr8(b, m.Platform)
	b = appendStr8(b, m.User)
	return m.Layout.appendBody(b)
}

func (m *Hello) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var caps uint64
	if err := readUint(&s, &m.MinVersion, &m.MaxVersion); err != nil {
		return s, err
	}
	if err := readUint(&s, &caps); err != nil {
		return s, err
	}
	m.Caps = Caps(caps)
	for _, f := range []struct {
		what string
		p    *string
	}{{"software", &m.Software}, {"version", &m.Version}, {"platform", &m.Platform}, {"user", &m.User}} {
		if err := readStr8(&s, f.what, MaxHelloField, f.p); err != nil {
			return s, err
		}
	}
	s, err := m.Layout.decodeFields(s)
	if err != nil {
		return s, err
	}
	return s, m.validate()
}

// Monitor is one of the host's monitors, in the host's virtual desktop
// coordinates (which may be negative left of or above the primary).
type Monitor struct {
	ID            uint32 // stable while the monitor is attached; never 0
	X, Y          int32
	Width, Height uint16 // pixels, ≥ 1
	ScalePercent  uint16 // the host's UI scale (100, 125, 200…); 0 = unknown
	Primary       bool
	Name          string // ≤ MaxHelloField bytes, e.g. "DP-1" or "DELL U2720Q"
}

const monitorPrimary = 1 // Monitor flags bit

// Layout is the host's screen layout: its monitors and which one is
// shared. Pointer and cursor coordinates are pixels of the shared screen:
// of the selected monitor, or with Selected 0 of the bounding box of all
// monitors, origin at its top left corner.
type Layout struct {
	Selected uint32    // id of the shared monitor; 0 = all of them
	Monitors []Monitor // ≤ MaxMonitors, distinct non-zero ids, at most one primary
}

func (m *Layout) Type() MsgType { return MsgLayout }

// AppendBinary implements Msg.
func (m *Layout) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Layout) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Layout) validate() error {
	if len(m.Monitors) > MaxMonitors {
		return fmt.Errorf("monitor count %d exceeds %d", len(m.Monitors), MaxMonitors)
	}
	primaries, selected := 0, m.Selected == 0
	for i, mon := range m.Monitors {
		switch {
		case mon.ID == 0:
			return fmt.Errorf("monitor %d: id 0", i)
		case mon.Width == 0 || mon.Height == 0:
			return fmt.Errorf("monitor %d: size %dx%d", i, mon.Width, mon.Height)
		}
		if err := checkText("monitor name", mon.Name, MaxHelloField); err != nil {
			return fmt.Errorf("monitor %d: %v", i, err)
		}
		for _, o := range m.Monitors[:i] {
			if o.ID == mon.ID {
				return fmt.Errorf("monitor %d: duplicate id %d", i, mon.ID)
			}
		}
		if mon.Primary {
			primaries++
		}
		selected = selected || mon.ID == m.Selected
	}
	if primaries > 1 {
		return errors.New("more than one primary monitor")
	}
	if !selected {
		return fmt.Errorf("selected monitor %d not in layout", m.Selected)
	}
	return nil
}

func (m *Layout) appendBody(b []byte) []byte {
	b = be.AppendUint32(b, m.Selected)
	b = append(b, uint8(len(m.Monitors)))
	for _, mon := range m.Monitors {
		b = be.AppendUint32(b, mon.ID)
		b = be.AppendUint32(b, uint32(mon.X))
		b = be.AppendUint32(b, uint32(mon.Y))
		b = be.AppendUint16(b, mon.Width)
		b = be.AppendUint16(b, mon.Height)
		b = be.AppendUint16(b, mon.ScalePercent)
		var flags uint8
		if mon.Primary {
			flags |= monitorPrimary
		}
		b = appendStr8(append(b, flags), mon.Name)
	}
	return b
}

func (m *Layout) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var err error
	if s, err = m.decodeFields(s); err != nil {
		return s, err
	}
	return s, m.validate()
}

// decodeFields reads a layout without validating it (Hello validates the
// whole).
func (m *Layout) decodeFields(s cryptobyte.String) (cryptobyte.String, error) {
	var n uint8
	if err := readUint(&s, &m.Selected); err != nil {
		return s, err
	}
	if err := readUint(&s, &n); err != nil {
		return s, err
	}
	if n > MaxMonitors {
		return s, fmt.Errorf("monitor count %d exceeds %d", n, MaxMonitors)
	}
	m.Monitors = nil
	if n > 0 {
		m.Monitors = make([]Monitor, n)
	}
	for i := range m.Monitors {
		mon := &m.Monitors[i]
		var x, y uint32
		var flags uint8
		if err := readUint(&s, &mon.ID, &x, &y); err != nil {
			return s, err
		}
		if err := readUint(&s, &mon.Width, &mon.Height, &mon.ScalePercent); err != nil {
			return s, err
		}
		if err := readUint(&s, &flags); err != nil {
			return s, err
		}
		if err := checkBits("monitor flags", flags, monitorPrimary); err != nil {
			return s, fmt.Errorf("monitor %d: %v", i, err)
		}
		mon.X, mon.Y, mon.Primary = int32(x), int32(y), flags&monitorPrimary != 0
		if err := readStr8(&s, "monitor name", MaxHelloField, &mon.Name); err != nil {
			return s, fmt.Errorf("monitor %d: %v", i, err)
		}
	}
	return s, nil
}
