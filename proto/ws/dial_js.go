//go:build js

package ws

import (
	"context"

	"github.com/coder/websocket"
)

// batchConn has no use in a browser, whose WebSocket writes each message
// whole.
type batchConn struct{}

// In a browser the page's proxy settings and cookies apply.
func dial(ctx context.Context, url string, _ *Options) (*websocket.Conn, *batchConn, error) {
	wc, _, err := websocket.Dial(ctx, url, nil)
	return wc, nil, err
}

func (c *Conn) writeMsg(ctx context.Context, p []byte) error {
	return c.ws.Write(ctx, websocket.MessageBinary, p)
}
