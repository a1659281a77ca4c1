// Package agent is the host side of a session: it captures the screen,
// streams it through the codec over the secure channel, injects keyboard
// and mouse input, and syncs cursor and clipboard, all with the consent of
// the person at the host.
//
// Layout:
//
//   - session.go: the session loop (its pipeline is described at the top
//     of the file): Session over a *proto.Channel and a Desktop.
//   - desktop.go: the small interfaces the session consumes (Screen,
//     Input, Cursor, Clipboard, Prompter), in types of proto, codec and
//     the standard library; agent/platform implements them for X11 and
//     Windows, agent/agenttest fakes them; cmd/deskway-agent wires them.
//   - run.go: the modes: RunSupport (a support code, the technician's
//     PAKE, consent) and RunHost (the control connection, unattended
//     sessions with the host access password), with relay fail-over.
//   - config.go, store.go: the configuration directory: identity and
//     keys, the OPAQUE record, and the durable attempt counters and pins
//     that SECURITY.md §4.2–4.3 require (files 0600, written atomically
//     and fsynced).
//
// A Session is used by one goroutine (Run); End and Resumed may be called
// from any goroutine.
package agent
