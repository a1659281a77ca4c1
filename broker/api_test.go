package broker

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

func TestSupportFlow(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := startBroker(t, openTestStore(t, kind.dsn(t)), nil, nil)
			ctx := context.Background()
			b.addUser("tech", api.RoleTechnician, "tech-password")
			b.addUser("alice", api.RoleUser, "alice-password")
			tech := b.login("tech", "tech-password")
			alice := b.login("alice", "alice-password")

			agent := b.client("")
			sr, err := agent.Support(ctx, api.HostInfo{Name: "customer-pc", OS: "windows", Version: "0.1"})
			if err != nil {
				t.Fatalf("Support: %v", err)
			}
			if !validNameplate(sr.Nameplate) || sr.WaitToken == "" || time.Until(sr.Expires) < 9*time.Minute {
				t.Fatalf("Support = %+v", sr)
			}
			got := make(chan *api.Pairing, 1)
			waitErr := make(chan error, 1)
			go func() {
				p, err := agent.WaitSupport(ctx, sr, api.Backoff{Min: 50 * time.Millisecond})
				got <- p
				waitErr <- err
			}()
			// A user without the technician role may not join.
			if _, err := alice.Join(ctx, sr.Nameplate); !api.IsCode(err, api.CodeForbidden) {
				t.Errorf("Join by a user = %v, want forbidden", err)
			}
			time.Sleep(100 * time.Millisecond) // let the agent wait (joining first works too)
			viewer, err := tech.Join(ctx, sr.Nameplate)
			if err != nil {
				t.Fatalf("Join: %v", err)
			}
			var host *api.Pairing
			select {
			case host = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("the support agent got no offer")
			}
			if err := <-waitErr; err != nil {
				t.Fatalf("WaitSupport: %v", err)
			}
			if host.SessionID != sr.SessionID || viewer.SessionID != sr.SessionID || host.HostID != sr.HostID ||
				host.Mode != proto.ModeSupport || host.Role != proto.RoleHost || viewer.Role != proto.RoleViewer || host.Owner != "" {
				t.Errorf("support pairing: viewer %+v, host %+v, request %+v", viewer, host, sr)
			}
			keys := fetchKeys(t, b.client(""))
			for _, p := range []*api.Pairing{viewer, host} {
				tk, err := proto.VerifyTicket(p.Tickets[0].Ticket, keys, LocalRelayID, time.Now())
				if err != nil || tk.Session != sr.SessionID || tk.HostID != sr.HostID || tk.Role != p.Role {
					t.Errorf("%s ticket: %+v, %v", p.Role, tk, err)
				}
			}
			// The nameplate is used up.
			if _, err := tech.Join(ctx, sr.Nameplate); !api.IsCode(err, api.CodeNotFound) {
				t.Errorf("second Join = %v, want not_found", err)
			}
			// The waiter with a wrong token learns nothing.
			bad := *sr
			bad.WaitToken = "wrong"
			if _, err := agent.WaitSupport(ctx, &bad, api.Backoff{}); !errors.Is(err, api.ErrSupportExpired) {
				t.Errorf("WaitSupport with a wrong token = %v, want ErrSupportExpired", err)
			}
		})
	}
}

func TestSupportJoinBeforeWait(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	ctx := context.Background()
	b.addUser("tech", api.RoleTechnician, "tech-password")
	tech := b.login("tech", "tech-password")
	agent := b.client("")
	sr, err := agent.Support(ctx, api.HostInfo{Name: "customer-pc"})
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := tech.Join(ctx, sr.Nameplate)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	host, err := agent.WaitSupport(wctx, sr, api.Backoff{})
	if err != nil || host.SessionID != viewer.SessionID {
		t.Fatalf("WaitSupport after the join = %+v, %v", host, err)
	}
}

func TestNameplatesUniqueAmongPending(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) { c.LoginLimits.PerIP = 1e6; c.LoginLimits.Burst = 1e6 })
	seen := map[string]bool{}
	for range 150 {
		sr, err := b.client("").Support(context.Background(), api.HostInfo{Name: "pc"})
		if err != nil {
			t.Fatalf("Support: %v", err)
		}
		if seen[sr.Nameplate] {
			t.Fatalf("nameplate %s handed out twice while pending", sr.Nameplate)
		}
		seen[sr.Nameplate] = true
	}
	long := 0
	for np := range seen {
		if len(np) > 3 {
			long++
		}
	}
	if long == 0 {
		t.Errorf("150 pending requests all got 3-digit nameplates; want longer ones past 100")
	}
}

