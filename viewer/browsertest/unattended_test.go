package browsertest

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deskway/deskway/internal/testbed"
)

// TestBrowserViewerUnattended: a teleworker's office PC (the agent in
// host mode on Xvfb, enrolled, with its access password) and the
// teleworker in Chromium: the console's Connect link opens the viewer,
// which asks for the password in the page (OPAQUE in the wasm; never sent
// to the broker). A wrong password is refused with its message; the right
// one shows the pattern of the host's screen.
func TestBrowserViewerUnattended(t *testing.T) {
	testbed.Long(t, "starts the whole suite")
	disp := testbed.Xvfb(t, screenW, screenH)
	browser := testbed.Chromium(t)
	bin := testbed.Binaries(t, "deskway-broker", "deskway-relay", "deskway-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	testbed.DrawPattern(t, disp.Name)

	dir := t.TempDir()
	srv := testbed.StartServers(t, bin, dir)
	srv.AddUser(t, "user", "uma", "uma-password-42")
	burl := srv.URL
	enroll := strings.TrimSpace(testbed.Run(t, "", nil, bin+"/deskway-broker", "enroll-code", "--db", srv.DB, "uma"))
	agentDir := dir + "/agent"
	if out := testbed.Run(t, "", nil, bin+"/deskway-agent", "enroll", "--broker", burl, "--code", enroll, "--name", "office-pc", "--config-dir", agentDir); !regexp.MustCompile(`host (\S+) `).MatchString(out) {
		t.Fatalf("agent enroll printed %q", out)
	}
	const password = "correct horse battery staple"
	if err := os.WriteFile(dir+"/pw", []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testbed.Run(t, "", nil, bin+"/deskway-agent", "set-password", "--password-file", dir+"/pw", "--config-dir", agentDir)
	agent := testbed.Start(t, "agent", disp.Env(), bin+"/deskway-agent", "host", "--display", disp.Name, "--prompt", "terminal",
		"--config-dir", agentDir, "--log-level", "info")
	if _, err := agent.WaitLine(ctx, func(l string) (string, bool) { return "", strings.Contains(l, "Online") }); err != nil {
		t.Fatalf("the host never came online: %v", err)
	}

	pg := testbed.Page{T: t, Ctx: browser}
	pg.SignIn(burl, "uma", "uma-password-42")
	href, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.querySelector("a[id^=connect-]").getAttribute("href")`))
	if err != nil || !strings.HasPrefix(href, "/view?host=") {
		t.Fatalf("Connect link %q, %v", href, err)
	}
	connect := func(pw string) {
		t.Helper()
		pg.Do("connect with a password",
			chromedp.Navigate(burl+href),
			chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SendKeys(chromedp.ID("password"), pw),
			chromedp.Click(chromedp.ID("password-connect")),
		)
	}

	connect("wrong horse battery staple")
	if v := pg.WaitState("closed"); v.Kind != "wrong-password" {
		t.Errorf("after a wrong password the page says %q (%s), want wrong-password", v.Message, v.Kind)
	}

	connect(password)
	pg.WaitState("open")
	check := `(() => {
		const c = document.getElementById("screen");
		if (c.width !== 1280) return "size " + c.width;
		const d = c.getContext("2d").getImageData(0, 0, 640, 480).data;
		const at = (x, y) => [d[4*(y*640+x)], d[4*(y*640+x)+1], d[4*(y*640+x)+2]].join(",");
		return [at(100, 100), at(500, 100), at(100, 300), at(500, 300)].join(" ");
	})()`
	want := "224,48,48 48,192,64 48,80,224 240,208,32"
	var got string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got, err = chromedp.Run(browser, chromedp.Evaluate[string](check)); err != nil {
			t.Fatal(err)
		}
		if got == want {
			break
		}
	}
	if got != want {
		t.Errorf("canvas quadrants %q, want %q", got, want)
	}
	if v := pg.State(); v.Stats["mode"] != "unattended" {
		t.Errorf("stats %v, want an unattended session", v.Stats)
	}
	pg.Do("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	pg.WaitState("closed")
}
