package viewer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/deskway/deskway/proto"
)

// FilePinStore is the native viewer's proto.PinStore: the pin file format
// of package proto (one "host_id fingerprint" per line), read on every
// lookup so that a pin removed by hand takes effect at once, and written
// atomically (temporary file, fsync, rename) with mode 0600. It is safe
// for concurrent use within one process.
type FilePinStore struct {
	path string
	mu   sync.Mutex
}

// NewFilePinStore returns a store kept in the file at path (created on
// the first pin).
func NewFilePinStore(path string) *FilePinStore { return &FilePinStore{path: path} }

var _ proto.PinStore = (*FilePinStore)(nil)

func (s *FilePinStore) load() ([]proto.PinEntry, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("viewer: pins: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, proto.MaxPinFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("viewer: pins: %w", err)
	}
	pins, err := proto.ParsePins(b)
	if err != nil {
		return nil, fmt.Errorf("viewer: pins %s: %w", s.path, err)
	}
	return pins, nil
}

// Lookup implements proto.PinStore.
func (s *FilePinStore) Lookup(name string) (proto.Fingerprint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pins, err := s.load()
	if err != nil {
		return "", false, err
	}
	for _, p := range pins {
		if p.Name == name {
			return p.Fingerprint, true, nil
		}
	}
	return "", false, nil
}

// Pin implements proto.PinStore.
func (s *FilePinStore) Pin(name string, fp proto.Fingerprint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pins, err := s.load()
	if err != nil {
		return err
	}
	mem := proto.NewMemPinStore(pins...)
	if err := mem.Pin(name, fp); err != nil {
		return err
	}
	all, _ := mem.List()
	if len(all) == len(pins) {
		return nil // pinned already
	}
	return writeFileAtomic(s.path, proto.FormatPins(all))
}

// List implements proto.PinStore.
func (s *FilePinStore) List() ([]proto.PinEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

// LoadStaticKey reads this device's viewer key from the file at path,
// or makes one and writes it (mode 0600) if there is none.
func LoadStaticKey(path string) (proto.StaticPrivate, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := proto.StaticPrivateFromBytes(b)
		if err != nil {
			return proto.StaticPrivate{}, fmt.Errorf("viewer: key %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return proto.StaticPrivate{}, fmt.Errorf("viewer: key: %w", err)
	}
	k, err := proto.NewStaticPrivate(nil)
	if err != nil {
		return proto.StaticPrivate{}, err
	}
	raw, _ := k.MarshalBinary()
	if err := writeFileAtomic(path, raw); err != nil {
		return proto.StaticPrivate{}, err
	}
	return k, nil
}

// writeFileAtomic replaces the file at path with b, mode 0600.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("viewer: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("viewer: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("viewer: write %s: %w", path, err)
	}
	return nil
}
