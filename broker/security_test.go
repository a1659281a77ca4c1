package broker

import (
	"context"
	"errors"
	"github.com/deskway/deskway/internal/testbed"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/time/rate"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

func sqliteStore(t testing.TB) Store {
	return openTestStore(t, "sqlite:"+filepath.Join(t.TempDir(), "deskway.db"))
}

// noRedirect is an HTTP client of the test broker that shows redirects
// instead of following them.
func (b *testBroker) noRedirect() *http.Client {
	c := *b.ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// formLogin signs in through the console's form and returns the response.
func (b *testBroker) formLogin(t testing.TB, name, password string) *http.Response {
	t.Helper()
	resp, err := b.noRedirect().PostForm(b.url+"/login", url.Values{"name": {name}, "password": {password}})
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	resp.Body.Close()
	return resp
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == secureCookieName && c.Value != "" {
			return c
		}
	}
	return nil
}

func TestSessionCookieAttributes(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	b.addUser("alice", api.RoleUser, "alice-password")
	b.addUser("root", api.RoleAdmin, "root-password")
	for _, tc := range []struct {
		name, password string
		same           http.SameSite
	}{
		{"alice", "alice-password", http.SameSiteLaxMode},
		{"root", "root-password", http.SameSiteStrictMode},
	} {
		resp := b.formLogin(t, tc.name, tc.password)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/hosts" {
			t.Fatalf("login %s: %s to %q, want 303 to /hosts", tc.name, resp.Status, resp.Header.Get("Location"))
		}
		c := sessionCookie(resp)
		if c == nil {
			t.Fatalf("login %s: no %s cookie in %q", tc.name, secureCookieName, resp.Header.Values("Set-Cookie"))
		}
		if !c.Secure || !c.HttpOnly || c.SameSite != tc.same || c.Path != "/" || c.Domain != "" || len(c.Value) < 26 {
			t.Errorf("login %s: cookie %q, want Secure HttpOnly SameSite=%v Path=/ without Domain and a long value",
				tc.name, resp.Header.Get("Set-Cookie"), tc.same)
		}
		// The store keeps only the token's hash.
		if _, err := b.st.AuthSession(context.Background(), []byte(c.Value)); !errors.Is(err, ErrNotFound) {
			t.Errorf("the raw token finds a session: %v", err)
		}
		if _, err := b.st.AuthSession(context.Background(), tokenHash(c.Value)); err != nil {
			t.Errorf("the token's hash finds no session: %v", err)
		}
	}
	// A failed login sets no cookie and says nothing about the name.
	for _, name := range []string{"alice", "nobody"} {
		resp := b.formLogin(t, name, "wrong-password")
		if resp.StatusCode != http.StatusUnauthorized || sessionCookie(resp) != nil {
			t.Errorf("wrong password for %s: %s, cookie %v; want 401 and none", name, resp.Status, sessionCookie(resp))
		}
	}
}

