package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"

	"github.com/deskway/deskway/proto/api"
)

// Errors of signing in. Wrong name, wrong password and disabled account
// are one error with one message, so that a login tells nothing about
// which accounts exist.
var (
	errBadLogin    = errors.New("wrong name or password")
	errBadCode     = errors.New("wrong or already used code")
	errNeedTOTP    = errors.New("enter the code from your authenticator app")
	errTooManyTOTP = errors.New("too many wrong codes: sign in again")
)

// rateLimitedError says how long a client must wait.
type rateLimitedError struct{ retry time.Duration }

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("too many attempts: try again in %s", e.retry.Round(time.Second))
}

// principal is who a request is from.
type principal struct {
	user  *User
	sess  *AuthSession
	token string // the raw token: only to keep it when revoking others
}

type ctxKey int

const principalKey ctxKey = 0

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

func userFrom(ctx context.Context) *User {
	if p := principalFrom(ctx); p != nil {
		return p.user
	}
	return nil
}

// clientIP returns the client's address: the connection's peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not a trusted proxy.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	ip = ip.Unmap()
	if !s.trusted(ip) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = a.Unmap()
		if !s.trusted(ip) {
			break
		}
	}
	return ip
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// requestToken returns the bearer token or the session cookie's value.
func (s *Server) requestToken(r *http.Request) (token string, bearer bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), true
		}
		return "", true
	}
	if c, err := r.Cookie(s.cookieName); err == nil {
		return c.Value, false
	}
	return "", false
}

// authenticate finds the signed-in user of a request, if any: a valid,
// complete (not pending) session that is neither idle too long nor past
// its absolute expiry, of an enabled account.
func (s *Server) authenticate(r *http.Request) *principal {
	token, _ := s.requestToken(r)
	if token == "" || len(token) > 128 {
		return nil
	}
	ctx := r.Context()
	a, err := s.st.AuthSession(ctx, tokenHash(token))
	if err != nil {
		return nil
	}
	now := time.Now()
	if a.Pending || !now.Before(a.Expires) || now.Sub(a.Seen) >= idleTimeout {
		return nil
	}
	u, err := s.st.UserByID(ctx, a.UserID)
	if err != nil || u.Disabled {
		return nil
	}
	if now.Sub(a.Seen) >= touchEvery {
		if err := s.st.TouchAuthSession(ctx, a.TokenHash, now); err == nil {
			a.Seen = now
		}
	}
	return &principal{user: u, sess: a, token: token}
}

// withPrincipal puts the signed-in user, if any, into the request's
// context.
func (s *Server) withPrincipal(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := s.authenticate(r); p != nil {
			r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		}
		h.ServeHTTP(w, r)
	})
}

// normalizeName lowercases a user name and checks its characters.
func normalizeName(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || len(name) > api.MaxUserNameLen {
		return "", fmt.Errorf("a name has 1 to %d characters", api.MaxUserNameLen)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._@-", c)) {
			return "", fmt.Errorf("a name has letters, digits and . _ @ - only")
		}
	}
	return name, nil
}

// checkNewPassword says what is wrong with a new password.
func checkNewPassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < 10:
		return errors.New("a password has at least 10 characters")
	case len(pw) > api.MaxPasswordLen:
		return fmt.Errorf("a password has at most %d bytes", api.MaxPasswordLen)
	}
	return nil
}

// checkPassword is the first step of signing in: rate limits, then the
// password. Every failure costs one Argon2id verification, known user
// or not, and returns errBadLogin (or a *rateLimitedError).
func (s *Server) checkPassword(ctx context.Context, ip netip.Addr, rawName, password string) (*User, error) {
	now := time.Now()
	name, nameErr := normalizeName(rawName)
	if nameErr != nil {
		name = "\x00invalid"
	}
	// Refused attempts are counted, not written to the audit log: an
	// attacker could otherwise grow the log at the rate of his requests.
	// The failures that led to the limit are in the log.
	if ok, wait := s.limits.allowNet(ip, now); !ok {
		s.metrics.logins.WithLabelValues("rate_limited").Inc()
		return nil, &rateLimitedError{wait}
	}
	if ok, wait := s.limits.allowAccount(name, now); !ok {
		s.metrics.logins.WithLabelValues("rate_limited").Inc()
		return nil, &rateLimitedError{wait}
	}
	if len(password) > api.MaxPasswordLen {
		password = password[:api.MaxPasswordLen]
	}
	var u *User
	var ok, rehash bool
	if nameErr == nil {
		u, _ = s.st.UserByName(ctx, name)
	}
	began := time.Now()
	if u != nil {
		ok, rehash, _ = s.hasher.Verify(ctx, u.PasswordHash, password)
	} else {
		s.hasher.VerifyDummy(ctx, password)
	}
	s.metrics.hashSeconds.Observe(time.Since(began).Seconds())
	if !ok || u.Disabled {
		s.limits.failure(name, time.Now())
		s.metrics.logins.WithLabelValues("fail").Inc()
		s.audit(ctx, auditEntry{actor: name, action: "login", ip: ip.String(), detail: "wrong name or password"})
		return nil, errBadLogin
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			u.PasswordHash = h
			if err := s.st.UpdateUser(ctx, u); err != nil {
				s.log.Warn("rehash password", "user", u.Name, "err", err)
			}
		}
	}
	return u, nil
}

