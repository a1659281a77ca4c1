//go:build !js

package viewer_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

func TestFilePinStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "pins")
	s := viewer.NewFilePinStore(path)
	if _, ok, err := s.Lookup("host-1"); ok || err != nil {
		t.Fatalf("Lookup in a missing file = %v, %v; want not found", ok, err)
	}
	a := staticKey(t, "a").Public().Fingerprint()
	b := staticKey(t, "b").Public().Fingerprint()
	if err := s.Pin("host-1", a); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin("host-1", a); err != nil {
		t.Errorf("pinning the same key again = %v", err)
	}
	var pm *proto.PinMismatchError
	if err := s.Pin("host-1", b); !errors.As(err, &pm) {
		t.Errorf("pinning another key = %v, want *PinMismatchError", err)
	}
	// A second store on the same file (another process) sees the pin.
	if fp, ok, err := viewer.NewFilePinStore(path).Lookup("host-1"); !ok || err != nil || fp != a {
		t.Errorf("Lookup = %v, %v, %v; want %v", fp, ok, err, a)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("pin file mode %v, %v; want 0600", fi.Mode(), err)
	}
	// Removing the line by hand unpins.
	os.WriteFile(path, []byte("# deskway pins v1\n"), 0o600)
	if _, ok, _ := s.Lookup("host-1"); ok {
		t.Errorf("pin still there after the file was emptied")
	}
	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if _, _, err := s.Lookup("host-1"); !errors.Is(err, proto.ErrPinFile) {
		t.Errorf("Lookup in a malformed file = %v, want ErrPinFile", err)
	}
}

func TestLoadStaticKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "viewer.key")
	k1, err := viewer.LoadStaticKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := viewer.LoadStaticKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Public() != k2.Public() {
		t.Errorf("the key changed between loads")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode())
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := viewer.LoadStaticKey(path); err == nil {
		t.Errorf("LoadStaticKey of a 5-byte file succeeded")
	}
}
