package main

import (
	"context"
	"crypto/ed25519"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/ws"
)

// Throughput between the product's own endpoints (-endpoints ws): the
// agent's and the viewers' WebSocket layer, proto/ws over
// github.com/coder/websocket, on both paths. Clients mask with a random
// key as RFC 6455 requires (the raw endpoints use the all-zero key, so the
// direct path's sink never unmasks while the relay always does) and read
// each message whole, as a session does; with ws the writes of a message
// are gathered into one (proto/ws's batching), with ws-unbatched they go
// out as coder/websocket makes them. The direct path is the same
// sender writing to a sink that accepts with coder/websocket in this
// process, dialled by ws.Connect like a relay (its first message, the
// "ticket", is skipped): what a session would get if host and viewer could
// reach each other.

type wsThroughput struct {
	host, viewer, direct *ws.Conn
	got, sunk            atomic.Int64
	stop                 func()
}

// unbatchedClient dials through a transport proto/ws cannot copy, so its
// connections keep coder/websocket's own writes (4 KiB each).
var unbatchedClient = &http.Client{Transport: opaqueTransport{http.DefaultTransport}}

type opaqueTransport struct{ http.RoundTripper }

func newWSThroughput(wp workerParams, key ed25519.PrivateKey, batched bool) (*wsThroughput, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t := &wsThroughput{}
	opts := &ws.Options{}
	if !batched {
		opts.HTTPClient = unbatchedClient
	}
	sess := proto.NewSessionID()
	var conns []*ws.Conn
	fail := func(err error) (*wsThroughput, error) {
		for _, c := range conns {
			c.WebSocket().CloseNow()
		}
		return nil, err
	}
	for _, role := range []proto.Role{proto.RoleHost, proto.RoleViewer} {
		b, err := benchTicket(wp, key, sess, role)
		if err != nil {
			return fail(err)
		}
		c, err := ws.Connect(ctx, ws.Relay{RelayID: wp.RelayID, URL: "http://" + wp.RelayAddr, Ticket: b}, opts)
		if err != nil {
			return fail(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		if _, err := c.WaitPaired(ctx, nil); err != nil {
			return fail(err)
		}
	}
	t.host, t.viewer = conns[0], conns[1]

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c := ws.NewConn(wc, 0, nil)
		if _, err := c.ReadMsg(context.Background()); err != nil { // the "ticket"
			return
		}
		for {
			p, err := c.ReadMsg(context.Background())
			if err != nil {
				return
			}
			t.sunk.Add(int64(len(p)))
		}
	})}
	go hs.Serve(ln)
	t.direct, err = ws.Connect(ctx, ws.Relay{RelayID: "sink", URL: "http://" + ln.Addr().String(), Ticket: []byte("direct")}, opts)
	if err != nil {
		hs.Close()
		return fail(err)
	}
	go func() {
		for {
			p, err := t.viewer.ReadMsg(context.Background())
			if err != nil {
				return
			}
			t.got.Add(int64(len(p)))
		}
	}()
	t.stop = func() {
		for _, c := range []*ws.Conn{t.host, t.viewer, t.direct} {
			c.WebSocket().CloseNow()
		}
		hs.Close()
	}
	return t, nil
}
