package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deskway/deskway/internal/testbed"
)

// TestDemo runs make demo's script for real, as a newcomer would on a
// machine without a display (DISPLAY unset; DEMO_SKIP_DEPS=1, since the
// test beds are the packages deps.sh installs): it builds (make build),
// starts the broker, a virtual desktop on Xvfb and the agent, and prints
// where to connect. The test reads the printed URL, admin password and
// support code, signs in in Chromium, types the code in Support, and
// checks that the page shows the virtual desktop: what the canvas shows
// is what the X server has on its screen. After the session the script
// shows a new code. Then Ctrl-C (SIGINT): every
// process the script started must be gone, and it must say where the data
// is kept.
func TestDemo(t *testing.T) {
	testbed.Long(t, "builds and runs the whole demo")
	for _, tool := range []string{"Xvfb", "openbox", "xterm", "mousepad", "make", "setsid"} {
		_, err := exec.LookPath(tool)
		testbed.Need(t, tool, err)
	}
	browser := testbed.Chromium(t)
	root := testbed.ModuleRoot(t)
	data := filepath.Join(t.TempDir(), "demo-data")

	// Every process the script starts inherits this variable: the test
	// finds them by it, to check that they are gone in the end (and to
	// stop them if the test fails half-way).
	b := make([]byte, 8)
	rand.Read(b)
	mark := "DESKWAY_DEMO_TEST=" + hex.EncodeToString(b)
	t.Cleanup(func() {
		for _, pid := range marked(mark) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "DEMO_") {
			env = append(env, kv)
		}
	}
	env = append(env, mark, "DEMO_SKIP_DEPS=1", "DEMO_DATA="+data, "DEMO_PORT="+strconv.Itoa(testbed.FreePort(t)))
	demo := testbed.Start(t, "demo", env, "bash", filepath.Join(root, "scripts", "demo.sh"))
	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n%s%s", append(args, demo.Tail(40), logTails(data))...)
	}

	// A cold build takes minutes; after that the script is up in seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := demo.WaitLine(ctx, func(l string) (string, bool) { return "", strings.Contains(l, "Support code:") }); err != nil {
		fatalf("the demo printed no support code: %v", err)
	}
	out := strings.Join(demo.Output(), "\n")
	field := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			fatalf("the demo's output has no %s", re)
		}
		return m[1]
	}
	url := strings.TrimSuffix(field(`Console:\s+(http://\S+)`), "/")
	user := field(`Admin:\s+(\S+)`)
	password := field(`Password:\s+(\S+)`)
	code := field(`Support code:\s+([0-9]+-[0-9]{3}-[0-9]{3})`)
	display := field(`virtual display (:[0-9]+)`)

	pg := testbed.Page{T: t, Ctx: browser, Fail: func() string { return demo.Tail(40) + logTails(data) }}
	pg.SignIn(url, user, password)
	pg.Do("type the code in Support",
		chromedp.Click(chromedp.ID("nav-support")),
		chromedp.WaitVisible(chromedp.ID("support-code")),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.ID("join")),
	)
	pg.WaitState("open")

	// The canvas shows the X server's screen: a desktop (many colours),
	// and the same pixels, but for a blinking text cursor or two.
	var canvas image.Image
	var differ, colours int
	var shot *image.RGBA
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		canvas = pg.Canvas()
		var err error
		if shot, err = testbed.Screenshot(display); err != nil {
			fatalf("screenshot of %s: %v", display, err)
		}
		if differ, colours, err = testbed.Compare(canvas, shot); err == nil && differ*200 < len(shot.Pix)/4 && colours >= 16 {
			break
		}
		if time.Now().After(deadline) {
			savePNG(t, "canvas.png", canvas)
			savePNG(t, "screen.png", shot)
			fatalf("the canvas (%v) differs from %s's screen in %d pixels (%d colours; %v), want under 0.5%% and a desktop",
				canvas.Bounds().Size(), display, differ, colours, err)
		}
	}
	t.Logf("the canvas shows %s: %v, %d colours, %d pixels differ", display, canvas.Bounds().Size(), colours, differ)
	savePNG(t, "canvas.png", canvas)

	// After a session the demo shares again, with a new code.
	pg.Do("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	pg.WaitState("closed")
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if _, err := demo.WaitLine(wctx, func(l string) (string, bool) { return "", strings.Contains(l, "new support code:") }); err != nil {
		fatalf("no new support code after the session: %v", err)
	}

	// Ctrl-C stops everything.
	if err := demo.Cmd.Process.Signal(os.Interrupt); err != nil {
		fatalf("SIGINT: %v", err)
	}
	select {
	case <-demo.Exited():
	case <-time.After(90 * time.Second):
		fatalf("the demo did not stop within 90 s of SIGINT")
	}
	if err := demo.Err(); err != nil {
		t.Errorf("the demo ended with %v after Ctrl-C, want exit status 0", err)
	}
	if left := marked(mark); len(left) > 0 {
		t.Errorf("processes the demo started still run after it stopped: %v", describe(left))
	}
	if !strings.Contains(strings.Join(demo.Output(), "\n"), "the data is kept in "+data) {
		t.Errorf("the demo did not say where the data is kept (%s)", data)
	}
	if _, err := os.Stat(filepath.Join(data, "broker.db")); err != nil {
		t.Errorf("the demo's database: %v", err)
	}
}

// marked returns the processes whose environment holds kv.
func marked(kv string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(b, []byte{0}) {
			if string(v) == kv {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// describe names the processes pids.
func describe(pids []int) []string {
	var out []string
	for _, pid := range pids {
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, strconv.Itoa(pid)+" "+strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return out
}

// logTails returns the last lines of the demo's logs, for a failure.
func logTails(data string) string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(data, "*.log"))
	for _, l := range logs {
		out, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		b.WriteString("--- " + filepath.Base(l) + " ---\n")
		for _, line := range lines[max(0, len(lines)-15):] {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

// savePNG keeps img in the test's artifact directory (go test -artifacts
// keeps it after the test).
func savePNG(t *testing.T, name string, img image.Image) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err == nil {
		os.WriteFile(filepath.Join(t.ArtifactDir(), name), buf.Bytes(), 0o644)
	}
}
