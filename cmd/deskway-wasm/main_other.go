//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main explains itself when built for anything but the browser: the
// command only makes sense as web/static/deskway.wasm (make wasm).
func main() {
	fmt.Fprintln(os.Stderr, "deskway-wasm: build with GOOS=js GOARCH=wasm (make wasm); the broker serves it to browsers")
	os.Exit(2)
}
