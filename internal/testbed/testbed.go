// Package testbed starts the real test beds that Deskway's tests run
// against: an X server (Xvfb), headless Chromium, a private PostgreSQL
// cluster and the recorded screen corpus in ../shared/corpus.
//
// A test bed that cannot be started makes the test skip with the reason,
// unless the environment has DESKWAY_REQUIRE_ALL=1 (CI sets it), which
// turns every such skip into a failure: in CI nothing that matters skips.
//
// Every process a test bed starts is tied to the test: it is stopped by
// t.Cleanup, and it gets a parent-death signal so that a test binary that
// crashes does not leave servers behind.
package testbed

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// RequireAll reports whether missing test beds must fail the test
// (DESKWAY_REQUIRE_ALL=1) instead of skipping it.
func RequireAll() bool { return os.Getenv("DESKWAY_REQUIRE_ALL") == "1" }

// Need skips the test, or fails it under DESKWAY_REQUIRE_ALL=1, when err
// says that the test bed named by what is unavailable. It does nothing when
// err is nil.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if RequireAll() {
		t.Fatalf("testbed: %s is required (DESKWAY_REQUIRE_ALL=1) but unavailable: %v", what, err)
	}
	t.Skipf("testbed: %s unavailable, skipping (set DESKWAY_REQUIRE_ALL=1 to fail instead): %v", what, err)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbed: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ModuleRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory of the test.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testbed: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Corpus returns the directory of the recorded screen corpus: the
// DESKWAY_CORPUS environment variable, or ../shared/corpus beside the
// checkout.
func Corpus(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DESKWAY_CORPUS")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(t), "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		Need(t, "the screen corpus", fmt.Errorf("%s: %w", dir, err))
	}
	return dir
}

// Long marks a test too long for -short (it builds commands, starts a
// whole suite or replays the corpus): under -short it skips, saying why,
// except under DESKWAY_REQUIRE_ALL=1, where a skip would hide it and the
// test fails instead.
func Long(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		Need(t, "a run without -short", fmt.Errorf("%s", why))
	}
}
