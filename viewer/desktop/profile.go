package desktop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// Limits on the profile's files, checked before they are read.
const (
	// MaxSettingsFile bounds settings.json and token.json.
	MaxSettingsFile = 64 << 10
	// maxField bounds a string of the settings (URL, user name).
	maxField = 2048
	// MaxFPSSetting is the highest frame rate the settings accept (the
	// wire's Quality.MaxFPS is a byte).
	MaxFPSSetting = 120
)

// ErrBadProfile is returned (wrapped) for a settings or token file that
// does not parse.
var ErrBadProfile = errors.New("desktop: malformed profile file")

// Quality is the user's stream preference.
type Quality string

const (
	QualityLossless     Quality = "lossless"      // every pixel exact
	QualityBalanced     Quality = "balanced"      // photo regions lossy, text exact
	QualityLowBandwidth Quality = "low-bandwidth" // thin links
)

// Proto returns the wire's quality mode.
func (q Quality) Proto() proto.QualityMode {
	switch q {
	case QualityLossless:
		return proto.QualityLossless
	case QualityBalanced:
		return proto.QualityBalanced
	case QualityLowBandwidth:
		return proto.QualityLowBandwidth
	}
	return proto.QualityAuto
}

// ScaleMode is how a session window shows the host's screen.
type ScaleMode string

const (
	ScaleFit ScaleMode = "fit" // the whole screen in the window, aspect kept, smooth scaling
	ScaleOne ScaleMode = "1:1" // one host pixel per screen pixel, scroll bars when larger
)

// Settings are the user's remembered choices. They never hold a password.
type Settings struct {
	// Broker is the broker's URL.
	Broker string `json:"broker,omitempty"`
	// User is the last user name that signed in.
	User string `json:"user,omitempty"`
	// Quality is the stream preference; "" lets the host decide.
	Quality Quality `json:"quality,omitempty"`
	// MaxFPS caps the frames per second; 0 is the host's default.
	MaxFPS int `json:"max_fps,omitempty"`
	// Scale is the default scaling of new session windows; "" is fit.
	Scale ScaleMode `json:"scale,omitempty"`
}

// Validate checks the settings' values.
func (s Settings) Validate() error {
	if len(s.Broker) > maxField || len(s.User) > maxField {
		return fmt.Errorf("%w: field longer than %d bytes", ErrBadProfile, maxField)
	}
	if s.Broker != "" {
		if _, err := ParseBrokerURL(s.Broker); err != nil {
			return err
		}
	}
	switch s.Quality {
	case "", QualityLossless, QualityBalanced, QualityLowBandwidth:
	default:
		return fmt.Errorf("%w: quality %q: want lossless, balanced or low-bandwidth", ErrBadProfile, s.Quality)
	}
	if s.MaxFPS < 0 || s.MaxFPS > MaxFPSSetting {
		return fmt.Errorf("%w: max fps %d: want 0 to %d", ErrBadProfile, s.MaxFPS, MaxFPSSetting)
	}
	switch s.Scale {
	case "", ScaleFit, ScaleOne:
	default:
		return fmt.Errorf("%w: scale %q: want fit or 1:1", ErrBadProfile, s.Scale)
	}
	return nil
}

// StreamQuality returns the Quality hint to send to hosts, or nil when
// the settings leave everything to the host.
func (s Settings) StreamQuality() *proto.Quality {
	if s.Quality == "" && s.MaxFPS == 0 {
		return nil
	}
	return &proto.Quality{Mode: s.Quality.Proto(), MaxFPS: uint8(min(max(s.MaxFPS, 0), MaxFPSSetting))}
}

