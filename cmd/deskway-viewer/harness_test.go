//go:build linux

package main

// The whole product on one machine, for the end-to-end test and the
// render benchmark: the deskway-broker, deskway-relay, deskway-agent and
// deskway-viewer binaries as built from this tree, a host desktop on one
// Xvfb display drawn by an X client of the test, the viewer on another.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/viewer/desktop"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the four commands once per test binary.
func binaries(t testing.TB) string {
	t.Helper()
	root := testbed.ModuleRoot(t)
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "deskway-e2e-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/",
			"./cmd/deskway-broker", "./cmd/deskway-relay", "./cmd/deskway-agent", "./cmd/deskway-viewer")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// lines collects a process's output and lets a test wait for a line.
type lines struct {
	mu   sync.Mutex
	all  []string
	more chan struct{}
}

func newLines() *lines { return &lines{more: make(chan struct{}, 1)} }

func (l *lines) feed(r io.Reader, echo func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.all = append(l.all, sc.Text())
		l.mu.Unlock()
		if echo != nil {
			echo(sc.Text())
		}
		select {
		case l.more <- struct{}{}:
		default:
		}
	}
}

// match returns the submatches of the first line matching re, if any.
func (l *lines) match(re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.all {
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
	}
	return nil
}

// matches returns the submatches of every line matching re.
func (l *lines) matches(re *regexp.Regexp) [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out [][]string
	for _, s := range l.all {
		if m := re.FindStringSubmatch(s); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (l *lines) wait(t testing.TB, d time.Duration, what string, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(d)
	for {
		if m := l.match(re); m != nil {
			return m
		}
		select {
		case <-l.more:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waiting %v for %s: no line matches %q", d, what, re)
		}
	}
}

// proc is a started command whose output is collected.
type proc struct {
	cmd *exec.Cmd
	out *lines
}

// start runs bin with args and env (nil: this process's), stopped with
// SIGTERM (then SIGKILL) when the test ends. Its output goes to the test
// log under -v.
func start(t testing.TB, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), name), args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{cmd: cmd, out: newLines()}
	var echo func(string)
	if testing.Verbose() {
		echo = func(s string) { t.Logf("%s: %s", name, s) }
	}
	done := make(chan struct{})
	go func() { p.out.feed(pr, echo); close(done) }()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		pw.Close()
		<-done
	})
	return p
}

// cpuTime is the process's user+system CPU time so far (Linux /proc).
func (p *proc) cpuTime(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat(5)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// product is a running broker (SQLite) with a standalone relay, and a
// technician account signed in.
type product struct {
	broker, relay string
	token         *api.LoginResponse
}

const (
	techName     = "tech"
	techPassword = "correct horse battery"
)

func startProduct(t testing.TB) *product {
	t.Helper()
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "broker.db")
	bport, rport := testbed.FreePort(t), testbed.FreePort(t)
	p := &product{broker: fmt.Sprintf("http://127.0.0.1:%d", bport), relay: fmt.Sprintf("http://127.0.0.1:%d", rport)}

	add := exec.Command(filepath.Join(binaries(t), "deskway-broker"), "user", "add", techName, "--role", "technician", "--password-stdin", "--db", db)
	add.Stdin = strings.NewReader(techPassword + "\n" + techPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("deskway-broker user add: %v\n%s", err, out)
	}
	start(t, nil, "deskway-broker", "serve", "--insecure-http", "--listen", fmt.Sprintf("127.0.0.1:%d", bport),
		"--public-url", p.broker, "--db", db, "--embedded-relay=false", "--relay", "r1="+p.relay, "--log-level", "warn")
	testbed.WaitHTTP(t, p.broker+"/healthz")
	start(t, nil, "deskway-relay", "--listen", fmt.Sprintf("127.0.0.1:%d", rport), "--relay-id", "r1", "--broker", p.broker, "--log-level", "warn")
	testbed.WaitHTTP(t, p.relay+"/healthz")

	c := &api.Client{BaseURL: p.broker}
	resp, err := c.Login(context.Background(), api.LoginRequest{Name: techName, Password: techPassword})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	p.token = resp
	return p
}

