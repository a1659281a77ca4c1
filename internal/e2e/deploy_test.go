package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deskway/deskway/internal/testbed"
)

// TestSystemdUnits checks the units in deploy/systemd with systemd's own
// checker, systemd-analyze verify (an unknown key or a bad value is an
// error here, not a warning), in a scratch root that holds stand-ins for
// the binaries; and the sandbox of the broker and relay with
// systemd-analyze security: an exposure of at most 2.5 out of 10.
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	testbed.Need(t, "systemd-analyze (systemd)", err)
	src := filepath.Join(testbed.ModuleRoot(t), "deploy", "systemd")
	root := t.TempDir()
	for _, d := range []string{"usr/local/bin", "etc/systemd/system", "etc/deskway", "usr/lib/systemd"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	// The units' dependencies (network-online.target, sysinit.target, …).
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		testbed.Need(t, "systemd's unit files in /usr/lib/systemd/system", err)
		t.Fatalf("%s", out)
	}
	for _, b := range []string{"deskway-broker", "deskway-relay", "deskway-agent"} {
		os.WriteFile(filepath.Join(root, "usr/local/bin", b), []byte("#!/bin/sh\n"), 0o755)
	}
	copyFile(t, filepath.Join(src, "broker.env.example"), filepath.Join(root, "etc/deskway/broker.env"))
	copyFile(t, filepath.Join(src, "relay.env.example"), filepath.Join(root, "etc/deskway/relay.env"))
	system := []string{"deskway-broker.service", "deskway-relay.service"}
	for _, u := range system {
		copyFile(t, filepath.Join(src, u), filepath.Join(root, "etc/systemd/system", u))
	}
	check := func(what string, env []string, args ...string) {
		t.Helper()
		cmd := exec.Command(analyze, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 && args[0] == "verify" {
			t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("%s: %s", what, lastLine(string(out)))
	}
	check("verify", nil, append([]string{"verify", "--man=no", "--root=" + root}, system...)...)
	for _, u := range system {
		check(u, nil, "security", "--offline=true", "--root="+root, "--threshold=25", u)
	}

	// The agent's user unit: --root is for system units only, so it is
	// checked where it is, with ExecStart pointing at a stand-in.
	unit, err := os.ReadFile(filepath.Join(src, "deskway-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	rt := t.TempDir()
	os.Chmod(rt, 0o700)
	stand := filepath.Join(root, "usr/local/bin/deskway-agent")
	if err := os.WriteFile(filepath.Join(rt, "deskway-agent.service"),
		[]byte(strings.ReplaceAll(string(unit), "/usr/local/bin/deskway-agent", stand)), 0o644); err != nil {
		t.Fatal(err)
	}
	check("verify --user", []string{"XDG_RUNTIME_DIR=" + rt}, "verify", "--user", "--man=no", filepath.Join(rt, "deskway-agent.service"))
}

// TestDeployEnvFiles: every variable the example environment files set
// is the twin of a flag of their command, as docs/config.md lists them
// (TestConfigDoc keeps that list true), so that no setting is silently
// ignored.
func TestDeployEnvFiles(t *testing.T) {
	root := testbed.ModuleRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	for file, section := range map[string]string{
		"broker.env.example": "deskway-broker serve",
		"relay.env.example":  "deskway-relay",
	} {
		known := envOfSection(string(doc), section)
		if len(known) == 0 {
			t.Fatalf("docs/config.md has no section %q", section)
		}
		f, err := os.Open(filepath.Join(root, "deploy", "systemd", file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			name, _, ok := strings.Cut(l, "=")
			if !ok || !known[name] {
				t.Errorf("%s:%d: %q is not a setting of %s", file, n, l, section)
			}
		}
		f.Close()
	}
}

// envOfSection returns the environment variables in the table of the
// section "### title" of docs/config.md.
func envOfSection(doc, title string) map[string]bool {
	_, rest, ok := strings.Cut(doc, "\n### "+title+"\n")
	if !ok {
		return nil
	}
	if i := strings.Index(rest, "\n### "); i >= 0 {
		rest = rest[:i]
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`(DESKWAY_[A-Z0-9_]+)`").FindAllStringSubmatch(rest, -1) {
		out[m[1]] = true
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
