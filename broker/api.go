package broker

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"filippo.io/edwards25519"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// apiError is an error with an API error code.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func apiErr(code, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeJSON writes v with status 200 (or the given status).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError maps err to an error response. Unexpected errors are logged
// and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var body api.ErrorBody
	var ae *apiError
	var rl *rateLimitedError
	switch {
	case errors.As(err, &ae):
		body.Error.Code, body.Error.Message = ae.code, ae.msg
	case errors.As(err, &rl):
		body.Error.Code, body.Error.Message = api.CodeRateLimited, rl.Error()
		w.Header().Set("Retry-After", strconv.Itoa(int(rl.retry/time.Second)+1))
	case errors.Is(err, errBadLogin):
		body.Error.Code, body.Error.Message = api.CodeUnauthorized, err.Error()
	case errors.Is(err, errNeedTOTP):
		body.Error.Code, body.Error.Message = api.CodeTOTPRequired, err.Error()
	case errors.Is(err, errBadCode), errors.Is(err, errTooManyTOTP):
		body.Error.Code, body.Error.Message = api.CodeUnauthorized, err.Error()
	case errors.Is(err, ErrNotFound):
		body.Error.Code, body.Error.Message = api.CodeNotFound, "not found"
	case errors.Is(err, ErrConflict):
		body.Error.Code, body.Error.Message = api.CodeConflict, "already exists"
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Code, body.Error.Message = api.CodeInternal, "internal error"
	}
	writeJSON(w, api.StatusFor(body.Error.Code), body)
}

// decodeJSON reads a JSON body of at most api.MaxRequestBody bytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxRequestBody))
	if err != nil {
		return apiErr(api.CodeBadRequest, "request body: %v", err)
	}
	return decodeRequest(b, v)
}

// decodeRequest decodes one JSON request body (b is already bounded).
func decodeRequest(b []byte, v any) error {
	if len(b) > api.MaxRequestBody {
		return apiErr(api.CodeBadRequest, "request body exceeds %d bytes", api.MaxRequestBody)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return apiErr(api.CodeBadRequest, "request body: %v", err)
	}
	return nil
}

// handler adapts a handler that returns a value or an error.
func (s *Server) api(fn func(w http.ResponseWriter, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(w, r)
		switch {
		case err != nil:
			s.writeError(w, r, err)
		case v == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, http.StatusOK, v)
		}
	}
}

var (
	errSignIn    = apiErr(api.CodeUnauthorized, "sign in first")
	errForbidden = apiErr(api.CodeForbidden, "not allowed")
)

func needUser(r *http.Request) (*User, error) {
	if u := userFrom(r.Context()); u != nil {
		return u, nil
	}
	return nil, errSignIn
}

func needAdmin(r *http.Request) (*User, error) {
	u, err := needUser(r)
	if err == nil && u.Role != api.RoleAdmin {
		err = errForbidden
	}
	return u, err
}

func apiUser(u *User) api.User {
	return api.User{ID: u.ID, Name: u.Name, Role: u.Role, TOTP: u.TOTPSecret != nil, Disabled: u.Disabled, Created: u.Created, LastLogin: u.LastLogin}
}

func apiHost(h *Host, now time.Time) api.Host {
	return api.Host{ID: h.ID, Name: h.Name, OS: h.OS, Version: h.Version, OwnerID: h.OwnerID, OwnerName: h.OwnerName,
		Online: h.OnlineAt(now), LastSeen: h.SeenAt, Enrolled: h.Enrolled, Users: h.Users}
}

func apiSession(ss *Session) api.Session {
	return api.Session{ID: ss.ID, Mode: ss.Mode, HostID: ss.HostID, HostName: ss.HostName, ViewerID: ss.ViewerID, ViewerName: ss.ViewerName,
		Nameplate: ss.Nameplate, Start: ss.Start, End: ss.End, Live: ss.End.IsZero(), BytesFromHost: ss.BytesFromHost,
		BytesToHost: ss.BytesToHost, EndReason: ss.EndReason, Relays: ss.Relays}
}

func validHostInfo(info api.HostInfo) error {
	switch {
	case strings.TrimSpace(info.Name) == "" || len(info.Name) > api.MaxHostNameLen:
		return apiErr(api.CodeBadRequest, "host name of 1 to %d bytes", api.MaxHostNameLen)
	case len(info.OS) > api.MaxOSLen || len(info.Version) > api.MaxVersionLen:
		return apiErr(api.CodeBadRequest, "OS or version too long")
	}
	return nil
}

