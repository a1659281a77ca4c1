package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
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

// viewState is what the page exposes as globalThis.deskwayViewer.
type viewState struct {
	State   string         `json:"state"`
	Message string         `json:"message"`
	Kind    string         `json:"kind"`
	Stats   map[string]any `json:"stats"`
	Control bool           `json:"control"`
}

// TestBrowserViewer: the real broker, a standalone relay and the agent
// sharing an Xvfb screen; a technician signs in to the console in
// headless Chromium, mistypes the support code (and is told so), then
// joins with the right one. The canvas must show the pattern drawn on
// the X screen pixel for pixel, a click on the scaled canvas must land
// at the right host pixel, and text typed in the page must arrive in an X
// window on the host. The page must load under the CSP without a
// violation, and show the SAS and the relay in its status line.
func TestBrowserViewer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole suite")
	}
	_, err := exec.LookPath("xev")
	testbed.Need(t, "xev (x11-utils)", err)
	disp := testbed.Xvfb(t, screenW, screenH)
	browser := testbed.Chromium(t)
	bin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The host's screen: the pattern, and xev's window to receive input.
	drawPattern(t, disp.Name)
	xev := start(t, "xev", disp.Env(), "stdbuf", "-oL", "xev", "-geometry", "360x280+760+120", "-name", "deskway-xev")
	if _, err := xev.waitLine(ctx, func(l string) (string, bool) { return "", strings.HasPrefix(l, "MapNotify") }); err != nil {
		t.Fatalf("xev did not map its window: %v", err)
	}

	// Broker (SQLite, plain HTTP on loopback) and a standalone relay on
	// another origin: the page must reach it under the broker's CSP.
	dir := t.TempDir()
	burl, _ := startServers(t, bin, dir, "technician", "tess", "tess-password-42")

	// The customer runs the agent; it shows the code.
	agent := start(t, "agent", disp.Env(), bin+"/deskway-agent", "share", "--broker", burl, "--display", disp.Name,
		"--yes", "--prompt", "terminal", "--config-dir", dir+"/agent", "--log-level", "info")
	codeRe := regexp.MustCompile(`code is ([0-9]+-[0-9]{3}-[0-9]{3})`)
	nextCode := func(not string) string {
		t.Helper()
		code, err := agent.waitLine(ctx, func(l string) (string, bool) {
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
	pg := page{t, browser}
	do, state, waitState := pg.do, pg.state, pg.waitState

	pg.signIn(burl, "tess", "tess-password-42")

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
	ps := pattern()
	var probes [][5]int
	for y := 0; y < 480; y += 7 {
		for x := 0; x < 640; x += 5 {
			c := expected(ps, x, y)
			probes = append(probes, [5]int{x, y, int(c >> 16), int(c >> 8 & 0xff), int(c & 0xff)})
		}
	}
	// the checkerboard, every pixel of a corner
	for y := 208; y < 224; y++ {
		for x := 288; x < 304; x++ {
			c := expected(ps, x, y)
			probes = append(probes, [5]int{x, y, int(c >> 16), int(c >> 8 & 0xff), int(c & 0xff)})
		}
	}
	pj, _ := json.Marshal(probes)
	check := `(() => {
		const c = document.getElementById("screen");
		if (c.width !== ` + fmt.Sprint(screenW) + ` || c.height !== ` + fmt.Sprint(screenH) + `) return ["size " + c.width + "x" + c.height];
		const d = c.getContext("2d").getImageData(0, 0, 640, 480).data;
		const bad = [];
		for (const [x, y, r, g, b] of ` + string(pj) + `) {
			const i = 4 * (y * 640 + x);
			if (d[i] !== r || d[i+1] !== g || d[i+2] !== b) bad.push(x + "," + y + ": " + [d[i], d[i+1], d[i+2]] + " want " + [r, g, b]);
		}
		return bad;
	})()`
	var bad []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		bad, err = chromedp.Run(browser, chromedp.Evaluate[[]string](check))
		if err != nil {
			t.Fatalf("read the canvas: %v", err)
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(bad) > 0 {
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
	press := waitXev(t, ctx, xev, func(evs []xevEvent) (xevEvent, bool) {
		for _, e := range evs {
			if e.kind == "ButtonPress" && e.done {
				return e, true
			}
		}
		return xevEvent{}, false
	})
	if abs(press.rootX-clickX) > 2 || abs(press.rootY-clickY) > 2 {
		t.Errorf("the click landed at host pixel %d,%d, want %d,%d (±2)", press.rootX, press.rootY, clickX, clickY)
	}

	// Text typed in the page arrives in the X window under the pointer.
	do("type in the page", chromedp.KeyEvent("deskway 42"))
	want := []string{"d", "e", "s", "k", "w", "a", "y", "space", "4", "2"}
	typed := waitXev(t, ctx, xev, func(evs []xevEvent) ([]string, bool) {
		var got []string
		for _, e := range evs {
			if e.kind == "KeyPress" && e.done {
				got = append(got, e.keysym)
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
	if !strings.Contains(strings.Join(agent.output(), "\n"), sas) {
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

// startServers starts the broker (SQLite in dir, plain HTTP on
// loopback, one account) and a standalone relay r1 on another origin,
// which the page must reach under the broker's CSP. It returns the
// broker's URL and database.
func startServers(t *testing.T, bin, dir, role, user, password string) (burl, db string) {
	t.Helper()
	db = "sqlite:" + dir + "/broker.db"
	bport, rport := testbed.FreePort(t), testbed.FreePort(t)
	burl, rurl := fmt.Sprintf("http://127.0.0.1:%d", bport), fmt.Sprintf("http://127.0.0.1:%d", rport)
	run(t, password+"\n"+password+"\n", bin+"/deskway-broker", "user", "--db", db, "--role", role, "--password-stdin", "add", user)
	start(t, "broker", nil, bin+"/deskway-broker", "serve", "--db", db, "--insecure-http", "--listen", fmt.Sprintf("127.0.0.1:%d", bport),
		"--public-url", burl, "--embedded-relay=false", "--relay", "r1="+rurl, "--log-level", "warn")
	waitHTTP(t, burl+"/healthz")
	start(t, "relay", nil, bin+"/deskway-relay", "-listen", fmt.Sprintf("127.0.0.1:%d", rport), "-relay-id", "r1", "-broker", burl)
	waitHTTP(t, rurl+"/healthz")
	return burl, db
}

// page drives the viewer page in a browser tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// state reads globalThis.deskwayViewer.
func (p page) state() viewState {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[viewState](`globalThis.deskwayViewer || {state: "no page"}`))
	if err != nil {
		p.t.Fatalf("read the page's state: %v", err)
	}
	return v
}

// waitState waits for the viewer's state want; closed fails it early.
func (p page) waitState(want string) viewState {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v := p.state()
		if v.State == want {
			return v
		}
		if v.State == "closed" && want != "closed" || time.Now().After(deadline) {
			p.t.Fatalf("viewer is %q (%s, %s), want %q", v.State, v.Kind, v.Message, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signIn signs in to the console.
func (p page) signIn(burl, user, password string) {
	p.t.Helper()
	p.do("sign in as "+user,
		chromedp.Navigate(burl+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("nav-hosts")),
	)
}

// waitXev waits until match finds what it wants in xev's events.
func waitXev[T any](t *testing.T, ctx context.Context, p *proc, match func([]xevEvent) (T, bool)) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if v, ok := match(xevEvents(p.output())); ok {
			return v
		}
		select {
		case <-p.added:
		case <-ctx.Done():
			v, _ := match(xevEvents(p.output()))
			t.Fatalf("xev did not see the input: got %v", v)
			return v
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
