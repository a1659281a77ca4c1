//go:build js

package ws

import "github.com/coder/websocket"

// In a browser the page's proxy settings and cookies apply.
func dialOptions(*Options) *websocket.DialOptions { return nil }
