// Package archtest holds the test that keeps the dependency direction of
// docs/ARCHITECTURE.md true: which of Deskway's packages may import which,
// and that the leaves build without cgo and for WebAssembly.
package archtest

import (
	"encoding/json"
	"github.com/deskway/deskway/internal/testbed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/deskway/deskway"

// allowed lists, for each package (relative to the module; a trailing /...
// covers its subpackages unless a more specific entry exists), the packages
// of this module it may import directly. cmd/... and tests may import
// anything.
var allowed = map[string][]string{
	"proto":           {},
	"proto/ws":        {"proto"},
	"proto/api":       {"proto"},
	"proto/prototest": {"proto"},
	"codec":           {},
	"relay":           {"proto", "proto/ws", "proto/api"},
	"broker":          {"proto", "proto/api", "web"},
	"agent":           {"proto", "proto/ws", "proto/api", "codec"},
	"viewer":          {"proto", "proto/ws", "proto/api", "codec"},
	"viewer/desktop":  {"viewer", "proto", "proto/api"},
	"web":             {},
}

// onlyImporter names third-party packages that exactly one subtree may use.
var onlyImporter = map[string]string{
	"fyne.io/fyne/v2":               "viewer/desktop",
	"github.com/go-vgo/robotgo":     "agent",
	"github.com/kbinani/screenshot": "agent",
}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T, env []string, patterns ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Imports,Standard"}, patterns...)...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func root(t *testing.T) string {
	dir, _ := os.Getwd()
	return filepath.Join(dir, "..", "..")
}

func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	if strings.HasPrefix(path, module+"/") {
		return strings.TrimPrefix(path, module+"/"), true
	}
	return "", false
}

// rule finds the allowed list that governs p: its own entry or that of the
// nearest listed parent.
func rule(p string) ([]string, bool) {
	for q := p; q != "." && q != ""; q = filepath.Dir(q) {
		if a, ok := allowed[q]; ok {
			return a, true
		}
	}
	return nil, false
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t, nil, "./...") {
		name, _ := rel(p.ImportPath)
		if strings.HasPrefix(name, "cmd/") || strings.HasPrefix(name, "internal/") {
			continue
		}
		allow, ok := rule(name)
		if !ok {
			t.Errorf("package %s has no entry in archtest's table: add it (and to docs/ARCHITECTURE.md)", name)
			continue
		}
		for _, imp := range p.Imports {
			dep, ours := rel(imp)
			if ours {
				if !contains(allow, dep) {
					t.Errorf("%s imports %s: not allowed (may import %v)", name, dep, allow)
				}
				continue
			}
			for third, owner := range onlyImporter {
				if (imp == third || strings.HasPrefix(imp, third+"/")) && name != owner && !strings.HasPrefix(name, owner+"/") {
					t.Errorf("%s imports %s: only %s may", name, imp, owner)
				}
			}
		}
	}
}

// TestLeavesBuildEverywhere checks that the leaf packages and the servers
// build without cgo, and the leaves and the viewer core for WebAssembly.
func TestLeavesBuildEverywhere(t *testing.T) {
	testbed.Long(t, "builds several targets")
	builds := []struct {
		env      []string
		patterns []string
	}{
		{[]string{"CGO_ENABLED=0"}, []string{"./proto/...", "./codec/...", "./relay/...", "./broker/...", "./viewer"}},
		{[]string{"CGO_ENABLED=0", "GOOS=js", "GOARCH=wasm"}, []string{"./proto/...", "./codec/...", "./viewer"}},
	}
	for _, b := range builds {
		cmd := exec.Command("go", append([]string{"build", "-o", os.DevNull}, b.patterns...)...)
		cmd.Dir = root(t)
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v go build %v: %v\n%s", b.env, b.patterns, err, out)
		}
	}
}

// TestLeavesImportNoCgo walks the transitive imports of the leaves under
// CGO_ENABLED=0 and fails if any of them needs "C".
func TestLeavesImportNoCgo(t *testing.T) {
	for _, p := range listPackages(t, []string{"CGO_ENABLED=0"}, "-deps", "./proto/...", "./codec/...") {
		for _, imp := range p.Imports {
			if imp == "C" {
				t.Errorf("%s imports C, but the leaves must be pure Go", p.ImportPath)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
