package broker

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/web"
)

// The console: server-rendered pages from web/templates. Forms post to
// the handlers below, which answer with a redirect (303) to a page, or
// render a page directly when it shows a one-time secret (enrollment
// code, recovery codes). Cross-site posts are refused by
// http.CrossOriginProtection before they get here.

// pageData is what every page template gets.
type pageData struct {
	Title     string
	Nav       string // which navigation link is active
	User      *User
	Flash     string
	Error     string
	Version   string
	ViewerURL string
	PublicURL string
	Data      any
}

// flashes are the fixed messages a redirect may ask a page to show: a
// parameter picks one, so a crafted link cannot put words on our pages.
var flashes = map[string]string{
	"password":     "Your password was changed.",
	"totp-off":     "The second factor was removed.",
	"signed-out":   "Your other sessions were signed out.",
	"user-added":   "The user was added.",
	"user-changed": "The user was changed.",
	"user-deleted": "The user was deleted.",
	"host-removed": "The host was removed.",
	"access":       "Access was changed.",
	"code-revoked": "The enrollment code was revoked.",
}

func (s *Server) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		"ago":   ago,
		"stamp": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
		"clock": func(t time.Time) string { return t.Local().Format("15:04") },
		"date": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.DateOnly)
		},
		"duration": func(a, b time.Time) string { return b.Sub(a).Round(time.Second).String() },
		"bytes":    formatBytes,
		"hostLink": func(id string) string { return s.cfg.ViewerURL + "?host=" + url.QueryEscape(id) },
	}
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Minute:
		return fmt.Sprintf("%d min ago", int(d.Round(time.Minute)/time.Minute))
	case d < 36*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Round(time.Hour)/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

// parsePages parses each page template together with the layout and the
// partials.
func (s *Server) parsePages() (map[string]*template.Template, error) {
	fsys := web.Templates()
	names, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == "layout.html" || n == "sessions.html" {
			continue
		}
		t, err := template.New(n).Funcs(s.templateFuncs()).ParseFS(fsys, "layout.html", "sessions.html", n)
		if err != nil {
			return nil, fmt.Errorf("broker: console template %s: %w", n, err)
		}
		pages[strings.TrimSuffix(n, ".html")] = t
	}
	return pages, nil
}

// render writes a page; a template error is a bug, logged, answered 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, pd pageData) {
	t := s.pages[name]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	if pd.User == nil {
		pd.User = userFrom(r.Context())
	}
	if pd.Flash == "" {
		pd.Flash = flashes[r.URL.Query().Get("done")]
	}
	pd.Version, pd.ViewerURL, pd.PublicURL = s.cfg.Version, s.cfg.ViewerURL, s.cfg.PublicURL
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pd); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) message(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	s.render(w, r, status, "message", pageData{Title: title, Data: text})
}

func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// parseForm reads a form body of bounded size.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxRequestBody)
	return r.ParseForm()
}

// page wraps a console handler that needs a signed-in user (and, with
// admin, an admin): others are sent to the sign-in page.
func (s *Server) page(admin bool, fn func(w http.ResponseWriter, r *http.Request, u *User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if u == nil {
			seeOther(w, r, "/")
			return
		}
		if admin && u.Role != api.RoleAdmin {
			s.message(w, r, http.StatusForbidden, "Not allowed", "This page is for admins.")
			return
		}
		if r.Method == http.MethodPost {
			if err := parseForm(w, r); err != nil {
				s.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
		}
		fn(w, r, u)
	}
}

// consoleError shows an error from a shared operation on a page.
func (s *Server) consoleError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		s.message(w, r, api.StatusFor(ae.code), "Not done", ae.msg)
	case errors.Is(err, ErrNotFound):
		s.message(w, r, http.StatusNotFound, "Not found", "It is not there (any more).")
	default:
		s.log.Error("console request failed", "path", r.URL.Path, "err", err)
		s.message(w, r, http.StatusInternalServerError, "Error", "Something went wrong; it was logged.")
	}
}

