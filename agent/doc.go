// Package agent is the host side of a session: it captures the screen,
// streams it through the codec over the secure channel, injects keyboard
// and mouse input, and syncs cursor and clipboard, all with the consent of
// the person at the host.
package agent
