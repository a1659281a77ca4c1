package proto

import (
	"context"
	"errors"
	"io"
	"testing"
)

// TestPipeClose checks the close semantics that the secure channel relies
// on: the peer of a closed end reads the buffered messages, then io.EOF
// (every time, never ErrClosed), and the closed end itself gets ErrClosed.
func TestPipeClose(t *testing.T) {
	ctx := context.Background()
	for i := 0; i < 200; i++ { // the old code chose between the two at random
		a, b := Pipe()
		if err := a.WriteMsg(ctx, []byte("last")); err != nil {
			t.Fatalf("write: %v", err)
		}
		a.Close()
		m, err := b.ReadMsg(ctx)
		if err != nil || string(m) != "last" {
			t.Fatalf("after close, ReadMsg = %q, %v; want the buffered message", m, err)
		}
		if _, err := b.ReadMsg(ctx); err != io.EOF {
			t.Fatalf("peer of a closed end: ReadMsg error = %v, want io.EOF", err)
		}
		if _, err := a.ReadMsg(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("closed end: ReadMsg error = %v, want ErrClosed", err)
		}
		if err := a.WriteMsg(ctx, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("closed end: WriteMsg error = %v, want ErrClosed", err)
		}
		if err := b.WriteMsg(ctx, nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("peer of a closed end: WriteMsg error = %v, want ErrClosed", err)
		}
	}
}
