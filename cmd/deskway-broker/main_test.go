package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/broker"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbed.StopPostgres()
	os.Exit(code)
}

// cli runs the command with stdin and returns stdout, stderr and the
// error.
func cli(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return out.String(), errb.String(), err
}

func TestUserCommands(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "deskway.db")
	t.Setenv("DESKWAY_DB", db) // the environment twin of --db
	if _, _, err := cli(t, "root-password\nroot-password\n", "user", "add", "root", "--role", "admin", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v", err)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string // part of the error, "" for success
	}{
		{"a-long-password\nanother-password\n", []string{"user", "add", "bob", "--password-stdin"}, "differ"},
		{"a-long-password\n", []string{"user", "add", "bob", "--password-stdin"}, "two lines"},
		{"", []string{"user", "add", "bob"}, "not a terminal"},
		{"short\nshort\n", []string{"user", "add", "bob", "--password-stdin"}, "at least 10"},
		{"a-long-password\na-long-password\n", []string{"user", "add", "root", "--password-stdin"}, "exists"},
		{"a-long-password\na-long-password\n", []string{"user", "add", "bob", "--role", "boss", "--password-stdin"}, "role"},
		{"bob-password\r\nbob-password\r\n", []string{"user", "add", "Bob", "--role=technician", "--password-stdin"}, ""},
		{"", []string{"user", "role", "bob", "user"}, ""},
		{"", []string{"user", "disable", "bob"}, ""},
		{"new-bob-password\nnew-bob-password", []string{"user", "passwd", "bob", "--password-stdin"}, ""},
		{"", []string{"user", "reset-totp", "bob"}, ""},
		{"", []string{"user", "frobnicate", "bob"}, "unknown"},
		{"", []string{"user", "delete"}, "argument"},
	} {
		_, _, err := cli(t, tc.stdin, tc.args...)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.want)
		}
	}
	out, _, err := cli(t, "", "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "bob ") || !strings.Contains(lines[1], "user") || !strings.Contains(lines[1], "disabled") ||
		!strings.HasPrefix(lines[2], "root ") || !strings.Contains(lines[2], "admin") {
		t.Errorf("user list:\n%s", out)
	}
	// bob's password changed and he is disabled: the store says so.
	st, err := broker.OpenStore(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bob, _ := st.UserByName(context.Background(), "bob")
	if bob == nil || !bob.Disabled || bob.Role != api.RoleUser || !strings.HasPrefix(bob.PasswordHash, "$argon2id$v=19$m=65536,t=3,p=2,k=1$") {
		t.Errorf("bob = %+v", bob)
	}
	es, _ := st.QueryAudit(context.Background(), api.AuditQuery{Action: "user."})
	// create root and bob, bob's role, disable, password (reset-totp had
	// nothing to reset).
	if len(es) != 5 || !strings.HasPrefix(es[0].Actor, "cli") {
		t.Errorf("audit of the user commands: %+v", es)
	}
	// The audit export.
	out, _, err = cli(t, "", "audit", "export", "--action", "user.create")
	recs, cerr := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || cerr != nil || len(recs) != 3 || recs[1][3] != "user.create" || recs[1][4] != "bob" {
		t.Errorf("audit export: %v %v\n%s", err, cerr, out)
	}
	if out, _, err := cli(t, "", "audit", "export", "--format", "json", "--actor", "nobody"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("audit export --format json for nobody = %q, %v", out, err)
	}
}

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "deskway.db")
	if _, _, err := cli(t, "", "keys", "rotate", "--db", db); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "deskway.db.key")); err != nil {
		t.Errorf("no data key beside the database: %v", err)
	}
	out, _, err := cli(t, "", "keys", "list", "--db", db)
	if err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Errorf("keys list = %q, %v", out, err)
	}
	// Another data key cannot use the keys.
	other := filepath.Join(dir, "other.key")
	if _, _, err := cli(t, "", "data-key", "new", other); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(other); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("data key file mode %v, want 0600", fi.Mode())
	}
	if _, _, err := cli(t, "", "keys", "rotate", "--db", db, "--data-key-file", other); !errors.Is(err, broker.ErrDataKey) {
		t.Errorf("keys rotate with another data key = %v, want ErrDataKey", err)
	}
	if _, _, err := cli(t, "", "keys", "rotate", "--db", testbed.Postgres(t)); err == nil || !strings.Contains(err.Error(), "--data-key-file") {
		t.Errorf("keys rotate on PostgreSQL without a data key file = %v", err)
	}
}

