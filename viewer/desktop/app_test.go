package desktop

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/viewer"
)

// testBroker is the broker's sign-in and host-list API as the viewer
// sees it, over a real TLS socket: user alice, password "correct horse",
// TOTP code 123456. (The end-to-end test runs the real broker.)
type testBroker struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	hosts  []api.Host
	tokens map[string]bool
	logins []api.LoginRequest
	joins  []string
	seen   []string // every request body, to look for secrets
}

const (
	testPassword = "correct horse"
	testTOTP     = "123456"
)

func newTestBroker(t *testing.T) *testBroker {
	b := &testBroker{t: t, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", b.login)
	mux.HandleFunc("GET /api/v1/me", b.authed(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(api.User{ID: "u-1", Name: "alice", Role: api.RoleTechnician})
	}))
	mux.HandleFunc("GET /api/v1/hosts", b.authed(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		json.NewEncoder(w).Encode(b.hosts)
	}))
	mux.HandleFunc("POST /api/v1/logout", b.authed(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		delete(b.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /api/v1/hosts/{id}/connect", b.authed(func(w http.ResponseWriter, r *http.Request) {
		apiError(w, api.CodeHostOffline, "host "+r.PathValue("id")+" is offline")
	}))
	mux.HandleFunc("POST /api/v1/support/join", b.authed(func(w http.ResponseWriter, r *http.Request) {
		var req api.JoinRequest
		json.NewDecoder(r.Body).Decode(&req)
		b.mu.Lock()
		b.joins = append(b.joins, req.Nameplate)
		b.mu.Unlock()
		apiError(w, api.CodeNotFound, "no session waits under this code")
	}))
	b.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.seen = append(b.seen, r.URL.String()+" "+string(body))
		b.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func apiError(w http.ResponseWriter, code, msg string) {
	var eb api.ErrorBody
	eb.Error.Code, eb.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(api.StatusFor(code))
	json.NewEncoder(w).Encode(eb)
}

func (b *testBroker) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		ok := b.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		b.mu.Unlock()
		if !ok {
			apiError(w, api.CodeUnauthorized, "not signed in")
			return
		}
		h(w, r)
	}
}

func (b *testBroker) login(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, api.CodeBadRequest, err.Error())
		return
	}
	b.mu.Lock()
	b.logins = append(b.logins, req)
	b.mu.Unlock()
	switch {
	case req.Name != "alice" || req.Password != testPassword:
		apiError(w, api.CodeUnauthorized, "wrong user name or password")
	case req.TOTP == "":
		apiError(w, api.CodeTOTPRequired, "second factor needed")
	case req.TOTP != testTOTP:
		apiError(w, api.CodeUnauthorized, "wrong code")
	default:
		b.mu.Lock()
		b.tokens["tok-1"] = true
		b.mu.Unlock()
		json.NewEncoder(w).Encode(api.LoginResponse{Token: "tok-1", Expires: time.Now().Add(12 * time.Hour),
			User: api.User{ID: "u-1", Name: "alice", Role: api.RoleTechnician}})
	}
}

func (b *testBroker) setHosts(hs ...api.Host) {
	b.mu.Lock()
	b.hosts = hs
	b.mu.Unlock()
}

// testApp starts an App on the test driver against b. polls receives a
// value after each host-list poll was shown.
func testApp(t *testing.T, b *testBroker, prof *Profile, opt Options) (*App, *uiQueue, *int) {
	t.Helper()
	q := useUIQueue(t)
	fa := test.NewApp()
	t.Cleanup(fa.Quit)
	opt.Profile = prof
	opt.Broker = b.srv.URL
	opt.HTTPClient = b.srv.Client()
	opt.PollInterval = time.Hour // polls come when the test pokes
	a, err := New(fa, opt)
	if err != nil {
		t.Fatal(err)
	}
	polls := new(int)
	a.hosts.polledForTest = func() { *polls++ } // on the test's goroutine
	t.Cleanup(func() {
		a.hosts.stop()
		a.bg.Wait()
		for w := range a.sessions {
			w.Close()
			w.wait()
		}
		q.drain()
	})
	a.main.Resize(fyne.NewSize(640, 520))
	a.Start()
	a.bg.Wait()
	q.drain()
	return a, q, polls
}

