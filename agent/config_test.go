package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func testIdentity(t testing.TB) *Identity {
	return &Identity{
		Broker: "https://broker.example", HostID: "h1", OwnerID: "o1", Name: "pc",
		DeviceKey: bytes.Repeat([]byte{7}, 32), StaticKey: bytes.Repeat([]byte{9}, 32),
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deskway")
	if _, err := LoadIdentity(dir); !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("LoadIdentity of an empty directory = %v, want ErrNotEnrolled", err)
	}
	id := testIdentity(t)
	if err := SaveIdentity(dir, id); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(filepath.Join(dir, identityFile))
		di, _ := os.Stat(dir)
		if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
			t.Errorf("modes: file %v, directory %v; want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
		}
	}
	got, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.HostID != id.HostID || !bytes.Equal(got.DeviceKey, id.DeviceKey) || got.Static().Public() != id.Static().Public() {
		t.Errorf("LoadIdentity = %+v, want %+v", got, id)
	}
	if _, err := LoadPassword(dir); !errors.Is(err, ErrNoPassword) {
		t.Errorf("LoadPassword before set-password = %v, want ErrNoPassword", err)
	}
}

func FuzzParseIdentity(f *testing.F) {
	good, _ := json.Marshal(testIdentity(f))
	f.Add(good)
	f.Add([]byte(`{"broker":"x","host_id":"h","device_key":"AAAA"}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := parseIdentity(b)
		if err != nil {
			return
		}
		again, _ := json.Marshal(id)
		id2, err := parseIdentity(again)
		if err != nil || id2.HostID != id.HostID || !bytes.Equal(id2.DeviceKey, id.DeviceKey) {
			t.Errorf("parse(marshal(%+v)) = %+v, %v", id, id2, err)
		}
	})
}
