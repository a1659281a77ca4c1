package browsertest

import (
	"context"
	"math"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/deskway/deskway/internal/testbed"
)

const (
	screenW, screenH = 1280, 1024
	// Where the test clicks, in host screen pixels: inside xev's window.
	clickX, clickY = 900, 250
)

// TestBrowserViewer: the real broker, a standalone relay and the agent
// sharing an Xvfb screen; a technician signs in to the console in
// headless Chromium, mistypes the support code (and is told so), then
// joins with the right one. The canvas must show the pattern drawn on
// the X screen pixel for pixel, a click on the scaled canvas must land
// at the right host pixel, and text typed in the page must arrive in an X
// window on the host. The page must load under the CSP without a
// violation, and show the SAS and the relay in its status line.
func TestBrowserViewer(t *testing.T) {
	testbed.Long(t, "starts the whole suite")
	_, err := exec.LookPath("xev")
	testbed.Need(t, "xev (x11-utils)", err)
	disp := testbed.Xvfb(t, screenW, screenH)
	browser := testbed.Chromium(t)
	bin := testbed.Binaries(t, "deskway-broker", "deskway-relay", "deskway-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The host's screen: the pattern, and xev's window to receive input.
	testbed.DrawPattern(t, disp.Name)
	xev := testbed.Start(t, "xev", disp.Env(), "stdbuf", "-oL", "xev", "-geometry", "360x280+760+120", "-name", "deskway-xev")
	if _, err := xev.WaitLine(ctx, func(l string) (string, bool) { return "", strings.HasPrefix(l, "MapNotify") }); err != nil {
		t.Fatalf("xev did not map its window: %v", err)
	}

	// Broker (SQLite, plain HTTP on loopback) and a standalone relay on
	// another origin: the page must reach it under the broker's CSP.
	dir := t.TempDir()
	srv := testbed.StartServers(t, bin, dir)
	srv.AddUser(t, "technician", "tess", "tess-password-42")
	burl := srv.URL

	// The customer runs the agent; it shows the code.
	agent := testbed.Start(t, "agent", disp.Env(), bin+"/deskway-agent", "share", "--broker", burl, "--display", disp.Name,
		"--yes", "--prompt", "terminal", "--config-dir", dir+"/agent", "--log-level", "info")
	codeRe := regexp.MustCompile(`code is ([0-9]+-[0-9]{3}-[0-9]{3})`)
	nextCode := func(not string) string {
		t.Helper()
		code, err := agent.WaitLine(ctx, func(l string) (string, bool) {
			m := codeRe.FindStringSubmatch(l)
			if m == nil || m[1] == not {
				return "", false
			}
			return m[1], true
		})
		if err != nil {
			t.Fatalf("the agent showed no (new) support code: %v", err)
		}
		return code
	}
	code := nextCode("")

	// The browser: every console message and CSP report goes to the log;
	// CSP violations fail the test.
	var mu sync.Mutex
	var violations []string
	chromedp.Listen(browser, func(ev any) {
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			t.Logf("chromium %s %s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
			if strings.Contains(e.Entry.Text, "Content Security Policy") || strings.Contains(e.Entry.Text, "Content-Security-Policy") ||
				strings.Contains(strings.ToLower(e.Entry.Text), "integrity") {
				mu.Lock()
				violations = append(violations, e.Entry.Text)
				mu.Unlock()
			}
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
			t.Logf("page: %s", strings.Join(parts, " "))
		}
	})
	pg := testbed.Page{T: t, Ctx: browser}
	do, state, waitState := pg.Do, pg.State, pg.WaitState

	pg.SignIn(burl, "tess", "tess-password-42")

	// A mistyped secret: the host refuses it (one of the code's three
	// attempts) and the page says so.
	nameplate := code[:strings.Index(code, "-")]
	do("join with a wrong code", chromedp.Navigate(burl+"/view#code="+nameplate+"-000-001"))
	if v := waitState("closed"); v.Kind != "wrong-code" || !strings.Contains(v.Message, "Wrong code") {
		t.Errorf("after a wrong code the page says %q (%s), want a wrong-code message", v.Message, v.Kind)
	}
	// The first page downloaded the wasm (compressed: zstd or gzip).
	dl, _ := chromedp.Run(browser, chromedp.Evaluate[string](`(() => {
		const e = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/deskway.wasm"));
		return e ? e.transferSize + " bytes on the wire, " + e.decodedBodySize + " decoded" : "no entry";
	})()`))
	t.Logf("deskway.wasm download: %s", dl)
	msg, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("message")))
	if !strings.Contains(msg, "Wrong code") {
		t.Errorf("the page shows %q after a wrong code", msg)
	}

	// The agent gives up a code after a failed attempt and shows a new
	// one; the right code, typed into the page's own field this time.
	code = nextCode(code)
	nameplate = code[:strings.Index(code, "-")]
	do("join with the code",
		chromedp.Navigate(burl+"/view"),
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.ID("code-connect")),
	)
	v := waitState("open")
	if u, _ := chromedp.Run(browser, chromedp.Location()); strings.Contains(u, code[len(nameplate)+1:]) {
		t.Errorf("the secret digits are in the address %s", u)
	}

	// The pattern, pixel for pixel, on the canvas (in framebuffer pixels).
	probes := testbed.PatternProbes(nil)
	if bad := pg.WaitCanvas(screenW, screenH, probes); len(bad) > 0 {
		t.Errorf("%d of %d canvas pixels differ from the X screen, first: %v", len(bad), len(probes), bad[:min(5, len(bad))])
	}

	// A click on the scaled canvas lands on the right host pixel.
	type rect struct{ Left, Top, Width, Height float64 }
	r, err := chromedp.Run(browser, chromedp.Evaluate[rect](`(() => { const r = document.getElementById("screen").getBoundingClientRect(); return {Left: r.left, Top: r.top, Width: r.width, Height: r.height}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	scale := r.Width / screenW
	if math.Abs(scale-1) < 0.05 {
		t.Errorf("the canvas is shown at scale %.2f: the click would not test the scaling", scale)
	}
	cx, cy := r.Left+(clickX+0.5)*scale, r.Top+(clickY+0.5)*r.Height/screenH
	t.Logf("canvas %.0fx%.0f at %.0f,%.0f (scale %.3f); clicking %.1f,%.1f for host pixel %d,%d", r.Width, r.Height, r.Left, r.Top, scale, cx, cy, clickX, clickY)
	do("click on the canvas", chromedp.MouseClickXY(cx, cy))
	press := testbed.WaitXev(t, ctx, xev, func(evs []testbed.XevEvent) (testbed.XevEvent, bool) {
		for _, e := range evs {
			if e.Kind == "ButtonPress" && e.Done {
				return e, true
			}
		}
		return testbed.XevEvent{}, false
	})
	if abs(press.RootX-clickX) > 2 || abs(press.RootY-clickY) > 2 {
		t.Errorf("the click landed at host pixel %d,%d, want %d,%d (±2)", press.RootX, press.RootY, clickX, clickY)
	}

	// Text typed in the page arrives in the X window under the pointer.
	do("type in the page", chromedp.KeyEvent("deskway 42"))
	want := []string{"d", "e", "s", "k", "w", "a", "y", "space", "4", "2"}
	typed := testbed.WaitXev(t, ctx, xev, func(evs []testbed.XevEvent) ([]string, bool) {
		var got []string
		for _, e := range evs {
			if e.Kind == "KeyPress" && e.Done {
				got = append(got, e.Keysym)
			}
		}
		return got, len(got) >= len(want)
	})
	if strings.Join(typed, " ") != strings.Join(want, " ") {
		t.Errorf("xev got keys %q, want %q", typed, want)
	}

	// The status line: SAS, relay, RTT, frames.
	time.Sleep(1500 * time.Millisecond) // a stats tick
	v = state()
	status, _ := chromedp.Run(browser, chromedp.Text(chromedp.ID("status")))
	t.Logf("status line: %s", status)
	t.Logf("handshake in the page (wasm, CPace + Noise + SAS through the relay): %v ms", v.Stats["handshakeMs"])
	sas, _ := v.Stats["sas"].(string)
	if ok, _ := regexp.MatchString(`^[0-9]{3} [0-9]{3}$`, sas); !ok || !strings.Contains(status, "SAS "+sas) || !strings.Contains(status, "relay r1") {
		t.Errorf("status line %q, stats %v: want the SAS and relay r1", status, v.Stats)
	}
	if !v.Control {
		t.Errorf("the page does not have control: %+v", v)
	}
	// The agent shows the same SAS to the customer.
	if !strings.Contains(strings.Join(agent.Output(), "\n"), sas) {
		t.Errorf("the agent's output does not show the SAS %s", sas)
	}

	do("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	if v := waitState("closed"); v.Kind != "closed" && v.Kind != "" {
		t.Errorf("after Disconnect the page is %q (%s)", v.Kind, v.Message)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("the page broke its Content-Security-Policy or integrity checks: %q", violations)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
