//go:build js

package api

import "github.com/coder/websocket"

// In a browser the page's cookies and user agent go with the WebSocket.
func (c *Client) dialOptions() *websocket.DialOptions { return nil }