// ---- accounts

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.LoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	ip := s.clientIP(r)
	u, err := s.checkPassword(r.Context(), ip, req.Name, req.Password)
	if err != nil {
		return nil, err
	}
	if err := s.checkSecondFactor(r.Context(), u, req.TOTP, req.RecoveryCode, ip); err != nil {
		if errors.Is(err, errNeedTOTP) {
			s.metrics.logins.WithLabelValues("totp_required").Inc()
		} else {
			s.limits.failure(u.Name, time.Now())
		}
		return nil, err
	}
	token, a, err := s.startSession(r.Context(), u, true, false, r)
	if err != nil {
		return nil, err
	}
	s.loginSucceeded(r.Context(), u, ip, "api")
	return api.LoginResponse{Token: token, Expires: a.Expires, User: apiUser(u)}, nil
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) (any, error) {
	p := principalFrom(r.Context())
	if p == nil {
		return nil, errSignIn
	}
	s.st.DeleteAuthSession(r.Context(), p.sess.TokenHash)
	s.audit(r.Context(), auditEntry{actor: p.user.Name, action: "logout", ip: s.clientIP(r).String(), ok: true})
	return nil, nil
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	return apiUser(u), nil
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := needAdmin(r); err != nil {
		return nil, err
	}
	us, err := s.st.ListUsers(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]api.User, len(us))
	for i := range us {
		out[i] = apiUser(&us[i])
	}
	return out, nil
}

// createUser adds an account (API, console and command line).
func (s *Server) createUser(ctx context.Context, actor string, rawName string, role api.UserRole, password, ip string) (*User, error) {
	name, err := normalizeName(rawName)
	if err != nil {
		return nil, apiErr(api.CodeBadRequest, "%v", err)
	}
	if !role.Valid() {
		return nil, apiErr(api.CodeBadRequest, "role %q: want admin, technician or user", role)
	}
	if err := checkNewPassword(password); err != nil {
		return nil, apiErr(api.CodeBadRequest, "%v", err)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	u := &User{ID: newID("u-"), Name: name, Role: role, PasswordHash: hash, Created: time.Now()}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, apiErr(api.CodeConflict, "a user named %q exists", name)
		}
		return nil, err
	}
	s.audit(ctx, auditEntry{actor: actor, action: "user.create", target: name, ip: ip, ok: true, detail: "role " + string(role)})
	return u, nil
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request) (any, error) {
	admin, err := needAdmin(r)
	if err != nil {
		return nil, err
	}
	var req api.CreateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	u, err := s.createUser(r.Context(), admin.Name, req.Name, req.Role, req.Password, s.clientIP(r).String())
	if err != nil {
		return nil, err
	}
	return apiUser(u), nil
}

// updateUser applies an admin's change to an account.
func (s *Server) updateUser(ctx context.Context, admin *User, id string, req api.UpdateUserRequest, ip string) (*User, error) {
	u, err := s.st.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	var did []string
	endSessions := false
	if req.Role != nil && *req.Role != u.Role {
		if !req.Role.Valid() {
			return nil, apiErr(api.CodeBadRequest, "role %q: want admin, technician or user", *req.Role)
		}
		if u.ID == admin.ID {
			return nil, apiErr(api.CodeBadRequest, "you cannot change your own role")
		}
		did = append(did, fmt.Sprintf("role %s→%s", u.Role, *req.Role))
		u.Role = *req.Role
		endSessions = true
	}
	if req.Disabled != nil && *req.Disabled != u.Disabled {
		if u.ID == admin.ID {
			return nil, apiErr(api.CodeBadRequest, "you cannot disable yourself")
		}
		u.Disabled = *req.Disabled
		did = append(did, fmt.Sprintf("disabled=%v", u.Disabled))
		endSessions = endSessions || u.Disabled
	}
	if req.Password != nil {
		if err := checkNewPassword(*req.Password); err != nil {
			return nil, apiErr(api.CodeBadRequest, "%v", err)
		}
		if u.PasswordHash, err = s.hasher.Hash(ctx, *req.Password); err != nil {
			return nil, err
		}
		did = append(did, "password set")
		endSessions = true
	}
	if req.ResetTOTP && (u.TOTPSecret != nil || u.TOTPPending != nil) {
		u.TOTPSecret, u.TOTPPending = nil, nil
		if err := s.st.SetRecoveryCodes(ctx, u.ID, nil); err != nil {
			return nil, err
		}
		did = append(did, "second factor removed")
	}
	if len(did) == 0 {
		return u, nil
	}
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	if endSessions {
		s.st.DeleteUserAuthSessions(ctx, u.ID, nil)
	}
	s.audit(ctx, auditEntry{actor: admin.Name, action: "user.update", target: u.Name, ip: ip, ok: true, detail: strings.Join(did, ", ")})
	return u, nil
}