// ---- signing in

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	if userFrom(r.Context()) != nil {
		seeOther(w, r, "/hosts")
		return
	}
	s.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in"})
}

func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	ctx := r.Context()
	ip := s.clientIP(r)
	name := r.PostFormValue("name")
	u, err := s.checkPassword(ctx, ip, name, r.PostFormValue("password"))
	if err != nil {
		status := http.StatusUnauthorized
		var rl *rateLimitedError
		if errors.As(err, &rl) {
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", fmt.Sprint(int(rl.retry/time.Second)+1))
		}
		s.render(w, r, status, "login", pageData{Title: "Sign in", Error: err.Error(), Data: name})
		return
	}
	if u.TOTPSecret != nil {
		token, _, err := s.startSession(ctx, u, false, true, r)
		if err != nil {
			s.consoleError(w, r, err)
			return
		}
		s.setPendingCookie(w, token)
		seeOther(w, r, "/login/totp")
		return
	}
	s.finishLogin(w, r, u, "password")
}

// finishLogin starts a fresh session (a new token on every sign-in) and
// sets its cookie.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, u *User, how string) {
	token, _, err := s.startSession(r.Context(), u, false, false, r)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.loginSucceeded(r.Context(), u, s.clientIP(r), how)
	s.setSessionCookie(w, token, u.Role)
	seeOther(w, r, "/hosts")
}

// pendingLogin returns the pending (password done) session of the
// request and its user.
func (s *Server) pendingLogin(r *http.Request) (*AuthSession, *User) {
	c, err := r.Cookie(s.pendingCookieName())
	if err != nil || len(c.Value) > 128 {
		return nil, nil
	}
	a, err := s.st.AuthSession(r.Context(), tokenHash(c.Value))
	if err != nil || !a.Pending || !time.Now().Before(a.Expires) {
		return nil, nil
	}
	u, err := s.st.UserByID(r.Context(), a.UserID)
	if err != nil || u.Disabled {
		return nil, nil
	}
	return a, u
}

func (s *Server) consoleTOTPPage(w http.ResponseWriter, r *http.Request) {
	if a, _ := s.pendingLogin(r); a == nil {
		seeOther(w, r, "/")
		return
	}
	s.render(w, r, http.StatusOK, "totp", pageData{Title: "Second factor"})
}

func (s *Server) consoleTOTP(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.message(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	ctx := r.Context()
	a, u := s.pendingLogin(r)
	if a == nil {
		seeOther(w, r, "/")
		return
	}
	n, err := s.st.BumpAuthAttempts(ctx, a.TokenHash)
	if err != nil || n > totpMaxTries {
		s.st.DeleteAuthSession(ctx, a.TokenHash)
		s.clearPendingCookie(w)
		s.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Error: errTooManyTOTP.Error(), Data: u.Name})
		return
	}
	code := strings.ReplaceAll(r.PostFormValue("code"), " ", "")
	recovery := r.PostFormValue("recovery")
	if code == "" && recovery == "" {
		s.render(w, r, http.StatusUnauthorized, "totp", pageData{Title: "Second factor", Error: errNeedTOTP.Error()})
		return
	}
	if err := s.checkSecondFactor(ctx, u, code, recovery, s.clientIP(r)); err != nil {
		s.limits.failure(u.Name, time.Now())
		if errors.Is(err, errBadCode) {
			s.render(w, r, http.StatusUnauthorized, "totp", pageData{Title: "Second factor", Error: err.Error()})
			return
		}
		s.consoleError(w, r, err)
		return
	}
	s.st.DeleteAuthSession(ctx, a.TokenHash)
	s.clearPendingCookie(w)
	how := "password+totp"
	if recovery != "" && code == "" {
		how = "password+recovery code"
	}
	s.finishLogin(w, r, u, how)
}

