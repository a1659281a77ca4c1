package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto/api"
)

const (
	screenW, screenH = 1280, 800
	// The typing target on the office PC: an xterm that writes what it is
	// typed to a file, right of the pattern (host screen pixels).
	typingGeometry   = "50x8+700+100"
	typingX, typingY = 820, 150
)

// TestSuite runs the whole suite as separate processes, the way it is
// deployed: the broker (SQLite) and a standalone relay r1 that fetches
// the ticket keys from the broker and reports its sessions with the
// report token; an admin made on the command line, who adds a user and a
// technician in the console.
//
// Unattended access: the user makes an enrollment code in the console;
// the agent enrolls with the command line the console shows, sets its
// access password (DESKWAY_HOST_PASSWORD) and runs host on an Xvfb
// screen; the console shows the host online; the user clicks Connect,
// types the access password in the page, sees the pattern drawn on the
// host's screen pixel for pixel, and types into an xterm on the host,
// which writes it to a file.
//
// Support: a second agent shares another Xvfb screen with the consent
// window (no --yes); the technician types its code in the console's
// Support field; the test clicks "View and control" in the agent's X
// window, found by its name; the page shows that screen, and the live
// indicator is up on it; the customer takes control back with its Stop
// control button, the technician asks again and the customer allows it
// in a new window. Both sessions are then in the broker's list with the
// relay's byte counts.
func TestSuite(t *testing.T) {
	testbed.Long(t, "starts the whole suite")
	for _, tool := range []string{"xdotool", "xterm"} {
		_, err := exec.LookPath(tool)
		testbed.Need(t, tool, err)
	}
	office := testbed.Xvfb(t, screenW, screenH)
	customer := testbed.Xvfb(t, screenW, screenH)
	browser := testbed.Chromium(t)
	bin := testbed.Binaries(t, "deskway-broker", "deskway-relay", "deskway-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()

	srv := testbed.StartServers(t, bin, dir)
	var host, share *testbed.Proc
	tails := func() string { return srv.Tails() + testbed.Tails(25, host, share) }
	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n%s", append(args, tails())...)
	}
	pg := testbed.Page{T: t, Ctx: browser, Fail: tails}

	// The admin, made on the command line, adds the others in the console.
	const adminPW, userPW, techPW = "ada-password-42", "uma-password-42", "tess-password-42"
	srv.AddUser(t, "admin", "ada", adminPW)
	pg.SignIn(srv.URL, "ada", adminPW)
	for _, u := range []struct{ name, role, pw string }{{"uma", "user", userPW}, {"tess", "technician", techPW}} {
		pg.Do("add "+u.name+" in the console",
			chromedp.Navigate(srv.URL+"/admin/users"),
			chromedp.WaitVisible(chromedp.ID("add-user")),
			chromedp.SendKeys(chromedp.ID("new-name"), u.name),
			chromedp.SetValue(chromedp.ID("new-role"), u.role),
			chromedp.SendKeys(chromedp.ID("new-password"), u.pw),
			chromedp.Click(chromedp.ID("add-user-submit")),
			chromedp.WaitVisible(chromedp.ID("user-"+u.name)),
		)
	}
	pg.SignOut(srv.URL)

	// --- Unattended access ---
	testbed.DrawPattern(t, office.Name)
	typed := filepath.Join(dir, "typed.txt")
	office.Run(t, "xterm", "-geometry", typingGeometry, "-title", "deskway-typing", "-e", "sh", "-c", "exec cat > "+typed)
	xdotool(t, ctx, office, "search", "--sync", "--onlyvisible", "--name", "deskway-typing")

	pg.SignIn(srv.URL, "uma", userPW)
	pg.Do("make an enrollment code",
		chromedp.Navigate(srv.URL+"/hosts"),
		chromedp.Click(chromedp.ID("make-code")),
		chromedp.WaitVisible(chromedp.ID("enroll-code")),
	)
	code := pg.Text("enroll-code")
	shown, err := chromedp.Run(browser, chromedp.Text(`#enroll-code ~ pre`))
	if err != nil {
		fatalf("read the enroll command line: %v", err)
	}
	// The command line as the console shows it, run as written (with a
	// config directory of its own, and a name).
	args := strings.Fields(shown)
	if want := []string{"deskway-agent", "enroll", "--broker", srv.URL, "--code", code}; !slices.Equal(args, want) {
		fatalf("the console shows %q, want %q", shown, strings.Join(want, " "))
	}
	agentDir := filepath.Join(dir, "office-agent")
	out := testbed.Run(t, "", nil, filepath.Join(bin, args[0]), append(args[1:], "--config-dir", agentDir, "--name", "office-pc")...)
	m := regexp.MustCompile(`Enrolled as host (\S+) `).FindStringSubmatch(out)
	if m == nil {
		fatalf("agent enroll printed %q", out)
	}
	hostID := m[1]
	const hostPW = "correct horse battery staple"
	testbed.Run(t, "", append(os.Environ(), "DESKWAY_HOST_PASSWORD="+hostPW),
		filepath.Join(bin, "deskway-agent"), "set-password", "--config-dir", agentDir)
	filepath.WalkDir(agentDir, func(path string, d os.DirEntry, err error) error {
		if b, _ := os.ReadFile(path); err == nil && !d.IsDir() && strings.Contains(string(b), hostPW) {
			t.Errorf("the agent keeps the access password in the clear in %s", path)
		}
		return nil
	})

	// The console is open before the host comes online: it must show the
	// change by itself.
	pg.Do("open my hosts", chromedp.Navigate(srv.URL+"/hosts"), chromedp.WaitVisible(chromedp.ID("host-"+hostID)))
	host = testbed.Start(t, "host", office.Env(), filepath.Join(bin, "deskway-agent"), "host",
		"--display", office.Name, "--prompt", "terminal", "--config-dir", agentDir, "--log-level", "info")
	if _, err := host.WaitLine(ctx, func(l string) (string, bool) { return "", strings.HasPrefix(l, "Online") }); err != nil {
		fatalf("the host never came online: %v", err)
	}
	waitText(t, pg, "presence-"+hostID, "online", tails)

	connectAt := time.Now()
	pg.Do("Connect",
		chromedp.Click(chromedp.ID("connect-"+hostID)),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), hostPW),
		chromedp.Click(chromedp.ID("password-connect")),
	)
	if v := pg.WaitState("open"); v.Stats["mode"] != "unattended" {
		t.Errorf("stats %v, want an unattended session", v.Stats)
	}
	probes := testbed.PatternProbes(nil)
	if bad := pg.WaitCanvas(screenW, screenH, probes); len(bad) > 0 {
		t.Errorf("%d of %d canvas pixels differ from the office screen, first: %v", len(bad), len(probes), bad[:min(5, len(bad))])
	}
	t.Logf("unattended: Connect clicked → password typed → the office screen exact on the canvas: %v (handshake %v ms)",
		time.Since(connectAt).Round(time.Millisecond), pg.State().Stats["handshakeMs"])

	// Typing: a click on the xterm (through the scaled canvas) moves the
	// host's pointer there, which gives it the keyboard; the keys typed in
	// the page go to it, and cat writes the line to the file.
	x, y := pg.ScreenToPage(typingX, typingY)
	pg.Do("click on the host's xterm", chromedp.MouseClickXY(x, y))
	typedAt := time.Now()
	pg.Do("type in the page", chromedp.KeyEvent("deskway 42"), chromedp.KeyEvent(kb.Enter))
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(typed)
		if got = string(b); strings.Contains(got, "\n") {
			break
		}
	}
	if got != "deskway 42\n" {
		t.Errorf("the host's xterm got %q, want %q", got, "deskway 42\n")
	}
	t.Logf("unattended: 11 keys typed in the page → the line in the host's file: %v", time.Since(typedAt).Round(time.Millisecond))
	pg.Do("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	pg.WaitState("closed")
	pg.SignOut(srv.URL)

	// --- Support, with the consent window ---
	testbed.DrawPattern(t, customer.Name)
	share = testbed.Start(t, "share", customer.Env(), filepath.Join(bin, "deskway-agent"), "share", "--broker", srv.URL,
		"--display", customer.Name, "--prompt", "gui", "--config-dir", filepath.Join(dir, "customer-agent"), "--log-level", "info")
	support, err := share.WaitLine(ctx, func(l string) (string, bool) {
		m := regexp.MustCompile(`code is ([0-9]+-[0-9]{3}-[0-9]{3})`).FindStringSubmatch(l)
		if m == nil {
			return "", false
		}
		return m[1], true
	})
	if err != nil {
		fatalf("the customer's agent showed no support code: %v", err)
	}
	pg.SignIn(srv.URL, "tess", techPW)
	joinAt := time.Now()
	pg.Do("type the code in Support",
		chromedp.Click(chromedp.ID("nav-support")),
		chromedp.WaitVisible(chromedp.ID("support-code")),
		chromedp.SendKeys(chromedp.ID("code"), support),
		chromedp.Click(chromedp.ID("join")),
	)
	// The customer answers the consent window on their screen.
	win := strings.TrimSpace(xdotool(t, ctx, customer, "search", "--sync", "--onlyvisible", "--name", "Deskway: allow screen sharing"))
	if strings.Contains(win, "\n") {
		fatalf("several consent windows: %q", win)
	}
	xdotool(t, ctx, customer, "mousemove", "--window", win, "390", "119", "click", "1") // "View and control"
	if v := pg.WaitState("open"); v.Stats["mode"] != "support" || !v.Control {
		t.Errorf("after consent the page has %+v, want a support session with control", v)
	}
	// The live indicator sits at the top of the screen; the rest shows.
	probes = testbed.PatternProbes(func(x, y int) bool { return y >= 32 })
	if bad := pg.WaitCanvas(screenW, screenH, probes); len(bad) > 0 {
		t.Errorf("%d of %d canvas pixels differ from the customer's screen, first: %v", len(bad), len(probes), bad[:min(5, len(bad))])
	}
	t.Logf("support: code typed → consent clicked → the customer's screen exact on the canvas: %v", time.Since(joinAt).Round(time.Millisecond))
	bar := strings.TrimSpace(xdotool(t, ctx, customer, "search", "--onlyvisible", "--name", "^Deskway session$"))

	// The customer takes control back on the session bar; the page says
	// so and offers to ask again; the customer allows it in a new window.
	waitControl := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); pg.State().Control != want; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				fatalf("the page's control did not become %v", want)
			}
		}
	}
	xdotool(t, ctx, customer, "mousemove", "--window", bar, "517", "13", "click", "1") // "Stop control"
	waitControl(false)
	pg.Do("see the host took control back and ask again",
		chromedp.WaitVisible(chromedp.ID("askctl")),
		chromedp.Click(chromedp.ID("askctl")),
	)
	if st := pg.Text("st-state"); !strings.Contains(st, "asked the host for control") {
		t.Errorf("after Ask for control the status says %q", st)
	}
	win = strings.TrimSpace(xdotool(t, ctx, customer, "search", "--sync", "--onlyvisible", "--name", "Deskway: allow screen sharing"))
	xdotool(t, ctx, customer, "mousemove", "--window", win, "390", "119", "click", "1") // "Allow control"
	waitControl(true)
	pg.Do("the offer to ask again goes", chromedp.WaitNotVisible(chromedp.ID("askctl")))

	pg.Do("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	pg.WaitState("closed")
	select {
	case <-share.Exited():
		if err := share.Err(); err != nil {
			fatalf("deskway-agent share ended with %v after the session", err)
		}
	case <-time.After(30 * time.Second):
		fatalf("deskway-agent share did not exit after its session ended")
	}

	// The relay reported both sessions to the broker with its token.
	admin := &api.Client{BaseURL: srv.URL}
	login, err := admin.Login(ctx, api.LoginRequest{Name: "ada", Password: adminPW})
	if err != nil {
		fatalf("API login: %v", err)
	}
	admin.Token = login.Token
	var ss []api.Session
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if ss, err = admin.Sessions(ctx, false); err != nil {
			fatalf("sessions: %v", err)
		}
		if reported(ss) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if reported(ss) != 2 {
		t.Errorf("sessions %+v: want the unattended and the support session ended, through r1, with bytes from the host", ss)
	}
}

// reported counts the sessions that have ended and that r1 reported.
func reported(ss []api.Session) int {
	n := 0
	for _, s := range ss {
		if !s.Live && slices.Contains(s.Relays, "r1") && s.BytesFromHost > 1000 && s.BytesToHost > 0 {
			n++
		}
	}
	return n
}

// xdotool runs xdotool on display d (within 60 s) and returns its output.
func xdotool(t *testing.T, ctx context.Context, d *testbed.Display, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xdotool", args...)
	cmd.Env = d.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %s on %s: %v\n%s", strings.Join(args, " "), d.Name, err, out)
	}
	return string(out)
}

// waitText waits up to 30 s until the element with the id reads want
// (the page changes it by itself).
func waitText(t *testing.T, pg testbed.Page, id, want string, tails func() string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = pg.Text(id); got == want {
			return
		}
	}
	t.Fatalf("#%s reads %q, want %q\n%s", id, got, want, tails())
}
