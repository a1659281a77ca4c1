package main

import (
	"errors"

	"github.com/deskway/deskway/viewer"
)

// kinds names the viewer's error classes for the page, which reacts to
// some (a wrong code puts the cursor back in the code field; a lost
// connection offers to reconnect).
var kinds = []struct {
	err  error
	kind string
}{
	{viewer.ErrWrongCode, "wrong-code"},
	{viewer.ErrCodeExpired, "code-expired"},
	{viewer.ErrWrongPassword, "wrong-password"},
	{viewer.ErrHostKeyChanged, "host-key-changed"},
	{viewer.ErrHostOffline, "host-offline"},
	{viewer.ErrHostBusy, "host-busy"},
	{viewer.ErrHostLocked, "host-locked"},
	{viewer.ErrConsentRefused, "consent-refused"},
	{viewer.ErrConnectionLost, "connection-lost"},
	{viewer.ErrNoRelay, "no-relay"},
	{viewer.ErrNotSignedIn, "not-signed-in"},
	{viewer.ErrForbidden, "forbidden"},
	{viewer.ErrProtocol, "protocol"},
	{viewer.ErrClosed, "closed"},
}

// kindOf returns the class of err: one of kinds, "ended" for another end
// by the host, "" for nil and "error" for anything else.
func kindOf(err error) string {
	if err == nil {
		return ""
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	var end *viewer.EndError
	if errors.As(err, &end) {
		return "ended"
	}
	return "error"
}
