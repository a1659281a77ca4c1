// Package web holds the console's templates and the static assets of the
// console and the browser viewer, embedded into the broker binary. The
// browser viewer's WebAssembly core (static/deskway.wasm) is a build
// output of `make wasm`; a binary built without it serves a page that
// says so.
//
// The console's pages are html/template files in templates/: layout.html
// defines "layout", which renders the page's "content". No page has an
// inline script or style, so the console runs under a strict
// Content-Security-Policy; static/console.js and static/console.css are
// the only script and style.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

//go:embed templates
var templates embed.FS

// Static returns the static assets, rooted at the static directory.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Templates returns the console's page templates, rooted at the
// templates directory.
func Templates() fs.FS {
	sub, err := fs.Sub(templates, "templates")
	if err != nil {
		panic(err)
	}
	return sub
}
