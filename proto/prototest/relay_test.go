package prototest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/deskway/deskway/proto"
)

// send writes msgs from the viewer and returns what the host reads until
// EOF or n messages.
func run(t *testing.T, hook Hook, msgs []string, n int) []string {
	t.Helper()
	r := New(hook)
	defer r.Close()
	ctx := context.Background()
	for _, m := range msgs {
		if err := r.Viewer().WriteMsg(ctx, []byte(m)); err != nil {
			break // cut
		}
	}
	var got []string
	for len(got) < n {
		m, err := r.Host().ReadMsg(ctx)
		if isEOF(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m))
	}
	return got
}

func TestRelayHooks(t *testing.T) {
	in := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name string
		hook Hook
		n    int
		want string
	}{
		{"forward", nil, 3, "[a b c]"},
		{"flip", FlipBit(ViewerToHost, 1, 0), 3, "[a c c]"},
		{"drop", Drop(ViewerToHost, 0), 2, "[b c]"},
		{"duplicate", Duplicate(ViewerToHost, 2), 4, "[a b c c]"},
		{"swap", Swap(ViewerToHost, 0), 3, "[b a c]"},
		{"edit", Edit(ViewerToHost, 2, func(b []byte) []byte { return append(b, 'x') }), 3, "[a b cx]"},
		{"cut", CutAt(ViewerToHost, 1), 3, "[a]"},
		{"stall", StallFrom(ViewerToHost, 2), 2, "[a b]"},
	} {
		if got := fmt.Sprint(run(t, tc.hook, in, tc.n)); got != tc.want {
			t.Errorf("%s: host read %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRelayReflectAndLog(t *testing.T) {
	r := New(Reflect(ViewerToHost, 0))
	defer r.Close()
	ctx := context.Background()
	r.Viewer().WriteMsg(ctx, []byte("ping"))
	m, err := r.Viewer().ReadMsg(ctx)
	if err != nil || string(m) != "ping" {
		t.Fatalf("viewer read %q, %v; want its own message back", m, err)
	}
	if log := r.Log(ViewerToHost); len(log) != 1 || string(log[0]) != "ping" {
		t.Errorf("log = %q", log)
	}
	// Cut gives EOF on both ends.
	r.Cut()
	if _, err := r.Host().ReadMsg(ctx); !isEOF(err) {
		t.Errorf("host after Cut: %v, want EOF", err)
	}
	if _, err := r.Viewer().ReadMsg(ctx); !isEOF(err) {
		t.Errorf("viewer after Cut: %v, want EOF", err)
	}
}

// isEOF: proto.Pipe reports a closed peer as io.EOF or proto.ErrClosed.
func isEOF(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, proto.ErrClosed) }