// TestUserAddPeppers: a password set on the command line is peppered
// with the data key (made beside a SQLite database); with PostgreSQL and
// no key file the account is still made, unpeppered until its first
// sign-in; a key file that does not belong to the database is refused.
func TestUserAddPeppers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		db, keyFile string
		peppered    bool
	}{
		{"sqlite:" + filepath.Join(dir, "deskway.db"), "", true},
		{testbed.Postgres(t), "", false},
	} {
		args := []string{"user", "add", "pat", "--password-stdin", "--db", tc.db}
		if _, _, err := cli(t, "pat-password-1\npat-password-1\n", args...); err != nil {
			t.Fatalf("user add --db %s: %v", tc.db, err)
		}
		st, err := broker.OpenStore(ctx, tc.db, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.UserByName(ctx, "pat")
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(u.PasswordHash, ",k=1$"); got != tc.peppered {
			t.Errorf("--db %s: hash %q peppered %v, want %v", tc.db, u.PasswordHash, got, tc.peppered)
		}
	}
	other := filepath.Join(dir, "other.key")
	if _, _, err := cli(t, "", "data-key", "new", other); err != nil {
		t.Fatal(err)
	}
	args := []string{"user", "passwd", "pat", "--password-stdin", "--db", "sqlite:" + filepath.Join(dir, "deskway.db"), "--data-key-file", other}
	if _, _, err := cli(t, "pat-password-2\npat-password-2\n", args...); !errors.Is(err, broker.ErrDataKey) {
		t.Errorf("user passwd with another data key = %v, want ErrDataKey", err)
	}
}

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no TLS"},
		{[]string{"--insecure-http", "--tls-cert", "c", "--tls-key", "k"}, "choose one"},
		{[]string{"--tls-cert", "c"}, "go together"},
		{[]string{"--tls-cert", "c", "--tls-key", "k", "--autocert", "x.example"}, "exclude"},
		{[]string{"--tls-proxy", "--public-url", "http://x"}, "https"},
		{[]string{"--insecure-http", "extra"}, "unexpected"},
	} {
		if _, err := parseServe(tc.args, stdio{err: new(bytes.Buffer)}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %q: %v, want %q", tc.args, err, tc.want)
		}
	}
	t.Setenv("DESKWAY_RELAY", "eu=https://eu.example, us=https://us.example")
	t.Setenv("DESKWAY_INSECURE_HTTP", "true")
	t.Setenv("DESKWAY_LISTEN", "127.0.0.1:9999")
	o, err := parseServe([]string{"--relay", "ap=https://ap.example"}, stdio{err: new(bytes.Buffer)})
	if err != nil {
		t.Fatal(err)
	}
	if o.relays.String() != "ap=https://ap.example" || !o.insecureHTTP || o.publicURL != "http://localhost:9999" {
		t.Errorf("flags over env: relays %q insecure %v public %q", o.relays.String(), o.insecureHTTP, o.publicURL)
	}
	o, _ = parseServe(nil, stdio{err: new(bytes.Buffer)})
	if o.relays.String() != "eu=https://eu.example,us=https://us.example" {
		t.Errorf("relays from the environment: %q", o.relays.String())
	}
}

