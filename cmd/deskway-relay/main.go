// Command deskway-relay runs a standalone Deskway relay (a waypoint): it
// pairs the two ends of each session by their broker-signed tickets and
// forwards the end-to-end encrypted stream between them.
//
// Every flag has an environment twin, DESKWAY_ and the flag's name in
// capitals with '-' as '_' (-relay-id is DESKWAY_RELAY_ID); a flag given
// on the command line wins over the environment, which wins over the
// default. Secrets (the report token) come from a file, never a flag.
//
// On SIGTERM or SIGINT the relay drains: it refuses new sessions, tells
// the connected ends to move to another relay, and exits when the last
// session ended or -drain-timeout passed.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/deskway/deskway/internal/envflag"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/relay"
)

var version = "dev"

type options struct {
	listen, relayID, ticketKeys, broker               string
	tlsCert, tlsKey, autocertDomain, autocertDir      string
	reportURL, reportTokenFile, logLevel, logFormat   string
	maxSessions, maxViewers, maxMessage, viewerQueue  int
	sessionRate, globalRate                           int64
	pairTimeout, idleTimeout, keepAlive, drainTimeout time.Duration
	keysRefresh                                       time.Duration
	showVersion                                       bool
	pprofAddr                                         string
	loops                                             int
	engine                                            string
	maxConns                                          int
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "deskway-relay:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("deskway-relay", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", ":8443", "Address to listen on. Plain HTTP unless -tls-cert/-tls-key or -autocert-domain is set; plain is meant for a TLS-terminating proxy in front.")
	fs.StringVar(&o.relayID, "relay-id", "", "This relay's id, as the broker lists it; tickets are accepted only if they name it. Required.")
	fs.StringVar(&o.ticketKeys, "ticket-keys", "", "File with the broker's ticket public keys (one \"kid base64url(pub)\" per line). Either this or -broker.")
	fs.StringVar(&o.broker, "broker", "", "Broker base URL: the ticket keys are fetched from {broker}/api/v1/ticket-keys and refreshed every -keys-refresh, and reports go to {broker}/api/v1/relay/report unless -report-url says otherwise.")
	fs.DurationVar(&o.keysRefresh, "keys-refresh", 5*time.Minute, "How often to refresh the ticket keys from -broker.")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with -tls-key the relay serves HTTPS itself.")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM), with -tls-cert.")
	fs.StringVar(&o.autocertDomain, "autocert-domain", "", "Get a certificate for this domain from Let's Encrypt (ACME, TLS-ALPN-01 challenge: -listen must be reachable from the internet on port 443). Excludes -tls-cert.")
	fs.StringVar(&o.autocertDir, "autocert-dir", "deskway-relay-certs", "Directory that caches -autocert-domain certificates (created 0700).")
	fs.StringVar(&o.reportURL, "report-url", "", "Broker base URL to post session reports to; default -broker. Without either, reports are only logged.")
	fs.StringVar(&o.reportTokenFile, "report-token-file", "", "File holding the relay report token sent as a bearer token with each report.")
	fs.IntVar(&o.maxSessions, "max-sessions", 20000, "Sessions open at once; beyond, new sessions get close code 4009. Each session takes two file descriptors (more in presentations).")
	fs.IntVar(&o.maxConns, "max-connections", 0, "WebSocket connections open at once, with those still to send their ticket; beyond, the upgrade is answered 503 (0: 2 × -max-sessions + 1000).")
	fs.IntVar(&o.maxViewers, "max-viewers", 100, "Viewers of one presentation session.")
	fs.IntVar(&o.maxMessage, "max-message", 128<<10, "Largest WebSocket message in bytes; larger closes the connection with 4008.")
	fs.IntVar(&o.viewerQueue, "viewer-queue", 1<<20, "Bytes queued to one presentation viewer before it loses messages.")
	fs.Int64Var(&o.sessionRate, "session-rate", 0, "Bytes per second one session may send through the relay (0: no cap; a ticket's lower cap wins).")
	fs.Int64Var(&o.globalRate, "global-rate", 0, "Bytes per second all sessions together may send (0: no cap).")
	fs.DurationVar(&o.pairTimeout, "pair-timeout", 60*time.Second, "How long an end waits for its peer before it is closed with 4005.")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 90*time.Second, "Close a connection silent for this long.")
	fs.DurationVar(&o.keepAlive, "keepalive", 30*time.Second, "Ping a connection silent for this long.")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "On SIGTERM, how long sessions may go on before they are cut.")
	fs.StringVar(&o.logLevel, "log-level", "info", "Log level: debug, info, warn or error.")
	fs.StringVar(&o.logFormat, "log-format", "text", "Log format: text or json.")
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "Unstable, for debugging: serve net/http/pprof on this address (keep it on localhost).")
	fs.IntVar(&o.loops, "loops", 0, "Event loops of the epoll engine (0: one per CPU).")
	fs.StringVar(&o.engine, "engine", "", "Connection engine: epoll (Linux; the default there) or goroutine (coder/websocket, a goroutine per connection; the default elsewhere).")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := envflag.Apply(fs, nil); err != nil {
		return nil, err
	}
	return o, nil
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: %v", level, err)
	}
	ho := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, ho)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.showVersion {
		fmt.Println("deskway-relay", version)
		return nil
	}
	log, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	if o.relayID == "" {
		return errors.New("-relay-id is required")
	}
	raiseFileLimit(log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	keys, err := loadKeys(ctx, o)
	if err != nil {
		return err
	}
	report, closeReports, err := reporter(o, log)
	if err != nil {
		return err
	}
	defer closeReports()
	s, err := relay.New(relay.Config{
		RelayID:               o.relayID,
		TicketKeys:            keys,
		Logger:                log,
		Report:                report,
		MaxSessions:           o.maxSessions,
		MaxViewers:            o.maxViewers,
		MaxConnections:        o.maxConns,
		MaxMessageBytes:       o.maxMessage,
		SessionBytesPerSecond: o.sessionRate,
		GlobalBytesPerSecond:  o.globalRate,
		ViewerQueueBytes:      o.viewerQueue,
		PairTimeout:           o.pairTimeout,
		IdleTimeout:           o.idleTimeout,
		KeepAlive:             o.keepAlive,
		Loops:                 o.loops,
		Engine:                relay.Engine(o.engine),
	})
	if err != nil {
		return err
	}
	if o.pprofAddr != "" {
		go func() {
			log.Warn("pprof server stopped", "err", http.ListenAndServe(o.pprofAddr, pprofMux()))
		}()
	}
	if o.broker != "" && o.ticketKeys == "" {
		go refreshKeys(ctx, o, s, log)
	}

	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	switch {
	case o.autocertDomain != "":
		if o.tlsCert != "" {
			return errors.New("-autocert-domain and -tls-cert exclude each other")
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(o.autocertDomain),
			Cache:      autocert.DirCache(o.autocertDir),
		}
		tc := m.TLSConfig()
		tc.MinVersion = tls.VersionTLS13
		tc.NextProtos = []string{"http/1.1", "acme-tls/1"}
		ln = tls.NewListener(ln, tc)
	case o.tlsCert != "" || o.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS key pair: %v", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
			NextProtos: []string{"http/1.1"}})
	}
	log.Info("relay listening", "addr", ln.Addr().String(), "relay_id", o.relayID, "version", version)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("draining", "timeout", o.drainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	hs.SetKeepAlivesEnabled(false)
	derr := s.Shutdown(dctx)
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	if derr != nil {
		log.Warn("drain cut short", "err", derr)
	}
	return nil
}

