package proto_test

import (
	"context"
	"fmt"

	"github.com/deskway/deskway/proto"
)

// A support session: the host shows a code, the technician types it, both
// ends run dw/1 and compare the SAS. An in-memory Pipe stands in for the
// relay connection (proto/ws in production).
func ExampleDialViewer() {
	ctx := context.Background()
	hostConn, viewerConn := proto.Pipe()
	sid := proto.NewSessionID() // from the broker's pairing

	// Host: its static key, a fresh code, and a limiter for that code.
	hostKey, _ := proto.NewStaticPrivate(nil)
	code, _ := proto.NewSupportCode("123", nil) // shown as 123-SSS-SSS
	limiter, _ := proto.NewLimiter(proto.SupportPolicy, &proto.MemLimiterStore{}, proto.LimiterOptions{})
	hostSAS := make(chan string, 1)
	go func() {
		ch, err := proto.AcceptHost(ctx, hostConn, proto.HostConfig{
			Mode: proto.ModeSupport, SessionID: sid, HostID: "host-1",
			Static: hostKey, Code: code, Limiter: limiter,
		})
		if err != nil {
			fmt.Println("host:", err)
			hostSAS <- ""
			return
		}
		hostSAS <- ch.SAS()
		msg, _ := ch.Recv(ctx)
		fmt.Printf("host received %q\n", msg)
		ch.Close(ctx, proto.CloseNormal)
	}()

	// Viewer: the technician typed the code read over the phone.
	viewerKey, _ := proto.NewStaticPrivate(nil)
	typed, _ := proto.ParseSupportCode(code.String())
	ch, err := proto.DialViewer(ctx, viewerConn, proto.ViewerConfig{
		Mode: proto.ModeSupport, SessionID: sid, HostID: "host-1",
		Static: viewerKey, Code: typed, Pins: proto.NewMemPinStore(),
	})
	if err != nil {
		fmt.Println("viewer:", err)
		return
	}
	fmt.Println("SAS equal on both screens:", ch.SAS() == <-hostSAS)
	fmt.Println("host key pinned:", ch.PinStatus())
	ch.Send(ctx, []byte("pointer 10,20"), true)
	_, err = ch.Recv(ctx) // the host's authenticated CLOSE
	fmt.Println(err)
	ch.Close(ctx, proto.CloseNormal)
	// Output:
	// SAS equal on both screens: true
	// host key pinned: new
	// host received "pointer 10,20"
	// proto: channel closed by the peer: finished
}
