package main

import (
	"testing"
	"time"
)

func TestFlagsOverEnvOverDefaults(t *testing.T) {
	t.Setenv("DESKWAY_RELAY_ID", "from-env")
	t.Setenv("DESKWAY_MAX_SESSIONS", "7")
	t.Setenv("DESKWAY_PAIR_TIMEOUT", "5s")
	o, err := parseFlags([]string{"-relay-id", "from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if o.relayID != "from-flag" || o.maxSessions != 7 || o.pairTimeout != 5*time.Second || o.idleTimeout != 90*time.Second {
		t.Errorf("relay-id %q (want from-flag), max-sessions %d (want 7 from env), pair-timeout %v (want 5s), idle %v (want the default 90s)",
			o.relayID, o.maxSessions, o.pairTimeout, o.idleTimeout)
	}
	t.Setenv("DESKWAY_MAX_SESSIONS", "many")
	if _, err := parseFlags(nil); err == nil {
		t.Error("a bad DESKWAY_MAX_SESSIONS was accepted")
	}
}