func TestTicketRefresh(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	ctx := context.Background()
	b.addUser("alice", api.RoleUser, "alice-password")
	b.addUser("bob", api.RoleUser, "bob-password")
	alice := b.login("alice", "alice-password")
	bob := b.login("bob", "bob-password")
	host := b.enrollHost(alice, "pc")
	offers, _, _ := runHost(t, b.client(""), host)
	waitFor(t, "the host online", hostOnline(alice, host.id))
	viewer, err := alice.Connect(ctx, host.id)
	if err != nil {
		t.Fatal(err)
	}
	offer := recvOffer(t, offers)
	// A relay reported the session over; a fresh ticket reopens it.
	now := time.Now()
	if err := b.srv.ReportRelaySession(ctx, api.RelaySessionReport{SessionID: viewer.SessionID, RelayID: LocalRelayID, Start: now, End: now, EndReason: "drain"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		c       *api.Client
		role    proto.Role
		refresh string
		want    string
	}{
		{"viewer", alice, proto.RoleViewer, "", ""},
		{"host with its refresh token", b.client(""), proto.RoleHost, offer.RefreshToken, ""},
		{"another user as viewer", bob, proto.RoleViewer, "", api.CodeForbidden},
		{"the viewer as host", alice, proto.RoleHost, "", api.CodeForbidden},
		{"host with a wrong token", b.client(""), proto.RoleHost, "wrong", api.CodeForbidden},
	} {
		p, err := tc.c.Tickets(ctx, viewer.SessionID, tc.role, tc.refresh)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Tickets = %v", tc.name, err)
		case tc.want == "" && (p.SessionID != viewer.SessionID || p.Role != tc.role || len(p.Tickets) == 0):
			t.Errorf("%s: Tickets = %+v", tc.name, p)
		case tc.want != "" && !api.IsCode(err, tc.want):
			t.Errorf("%s: Tickets = %v, want %s", tc.name, err, tc.want)
		}
	}
	if ss, _ := alice.Sessions(ctx, true); len(ss) != 1 {
		t.Errorf("after fresh tickets the session is not live again: %+v", ss)
	}
}

func TestRelayReport(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) { c.Relays = []RelayConfig{{ID: "eu", URL: "https://relay.invalid"}} })
	ctx := context.Background()
	b.addUser("root", api.RoleAdmin, "root-password")
	root := b.login("root", "root-password")
	host := b.enrollHost(root, "pc")
	runHost(t, b.client(""), host)
	waitFor(t, "the host online", hostOnline(root, host.id))
	p, err := root.Connect(ctx, host.id)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	rep := api.RelaySessionReport{SessionID: p.SessionID, RelayID: "eu", Start: now, End: now.Add(90 * time.Second),
		BytesFromHost: 123456, BytesToHost: 789, EndReason: "peer_left"}
	for _, tc := range []struct {
		token string
		rep   api.RelaySessionReport
		want  string
	}{
		{"", rep, api.CodeForbidden},
		{"wrong", rep, api.CodeForbidden},
		{"report-token", func() api.RelaySessionReport { r := rep; r.RelayID = "unknown"; return r }(), api.CodeBadRequest},
		{"report-token", func() api.RelaySessionReport { r := rep; r.End = r.Start.Add(-time.Second); return r }(), api.CodeBadRequest},
		{"report-token", func() api.RelaySessionReport { r := rep; r.SessionID = proto.NewSessionID(); return r }(), api.CodeNotFound},
		{"report-token", rep, ""},
	} {
		err := b.client(tc.token).ReportRelaySession(ctx, tc.rep)
		if (tc.want == "" && err != nil) || (tc.want != "" && !api.IsCode(err, tc.want)) {
			t.Errorf("report with token %q (%+v) = %v, want %q", tc.token, tc.rep, err, tc.want)
		}
	}
	ss, err := root.Sessions(ctx, false)
	if err != nil || len(ss) != 1 {
		t.Fatalf("Sessions = %+v, %v", ss, err)
	}
	s := ss[0]
	if s.Live || s.BytesFromHost != 123456 || s.BytesToHost != 789 || s.EndReason != "peer_left" || !s.End.Equal(rep.End) || len(s.Relays) != 1 {
		t.Errorf("session after the report: %+v", s)
	}
}

