// Package web holds the static assets of the console and the browser viewer,
// embedded into the broker binary. The browser viewer's WebAssembly core
// (static/deskway.wasm) is a build output of `make wasm`; a binary built
// without it serves a page that says so.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static returns the static assets, rooted at the static directory.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
