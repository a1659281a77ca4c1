//go:build js && wasm

// Command deskway-wasm is the browser viewer's core: package viewer
// compiled to WebAssembly, with the glue that lets the page
// (web/static/viewer.js) drive it. The handshake and the decryption run
// here, in the page, never on the broker (SECURITY.md §4.11 says what that
// does and does not protect against).
//
// It exposes one global object, deskwayCore:
//
//	deskwayCore.version                       the build's version
//	deskwayCore.connect(opts) → Promise<handle>
//	    opts: {base, code | hostId+password, screen, cursor, store, user,
//	           viewOnly, on: {state, stats, clipboard, cursor, cursorPos,
//	           consent, layout, hostViewOnly}}
//	    handle: pointer(x, y, buttons), wheel(dx, dy, mode), key(event),
//	            text(s), ctrlAltDel(), releaseAll(), clipboard(s),
//	            viewOnly(on), quality(mode, q, fps, scale), monitor(id),
//	            refresh(), close(), stats()
//	deskwayCore.bench(updates, screen) → Promise<figures>   (deskway-bench wasm)
//
// and calls globalThis.deskwayReady() once it is set up. Drawing: each
// frame's changed rectangles are copied from the Go framebuffer into one
// persistent JS ImageData (one copy per band of rows, no per-pixel calls)
// and painted with putImageData's dirty rectangle; the cursor is drawn on
// its own small canvas that the page moves.
package main

import (
	"syscall/js"
)

var version = "dev"

func main() {
	core := js.Global().Get("Object").New()
	core.Set("version", version)
	core.Set("connect", js.FuncOf(jsConnect))
	core.Set("bench", js.FuncOf(jsBench))
	js.Global().Set("deskwayCore", core)
	if ready := js.Global().Get("deskwayReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {} // the page calls in from now on
}