func (s *Server) apiUpdateUser(w http.ResponseWriter, r *http.Request) (any, error) {
	admin, err := needAdmin(r)
	if err != nil {
		return nil, err
	}
	var req api.UpdateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	u, err := s.updateUser(r.Context(), admin, r.PathValue("id"), req, s.clientIP(r).String())
	if err != nil {
		return nil, err
	}
	return apiUser(u), nil
}

func (s *Server) deleteUser(ctx context.Context, admin *User, id, ip string) error {
	if id == admin.ID {
		return apiErr(api.CodeBadRequest, "you cannot delete yourself")
	}
	u, err := s.st.UserByID(ctx, id)
	if err != nil {
		return err
	}
	hosts, _ := s.st.ListHosts(ctx, u.ID)
	if err := s.st.DeleteUser(ctx, id); err != nil {
		return err
	}
	for _, h := range hosts {
		if h.OwnerID == u.ID {
			s.st.Notify(ctx, "revoke", h.ID)
		}
	}
	s.audit(ctx, auditEntry{actor: admin.Name, action: "user.delete", target: u.Name, ip: ip, ok: true})
	return nil
}

func (s *Server) apiDeleteUser(w http.ResponseWriter, r *http.Request) (any, error) {
	admin, err := needAdmin(r)
	if err != nil {
		return nil, err
	}
	return nil, s.deleteUser(r.Context(), admin, r.PathValue("id"), s.clientIP(r).String())
}

// ---- hosts

// visibleHost returns the host if u may see it: owner, granted, or admin.
func (s *Server) visibleHost(ctx context.Context, u *User, id string) (*Host, error) {
	h, err := s.st.HostByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Role == api.RoleAdmin {
		return h, nil
	}
	ok, err := s.st.CanAccess(ctx, id, u.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return h, nil
}

func (s *Server) apiHosts(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	filter := u.ID
	if u.Role == api.RoleAdmin && r.URL.Query().Get("mine") == "" {
		filter = ""
	}
	hs, err := s.st.ListHosts(r.Context(), filter)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]api.Host, len(hs))
	for i := range hs {
		out[i] = apiHost(&hs[i], now)
	}
	return out, nil
}

func (s *Server) apiHost(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	h, err := s.visibleHost(r.Context(), u, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return apiHost(h, time.Now()), nil
}

// deleteHost removes a host (its owner or an admin) and closes its
// control connection wherever it is.
func (s *Server) deleteHost(ctx context.Context, u *User, id, ip string) error {
	h, err := s.visibleHost(ctx, u, id)
	if err != nil {
		return err
	}
	if h.OwnerID != u.ID && u.Role != api.RoleAdmin {
		return errForbidden
	}
	if err := s.st.DeleteHost(ctx, id); err != nil {
		return err
	}
	s.st.Notify(ctx, "revoke", id)
	s.audit(ctx, auditEntry{actor: u.Name, action: "host.delete", target: h.ID, ip: ip, ok: true, detail: h.Name})
	return nil
}

func (s *Server) apiDeleteHost(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	return nil, s.deleteHost(r.Context(), u, r.PathValue("id"), s.clientIP(r).String())
}

// setAccess grants or revokes a user's access to a host (its owner or an
// admin).
func (s *Server) setAccess(ctx context.Context, u *User, hostID, userName string, grant bool, ip string) error {
	h, err := s.visibleHost(ctx, u, hostID)
	if err != nil {
		return err
	}
	if h.OwnerID != u.ID && u.Role != api.RoleAdmin {
		return errForbidden
	}
	name, err := normalizeName(userName)
	if err != nil {
		return apiErr(api.CodeBadRequest, "%v", err)
	}
	other, err := s.st.UserByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return apiErr(api.CodeNotFound, "no user %q", name)
	}
	if err != nil {
		return err
	}
	action := "host.grant"
	if grant {
		if other.ID == h.OwnerID {
			return apiErr(api.CodeBadRequest, "%s owns the host", name)
		}
		err = s.st.GrantAccess(ctx, hostID, other.ID)
		if errors.Is(err, ErrConflict) {
			err = nil
		}
	} else {
		action = "host.revoke"
		err = s.st.RevokeAccess(ctx, hostID, other.ID)
	}
	if err != nil {
		return err
	}
	s.audit(ctx, auditEntry{actor: u.Name, action: action, target: h.ID, ip: ip, ok: true, detail: "user " + name})
	return nil
}

