package broker

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// sqlStore is the Store on database/sql shared by the SQLite and the
// PostgreSQL store. Queries are written with '?' placeholders; the dialect
// rewrites them. Writes (and every transaction) go to w; reads to r, which
// is the same pool on PostgreSQL and a separate read-only pool on SQLite,
// whose writes are serialised on one connection.
type sqlStore struct {
	w, r    *sql.DB
	dialect dialect
	// Notifications: set by the concrete store.
	notify func(ctx context.Context, topic, payload string) error
	listen func(ctx context.Context, fn func(topic, payload string)) error
	close  func() error
}

type dialect struct {
	name      string // "sqlite" or "postgres"
	dollar    bool   // placeholders are $1, $2, ...
	forUpdate string // row lock suffix inside transactions
}

//go:embed migrations
var migrations embed.FS

// rebind rewrites '?' placeholders for the dialect. Queries here never
// hold a '?' in a literal.
func (d dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *sqlStore) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, s.dialect.rebind(query), args...)
}

func (s *sqlStore) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, s.dialect.rebind(query), args...)
}

func (s *sqlStore) row(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.dialect.rebind(query), args...)
}

// tx runs fn in a transaction on the writer.
func (s *sqlStore) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// migrate applies the embedded migrations not yet applied, in order.
// lock, if set, serialises concurrent migrators (several instances
// starting at once on PostgreSQL).
func (s *sqlStore) migrate(ctx context.Context, conn *sql.Conn) error {
	dir := path.Join("migrations", s.dialect.name)
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("broker: migrate: %w", err)
	}
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("broker: migrate: %s: no version number", name)
		}
		var n int
		if err := conn.QueryRowContext(ctx, s.dialect.rebind(`SELECT count(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
			return fmt.Errorf("broker: migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("broker: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("broker: migrate %s: %w", path.Base(name), err)
		}
		if _, err := tx.ExecContext(ctx, s.dialect.rebind(`INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`), v, ts(time.Now())); err != nil {
			tx.Rollback()
			return fmt.Errorf("broker: migrate %s: %w", path.Base(name), err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("broker: migrate %s: %w", path.Base(name), err)
		}
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs a query on the reader and scans every row with scan.
func queryAll[T any](ctx context.Context, s *sqlStore, scan func(scanner) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, s.r, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// ts and fromTS convert times to the stored Unix microseconds (0 = zero
// time).
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromTS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func inserted(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrConflict
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// wrap prefixes a store error with the operation, keeping the sentinels
// matchable.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("broker: store: %s: %w", op, err)
}

// ---- users

const userCols = `id, name, role, password_hash, disabled, totp_secret, totp_pending, totp_step, created, last_login`

func scanUser(sc scanner) (*User, error) {
	var u User
	var role string
	var created, last int64
	if err := sc.Scan(&u.ID, &u.Name, &role, &u.PasswordHash, &u.Disabled, &u.TOTPSecret, &u.TOTPPending, &u.TOTPStep, &created, &last); err != nil {
		return nil, err
	}
	u.Role = api.UserRole(role)
	u.Created, u.LastLogin = fromTS(created), fromTS(last)
	return &u, nil
}

func (s *sqlStore) CreateUser(ctx context.Context, u *User) error {
	return wrap("create user", inserted(s.exec(ctx, s.w,
		`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.ID, u.Name, string(u.Role), u.PasswordHash, u.Disabled, u.TOTPSecret, u.TOTPPending, u.TOTPStep, ts(u.Created), ts(u.LastLogin))))
}

