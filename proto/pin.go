package proto

// Pinning, PAKE-authenticated trust on first use (SECURITY.md §4.3).
//
// After its first successful handshake with a host the viewer pins
// host_id → fingerprint of hostStatic (shown once to the user). Later a
// different key under the same host_id is a hard failure with a
// *PinMismatchError, SSH known_hosts style: there is no option to click
// through; a user who knows why the key changed removes the line from the
// pin file by hand. On the host the same store holds the owner's trusted
// viewer devices (label → fingerprint of viewerStatic), which may still
// try to log in while the host is in lockdown (limiter.go).
//
// The text format, one pin per line, '#' comments and blank lines
// ignored:
//
//	# deskway pins v1
//	<name> <fingerprint>
//
// name is a host_id or device label: 1 to 256 bytes of printable UTF-8
// without spaces; fingerprint is the 26-character base32 form. A file is
// at most 1 MiB and 10 000 pins; a name may appear once.

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxPinFileSize bounds a pin file.
	MaxPinFileSize = 1 << 20
	// MaxPins bounds the pins in one file.
	MaxPins = 10000
	// maxPinName bounds a name.
	maxPinName    = MaxIdentityLen
	pinFileHeader = "# deskway pins v1"
)

// ErrPinFile is returned (wrapped) for a malformed pin file.
var ErrPinFile = errors.New("proto: malformed pin file")

// PinStore maps names to pinned fingerprints: on a viewer host_id →
// hostStatic, on a host device label → trusted viewerStatic.
// Implementations must be safe for concurrent use; file-backed ones live
// with their users (agent, viewers) and should write atomically.
type PinStore interface {
	// Lookup returns the fingerprint pinned under name, if any.
	Lookup(name string) (fp Fingerprint, ok bool, err error)
	// Pin pins fp under name. Pinning the same fingerprint again is a
	// no-op; if name is pinned to another fingerprint Pin changes nothing
	// and returns a *PinMismatchError.
	Pin(name string, fp Fingerprint) error
	// List returns every pin.
	List() ([]PinEntry, error)
}

// PinEntry is one pin.
type PinEntry struct {
	Name        string
	Fingerprint Fingerprint
}

// PinMismatchError is the hard failure when a peer's static key is not
// the pinned one.
type PinMismatchError struct {
	Name   string      // host_id (viewer side) or device label
	Pinned Fingerprint // what the store holds
	Got    Fingerprint // what the peer presented
}

func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("proto: key of %q is %s, but %s is pinned: the host key changed or someone is impersonating it (connection refused; remove the pin by hand only if you know why it changed)",
		e.Name, e.Got, e.Pinned)
}

// PinStatus says what pinning did in a handshake.
type PinStatus uint8

const (
	PinNone    PinStatus = iota // no pin store configured
	PinNew                      // first contact: the key was pinned now (show the fingerprint)
	PinMatched                  // the key matched the pin
)

func (s PinStatus) String() string {
	switch s {
	case PinNew:
		return "new"
	case PinMatched:
		return "matched"
	}
	return "none"
}

// MemPinStore is an in-memory PinStore, safe for concurrent use.
type MemPinStore struct {
	mu sync.Mutex
	m  map[string]Fingerprint
}

// NewMemPinStore returns a store holding entries (see ParsePins).
func NewMemPinStore(entries ...PinEntry) *MemPinStore {
	s := &MemPinStore{m: make(map[string]Fingerprint, len(entries))}
	for _, e := range entries {
		s.m[e.Name] = e.Fingerprint
	}
	return s
}

// Lookup implements PinStore.
func (s *MemPinStore) Lookup(name string) (Fingerprint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp, ok := s.m[name]
	return fp, ok, nil
}

// Pin implements PinStore.
func (s *MemPinStore) Pin(name string, fp Fingerprint) error {
	if err := checkPinName(name); err != nil {
		return err
	}
	if _, err := ParseFingerprint(string(fp)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[name]; ok && !old.Equal(fp) {
		return &PinMismatchError{Name: name, Pinned: old, Got: fp}
	}
	s.m[name] = fp
	return nil
}

// List implements PinStore, sorted by name.
func (s *MemPinStore) List() ([]PinEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PinEntry, 0, len(s.m))
	for n, fp := range s.m {
		out = append(out, PinEntry{n, fp})
	}
	slices.SortFunc(out, func(a, b PinEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func checkPinName(name string) error {
	if name == "" || len(name) > maxPinName || !utf8.ValidString(name) {
		return fmt.Errorf("%w: name must be 1 to %d bytes of UTF-8", ErrPinFile, maxPinName)
	}
	if name[0] == '#' {
		return fmt.Errorf("%w: name %q starts with '#'", ErrPinFile, truncateForError(name))
	}
	for _, r := range name {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: name %q contains a space or a control character", ErrPinFile, truncateForError(name))
		}
	}
	return nil
}

// ParsePins parses the pin file format. It checks the size before
// reading, and refuses malformed lines, bad fingerprints, duplicate names
// and more than MaxPins entries.
func ParsePins(text []byte) ([]PinEntry, error) {
	if len(text) > MaxPinFileSize {
		return nil, fmt.Errorf("%w: %d bytes exceed limit %d", ErrPinFile, len(text), MaxPinFileSize)
	}
	var out []PinEntry
	seen := map[string]bool{}
	for n := 1; len(text) > 0; n++ {
		var line []byte
		line, text, _ = bytes.Cut(text, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(s, " ")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want \"name fingerprint\"", ErrPinFile, n)
		}
		rest = strings.TrimSpace(rest)
		if err := checkPinName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		fp, err := ParseFingerprint(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrPinFile, n, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: line %d: %q pinned twice", ErrPinFile, n, truncateForError(name))
		}
		if len(out) == MaxPins {
			return nil, fmt.Errorf("%w: more than %d pins", ErrPinFile, MaxPins)
		}
		seen[name] = true
		out = append(out, PinEntry{name, fp})
	}
	return out, nil
}

// FormatPins writes entries in the pin file format, sorted by name.
func FormatPins(entries []PinEntry) []byte {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b PinEntry) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	b.WriteString(pinFileHeader + "\n")
	for _, e := range sorted {
		b.WriteString(e.Name)
		b.WriteByte(' ')
		b.WriteString(string(e.Fingerprint))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// deviceHint binds a trusted-device claim to one session without naming
// the device: SHA-256("dw/1 device hint" ‖ session_id ‖ fingerprint)[:16].
// The viewer puts it in ADa (authenticated by the PAKE transcript); the
// host recomputes it for each trusted device. It differs per session, so
// the relay cannot link sessions by it.
func deviceHint(sid SessionID, fp Fingerprint) []byte {
	h := sha256.New()
	h.Write([]byte("dw/1 device hint"))
	h.Write(sid[:])
	h.Write([]byte(fp))
	return h.Sum(nil)[:deviceHintLen]
}

const deviceHintLen = 16