func (s *Server) apiGrant(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	var req api.AccessRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	return nil, s.setAccess(r.Context(), u, r.PathValue("id"), req.User, true, s.clientIP(r).String())
}

func (s *Server) apiRevoke(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	return nil, s.setAccess(r.Context(), u, r.PathValue("id"), r.PathValue("user"), false, s.clientIP(r).String())
}

// ---- enrollment

// enrollAlphabet leaves out letters that read alike (I, L, O, U and the
// digits 0, 1).
const enrollAlphabet = "ABCDEFGHJKMNPQRSTVWXYZ23456789"

// newEnrollCode returns a code "XXXX-XXXX-XXXX-XXXX" (~78 bits).
func newEnrollCode() string {
	var b strings.Builder
	for i := range 16 {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(enrollAlphabet[rand.N(len(enrollAlphabet))])
	}
	return b.String()
}

// normalizeEnrollCode uppercases a code and drops spaces and dashes.
func normalizeEnrollCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - ('a' - 'A')
		}
		return r
	}, code)
}

// makeEnrollCode makes a one-time enrollment code for owner.
func (s *Server) makeEnrollCode(ctx context.Context, by *User, ownerID, ip string) (*api.EnrollCode, error) {
	if ownerID == "" {
		ownerID = by.ID
	}
	if ownerID != by.ID && by.Role != api.RoleAdmin {
		return nil, errForbidden
	}
	owner, err := s.st.UserByID(ctx, ownerID)
	if errors.Is(err, ErrNotFound) {
		return nil, apiErr(api.CodeNotFound, "no such owner")
	}
	if err != nil {
		return nil, err
	}
	code := newEnrollCode()
	now := time.Now()
	e := &EnrollCode{ID: newID("e-"), Hash: tokenHash(normalizeEnrollCode(code)), OwnerID: owner.ID, CreatedBy: by.Name, Created: now, Expires: now.Add(s.cfg.EnrollTTL)}
	if err := s.st.CreateEnrollCode(ctx, e); err != nil {
		return nil, err
	}
	s.audit(ctx, auditEntry{actor: by.Name, action: "enroll.code", target: owner.Name, ip: ip, ok: true, detail: "code " + e.ID})
	return &api.EnrollCode{Code: code, OwnerID: owner.ID, Expires: e.Expires}, nil
}

func (s *Server) apiEnrollCode(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	var req api.EnrollCodeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	return s.makeEnrollCode(r.Context(), u, req.OwnerID, s.clientIP(r).String())
}

