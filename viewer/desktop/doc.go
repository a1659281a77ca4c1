// Package desktop is Deskway's native viewer: a Fyne desktop app on the
// client core of package viewer. It exists so that technicians and
// teleworkers have a real application, quick to start, with several
// sessions at once, native keyboard handling and an end-to-end guarantee
// that does not depend on whoever serves a web page (SECURITY.md §4.11).
// It is the only package of the module that imports Fyne.
//
// # Windows
//
//   - The main window signs in to a broker (broker URL, user name,
//     password, then the TOTP code when the account has one), lists the
//     hosts the user may reach with live presence (polled), connects to one
//     (asking for the host access password, which goes to OPAQUE inside
//     the handshake and never to the broker) and joins a support session
//     by its code (only the nameplate goes to the broker).
//   - A session window per connection shows the host's screen (fit to the
//     window with smooth scaling, or 1:1), full screen, captures keyboard
//     and mouse, and offers Ctrl-Alt-Del, view only, clipboard, the choice
//     of monitor, refresh and reconnect; its status line shows the state,
//     relay, RTT, frames per second, bandwidth and the short
//     authentication string to compare with the host (SECURITY.md §4.8).
//   - Settings: broker URL, quality (lossless, balanced, low bandwidth),
//     most frames per second, the default scaling.
//
// # Files
//
// A Profile keeps the per-user state in one directory (by default
// os.UserConfigDir()/deskway/viewer), every file mode 0600 and written
// atomically: settings.json (broker URL, user name, preferences; never a
// password), token.json (the broker's bearer token, its expiry), pins
// (host_id → host key fingerprint, the proto pin format, SECURITY.md §4.3:
// a changed key is a hard failure with no click-through) and viewer.key
// (this device's static key).
//
// # Rendering
//
// The core reports each decoded screen update with the rectangles that
// changed in its framebuffer (viewer.Events.Frame), on the session's
// goroutine. The screen widget copies only those rectangles into the image
// it hands to Fyne, on Fyne's goroutine (fyne.DoAndWait), and refreshes
// the raster; Fyne uploads the image as one texture at its next paint and
// the GPU scales it (linear filtering in fit mode, nearest at 1:1). The
// Frame callback returns once the copy is done, so the core's frame
// acknowledgement includes the hand-off and a slow UI slows the host down
// instead of queueing frames.
//
// # Threads
//
// Fyne's objects belong to Fyne's goroutine. Every callback of the core
// hops onto it with fyne.Do (fyne.DoAndWait for frames); calls into a
// viewer.Session that may touch the network (Close) run on their own
// goroutine, so the UI never waits for the network.
package desktop
