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
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/acme/autocert"

	"github.com/deskway/deskway/broker"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
	"github.com/deskway/deskway/relay"
)

type serveOptions struct {
	common
	listen, publicURL, tlsCert, tlsKey      string
	autocertDomain, autocertDir, httpListen string
	insecureHTTP, tlsProxy, embeddedRelay   bool
	relays, trustedProxies                  listFlag
	reportTokenFile, metricsTokenFile       string
	metricsListen, viewerURL                string
	keyRotation, shutdownTimeout            time.Duration
	showVersion                             bool
}

func parseServe(args []string, sio stdio) (*serveOptions, error) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("deskway-broker serve", flag.ContinueOnError)
	fs.SetOutput(sio.err)
	o.register(fs)
	fs.StringVar(&o.listen, "listen", ":8443", "Address to serve HTTPS on (HTTP with --insecure-http). With --autocert it must be reachable on port 443.")
	fs.StringVar(&o.publicURL, "public-url", "", "The broker's URL as browsers and agents reach it, e.g. https://broker.example.com. Default https://DOMAIN with --autocert, else https://localhost:PORT (http:// with --insecure-http). The embedded relay's URL in tickets is this URL.")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate chain file (PEM), with --tls-key.")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM), with --tls-cert.")
	fs.StringVar(&o.autocertDomain, "autocert", "", "Get and renew a certificate for this domain from Let's Encrypt (ACME TLS-ALPN-01 on :443, and HTTP-01 with --http-listen :80). Excludes --tls-cert.")
	fs.StringVar(&o.autocertDir, "autocert-dir", "deskway-broker-certs", "Directory caching the --autocert certificates (created 0700).")
	fs.StringVar(&o.httpListen, "http-listen", "", "Also serve plain HTTP on this address (e.g. :80), redirecting to HTTPS and answering ACME HTTP-01 challenges. Default: off.")
	fs.BoolVar(&o.insecureHTTP, "insecure-http", false, "Serve plain HTTP without TLS. For local tests only: passwords and session cookies cross the network in the clear.")
	fs.BoolVar(&o.tlsProxy, "tls-proxy", false, "A reverse proxy in front terminates TLS: serve plain HTTP on --listen but behave as the HTTPS site of --public-url (Secure cookies, HSTS). Combine with --trusted-proxy.")
	fs.BoolVar(&o.embeddedRelay, "embedded-relay", true, "Run a relay inside the broker at PUBLIC-URL/v1/relay (id \"local\"), listed first in tickets.")
	fs.Var(&o.relays, "relay", "A standalone relay as ID=URL (repeatable, in order of preference after the embedded one); its /healthz is checked every 30 s.")
	fs.StringVar(&o.reportTokenFile, "relay-report-token-file", "", "File holding the token standalone relays send with their session reports. Without it, reports over HTTP are refused.")
	fs.Var(&o.trustedProxies, "trusted-proxy", "Network of a reverse proxy whose X-Forwarded-For names the client, as a CIDR (repeatable).")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "Also serve Prometheus /metrics, without authentication, on this address (e.g. 127.0.0.1:9090). On the main address /metrics is open to loopback clients, admins and the metrics token.")
	fs.StringVar(&o.metricsTokenFile, "metrics-token-file", "", "File holding a bearer token that may read /metrics on the main address.")
	fs.StringVar(&o.viewerURL, "viewer-url", "/view", "Where Connect buttons and the support code field lead: URL?host=ID and URL#code=CODE.")
	fs.DurationVar(&o.keyRotation, "key-rotation", 30*24*time.Hour, "Age at which the ticket signing key gets a successor; 0 never rotates.")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 20*time.Second, "On SIGTERM, how long requests and relayed sessions may take to finish.")
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, fmt.Errorf("serve: unexpected arguments %q", pos)
	}
	if o.tlsCert != "" && o.autocertDomain != "" {
		return nil, errors.New("--tls-cert and --autocert exclude each other")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	tlsOn := o.tlsCert != "" || o.autocertDomain != ""
	modes := 0
	for _, on := range []bool{tlsOn, o.tlsProxy, o.insecureHTTP} {
		if on {
			modes++
		}
	}
	if modes == 0 {
		return nil, errors.New("no TLS: give --tls-cert/--tls-key, --autocert DOMAIN or --tls-proxy (or --insecure-http for a local test)")
	}
	if modes > 1 {
		return nil, errors.New("choose one of --tls-cert/--autocert, --tls-proxy and --insecure-http")
	}
	if o.tlsProxy && !strings.HasPrefix(o.publicURL, "https://") {
		return nil, errors.New("--tls-proxy needs --public-url https://…")
	}
	if o.publicURL == "" {
		_, port, err := net.SplitHostPort(o.listen)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: %v", o.listen, err)
		}
		switch {
		case o.autocertDomain != "":
			o.publicURL = "https://" + o.autocertDomain
		case o.insecureHTTP:
			o.publicURL = "http://localhost:" + port
		default:
			o.publicURL = "https://localhost:" + port
		}
	}
	return o, nil
}