func (s *Server) apiEnroll(w http.ResponseWriter, r *http.Request) (any, error) {
	ip := s.clientIP(r)
	if ok, wait := s.limits.allowNet(ip, time.Now()); !ok {
		return nil, &rateLimitedError{wait}
	}
	var req api.EnrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	if err := validHostInfo(req.HostInfo); err != nil {
		return nil, err
	}
	code := normalizeEnrollCode(req.Code)
	if err := checkDeviceKey(req.DevicePub); err != nil || len(code) > 64 ||
		!ed25519.Verify(req.DevicePub, api.EnrollProofMessage(req.Code, req.DevicePub), req.Proof) {
		return nil, apiErr(api.CodeBadRequest, "device key proof invalid")
	}
	ctx := r.Context()
	e, err := s.st.TakeEnrollCode(ctx, tokenHash(code), time.Now())
	if errors.Is(err, ErrNotFound) {
		s.audit(ctx, auditEntry{actor: "-", action: "host.enroll", ip: ip.String(), detail: "unknown or expired code"})
		return nil, apiErr(api.CodeNotFound, "unknown or expired enrollment code")
	}
	if err != nil {
		return nil, err
	}
	h := &Host{ID: newID("h-"), Name: strings.TrimSpace(req.Name), OS: req.OS, Version: req.Version, OwnerID: e.OwnerID,
		DevicePub: req.DevicePub, Enrolled: time.Now()}
	if err := s.st.CreateHost(ctx, h); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, apiErr(api.CodeConflict, "this device key is enrolled already")
		}
		return nil, err
	}
	owner, _ := s.st.UserByID(ctx, e.OwnerID)
	ownerName := e.OwnerID
	if owner != nil {
		ownerName = owner.Name
	}
	s.audit(ctx, auditEntry{actor: "host:" + h.ID, action: "host.enroll", target: h.ID, ip: ip.String(), ok: true,
		detail: fmt.Sprintf("name %q owner %s code %s", h.Name, ownerName, e.ID)})
	return api.EnrollResponse{HostID: h.ID, OwnerID: e.OwnerID}, nil
}

// checkDeviceKey refuses what is not a canonically encoded Ed25519 public
// key, and the keys
// of small order: Ed25519 verification (RFC 8032, as crypto/ed25519 does
// it) accepts forged signatures for those with a fair probability, so a
// host enrolled with one could be impersonated by anyone.
func checkDeviceKey(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("device key of %d bytes", len(pub))
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return err
	}
	if !bytes.Equal(p.Bytes(), pub) {
		return errors.New("device key not canonically encoded")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errors.New("device key of small order")
	}
	return nil
}

// ---- sessions and tickets

// pairing signs the tickets of one end of a session.
func (s *Server) pairing(sess *Session, role proto.Role, owner, viewer string) (*api.Pairing, error) {
	relays := s.relays.pick()
	if len(relays) == 0 {
		return nil, apiErr(api.CodeUnavailable, "no relay configured")
	}
	now := time.Now()
	t := proto.Ticket{ID: proto.NewTicketID(), Session: sess.ID, HostID: sess.HostID, Role: role, Mode: sess.Mode, Relays: relays,
		IssuedAt: now, NotBefore: now, Expiry: now.Add(s.cfg.TicketLifetime)}
	b, err := s.keys.sign(&t)
	if err != nil {
		return nil, err
	}
	s.metrics.tickets.WithLabelValues(role.String()).Inc()
	p := &api.Pairing{SessionID: sess.ID, HostID: sess.HostID, Mode: sess.Mode, Role: role, Owner: owner, Viewer: viewer,
		Expires: t.Expiry.Truncate(time.Second)}
	for _, r := range relays {
		p.Tickets = append(p.Tickets, api.RelayTicket{RelayID: r.ID, URL: r.URL, Ticket: b})
	}
	return p, nil
}