// waitPoll pumps the UI until the host list was polled n times in all.
func waitPoll(q *uiQueue, polls *int, n int) {
	q.t.Helper()
	q.until("a host list poll", func() bool { return *polls >= n })
}

// hostRows returns the rows the list shows: name, detail, Connect enabled.
func hostRows(a *App) []string {
	var rows []string
	for _, o := range test.LaidOutObjects(a.hosts.list) {
		if r, ok := o.(*hostRow); ok && r.Visible() && r.name.Text != "" {
			rows = append(rows, r.name.Text+" | "+r.detail.Text+" | connect "+map[bool]string{true: "on", false: "off"}[!r.connect.Disabled()])
		}
	}
	return rows
}

func TestSignInFlow(t *testing.T) {
	b := newTestBroker(t)
	b.setHosts(
		api.Host{ID: "h-2", Name: "lab-box", OS: "linux/amd64", OwnerName: "bob", LastSeen: time.Now().Add(-5 * time.Minute)},
		api.Host{ID: "h-1", Name: "office-pc", OS: "windows/amd64", OwnerName: "alice", Online: true},
	)
	prof := &Profile{Dir: t.TempDir()}
	a, q, polls := testApp(t, b, prof, Options{})
	v := a.signin
	if a.main.Content() != v.content {
		t.Fatal("without a saved sign-in the main window does not show the sign-in form")
	}
	if v.broker.Text != b.srv.URL {
		t.Errorf("broker field %q, want %q", v.broker.Text, b.srv.URL)
	}
	submit := func(wantMsg string) {
		t.Helper()
		test.Tap(v.submit)
		a.bg.Wait()
		q.drain()
		if !strings.HasPrefix(v.message.Text, wantMsg) {
			t.Errorf("message %q, want %q…", v.message.Text, wantMsg)
		}
	}
	submit("Enter your user name and password.")

	test.Type(v.user, "alice")
	test.Type(v.password, "wrong")
	submit("Wrong user name or password.")
	if v.password.Text != "" {
		t.Errorf("the wrong password stays in its field")
	}

	test.Type(v.password, testPassword)
	submit("Enter the 6-digit code")
	if !v.needTOTP || len(v.form.Items) != 4 || !v.password.Disabled() {
		t.Fatalf("after the password: TOTP step %v, %d form items, password disabled %v", v.needTOTP, len(v.form.Items), v.password.Disabled())
	}
	if a.main.Canvas().Focused() != v.totp {
		t.Errorf("the TOTP field does not have the focus")
	}
	test.Type(v.totp, "12")
	submit("The code has 6 digits")
	v.totp.SetText("")
	test.Type(v.totp, "000000")
	submit("That code was not accepted")
	test.Type(v.totp, "123 456")
	test.Tap(v.submit)
	waitPoll(q, polls, 1)

	if a.main.Content() != a.hosts.content {
		t.Fatalf("after sign-in the main window shows %T, message %q", a.main.Content(), v.message.Text)
	}
	if v.password.Text != "" || v.totp.Text != "" {
		t.Errorf("password or code left in the form after sign-in")
	}
	if got := a.hosts.who.Text; !strings.Contains(got, "alice") || !strings.Contains(got, b.srv.URL) {
		t.Errorf("signed-in line %q", got)
	}
	// Remembered: broker and user in settings, the token in its own
	// file; the password nowhere.
	s, _ := prof.Settings()
	if s.Broker != b.srv.URL || s.User != "alice" {
		t.Errorf("settings after sign-in %+v", s)
	}
	if tok, _ := prof.Token(); tok.Token != "tok-1" || tok.User != "alice" || tok.Broker != b.srv.URL {
		t.Errorf("saved token %+v", tok)
	}
	filepath.WalkDir(prof.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), testPassword) {
				t.Errorf("the password is stored in %s", p)
			}
		}
		return nil
	})
	b.mu.Lock()
	logins := slices.Clone(b.logins)
	b.mu.Unlock()
	if n := len(logins); n != 4 || logins[3].TOTP != testTOTP {
		t.Errorf("%d logins, last %+v; want 4, the last with the code", n, logins[n-1])
	}

	// The host list, online first, with presence updates.
	want := []string{"office-pc | online · windows/amd64 · owner alice | connect on", "lab-box | offline, last seen 5 min ago · linux/amd64 · owner bob | connect off"}
	if got := hostRows(a); !slices.Equal(got, want) {
		t.Errorf("host list\n got %q\nwant %q", got, want)
	}
	b.setHosts(
		api.Host{ID: "h-2", Name: "lab-box", OS: "linux/amd64", OwnerName: "bob", Online: true},
		api.Host{ID: "h-1", Name: "office-pc", OS: "windows/amd64", OwnerName: "alice", LastSeen: time.Now()},
	)
	a.hosts.pollNow()
	waitPoll(q, polls, 2)
	want = []string{"lab-box | online · linux/amd64 · owner bob | connect on", "office-pc | offline, last seen just now · windows/amd64 · owner alice | connect off"}
	if got := hostRows(a); !slices.Equal(got, want) {
		t.Errorf("host list after presence changed\n got %q\nwant %q", got, want)
	}

	// The broker ends the sign-in: back to the form, token forgotten.
	b.mu.Lock()
	clear(b.tokens)
	b.mu.Unlock()
	a.hosts.pollNow()
	waitPoll(q, polls, 3)
	if a.main.Content() != v.content || !strings.Contains(v.message.Text, "expired") {
		t.Errorf("after the token was revoked: content %T, message %q", a.main.Content(), v.message.Text)
	}
	if tok, _ := prof.Token(); tok.Token != "" {
		t.Errorf("revoked token still saved")
	}
}

