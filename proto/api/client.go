package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/deskway/deskway/proto"
)

// MaxResponseBody bounds what the client reads of a response.
const MaxResponseBody = 8 << 20

// Client calls the broker's API.
//
// A Client is safe for concurrent use as long as its fields are not
// changed while calls are under way.
type Client struct {
	// BaseURL is the broker's public URL, e.g. "https://broker.example.com".
	BaseURL string
	// HTTPClient makes the requests; nil means http.DefaultClient. Give it
	// a cookie jar to use the console's session cookie instead of Token.
	HTTPClient *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>": a login
	// token from Login, a relay report token, or a session's refresh token.
	Token string
	// UserAgent, when set, is sent in the User-Agent header.
	UserAgent string
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

func (c *Client) url(path string) string {
	return strings.TrimRight(c.BaseURL, "/") + Prefix + path
}

// do sends in (JSON, unless nil) and decodes the response into out (unless
// nil). A non-2xx response becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.doToken(ctx, method, path, c.Token, in, out)
}

func (c *Client) doToken(ctx context.Context, method, path, token string, in, out any) error {
	if c.BaseURL == "" {
		return ErrNoBaseURL
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("api: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return fmt.Errorf("api: %s %s: read response: %w", method, path, err)
	}
	if len(b) > MaxResponseBody {
		return fmt.Errorf("api: %s %s: response exceeds %d bytes", method, path, MaxResponseBody)
	}
	if resp.StatusCode/100 != 2 {
		return responseError(resp, b)
	}
	if out == nil {
		return nil
	}
	if p, ok := out.(*[]byte); ok {
		*p = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("api: %s %s: decode response: %w", method, path, err)
	}
	return nil
}

func responseError(resp *http.Response, body []byte) error {
	e := &Error{Status: resp.StatusCode}
	var eb ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	} else {
		e.Code = CodeInternal
		e.Message = http.StatusText(resp.StatusCode)
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// Login signs in. Put the returned token in c.Token for the calls that
// follow.
func (c *Client) Login(ctx context.Context, req LoginRequest) (*LoginResponse, error) {
	var resp LoginResponse
	return &resp, c.do(ctx, http.MethodPost, "/login", req, &resp)
}

// Logout ends the session of c.Token (or of the cookie).
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/logout", nil, nil)
}

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodGet, "/me", nil, &u)
}

// Hosts lists the hosts the user may reach (for admins: every host).
func (c *Client) Hosts(ctx context.Context) ([]Host, error) {
	var hs []Host
	return hs, c.do(ctx, http.MethodGet, "/hosts", nil, &hs)
}

// Host returns one host.
func (c *Client) Host(ctx context.Context, id string) (*Host, error) {
	var h Host
	return &h, c.do(ctx, http.MethodGet, "/hosts/"+url.PathEscape(id), nil, &h)
}

// DeleteHost removes a host (its owner or an admin). Its control
// connection is closed and its device key no longer accepted.
func (c *Client) DeleteHost(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/hosts/"+url.PathEscape(id), nil, nil)
}

// GrantAccess lets the named user reach the host (its owner or an admin).
func (c *Client) GrantAccess(ctx context.Context, hostID, userName string) error {
	return c.do(ctx, http.MethodPost, "/hosts/"+url.PathEscape(hostID)+"/access", AccessRequest{User: userName}, nil)
}

// RevokeAccess takes the named user's access to the host away.
func (c *Client) RevokeAccess(ctx context.Context, hostID, userName string) error {
	return c.do(ctx, http.MethodDelete, "/hosts/"+url.PathEscape(hostID)+"/access/"+url.PathEscape(userName), nil, nil)
}

// Connect starts an unattended session with a host: the broker offers it
// to the host over its control connection and returns the viewer's end.
func (c *Client) Connect(ctx context.Context, hostID string) (*Pairing, error) {
	var p Pairing
	return &p, c.do(ctx, http.MethodPost, "/hosts/"+url.PathEscape(hostID)+"/connect", nil, &p)
}