// connect starts an unattended session of u with a host.
func (s *Server) connect(ctx context.Context, u *User, hostID, ip string) (*api.Pairing, error) {
	h, err := s.visibleHost(ctx, u, hostID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if !h.OnlineAt(now) {
		return nil, apiErr(api.CodeHostOffline, "%s is offline", h.Name)
	}
	refresh := newToken()
	sess := &Session{ID: proto.NewSessionID(), Mode: proto.ModeUnattended, HostID: h.ID, HostName: h.Name, ViewerID: u.ID,
		ViewerName: u.Name, RefreshHash: tokenHash(refresh), Start: now}
	viewer, err := s.pairing(sess, proto.RoleViewer, h.OwnerID, u.Name)
	if err != nil {
		return nil, err
	}
	host, err := s.pairing(sess, proto.RoleHost, h.OwnerID, u.Name)
	if err != nil {
		return nil, err
	}
	host.RefreshToken = refresh
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	if err := s.offer(ctx, hostTarget(h.ID), host); err != nil {
		return nil, err
	}
	s.metrics.sessions.WithLabelValues(sess.Mode.String()).Inc()
	s.audit(ctx, auditEntry{actor: u.Name, action: "session.start", target: sess.ID.String(), ip: ip, ok: true,
		detail: fmt.Sprintf("unattended host %s (%s)", h.ID, h.Name)})
	return viewer, nil
}

func (s *Server) apiConnect(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	return s.connect(r.Context(), u, r.PathValue("id"), s.clientIP(r).String())
}

func (s *Server) apiTickets(w http.ResponseWriter, r *http.Request) (any, error) {
	id, err := proto.ParseSessionID(r.PathValue("id"))
	if err != nil {
		return nil, apiErr(api.CodeBadRequest, "%v", err)
	}
	var req api.TicketsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	ctx := r.Context()
	sess, err := s.st.SessionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	actor := ""
	switch req.Role {
	case proto.RoleViewer:
		u := userFrom(ctx)
		if u == nil || u.ID != sess.ViewerID {
			return nil, errForbidden
		}
		actor = u.Name
	case proto.RoleHost:
		token, _ := s.requestToken(r)
		if token == "" || sess.RefreshHash == nil || subtle.ConstantTimeCompare(tokenHash(token), sess.RefreshHash) != 1 {
			return nil, errForbidden
		}
		actor = "host:" + sess.HostID
	default:
		return nil, apiErr(api.CodeBadRequest, "role must be host or viewer")
	}
	now := time.Now()
	if now.Sub(sess.Start) > absoluteTimeout {
		return nil, apiErr(api.CodeExpired, "the session is too old for new tickets")
	}
	owner := ""
	if sess.Mode == proto.ModeUnattended {
		if h, err := s.st.HostByID(ctx, sess.HostID); err == nil {
			owner = h.OwnerID
		}
	}
	p, err := s.pairing(sess, req.Role, owner, sess.ViewerName)
	if err != nil {
		return nil, err
	}
	if !sess.End.IsZero() {
		s.st.ReopenSession(ctx, id, now)
	}
	s.audit(ctx, auditEntry{actor: actor, action: "session.tickets", target: id.String(), ip: s.clientIP(r).String(), ok: true, detail: "role " + req.Role.String()})
	return p, nil
}

func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	f := SessionFilter{UserID: u.ID, Live: r.URL.Query().Get("live") == "1"}
	if u.Role == api.RoleAdmin {
		f.UserID = ""
	}
	ss, err := s.st.ListSessions(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := make([]api.Session, len(ss))
	for i := range ss {
		out[i] = apiSession(&ss[i])
	}
	return out, nil
}

// ---- support

// nameplateLength grows with the pending support requests, so that a
// random free nameplate is quick to find (SECURITY.md §4.1).
func nameplateLength(pending int) int {
	switch {
	case pending < 100:
		return 3
	case pending < 1000:
		return 4
	}
	return 5
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0' + byte(rand.N(10))
	}
	return string(b)
}