func (s *sqlStore) UserByID(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.row(ctx, s.r, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, wrap("user by id", notFound(err))
}

func (s *sqlStore) UserByName(ctx context.Context, name string) (*User, error) {
	u, err := scanUser(s.row(ctx, s.r, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	return u, wrap("user by name", notFound(err))
}

func (s *sqlStore) ListUsers(ctx context.Context) ([]User, error) {
	us, err := queryAll(ctx, s, scanUser, `SELECT `+userCols+` FROM users ORDER BY name`)
	return us, wrap("list users", err)
}

func (s *sqlStore) UpdateUser(ctx context.Context, u *User) error {
	return wrap("update user", affected(s.exec(ctx, s.w,
		`UPDATE users SET role = ?, password_hash = ?, disabled = ?, totp_secret = ?, totp_pending = ?, last_login = ? WHERE id = ?`,
		string(u.Role), u.PasswordHash, u.Disabled, u.TOTPSecret, u.TOTPPending, ts(u.LastLogin), u.ID)))
}

func (s *sqlStore) DeleteUser(ctx context.Context, id string) error {
	return wrap("delete user", affected(s.exec(ctx, s.w, `DELETE FROM users WHERE id = ?`, id)))
}

func (s *sqlStore) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := s.exec(ctx, s.w, `UPDATE users SET totp_step = ? WHERE id = ? AND totp_step < ?`, step, userID, step)
	if err != nil {
		return false, wrap("advance totp step", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("advance totp step", err)
}

func (s *sqlStore) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return wrap("set recovery codes", s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := s.exec(ctx, tx, `INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, h); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (s *sqlStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error) {
	res, err := s.exec(ctx, s.w, `DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?`, userID, hash)
	if err != nil {
		return false, wrap("use recovery code", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("use recovery code", err)
}

func (s *sqlStore) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.row(ctx, s.r, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID).Scan(&n)
	return n, wrap("count recovery codes", err)
}

// ---- login sessions

const authCols = `token_hash, user_id, api, pending, attempts, created, seen, expires, ip, user_agent`

func (s *sqlStore) CreateAuthSession(ctx context.Context, a *AuthSession) error {
	return wrap("create auth session", inserted(s.exec(ctx, s.w,
		`INSERT INTO auth_sessions (`+authCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		a.TokenHash, a.UserID, a.API, a.Pending, a.Attempts, ts(a.Created), ts(a.Seen), ts(a.Expires), a.IP, a.UserAgent)))
}

func (s *sqlStore) AuthSession(ctx context.Context, hash []byte) (*AuthSession, error) {
	var a AuthSession
	var created, seen, expires int64
	err := s.row(ctx, s.r, `SELECT `+authCols+` FROM auth_sessions WHERE token_hash = ?`, hash).
		Scan(&a.TokenHash, &a.UserID, &a.API, &a.Pending, &a.Attempts, &created, &seen, &expires, &a.IP, &a.UserAgent)
	if err != nil {
		return nil, wrap("auth session", notFound(err))
	}
	a.Created, a.Seen, a.Expires = fromTS(created), fromTS(seen), fromTS(expires)
	return &a, nil
}

func (s *sqlStore) TouchAuthSession(ctx context.Context, hash []byte, seen time.Time) error {
	return wrap("touch auth session", affected(s.exec(ctx, s.w, `UPDATE auth_sessions SET seen = ? WHERE token_hash = ?`, ts(seen), hash)))
}

func (s *sqlStore) BumpAuthAttempts(ctx context.Context, hash []byte) (int, error) {
	var n int
	err := s.row(ctx, s.w, `UPDATE auth_sessions SET attempts = attempts + 1 WHERE token_hash = ? RETURNING attempts`, hash).Scan(&n)
	return n, wrap("bump auth attempts", notFound(err))
}

func (s *sqlStore) DeleteAuthSession(ctx context.Context, hash []byte) error {
	return wrap("delete auth session", affected(s.exec(ctx, s.w, `DELETE FROM auth_sessions WHERE token_hash = ?`, hash)))
}

func (s *sqlStore) DeleteUserAuthSessions(ctx context.Context, userID string, keep []byte) (int, error) {
	if keep == nil {
		keep = []byte{}
	}
	res, err := s.exec(ctx, s.w, `DELETE FROM auth_sessions WHERE user_id = ? AND token_hash <> ?`, userID, keep)
	if err != nil {
		return 0, wrap("delete user auth sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("delete user auth sessions", err)
}

// ---- enrollment codes

const enrollCols = `id, hash, owner_id, created_by, created, expires`

func scanEnroll(sc scanner) (*EnrollCode, error) {
	var e EnrollCode
	var created, expires int64
	if err := sc.Scan(&e.ID, &e.Hash, &e.OwnerID, &e.CreatedBy, &created, &expires); err != nil {
		return nil, err
	}
	e.Created, e.Expires = fromTS(created), fromTS(expires)
	return &e, nil
}

func (s *sqlStore) CreateEnrollCode(ctx context.Context, e *EnrollCode) error {
	return wrap("create enroll code", inserted(s.exec(ctx, s.w,
		`INSERT INTO enroll_codes (`+enrollCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		e.ID, e.Hash, e.OwnerID, e.CreatedBy, ts(e.Created), ts(e.Expires))))
}

func (s *sqlStore) ListEnrollCodes(ctx context.Context, ownerID string, now time.Time) ([]EnrollCode, error) {
	es, err := queryAll(ctx, s, scanEnroll, `SELECT `+enrollCols+` FROM enroll_codes WHERE expires > ? AND (? = '' OR owner_id = ?) ORDER BY created`,
		ts(now), ownerID, ownerID)
	return es, wrap("list enroll codes", err)
}

func (s *sqlStore) DeleteEnrollCode(ctx context.Context, id string) error {
	return wrap("delete enroll code", affected(s.exec(ctx, s.w, `DELETE FROM enroll_codes WHERE id = ?`, id)))
}

func (s *sqlStore) TakeEnrollCode(ctx context.Context, hash []byte, now time.Time) (*EnrollCode, error) {
	e, err := scanEnroll(s.row(ctx, s.w, `DELETE FROM enroll_codes WHERE hash = ? AND expires > ? RETURNING `+enrollCols, hash, ts(now)))
	return e, wrap("take enroll code", notFound(err))
}

// ---- hosts

const hostCols = `h.id, h.name, h.os, h.version, h.owner_id, u.name, h.device_pub, h.enrolled, h.instance, h.conn_id, h.seen_at`

func scanHost(sc scanner) (*Host, error) {
	var h Host
	var enrolled, seen int64
	if err := sc.Scan(&h.ID, &h.Name, &h.OS, &h.Version, &h.OwnerID, &h.OwnerName, &h.DevicePub, &enrolled, &h.Instance, &h.ConnID, &seen); err != nil {
		return nil, err
	}
	h.Enrolled, h.SeenAt = fromTS(enrolled), fromTS(seen)
	return &h, nil
}

func (s *sqlStore) CreateHost(ctx context.Context, h *Host) error {
	return wrap("create host", inserted(s.exec(ctx, s.w,
		`INSERT INTO hosts (id, name, os, version, owner_id, device_pub, enrolled) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		h.ID, h.Name, h.OS, h.Version, h.OwnerID, h.DevicePub, ts(h.Enrolled))))
}

// hostUsers fills in the names of the users granted each host.
func (s *sqlStore) hostUsers(ctx context.Context, hs []Host) error {
	if len(hs) == 0 {
		return nil
	}
	idx := make(map[string]int, len(hs))
	args := make([]any, len(hs))
	for i, h := range hs {
		idx[h.ID] = i
		args[i] = h.ID
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(hs)), ", ")
	rows, err := s.query(ctx, s.r, `SELECT a.host_id, u.name FROM host_access a JOIN users u ON u.id = a.user_id WHERE a.host_id IN (`+ph+`) ORDER BY u.name`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hid, name string
		if err := rows.Scan(&hid, &name); err != nil {
			return err
		}
		hs[idx[hid]].Users = append(hs[idx[hid]].Users, name)
	}
	return rows.Err()
}

func (s *sqlStore) HostByID(ctx context.Context, id string) (*Host, error) {
	h, err := scanHost(s.row(ctx, s.r, `SELECT `+hostCols+` FROM hosts h JOIN users u ON u.id = h.owner_id WHERE h.id = ?`, id))
	if err != nil {
		return nil, wrap("host by id", notFound(err))
	}
	hs := []Host{*h}
	if err := s.hostUsers(ctx, hs); err != nil {
		return nil, wrap("host by id", err)
	}
	return &hs[0], nil
}

func (s *sqlStore) ListHosts(ctx context.Context, userID string) ([]Host, error) {
	hs, err := queryAll(ctx, s, scanHost, `SELECT `+hostCols+` FROM hosts h JOIN users u ON u.id = h.owner_id
		WHERE ? = '' OR h.owner_id = ? OR EXISTS (SELECT 1 FROM host_access a WHERE a.host_id = h.id AND a.user_id = ?)
		ORDER BY h.name, h.id`, userID, userID, userID)
	if err != nil {
		return nil, wrap("list hosts", err)
	}
	return hs, wrap("list hosts", s.hostUsers(ctx, hs))
}

func (s *sqlStore) UpdateHostInfo(ctx context.Context, id string, info api.HostInfo) error {
	return wrap("update host info", affected(s.exec(ctx, s.w,
		`UPDATE hosts SET name = ?, os = ?, version = ? WHERE id = ?`, info.Name, info.OS, info.Version, id)))
}

func (s *sqlStore) DeleteHost(ctx context.Context, id string) error {
	return wrap("delete host", affected(s.exec(ctx, s.w, `DELETE FROM hosts WHERE id = ?`, id)))
}

func (s *sqlStore) CanAccess(ctx context.Context, hostID, userID string) (bool, error) {
	var n int
	err := s.row(ctx, s.r, `SELECT count(*) FROM hosts h WHERE h.id = ? AND (h.owner_id = ? OR EXISTS
		(SELECT 1 FROM host_access a WHERE a.host_id = h.id AND a.user_id = ?))`, hostID, userID, userID).Scan(&n)
	return n > 0, wrap("can access", err)
}

func (s *sqlStore) GrantAccess(ctx context.Context, hostID, userID string) error {
	return wrap("grant access", inserted(s.exec(ctx, s.w,
		`INSERT INTO host_access (host_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, hostID, userID)))
}

func (s *sqlStore) RevokeAccess(ctx context.Context, hostID, userID string) error {
	return wrap("revoke access", affected(s.exec(ctx, s.w, `DELETE FROM host_access WHERE host_id = ? AND user_id = ?`, hostID, userID)))
}

func (s *sqlStore) SetHostOnline(ctx context.Context, hostID, instance, connID string, now time.Time) error {
	return wrap("set host online", affected(s.exec(ctx, s.w,
		`UPDATE hosts SET instance = ?, conn_id = ?, seen_at = ? WHERE id = ?`, instance, connID, ts(now), hostID)))
}

func (s *sqlStore) SetHostOffline(ctx context.Context, hostID, connID string, now time.Time) error {
	_, err := s.exec(ctx, s.w, `UPDATE hosts SET instance = '', conn_id = '', seen_at = ? WHERE id = ? AND conn_id = ?`, ts(now), hostID, connID)
	return wrap("set host offline", err)
}

func (s *sqlStore) TouchInstanceHosts(ctx context.Context, instance string, now time.Time) error {
	_, err := s.exec(ctx, s.w, `UPDATE hosts SET seen_at = ? WHERE instance = ? AND conn_id <> ''`, ts(now), instance)
	return wrap("touch instance hosts", err)
}

func (s *sqlStore) ClearInstanceHosts(ctx context.Context, instance string) error {
	_, err := s.exec(ctx, s.w, `UPDATE hosts SET instance = '', conn_id = '' WHERE instance = ?`, instance)
	return wrap("clear instance hosts", err)
}

// ---- support nameplates

const supportCols = `nameplate, session_id, host_id, wait_hash, name, os, version, ip, created, expires, technician_id`

func scanSupport(sc scanner) (*Support, error) {
	var sp Support
	var sid []byte
	var created, expires int64
	if err := sc.Scan(&sp.Nameplate, &sid, &sp.HostID, &sp.WaitHash, &sp.Info.Name, &sp.Info.OS, &sp.Info.Version, &sp.IP, &created, &expires, &sp.TechnicianID); err != nil {
		return nil, err
	}
	if len(sid) != len(sp.SessionID) {
		return nil, fmt.Errorf("session id of %d bytes", len(sid))
	}
	copy(sp.SessionID[:], sid)
	sp.Created, sp.Expires = fromTS(created), fromTS(expires)
	return &sp, nil
}

func (s *sqlStore) CreateSupport(ctx context.Context, sp *Support) error {
	return wrap("create support", s.tx(ctx, func(tx *sql.Tx) error {
		// An expired pending request no longer holds its nameplate.
		if _, err := s.exec(ctx, tx, `DELETE FROM support WHERE nameplate = ? AND technician_id = '' AND expires <= ?`, sp.Nameplate, ts(sp.Created)); err != nil {
			return err
		}
		return inserted(s.exec(ctx, tx, `INSERT INTO support (`+supportCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			sp.Nameplate, sp.SessionID[:], sp.HostID, sp.WaitHash, sp.Info.Name, sp.Info.OS, sp.Info.Version, sp.IP, ts(sp.Created), ts(sp.Expires), sp.TechnicianID))
	}))
}

func (s *sqlStore) SupportByNameplate(ctx context.Context, nameplate string, now time.Time) (*Support, error) {
	sp, err := scanSupport(s.row(ctx, s.r, `SELECT `+supportCols+` FROM support WHERE nameplate = ? AND technician_id = '' AND expires > ?`, nameplate, ts(now)))
	return sp, wrap("support by nameplate", notFound(err))
}

func (s *sqlStore) ClaimSupport(ctx context.Context, nameplate, technicianID string, now time.Time) (*Support, error) {
	sp, err := scanSupport(s.row(ctx, s.w, `UPDATE support SET technician_id = ? WHERE nameplate = ? AND technician_id = '' AND expires > ? RETURNING `+supportCols,
		technicianID, nameplate, ts(now)))
	return sp, wrap("claim support", notFound(err))
}

func (s *sqlStore) CountPendingSupport(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.row(ctx, s.r, `SELECT count(*) FROM support WHERE technician_id = '' AND expires > ?`, ts(now)).Scan(&n)
	return n, wrap("count pending support", err)
}

// ---- sessions

const sessionCols = `id, mode, host_id, host_name, viewer_id, viewer_name, nameplate, refresh_hash, start_at, end_at, bytes_from_host, bytes_to_host, end_reason, relays`

func scanSession(sc scanner) (*Session, error) {
	var ss Session
	var id []byte
	var mode, relays string
	var start, end int64
	if err := sc.Scan(&id, &mode, &ss.HostID, &ss.HostName, &ss.ViewerID, &ss.ViewerName, &ss.Nameplate, &ss.RefreshHash,
		&start, &end, &ss.BytesFromHost, &ss.BytesToHost, &ss.EndReason, &relays); err != nil {
		return nil, err
	}
	if len(id) != len(ss.ID) {
		return nil, fmt.Errorf("session id of %d bytes", len(id))
	}
	copy(ss.ID[:], id)
	m, err := proto.ParseMode(mode)
	if err != nil {
		return nil, err
	}
	ss.Mode = m
	ss.Start, ss.End = fromTS(start), fromTS(end)
	if relays != "" {
		ss.Relays = strings.Split(relays, ",")
	}
	return &ss, nil
}

func (s *sqlStore) CreateSession(ctx context.Context, ss *Session) error {
	return wrap("create session", inserted(s.exec(ctx, s.w,
		`INSERT INTO sessions (`+sessionCols+`, last_ticket) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		ss.ID[:], ss.Mode.String(), ss.HostID, ss.HostName, ss.ViewerID, ss.ViewerName, ss.Nameplate, ss.RefreshHash,
		ts(ss.Start), ts(ss.End), ss.BytesFromHost, ss.BytesToHost, ss.EndReason, strings.Join(ss.Relays, ","), ts(ss.Start))))
}

func (s *sqlStore) SessionByID(ctx context.Context, id proto.SessionID) (*Session, error) {
	ss, err := scanSession(s.row(ctx, s.r, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id[:]))
	return ss, wrap("session by id", notFound(err))
}

func (s *sqlStore) ListSessions(ctx context.Context, f SessionFilter) ([]Session, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	if f.UserID != "" {
		where = append(where, `(viewer_id = ? OR host_id IN (SELECT id FROM hosts WHERE owner_id = ?))`)
		args = append(args, f.UserID, f.UserID)
	}
	if f.HostID != "" {
		where = append(where, `host_id = ?`)
		args = append(args, f.HostID)
	}
	if f.Live {
		where = append(where, `end_at = 0`)
	}
	q := `SELECT ` + sessionCols + ` FROM sessions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY start_at DESC LIMIT ?`
	args = append(args, limit)
	out, err := queryAll(ctx, s, scanSession, q, args...)
	return out, wrap("list sessions", err)
}

func (s *sqlStore) ReopenSession(ctx context.Context, id proto.SessionID, now time.Time) error {
	return wrap("reopen session", affected(s.exec(ctx, s.w,
		`UPDATE sessions SET end_at = 0, end_reason = '', last_ticket = ? WHERE id = ?`, ts(now), id[:])))
}

func (s *sqlStore) EndSession(ctx context.Context, id proto.SessionID, end time.Time, reason string) error {
	return wrap("end session", affected(s.exec(ctx, s.w,
		`UPDATE sessions SET end_at = ?, end_reason = ? WHERE id = ? AND end_at = 0`, ts(end), reason, id[:])))
}

func (s *sqlStore) AddRelayReport(ctx context.Context, r *api.RelaySessionReport) error {
	return wrap("add relay report", s.tx(ctx, func(tx *sql.Tx) error {
		var relays string
		var end int64
		err := s.row(ctx, tx, `SELECT relays, end_at FROM sessions WHERE id = ?`+s.dialect.forUpdate, r.SessionID[:]).Scan(&relays, &end)
		if err != nil {
			return notFound(err)
		}
		list := []string{}
		if relays != "" {
			list = strings.Split(relays, ",")
		}
		if !slices.Contains(list, r.RelayID) {
			list = append(list, r.RelayID)
		}
		_, err = s.exec(ctx, tx, `UPDATE sessions SET bytes_from_host = bytes_from_host + ?, bytes_to_host = bytes_to_host + ?,
			relays = ?, end_at = ?, end_reason = ? WHERE id = ?`,
			r.BytesFromHost, r.BytesToHost, strings.Join(list, ","), max(end, ts(r.End)), r.EndReason, r.SessionID[:])
		return err
	}))
}

// ---- audit

func (s *sqlStore) AppendAudit(ctx context.Context, e *api.AuditEntry) error {
	err := s.row(ctx, s.w, `INSERT INTO audit (at, actor, action, target, ip, ok, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ts(e.Time), e.Actor, e.Action, e.Target, e.IP, e.OK, e.Detail).Scan(&e.ID)
	return wrap("append audit", err)
}

func (s *sqlStore) QueryAudit(ctx context.Context, q api.AuditQuery) ([]api.AuditEntry, error) {
	var where []string
	var args []any
	if q.Action != "" {
		if strings.HasSuffix(q.Action, ".") {
			where = append(where, `substr(action, 1, ?) = ?`)
			args = append(args, len(q.Action), q.Action)
		} else {
			where = append(where, `action = ?`)
			args = append(args, q.Action)
		}
	}
	if q.Actor != "" {
		where = append(where, `actor = ?`)
		args = append(args, q.Actor)
	}
	if q.Target != "" {
		where = append(where, `target = ?`)
		args = append(args, q.Target)
	}
	if !q.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, ts(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, ts(q.Until))
	}
	if q.Failed {
		where = append(where, `ok = ?`)
		args = append(args, false)
	}
	if q.Before > 0 {
		where = append(where, `id < ?`)
		args = append(args, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT id, at, actor, action, target, ip, ok, detail FROM audit`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	out, err := queryAll(ctx, s, func(sc scanner) (*api.AuditEntry, error) {
		var e api.AuditEntry
		var at int64
		err := sc.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.IP, &e.OK, &e.Detail)
		e.Time = fromTS(at)
		return &e, err
	}, query, args...)
	return out, wrap("query audit", err)
}

// ---- ticket keys

func (s *sqlStore) CreateTicketKey(ctx context.Context, k *TicketKey) error {
	return wrap("create ticket key", inserted(s.exec(ctx, s.w,
		`INSERT INTO ticket_keys (kid, pub, priv, created, activates, retired) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.KID, k.Public, k.Private, ts(k.Created), ts(k.Activates), ts(k.Retired))))
}

func (s *sqlStore) ListTicketKeys(ctx context.Context) ([]TicketKey, error) {
	out, err := queryAll(ctx, s, func(sc scanner) (*TicketKey, error) {
		var k TicketKey
		var created, activates, retired int64
		err := sc.Scan(&k.KID, &k.Public, &k.Private, &created, &activates, &retired)
		k.Created, k.Activates, k.Retired = fromTS(created), fromTS(activates), fromTS(retired)
		return &k, err
	}, `SELECT kid, pub, priv, created, activates, retired FROM ticket_keys ORDER BY activates, kid`)
	return out, wrap("list ticket keys", err)
}

func (s *sqlStore) RetireTicketKey(ctx context.Context, kid string, at time.Time) error {
	return wrap("retire ticket key", affected(s.exec(ctx, s.w,
		`UPDATE ticket_keys SET retired = ? WHERE kid = ? AND retired = 0`, ts(at), kid)))
}

// ---- meta

func (s *sqlStore) InitMeta(ctx context.Context, key string, value []byte) ([]byte, error) {
	if _, err := s.exec(ctx, s.w, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING`, key, value); err != nil {
		return nil, wrap("init meta", err)
	}
	var v []byte
	err := s.row(ctx, s.w, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v, wrap("init meta", err)
}

// ---- offers and notifications

func (s *sqlStore) PutOffer(ctx context.Context, target string, payload []byte, expires time.Time) error {
	_, err := s.exec(ctx, s.w, `INSERT INTO offers (target, payload, expires) VALUES (?, ?, ?)`, target, payload, ts(expires))
	return wrap("put offer", err)
}

func (s *sqlStore) TakeOffers(ctx context.Context, target string, now time.Time) ([][]byte, error) {
	rows, err := s.query(ctx, s.w, `DELETE FROM offers WHERE target = ? RETURNING id, payload, expires`, target)
	if err != nil {
		return nil, wrap("take offers", err)
	}
	defer rows.Close()
	type offer struct {
		id      int64
		payload []byte
	}
	var got []offer
	for rows.Next() {
		var o offer
		var expires int64
		if err := rows.Scan(&o.id, &o.payload, &expires); err != nil {
			return nil, wrap("take offers", err)
		}
		if expires > ts(now) {
			got = append(got, o)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("take offers", err)
	}
	slices.SortFunc(got, func(a, b offer) int { return int(a.id - b.id) })
	out := make([][]byte, len(got))
	for i, o := range got {
		out[i] = o.payload
	}
	return out, nil
}

// MaxNotifyPayload bounds a notification's payload.
const MaxNotifyPayload = 4000

func (s *sqlStore) Notify(ctx context.Context, topic, payload string) error {
	if len(payload) > MaxNotifyPayload || topic == "" || strings.ContainsAny(topic, " \x00") {
		return fmt.Errorf("broker: store: notify: topic %q or payload of %d bytes not allowed", topic, len(payload))
	}
	return wrap("notify", s.notify(ctx, topic, payload))
}

func (s *sqlStore) Listen(ctx context.Context, fn func(topic, payload string)) error {
	return s.listen(ctx, fn)
}

func (s *sqlStore) Prune(ctx context.Context, now, staleBefore, keyBefore time.Time) error {
	n := ts(now)
	steps := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM auth_sessions WHERE expires <= ?`, []any{n}},
		{`DELETE FROM enroll_codes WHERE expires <= ?`, []any{n}},
		{`DELETE FROM offers WHERE expires <= ?`, []any{n}},
		// Pending ones expire; joined ones are kept for a day, for the record.
		{`DELETE FROM support WHERE (technician_id = '' AND expires <= ?) OR expires <= ?`, []any{n, ts(now.Add(-24 * time.Hour))}},
		{`UPDATE sessions SET end_at = last_ticket, end_reason = 'stale' WHERE end_at = 0 AND last_ticket < ?`, []any{ts(staleBefore)}},
		{`DELETE FROM ticket_keys WHERE retired <> 0 AND retired < ?`, []any{ts(keyBefore)}},
	}
	for _, st := range steps {
		if _, err := s.exec(ctx, s.w, st.q, st.args...); err != nil {
			return wrap("prune", err)
		}
	}
	return nil
}

func (s *sqlStore) Close() error { return s.close() }
