package broker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto/api"
)

// browser drives a headless Chromium tab against a test broker. The
// broker serves HTTPS with the test certificate, which the browser is
// told to accept.
type browser struct {
	t   *testing.T
	ctx context.Context
	b   *testBroker

	mu       sync.Mutex
	problems []string // console errors and CSP violations
}

func newBrowser(t *testing.T, b *testBroker) *browser {
	ctx := testbed.Chromium(t)
	if _, err := chromedp.Call(ctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
		t.Fatalf("Security.setIgnoreCertificateErrors: %v", err)
	}
	br := &browser{t: t, ctx: ctx, b: b}
	// Subscribe before any page loads; Chromium reports CSP violations
	// and failed loads in the log, script errors as exceptions.
	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if e := ev.Entry; e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning {
				br.problem(fmt.Sprintf("log %s %s: %s %s", e.Level, e.Source, e.Text, e.URL))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			br.problem("exception: " + (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		}
	}()
	return br
}

func (br *browser) problem(s string) {
	br.mu.Lock()
	defer br.mu.Unlock()
	br.problems = append(br.problems, s)
}

// do runs steps with a time limit.
func (br *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		br.t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks a button that submits a form and waits for the next page.
func (br *browser) submit(what string, button chromedp.ID) {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(button))); err != nil {
		br.t.Fatalf("%s: %v", what, err)
	}
}

