//go:build linux

package agent_test

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// TestShareCommand runs the deskway-agent binary as a customer would
// (`deskway-agent share --yes`, the broker from DESKWAY_BROKER), reads the
// code it prints, and joins as the technician.
func TestShareCommand(t *testing.T) {
	testbed.Long(t, "builds the agent")
	d := testbed.Xvfb(t, 480, 320)
	b := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := b.admin.AddUser(ctx, "tess", api.RoleTechnician, "a long technician password"); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "deskway-agent")
	build := exec.Command("go", "build", "-o", bin, "github.com/deskway/deskway/cmd/deskway-agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "share", "--yes", "--max-fps", "20", "--config-dir", t.TempDir(), "--display", d.Name)
	cmd.Env = append(d.Env(), "DESKWAY_BROKER="+b.url)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	codes := make(chan string, 1)
	var lines statusLines
	defer func() {
		lines.mu.Lock()
		t.Logf("the agent printed:\n%s", strings.Join(lines.lines, "\n"))
		lines.mu.Unlock()
	}()
	go func() {
		re := regexp.MustCompile(`Your support code is (\d+-\d{3}-\d{3})`)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines.add(s.Text())
			if m := re.FindStringSubmatch(s.Text()); m != nil {
				codes <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	var code proto.SupportCode
	select {
	case c := <-codes:
		var err error
		if code, err = proto.ParseSupportCode(c); err != nil {
			t.Fatal(err)
		}
	case err := <-exited:
		t.Fatalf("the agent exited before showing a code: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent showed no code within 20s")
	}
	tech := b.login(t, "tess", "a long technician password")
	p, err := tech.Join(ctx, code.Nameplate())
	if err != nil {
		t.Fatal(err)
	}
	v := joinAsViewer(t, ctx, b, p, proto.ViewerConfig{Mode: proto.ModeSupport, Code: code})
	go v.run(ctx)
	expectScreen(t, d, v)
	v.send(ctx, &proto.End{Reason: proto.EndNormal}, true)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the agent exited with %v after the viewer ended the session, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the agent did not exit after the session ended")
	}
}
