//go:build !js

package viewer

import (
	"testing"

	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

// The browser build cannot import proto/api and proto/ws (net/http);
// their wire values are copied here and must stay equal.
func TestWireConstants(t *testing.T) {
	for _, c := range []struct{ ours, theirs string }{
		{codeNotFound, api.CodeNotFound}, {codeExpired, api.CodeExpired}, {codeHostOffline, api.CodeHostOffline},
		{codeUnauthorized, api.CodeUnauthorized}, {codeForbidden, api.CodeForbidden}, {codeUnavailable, api.CodeUnavailable},
		{codeRateLimited, api.CodeRateLimited}, {codeInternal, api.CodeInternal},
		{NoticeDrain, ws.NoticeDrain}, {NoticePeerLeft, ws.NoticePeerLeft},
	} {
		if c.ours != c.theirs {
			t.Errorf("viewer has %q where proto says %q", c.ours, c.theirs)
		}
	}
}
