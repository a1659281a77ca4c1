// Package viewer is the client side of a session, shared by the native and
// browser viewers: it connects through a relay, runs the dw/1 handshake,
// decodes the screen into a framebuffer and sends input. It is pure Go and
// builds for WebAssembly.
package viewer