// do sends a request with the given headers through the test broker's
// client (no redirects).
func (b *testBroker) do(t testing.TB, method, path string, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.noRedirect().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestCrossSitePostRefused(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	b.addUser("root", api.RoleAdmin, "root-password")
	cookie := sessionCookie(b.formLogin(t, "root", "root-password")).String()
	form := "application/x-www-form-urlencoded"
	addUser := "name=mallory&role=admin&password=mallory-password"
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   string
		hdr    map[string]string
		want   int
	}{
		{"cross-site form post", "POST", "/admin/users", addUser, map[string]string{"Cookie": cookie, "Content-Type": form, "Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site form post", "POST", "/admin/users", addUser, map[string]string{"Cookie": cookie, "Content-Type": form, "Sec-Fetch-Site": "same-site"}, 403},
		{"foreign Origin without Sec-Fetch-Site", "POST", "/admin/users", addUser, map[string]string{"Cookie": cookie, "Content-Type": form, "Origin": "https://evil.example"}, 403},
		{"cross-site API login", "POST", "/api/v1/login", `{"name":"root","password":"root-password"}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site logout", "POST", "/logout", "", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-site GET is harmless and allowed", "GET", "/hosts", "", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 200},
		{"same-origin form post", "POST", "/admin/users", "name=bob&role=user&password=bob-password", map[string]string{"Cookie": cookie, "Content-Type": form, "Sec-Fetch-Site": "same-origin"}, 303},
		{"API client without browser headers", "POST", "/api/v1/login", `{"name":"root","password":"root-password"}`, nil, 200},
	} {
		if resp := b.do(t, tc.method, tc.path, tc.body, tc.hdr); resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s = %s, want %d", tc.name, tc.method, tc.path, resp.Status, tc.want)
		}
	}
	if _, err := b.st.UserByName(context.Background(), "mallory"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a cross-site post created a user: %v", err)
	}
	if _, err := b.st.UserByName(context.Background(), "bob"); err != nil {
		t.Errorf("the same-origin post did not create its user: %v", err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) {
		c.Relays = []RelayConfig{{ID: "eu", URL: "https://relay-eu.example.com:8443"}}
	})
	b.addUser("root", api.RoleAdmin, "root-password")
	cookie := sessionCookie(b.formLogin(t, "root", "root-password")).String()
	wantCSP := "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' https://relay-eu.example.com:8443 wss://relay-eu.example.com:8443; " +
		"img-src 'self'; style-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
	scriptTag := regexp.MustCompile(`<script[^>]*>`)
	inline := regexp.MustCompile(`<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range []string{"/", "/hosts", "/support", "/account", "/admin/users", "/admin/hosts", "/admin/relays", "/admin/sessions", "/admin/audit", "/api/v1/me", "/view"} {
		req, _ := http.NewRequest("GET", b.url+path, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := b.noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		h := resp.Header
		if got := h.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("GET %s: CSP\n%q, want\n%q", path, got, wantCSP)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
			"Strict-Transport-Security": "max-age=63072000; includeSubDomains"} {
			if h.Get(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, h.Get(k), v)
			}
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			if m := inline.Find(body); m != nil {
				t.Errorf("GET %s: inline style or handler %q (the CSP would block it)", path, m)
			}
			for _, loc := range scriptTag.FindAllIndex(body, -1) {
				tag := string(body[loc[0]:loc[1]])
				if !strings.Contains(tag, " src=") || !strings.HasPrefix(string(body[loc[1]:]), "</script>") {
					t.Errorf("GET %s: inline script at %q", path, tag)
				}
			}
		}
	}
}

// enableTOTP turns on TOTP for a user as the console does, and returns
// the secret.
func (b *testBroker) enableTOTP(t testing.TB, name string) string {
	t.Helper()
	ctx := context.Background()
	u, err := b.st.UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	key, err := newTOTPKey("test", name)
	if err != nil {
		t.Fatal(err)
	}
	u.TOTPSecret = b.srv.seal.seal("totp:"+u.ID, []byte(key.Secret()))
	if err := b.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return key.Secret()
}

func TestTOTPReplayRefused(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	b.addUser("alice", api.RoleUser, "alice-password")
	secret := b.enableTOTP(t, "alice")
	ctx := context.Background()
	c := b.client("")
	login := func(code string) error {
		_, err := c.Login(ctx, api.LoginRequest{Name: "alice", Password: "alice-password", TOTP: code})
		return err
	}
	if err := login(""); !api.IsCode(err, api.CodeTOTPRequired) {
		t.Fatalf("login without a code = %v, want %s", err, api.CodeTOTPRequired)
	}
	now := time.Now()
	code, _ := totp.GenerateCodeCustom(secret, now, totpOpts)
	if err := login(code); err != nil {
		t.Fatalf("login with a fresh code = %v", err)
	}
	if err := login(code); !api.IsCode(err, api.CodeUnauthorized) {
		t.Errorf("login replaying the accepted code = %v, want %s", err, api.CodeUnauthorized)
	}
	prev, _ := totp.GenerateCodeCustom(secret, now.Add(-totpPeriod*time.Second), totpOpts)
	if err := login(prev); !api.IsCode(err, api.CodeUnauthorized) {
		t.Errorf("login with the previous step's code after a later one = %v, want %s", err, api.CodeUnauthorized)
	}
	next, _ := totp.GenerateCodeCustom(secret, now.Add(totpPeriod*time.Second), totpOpts)
	if err := login(next); err != nil {
		t.Errorf("login with the next step's code = %v, want success", err)
	}

	// The console's two-step form refuses the replay too.
	resp := b.formLogin(t, "alice", "alice-password")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/totp" || sessionCookie(resp) != nil {
		t.Fatalf("form login with TOTP: %s to %q, session cookie %v; want 303 to /login/totp and no session yet", resp.Status, resp.Header.Get("Location"), sessionCookie(resp))
	}
	var pending string
	for _, ck := range resp.Cookies() {
		if ck.Name == b.srv.pendingCookieName() {
			pending = ck.String()
		}
	}
	post := func(code string) *http.Response {
		return b.do(t, "POST", "/login/totp", "code="+code, map[string]string{"Cookie": pending, "Content-Type": "application/x-www-form-urlencoded"})
	}
	if resp := post(next); resp.StatusCode != http.StatusUnauthorized || sessionCookie(resp) != nil {
		t.Errorf("console replay of an accepted code: %s, cookie %v; want 401", resp.Status, sessionCookie(resp))
	}
}

func TestRecoveryCodeUsedOnce(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	u := b.addUser("alice", api.RoleUser, "alice-password")
	b.enableTOTP(t, "alice")
	codes, hashes := newRecoveryCodes()
	b.st.SetRecoveryCodes(context.Background(), u.ID, hashes)
	c := b.client("")
	for i, want := range []error{nil, errBadCode} {
		_, err := c.Login(context.Background(), api.LoginRequest{Name: "alice", Password: "alice-password", RecoveryCode: strings.ToUpper(codes[3])})
		if (err == nil) != (want == nil) {
			t.Errorf("login %d with recovery code = %v, want %v", i+1, err, want)
		}
	}
}

// TestLoginTimingUnknownUser compares the time of failed logins for a
// user that exists and for one that does not, through HTTP as an
// attacker sees it, with the production Argon2id parameters. Medians of
// interleaved samples must be within ±10 %; on a busy machine a round may
// be repeated.
func TestLoginTimingUnknownUser(t *testing.T) {
	testbed.Long(t, "slow: production Argon2id parameters")
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) {
		c.PasswordParams = DefaultPasswordParams
		c.LoginLimits = LoginLimits{PerIP: rate.Inf, FreeFailures: 1 << 30, SoftLockFailures: 1 << 30}
	})
	b.addUser("alice", api.RoleUser, "alice-password")
	c := b.client("")
	measure := func(name string) time.Duration {
		t0 := time.Now()
		_, err := c.Login(context.Background(), api.LoginRequest{Name: name, Password: "wrong-password"})
		d := time.Since(t0)
		if !api.IsCode(err, api.CodeUnauthorized) {
			t.Fatalf("login %s with a wrong password = %v, want %s", name, err, api.CodeUnauthorized)
		}
		return d
	}
	measure("alice") // warm up
	// Each pair is measured back to back, in alternating order, so that
	// the machine's changing load hits both alike; the median of the
	// pairs' ratios is the figure.
	const n = 15
	var ratio float64
	for round := range 3 {
		ratios := make([]float64, n)
		var known, unknown time.Duration
		for i := range n {
			var k, u time.Duration
			if i%2 == 0 {
				k = measure("alice")
				u = measure("nobody-" + string(rune('a'+i)))
			} else {
				u = measure("nobody-" + string(rune('a'+i)))
				k = measure("alice")
			}
			ratios[i] = float64(u) / float64(k)
			known += k
			unknown += u
		}
		slices.Sort(ratios)
		ratio = ratios[n/2]
		t.Logf("round %d: mean failed login %v for a known user, %v for an unknown one; median pair ratio %.3f",
			round, known/n, unknown/n, ratio)
		if ratio >= 0.9 && ratio <= 1.1 {
			return
		}
	}
	t.Errorf("unknown/known login time ratio %.3f, want within ±10%%", ratio)
}