func TestSavedSignInAndJoin(t *testing.T) {
	b := newTestBroker(t)
	b.tokens["tok-1"] = true
	prof := &Profile{Dir: t.TempDir()}
	prof.SaveToken(Token{Broker: b.srv.URL, User: "alice", Token: "tok-1", Expires: time.Now().Add(time.Hour)})
	a, q, polls := testApp(t, b, prof, Options{Code: "123-456-789"})
	waitPoll(q, polls, 1)
	if a.main.Content() != a.hosts.content {
		t.Fatalf("with a saved token the main window shows %T, message %q", a.main.Content(), a.signin.message.Text)
	}
	if len(a.sessions) != 1 {
		t.Fatalf("--code opened %d session windows, want 1", len(a.sessions))
	}
	for w := range a.sessions {
		w.wait()
		q.drain()
		if w.win.Title() != "Support session 123 — Deskway" {
			t.Errorf("session window title %q (the secret digits must not show)", w.win.Title())
		}
		if w.state != viewer.StateClosed || !strings.HasPrefix(w.message.Text, "Wrong code.") {
			t.Errorf("session state %v, message %q; want closed, wrong code", w.state, w.message.Text)
		}
	}
	b.mu.Lock()
	joins := slices.Clone(b.joins)
	b.mu.Unlock()
	if !slices.Equal(joins, []string{"123"}) {
		t.Errorf("the broker was sent %q, want only the nameplate [123]", joins)
	}

	// Another session beside the first: a window of its own.
	test.Type(a.hosts.code, "456 789 012")
	test.Tap(a.hosts.join)
	if len(a.sessions) != 2 {
		t.Fatalf("a second code gave %d session windows, want 2", len(a.sessions))
	}
	for w := range a.sessions {
		w.wait()
	}
	q.drain()

	// A malformed code opens nothing and says why.
	test.Type(a.hosts.code, "12-34")
	test.Tap(a.hosts.join)
	if len(a.sessions) != 2 {
		t.Errorf("a malformed code opened a session window")
	}
	if top := a.main.Canvas().Overlays().Top(); top == nil || !hasLabel(top, "not a support code") {
		t.Errorf("no explanation for a malformed code")
	}

	// Sign out: token forgotten here and at the broker.
	a.signOut()
	a.bg.Wait()
	q.drain()
	if tok, _ := prof.Token(); tok.Token != "" {
		t.Errorf("token kept after signing out")
	}
	b.mu.Lock()
	live := len(b.tokens)
	b.mu.Unlock()
	if live != 0 {
		t.Errorf("the broker still knows the token after sign-out")
	}
	if a.main.Content() != a.signin.content || a.signin.user.Text != "alice" {
		t.Errorf("after sign-out: content %T, user field %q (remembered)", a.main.Content(), a.signin.user.Text)
	}
}

