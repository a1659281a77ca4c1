//go:build !js

package ws

import (
	"net/http"

	"github.com/coder/websocket"
)

// proxyClient dials through the proxy named by HTTPS_PROXY/HTTP_PROXY
// unless NO_PROXY exempts the relay.
var proxyClient = &http.Client{Transport: &http.Transport{
	Proxy:             http.ProxyFromEnvironment,
	ForceAttemptHTTP2: false,
}}

func dialOptions(o *Options) *websocket.DialOptions {
	hc := o.HTTPClient
	if hc == nil {
		hc = proxyClient
	}
	return &websocket.DialOptions{HTTPClient: hc, HTTPHeader: o.HTTPHeader}
}
