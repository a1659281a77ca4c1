// Package browsertest holds the browser viewer's end-to-end tests: the
// real broker, relay and agent (built from cmd/), an X server (Xvfb) as
// the host's screen and headless Chromium running the page and its
// WebAssembly core. It has no code of its own outside its tests.
package browsertest