func loadKeys(ctx context.Context, o *options) (proto.TicketKeys, error) {
	switch {
	case o.ticketKeys != "":
		b, err := os.ReadFile(o.ticketKeys)
		if err != nil {
			return nil, err
		}
		k, err := proto.ParseTicketKeys(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.ticketKeys, err)
		}
		return k, nil
	case o.broker != "":
		// The broker may start after us: retry for a while.
		var last error
		for i := range 30 {
			k, err := fetchKeys(ctx, o.broker)
			if err == nil {
				return k, nil
			}
			last = err
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(min(i+1, 5)) * time.Second):
			}
		}
		return nil, fmt.Errorf("ticket keys from %s: %w", o.broker, last)
	}
	return nil, errors.New("need -ticket-keys or -broker")
}

func fetchKeys(ctx context.Context, broker string) (proto.TicketKeys, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := &api.Client{BaseURL: broker, UserAgent: "deskway-relay/" + version}
	b, err := c.TicketKeys(ctx)
	if err != nil {
		return nil, err
	}
	return proto.ParseTicketKeys(string(b))
}

func refreshKeys(ctx context.Context, o *options, s *relay.Server, log *slog.Logger) {
	t := time.NewTicker(o.keysRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k, err := fetchKeys(ctx, o.broker)
		if err != nil {
			log.Warn("ticket keys refresh failed; keeping the old keys", "err", err)
			continue
		}
		s.SetTicketKeys(k)
	}
}

// reporter returns the Config.Report func: it posts reports to the
// broker from one goroutine, in order, retrying a few times.
func reporter(o *options, log *slog.Logger) (func(api.RelaySessionReport), func(), error) {
	base := o.reportURL
	if base == "" {
		base = o.broker
	}
	if base == "" {
		return nil, func() {}, nil
	}
	var token string
	if o.reportTokenFile != "" {
		b, err := os.ReadFile(o.reportTokenFile)
		if err != nil {
			return nil, nil, err
		}
		token = strings.TrimSpace(string(b))
	}
	c := &api.Client{BaseURL: base, Token: token, UserAgent: "deskway-relay/" + version}
	q := make(chan api.RelaySessionReport, 4096)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := range q {
			var err error
			for try := range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = c.ReportRelaySession(ctx, r)
				cancel()
				if err == nil {
					break
				}
				time.Sleep(time.Duration(try+1) * time.Second)
			}
			if err != nil {
				log.Warn("session report not delivered", "session", r.SessionID.String(), "err", err)
			}
		}
	}()
	report := func(r api.RelaySessionReport) {
		select {
		case q <- r:
		default:
			log.Warn("session report queue full; report dropped", "session", r.SessionID.String())
		}
	}
	return report, func() { close(q); wg.Wait() }, nil
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
