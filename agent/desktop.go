package agent

import (
	"context"
	"image"

	"github.com/deskway/deskway/agent/platform"
)

// The session's view of the host's desktop: small interfaces that
// package platform implements for X11 and Windows and agent/agenttest
// fakes for unit tests. Coordinates are virtual desktop pixels.

// Screen captures the host's displays.
type Screen interface {
	Displays() ([]platform.Display, error)
	// Capture updates img with area and says what changed since the
	// previous capture into img (platform.Damage).
	Capture(area image.Rectangle, img *platform.Image) (platform.Damage, error)
}

// Input injects pointer and keyboard input.
type Input interface {
	MovePointer(x, y int) error
	Button(b platform.Button, down bool) error
	// Wheel scrolls by dx, dy in 1/120 notch; positive is right, down.
	Wheel(dx, dy int) error
	// Key presses or releases a physical key by HID usage (proto.KeyCode).
	Key(usage uint32, down bool) error
	// Type types text whatever the host's keyboard layout.
	Type(text string) error
}

// Cursor reads the pointer's position and shape.
type Cursor interface {
	State() (platform.CursorState, error)
	Shape() (platform.CursorShape, error)
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
	Consent(ctx context.Context, req platform.ConsentRequest) (platform.Perms, error)
	ShowIndicator(text string) (platform.Indicator, error)
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
