//go:build !js

package ws

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// proxyClient dials through the proxy named by HTTPS_PROXY/HTTP_PROXY
// unless NO_PROXY exempts the relay.
var proxyClient = &http.Client{Transport: &http.Transport{
	Proxy:             http.ProxyFromEnvironment,
	ForceAttemptHTTP2: false,
}}

// dial opens the WebSocket, through a batchConn where the client allows.
func dial(ctx context.Context, url string, o *Options) (*websocket.Conn, *batchConn, error) {
	hc := o.HTTPClient
	if hc == nil {
		hc = proxyClient
	}
	var b *batchConn
	wc, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: batchingClient(hc, &b), HTTPHeader: o.HTTPHeader})
	if err != nil {
		return nil, nil, err
	}
	return wc, b, nil
}

// writeMsg writes p as one binary message, in one write where it can.
func (c *Conn) writeMsg(ctx context.Context, p []byte) error {
	b := c.batch
	if b == nil || len(p) < batchMin {
		return c.ws.Write(ctx, websocket.MessageBinary, p)
	}
	b.hold()
	err := c.ws.Write(ctx, websocket.MessageBinary, p)
	if rerr := b.release(ctx); err == nil {
		err = rerr
	}
	return err
}