func TestLoginRateLimits(t *testing.T) {
	t.Run("per network", func(t *testing.T) {
		// A slow refill (one a minute), so that a slow machine does not
		// earn a token back during the test.
		b := startBroker(t, sqliteStore(t), nil, func(c *Config) {
			c.LoginLimits = LoginLimits{PerIP: rate.Every(time.Minute), Burst: 20, FreeFailures: 1 << 30, SoftLockFailures: 1 << 30}
		})
		c := b.client("")
		limited := 0
		var retry time.Duration
		for i := range 25 {
			_, err := c.Login(context.Background(), api.LoginRequest{Name: "user" + string(rune('a'+i)), Password: "wrong-password"})
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code == api.CodeRateLimited {
				limited++
				retry = ae.RetryAfter
			}
		}
		if limited != 5 || retry <= 0 {
			t.Errorf("25 quick logins from one address: %d rate limited (Retry-After %v), want the 5 past the burst of 20 with a Retry-After", limited, retry)
		}
	})
	t.Run("per account", func(t *testing.T) {
		// A first delay of 3 s leaves a slow machine time for the attempts
		// that must fall within it.
		b := startBroker(t, sqliteStore(t), nil, func(c *Config) { c.LoginLimits = LoginLimits{PerIP: rate.Inf, FirstDelay: 3 * time.Second} })
		b.addUser("alice", api.RoleUser, "alice-password")
		c := b.client("")
		var codes []string
		for range 7 {
			_, err := c.Login(context.Background(), api.LoginRequest{Name: "alice", Password: "wrong-password"})
			var ae *api.Error
			errors.As(err, &ae)
			codes = append(codes, ae.Code)
		}
		want := []string{"unauthorized", "unauthorized", "unauthorized", "unauthorized", "unauthorized", "rate_limited", "rate_limited"}
		if !slices.Equal(codes, want) {
			t.Errorf("7 wrong passwords for one account: %v, want %v", codes, want)
		}
		// The right password waits too, while the delay lasts.
		if _, err := c.Login(context.Background(), api.LoginRequest{Name: "alice", Password: "alice-password"}); !api.IsCode(err, api.CodeRateLimited) {
			t.Errorf("right password during the delay = %v, want rate_limited", err)
		}
		time.Sleep(3100 * time.Millisecond)
		if _, err := c.Login(context.Background(), api.LoginRequest{Name: "alice", Password: "alice-password"}); err != nil {
			t.Errorf("right password after the delay = %v, want success (no permanent lock)", err)
		}
	})
}

