package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/deskway/deskway/proto"
)

// Files the agent keeps: small, private (0600 in a 0700 directory) and
// replaced atomically: written to a temporary file in the same
// directory, fsynced, renamed over the old one, and the directory fsynced,
// so a crash (kill -9, power loss) leaves either the old or the new
// content, never a torn file.

// maxStateFile bounds every file the agent reads back.
const maxStateFile = 1 << 20

// writeFileAtomic replaces path with data, durably.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this fails harmlessly
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("agent: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("agent: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("agent: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot open a directory
// for syncing; its rename (MoveFileEx) is already write-through there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("agent: sync %s: %w", dir, err)
	}
	return nil
}

// readFileLimited reads path, refusing files larger than limit.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("agent: %s: %d bytes exceed limit %d", path, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("agent: read %s: %w", path, err)
	}
	return b, nil
}

// FileLimiterStore is a proto.LimiterStore in one file: the host-side
// attempt counter of SECURITY.md §4.2, which must survive a crash between
// the PAKE reply and the key confirmation. Save returns only once the
// state is on disk. A file that exists but does not parse (torn, edited,
// corrupted) fails Load: the limiter then refuses to start, closed, until
// someone removes the file deliberately.
//
// A FileLimiterStore is safe for concurrent use.
type FileLimiterStore struct {
	Path string
	mu   sync.Mutex
}

// Load implements proto.LimiterStore. A missing file is a new state.
func (s *FileLimiterStore) Load() (proto.LimiterState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := readFileLimited(s.Path, proto.MaxLimiterStateSize)
	if errors.Is(err, fs.ErrNotExist) {
		return proto.LimiterState{}, nil
	}
	if err != nil {
		return proto.LimiterState{}, fmt.Errorf("agent: attempt counter: %w", err)
	}
	st, err := proto.ParseLimiterState(b)
	if err != nil {
		return proto.LimiterState{}, fmt.Errorf("agent: attempt counter %s: %w (remove the file only if you know why it is damaged)", s.Path, err)
	}
	return st, nil
}

// Save implements proto.LimiterStore.
func (s *FileLimiterStore) Save(st proto.LimiterState) error {
	b, err := st.MarshalBinary()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return writeFileAtomic(s.Path, b)
}

// FilePinStore is a proto.PinStore in a text file (proto.FormatPins):
// on a host, the viewer devices the owner trusts. A missing file is an
// empty store.
//
// A FilePinStore is safe for concurrent use within one process.
type FilePinStore struct {
	Path string
	mu   sync.Mutex
}

func (s *FilePinStore) load() ([]proto.PinEntry, error) {
	b, err := readFileLimited(s.Path, proto.MaxPinFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return proto.ParsePins(b)
}

// Lookup implements proto.PinStore.
func (s *FilePinStore) Lookup(name string) (proto.Fingerprint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	es, err := s.load()
	if err != nil {
		return "", false, err
	}
	for _, e := range es {
		if e.Name == name {
			return e.Fingerprint, true, nil
		}
	}
	return "", false, nil
}

// Pin implements proto.PinStore.
func (s *FilePinStore) Pin(name string, fp proto.Fingerprint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	es, err := s.load()
	if err != nil {
		return err
	}
	mem := proto.NewMemPinStore(es...)
	if err := mem.Pin(name, fp); err != nil {
		return err
	}
	all, _ := mem.List()
	return writeFileAtomic(s.Path, proto.FormatPins(all))
}

// List implements proto.PinStore.
func (s *FilePinStore) List() ([]proto.PinEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}
