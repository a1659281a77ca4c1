package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Servers are Deskway's servers started from built binaries (Binaries):
// the broker on SQLite, serving plain HTTP on loopback, without its
// embedded relay, and a standalone relay "r1" on another origin, which
// fetches the ticket keys from the broker and reports its sessions with
// the relay report token. The relay's pairing timeout is 10 s instead of
// 60: an end whose peer left waits that long for it to come back, and a
// close frame that follows data it sent meanwhile is read only then (the
// epoll engine leaves that data unread for the peer), so a session's
// report can come that much after it ended.
type Servers struct {
	Bin, Dir      string // the binaries; the data (database, token, logs)
	URL, RelayURL string // the broker's, the relay's
	DB            string // the broker's --db
	Broker, Relay *Proc
}

// StartServers starts the broker and the relay r1 with the binaries in
// bin and their data in dir, and waits until both answer.
func StartServers(t testing.TB, bin, dir string) *Servers {
	t.Helper()
	s := &Servers{Bin: bin, Dir: dir, DB: "sqlite:" + filepath.Join(dir, "broker.db")}
	bport, rport := FreePort(t), FreePort(t)
	s.URL, s.RelayURL = fmt.Sprintf("http://127.0.0.1:%d", bport), fmt.Sprintf("http://127.0.0.1:%d", rport)
	token := make([]byte, 16)
	rand.Read(token)
	tokenFile := filepath.Join(dir, "relay-report-token")
	if err := os.WriteFile(tokenFile, []byte(hex.EncodeToString(token)+"\n"), 0o600); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	s.Broker = Start(t, "broker", nil, bin+"/deskway-broker", "serve", "--db", s.DB, "--insecure-http",
		"--listen", fmt.Sprintf("127.0.0.1:%d", bport), "--public-url", s.URL,
		"--embedded-relay=false", "--relay", "r1="+s.RelayURL, "--relay-report-token-file", tokenFile, "--log-level", "warn")
	WaitHTTP(t, s.URL+"/healthz")
	s.Relay = Start(t, "relay", nil, bin+"/deskway-relay", "-listen", fmt.Sprintf("127.0.0.1:%d", rport),
		"-relay-id", "r1", "-broker", s.URL, "-report-token-file", tokenFile, "-pair-timeout", "10s")
	WaitHTTP(t, s.RelayURL+"/healthz")
	return s
}

// AddUser adds an account with the broker's command line.
func (s *Servers) AddUser(t testing.TB, role, name, password string) {
	t.Helper()
	Run(t, password+"\n"+password+"\n", nil, s.Bin+"/deskway-broker", "user", "add", name, "--db", s.DB, "--role", role, "--password-stdin")
}

// Tails returns the tails of the servers' logs, for a failure message.
func (s *Servers) Tails() string { return Tails(20, s.Broker, s.Relay) }
