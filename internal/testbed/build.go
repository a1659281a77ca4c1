package testbed

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Binaries builds the named commands of cmd/ (e.g. "deskway-broker",
// "deskway-agent") into a temporary directory and returns it. All come
// from the same tree, so that the agent's encoder and the page's decoder
// match. When the broker is among them, the browser viewer's wasm is
// built first (scripts/wasm.sh, as make wasm), since the broker embeds
// it. The Go build cache makes this quick after the first time; the
// directory is removed when the test ends.
func Binaries(t testing.TB, names ...string) string {
	t.Helper()
	root := ModuleRoot(t)
	if slices.Contains(names, "deskway-broker") {
		if out, err := exec.Command("bash", filepath.Join(root, "scripts", "wasm.sh")).CombinedOutput(); err != nil {
			t.Fatalf("testbed: make wasm: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testbed: go build %s: %v\n%s", strings.Join(names, " "), err, out)
	}
	return dir
}