// ParseBrokerURL checks a broker URL as people type it: https (or http)
// with a host, no query or fragment. A URL without a scheme gets https.
func ParseBrokerURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("desktop: broker URL: empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("desktop: broker URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("desktop: broker URL %q: want https://host", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("desktop: broker URL %q: want https://host[:port][/path]", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// ParseSettings decodes settings.json.
func ParseSettings(b []byte) (Settings, error) {
	var s Settings
	if err := decodeJSON(b, &s); err != nil {
		return Settings{}, err
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Token is a saved sign-in: the broker's bearer token for one user.
type Token struct {
	Broker  string    `json:"broker"`
	User    string    `json:"user"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Valid reports whether t is a token for broker that has not expired.
func (t Token) Valid(broker string, now time.Time) bool {
	return t.Token != "" && t.Broker == broker && now.Before(t.Expires)
}

// ParseToken decodes token.json.
func ParseToken(b []byte) (Token, error) {
	var t Token
	if err := decodeJSON(b, &t); err != nil {
		return Token{}, err
	}
	if len(t.Broker) > maxField || len(t.User) > maxField || len(t.Token) > maxField {
		return Token{}, fmt.Errorf("%w: token field longer than %d bytes", ErrBadProfile, maxField)
	}
	return t, nil
}

func decodeJSON(b []byte, v any) error {
	if len(b) > MaxSettingsFile {
		return fmt.Errorf("%w: %d bytes exceed %d", ErrBadProfile, len(b), MaxSettingsFile)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadProfile, err)
	}
	if d.More() {
		return fmt.Errorf("%w: data after the object", ErrBadProfile)
	}
	return nil
}

// Profile is the per-user state in one directory: settings, the sign-in
// token, pinned host keys and this device's viewer key. Methods may be
// called from any goroutine; the files are replaced atomically, and the
// last writer wins.
type Profile struct {
	// Dir holds the files; it is created (0700) on the first write.
	Dir string
}

// DefaultDir returns os.UserConfigDir()/deskway/viewer.
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("desktop: config directory: %w", err)
	}
	return filepath.Join(d, "deskway", "viewer"), nil
}

// File names inside a profile directory.
const (
	settingsFile = "settings.json"
	tokenFile    = "token.json"
	pinsFile     = "pins"
	keyFile      = "viewer.key"
)

// Settings reads the settings; a missing file gives zero Settings.
func (p *Profile) Settings() (Settings, error) { return readFile(p, settingsFile, ParseSettings) }

// SaveSettings writes the settings.
func (p *Profile) SaveSettings(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return p.writeJSON(settingsFile, s)
}

// Token reads the saved token; a missing file gives a zero Token.
func (p *Profile) Token() (Token, error) { return readFile(p, tokenFile, ParseToken) }

// readFile reads and parses one of the profile's files; a missing file
// gives the zero value.
func readFile[T any](p *Profile, name string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	b, err := p.read(name)
	if b == nil || err != nil {
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", p.path(name), err)
	}
	return v, nil
}

// SaveToken writes the token (mode 0600).
func (p *Profile) SaveToken(t Token) error { return p.writeJSON(tokenFile, t) }

// ForgetToken removes the saved token.
func (p *Profile) ForgetToken() error {
	err := os.Remove(p.path(tokenFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("desktop: %w", err)
	}
	return nil
}

// PinsPath is the file of pinned host keys.
func (p *Profile) PinsPath() string { return p.path(pinsFile) }

// Pins returns the store of pinned host keys.
func (p *Profile) Pins() *viewer.FilePinStore { return viewer.NewFilePinStore(p.PinsPath()) }

// StaticKey reads this device's viewer key, making it on first use.
func (p *Profile) StaticKey() (proto.StaticPrivate, error) {
	return viewer.LoadStaticKey(p.path(keyFile))
}

func (p *Profile) path(name string) string { return filepath.Join(p.Dir, name) }

// read returns the file's bytes, nil if it does not exist.
func (p *Profile) read(name string) ([]byte, error) {
	f, err := os.Open(p.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSettingsFile+1))
	if err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	return b, nil
}

func (p *Profile) writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("desktop: %w", err)
	}
	return replaceFile(p.path(name), append(b, '\n'))
}

// replaceFile writes b to a temporary file beside path (0600), syncs it
// and renames it over path.
func replaceFile(path string, b []byte) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("desktop: write %s: %w", path, err)
		}
	}()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
