package broker

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deskway/deskway/web"
)

// routes builds the broker's handler:
//
//	extra handlers (e.g. the embedded relay's /v1/relay), as they are
//	everything else: security headers → cross-origin protection →
//	signed-in user → the mux below
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	a := s.api

	// API (see docs/api.md).
	mux.Handle("POST /api/v1/login", a(s.apiLogin))
	mux.Handle("POST /api/v1/logout", a(s.apiLogout))
	mux.Handle("GET /api/v1/me", a(s.apiMe))
	mux.Handle("GET /api/v1/users", a(s.apiUsers))
	mux.Handle("POST /api/v1/users", a(s.apiCreateUser))
	mux.Handle("PATCH /api/v1/users/{id}", a(s.apiUpdateUser))
	mux.Handle("DELETE /api/v1/users/{id}", a(s.apiDeleteUser))
	mux.Handle("GET /api/v1/hosts", a(s.apiHosts))
	mux.HandleFunc("GET /api/v1/hosts/control", s.wsEndpoint(s.handleControl))
	mux.Handle("GET /api/v1/hosts/{id}", a(s.apiHost))
	mux.Handle("DELETE /api/v1/hosts/{id}", a(s.apiDeleteHost))
	mux.Handle("POST /api/v1/hosts/{id}/connect", a(s.apiConnect))
	mux.Handle("POST /api/v1/hosts/{id}/access", a(s.apiGrant))
	mux.Handle("DELETE /api/v1/hosts/{id}/access/{user}", a(s.apiRevoke))
	mux.Handle("POST /api/v1/enroll-codes", a(s.apiEnrollCode))
	mux.Handle("POST /api/v1/enroll", a(s.apiEnroll))
	mux.Handle("POST /api/v1/support", a(s.apiSupport))
	mux.HandleFunc("GET /api/v1/support/{nameplate}/wait", s.wsEndpoint(s.handleSupportWait))
	mux.Handle("POST /api/v1/support/join", a(s.apiJoin))
	mux.Handle("GET /api/v1/sessions", a(s.apiSessions))
	mux.Handle("POST /api/v1/sessions/{id}/tickets", a(s.apiTickets))
	mux.HandleFunc("GET /api/v1/ticket-keys", s.apiTicketKeys)
	mux.Handle("POST /api/v1/relay/report", a(s.apiRelayReport))
	mux.Handle("GET /api/v1/relays", a(s.apiRelays))
	mux.HandleFunc("GET /api/v1/audit", s.apiAudit)
	mux.Handle("/api/", a(func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, apiErr("not_found", "no such endpoint")
	}))

	// Console.
	mux.HandleFunc("GET /{$}", s.consoleHome)
	mux.HandleFunc("POST /login", s.consoleLogin)
	mux.HandleFunc("GET /login/totp", s.consoleTOTPPage)
	mux.HandleFunc("POST /login/totp", s.consoleTOTP)
	mux.HandleFunc("POST /logout", s.consoleLogout)
	mux.Handle("GET /hosts", s.page(false, s.consoleHosts))
	mux.Handle("POST /hosts/enroll-code", s.page(false, s.consoleMakeCode))
	mux.Handle("POST /hosts/{id}/delete", s.page(false, s.consoleDeleteHost))
	mux.Handle("POST /hosts/{id}/access", s.page(false, s.consoleGrant))
	mux.Handle("POST /hosts/{id}/access/{user}/delete", s.page(false, s.consoleRevoke))
	mux.Handle("GET /support", s.page(false, s.consoleSupport))
	mux.Handle("GET /account", s.page(false, s.consoleAccount))
	mux.Handle("POST /account/password", s.page(false, s.consolePassword))
	mux.Handle("POST /account/totp/start", s.page(false, s.consoleTOTPStart))
	mux.Handle("GET /account/totp", s.page(false, s.consoleTOTPSetup))
	mux.Handle("GET /account/totp.png", s.page(false, s.consoleTOTPImage))
	mux.Handle("POST /account/totp/confirm", s.page(false, s.consoleTOTPConfirm))
	mux.Handle("POST /account/totp/disable", s.page(false, s.consoleTOTPDisable))
	mux.Handle("POST /account/signout-others", s.page(false, s.consoleSignOutOthers))
	mux.Handle("GET /admin/users", s.page(true, s.consoleUsers))
	mux.Handle("POST /admin/users", s.page(true, s.consoleAddUser))
	mux.Handle("POST /admin/users/{id}", s.page(true, s.consoleUpdateUser))
	mux.Handle("POST /admin/users/{id}/delete", s.page(true, s.consoleDeleteUser))
	mux.Handle("GET /admin/hosts", s.page(true, s.consoleAllHosts))
	mux.Handle("POST /admin/enroll-codes", s.page(true, s.consoleAdminCode))
	mux.Handle("POST /admin/enroll-codes/{id}/delete", s.page(true, s.consoleRevokeCode))
	mux.Handle("GET /admin/relays", s.page(true, s.consoleRelays))
	mux.Handle("GET /admin/sessions", s.page(true, s.consoleSessions))
	mux.Handle("GET /admin/audit", s.page(true, s.consoleAudit))
	mux.Handle("GET /admin/audit/export", s.page(true, s.consoleAuditExport))
	mux.HandleFunc("GET /view", s.consoleView)
	static := web.StaticHandler() // deskway.wasm precompressed
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, static)))
	mux.Handle("GET /robots.txt", static)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})

	// Operations.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /metrics", s.metricsHandler)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))
	app := s.securityHeaders(cop.Handler(s.withPrincipal(mux)))
	if len(s.cfg.ExtraHandlers) == 0 {
		return app
	}
	top := http.NewServeMux()
	for pattern, h := range s.cfg.ExtraHandlers {
		top.Handle(pattern, h)
	}
	top.Handle("/", app)
	return top
}

