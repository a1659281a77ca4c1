package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/deskway/deskway/internal/testbed"
)

func TestViewerPage(t *testing.T) {
	page, err := ViewerPage()
	if errors.Is(err, ErrNoViewer) {
		testbed.Need(t, "deskway.wasm in this build (make wasm)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	page = []byte(html.UnescapeString(string(page)))
	for _, name := range []string{"viewer.js", "viewer.css", "wasm_exec.js", "deskway.wasm"} {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte(Integrity(b))) {
			t.Errorf("the page lacks the integrity hash of %s", name)
		}
	}
	// Nothing inline: the CSP allows no inline script or style.
	for _, re := range []string{`<script[^>]*>[^<]`, `<style`, ` style=`, ` on[a-z]+=`} {
		if m := regexp.MustCompile(re).Find(page); m != nil {
			t.Errorf("page has inline code %q", m)
		}
	}
	if n := strings.Count(string(page), " integrity="); n != 3 {
		t.Errorf("%d integrity attributes, want 3 (style, loader, script)", n)
	}
}

func TestIntegrity(t *testing.T) {
	// printf 'alert(1)' | openssl dgst -sha384 -binary | base64
	if got, want := Integrity([]byte("alert(1)")), "sha384-HT2E9NfWiuQ/w1PRai+hTyqW16NIoCGA/m8VQDUopfAtcz6YQjtsMmQd5uRbVDpW"; got != want {
		t.Errorf("Integrity = %s, want %s", got, want)
	}
}

func TestStaticHandlerCompressed(t *testing.T) {
	if _, err := fs.Stat(Static(), "deskway.wasm.gz"); err != nil {
		testbed.Need(t, "deskway.wasm.gz in this build (make wasm)", err)
	}
	srv := httptest.NewServer(StaticHandler())
	defer srv.Close()
	tests := []struct {
		accept string
		enc    string
	}{
		{"gzip, deflate, br, zstd", "zstd"}, {"gzip, deflate, br", "gzip"}, {"br;q=1, gzip;q=0.5", "gzip"},
		{"zstd;q=0, gzip", "gzip"}, {"gzip;q=0", ""}, {"", ""},
	}
	raw, _ := fs.ReadFile(Static(), "deskway.wasm")
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", srv.URL+"/deskway.wasm", nil)
		req.Header.Set("Accept-Encoding", tt.accept)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding"); got != tt.enc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tt.accept, got, tt.enc)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
			t.Errorf("Accept-Encoding %q: Content-Type %q, want application/wasm", tt.accept, ct)
		}
		switch tt.enc {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
		case "zstd":
			t.Logf("deskway.wasm: %d bytes, %d zstd", len(raw), len(body))
			d, _ := zstd.NewReader(nil, zstd.WithDecoderMaxWindow(8<<20))
			body, err = d.DecodeAll(body, nil)
			d.Close()
			if err != nil {
				t.Fatalf("zstd body does not decode with an 8 MiB window: %v", err)
			}
		}
		if !bytes.Equal(body, raw) {
			t.Errorf("Accept-Encoding %q: body differs from deskway.wasm", tt.accept)
		}
	}
}
