package broker

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/deskway/deskway/proto/api"
)

// Admin does the administration that the command line offers (users,
// enrollment codes, the audit log) directly on a store, without a running
// Server: what an admin needs before the first sign-in, or from a script.
// Every change is in the audit log under the given actor.
//
// An Admin is safe for concurrent use.
type Admin struct {
	s     *Server
	actor *User
}

// NewAdmin returns an Admin acting as actor (e.g. "cli:root") on st.
func NewAdmin(st Store, actor string, log *slog.Logger) (*Admin, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := newPasswordHasher(DefaultPasswordParams, 1)
	if err != nil {
		return nil, err
	}
	s := &Server{st: st, hasher: h, log: log, cfg: Config{EnrollTTL: 10 * time.Minute}}
	return &Admin{s: s, actor: &User{Name: actor, Role: api.RoleAdmin}}, nil
}

// UseDataKey checks dataKey against the database and peppers the
// password hashes the Admin makes with it, as the server does. Without
// it, a password set here is peppered at its first sign-in.
func (a *Admin) UseDataKey(ctx context.Context, dataKey []byte) error {
	seal, err := newSealer(dataKey)
	if err != nil {
		return err
	}
	if err := checkDataKey(ctx, a.s.st, seal); err != nil {
		return err
	}
	return a.s.hasher.setPepper(dataKey)
}

// AddUser creates an account.
func (a *Admin) AddUser(ctx context.Context, name string, role api.UserRole, password string) (*User, error) {
	return a.s.createUser(ctx, a.actor.Name, name, role, password, "")
}

func (a *Admin) user(ctx context.Context, name string) (*User, error) {
	n, err := normalizeName(name)
	if err != nil {
		return nil, err
	}
	u, err := a.s.st.UserByName(ctx, n)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("no user %q", n)
	}
	return u, err
}

func (a *Admin) update(ctx context.Context, name string, req api.UpdateUserRequest) error {
	u, err := a.user(ctx, name)
	if err != nil {
		return err
	}
	_, err = a.s.updateUser(ctx, a.actor, u.ID, req, "")
	return err
}

// SetPassword sets a user's password and ends their sessions.
func (a *Admin) SetPassword(ctx context.Context, name, password string) error {
	return a.update(ctx, name, api.UpdateUserRequest{Password: &password})
}

// SetRole changes a user's role and ends their sessions.
func (a *Admin) SetRole(ctx context.Context, name string, role api.UserRole) error {
	return a.update(ctx, name, api.UpdateUserRequest{Role: &role})
}

// SetDisabled disables (ending their sessions) or enables a user.
func (a *Admin) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return a.update(ctx, name, api.UpdateUserRequest{Disabled: &disabled})
}

// ResetTOTP removes a user's second factor and recovery codes (a lost
// phone).
func (a *Admin) ResetTOTP(ctx context.Context, name string) error {
	return a.update(ctx, name, api.UpdateUserRequest{ResetTOTP: true})
}

// DeleteUser deletes a user and the hosts they own.
func (a *Admin) DeleteUser(ctx context.Context, name string) error {
	u, err := a.user(ctx, name)
	if err != nil {
		return err
	}
	return a.s.deleteUser(ctx, a.actor, u.ID, "")
}

// Users lists the accounts.
func (a *Admin) Users(ctx context.Context) ([]User, error) { return a.s.st.ListUsers(ctx) }

// EnrollCode makes a one-time enrollment code for a host owned by the
// named user.
func (a *Admin) EnrollCode(ctx context.Context, owner string) (*api.EnrollCode, error) {
	u, err := a.user(ctx, owner)
	if err != nil {
		return nil, err
	}
	return a.s.makeEnrollCode(ctx, a.actor, u.ID, "")
}

// WriteAuditCSV writes audit entries as CSV with a header line. Cells
// that a spreadsheet would run as a formula are defused with a quote.
func WriteAuditCSV(w io.Writer, es []api.AuditEntry) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "time", "actor", "action", "target", "ip", "ok", "detail"})
	for _, e := range es {
		cw.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.Format(time.RFC3339Nano), csvSafe(e.Actor), csvSafe(e.Action),
			csvSafe(e.Target), csvSafe(e.IP), strconv.FormatBool(e.OK), csvSafe(e.Detail)})
	}
	cw.Flush()
	return cw.Error()
}
