//go:build !js

package api

import (
	"net/http"

	"github.com/coder/websocket"
)

func (c *Client) dialOptions() *websocket.DialOptions {
	o := &websocket.DialOptions{HTTPClient: c.HTTPClient}
	if c.UserAgent != "" {
		o.HTTPHeader = http.Header{"User-Agent": {c.UserAgent}}
	}
	return o
}