func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if p := principalFrom(ctx); p != nil {
		s.st.DeleteAuthSession(ctx, p.sess.TokenHash)
		s.audit(ctx, auditEntry{actor: p.user.Name, action: "logout", ip: s.clientIP(r).String(), ok: true})
	}
	if a, _ := s.pendingLogin(r); a != nil {
		s.st.DeleteAuthSession(ctx, a.TokenHash)
	}
	s.clearSessionCookie(w)
	s.clearPendingCookie(w)
	seeOther(w, r, "/")
}

// ---- my hosts

type hostsPage struct {
	Hosts []api.Host
	Owned []api.Host
	Code  *api.EnrollCode
}

func (s *Server) hostsPage(w http.ResponseWriter, r *http.Request, u *User, code *api.EnrollCode) {
	hs, err := s.st.ListHosts(r.Context(), u.ID)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	d := hostsPage{Code: code}
	now := time.Now()
	for i := range hs {
		h := apiHost(&hs[i], now)
		d.Hosts = append(d.Hosts, h)
		if h.OwnerID == u.ID {
			d.Owned = append(d.Owned, h)
		}
	}
	s.render(w, r, http.StatusOK, "hosts", pageData{Title: "My hosts", Nav: "hosts", Data: d})
}

func (s *Server) consoleHosts(w http.ResponseWriter, r *http.Request, u *User) {
	s.hostsPage(w, r, u, nil)
}

func (s *Server) consoleMakeCode(w http.ResponseWriter, r *http.Request, u *User) {
	code, err := s.makeEnrollCode(r.Context(), u, "", s.clientIP(r).String())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.hostsPage(w, r, u, code)
}

// back returns to the page the form was on (a local path), or fallback.
func back(r *http.Request, fallback, done string) string {
	path := fallback
	if ref, err := url.Parse(r.Header.Get("Referer")); err == nil && ref.Host == r.Host && strings.HasPrefix(ref.Path, "/") {
		path = ref.Path
	}
	return path + "?done=" + done
}

func (s *Server) consoleDeleteHost(w http.ResponseWriter, r *http.Request, u *User) {
	if err := s.deleteHost(r.Context(), u, r.PathValue("id"), s.clientIP(r).String()); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, back(r, "/hosts", "host-removed"))
}

func (s *Server) consoleGrant(w http.ResponseWriter, r *http.Request, u *User) {
	if err := s.setAccess(r.Context(), u, r.PathValue("id"), r.PostFormValue("user"), true, s.clientIP(r).String()); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, back(r, "/hosts", "access"))
}

func (s *Server) consoleRevoke(w http.ResponseWriter, r *http.Request, u *User) {
	if err := s.setAccess(r.Context(), u, r.PathValue("id"), r.PathValue("user"), false, s.clientIP(r).String()); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, back(r, "/hosts", "access"))
}

// ---- support

func (s *Server) consoleSupport(w http.ResponseWriter, r *http.Request, u *User) {
	if !u.Role.CanSupport() {
		s.message(w, r, http.StatusForbidden, "Not allowed", "Support sessions are for technicians.")
		return
	}
	all, err := s.st.ListSessions(r.Context(), SessionFilter{UserID: u.ID, Limit: 50})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	var mine []Session
	for _, ss := range all {
		if ss.Nameplate != "" {
			mine = append(mine, ss)
		}
	}
	s.render(w, r, http.StatusOK, "support", pageData{Title: "Support", Nav: "support", Data: mine})
}

// ---- account

func (s *Server) consoleAccount(w http.ResponseWriter, r *http.Request, u *User) {
	n, _ := s.st.CountRecoveryCodes(r.Context(), u.ID)
	s.render(w, r, http.StatusOK, "account", pageData{Title: "Account", Nav: "account",
		Data: struct {
			TOTP     bool
			Recovery int
		}{u.TOTPSecret != nil, n}})
}

// recheckPassword verifies the signed-in user's password for a sensitive
// change, under the login rate limits.
func (s *Server) recheckPassword(r *http.Request, u *User, password string) error {
	_, err := s.checkPassword(r.Context(), s.clientIP(r), u.Name, password)
	return err
}

