package agent

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
)

// TestSupportCodeDiesAfterThreeWrongCodes runs real handshakes with wrong
// codes against a host whose attempt counter is a file: the third failure
// ends the code, and the right code is refused after it.
func TestSupportCodeDiesAfterThreeWrongCodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "support.state")
	lim, err := proto.NewLimiter(proto.SupportPolicy, &FileLimiterStore{Path: path}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := proto.NewSupportCode("42", nil)
	hs, _ := proto.NewStaticPrivate(nil)
	sid := proto.NewSessionID()
	attempt := func(typed proto.SupportCode) (hostErr, viewerErr error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a, b := proto.Pipe()
		hc := make(chan error, 1)
		go func() {
			ch, err := proto.AcceptHost(ctx, a, proto.HostConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "h", Static: hs, Code: code, Limiter: lim})
			if ch != nil {
				ch.Close(ctx, proto.CloseNormal)
			}
			a.Close()
			hc <- err
		}()
		vs, _ := proto.NewStaticPrivate(nil)
		ch, err := proto.DialViewer(ctx, b, proto.ViewerConfig{Mode: proto.ModeSupport, SessionID: sid, HostID: "h", Static: vs, Code: typed})
		if ch != nil {
			ch.Close(ctx, proto.CloseNormal)
		}
		b.Close()
		return <-hc, err
	}
	for i := range 3 {
		wrong, _ := proto.NewSupportCode("42", nil)
		for wrong.String() == code.String() {
			wrong, _ = proto.NewSupportCode("42", nil)
		}
		if herr, verr := attempt(wrong); herr == nil || verr == nil {
			t.Fatalf("wrong code %d: host %v, viewer %v; want both to fail", i+1, herr, verr)
		}
	}
	if herr, _ := attempt(code); !errors.Is(herr, proto.ErrCodeExhausted) {
		t.Errorf("right code after 3 wrong ones: host error %v, want ErrCodeExhausted", herr)
	}
	st, err := (&FileLimiterStore{Path: path}).Load()
	if err != nil || st.Failures != 3 {
		t.Errorf("stored state %+v, %v; want 3 failures", st, err)
	}
}

// TestAttemptCounterSurvivesKill counts attempts in child processes that
// are killed with SIGKILL right after the count, before any key
// confirmation: each kill leaves one failure on disk, and after three the
// code is dead.
func TestAttemptCounterSurvivesKill(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL")
	}
	path := filepath.Join(t.TempDir(), "support.state")
	for i := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAttempt$")
		cmd.Env = append(os.Environ(), "DESKWAY_TEST_LIMITER="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "counted\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child %d said %q, %v", i, line, err)
		}
		cmd.Process.Kill() // SIGKILL: no deferred code, no cleanup
		cmd.Wait()
	}
	lim, err := proto.NewLimiter(proto.SupportPolicy, &FileLimiterStore{Path: path}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := lim.State(); st.Failures != 3 {
		t.Errorf("after 3 killed attempts the counter is %d, want 3", st.Failures)
	}
	if _, err := lim.Begin(context.Background(), proto.AttemptInfo{}); !errors.Is(err, proto.ErrCodeExhausted) {
		t.Errorf("Begin after 3 killed attempts = %v, want ErrCodeExhausted", err)
	}
}

// TestHelperAttempt is the child of TestAttemptCounterSurvivesKill.
func TestHelperAttempt(t *testing.T) {
	path := os.Getenv("DESKWAY_TEST_LIMITER")
	if path == "" {
		t.Skip("helper process only")
	}
	lim, err := proto.NewLimiter(proto.SupportPolicy, &FileLimiterStore{Path: path}, proto.LimiterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lim.Begin(context.Background(), proto.AttemptInfo{}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("counted\n")
	time.Sleep(time.Minute) // the PAKE reply would go out now; the parent kills us
}

func TestFileLimiterStoreRefusesDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.state")
	s := &FileLimiterStore{Path: path}
	if st, err := s.Load(); err != nil || st.Failures != 0 {
		t.Fatalf("Load of a missing file = %+v, %v; want a new state", st, err)
	}
	if err := s.Save(proto.LimiterState{Failures: 4, Created: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	b[7] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := s.Load(); !errors.Is(err, proto.ErrLimiterState) {
		t.Errorf("Load of a damaged file = %v, want ErrLimiterState", err)
	}
}

func TestFilePinStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trusted.pins")
	s := &FilePinStore{Path: path}
	k1, _ := proto.NewStaticPrivate(nil)
	k2, _ := proto.NewStaticPrivate(nil)
	fp1, fp2 := k1.Public().Fingerprint(), k2.Public().Fingerprint()
	if err := s.Pin("laptop", fp1); err != nil {
		t.Fatal(err)
	}
	var mismatch *proto.PinMismatchError
	if err := s.Pin("laptop", fp2); !errors.As(err, &mismatch) {
		t.Errorf("Pin of another key = %v, want a PinMismatchError", err)
	}
	again := &FilePinStore{Path: path}
	if fp, ok, err := again.Lookup("laptop"); err != nil || !ok || fp != fp1 {
		t.Errorf("Lookup from a new store = %q, %v, %v; want %q", fp, ok, err, fp1)
	}
}