// selfSigned writes a certificate for 127.0.0.1 and returns the files and
// a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeWithEmbeddedRelay runs `deskway-broker serve` as an admin
// would, once with TLS of its own and once plain (as behind a proxy): a
// host enrolls and connects, a viewer connects, both ends meet on the
// embedded relay, a reused ticket is refused, the relay's report lands in
// the session record, and SIGTERM stops it all cleanly.
func TestServeWithEmbeddedRelay(t *testing.T) {
	for _, mode := range []string{"tls", "insecure-http"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			db := "sqlite:" + filepath.Join(dir, "deskway.db")
			if _, _, err := cli(t, "alice-password\nalice-password\n", "user", "add", "alice", "--password-stdin", "--db", db); err != nil {
				t.Fatal(err)
			}
			port := testbed.FreePort(t)
			args := []string{"serve", "--db", db, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "debug"}
			hc := &http.Client{Timeout: 10 * time.Second}
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			if mode == "tls" {
				cert, key, pool := selfSigned(t)
				args = append(args, "--tls-cert", cert, "--tls-key", key, "--public-url", fmt.Sprintf("https://127.0.0.1:%d", port))
				hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
				base = fmt.Sprintf("https://127.0.0.1:%d", port)
			} else {
				args = append(args, "--insecure-http", "--public-url", base)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stderr bytes.Buffer
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, stdio{in: strings.NewReader(""), out: new(bytes.Buffer), err: &stderr}) }()
			deadline := time.Now().Add(20 * time.Second)
			for {
				resp, err := hc.Get(base + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						break
					}
				}
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("the broker did not come up: %v\n%s", err, stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}

			bg := context.Background()
			c := &api.Client{BaseURL: base, HTTPClient: hc}
			login, err := c.Login(bg, api.LoginRequest{Name: "alice", Password: "alice-password"})
			if err != nil {
				t.Fatal(err)
			}
			alice := &api.Client{BaseURL: base, HTTPClient: hc, Token: login.Token}
			code, err := alice.NewEnrollCode(bg, "")
			if err != nil {
				t.Fatal(err)
			}
			_, key, _ := ed25519.GenerateKey(rand.Reader)
			enr, err := c.Enroll(bg, code.Code, key, api.HostInfo{Name: "pc", OS: "linux", Version: "0.1"})
			if err != nil {
				t.Fatal(err)
			}
			offers := make(chan *api.Pairing, 4)
			hostCtx, stopHost := context.WithCancel(bg)
			hostDone := make(chan error, 1)
			go func() {
				hostDone <- c.RunControl(hostCtx, api.ControlConfig{HostID: enr.HostID, Key: key, Info: api.HostInfo{Name: "pc"},
					OnOffer: func(p *api.Pairing) { offers <- p }, Backoff: api.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
			}()
			defer func() { stopHost(); <-hostDone }()
			for {
				h, err := alice.Host(bg, enr.HostID)
				if err == nil && h.Online {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the host never came online: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			viewer, err := alice.Connect(bg, enr.HostID)
			if err != nil {
				t.Fatal(err)
			}
			var host *api.Pairing
			select {
			case host = <-offers:
			case <-time.After(20 * time.Second):
				t.Fatal("no offer")
			}

			// Both ends meet on the embedded relay.
			opts := &ws.Options{HTTPClient: hc}
			vc, err := ws.Connect(bg, ws.Relay(viewer.Tickets[0]), opts)
			if err != nil {
				t.Fatalf("viewer to relay: %v", err)
			}
			hcn, err := ws.Connect(bg, ws.Relay(host.Tickets[0]), opts)
			if err != nil {
				t.Fatalf("host to relay: %v", err)
			}
			pctx, pcancel := context.WithTimeout(bg, 20*time.Second)
			defer pcancel()
			paired := make(chan error, 2)
			go func() { _, err := vc.WaitPaired(pctx, nil); paired <- err }()
			go func() { _, err := hcn.WaitPaired(pctx, nil); paired <- err }()
			for range 2 {
				if err := <-paired; err != nil {
					t.Fatalf("pairing on the embedded relay: %v", err)
				}
			}
			if err := vc.WriteMsg(pctx, []byte("hello host")); err != nil {
				t.Fatal(err)
			}
			if m, err := hcn.ReadMsg(pctx); err != nil || string(m) != "hello host" {
				t.Fatalf("host read %q, %v", m, err)
			}
			// A ticket is good once.
			again, err := ws.Connect(bg, ws.Relay(viewer.Tickets[0]), opts)
			if err == nil {
				_, err = again.WaitPaired(pctx, nil)
				again.Close()
			}
			var re *ws.RelayError
			if !errors.As(err, &re) || re.Code != ws.CloseTicketReused {
				t.Errorf("reusing the viewer's ticket: %v, want close code %d", err, ws.CloseTicketReused)
			}
			vc.Close()
			hcn.Close()
			// The relay reports the session to the broker.
			for {
				ss, err := alice.Sessions(bg, false)
				if err == nil && len(ss) == 1 && !ss[0].Live && ss[0].BytesToHost >= int64(len("hello host")) {
					if ss[0].Relays[0] != broker.LocalRelayID {
						t.Errorf("session relays %v", ss[0].Relays)
					}
					break
				}
				if time.Now().After(deadline.Add(20 * time.Second)) {
					t.Fatalf("no relay report in the session record: %+v, %v", ss, err)
				}
				time.Sleep(50 * time.Millisecond)
			}

			// SIGTERM: the command returns, the store keeps the host offline.
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve after the signal = %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop")
			}
			st, err := broker.OpenStore(bg, db, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			h, err := st.HostByID(bg, enr.HostID)
			if err != nil || h.OnlineAt(time.Now()) {
				t.Errorf("host after shutdown: %+v, %v; want offline", h, err)
			}
			if _, err := proto.ParseTicket(viewer.Tickets[0].Ticket); err != nil {
				t.Errorf("ParseTicket: %v", err)
			}
		})
	}
}