func validNameplate(np string) bool {
	if len(np) < 3 || len(np) > 5 {
		return false
	}
	for _, c := range []byte(np) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (s *Server) apiSupport(w http.ResponseWriter, r *http.Request) (any, error) {
	ip := s.clientIP(r)
	if ok, wait := s.limits.allowNet(ip, time.Now()); !ok {
		return nil, &rateLimitedError{wait}
	}
	var req api.SupportRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	if err := validHostInfo(req.HostInfo); err != nil {
		return nil, err
	}
	ctx := r.Context()
	now := time.Now()
	pending, err := s.st.CountPendingSupport(ctx, now)
	if err != nil {
		return nil, err
	}
	token := newToken()
	sp := &Support{SessionID: proto.NewSessionID(), HostID: newID("s-"), WaitHash: tokenHash(token), Info: req.HostInfo,
		IP: ip.String(), Created: now, Expires: now.Add(s.cfg.SupportTTL)}
	for n, tries := nameplateLength(pending), 0; ; tries++ {
		if tries > 0 && tries%8 == 0 && n < 5 {
			n++
		}
		if tries >= 40 {
			return nil, apiErr(api.CodeUnavailable, "no free nameplate: try again")
		}
		sp.Nameplate = randomDigits(n)
		err = s.st.CreateSupport(ctx, sp)
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, auditEntry{actor: "support:" + sp.Nameplate, action: "support.create", target: sp.SessionID.String(), ip: ip.String(), ok: true,
		detail: fmt.Sprintf("name %q", req.Name)})
	return api.SupportResponse{Nameplate: sp.Nameplate, SessionID: sp.SessionID, HostID: sp.HostID, Expires: sp.Expires, WaitToken: token}, nil
}

// join lets a technician join the support session behind a nameplate.
func (s *Server) join(ctx context.Context, u *User, nameplate, ip string) (*api.Pairing, error) {
	if !u.Role.CanSupport() {
		return nil, errForbidden
	}
	ok, wait := s.limits.allowAccount("join:"+u.ID, time.Now())
	if !ok {
		return nil, &rateLimitedError{wait}
	}
	if !validNameplate(nameplate) {
		return nil, apiErr(api.CodeBadRequest, "a nameplate is 3 to 5 digits")
	}
	sp, err := s.st.ClaimSupport(ctx, nameplate, u.ID, time.Now())
	if errors.Is(err, ErrNotFound) {
		s.limits.failure("join:"+u.ID, time.Now())
		s.audit(ctx, auditEntry{actor: u.Name, action: "support.join", target: nameplate, ip: ip, detail: "no pending request"})
		return nil, apiErr(api.CodeNotFound, "no support request %s is waiting", nameplate)
	}
	if err != nil {
		return nil, err
	}
	s.limits.success("join:" + u.ID)
	sess := &Session{ID: sp.SessionID, Mode: proto.ModeSupport, HostID: sp.HostID, HostName: sp.Info.Name, ViewerID: u.ID,
		ViewerName: u.Name, Nameplate: sp.Nameplate, Start: time.Now()}
	refresh := newToken()
	sess.RefreshHash = tokenHash(refresh)
	viewer, err := s.pairing(sess, proto.RoleViewer, "", u.Name)
	if err != nil {
		return nil, err
	}
	host, err := s.pairing(sess, proto.RoleHost, "", u.Name)
	if err != nil {
		return nil, err
	}
	host.RefreshToken = refresh
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	if err := s.offer(ctx, supportTarget(sp.WaitHash), host); err != nil {
		return nil, err
	}
	s.metrics.sessions.WithLabelValues(sess.Mode.String()).Inc()
	s.audit(ctx, auditEntry{actor: u.Name, action: "session.start", target: sess.ID.String(), ip: ip, ok: true,
		detail: fmt.Sprintf("support nameplate %s (%s)", sp.Nameplate, sp.Info.Name)})
	return viewer, nil
}

func (s *Server) apiJoin(w http.ResponseWriter, r *http.Request) (any, error) {
	u, err := needUser(r)
	if err != nil {
		return nil, err
	}
	var req api.JoinRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	return s.join(r.Context(), u, req.Nameplate, s.clientIP(r).String())
}

// ---- relays

func (s *Server) apiTicketKeys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=60")
	io.WriteString(w, proto.FormatTicketKeys(s.keys.public()))
}

func (s *Server) apiRelayReport(w http.ResponseWriter, r *http.Request) (any, error) {
	token, _ := s.requestToken(r)
	if s.cfg.RelayReportToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.RelayReportToken)) != 1 {
		return nil, errForbidden
	}
	var rep api.RelaySessionReport
	if err := decodeJSON(w, r, &rep); err != nil {
		return nil, err
	}
	if err := rep.Validate(); err != nil {
		return nil, apiErr(api.CodeBadRequest, "%v", err)
	}
	if !s.relays.has(rep.RelayID) {
		return nil, apiErr(api.CodeBadRequest, "relay %q is not registered", rep.RelayID)
	}
	return nil, s.ReportRelaySession(r.Context(), rep)
}

func (s *Server) apiRelays(w http.ResponseWriter, r *http.Request) (any, error) {
	if _, err := needAdmin(r); err != nil {
		return nil, err
	}
	return s.relays.status(), nil
}

// ---- audit

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	if _, err := needAdmin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := api.ParseAuditQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, apiErr(api.CodeBadRequest, "%v", err))
		return
	}
	es, err := s.st.QueryAudit(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAudit(w, r.URL.Query().Get("format"), es)
}

// writeAudit writes audit entries as JSON (default) or CSV.
func writeAudit(w http.ResponseWriter, format string, es []api.AuditEntry) {
	if es == nil {
		es = []api.AuditEntry{}
	}
	if format != "csv" {
		if format == "json-download" {
			w.Header().Set("Content-Disposition", `attachment; filename="deskway-audit.json"`)
		}
		writeJSON(w, http.StatusOK, es)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="deskway-audit.csv"`)
	WriteAuditCSV(w, es)
}

// csvSafe defuses cells that spreadsheets would run as formulas.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
