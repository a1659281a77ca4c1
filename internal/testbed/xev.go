package testbed

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// XevEvent is a KeyPress or ButtonPress that xev printed.
type XevEvent struct {
	Kind         string // "KeyPress", "ButtonPress"
	RootX, RootY int
	Keysym       string // "h", "Return", …
	Done         bool   // the lines with the fields were read (xev prints an event in several)
}

// XevEvents parses the output of xev (x11-utils).
func XevEvents(lines []string) []XevEvent {
	var out []XevEvent
	var cur *XevEvent
	for _, l := range lines {
		if i := strings.Index(l, " event, serial"); i > 0 {
			kind := l[:i]
			cur = nil
			if kind == "KeyPress" || kind == "ButtonPress" {
				out = append(out, XevEvent{Kind: kind})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		if i := strings.Index(l, "root:("); i >= 0 {
			fmt.Sscanf(l[i:], "root:(%d,%d)", &cur.RootX, &cur.RootY)
			cur.Done = cur.Kind == "ButtonPress"
		}
		if i := strings.Index(l, "(keysym 0x"); i >= 0 {
			rest := l[i:]
			if j := strings.Index(rest, ", "); j >= 0 {
				if k := strings.Index(rest[j+2:], ")"); k >= 0 {
					cur.Keysym = rest[j+2 : j+2+k]
					cur.Done = true
				}
			}
		}
	}
	return out
}

// WaitXev waits up to 30 s until match finds what it wants in the events
// of the xev process p.
func WaitXev[T any](t testing.TB, ctx context.Context, p *Proc, match func([]XevEvent) (T, bool)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if v, ok := match(XevEvents(p.Output())); ok {
			return v
		}
		select {
		case <-p.Changed():
		case <-ctx.Done():
			v, _ := match(XevEvents(p.Output()))
			t.Fatalf("xev did not see the input: got %v", v)
			return v
		}
	}
}
