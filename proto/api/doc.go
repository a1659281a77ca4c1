// Package api is the broker's HTTP/JSON API: the request and response types
// of every endpoint under /api/v1/ and a Go client for them. The agent, the
// native viewer, the browser viewer (built for WebAssembly) and the relay
// use it; the broker serves it.
//
// The package may import only package proto, github.com/coder/websocket and
// the standard library, so that it builds with GOOS=js GOARCH=wasm.
//
// Authentication: people sign in with POST /api/v1/login and then send
// "Authorization: Bearer <token>" (native viewer, scripts) or the session
// cookie (console, browser viewer). Hosts prove their Ed25519 device key by
// challenge–response on the control WebSocket. A standalone relay posts its
// session reports with the relay report token. docs/api.md lists every
// endpoint with its types; the code here is authoritative.
//
// Errors are JSON {"error":{"code":"...","message":"..."}} with an HTTP
// status; the client returns them as *Error.
package api