// csp is the console's Content-Security-Policy: scripts and styles from
// this origin only (no inline code), WebAssembly for the browser viewer,
// WebSockets to this origin and the relays, no framing, no plugins.
func (s *Server) csp() string {
	connect := append([]string{"'self'"}, s.relays.origins()...)
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' 'wasm-unsafe-eval'",
		"connect-src " + strings.Join(connect, " "),
		"img-src 'self'",
		"style-src 'self'",
		"frame-ancestors 'none'",
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'self'",
	}, "; ")
}

func (s *Server) securityHeaders(h http.Handler) http.Handler {
	csp := s.csp()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !s.cfg.InsecureHTTP {
			hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	// Counted and logged, not audited: anyone can send these at will.
	s.metrics.crossOrigin.Inc()
	s.log.Debug("refused a cross-origin request", "method", r.Method, "path", r.URL.Path, "ip", s.clientIP(r).String(),
		"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "origin", r.Header.Get("Origin"))
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeError(w, r, apiErr("forbidden", "cross-origin request refused"))
		return
	}
	s.message(w, r, http.StatusForbidden, "Refused", "This request came from another site and was refused.")
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	v := "public, max-age=" + strconv.Itoa(int(d/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, code := "ok", http.StatusOK
	if _, err := s.st.CountPendingSupport(ctx, time.Now()); err != nil {
		status, code = "database unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]string{"status": status, "instance": s.instance, "version": s.cfg.Version})
}

// metricsHandler serves Prometheus metrics to loopback clients, to the
// bearer of the metrics token and to admins.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	allowed := false
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() && r.Header.Get("X-Forwarded-For") == "" {
			allowed = true
		}
	}
	if token, bearer := s.requestToken(r); bearer && s.cfg.MetricsToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.MetricsToken)) == 1 {
		allowed = true
	}
	if u := userFrom(r.Context()); u != nil && u.Role == "admin" {
		allowed = true
	}
	if !allowed {
		s.writeError(w, r, errForbidden)
		return
	}
	promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
