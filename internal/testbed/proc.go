package testbed

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a process a test started with Start. Its output (standard
// output and error together) goes to the test log, each line prefixed
// with its name, and is kept for WaitLine, Output and Tail.
//
// A Proc is safe for concurrent use.
type Proc struct {
	Name string
	Cmd  *exec.Cmd

	mu     sync.Mutex
	lines  []string
	done   bool          // the test has ended: no more logging
	added  chan struct{} // a line was added (capacity 1)
	exited chan struct{} // closed when the process has exited
	err    error         // of Wait, set before exited is closed
}

// Start runs the program path with args and env (nil: the test's own
// environment) and stops it when the test ends: SIGTERM, and SIGKILL
// after 10 s. Its standard input is a pipe that stays open until then
// (the agent reads "end" from its terminal, and end of input would end
// its session). It gets a parent-death signal, so that a crashed test
// leaves nothing behind.
func Start(t testing.TB, name string, env []string, path string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Cmd: exec.Command(path, args...), added: make(chan struct{}, 1), exited: make(chan struct{})}
	p.Cmd.Env = env
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("testbed: pipe: %v", err)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = w, w
	stdin, hold, err := os.Pipe()
	if err != nil {
		t.Fatalf("testbed: pipe: %v", err)
	}
	p.Cmd.Stdin = stdin
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("testbed: start %s: %v", name, err)
	}
	w.Close()
	stdin.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if !p.done {
				t.Logf("%s: %s", name, line)
			}
			p.lines = append(p.lines, line)
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		err := p.Cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
		select {
		case p.added <- struct{}{}:
		default:
		}
	}()
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		hold.Close()
		select {
		case <-read:
		case <-time.After(5 * time.Second): // a child of the process holds the pipe
		}
		p.mu.Lock()
		p.done = true
		p.mu.Unlock()
		r.Close()
	})
	return p
}

// Stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it. It returns Wait's error.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
	default:
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			p.Cmd.Process.Kill()
			<-p.exited
		}
	}
	return p.Err()
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err returns Wait's error once the process has exited (nil for exit
// status 0, and while it runs).
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// WaitLine waits for an output line that match accepts and returns what
// match returned. It fails when ctx ends or the process exits first.
func (p *Proc) WaitLine(ctx context.Context, match func(string) (string, bool)) (string, error) {
	seen := 0
	for {
		p.mu.Lock()
		lines := p.lines[seen:]
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if v, ok := match(l); ok {
				return v, nil
			}
		}
		select {
		case <-p.exited:
			// The last lines may still be on their way.
			select {
			case <-p.added:
				continue
			case <-time.After(200 * time.Millisecond):
			}
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if more {
				continue
			}
			return "", fmt.Errorf("%s exited (%v)", p.Name, p.Err())
		default:
		}
		select {
		case <-p.added:
		case <-p.exited:
		case <-ctx.Done():
			return "", fmt.Errorf("%s: %w", p.Name, ctx.Err())
		}
	}
}

// Output returns the lines so far.
func (p *Proc) Output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Changed returns a channel that receives when a line was added or the
// process exited; for loops that poll Output.
func (p *Proc) Changed() <-chan struct{} { return p.added }

// Tail returns the last n lines of output, each prefixed with the name.
func (p *Proc) Tail(n int) string {
	lines := p.Output()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s: last %d lines", p.Name, len(lines))
	select {
	case <-p.exited:
		fmt.Fprintf(&b, " (exited: %v)", p.Err())
	default:
	}
	b.WriteString(" ---\n")
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// Tails joins the tails of several processes, for a failure message.
func Tails(n int, ps ...*Proc) string {
	var b strings.Builder
	for _, p := range ps {
		if p != nil {
			b.WriteString(p.Tail(n))
		}
	}
	return b.String()
}

// Run runs a program to its end with input on its standard input and
// returns its standard output; it fails the test, with everything the
// program wrote, when the program fails.
func Run(t testing.TB, input string, env []string, path string, args ...string) string {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(input)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(path), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// WaitHTTP waits up to 60 s until url answers 200 (a server built and
// started on a loaded machine may take that long).
func WaitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("testbed: %s did not answer 200 within 60 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
