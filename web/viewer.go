package web

import (
	"bytes"
	"crypto/sha512"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The browser viewer's page. Its script, style, the Go runtime's loader
// and the WebAssembly core are referenced with Subresource Integrity
// hashes computed from the embedded files, so the page loads exactly the
// code this binary carries (SECURITY.md §4.11): viewer.js fetches the wasm
// with the hash from the page. Nothing is inline, so the page runs under
// the console's CSP (script-src 'self' 'wasm-unsafe-eval').

//go:embed viewer.html
var viewerHTML string

// StaticPrefix is where the broker serves Static().
const StaticPrefix = "/static/"

// ErrNoViewer is returned by ViewerPage when this build has no
// WebAssembly core (make wasm was not run before the build).
var ErrNoViewer = errors.New("web: the browser viewer is not built into this binary (make wasm)")

var viewerPage = sync.OnceValues(func() ([]byte, error) {
	sri := map[string]string{}
	for key, name := range map[string]string{"JS": "viewer.js", "CSS": "viewer.css", "WasmExec": "wasm_exec.js", "Wasm": "deskway.wasm"} {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			if name == "deskway.wasm" || name == "wasm_exec.js" {
				return nil, ErrNoViewer
			}
			return nil, fmt.Errorf("web: viewer: %w", err)
		}
		sri[key] = Integrity(b)
	}
	t, err := template.New("viewer").Parse(viewerHTML)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = t.Execute(&out, struct {
		Static                  string
		JS, CSS, WasmExec, Wasm string
	}{StaticPrefix, sri["JS"], sri["CSS"], sri["WasmExec"], sri["Wasm"]})
	return out.Bytes(), err
})

// ViewerPage returns the browser viewer's page (served at /view), or
// ErrNoViewer. It is computed once.
func ViewerPage() ([]byte, error) { return viewerPage() }

// Integrity returns the Subresource Integrity value of b: "sha384-" and
// the base64 of its SHA-384.
func Integrity(b []byte) string {
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// StaticHandler serves Static() like http.FileServerFS, but answers
// clients that accept a compressed encoding with a compressed copy of the
// files that have a precompressed NAME.gz beside them (deskway.wasm): zstd
// (compressed here once, on first use) where the browser takes it, else
// the .gz. The wasm is 7.9 MB raw, 2.2 MB gzip, 1.9 MB zstd.
func StaticHandler() http.Handler {
	files := http.FileServerFS(Static())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		gz, err := fs.ReadFile(Static(), name+".gz")
		if err != nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			files.ServeHTTP(w, r)
			return
		}
		var body []byte
		enc := ""
		if accepts(r, "zstd") {
			if b, err := zstdOf(name); err == nil {
				body, enc = b, "zstd"
			}
		}
		if enc == "" && accepts(r, "gzip") {
			body, enc = gz, "gzip"
		}
		h := w.Header()
		h.Add("Vary", "Accept-Encoding")
		if enc == "" {
			files.ServeHTTP(w, r)
			return
		}
		h.Set("Content-Encoding", enc)
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			h.Set("Content-Type", ct)
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// zstdCache holds each asset's zstd copy, made once.
var zstdCache sync.Map // name → func() ([]byte, error)

// zstdOf returns the zstd copy of a static file, compressed at the best
// level with an 8 MiB window (the most a browser must accept).
func zstdOf(name string) ([]byte, error) {
	f, _ := zstdCache.LoadOrStore(name, sync.OnceValues(func() ([]byte, error) {
		raw, err := fs.ReadFile(Static(), name)
		if err != nil {
			return nil, err
		}
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(8<<20), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer e.Close()
		return e.EncodeAll(raw, nil), nil
	}))
	return f.(func() ([]byte, error))()
}

// accepts reports whether the request's Accept-Encoding lists enc with
// a q-value above 0.
func accepts(r *http.Request, enc string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		e, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(e), enc) {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}