func (br *browser) text(sel chromedp.ID) string {
	br.t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		br.t.Fatalf("text of #%s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (br *browser) location() string {
	br.t.Helper()
	s, err := chromedp.Run(br.ctx, chromedp.Location())
	if err != nil {
		br.t.Fatal(err)
	}
	return s
}

func (br *browser) signIn(name, password string) {
	br.t.Helper()
	br.do("open the sign-in page",
		chromedp.Navigate(br.b.url+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	br.submit("sign in as "+name, "signin")
	if loc := br.location(); loc != br.b.url+"/hosts" {
		br.t.Fatalf("after signing in as %s the browser is at %s, want /hosts", name, loc)
	}
}

// TestConsoleInChromium tries the console as a new admin and user would:
// the admin signs in, adds a technician and a user, makes an enrollment
// code for the user; the user signs in and sees the host come online when
// it enrolls and connects; the technician's code field opens the viewer
// without sending the secret digits to the broker.
func TestConsoleInChromium(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	b.addUser("root", api.RoleAdmin, "root-password") // as `deskway-broker user add` does
	br := newBrowser(t, b)

	// The admin signs in and adds a technician and a user.
	br.signIn("root", "root-password")
	br.submit("open Users", "nav-users")
	for _, u := range []struct{ name, role string }{{"tess", "technician"}, {"ursula", "user"}} {
		br.do("fill in the new user "+u.name,
			chromedp.SendKeys(chromedp.ID("new-name"), u.name),
			chromedp.SetValue(chromedp.ID("new-role"), u.role),
			chromedp.SendKeys(chromedp.ID("new-password"), u.name+"-password"),
		)
		br.submit("add "+u.name, "add-user-submit")
		if got := br.text("flash"); got != "The user was added." {
			t.Errorf("after adding %s the page says %q", u.name, got)
		}
		if row := br.text(chromedp.ID("user-" + u.name)); !strings.Contains(row, u.role) {
			t.Errorf("row of %s: %q, want role %s", u.name, row, u.role)
		}
	}

	// The admin makes an enrollment code for the user.
	ursula, err := b.st.UserByName(context.Background(), "ursula")
	if err != nil {
		t.Fatal(err)
	}
	br.submit("open Hosts", "nav-all-hosts")
	br.do("choose the owner", chromedp.SetValue(chromedp.ID("enroll-owner"), ursula.ID))
	br.submit("make an enrollment code", "enroll-submit")
	code := br.text("enroll-code")
	if len(code) != 19 {
		t.Fatalf("enrollment code %q", code)
	}

	// The user signs in: no hosts yet.
	br.submit("sign out", "logout")
	br.signIn("ursula", "ursula-password")
	if !strings.Contains(br.text("hosts"), "No hosts yet") {
		t.Errorf("a new user's host list: %q", br.text("hosts"))
	}

	// The host enrolls with the code and its device key, and connects.
	host := testHost{name: "ursulas-pc"}
	_, host.key, _ = ed25519.GenerateKey(rand.Reader)
	enrolled, err := b.client("").Enroll(context.Background(), code, host.key, api.HostInfo{Name: host.name, OS: "linux/amd64", Version: "0.1"})
	if err != nil {
		t.Fatalf("Enroll with the code from the console: %v", err)
	}
	host.id = enrolled.HostID
	runHost(t, b.client(""), host)

	// The page shows it come online by itself.
	pctx, cancel := context.WithTimeout(br.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](fmt.Sprintf(`(document.getElementById("presence-%s") || {}).textContent === "online"`, host.id),
		chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("the host never showed online on the user's page: %v (table: %q)", err, br.text("hosts"))
	}
	row := br.text(chromedp.ID("host-" + host.id))
	if !strings.Contains(row, "ursulas-pc") || !strings.Contains(row, "linux/amd64") {
		t.Errorf("host row %q", row)
	}
	href, err := chromedp.Run(br.ctx, chromedp.AttributeValue(chromedp.ID("connect-"+host.id), "href"))
	if err != nil || !href.Exists || href.Value != "/view?host="+host.id {
		t.Errorf("Connect links to %+v, %v; want /view?host=%s", href, err, host.id)
	}

	// The technician's code field opens the viewer with the code in the
	// fragment (which the viewer page may take out of the address); the
	// broker never sees the secret digits. What the viewer then does is
	// its own test's business: only the console's pages are checked for
	// errors.
	br.submit("sign out", "logout")
	br.signIn("tess", "tess-password")
	br.submit("open Support", "nav-support")
	br.do("type the code", chromedp.SendKeys(chromedp.ID("code"), "123-456-789"))
	br.mu.Lock()
	consoleProblems := slices.Clone(br.problems)
	br.mu.Unlock()
	br.submit("connect", "join")
	if loc := br.location(); loc != b.url+"/view#code=123456789" && loc != b.url+"/view" {
		t.Errorf("the code field led to %s, want /view#code=123456789", loc)
	}
	for _, uri := range b.requests() {
		if strings.Contains(uri, "456789") || strings.Contains(uri, "456-789") {
			t.Errorf("the broker saw the secret digits in %s", uri)
		}
	}

	// The technician turns on a second factor, then signs in with it.
	br.do("open the account page", chromedp.Navigate(b.url+"/account"))
	br.mu.Lock()
	br.problems = nil // the viewer page's own
	br.mu.Unlock()
	br.submit("start the authenticator set-up", "totp-start")
	secret := br.text("totp-secret")
	now := time.Now()
	code, err = totp.GenerateCodeCustom(secret, now, totpOpts)
	if err != nil {
		t.Fatalf("the page shows the secret %q: %v", secret, err)
	}
	br.do("type the code", chromedp.SendKeys(chromedp.ID("code"), code))
	br.submit("turn the second factor on", "totp-confirm-submit")
	if codes := br.text("recovery-codes"); len(strings.Fields(codes)) != recoveryCount {
		t.Errorf("recovery codes shown: %q", codes)
	}
	br.submit("sign out", "logout")
	br.do("sign in with the password",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), "tess"),
		chromedp.SendKeys(chromedp.ID("password"), "tess-password"),
	)
	br.submit("submit the password", "signin")
	if loc := br.location(); loc != b.url+"/login/totp" {
		t.Fatalf("after the password the browser is at %s, want /login/totp", loc)
	}
	next, _ := totp.GenerateCodeCustom(secret, now.Add(totpPeriod*time.Second), totpOpts)
	br.do("type the next code", chromedp.SendKeys(chromedp.ID("code"), next))
	br.submit("verify", "verify")
	if loc := br.location(); loc != b.url+"/hosts" {
		t.Errorf("after the second factor the browser is at %s, want /hosts", loc)
	}
	br.mu.Lock()
	consoleProblems = append(consoleProblems, br.problems...)
	br.mu.Unlock()

	for _, p := range consoleProblems {
		t.Errorf("browser: %s", p)
	}
}