func (s *Server) consolePassword(w http.ResponseWriter, r *http.Request, u *User) {
	ctx := r.Context()
	if err := s.recheckPassword(r, u, r.PostFormValue("current")); err != nil {
		s.render(w, r, http.StatusUnauthorized, "account", pageData{Title: "Account", Nav: "account", Error: "The current password is wrong.",
			Data: struct {
				TOTP     bool
				Recovery int
			}{u.TOTPSecret != nil, 0}})
		return
	}
	nw := r.PostFormValue("new")
	if nw != r.PostFormValue("again") {
		s.message(w, r, http.StatusBadRequest, "Not done", "The two new passwords differ.")
		return
	}
	if err := checkNewPassword(nw); err != nil {
		s.message(w, r, http.StatusBadRequest, "Not done", err.Error())
		return
	}
	hash, err := s.hasher.Hash(ctx, nw)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	u.PasswordHash = hash
	if err := s.st.UpdateUser(ctx, u); err != nil {
		s.consoleError(w, r, err)
		return
	}
	p := principalFrom(ctx)
	s.st.DeleteUserAuthSessions(ctx, u.ID, p.sess.TokenHash)
	s.audit(ctx, auditEntry{actor: u.Name, action: "user.password", target: u.Name, ip: s.clientIP(r).String(), ok: true})
	seeOther(w, r, "/account?done=password")
}

func (s *Server) consoleTOTPStart(w http.ResponseWriter, r *http.Request, u *User) {
	if u.TOTPSecret != nil {
		seeOther(w, r, "/account")
		return
	}
	key, err := newTOTPKey("Deskway "+s.public.Host, u.Name)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	u.TOTPPending = s.seal.seal("totp-pending:"+u.ID, []byte(key.URL()))
	if err := s.st.UpdateUser(r.Context(), u); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, "/account/totp")
}

type totpSetup struct {
	Secret string
	Codes  []string
}

func (s *Server) consoleTOTPSetup(w http.ResponseWriter, r *http.Request, u *User) {
	key, err := s.pendingTOTPKey(u)
	if err != nil {
		seeOther(w, r, "/account")
		return
	}
	s.render(w, r, http.StatusOK, "totp_setup", pageData{Title: "Authenticator", Nav: "account", Data: totpSetup{Secret: key.Secret()}})
}