// loudWarning is printed by --insecure-http.
const loudWarning = `
###########################################################################
#  WARNING: --insecure-http: the broker serves PLAIN HTTP.                 #
#  Passwords, session cookies and enrollment codes cross the network in   #
#  the clear. Use this on localhost for tests only, never in production.  #
###########################################################################
`

func serve(ctx context.Context, args []string, sio stdio) error {
	o, err := parseServe(args, sio)
	if err != nil {
		return err
	}
	if o.showVersion {
		fmt.Fprintln(sio.out, "deskway-broker", version)
		return nil
	}
	log, err := o.logger(sio.err)
	if err != nil {
		return err
	}
	if o.insecureHTTP {
		fmt.Fprint(sio.err, loudWarning)
		log.Warn("serving plain HTTP (--insecure-http): for local tests only")
	}
	var relays []broker.RelayConfig
	for _, r := range o.relays {
		rc, err := broker.ParseRelayConfig(r)
		if err != nil {
			return err
		}
		relays = append(relays, rc)
	}
	var proxies []netip.Prefix
	for _, p := range o.trustedProxies {
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("--trusted-proxy %q: %v", p, err)
		}
		proxies = append(proxies, pf)
	}
	reportToken, err := readSecretFile("relay-report-token-file", o.reportTokenFile)
	if err != nil {
		return err
	}
	metricsToken, err := readSecretFile("metrics-token-file", o.metricsTokenFile)
	if err != nil {
		return err
	}
	dataKey, err := o.dataKey(log)
	if err != nil {
		return err
	}
	st, err := o.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if us, err := st.ListUsers(ctx); err == nil && len(us) == 0 {
		log.Warn("no accounts yet: add an admin with `deskway-broker user add NAME --role admin`")
	}

	// The embedded relay needs the broker's keys and the broker needs the
	// relay's handler: the handler is mounted through a pointer that is
	// set once the relay exists.
	var relaySrv *relay.Server
	var relayHandler atomic.Pointer[http.Handler]
	var keysMu sync.Mutex
	var pendingKeys proto.TicketKeys
	extra := map[string]http.Handler{}
	if o.embeddedRelay {
		extra[ws.Path] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := relayHandler.Load()
			if h == nil {
				http.Error(w, "relay starting", http.StatusServiceUnavailable)
				return
			}
			(*h).ServeHTTP(w, r)
		})
	}
	reg := prometheus.NewRegistry()
	rotation := o.keyRotation
	if rotation == 0 {
		rotation = -1
	}
	srv, err := broker.New(ctx, broker.Config{
		Store:            st,
		DataKey:          dataKey,
		PublicURL:        o.publicURL,
		EmbeddedRelay:    o.embeddedRelay,
		Relays:           relays,
		RelayReportToken: reportToken,
		ExtraHandlers:    extra,
		OnTicketKeys: func(keys proto.TicketKeys) {
			keysMu.Lock()
			defer keysMu.Unlock()
			if relaySrv != nil {
				relaySrv.SetTicketKeys(keys)
			} else {
				pendingKeys = keys
			}
		},
		InsecureHTTP:   o.insecureHTTP,
		TrustedProxies: proxies,
		KeyRotation:    rotation,
		ViewerURL:      o.viewerURL,
		MetricsToken:   metricsToken,
		Registry:       reg,
		Logger:         log,
		Version:        version,
	})
	if err != nil {
		return err
	}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	defer bg.Wait()
	defer stopRun()
	if o.embeddedRelay {
		reports := make(chan api.RelaySessionReport, 1024)
		keysMu.Lock()
		keys := pendingKeys
		if keys == nil {
			keys = srv.TicketKeys()
		}
		// The epoll engine takes over raw sockets; behind the broker's own
		// TLS the relay runs on goroutines (behind a TLS-terminating proxy,
		// with --insecure-http, epoll does).
		engine := relay.EngineAuto
		if o.tlsCert != "" || o.autocertDomain != "" {
			engine = relay.EngineGoroutine
		}
		relaySrv, err = relay.New(relay.Config{
			RelayID:    broker.LocalRelayID,
			TicketKeys: keys,
			Engine:     engine,
			Logger:     log.With("component", "relay"),
			Report: func(r api.RelaySessionReport) {
				select {
				case reports <- r:
				default:
					log.Warn("relay report queue full: report dropped", "session", r.SessionID)
				}
			},
		})
		keysMu.Unlock()
		if err != nil {
			return err
		}
		h := relaySrv.RelayHandler()
		relayHandler.Store(&h)
		bg.Go(func() {
			for {
				select {
				case <-runCtx.Done():
					return
				case r := <-reports:
					if err := srv.ReportRelaySession(runCtx, r); err != nil {
						log.Warn("relay report", "session", r.SessionID, "err", err)
					}
				}
			}
		})
	}
	bg.Go(func() { srv.Run(runCtx) })

	hs := &http.Server{
		Addr:              o.listen,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return runCtx },
	}
	var certs *autocert.Manager
	switch {
	case o.autocertDomain != "":
		certs = &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(o.autocertDomain),
			Cache:      autocert.DirCache(o.autocertDir),
		}
		hs.TLSConfig = certs.TLSConfig()
		hs.TLSConfig.MinVersion = tls.VersionTLS13
	case o.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if hs.TLSConfig != nil {
		l = tls.NewListener(l, hs.TLSConfig)
	}
	log.Info("broker serving", "listen", l.Addr().String(), "public_url", o.publicURL, "db", redactDSN(o.db),
		"embedded_relay", o.embeddedRelay, "relays", len(relays), "version", version, "instance", srv.Instance())

	servers := []*http.Server{hs}
	errc := make(chan error, 3)
	go func() { errc <- hs.Serve(l) }()
	if o.httpListen != "" {
		var h http.Handler = http.HandlerFunc(redirectHTTPS)
		if certs != nil {
			h = certs.HTTPHandler(h)
		}
		rs := &http.Server{Addr: o.httpListen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, rs)
		go func() { errc <- rs.ListenAndServe() }()
	}
	if o.metricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ms := &http.Server{Addr: o.metricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, ms)
		go func() { errc <- ms.ListenAndServe() }()
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("server failed", "err", err)
			stopAll(servers, relaySrv, o.shutdownTimeout, log)
			return err
		}
	}
	stopAll(servers, relaySrv, o.shutdownTimeout, log)
	return nil
}

// stopAll stops taking requests, waits for those under way, and drains
// the embedded relay, within timeout. The deferred stopRun then ends the
// broker's background work and its hosts' control connections.
func stopAll(servers []*http.Server, relaySrv *relay.Server, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() { s.Shutdown(ctx) })
	}
	if relaySrv != nil {
		wg.Go(func() {
			if err := relaySrv.Shutdown(ctx); err != nil {
				log.Warn("relay drain cut short", "err", err)
			}
		})
	}
	wg.Wait()
}

func redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
}

// redactDSN hides a password in a database DSN for the log.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.LastIndex(dsn, "@"); j > i {
			return dsn[:i+3] + "…@" + dsn[j+1:]
		}
	}
	return dsn
}
