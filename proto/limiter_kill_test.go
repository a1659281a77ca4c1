//go:build !js

package proto

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fileLimiterStore is what the agent does: the state in a file, written
// to a temporary file, fsynced, renamed over the old one, and the
// directory fsynced.
type fileLimiterStore struct{ path string }

func (f fileLimiterStore) Load() (LimiterState, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return LimiterState{}, nil
	}
	if err != nil {
		return LimiterState{}, err
	}
	return ParseLimiterState(b)
}

func (f fileLimiterStore) Save(s LimiterState) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	fd, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := fd.Write(b); err != nil {
		fd.Close()
		return err
	}
	if err := fd.Sync(); err != nil {
		fd.Close()
		return err
	}
	if err := fd.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(f.path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// replyMarker is printed by the child once its PAKE reply is on the wire.
const replyMarker = "PAKE-REPLY-SENT"

// markingConn prints replyMarker when the host writes SERVER_HELLO, then
// blocks forever: the process is killed in this state.
type markingConn struct{ MsgConn }

func (c markingConn) WriteMsg(ctx context.Context, p []byte) error {
	if err := c.MsgConn.WriteMsg(ctx, p); err != nil {
		return err
	}
	if len(p) > 0 && handshakeType(p[0]) == hsServerHello {
		fmt.Fprintln(os.Stdout, replyMarker)
		os.Stdout.Sync()
		select {}
	}
	return nil
}

// TestKillBetweenReplyAndConfirmation (SECURITY.md §6 row 5): the host
// process is killed with SIGKILL right after it sent Yb, before any key
// confirmation could arrive. The attempt must already be durably counted.
func TestKillBetweenReplyAndConfirmation(t *testing.T) {
	if path := os.Getenv("DW_LIMITER_CHILD_STATE"); path != "" {
		killChild(t, path)
		return
	}
	state := filepath.Join(t.TempDir(), "limiter.state")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillBetweenReplyAndConfirmation$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DW_LIMITER_CHILD_STATE="+state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	marked := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == replyMarker {
				marked <- true
				return
			}
		}
		marked <- false
	}()
	select {
	case ok := <-marked:
		if !ok {
			cmd.Wait()
			t.Fatal("child exited without sending its PAKE reply")
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not send its PAKE reply in 60 s")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.String() != "signal: killed" {
		t.Fatalf("child ended with %v, want signal: killed", err)
	}

	st, err := fileLimiterStore{state}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st.Failures != 1 {
		t.Fatalf("after kill -9 between reply and confirmation: failures = %d, want 1", st.Failures)
	}
	// A restarted host sees the count (two more wrong attempts kill the
	// code), and a success resets it durably.
	l, err := NewLimiter(SupportPolicy, fileLimiterStore{state}, LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Begin(context.Background(), AttemptInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Succeeded(); err != nil {
		t.Fatal(err)
	}
	a.End()
	if st, _ := (fileLimiterStore{state}).Load(); st.Failures != 0 || !st.Used {
		t.Errorf("after success: %+v, want 0 failures, code used", st)
	}
}

// killChild runs a host with a file-backed limiter and a viewer in this
// process; the host blocks right after its reply until it is killed.
func killChild(t *testing.T, statePath string) {
	lim, err := NewLimiter(SupportPolicy, fileLimiterStore{statePath}, LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := NewTestSetupForTest(t, ModeSupport, "kill")
	s.Host.Limiter = lim
	hc, vc := Pipe()
	go DialViewer(context.Background(), vc, s.Viewer)
	AcceptHost(context.Background(), markingConn{hc}, s.Host)
	t.Fatal("unreachable: the host blocks after its reply")
}