func TestAuditLogAndExport(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	ctx := context.Background()
	b.addUser("root", api.RoleAdmin, "root-password")
	b.addUser("alice", api.RoleUser, "alice-password")
	root := b.login("root", "root-password")
	b.client("").Login(ctx, api.LoginRequest{Name: "alice", Password: "wrong-password"})
	if _, err := root.CreateUser(ctx, api.CreateUserRequest{Name: "=cmd|' /C calc'!A0", Role: api.RoleUser, Password: "xxxxxxxxxxxx"}); err == nil {
		t.Errorf("a name with a formula was accepted")
	}
	if _, err := root.CreateUser(ctx, api.CreateUserRequest{Name: "carol", Role: api.RoleTechnician, Password: "carol-password"}); err != nil {
		t.Fatal(err)
	}
	host := b.enrollHost(root, "pc")

	for _, tc := range []struct {
		q    api.AuditQuery
		want []string // "action actor ok"
	}{
		{api.AuditQuery{Action: "login"}, []string{"login alice false", "login root true"}},
		{api.AuditQuery{Action: "login", Failed: true}, []string{"login alice false"}},
		{api.AuditQuery{Action: "user."}, []string{"user.create root true", "user.create test true", "user.create test true"}},
		{api.AuditQuery{Action: "host.enroll"}, []string{"host.enroll host:" + host.id + " true"}},
	} {
		es, err := root.Audit(ctx, tc.q)
		var got []string
		for _, e := range es {
			got = append(got, e.Action+" "+e.Actor+" "+map[bool]string{true: "true", false: "false"}[e.OK])
		}
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Audit(%+v) = %q, %v; want %q", tc.q, got, err, tc.want)
		}
	}
	// Non-admins may not read it.
	alice := b.login("alice", "alice-password")
	if _, err := alice.Audit(ctx, api.AuditQuery{}); !api.IsCode(err, api.CodeForbidden) {
		t.Errorf("Audit by a user = %v, want forbidden", err)
	}
	// CSV export through the API and the console.
	cookie := sessionCookie(b.formLogin(t, "root", "root-password")).String()
	for _, path := range []string{"/api/v1/audit?action=user.&format=csv", "/admin/audit/export?action=user.&format=csv"} {
		req, _ := http.NewRequest("GET", b.url+path, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := b.noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(recs) != 4 ||
			strings.Join(recs[0], ",") != "id,time,actor,action,target,ip,ok,detail" || recs[1][3] != "user.create" || recs[1][4] != "carol" {
			t.Errorf("GET %s: %s %q, %v", path, resp.Header.Get("Content-Type"), recs, err)
		}
	}
	req, _ := http.NewRequest("GET", b.url+"/admin/audit/export?actor=root&format=json-download", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := b.noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var es []api.AuditEntry
	err = json.NewDecoder(resp.Body).Decode(&es)
	resp.Body.Close()
	if err != nil || len(es) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("JSON export: %d entries, %v, disposition %q", len(es), err, resp.Header.Get("Content-Disposition"))
	}
	for _, e := range es {
		if e.Actor != "root" {
			t.Errorf("JSON export filtered by actor root has %+v", e)
		}
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{"=1+2": "'=1+2", "+x": "'+x", "-x": "'-x", "@x": "'@x", "plain": "plain", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAdminUserAPI(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	ctx := context.Background()
	b.addUser("root", api.RoleAdmin, "root-password")
	root := b.login("root", "root-password")
	u, err := root.CreateUser(ctx, api.CreateUserRequest{Name: "Bob", Role: api.RoleUser, Password: "bob-password"})
	if err != nil || u.Name != "bob" || u.Role != api.RoleUser {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	for _, req := range []api.CreateUserRequest{
		{Name: "bob", Role: api.RoleUser, Password: "bob-password"},
		{Name: "x y", Role: api.RoleUser, Password: "long-enough-pw"},
		{Name: "carl", Role: "owner", Password: "long-enough-pw"},
		{Name: "carl", Role: api.RoleUser, Password: "short"},
	} {
		if _, err := root.CreateUser(ctx, req); err == nil {
			t.Errorf("CreateUser(%+v) = nil error", req)
		}
	}
	bob := b.login("bob", "bob-password")
	if _, err := bob.Users(ctx); !api.IsCode(err, api.CodeForbidden) {
		t.Errorf("Users by a user = %v, want forbidden", err)
	}
	tech := api.RoleTechnician
	if u, err = root.UpdateUser(ctx, u.ID, api.UpdateUserRequest{Role: &tech}); err != nil || u.Role != tech {
		t.Errorf("UpdateUser(role) = %+v, %v", u, err)
	}
	// Changing the role ended bob's sessions.
	if _, err := bob.Me(ctx); !api.IsCode(err, api.CodeUnauthorized) {
		t.Errorf("Me after a role change = %v, want unauthorized", err)
	}
	yes := true
	root.UpdateUser(ctx, u.ID, api.UpdateUserRequest{Disabled: &yes})
	if _, err := b.client("").Login(ctx, api.LoginRequest{Name: "bob", Password: "bob-password"}); !api.IsCode(err, api.CodeUnauthorized) {
		t.Errorf("login of a disabled user = %v, want unauthorized", err)
	}
	me, _ := root.Me(ctx)
	if _, err := root.UpdateUser(ctx, me.ID, api.UpdateUserRequest{Disabled: &yes}); err == nil {
		t.Errorf("an admin disabled themself")
	}
	if err := root.DeleteUser(ctx, u.ID); err != nil {
		t.Errorf("DeleteUser = %v", err)
	}
	if err := root.DeleteUser(ctx, me.ID); err == nil {
		t.Errorf("an admin deleted themself")
	}
}

func TestHostAccess(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	ctx := context.Background()
	b.addUser("alice", api.RoleUser, "alice-password")
	b.addUser("bob", api.RoleUser, "bob-password")
	alice := b.login("alice", "alice-password")
	bob := b.login("bob", "bob-password")
	host := b.enrollHost(alice, "pc")
	if _, err := bob.Host(ctx, host.id); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("bob sees alice's host: %v", err)
	}
	if _, err := bob.Connect(ctx, host.id); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("bob connects to alice's host: %v", err)
	}
	if err := alice.GrantAccess(ctx, host.id, "bob"); err != nil {
		t.Fatalf("GrantAccess: %v", err)
	}
	if hs, err := bob.Hosts(ctx); err != nil || len(hs) != 1 || hs[0].ID != host.id {
		t.Errorf("bob's hosts after the grant = %+v, %v", hs, err)
	}
	if err := bob.DeleteHost(ctx, host.id); !api.IsCode(err, api.CodeForbidden) {
		t.Errorf("bob deletes alice's host = %v, want forbidden", err)
	}
	if err := alice.RevokeAccess(ctx, host.id, "bob"); err != nil {
		t.Fatalf("RevokeAccess: %v", err)
	}
	if hs, _ := bob.Hosts(ctx); len(hs) != 0 {
		t.Errorf("bob's hosts after the revoke = %+v", hs)
	}
	// Deleting the host closes its control connection for good.
	_, states, _ := runHost(t, b.client(""), host)
	waitFor(t, "the host online", hostOnline(alice, host.id))
	if err := alice.DeleteHost(ctx, host.id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the control connection to end", func() bool {
		for {
			select {
			case up := <-states:
				if !up {
					return true
				}
			default:
				return false
			}
		}
	})
}

func TestEnrollRejects(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, nil)
	ctx := context.Background()
	b.addUser("alice", api.RoleUser, "alice-password")
	alice := b.login("alice", "alice-password")
	code, err := alice.NewEnrollCode(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's code and a made-up code fail; a forged proof fails
	// without spending the code.
	if _, err := alice.NewEnrollCode(ctx, "u-someone-else"); !api.IsCode(err, api.CodeForbidden) {
		t.Errorf("a user makes a code for another owner: %v", err)
	}
	host := b.enrollHost(alice, "first")
	_ = host
	// Forged proofs: a small-order key (zero bytes, the identity) with a
	// zero signature, which Ed25519 verification accepts for some
	// messages, and a good key with a signature over something else.
	_, good, _ := ed25519.GenerateKey(rand.Reader)
	identity := append([]byte{1}, make([]byte, 31)...)
	for _, req := range []api.EnrollRequest{
		{Code: code.Code, DevicePub: make([]byte, 32), Proof: make([]byte, 64)},
		{Code: code.Code, DevicePub: identity, Proof: append(slices.Clone(identity), make([]byte, 32)...)},
		{Code: code.Code, DevicePub: good.Public().(ed25519.PublicKey), Proof: ed25519.Sign(good, []byte("something else"))},
	} {
		req.HostInfo = api.HostInfo{Name: "x"}
		body, _ := json.Marshal(req)
		resp, err := b.ts.Client().Post(b.url+"/api/v1/enroll", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("enroll with a forged proof (key %x): %s, want 400", req.DevicePub, resp.Status)
		}
	}
	h2 := testHost{name: "second"}
	_, h2.key, _ = ed25519.GenerateKey(rand.Reader)
	if _, err := b.client("").Enroll(ctx, strings.ToLower(code.Code), h2.key, api.HostInfo{Name: "second"}); err != nil {
		t.Errorf("enroll with the (lowercased) code after a forged attempt = %v", err)
	}
	if _, err := b.client("").Enroll(ctx, code.Code, h2.key, api.HostInfo{Name: "again"}); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("enroll with a used code = %v, want not_found", err)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) { c.MetricsToken = "metrics-secret" })
	b.addUser("alice", api.RoleUser, "alice-password")
	b.login("alice", "alice-password")
	resp := b.do(t, "GET", "/healthz", "", nil)
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz = %s", resp.Status)
	}
	get := func(hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("GET", b.url+"/metrics", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := b.noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	// The test client is on loopback: allowed.
	code, body := get(nil)
	if code != 200 || !strings.Contains(body, `deskway_broker_logins_total{result="ok"} 1`) || !strings.Contains(body, "deskway_broker_hosts_online 0") {
		t.Errorf("GET /metrics from loopback: %d\n%.2000s", code, body)
	}
	// Through a proxy (X-Forwarded-For), only with the token.
	if code, _ := get(map[string]string{"X-Forwarded-For": "203.0.113.9"}); code != 403 {
		t.Errorf("GET /metrics via a proxy without token: %d, want 403", code)
	}
	if code, _ := get(map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer metrics-secret"}); code != 200 {
		t.Errorf("GET /metrics via a proxy with the token: %d, want 200", code)
	}
}

func TestClientIP(t *testing.T) {
	b := startBroker(t, sqliteStore(t), nil, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:1234", "", "203.0.113.5"},
		{"203.0.113.5:1234", "198.51.100.1", "203.0.113.5"}, // untrusted peer: header ignored
		{"10.1.2.3:1234", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:1234", "192.0.2.66, 198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"[::ffff:10.1.2.3]:1234", "garbage, 198.51.100.7", "198.51.100.7"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := b.srv.clientIP(r).String(); got != tc.want {
			t.Errorf("clientIP(%s, XFF %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// TestRestartLosesNothing restarts the broker on the same SQLite file and
// address: accounts, hosts and the audit log are there, and the host
// reconnects by itself.
func TestRestartLosesNothing(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			dsn := kind.dsn(t)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			st1 := openTestStore(t, dsn)
			b1 := startBroker(t, st1, l, nil)
			ctx := context.Background()
			b1.addUser("alice", api.RoleUser, "alice-password")
			alice := b1.login("alice", "alice-password")
			host := b1.enrollHost(alice, "office-pc")
			// Clients that outlive the first server (same test certificate).
			own := &http.Client{Transport: b1.ts.Client().Transport.(*http.Transport).Clone()}
			alice.HTTPClient = own
			hostClient := &api.Client{BaseURL: b1.url, HTTPClient: own}
			offers, states, _ := runHost(t, hostClient, host)
			waitFor(t, "the host online", hostOnline(alice, host.id))
			audit1, _ := st1.QueryAudit(ctx, api.AuditQuery{Limit: 1000})

			b1.stop()
			st1.Close()
			// The host notices and retries with backoff.
			waitFor(t, "the host to see the broker go", func() bool {
				for {
					select {
					case up := <-states:
						if !up {
							return true
						}
					default:
						return false
					}
				}
			})

			l2, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("listen again on %s: %v", addr, err)
			}
			st2 := openTestStore(t, dsn)
			b2 := startBroker(t, st2, l2, nil)
			if b2.url != b1.url {
				t.Fatalf("restarted at %s, was %s", b2.url, b1.url)
			}
			// The old API token still works: sessions survive too.
			if me, err := alice.Me(ctx); err != nil || me.Name != "alice" {
				t.Errorf("Me after restart = %+v, %v", me, err)
			}
			waitFor(t, "the host to reconnect on its own", hostOnline(alice, host.id))
			h, err := alice.Host(ctx, host.id)
			if err != nil || h.Name != "office-pc" || h.OwnerName != "alice" {
				t.Errorf("host after restart = %+v, %v", h, err)
			}
			audit2, _ := st2.QueryAudit(ctx, api.AuditQuery{Limit: 1000})
			if len(audit2) <= len(audit1) {
				t.Errorf("audit log had %d entries before the restart, %d after", len(audit1), len(audit2))
			}
			byID := map[int64]api.AuditEntry{}
			for _, e := range audit2 {
				byID[e.ID] = e
			}
			for _, e := range audit1 {
				if got, ok := byID[e.ID]; !ok || got.Action != e.Action || !got.Time.Equal(e.Time) {
					t.Errorf("audit entry %+v lost or changed: %+v", e, got)
				}
			}
			// Sessions work through the restarted broker.
			p, err := alice.Connect(ctx, host.id)
			if err != nil {
				t.Fatal(err)
			}
			if o := recvOffer(t, offers); o.SessionID != p.SessionID {
				t.Errorf("offer %v, want %v", o.SessionID, p.SessionID)
			}
		})
	}
}

// TestPasswordPepperedAtSignIn: an account made without the data key (the
// command line with PostgreSQL and no key file) has an unpeppered hash;
// its first sign-in replaces it with a peppered one, which signs in
// again. An Admin given the data key peppers at once; a wrong key is
// refused.
func TestPasswordPepperedAtSignIn(t *testing.T) {
	ctx := context.Background()
	st := sqliteStore(t)
	b := startBroker(t, st, nil, nil)
	adm, err := NewAdmin(st, "cli:test", nil)
	if err != nil {
		t.Fatal(err)
	}
	adm.s.hasher.params = fastPasswords
	hash := func(name string) string {
		t.Helper()
		u, err := st.UserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return u.PasswordHash
	}
	if _, err := adm.AddUser(ctx, "olda", api.RoleUser, "old-password-1"); err != nil {
		t.Fatal(err)
	}
	if h := hash("olda"); strings.Contains(h, ",k=1$") {
		t.Fatalf("hash made without the data key is peppered: %q", h)
	}
	b.login("olda", "old-password-1")
	if h := hash("olda"); !strings.Contains(h, ",k=1$") {
		t.Fatalf("after sign-in the hash is %q, want it peppered", h)
	}
	b.login("olda", "old-password-1")

	if err := adm.UseDataKey(ctx, bytes.Repeat([]byte{9}, DataKeySize)); !errors.Is(err, ErrDataKey) {
		t.Errorf("UseDataKey(another key) = %v, want ErrDataKey", err)
	}
	if err := adm.UseDataKey(ctx, testDataKey); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AddUser(ctx, "newa", api.RoleUser, "new-password-1"); err != nil {
		t.Fatal(err)
	}
	if h := hash("newa"); !strings.Contains(h, ",k=1$") {
		t.Errorf("hash made with the data key is %q, want it peppered", h)
	}
	b.login("newa", "new-password-1")
}
