//go:build linux

package relay

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
)

// FuzzHandshake sends arbitrary bytes after a WebSocket upgrade, as a
// client's stream: ticket frames, fragments, control frames, garbage.
// The relay must never crash and must keep serving.
func FuzzHandshake(f *testing.F) {
	r := newTestRelay(f, nil)
	key := [4]byte{1, 2, 3, 4}
	sess := proto.NewSessionID()
	good := r.ticket(f, sess, proto.RoleHost, proto.ModeSupport)
	f.Add(clientFrame(true, opBinary, good, key))
	f.Add(append(clientFrame(false, opBinary, good[:10], key), clientFrame(true, opContinuation, good[10:], key)...))
	f.Add(append(clientFrame(true, opPing, []byte("p"), key), clientFrame(true, opBinary, []byte("junk"), key)...))
	f.Add(clientFrame(true, opClose, []byte{3, 232}, key))
	f.Add(clientFrame(true, opText, []byte(`{"type":"waiting"}`), key))
	f.Add(append(clientFrame(true, opBinary, good, key), clientFrame(true, opBinary, make([]byte, 70000), key)...))
	f.Add([]byte{0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, stream []byte) {
		nc, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		req := "GET /v1/relay HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		nc.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %s", resp.Status)
		}
		nc.Write(stream)
		// Read whatever comes back until the relay closes or goes quiet.
		nc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		io.Copy(io.Discard, br)
	})
	// Still serving.
	h := r.connect(f, r.ticket(f, proto.NewSessionID(), proto.RoleHost, proto.ModeSupport))
	ctx := ctx5(f)
	if _, n, err := h.Next(ctx); err != nil || n == nil || n.Type != ws.NoticeWaiting {
		f.Fatalf("after fuzzing: %v, %v", n, err)
	}
}