// checkSecondFactor checks a TOTP code (refusing a code already used) or
// a recovery code (used up by this).
func (s *Server) checkSecondFactor(ctx context.Context, u *User, code, recovery string, ip netip.Addr) error {
	switch {
	case u.TOTPSecret == nil:
		return nil
	case recovery != "":
		ok, err := s.st.UseRecoveryCode(ctx, u.ID, recoveryHash(recovery))
		if err != nil {
			return err
		}
		if !ok {
			s.audit(ctx, auditEntry{actor: u.Name, action: "login.recovery", ip: ip.String(), detail: "wrong recovery code"})
			return errBadCode
		}
		s.audit(ctx, auditEntry{actor: u.Name, action: "login.recovery", ip: ip.String(), ok: true})
		return nil
	case code == "":
		return errNeedTOTP
	}
	secret, err := s.seal.open("totp:"+u.ID, u.TOTPSecret)
	if err != nil {
		return err
	}
	step, ok := totpStep(string(secret), code, time.Now())
	if ok {
		if ok, err = s.st.AdvanceTOTPStep(ctx, u.ID, step); err != nil {
			return err
		}
		if !ok {
			s.audit(ctx, auditEntry{actor: u.Name, action: "login.totp", ip: ip.String(), detail: "code replayed"})
			return errBadCode
		}
		return nil
	}
	s.audit(ctx, auditEntry{actor: u.Name, action: "login.totp", ip: ip.String(), detail: "wrong code"})
	return errBadCode
}

// startSession makes a new login session and returns its token.
func (s *Server) startSession(ctx context.Context, u *User, apiToken, pending bool, r *http.Request) (string, *AuthSession, error) {
	token := newToken()
	now := time.Now()
	a := &AuthSession{
		TokenHash: tokenHash(token),
		UserID:    u.ID,
		API:       apiToken,
		Pending:   pending,
		Created:   now,
		Seen:      now,
		Expires:   now.Add(absoluteTimeout),
		IP:        s.clientIP(r).String(),
		UserAgent: truncate(r.UserAgent(), 256),
	}
	if pending {
		a.Expires = now.Add(pendingTimeout)
	}
	if err := s.st.CreateAuthSession(ctx, a); err != nil {
		return "", nil, err
	}
	return token, a, nil
}

// loginSucceeded records a complete sign-in.
func (s *Server) loginSucceeded(ctx context.Context, u *User, ip netip.Addr, how string) {
	s.limits.success(u.Name)
	s.metrics.logins.WithLabelValues("ok").Inc()
	u.LastLogin = time.Now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		s.log.Warn("record last login", "user", u.Name, "err", err)
	}
	s.audit(ctx, auditEntry{actor: u.Name, action: "login", ip: ip.String(), ok: true, detail: how})
}

// setSessionCookie sets the session cookie: __Host-, Secure, HttpOnly,
// Path=/, SameSite=Lax (Strict for admins), no Max-Age (the server ends
// the session).
func (s *Server) setSessionCookie(w http.ResponseWriter, token string, role api.UserRole) {
	same := http.SameSiteLaxMode
	if role == api.RoleAdmin {
		same = http.SameSiteStrictMode
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: token, Path: "/", Secure: s.secureCookie, HttpOnly: true, SameSite: same})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: "", Path: "/", Secure: s.secureCookie, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// pendingCookie carries the pending session between the password and the
// second-factor page.
func (s *Server) pendingCookieName() string { return s.cookieName + "_pending" }

func (s *Server) setPendingCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.pendingCookieName(), Value: token, Path: "/", Secure: s.secureCookie, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(pendingTimeout / time.Second)})
}

func (s *Server) clearPendingCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.pendingCookieName(), Value: "", Path: "/", Secure: s.secureCookie, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// totpKey rebuilds the otp.Key of a sealed pending otpauth URL.
func (s *Server) pendingTOTPKey(u *User) (*otp.Key, error) {
	if u.TOTPPending == nil {
		return nil, ErrNotFound
	}
	raw, err := s.seal.open("totp-pending:"+u.ID, u.TOTPPending)
	if err != nil {
		return nil, err
	}
	return otp.NewKeyFromURL(string(raw))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
