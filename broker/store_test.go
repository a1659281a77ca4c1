package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbed.StopPostgres()
	os.Exit(code)
}

// storeKinds opens a fresh store of each kind: a real SQLite file in a
// temporary directory and a real PostgreSQL database.
var storeKinds = []struct {
	name string
	dsn  func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "deskway.db") }},
	{"postgres", func(t testing.TB) string { return testbed.Postgres(t) }},
}

func openTestStore(t testing.TB, dsn string) Store {
	t.Helper()
	st, err := OpenStore(context.Background(), dsn, testLogger(t))
	if err != nil {
		t.Fatalf("OpenStore(%s): %v", redactDSN(dsn), err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// t0 is a fixed time with whole microseconds, as the store keeps them.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mkUser(t *testing.T, st Store, name string, role api.UserRole) *User {
	t.Helper()
	u := &User{ID: "u-" + name, Name: name, Role: role, PasswordHash: "$argon2id$x", Created: t0}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func mkHost(t *testing.T, st Store, id, owner string) *Host {
	t.Helper()
	h := &Host{ID: id, Name: "pc-" + id, OS: "linux", Version: "1.0", OwnerID: owner, DevicePub: hashOf(id), Enrolled: t0}
	if err := st.CreateHost(context.Background(), h); err != nil {
		t.Fatalf("CreateHost(%s): %v", id, err)
	}
	return h
}

func mkSession(t *testing.T, st Store, hostID, viewerID string, start time.Time) *Session {
	t.Helper()
	s := &Session{ID: proto.NewSessionID(), Mode: proto.ModeUnattended, HostID: hostID, HostName: "pc", ViewerID: viewerID,
		ViewerName: viewerID, RefreshHash: hashOf("r"), Start: start}
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

// storeSuite has one test per Store method (some also exercise others).
// TestStoreSuiteCoversInterface keeps it complete.
var storeSuite = map[string]func(t *testing.T, st Store){
	"CreateUser": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleAdmin)
		if err := st.CreateUser(ctx, &User{ID: "u-other", Name: "alice", Role: api.RoleUser, Created: t0}); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateUser(same name) = %v, want ErrConflict", err)
		}
		if err := st.CreateUser(ctx, &User{ID: u.ID, Name: "bob", Role: api.RoleUser, Created: t0}); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateUser(same id) = %v, want ErrConflict", err)
		}
	},
	"UserByID": func(t *testing.T, st Store) {
		u := mkUser(t, st, "alice", api.RoleTechnician)
		got, err := st.UserByID(context.Background(), u.ID)
		if err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("UserByID = %+v, %v; want %+v", got, err, u)
		}
		if _, err := st.UserByID(context.Background(), "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByID(nobody) = %v, want ErrNotFound", err)
		}
	},
	"UserByName": func(t *testing.T, st Store) {
		u := mkUser(t, st, "alice", api.RoleUser)
		got, err := st.UserByName(context.Background(), "alice")
		if err != nil || got.ID != u.ID {
			t.Errorf("UserByName(alice) = %+v, %v", got, err)
		}
		if _, err := st.UserByName(context.Background(), "bob"); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByName(bob) = %v, want ErrNotFound", err)
		}
	},
	"ListUsers": func(t *testing.T, st Store) {
		mkUser(t, st, "carol", api.RoleUser)
		mkUser(t, st, "alice", api.RoleAdmin)
		us, err := st.ListUsers(context.Background())
		if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "carol" {
			t.Errorf("ListUsers = %+v, %v; want alice, carol", us, err)
		}
	},
	"UpdateUser": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		u.Role, u.PasswordHash, u.Disabled = api.RoleTechnician, "$argon2id$new", true
		u.TOTPSecret, u.TOTPPending, u.LastLogin = []byte("sealed"), []byte("pending"), t0.Add(time.Hour)
		if err := st.UpdateUser(ctx, u); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		got, _ := st.UserByID(ctx, u.ID)
		if !reflect.DeepEqual(got, u) {
			t.Errorf("after UpdateUser: %+v, want %+v", got, u)
		}
		if err := st.UpdateUser(ctx, &User{ID: "nobody"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateUser(nobody) = %v, want ErrNotFound", err)
		}
	},
	"DeleteUser": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		other := mkUser(t, st, "bob", api.RoleUser)
		h := mkHost(t, st, "h1", u.ID)
		h2 := mkHost(t, st, "h2", other.ID)
		st.GrantAccess(ctx, h2.ID, u.ID)
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("t"), UserID: u.ID, Created: t0, Seen: t0, Expires: t0.Add(time.Hour)})
		if err := st.DeleteUser(ctx, u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := st.HostByID(ctx, h.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("owned host after DeleteUser: %v, want ErrNotFound", err)
		}
		if _, err := st.AuthSession(ctx, hashOf("t")); !errors.Is(err, ErrNotFound) {
			t.Errorf("auth session after DeleteUser: %v, want ErrNotFound", err)
		}
		if got, _ := st.HostByID(ctx, h2.ID); got == nil || len(got.Users) != 0 {
			t.Errorf("granted host after DeleteUser: %+v, want no users", got)
		}
		if err := st.DeleteUser(ctx, u.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
		}
	},
	"AdvanceTOTPStep": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		for _, tc := range []struct {
			step int64
			want bool
		}{{100, true}, {100, false}, {99, false}, {101, true}, {50, false}} {
			if got, err := st.AdvanceTOTPStep(ctx, u.ID, tc.step); got != tc.want || err != nil {
				t.Errorf("AdvanceTOTPStep(%d) = %v, %v; want %v", tc.step, got, err, tc.want)
			}
		}
		// Concurrent replays of one step: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Go(func() {
				ok, err := st.AdvanceTOTPStep(ctx, u.ID, 200)
				if err != nil {
					t.Errorf("AdvanceTOTPStep: %v", err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("8 concurrent AdvanceTOTPStep(200): %d accepted, want 1", wins)
		}
	},
	"SetRecoveryCodes": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		st.SetRecoveryCodes(ctx, u.ID, [][]byte{hashOf("a"), hashOf("b")})
		if err := st.SetRecoveryCodes(ctx, u.ID, [][]byte{hashOf("c"), hashOf("d"), hashOf("e")}); err != nil {
			t.Fatalf("SetRecoveryCodes: %v", err)
		}
		if n, err := st.CountRecoveryCodes(ctx, u.ID); n != 3 || err != nil {
			t.Errorf("CountRecoveryCodes = %d, %v; want 3 (replaced)", n, err)
		}
		if ok, _ := st.UseRecoveryCode(ctx, u.ID, hashOf("a")); ok {
			t.Errorf("an old recovery code still works after SetRecoveryCodes")
		}
	},
	"UseRecoveryCode": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		st.SetRecoveryCodes(ctx, u.ID, [][]byte{hashOf("a"), hashOf("b")})
		for _, tc := range []struct {
			user, code string
			want       bool
		}{{v.ID, "a", false}, {u.ID, "a", true}, {u.ID, "a", false}, {u.ID, "x", false}, {u.ID, "b", true}} {
			if got, err := st.UseRecoveryCode(ctx, tc.user, hashOf(tc.code)); got != tc.want || err != nil {
				t.Errorf("UseRecoveryCode(%s, %s) = %v, %v; want %v", tc.user, tc.code, got, err, tc.want)
			}
		}
	},
	"CountRecoveryCodes": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		if n, err := st.CountRecoveryCodes(ctx, u.ID); n != 0 || err != nil {
			t.Errorf("CountRecoveryCodes = %d, %v; want 0", n, err)
		}
		st.SetRecoveryCodes(ctx, u.ID, [][]byte{hashOf("a"), hashOf("b")})
		st.UseRecoveryCode(ctx, u.ID, hashOf("a"))
		if n, err := st.CountRecoveryCodes(ctx, u.ID); n != 1 || err != nil {
			t.Errorf("CountRecoveryCodes = %d, %v; want 1", n, err)
		}
	},
	"CreateAuthSession": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		a := &AuthSession{TokenHash: hashOf("t"), UserID: u.ID, API: true, Pending: true, Attempts: 2, Created: t0, Seen: t0.Add(time.Second),
			Expires: t0.Add(12 * time.Hour), IP: "192.0.2.1", UserAgent: "test"}
		if err := st.CreateAuthSession(ctx, a); err != nil {
			t.Fatalf("CreateAuthSession: %v", err)
		}
		if err := st.CreateAuthSession(ctx, a); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateAuthSession(same hash) = %v, want ErrConflict", err)
		}
		got, err := st.AuthSession(ctx, a.TokenHash)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("AuthSession = %+v, %v; want %+v", got, err, a)
		}
	},
	"AuthSession": func(t *testing.T, st Store) {
		if _, err := st.AuthSession(context.Background(), hashOf("none")); !errors.Is(err, ErrNotFound) {
			t.Errorf("AuthSession(unknown) = %v, want ErrNotFound", err)
		}
	},
	"TouchAuthSession": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("t"), UserID: u.ID, Created: t0, Seen: t0, Expires: t0.Add(time.Hour)})
		if err := st.TouchAuthSession(ctx, hashOf("t"), t0.Add(time.Minute)); err != nil {
			t.Fatalf("TouchAuthSession: %v", err)
		}
		if got, _ := st.AuthSession(ctx, hashOf("t")); !got.Seen.Equal(t0.Add(time.Minute)) {
			t.Errorf("Seen = %v, want %v", got.Seen, t0.Add(time.Minute))
		}
		if err := st.TouchAuthSession(ctx, hashOf("none"), t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("TouchAuthSession(unknown) = %v, want ErrNotFound", err)
		}
	},
	"BumpAuthAttempts": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("t"), UserID: u.ID, Pending: true, Created: t0, Seen: t0, Expires: t0.Add(time.Hour)})
		for want := 1; want <= 3; want++ {
			if n, err := st.BumpAuthAttempts(ctx, hashOf("t")); n != want || err != nil {
				t.Errorf("BumpAuthAttempts = %d, %v; want %d", n, err, want)
			}
		}
		if _, err := st.BumpAuthAttempts(ctx, hashOf("none")); !errors.Is(err, ErrNotFound) {
			t.Errorf("BumpAuthAttempts(unknown) = %v, want ErrNotFound", err)
		}
	},
	"DeleteAuthSession": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("t"), UserID: u.ID, Created: t0, Seen: t0, Expires: t0.Add(time.Hour)})
		if err := st.DeleteAuthSession(ctx, hashOf("t")); err != nil {
			t.Fatalf("DeleteAuthSession: %v", err)
		}
		if err := st.DeleteAuthSession(ctx, hashOf("t")); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteAuthSession = %v, want ErrNotFound", err)
		}
	},
	"DeleteUserAuthSessions": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		for _, tok := range []string{"a", "b", "c"} {
			st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf(tok), UserID: u.ID, Created: t0, Seen: t0, Expires: t0.Add(time.Hour)})
		}
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("v"), UserID: v.ID, Created: t0, Seen: t0, Expires: t0.Add(time.Hour)})
		if n, err := st.DeleteUserAuthSessions(ctx, u.ID, hashOf("b")); n != 2 || err != nil {
			t.Errorf("DeleteUserAuthSessions(keep b) = %d, %v; want 2", n, err)
		}
		if _, err := st.AuthSession(ctx, hashOf("b")); err != nil {
			t.Errorf("kept session: %v", err)
		}
		if n, err := st.DeleteUserAuthSessions(ctx, u.ID, nil); n != 1 || err != nil {
			t.Errorf("DeleteUserAuthSessions(all) = %d, %v; want 1", n, err)
		}
		if _, err := st.AuthSession(ctx, hashOf("v")); err != nil {
			t.Errorf("other user's session: %v", err)
		}
	},
	"CreateEnrollCode": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		e := &EnrollCode{ID: "e1", Hash: hashOf("code"), OwnerID: u.ID, CreatedBy: u.ID, Created: t0, Expires: t0.Add(10 * time.Minute)}
		if err := st.CreateEnrollCode(ctx, e); err != nil {
			t.Fatalf("CreateEnrollCode: %v", err)
		}
		e2 := *e
		e2.ID = "e2"
		if err := st.CreateEnrollCode(ctx, &e2); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateEnrollCode(same hash) = %v, want ErrConflict", err)
		}
	},
	"ListEnrollCodes": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		st.CreateEnrollCode(ctx, &EnrollCode{ID: "e1", Hash: hashOf("1"), OwnerID: u.ID, CreatedBy: u.ID, Created: t0, Expires: t0.Add(10 * time.Minute)})
		st.CreateEnrollCode(ctx, &EnrollCode{ID: "e2", Hash: hashOf("2"), OwnerID: v.ID, CreatedBy: u.ID, Created: t0.Add(time.Second), Expires: t0.Add(10 * time.Minute)})
		st.CreateEnrollCode(ctx, &EnrollCode{ID: "e3", Hash: hashOf("3"), OwnerID: u.ID, CreatedBy: u.ID, Created: t0, Expires: t0.Add(time.Minute)})
		ids := func(es []EnrollCode) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.ID)
			}
			return out
		}
		now := t0.Add(2 * time.Minute)
		if es, err := st.ListEnrollCodes(ctx, "", now); err != nil || !slices.Equal(ids(es), []string{"e1", "e2"}) {
			t.Errorf("ListEnrollCodes(all) = %v, %v; want [e1 e2]", ids(es), err)
		}
		if es, err := st.ListEnrollCodes(ctx, v.ID, now); err != nil || !slices.Equal(ids(es), []string{"e2"}) {
			t.Errorf("ListEnrollCodes(bob) = %v, %v; want [e2]", ids(es), err)
		}
	},
	"DeleteEnrollCode": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		st.CreateEnrollCode(ctx, &EnrollCode{ID: "e1", Hash: hashOf("1"), OwnerID: u.ID, CreatedBy: u.ID, Created: t0, Expires: t0.Add(10 * time.Minute)})
		if err := st.DeleteEnrollCode(ctx, "e1"); err != nil {
			t.Fatalf("DeleteEnrollCode: %v", err)
		}
		if _, err := st.TakeEnrollCode(ctx, hashOf("1"), t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("TakeEnrollCode after delete = %v, want ErrNotFound", err)
		}
		if err := st.DeleteEnrollCode(ctx, "e1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteEnrollCode = %v, want ErrNotFound", err)
		}
	},
	"TakeEnrollCode": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		e := &EnrollCode{ID: "e1", Hash: hashOf("1"), OwnerID: u.ID, CreatedBy: "admin", Created: t0, Expires: t0.Add(10 * time.Minute)}
		st.CreateEnrollCode(ctx, e)
		if _, err := st.TakeEnrollCode(ctx, hashOf("1"), t0.Add(11*time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Errorf("TakeEnrollCode(expired) = %v, want ErrNotFound", err)
		}
		// Of concurrent takers, one gets the code.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got []*EnrollCode
		for range 6 {
			wg.Go(func() {
				g, err := st.TakeEnrollCode(ctx, hashOf("1"), t0)
				if err == nil {
					mu.Lock()
					got = append(got, g)
					mu.Unlock()
				} else if !errors.Is(err, ErrNotFound) {
					t.Errorf("TakeEnrollCode: %v", err)
				}
			})
		}
		wg.Wait()
		if len(got) != 1 || !reflect.DeepEqual(got[0], e) {
			t.Errorf("6 concurrent TakeEnrollCode: got %+v, want exactly %+v", got, e)
		}
	},
	"CreateHost": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		h := mkHost(t, st, "h1", u.ID)
		dup := *h
		dup.ID = "h2"
		if err := st.CreateHost(ctx, &dup); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateHost(same device key) = %v, want ErrConflict", err)
		}
	},
	"HostByID": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		h := mkHost(t, st, "h1", u.ID)
		st.GrantAccess(ctx, h.ID, v.ID)
		got, err := st.HostByID(ctx, h.ID)
		want := *h
		want.OwnerName, want.Users = "alice", []string{"bob"}
		if err != nil || !reflect.DeepEqual(got, &want) {
			t.Errorf("HostByID = %+v, %v; want %+v", got, err, &want)
		}
		if _, err := st.HostByID(ctx, "none"); !errors.Is(err, ErrNotFound) {
			t.Errorf("HostByID(none) = %v, want ErrNotFound", err)
		}
	},
	"ListHosts": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		w := mkUser(t, st, "carol", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		mkHost(t, st, "h2", v.ID)
		mkHost(t, st, "h3", v.ID)
		st.GrantAccess(ctx, "h3", u.ID)
		st.GrantAccess(ctx, "h3", w.ID)
		ids := func(hs []Host) []string {
			var out []string
			for _, h := range hs {
				out = append(out, h.ID+"/"+fmt.Sprint(h.Users))
			}
			return out
		}
		for _, tc := range []struct {
			user string
			want []string
		}{
			{"", []string{"h1/[]", "h2/[]", "h3/[alice carol]"}},
			{u.ID, []string{"h1/[]", "h3/[alice carol]"}},
			{v.ID, []string{"h2/[]", "h3/[alice carol]"}},
			{w.ID, []string{"h3/[alice carol]"}},
			{"nobody", nil},
		} {
			if hs, err := st.ListHosts(ctx, tc.user); err != nil || !slices.Equal(ids(hs), tc.want) {
				t.Errorf("ListHosts(%q) = %v, %v; want %v", tc.user, ids(hs), err, tc.want)
			}
		}
	},
	"UpdateHostInfo": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		h := mkHost(t, st, "h1", u.ID)
		info := api.HostInfo{Name: "office", OS: "windows", Version: "2.0"}
		if err := st.UpdateHostInfo(ctx, h.ID, info); err != nil {
			t.Fatalf("UpdateHostInfo: %v", err)
		}
		got, _ := st.HostByID(ctx, h.ID)
		if got.Name != info.Name || got.OS != info.OS || got.Version != info.Version {
			t.Errorf("after UpdateHostInfo: %+v, want %+v", got, info)
		}
		if err := st.UpdateHostInfo(ctx, "none", info); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateHostInfo(none) = %v, want ErrNotFound", err)
		}
	},
	"DeleteHost": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		h := mkHost(t, st, "h1", u.ID)
		st.GrantAccess(ctx, h.ID, v.ID)
		if err := st.DeleteHost(ctx, h.ID); err != nil {
			t.Fatalf("DeleteHost: %v", err)
		}
		if ok, _ := st.CanAccess(ctx, h.ID, v.ID); ok {
			t.Errorf("CanAccess after DeleteHost = true")
		}
		if err := st.DeleteHost(ctx, h.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteHost = %v, want ErrNotFound", err)
		}
		// Its device key may enroll again.
		mkHost(t, st, "h1", u.ID)
	},
	"CanAccess": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		w := mkUser(t, st, "carol", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		st.GrantAccess(ctx, "h1", v.ID)
		for _, tc := range []struct {
			host, user string
			want       bool
		}{{"h1", u.ID, true}, {"h1", v.ID, true}, {"h1", w.ID, false}, {"none", u.ID, false}} {
			if got, err := st.CanAccess(ctx, tc.host, tc.user); got != tc.want || err != nil {
				t.Errorf("CanAccess(%s, %s) = %v, %v; want %v", tc.host, tc.user, got, err, tc.want)
			}
		}
	},
	"GrantAccess": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		if err := st.GrantAccess(ctx, "h1", v.ID); err != nil {
			t.Fatalf("GrantAccess: %v", err)
		}
		if err := st.GrantAccess(ctx, "h1", v.ID); !errors.Is(err, ErrConflict) {
			t.Errorf("second GrantAccess = %v, want ErrConflict", err)
		}
		if err := st.GrantAccess(ctx, "none", v.ID); err == nil {
			t.Errorf("GrantAccess(unknown host) = nil, want an error")
		}
	},
	"RevokeAccess": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		v := mkUser(t, st, "bob", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		st.GrantAccess(ctx, "h1", v.ID)
		if err := st.RevokeAccess(ctx, "h1", v.ID); err != nil {
			t.Fatalf("RevokeAccess: %v", err)
		}
		if ok, _ := st.CanAccess(ctx, "h1", v.ID); ok {
			t.Errorf("CanAccess after RevokeAccess = true")
		}
		if err := st.RevokeAccess(ctx, "h1", v.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second RevokeAccess = %v, want ErrNotFound", err)
		}
	},
	"SetHostOnline": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		if err := st.SetHostOnline(ctx, "h1", "inst-a", "c1", t0); err != nil {
			t.Fatalf("SetHostOnline: %v", err)
		}
		h, _ := st.HostByID(ctx, "h1")
		if h.Instance != "inst-a" || h.ConnID != "c1" || !h.SeenAt.Equal(t0) || !h.OnlineAt(t0.Add(time.Minute)) || h.OnlineAt(t0.Add(OnlineWithin)) {
			t.Errorf("after SetHostOnline: %+v", h)
		}
		if err := st.SetHostOnline(ctx, "none", "inst-a", "c1", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetHostOnline(none) = %v, want ErrNotFound", err)
		}
	},
	"SetHostOffline": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		st.SetHostOnline(ctx, "h1", "inst-a", "c1", t0)
		st.SetHostOnline(ctx, "h1", "inst-b", "c2", t0.Add(time.Second)) // reconnected elsewhere
		if err := st.SetHostOffline(ctx, "h1", "c1", t0.Add(2*time.Second)); err != nil {
			t.Fatalf("SetHostOffline: %v", err)
		}
		if h, _ := st.HostByID(ctx, "h1"); h.ConnID != "c2" || !h.OnlineAt(t0.Add(3*time.Second)) {
			t.Errorf("old connection's SetHostOffline took the new one down: %+v", h)
		}
		st.SetHostOffline(ctx, "h1", "c2", t0.Add(4*time.Second))
		if h, _ := st.HostByID(ctx, "h1"); h.ConnID != "" || h.OnlineAt(t0.Add(5*time.Second)) || !h.SeenAt.Equal(t0.Add(4*time.Second)) {
			t.Errorf("after SetHostOffline: %+v, want offline, last seen at disconnect", h)
		}
	},
	"TouchInstanceHosts": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		mkHost(t, st, "h2", u.ID)
		st.SetHostOnline(ctx, "h1", "inst-a", "c1", t0)
		st.SetHostOnline(ctx, "h2", "inst-b", "c2", t0)
		later := t0.Add(5 * time.Minute)
		if err := st.TouchInstanceHosts(ctx, "inst-a", later); err != nil {
			t.Fatalf("TouchInstanceHosts: %v", err)
		}
		h1, _ := st.HostByID(ctx, "h1")
		h2, _ := st.HostByID(ctx, "h2")
		if !h1.OnlineAt(later) || h2.OnlineAt(later) {
			t.Errorf("after TouchInstanceHosts(inst-a): h1 online %v, h2 online %v; want true, false", h1.OnlineAt(later), h2.OnlineAt(later))
		}
	},
	"ClearInstanceHosts": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		mkHost(t, st, "h2", u.ID)
		st.SetHostOnline(ctx, "h1", "inst-a", "c1", t0)
		st.SetHostOnline(ctx, "h2", "inst-b", "c2", t0)
		if err := st.ClearInstanceHosts(ctx, "inst-a"); err != nil {
			t.Fatalf("ClearInstanceHosts: %v", err)
		}
		h1, _ := st.HostByID(ctx, "h1")
		h2, _ := st.HostByID(ctx, "h2")
		if h1.OnlineAt(t0) || !h2.OnlineAt(t0) {
			t.Errorf("after ClearInstanceHosts(inst-a): h1 %+v, h2 %+v", h1, h2)
		}
	},
	"CreateSupport": func(t *testing.T, st Store) {
		ctx := context.Background()
		sp := &Support{Nameplate: "123", SessionID: proto.NewSessionID(), HostID: "s-1", WaitHash: hashOf("w"),
			Info: api.HostInfo{Name: "cust", OS: "win", Version: "1"}, IP: "192.0.2.7", Created: t0, Expires: t0.Add(10 * time.Minute)}
		if err := st.CreateSupport(ctx, sp); err != nil {
			t.Fatalf("CreateSupport: %v", err)
		}
		second := *sp
		second.SessionID = proto.NewSessionID()
		second.Created = t0.Add(time.Minute)
		if err := st.CreateSupport(ctx, &second); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateSupport(pending nameplate) = %v, want ErrConflict", err)
		}
		// Once the first expired, its nameplate is free.
		second.Created = t0.Add(11 * time.Minute)
		second.Expires = second.Created.Add(10 * time.Minute)
		if err := st.CreateSupport(ctx, &second); err != nil {
			t.Errorf("CreateSupport(expired nameplate) = %v, want nil", err)
		}
		// Once claimed, too.
		st.ClaimSupport(ctx, "123", "u-tech", second.Created)
		third := second
		third.SessionID = proto.NewSessionID()
		if err := st.CreateSupport(ctx, &third); err != nil {
			t.Errorf("CreateSupport(claimed nameplate) = %v, want nil", err)
		}
	},
	"SupportByNameplate": func(t *testing.T, st Store) {
		ctx := context.Background()
		sp := &Support{Nameplate: "123", SessionID: proto.NewSessionID(), HostID: "s-1", WaitHash: hashOf("w"),
			Info: api.HostInfo{Name: "cust"}, IP: "192.0.2.7", Created: t0, Expires: t0.Add(10 * time.Minute)}
		st.CreateSupport(ctx, sp)
		got, err := st.SupportByNameplate(ctx, "123", t0.Add(time.Minute))
		if err != nil || !reflect.DeepEqual(got, sp) {
			t.Errorf("SupportByNameplate = %+v, %v; want %+v", got, err, sp)
		}
		for _, tc := range []struct {
			np  string
			now time.Time
		}{{"124", t0}, {"123", t0.Add(10 * time.Minute)}} {
			if _, err := st.SupportByNameplate(ctx, tc.np, tc.now); !errors.Is(err, ErrNotFound) {
				t.Errorf("SupportByNameplate(%s, %v) = %v, want ErrNotFound", tc.np, tc.now, err)
			}
		}
	},
	"ClaimSupport": func(t *testing.T, st Store) {
		ctx := context.Background()
		sp := &Support{Nameplate: "123", SessionID: proto.NewSessionID(), HostID: "s-1", WaitHash: hashOf("w"), Created: t0, Expires: t0.Add(10 * time.Minute)}
		st.CreateSupport(ctx, sp)
		if _, err := st.ClaimSupport(ctx, "123", "u-t", t0.Add(10*time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Errorf("ClaimSupport(expired) = %v, want ErrNotFound", err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for i := range 6 {
			wg.Go(func() {
				tech := fmt.Sprintf("u-t%d", i)
				got, err := st.ClaimSupport(ctx, "123", tech, t0)
				if err == nil {
					if got.SessionID != sp.SessionID || got.TechnicianID != tech {
						t.Errorf("ClaimSupport = %+v", got)
					}
					mu.Lock()
					winners = append(winners, tech)
					mu.Unlock()
				} else if !errors.Is(err, ErrNotFound) {
					t.Errorf("ClaimSupport: %v", err)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Errorf("6 concurrent ClaimSupport: winners %v, want exactly one", winners)
		}
		if _, err := st.SupportByNameplate(ctx, "123", t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("SupportByNameplate after claim = %v, want ErrNotFound", err)
		}
	},
	"CountPendingSupport": func(t *testing.T, st Store) {
		ctx := context.Background()
		for i, exp := range []time.Duration{time.Minute, 10 * time.Minute, 10 * time.Minute} {
			st.CreateSupport(ctx, &Support{Nameplate: fmt.Sprint(100 + i), SessionID: proto.NewSessionID(), HostID: "s", WaitHash: hashOf("w"), Created: t0, Expires: t0.Add(exp)})
		}
		st.ClaimSupport(ctx, "102", "u-t", t0)
		if n, err := st.CountPendingSupport(ctx, t0.Add(2*time.Minute)); n != 1 || err != nil {
			t.Errorf("CountPendingSupport = %d, %v; want 1", n, err)
		}
	},
	"CreateSession": func(t *testing.T, st Store) {
		ctx := context.Background()
		s := mkSession(t, st, "h1", "u-a", t0)
		if err := st.CreateSession(ctx, s); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateSession(same id) = %v, want ErrConflict", err)
		}
	},
	"SessionByID": func(t *testing.T, st Store) {
		ctx := context.Background()
		s := &Session{ID: proto.NewSessionID(), Mode: proto.ModeSupport, HostID: "s-1", HostName: "cust", ViewerID: "u-t", ViewerName: "tech",
			Nameplate: "123", RefreshHash: hashOf("r"), Start: t0}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := st.SessionByID(ctx, s.ID)
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("SessionByID = %+v, %v; want %+v", got, err, s)
		}
		if _, err := st.SessionByID(ctx, proto.NewSessionID()); !errors.Is(err, ErrNotFound) {
			t.Errorf("SessionByID(unknown) = %v, want ErrNotFound", err)
		}
	},
	"ListSessions": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		mkHost(t, st, "h1", u.ID)
		s1 := mkSession(t, st, "h1", "u-bob", t0)                    // on alice's host
		s2 := mkSession(t, st, "h2", u.ID, t0.Add(time.Minute))      // alice views
		s3 := mkSession(t, st, "h2", "u-bob", t0.Add(2*time.Minute)) // neither
		st.EndSession(ctx, s2.ID, t0.Add(3*time.Minute), "peer_left")
		ids := func(ss []Session) []proto.SessionID {
			var out []proto.SessionID
			for _, s := range ss {
				out = append(out, s.ID)
			}
			return out
		}
		for _, tc := range []struct {
			f    SessionFilter
			want []proto.SessionID
		}{
			{SessionFilter{}, []proto.SessionID{s3.ID, s2.ID, s1.ID}},
			{SessionFilter{Limit: 2}, []proto.SessionID{s3.ID, s2.ID}},
			{SessionFilter{UserID: u.ID}, []proto.SessionID{s2.ID, s1.ID}},
			{SessionFilter{HostID: "h2"}, []proto.SessionID{s3.ID, s2.ID}},
			{SessionFilter{Live: true}, []proto.SessionID{s3.ID, s1.ID}},
			{SessionFilter{UserID: u.ID, Live: true}, []proto.SessionID{s1.ID}},
		} {
			if ss, err := st.ListSessions(ctx, tc.f); err != nil || !slices.Equal(ids(ss), tc.want) {
				t.Errorf("ListSessions(%+v) = %v, %v; want %v", tc.f, ids(ss), err, tc.want)
			}
		}
	},
	"ReopenSession": func(t *testing.T, st Store) {
		ctx := context.Background()
		s := mkSession(t, st, "h1", "u-a", t0)
		st.EndSession(ctx, s.ID, t0.Add(time.Minute), "drain")
		if err := st.ReopenSession(ctx, s.ID, t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("ReopenSession: %v", err)
		}
		if got, _ := st.SessionByID(ctx, s.ID); !got.End.IsZero() || got.EndReason != "" {
			t.Errorf("after ReopenSession: %+v, want live", got)
		}
		if err := st.ReopenSession(ctx, proto.NewSessionID(), t0); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReopenSession(unknown) = %v, want ErrNotFound", err)
		}
	},
	"EndSession": func(t *testing.T, st Store) {
		ctx := context.Background()
		s := mkSession(t, st, "h1", "u-a", t0)
		if err := st.EndSession(ctx, s.ID, t0.Add(time.Minute), "viewer_left"); err != nil {
			t.Fatalf("EndSession: %v", err)
		}
		if err := st.EndSession(ctx, s.ID, t0.Add(2*time.Minute), "again"); !errors.Is(err, ErrNotFound) {
			t.Errorf("EndSession(ended) = %v, want ErrNotFound", err)
		}
		if got, _ := st.SessionByID(ctx, s.ID); !got.End.Equal(t0.Add(time.Minute)) || got.EndReason != "viewer_left" {
			t.Errorf("after EndSession: %+v", got)
		}
	},
	"AddRelayReport": func(t *testing.T, st Store) {
		ctx := context.Background()
		s := mkSession(t, st, "h1", "u-a", t0)
		reports := []api.RelaySessionReport{
			{SessionID: s.ID, RelayID: "r1", Start: t0, End: t0.Add(time.Minute), BytesFromHost: 1000, BytesToHost: 10, EndReason: "drain"},
			{SessionID: s.ID, RelayID: "r2", Start: t0.Add(time.Minute), End: t0.Add(5 * time.Minute), BytesFromHost: 5000, BytesToHost: 50, EndReason: "peer_left"},
			{SessionID: s.ID, RelayID: "r1", Start: t0, End: t0.Add(2 * time.Minute), BytesFromHost: 1, BytesToHost: 1, EndReason: "late"},
		}
		for i := range reports {
			if err := st.AddRelayReport(ctx, &reports[i]); err != nil {
				t.Fatalf("AddRelayReport(%d): %v", i, err)
			}
		}
		got, _ := st.SessionByID(ctx, s.ID)
		if got.BytesFromHost != 6001 || got.BytesToHost != 61 || !slices.Equal(got.Relays, []string{"r1", "r2"}) || !got.End.Equal(t0.Add(5*time.Minute)) {
			t.Errorf("after 3 reports: %+v; want 6001/61 bytes, relays r1,r2, end at +5m", got)
		}
		bad := api.RelaySessionReport{SessionID: proto.NewSessionID(), RelayID: "r1", Start: t0, End: t0}
		if err := st.AddRelayReport(ctx, &bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("AddRelayReport(unknown session) = %v, want ErrNotFound", err)
		}
	},
	"AppendAudit": func(t *testing.T, st Store) {
		ctx := context.Background()
		e := &api.AuditEntry{Time: t0, Actor: "alice", Action: "login", Target: "alice", IP: "192.0.2.1", OK: true, Detail: "x"}
		if err := st.AppendAudit(ctx, e); err != nil || e.ID == 0 {
			t.Fatalf("AppendAudit = %v, id %d", err, e.ID)
		}
		f := &api.AuditEntry{Time: t0, Actor: "bob", Action: "login"}
		st.AppendAudit(ctx, f)
		if f.ID <= e.ID {
			t.Errorf("ids %d then %d, want increasing", e.ID, f.ID)
		}
		got, _ := st.QueryAudit(ctx, api.AuditQuery{Limit: 10})
		if len(got) != 2 || !reflect.DeepEqual(got[1], *e) {
			t.Errorf("QueryAudit = %+v, want second %+v", got, *e)
		}
	},
	"QueryAudit": func(t *testing.T, st Store) {
		ctx := context.Background()
		entries := []api.AuditEntry{
			{Time: t0, Actor: "alice", Action: "login", OK: true},
			{Time: t0.Add(time.Minute), Actor: "mallory", Action: "login", OK: false},
			{Time: t0.Add(2 * time.Minute), Actor: "alice", Action: "user.create", Target: "bob", OK: true},
			{Time: t0.Add(3 * time.Minute), Actor: "alice", Action: "user.delete", Target: "bob", OK: true},
			{Time: t0.Add(4 * time.Minute), Actor: "host:h1", Action: "host.enroll", Target: "h1", OK: true},
			{Time: t0.Add(5 * time.Minute), Actor: "alice", Action: "users", OK: true},
		}
		for i := range entries {
			st.AppendAudit(ctx, &entries[i])
		}
		acts := func(es []api.AuditEntry) []string {
			var out []string
			for _, e := range es {
				out = append(out, e.Action+"/"+e.Actor)
			}
			return out
		}
		for _, tc := range []struct {
			q    api.AuditQuery
			want []string
		}{
			{api.AuditQuery{Action: "user."}, []string{"user.delete/alice", "user.create/alice"}},
			{api.AuditQuery{Action: "login"}, []string{"login/mallory", "login/alice"}},
			{api.AuditQuery{Actor: "alice", Limit: 2}, []string{"users/alice", "user.delete/alice"}},
			{api.AuditQuery{Target: "h1"}, []string{"host.enroll/host:h1"}},
			{api.AuditQuery{Failed: true}, []string{"login/mallory"}},
			{api.AuditQuery{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"user.create/alice", "login/mallory"}},
			{api.AuditQuery{Before: entries[2].ID}, []string{"login/mallory", "login/alice"}},
			{api.AuditQuery{Actor: "nobody"}, nil},
		} {
			if es, err := st.QueryAudit(ctx, tc.q); err != nil || !slices.Equal(acts(es), tc.want) {
				t.Errorf("QueryAudit(%+v) = %v, %v; want %v", tc.q, acts(es), err, tc.want)
			}
		}
	},
	"CreateTicketKey": func(t *testing.T, st Store) {
		ctx := context.Background()
		k := &TicketKey{KID: "k1", Public: hashOf("pub"), Private: hashOf("priv"), Created: t0, Activates: t0.Add(time.Minute)}
		if err := st.CreateTicketKey(ctx, k); err != nil {
			t.Fatalf("CreateTicketKey: %v", err)
		}
		if err := st.CreateTicketKey(ctx, k); !errors.Is(err, ErrConflict) {
			t.Errorf("CreateTicketKey(same kid) = %v, want ErrConflict", err)
		}
	},
	"ListTicketKeys": func(t *testing.T, st Store) {
		ctx := context.Background()
		k2 := TicketKey{KID: "k2", Public: hashOf("2"), Private: hashOf("p2"), Created: t0, Activates: t0.Add(time.Hour)}
		k1 := TicketKey{KID: "k1", Public: hashOf("1"), Private: hashOf("p1"), Created: t0, Activates: t0, Retired: t0.Add(2 * time.Hour)}
		st.CreateTicketKey(ctx, &k2)
		st.CreateTicketKey(ctx, &k1)
		got, err := st.ListTicketKeys(ctx)
		if err != nil || !reflect.DeepEqual(got, []TicketKey{k1, k2}) {
			t.Errorf("ListTicketKeys = %+v, %v; want k1, k2 by activation", got, err)
		}
	},
	"RetireTicketKey": func(t *testing.T, st Store) {
		ctx := context.Background()
		st.CreateTicketKey(ctx, &TicketKey{KID: "k1", Public: hashOf("1"), Private: hashOf("p1"), Created: t0, Activates: t0})
		if err := st.RetireTicketKey(ctx, "k1", t0.Add(time.Hour)); err != nil {
			t.Fatalf("RetireTicketKey: %v", err)
		}
		if err := st.RetireTicketKey(ctx, "k1", t0.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Errorf("second RetireTicketKey = %v, want ErrNotFound", err)
		}
		if ks, _ := st.ListTicketKeys(ctx); len(ks) != 1 || !ks[0].Retired.Equal(t0.Add(time.Hour)) {
			t.Errorf("after RetireTicketKey: %+v", ks)
		}
	},
	"InitMeta": func(t *testing.T, st Store) {
		ctx := context.Background()
		if v, err := st.InitMeta(ctx, "k", []byte("first")); err != nil || string(v) != "first" {
			t.Errorf("InitMeta(first) = %q, %v", v, err)
		}
		if v, err := st.InitMeta(ctx, "k", []byte("second")); err != nil || string(v) != "first" {
			t.Errorf("InitMeta(second) = %q, %v; want the first value kept", v, err)
		}
	},
	"PutOffer": func(t *testing.T, st Store) {
		ctx := context.Background()
		if err := st.PutOffer(ctx, "host:h1", []byte("o1"), t0.Add(time.Minute)); err != nil {
			t.Fatalf("PutOffer: %v", err)
		}
		st.PutOffer(ctx, "host:h1", []byte("o2"), t0.Add(time.Minute))
		st.PutOffer(ctx, "host:h2", []byte("other"), t0.Add(time.Minute))
		got, err := st.TakeOffers(ctx, "host:h1", t0)
		if err != nil || len(got) != 2 || string(got[0]) != "o1" || string(got[1]) != "o2" {
			t.Errorf("TakeOffers = %q, %v; want [o1 o2]", got, err)
		}
	},
	"TakeOffers": func(t *testing.T, st Store) {
		ctx := context.Background()
		st.PutOffer(ctx, "t", []byte("old"), t0)
		st.PutOffer(ctx, "t", []byte("new"), t0.Add(time.Minute))
		if got, err := st.TakeOffers(ctx, "t", t0); err != nil || len(got) != 1 || string(got[0]) != "new" {
			t.Errorf("TakeOffers = %q, %v; want only the unexpired [new]", got, err)
		}
		if got, err := st.TakeOffers(ctx, "t", t0); err != nil || len(got) != 0 {
			t.Errorf("second TakeOffers = %q, %v; want none", got, err)
		}
		// Concurrent takers share the offers without duplicates.
		for i := range 20 {
			st.PutOffer(ctx, "c", []byte{byte(i)}, t0.Add(time.Minute))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var all []byte
		for range 4 {
			wg.Go(func() {
				got, err := st.TakeOffers(ctx, "c", t0)
				if err != nil {
					t.Errorf("TakeOffers: %v", err)
				}
				mu.Lock()
				for _, g := range got {
					all = append(all, g...)
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		if len(all) != 20 || !bytes.Equal(all, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}) {
			t.Errorf("4 concurrent TakeOffers got %v, want each of 0..19 once", all)
		}
	},
	"Notify": func(t *testing.T, st Store) {
		ctx := context.Background()
		if err := st.Notify(ctx, "bad topic", ""); err == nil {
			t.Errorf("Notify(topic with a space) = nil, want an error")
		}
		if err := st.Notify(ctx, "t", string(make([]byte, MaxNotifyPayload+1))); err == nil {
			t.Errorf("Notify(oversized payload) = nil, want an error")
		}
		if err := st.Notify(ctx, "t", "nobody listens"); err != nil {
			t.Errorf("Notify without listeners = %v", err)
		}
	},
	"Listen": func(t *testing.T, st Store) {
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan [2]string, 16)
		done := make(chan error, 1)
		go func() { done <- st.Listen(ctx, func(topic, payload string) { got <- [2]string{topic, payload} }) }()
		if m := <-got; m[0] != TopicResync {
			t.Fatalf("first notification %q, want %q", m, TopicResync)
		}
		for _, p := range []string{"a b", "", "c"} {
			if err := st.Notify(context.Background(), "offer", p); err != nil {
				t.Fatalf("Notify: %v", err)
			}
		}
		for _, want := range []string{"a b", "", "c"} {
			select {
			case m := <-got:
				if m != [2]string{"offer", want} {
					t.Errorf("notification %q, want [offer %q]", m, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no notification for %q", want)
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Listen after cancel = %v, want context.Canceled", err)
		}
	},
	"Prune": func(t *testing.T, st Store) {
		ctx := context.Background()
		u := mkUser(t, st, "alice", api.RoleUser)
		now := t0.Add(time.Hour)
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("old"), UserID: u.ID, Created: t0, Seen: t0, Expires: now})
		st.CreateAuthSession(ctx, &AuthSession{TokenHash: hashOf("new"), UserID: u.ID, Created: t0, Seen: t0, Expires: now.Add(time.Second)})
		st.CreateEnrollCode(ctx, &EnrollCode{ID: "e", Hash: hashOf("e"), OwnerID: u.ID, Created: t0, Expires: t0.Add(10 * time.Minute)})
		st.PutOffer(ctx, "t", []byte("x"), t0)
		st.CreateSupport(ctx, &Support{Nameplate: "1", SessionID: proto.NewSessionID(), HostID: "s", WaitHash: hashOf("w"), Created: t0, Expires: t0.Add(time.Minute)})
		stale := mkSession(t, st, "h", "u", t0)
		fresh := mkSession(t, st, "h", "u", now.Add(-time.Minute))
		st.CreateTicketKey(ctx, &TicketKey{KID: "gone", Public: hashOf("1"), Private: hashOf("1"), Created: t0, Activates: t0, Retired: t0})
		st.CreateTicketKey(ctx, &TicketKey{KID: "kept", Public: hashOf("2"), Private: hashOf("2"), Created: t0, Activates: t0, Retired: now})
		st.CreateTicketKey(ctx, &TicketKey{KID: "live", Public: hashOf("3"), Private: hashOf("3"), Created: t0, Activates: t0})
		if err := st.Prune(ctx, now, now.Add(-30*time.Minute), now.Add(-time.Minute)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		if _, err := st.AuthSession(ctx, hashOf("old")); !errors.Is(err, ErrNotFound) {
			t.Errorf("expired auth session kept: %v", err)
		}
		if _, err := st.AuthSession(ctx, hashOf("new")); err != nil {
			t.Errorf("unexpired auth session pruned: %v", err)
		}
		if es, _ := st.ListEnrollCodes(ctx, "", t0); len(es) != 0 {
			t.Errorf("expired enroll code kept: %+v", es)
		}
		if n, _ := st.CountPendingSupport(ctx, t0); n != 0 {
			t.Errorf("expired support request kept")
		}
		if s, _ := st.SessionByID(ctx, stale.ID); s.End.IsZero() || s.EndReason != "stale" {
			t.Errorf("stale session not ended: %+v", s)
		}
		if s, _ := st.SessionByID(ctx, fresh.ID); !s.End.IsZero() {
			t.Errorf("fresh session ended: %+v", s)
		}
		var kids []string
		ks, _ := st.ListTicketKeys(ctx)
		for _, k := range ks {
			kids = append(kids, k.KID)
		}
		slices.Sort(kids)
		if !slices.Equal(kids, []string{"kept", "live"}) {
			t.Errorf("ticket keys after Prune: %v, want [kept live]", kids)
		}
	},
	"Close": func(t *testing.T, st Store) {
		if err := st.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		if _, err := st.ListUsers(context.Background()); err == nil {
			t.Errorf("ListUsers after Close = nil error, want one")
		}
	},
}

func TestStoreSuiteCoversInterface(t *testing.T) {
	typ := reflect.TypeFor[Store]()
	for i := range typ.NumMethod() {
		if _, ok := storeSuite[typ.Method(i).Name]; !ok {
			t.Errorf("Store.%s has no test in storeSuite", typ.Method(i).Name)
		}
	}
	for name := range storeSuite {
		if _, ok := typ.MethodByName(name); !ok {
			t.Errorf("storeSuite tests %s, which Store does not have", name)
		}
	}
}

func TestStore(t *testing.T) {
	names := make([]string, 0, len(storeSuite))
	for name := range storeSuite {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			for _, name := range names {
				t.Run(name, func(t *testing.T) {
					storeSuite[name](t, openTestStore(t, kind.dsn(t)))
				})
			}
		})
	}
}

// TestStoreReopen checks that the data outlives the process's handle and
// that opening an up-to-date database migrates nothing.
func TestStoreReopen(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			dsn := kind.dsn(t)
			st := openTestStore(t, dsn)
			mkUser(t, st, "alice", api.RoleAdmin)
			st.AppendAudit(context.Background(), &api.AuditEntry{Time: t0, Actor: "alice", Action: "login", OK: true})
			st.Close()
			st2 := openTestStore(t, dsn)
			if u, err := st2.UserByName(context.Background(), "alice"); err != nil || u.Role != api.RoleAdmin {
				t.Errorf("after reopen: UserByName = %+v, %v", u, err)
			}
			if es, err := st2.QueryAudit(context.Background(), api.AuditQuery{}); err != nil || len(es) != 1 {
				t.Errorf("after reopen: QueryAudit = %+v, %v", es, err)
			}
		})
	}
}