func (s *Server) consoleTOTPImage(w http.ResponseWriter, r *http.Request, u *User) {
	key, err := s.pendingTOTPKey(u)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	b, err := totpPNG(key)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (s *Server) consoleTOTPConfirm(w http.ResponseWriter, r *http.Request, u *User) {
	ctx := r.Context()
	key, err := s.pendingTOTPKey(u)
	if err != nil {
		seeOther(w, r, "/account")
		return
	}
	step, ok := totpStep(key.Secret(), strings.ReplaceAll(r.PostFormValue("code"), " ", ""), time.Now())
	if !ok {
		s.render(w, r, http.StatusBadRequest, "totp_setup", pageData{Title: "Authenticator", Nav: "account",
			Error: "That code does not match: check the time on your phone and try the next one.", Data: totpSetup{Secret: key.Secret()}})
		return
	}
	// The code that turned TOTP on is used: it cannot sign in.
	s.st.AdvanceTOTPStep(ctx, u.ID, step)
	u.TOTPSecret = s.seal.seal("totp:"+u.ID, []byte(key.Secret()))
	u.TOTPPending = nil
	if err := s.st.UpdateUser(ctx, u); err != nil {
		s.consoleError(w, r, err)
		return
	}
	codes, hashes := newRecoveryCodes()
	if err := s.st.SetRecoveryCodes(ctx, u.ID, hashes); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.audit(ctx, auditEntry{actor: u.Name, action: "user.totp", target: u.Name, ip: s.clientIP(r).String(), ok: true, detail: "second factor on"})
	// Step-up: a new session token, the others end.
	p := principalFrom(ctx)
	token, _, err := s.startSession(ctx, u, false, false, r)
	if err == nil {
		s.st.DeleteUserAuthSessions(ctx, u.ID, tokenHash(token))
		s.setSessionCookie(w, token, u.Role)
	} else if p != nil {
		s.log.Warn("rotate session after TOTP", "err", err)
	}
	s.render(w, r, http.StatusOK, "totp_setup", pageData{Title: "Authenticator", Nav: "account", User: u, Data: totpSetup{Codes: codes}})
}

func (s *Server) consoleTOTPDisable(w http.ResponseWriter, r *http.Request, u *User) {
	ctx := r.Context()
	if err := s.recheckPassword(r, u, r.PostFormValue("password")); err != nil {
		s.message(w, r, http.StatusUnauthorized, "Not done", "The password is wrong.")
		return
	}
	u.TOTPSecret, u.TOTPPending = nil, nil
	if err := s.st.UpdateUser(ctx, u); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.st.SetRecoveryCodes(ctx, u.ID, nil)
	s.audit(ctx, auditEntry{actor: u.Name, action: "user.totp", target: u.Name, ip: s.clientIP(r).String(), ok: true, detail: "second factor off"})
	seeOther(w, r, "/account?done=totp-off")
}

func (s *Server) consoleSignOutOthers(w http.ResponseWriter, r *http.Request, u *User) {
	p := principalFrom(r.Context())
	n, err := s.st.DeleteUserAuthSessions(r.Context(), u.ID, p.sess.TokenHash)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.audit(r.Context(), auditEntry{actor: u.Name, action: "logout.others", target: u.Name, ip: s.clientIP(r).String(), ok: true, detail: fmt.Sprintf("%d sessions", n)})
	seeOther(w, r, "/account?done=signed-out")
}

// ---- admin

func (s *Server) consoleUsers(w http.ResponseWriter, r *http.Request, u *User) {
	us, err := s.st.ListUsers(r.Context())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_users", pageData{Title: "Users", Nav: "users", Data: us})
}

func (s *Server) consoleAddUser(w http.ResponseWriter, r *http.Request, admin *User) {
	_, err := s.createUser(r.Context(), admin.Name, r.PostFormValue("name"), api.UserRole(r.PostFormValue("role")), r.PostFormValue("password"), s.clientIP(r).String())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, "/admin/users?done=user-added")
}

func (s *Server) consoleUpdateUser(w http.ResponseWriter, r *http.Request, admin *User) {
	var req api.UpdateUserRequest
	yes, no := true, false
	switch r.PostFormValue("action") {
	case "role":
		role := api.UserRole(r.PostFormValue("role"))
		req.Role = &role
	case "disable":
		req.Disabled = &yes
	case "enable":
		req.Disabled = &no
	case "reset_totp":
		req.ResetTOTP = true
	case "password":
		pw := r.PostFormValue("password")
		req.Password = &pw
	default:
		s.message(w, r, http.StatusBadRequest, "Not done", "Unknown action.")
		return
	}
	if _, err := s.updateUser(r.Context(), admin, r.PathValue("id"), req, s.clientIP(r).String()); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, "/admin/users?done=user-changed")
}

func (s *Server) consoleDeleteUser(w http.ResponseWriter, r *http.Request, admin *User) {
	if err := s.deleteUser(r.Context(), admin, r.PathValue("id"), s.clientIP(r).String()); err != nil {
		s.consoleError(w, r, err)
		return
	}
	seeOther(w, r, "/admin/users?done=user-deleted")
}

type adminHostsPage struct {
	Hosts     []api.Host
	Users     []User
	Names     map[string]string
	Codes     []EnrollCode
	Code      *api.EnrollCode
	CodeOwner string
}

