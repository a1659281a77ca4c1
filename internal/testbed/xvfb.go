package testbed

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Display is a running Xvfb server.
type Display struct {
	Name          string // the DISPLAY value, e.g. ":42"
	Width, Height int
}

// Env returns the environment of the current process with DISPLAY set to d.
func (d *Display) Env() []string {
	env := []string{"DISPLAY=" + d.Name}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	return env
}

// Xvfb starts an X server with one screen of width x height at 24 bits, on
// a display number the server picks itself (-displayfd), with -noreset so
// that it survives its last client. It is stopped when the test ends.
func Xvfb(t testing.TB, width, height int) *Display {
	t.Helper()
	bin, err := exec.LookPath("Xvfb")
	Need(t, "Xvfb", err)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("testbed: pipe: %v", err)
	}
	cmd := exec.Command(bin,
		"-displayfd", "3",
		"-screen", "0", fmt.Sprintf("%dx%dx24", width, height),
		"-noreset", "-nolisten", "tcp",
		"+extension", "XFIXES", "+extension", "DAMAGE", "+extension", "MIT-SHM", "+extension", "XTEST",
	)
	cmd.ExtraFiles = []*os.File{w}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		Need(t, "Xvfb", err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})

	num := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		num <- strings.TrimSpace(line)
	}()
	select {
	case n := <-num:
		if _, err := strconv.Atoi(n); err != nil {
			Need(t, "Xvfb", fmt.Errorf("no display number (stderr: %s)", stderr.String()))
		}
		return &Display{Name: ":" + n, Width: width, Height: height}
	case <-time.After(20 * time.Second):
		Need(t, "Xvfb", fmt.Errorf("did not start within 20s (stderr: %s)", stderr.String()))
	}
	return nil
}

// Run starts the X client cmd (e.g. xterm, xdotool) on display d and stops
// it when the test ends.
func (d *Display) Run(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = d.Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		Need(t, name, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
