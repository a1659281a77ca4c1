package viewer_test

import (
	"context"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// TestReconnect: Reconnect moves a working session to a new relay
// connection; input sent around the move arrives once, in order, and
// Reconnect after Close does nothing.
func TestReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, b := newTestHost(t, proto.ModeSupport, "reconnect")
	code := h.code("reconnect")
	e, ev := newEvents()
	cfg := katConfig(t, b, ev, "reconnect")
	cfg.Now = nil
	v, runErr := openSession(t, ctx, h, cfg, viewer.Target{Code: code})
	for st := recv(t, ctx, e.states, "state"); st != viewer.StateOpen; st = recv(t, ctx, e.states, "state") {
	}
	v.Key(proto.KeyEvent{Down: true, Code: proto.KeyA})
	v.Reconnect()
	v.Reconnect() // a second request while the first is pending is merged
	v.Key(proto.KeyEvent{Code: proto.KeyA})
	for st := recv(t, ctx, e.states, "state"); st != viewer.StateReconnecting; st = recv(t, ctx, e.states, "state") {
	}
	for st := recv(t, ctx, e.states, "state"); st != viewer.StateOpen; st = recv(t, ctx, e.states, "state") {
	}
	for i, down := range []bool{true, false} {
		if k := expect[*proto.KeyEvent](ctx, h); k.Code != proto.KeyA || k.Down != down {
			t.Errorf("key event %d = %v down %v, want KeyA down %v", i, k.Code, k.Down, down)
		}
	}
	if st := v.Stats(); st.Resumes != 1 || st.Relay != "mem-2" {
		t.Errorf("after Reconnect: %d resumes via %q, want 1 via mem-2", st.Resumes, st.Relay)
	}
	v.Close()
	if err := recv(t, ctx, runErr, "Run"); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	v.Reconnect()
}