// NewEnrollCode makes a one-time enrollment code. ownerID "" means the
// signed-in user; only admins may name someone else.
func (c *Client) NewEnrollCode(ctx context.Context, ownerID string) (*EnrollCode, error) {
	var e EnrollCode
	return &e, c.do(ctx, http.MethodPost, "/enroll-codes", EnrollCodeRequest{OwnerID: ownerID}, &e)
}

// Enroll registers this machine as a host with an enrollment code,
// proving possession of the device key.
func (c *Client) Enroll(ctx context.Context, code string, key ed25519.PrivateKey, info HostInfo) (*EnrollResponse, error) {
	pub := key.Public().(ed25519.PublicKey)
	req := EnrollRequest{
		Code:      code,
		DevicePub: pub,
		Proof:     ed25519.Sign(key, EnrollProofMessage(code, pub)),
		HostInfo:  info,
	}
	var resp EnrollResponse
	return &resp, c.doToken(ctx, http.MethodPost, "/enroll", "", req, &resp)
}

// Support asks for a support nameplate (no account needed).
func (c *Client) Support(ctx context.Context, info HostInfo) (*SupportResponse, error) {
	var resp SupportResponse
	return &resp, c.doToken(ctx, http.MethodPost, "/support", "", SupportRequest{HostInfo: info}, &resp)
}

// Join joins the support session with this nameplate (technicians and
// admins) and returns the viewer's end.
func (c *Client) Join(ctx context.Context, nameplate string) (*Pairing, error) {
	var p Pairing
	return &p, c.do(ctx, http.MethodPost, "/support/join", JoinRequest{Nameplate: nameplate}, &p)
}

// Tickets asks for fresh tickets of a live session, for fail-over. The
// viewer calls it signed in; the host passes the refresh token of its
// offer.
func (c *Client) Tickets(ctx context.Context, id proto.SessionID, role proto.Role, refreshToken string) (*Pairing, error) {
	token := c.Token
	if refreshToken != "" {
		token = refreshToken
	}
	var p Pairing
	return &p, c.doToken(ctx, http.MethodPost, "/sessions/"+id.String()+"/tickets", token, TicketsRequest{Role: role}, &p)
}

// TicketKeys returns the broker's ticket public keys in the text format
// of proto.FormatTicketKeys.
func (c *Client) TicketKeys(ctx context.Context) ([]byte, error) {
	var b []byte
	return b, c.doToken(ctx, http.MethodGet, "/ticket-keys", "", nil, &b)
}

// ReportRelaySession posts a relay's session report; c.Token must be the
// relay report token.
func (c *Client) ReportRelaySession(ctx context.Context, r RelaySessionReport) error {
	return c.do(ctx, http.MethodPost, "/relay/report", r, nil)
}

// Sessions lists session records: the user's own, or for admins all of
// them. live limits the list to sessions not yet ended.
func (c *Client) Sessions(ctx context.Context, live bool) ([]Session, error) {
	path := "/sessions"
	if live {
		path += "?live=1"
	}
	var ss []Session
	return ss, c.do(ctx, http.MethodGet, path, nil, &ss)
}

// Users lists the accounts (admins).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var us []User
	return us, c.do(ctx, http.MethodGet, "/users", nil, &us)
}

// CreateUser adds an account (admins).
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodPost, "/users", req, &u)
}

// UpdateUser changes an account (admins).
func (c *Client) UpdateUser(ctx context.Context, id string, req UpdateUserRequest) (*User, error) {
	var u User
	return &u, c.do(ctx, http.MethodPatch, "/users/"+url.PathEscape(id), req, &u)
}

// DeleteUser removes an account and the hosts it owns (admins).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/users/"+url.PathEscape(id), nil, nil)
}

// Relays lists the relay registry with health (admins).
func (c *Client) Relays(ctx context.Context) ([]RelayStatus, error) {
	var rs []RelayStatus
	return rs, c.do(ctx, http.MethodGet, "/relays", nil, &rs)
}

// Audit reads the audit log, newest first (admins).
func (c *Client) Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	var es []AuditEntry
	return es, c.do(ctx, http.MethodGet, "/audit?"+q.Values().Encode(), nil, &es)
}

// ErrNoBaseURL is returned by calls on a Client without a BaseURL.
var ErrNoBaseURL = errors.New("api: client has no base URL")
