// Package platform is the agent's window on the host's desktop: it
// captures the screen, injects pointer and keyboard input, reads the
// cursor, reads and writes the clipboard, and asks the person at the host
// for consent while showing that a session is live.
//
// Each concern has one type per platform, chosen by file suffix:
//
//   - X11 (Linux): capture over a persistent connection with MIT-SHM and
//     DAMAGE (X11Capturer) so only changed regions are read, with the
//     library path (LibCapturer, github.com/kbinani/screenshot) as a
//     fallback; pointer through github.com/go-vgo/robotgo, keys by
//     physical code and layout-proof text through XTest; the cursor
//     through XFixes; the clipboard through X selections; consent and the
//     live indicator as small X windows.
//   - Windows: capture through the library path, pointer through robotgo,
//     keys and text through SendInput, the clipboard and prompts through
//     user32.
//
// A terminal prompt (TermPrompter) and automatic consent (AutoPrompter,
// the agent's --yes) work everywhere.
//
// The package knows nothing of sessions: it speaks in types of proto
// (monitors, key codes, buttons, permissions, cursor shapes), codec
// (frames) and the standard library, and coordinates are pixels of the
// virtual desktop. Package agent defines the small interfaces it consumes
// (without importing this package); cmd/deskway-agent wires the two, and
// agent/agenttest has fakes.
package platform