func TestTicketsOffline(t *testing.T) {
	relay := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer relay.Close()
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) {
		c.Relays = []RelayConfig{{ID: "eu", URL: relay.URL}}
		c.HTTPClient = relay.Client()
	})
	b.addUser("alice", api.RoleUser, "alice-password")
	alice := b.login("alice", "alice-password")
	host := b.enrollHost(alice, "pc")
	runHost(t, b.client(""), host)
	waitFor(t, "the host to come online", hostOnline(alice, host.id))
	p, err := alice.Connect(context.Background(), host.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tickets) != 2 || p.Tickets[0].RelayID != LocalRelayID || p.Tickets[1].RelayID != "eu" {
		t.Fatalf("tickets %+v, want local then eu", p.Tickets)
	}
	keys := fetchKeys(t, b.client(""))
	tk := p.Tickets[1].Ticket
	now := time.Now()
	for _, tc := range []struct {
		name  string
		relay string
		now   time.Time
		want  error
	}{
		{"valid at relay eu", "eu", now, nil},
		{"valid at the embedded relay", LocalRelayID, now, nil},
		{"another relay", "us", now, proto.ErrTicketAudience},
		{"expired", "eu", now.Add(proto.MaxTicketLifetime + proto.TicketClockSkew + time.Second), proto.ErrTicketExpired},
		{"before issue", "eu", now.Add(-proto.TicketClockSkew - 2*time.Second), proto.ErrTicketNotYetValid},
	} {
		if _, err := proto.VerifyTicket(tk, keys, tc.relay, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: VerifyTicket = %v, want %v", tc.name, err, tc.want)
		}
	}
	bad := slices.Clone(tk)
	bad[10] ^= 1
	if _, err := proto.VerifyTicket(bad, keys, "eu", now); err == nil {
		t.Errorf("a ticket with a flipped bit verifies")
	}
	if _, err := proto.VerifyTicket(tk, proto.TicketKeys{"other": keys[firstKey(keys)]}, "eu", now); !errors.Is(err, proto.ErrTicketUnknownKey) {
		t.Errorf("VerifyTicket with other key ids = %v, want ErrTicketUnknownKey", err)
	}
}

func firstKey(k proto.TicketKeys) string {
	for kid := range k {
		return kid
	}
	return ""
}