// viewerProfile makes a viewer profile signed in to the product (the
// sign-in form itself is covered by viewer/desktop's tests).
func (p *product) viewerProfile(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	prof := &desktop.Profile{Dir: dir}
	if err := prof.SaveToken(desktop.Token{Broker: p.broker, User: techName, Token: p.token.Token, Expires: p.token.Expires}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// share runs deskway-agent share on display d and returns it with the
// support code it shows.
func (p *product) share(t testing.TB, d *testbed.Display, extra ...string) (*proc, string) {
	t.Helper()
	args := append([]string{"share", "--broker", p.broker, "--yes", "--config-dir", t.TempDir(), "--display", d.Name}, extra...)
	a := start(t, d.Env(), "deskway-agent", args...)
	m := a.out.wait(t, 60*time.Second, "the support code", regexp.MustCompile(`support code is (\d{3}-\d{3}-\d{3})`))
	return a, m[1]
}

// view runs deskway-viewer on display d, joining code.
func (p *product) view(t testing.TB, d *testbed.Display, code string, extra ...string) *proc {
	t.Helper()
	env := append(d.Env(), "LANG=C.UTF-8")
	args := append([]string{"--broker", p.broker, "--config-dir", p.viewerProfile(t), "--code", code, "--log-level", "debug"}, extra...)
	return start(t, env, "deskway-viewer", args...)
}

// xconn connects to display d.
func xconn(t testing.TB, d *testbed.Display) *xgb.Conn {
	t.Helper()
	c, err := xgb.NewConnDisplay(d.Name)
	if err != nil {
		t.Fatalf("connect to %s: %v", d.Name, err)
	}
	t.Cleanup(c.Close)
	return c
}

// screenshot returns the part r of display d's screen.
func screenshot(t testing.TB, c *xgb.Conn, r image.Rectangle) *image.RGBA {
	t.Helper()
	root := xproto.Setup(c).DefaultScreen(c).Root
	img := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	// In strips: a request stays under the core protocol's 256 KiB.
	rows := max(1, 60000/r.Dx())
	for y := 0; y < r.Dy(); y += rows {
		h := min(rows, r.Dy()-y)
		rep, err := xproto.GetImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(root),
			int16(r.Min.X), int16(r.Min.Y+y), uint16(r.Dx()), uint16(h), 0xffffffff).Reply()
		if err != nil {
			t.Fatalf("GetImage: %v", err)
		}
		for i := 0; i < r.Dx()*h; i++ {
			o := img.PixOffset(0, y) + 4*i
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = rep.Data[4*i+2], rep.Data[4*i+1], rep.Data[4*i], 255
		}
	}
	return img
}

// findWindow returns the top-level window whose title contains title,
// and its rectangle on the screen.
func findWindow(c *xgb.Conn, title string) (xproto.Window, image.Rectangle, bool) {
	root := xproto.Setup(c).DefaultScreen(c).Root
	tree, err := xproto.QueryTree(c, root).Reply()
	if err != nil {
		return 0, image.Rectangle{}, false
	}
	netName, _ := xproto.InternAtom(c, false, uint16(len("_NET_WM_NAME")), "_NET_WM_NAME").Reply()
	for i := len(tree.Children) - 1; i >= 0; i-- { // top of the stack first
		w := tree.Children[i]
		for _, atom := range []xproto.Atom{xproto.AtomWmName, netName.Atom} {
			prop, err := xproto.GetProperty(c, false, w, atom, xproto.GetPropertyTypeAny, 0, 1024).Reply()
			if err != nil || !strings.Contains(string(prop.Value), title) {
				continue
			}
			attr, err := xproto.GetWindowAttributes(c, w).Reply()
			if err != nil || attr.MapState != xproto.MapStateViewable {
				continue
			}
			g, err := xproto.GetGeometry(c, xproto.Drawable(w)).Reply()
			if err != nil {
				continue
			}
			tr, err := xproto.TranslateCoordinates(c, w, root, 0, 0).Reply()
			if err != nil {
				continue
			}
			return w, image.Rect(int(tr.DstX), int(tr.DstY), int(tr.DstX)+int(g.Width), int(tr.DstY)+int(g.Height)), true
		}
	}
	return 0, image.Rectangle{}, false
}

// xdotool runs xdotool on display d.
func xdotool(t testing.TB, d *testbed.Display, args ...string) {
	t.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = d.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		if _, lerr := exec.LookPath("xdotool"); lerr != nil {
			testbed.Need(t, "xdotool", lerr)
		}
		t.Fatalf("xdotool %v: %v\n%s", args, err, out)
	}
}

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