func hasLabel(o fyne.CanvasObject, sub string) bool {
	for _, c := range test.LaidOutObjects(o) {
		if l, ok := c.(*widget.Label); ok && strings.Contains(l.Text, sub) {
			return true
		}
	}
	return false
}

func TestSettingsDialog(t *testing.T) {
	s := Settings{Broker: "https://b.example", Quality: QualityBalanced, MaxFPS: 10, Scale: ScaleOne}
	f := newSettingsForm(s)
	if f.quality.Selected != "Balanced (photos lossy, text exact)" || f.fps.Selected != "10 per second" || f.scale.Selected != "1:1 (scroll when larger)" {
		t.Errorf("form shows %q, %q, %q", f.quality.Selected, f.fps.Selected, f.scale.Selected)
	}
	f.quality.SetSelectedIndex(3)
	f.fps.SetSelectedIndex(0)
	f.scale.SetSelectedIndex(0)
	f.broker.SetText("deskway.example.org")
	got, err := f.settings(s)
	want := Settings{Broker: "https://deskway.example.org", Quality: QualityLowBandwidth, Scale: ScaleFit}
	if err != nil || got != want {
		t.Errorf("settings = %+v, %v; want %+v", got, err, want)
	}
	f.broker.SetText("ftp://nope")
	if _, err := f.settings(s); err == nil {
		t.Errorf("a bad broker URL was accepted")
	}
	// A rate from the command line that the list lacks is kept.
	if f := newSettingsForm(Settings{MaxFPS: 12}); f.fps.Selected != "12 per second" {
		t.Errorf("max fps 12 shows as %q", f.fps.Selected)
	}
}

// TestConnectAsksForPassword: Connect asks for the host access password,
// which goes to the handshake only: never to the broker, never kept.
func TestConnectAsksForPassword(t *testing.T) {
	b := newTestBroker(t)
	b.tokens["tok-1"] = true
	host := api.Host{ID: "h-1", Name: "office-pc", Online: true}
	b.setHosts(host)
	prof := &Profile{Dir: t.TempDir()}
	prof.SaveToken(Token{Broker: b.srv.URL, User: "alice", Token: "tok-1", Expires: time.Now().Add(time.Hour)})
	a, q, polls := testApp(t, b, prof, Options{})
	waitPoll(q, polls, 1)

	a.connectHost(host)
	top := a.main.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("Connect shows no password dialog")
	}
	var pw *widget.Entry
	var connect *widget.Button
	for _, o := range test.LaidOutObjects(top) {
		switch o := o.(type) {
		case *widget.Entry:
			if o.Password {
				pw = o
			}
		case *widget.Button:
			if o.Text == "Connect" {
				connect = o
			}
		}
	}
	if pw == nil || connect == nil {
		t.Fatalf("the dialog lacks a password field (%v) or a Connect button (%v)", pw != nil, connect != nil)
	}
	const secret = "host secret 1"
	test.Type(pw, secret)
	test.Tap(connect)
	if pw.Text != "" {
		t.Errorf("the password stays in the dialog's field")
	}
	if len(a.sessions) != 1 {
		t.Fatalf("%d session windows, want 1", len(a.sessions))
	}
	for w := range a.sessions {
		w.wait()
		q.drain()
		if w.win.Title() != "office-pc — Deskway" || !strings.HasPrefix(w.message.Text, "The host is offline") {
			t.Errorf("window %q says %q; want the host's name and that it is offline", w.win.Title(), w.message.Text)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	asked := false
	for _, s := range b.seen {
		if strings.Contains(s, secret) {
			t.Errorf("the host access password went to the broker: %s", s)
		}
		asked = asked || strings.HasPrefix(s, "/api/v1/hosts/h-1/connect")
	}
	if !asked {
		t.Errorf("the broker was not asked for the host: %q", b.seen)
	}
}
