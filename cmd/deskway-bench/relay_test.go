package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deskway/deskway/internal/testbed"
)

// TestRelayBench runs deskway-bench relay in each of its modes against the
// built relay, briefly, with the Go forwarder as the reference proxy: the
// figures are not judged here, only that every mode runs, delivers every
// message and reports what it measured.
func TestRelayBench(t *testing.T) {
	testbed.Long(t, "builds and runs the relay bench")
	dir := testbed.Binaries(t, "deskway-bench", "deskway-relay")
	run := func(args ...string) map[string]any {
		t.Helper()
		args = append([]string{"relay", "-json", "-runs", "1"}, args...)
		cmd := exec.Command(filepath.Join(dir, "deskway-bench"), args...)
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("deskway-bench %v: %v\n%s", args, err, msg)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("deskway-bench %v: output is not one JSON object: %v\n%s", args, err, out)
		}
		return m
	}
	positive := func(m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if v, _ := m[k].(float64); !(v > 0) {
				t.Errorf("%s = %v, want > 0 (in %v)", k, m[k], m)
			}
		}
	}

	// The plain Go forwarder stands in for nginx and haproxy, which the
	// bench can measure the same way but which are not installed here.
	m := run("-sessions", "20", "-rate", "4096", "-size", "400", "-warmup", "500ms", "-duration", "2s", "-proxy", "go")
	positive(m, "msgs_per_s", "p50_us", "direct_p50_us", "cpu_us_per_msg", "rss_bytes_per_conn", "proxy_cpu_us_per_msg")
	if m["lost"] != 0.0 || m["direct_lost"] != 0.0 {
		t.Errorf("load: lost %v through the relay, %v direct; want 0", m["lost"], m["direct_lost"])
	}
	for _, e := range []string{"raw", "ws", "ws-unbatched"} {
		m := run("-mode", "throughput", "-endpoints", e, "-size", "65536", "-duration", "600ms")
		positive(m, "relay_mb_per_s", "direct_mb_per_s", "relay_cpu_us_per_msg")
	}
	m = run("-mode", "rtt", "-size", "1024", "-duration", "600ms", "-proxy", "go")
	positive(m, "relay_rtt_p50_us", "direct_rtt_p50_us", "proxy_rtt_p50_us")
}
