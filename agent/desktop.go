package agent

import (
	"context"
	"image"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// The session's view of the host's desktop: small interfaces in types of
// proto, codec and the standard library, which package agent/platform
// implements for X11 and Windows (cmd/deskway-agent wires them) and tests
// fake. Coordinates are virtual desktop pixels.

// Screen captures the host's displays.
type Screen interface {
	// Displays lists the monitors in virtual desktop coordinates.
	Displays() ([]proto.Monitor, error)
	// Capture updates f with area and returns the rectangles, relative to
	// area, that changed since the previous capture into f: none when
	// nothing changed, one covering the area when anything may have.
	Capture(area image.Rectangle, f *codec.Frame) ([]image.Rectangle, error)
}

// Input injects pointer and keyboard input.
type Input interface {
	MovePointer(x, y int) error
	// Button presses or releases one button (one bit of proto.Buttons).
	Button(b proto.Buttons, down bool) error
	// Wheel scrolls by dx, dy in 1/120 notch; positive is right, down.
	Wheel(dx, dy int) error
	// Key presses or releases a physical key.
	Key(code proto.KeyCode, down bool) error
	// Type types text whatever the host's keyboard layout.
	Type(text string) error
}

// Cursor reads the pointer's position and shape. The serial changes
// whenever the shape does.
type Cursor interface {
	State() (pos proto.CursorPos, serial uint32, err error)
	// Shape returns the current shape (straight RGBA, ID unused).
	Shape() (shape proto.CursorShape, serial uint32, err error)
}

// Clipboard reads and writes clipboard text.
type Clipboard interface {
	Text(ctx context.Context) (string, error)
	SetText(text string) error
	// Changes receives a value when another program changed the
	// clipboard.
	Changes() <-chan struct{}
}

// Prompter asks the person at the host for consent and shows the live
// indicator.
type Prompter interface {
	// Consent asks whether viewer may have want and returns what was
	// granted; sas is the short authentication string to compare.
	Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error)
	ShowIndicator(text string) (Indicator, error)
}

// Indicator is the visible sign that a session is live: SetText replaces
// its text, Ended is closed when the person at the host ends the session,
// Close removes it. (An alias of an unnamed interface type, the same type
// as platform.Indicator.)
type Indicator = interface {
	SetText(text string)
	Ended() <-chan struct{}
	Close() error
}

// ControlIndicator is an Indicator through which the person at the host
// can also take back control (mouse, keyboard and clipboard) while the
// session goes on, view only. The session calls SetControl whenever
// control is granted or taken back, so that the indicator offers it only
// while there is something to take back; Withdrawn delivers a value each
// time the person takes it back. (The same type as
// platform.ControlIndicator.)
type ControlIndicator = interface {
	Indicator
	SetControl(on bool)
	Withdrawn() <-chan struct{}
}

// Desktop is what a session uses of the host. Screen and Prompter are
// required; a nil Input makes every session view-only, a nil Cursor or
// Clipboard leaves that feature out.
type Desktop struct {
	Screen    Screen
	Input     Input
	Cursor    Cursor
	Clipboard Clipboard
	Prompter  Prompter
}

// monitorBounds returns where m is on the virtual desktop.
func monitorBounds(m proto.Monitor) image.Rectangle {
	return image.Rect(int(m.X), int(m.Y), int(m.X)+int(m.Width), int(m.Y)+int(m.Height))
}

// allPerms is every permission a viewer can have.
const allPerms = proto.PermView | proto.PermControl | proto.PermClipboard