func (s *Server) adminHostsPage(w http.ResponseWriter, r *http.Request, code *api.EnrollCode) {
	ctx := r.Context()
	hs, err := s.st.ListHosts(ctx, "")
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	us, err := s.st.ListUsers(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	codes, err := s.st.ListEnrollCodes(ctx, "", time.Now())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	d := adminHostsPage{Users: us, Names: map[string]string{}, Codes: codes, Code: code}
	for _, u := range us {
		d.Names[u.ID] = u.Name
	}
	if code != nil {
		d.CodeOwner = d.Names[code.OwnerID]
	}
	now := time.Now()
	for i := range hs {
		d.Hosts = append(d.Hosts, apiHost(&hs[i], now))
	}
	s.render(w, r, http.StatusOK, "admin_hosts", pageData{Title: "Hosts", Nav: "all-hosts", Data: d})
}

func (s *Server) consoleAllHosts(w http.ResponseWriter, r *http.Request, u *User) {
	s.adminHostsPage(w, r, nil)
}

func (s *Server) consoleAdminCode(w http.ResponseWriter, r *http.Request, admin *User) {
	code, err := s.makeEnrollCode(r.Context(), admin, r.PostFormValue("owner"), s.clientIP(r).String())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.adminHostsPage(w, r, code)
}

func (s *Server) consoleRevokeCode(w http.ResponseWriter, r *http.Request, admin *User) {
	id := r.PathValue("id")
	if err := s.st.DeleteEnrollCode(r.Context(), id); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.audit(r.Context(), auditEntry{actor: admin.Name, action: "enroll.revoke", target: id, ip: s.clientIP(r).String(), ok: true})
	seeOther(w, r, "/admin/hosts?done=code-revoked")
}

func (s *Server) consoleRelays(w http.ResponseWriter, r *http.Request, u *User) {
	s.render(w, r, http.StatusOK, "admin_relays", pageData{Title: "Relays", Nav: "relays", Data: s.relays.status()})
}

func (s *Server) consoleSessions(w http.ResponseWriter, r *http.Request, u *User) {
	ctx := r.Context()
	live, err := s.st.ListSessions(ctx, SessionFilter{Live: true, Limit: 200})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	recent, err := s.st.ListSessions(ctx, SessionFilter{Limit: 100})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_sessions", pageData{Title: "Sessions", Nav: "sessions",
		Data: struct{ Live, Recent []Session }{live, recent}})
}

type auditPage struct {
	Q       api.AuditQuery
	Entries []api.AuditEntry
	Export  template.URL // query of the filter, for the export links
	Next    template.URL // query of the next (older) page
}

func (s *Server) consoleAudit(w http.ResponseWriter, r *http.Request, u *User) {
	q, err := api.ParseAuditQuery(r.URL.Query())
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "admin_audit", pageData{Title: "Audit log", Nav: "audit", Error: err.Error(), Data: auditPage{}})
		return
	}
	es, err := s.st.QueryAudit(r.Context(), q)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	export := q
	export.Before, export.Limit = 0, api.MaxAuditLimit
	d := auditPage{Q: q, Entries: es, Export: template.URL(export.Values().Encode())}
	if len(es) == q.Limit {
		next := q
		next.Before = es[len(es)-1].ID
		d.Next = template.URL(next.Values().Encode())
	}
	s.render(w, r, http.StatusOK, "admin_audit", pageData{Title: "Audit log", Nav: "audit", Data: d})
}

func (s *Server) consoleAuditExport(w http.ResponseWriter, r *http.Request, u *User) {
	q, err := api.ParseAuditQuery(r.URL.Query())
	if err != nil {
		s.message(w, r, http.StatusBadRequest, "Not done", err.Error())
		return
	}
	es, err := s.st.QueryAudit(r.Context(), q)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.audit(r.Context(), auditEntry{actor: u.Name, action: "audit.export", ip: s.clientIP(r).String(), ok: true, detail: fmt.Sprintf("%d entries", len(es))})
	writeAudit(w, r.URL.Query().Get("format"), es)
}

// ---- browser viewer

// consoleView serves the browser viewer's page (web.ViewerPage, with the
// Subresource Integrity hashes of its script and wasm) at /view, or says
// that this build has none.
func (s *Server) consoleView(w http.ResponseWriter, r *http.Request) {
	b, err := web.ViewerPage()
	if err != nil {
		s.message(w, r, http.StatusOK, "Browser viewer", "This broker was built without the browser viewer. Use the native viewer (deskway-viewer).")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
