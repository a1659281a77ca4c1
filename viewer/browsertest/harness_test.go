package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/deskway/deskway/internal/testbed"
)

// binaries builds the browser viewer's wasm (make wasm), then the broker
// (which embeds it), the relay and the agent into a temporary directory,
// all from the same tree, so that the agent's encoder and the page's
// decoder match. The Go build cache makes this quick after the first
// time.
func binaries(t *testing.T) string {
	t.Helper()
	root := testbed.ModuleRoot(t)
	if out, err := exec.Command("bash", filepath.Join(root, "scripts", "wasm.sh")).CombinedOutput(); err != nil {
		t.Fatalf("make wasm: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/deskway-broker", "./cmd/deskway-relay", "./cmd/deskway-agent")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// proc is a process the test started; its output goes to the test log
// (prefixed) and to lines, if set.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

// start runs name with args and env, stopped when the test ends.
func start(t *testing.T, prefix string, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), added: make(chan struct{}, 1)}
	p.cmd.Env = env
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	// A standard input that stays open: the agent reads "end" from its
	// terminal, and end of input would end its session.
	stdin, hold, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdin = stdin
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	stdin.Close()
	t.Cleanup(func() { hold.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("%s: %s", prefix, line)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { p.cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-exited
		}
		w.Close()
		<-done
	})
	return p
}

// waitLine waits for an output line that match accepts and returns what
// match returned.
func (p *proc) waitLine(ctx context.Context, match func(string) (string, bool)) (string, error) {
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
		case <-p.added:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// output returns the lines so far.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// run runs a command to its end with input on stdin.
func run(t *testing.T, input string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(input)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// waitHTTP waits until url answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 30 s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// patch is a rectangle of the test pattern.
type patch struct {
	x, y, w, h int
	rgb        uint32
}

// pattern is what the host's screen shows at the top left: colour
// patches, a one-pixel checkerboard and thin lines, which a lossy or
// misaligned copy would not reproduce.
func pattern() []patch {
	ps := []patch{
		{0, 0, 640, 480, 0x202020},
		{0, 0, 320, 240, 0xe03030}, {320, 0, 320, 240, 0x30c040},
		{0, 240, 320, 240, 0x3050e0}, {320, 240, 320, 240, 0xf0d020},
	}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x += 2 {
			ps = append(ps, patch{288 + x + y%2, 208 + y, 1, 1, 0xffffff})
		}
	}
	for i := 0; i < 20; i++ {
		ps = append(ps, patch{20 + 30*i, 400, 1, 60, 0x000000 + uint32(i*0x0c0c0c)})
	}
	return ps
}

// expected returns the colour the pattern has at x, y.
func expected(ps []patch, x, y int) uint32 {
	c := uint32(0)
	for _, p := range ps {
		if x >= p.x && x < p.x+p.w && y >= p.y && y < p.y+p.h {
			c = p.rgb
		}
	}
	return c
}

// drawPattern puts a window with the pattern at the top left of the X
// screen (override-redirect: no window manager needed) and keeps it.
func drawPattern(t *testing.T, display string) {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatalf("X connection to %s: %v", display, err)
	}
	t.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	wid, _ := xproto.NewWindowId(c)
	err = xproto.CreateWindowChecked(c, scr.RootDepth, wid, scr.Root, 0, 0, 640, 480, 0,
		xproto.WindowClassInputOutput, scr.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{0x202020, 1, xproto.EventMaskExposure}).Check()
	if err != nil {
		t.Fatalf("create window: %v", err)
	}
	xproto.MapWindow(c, wid)
	for {
		ev, err := c.WaitForEvent()
		if err != nil {
			t.Fatalf("X event: %v", err)
		}
		if _, ok := ev.(xproto.ExposeEvent); ok {
			break
		}
	}
	gcs := map[uint32]xproto.Gcontext{}
	for _, p := range pattern() {
		gc, ok := gcs[p.rgb]
		if !ok {
			gc, _ = xproto.NewGcontextId(c)
			xproto.CreateGC(c, gc, xproto.Drawable(wid), xproto.GcForeground, []uint32{p.rgb})
			gcs[p.rgb] = gc
		}
		xproto.PolyFillRectangle(c, xproto.Drawable(wid), gc, []xproto.Rectangle{{X: int16(p.x), Y: int16(p.y), Width: uint16(p.w), Height: uint16(p.h)}})
	}
	if _, err := xproto.GetInputFocus(c).Reply(); err != nil { // a round trip: everything is drawn
		t.Fatal(err)
	}
}

// xevEvent is a KeyPress or ButtonPress that xev printed.
type xevEvent struct {
	kind         string // "KeyPress", "ButtonPress"
	rootX, rootY int
	keysym       string // "h", "Return", …
	done         bool   // the lines with the fields were read (xev prints an event in several)
}

// xevEvents parses xev's output.
func xevEvents(lines []string) []xevEvent {
	var out []xevEvent
	var cur *xevEvent
	for _, l := range lines {
		if i := strings.Index(l, " event, serial"); i > 0 {
			kind := l[:i]
			cur = nil
			if kind == "KeyPress" || kind == "ButtonPress" {
				out = append(out, xevEvent{kind: kind})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		if i := strings.Index(l, "root:("); i >= 0 {
			fmt.Sscanf(l[i:], "root:(%d,%d)", &cur.rootX, &cur.rootY)
			cur.done = cur.kind == "ButtonPress"
		}
		if i := strings.Index(l, "(keysym 0x"); i >= 0 {
			rest := l[i:]
			if j := strings.Index(rest, ", "); j >= 0 {
				if k := strings.Index(rest[j+2:], ")"); k >= 0 {
					cur.keysym = rest[j+2 : j+2+k]
					cur.done = true
				}
			}
		}
	}
	return out
}

// runOut runs a command to its end and returns its standard output (and
// its standard error with a failure).
func runOut(name string, args ...string) (string, error) {
	var stderr strings.Builder
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}
