package desktop

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
)

func TestProfileRoundTrip(t *testing.T) {
	p := &Profile{Dir: filepath.Join(t.TempDir(), "deskway", "viewer")}
	if s, err := p.Settings(); err != nil || s != (Settings{}) {
		t.Fatalf("Settings() of an empty profile = %+v, %v; want zero, nil", s, err)
	}
	if tok, err := p.Token(); err != nil || tok != (Token{}) {
		t.Fatalf("Token() of an empty profile = %+v, %v; want zero, nil", tok, err)
	}
	want := Settings{Broker: "https://b.example", User: "alice", Quality: QualityBalanced, MaxFPS: 24, Scale: ScaleOne}
	if err := p.SaveSettings(want); err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := Token{Broker: want.Broker, User: "alice", Token: "secret-token", Expires: exp}
	if err := p.SaveToken(tok); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Settings(); err != nil || got != want {
		t.Errorf("Settings() = %+v, %v; want %+v", got, err, want)
	}
	if got, err := p.Token(); err != nil || got != tok {
		t.Errorf("Token() = %+v, %v; want %+v", got, err, tok)
	}
	if _, err := p.StaticKey(); err != nil {
		t.Fatal(err)
	}
	if err := p.Pins().Pin("host-1", staticFingerprint(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{settingsFile, tokenFile, keyFile, pinsFile} {
		fi, err := os.Stat(filepath.Join(p.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %o, want 600", name, m)
		}
	}
	if fi, _ := os.Stat(p.Dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("profile directory mode %o, want 700", fi.Mode().Perm())
	}
	if err := p.ForgetToken(); err != nil {
		t.Fatal(err)
	}
	if err := p.ForgetToken(); err != nil {
		t.Errorf("ForgetToken twice: %v", err)
	}
	if got, _ := p.Token(); got != (Token{}) {
		t.Errorf("Token() after ForgetToken = %+v", got)
	}
	ents, _ := os.ReadDir(p.Dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func staticFingerprint(t *testing.T) proto.Fingerprint {
	k, err := proto.NewStaticPrivate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().Fingerprint()
}

func TestTokenValid(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tok := Token{Broker: "https://b", Token: "x", Expires: now.Add(time.Hour)}
	tests := []struct {
		name   string
		tok    Token
		broker string
		want   bool
	}{
		{"valid", tok, "https://b", true},
		{"other broker", tok, "https://c", false},
		{"expired", Token{Broker: "https://b", Token: "x", Expires: now}, "https://b", false},
		{"empty", Token{Broker: "https://b", Expires: now.Add(time.Hour)}, "https://b", false},
	}
	for _, tt := range tests {
		if got := tt.tok.Valid(tt.broker, now); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseBrokerURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://deskway.example.com", "https://deskway.example.com", true},
		{"https://deskway.example.com/", "https://deskway.example.com", true},
		{" deskway.example.com:8443 ", "https://deskway.example.com:8443", true},
		{"http://127.0.0.1:8080/base/", "http://127.0.0.1:8080/base", true},
		{"", "", false},
		{"ftp://x", "", false},
		{"https://", "", false},
		{"https://u:p@host", "", false},
		{"https://host/?q=1", "", false},
		{"https://host/#frag", "", false},
	}
	for _, tt := range tests {
		got, err := ParseBrokerURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBrokerURL(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// settingsCases seed the fuzz target too.
var settingsCases = []struct {
	in string
	ok bool
}{
	{`{}`, true},
	{`{"broker":"https://b","user":"alice","quality":"lossless","max_fps":30,"scale":"1:1"}`, true},
	{`{"quality":"low-bandwidth","scale":"fit"}`, true},
	{`{"quality":"best"}`, false},
	{`{"max_fps":-1}`, false},
	{`{"max_fps":121}`, false},
	{`{"scale":"2:1"}`, false},
	{`{"broker":"ftp://b"}`, false},
	{`{"password":"x"}`, false},
	{`{} {}`, false},
	{`[`, false},
	{`{"user":"` + strings.Repeat("a", maxField+1) + `"}`, false},
}

func TestParseSettings(t *testing.T) {
	for _, tt := range settingsCases {
		_, err := ParseSettings([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("ParseSettings(%.60q) = %v, want ok %v", tt.in, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadProfile) && !strings.Contains(err.Error(), "broker URL") {
			t.Errorf("ParseSettings(%.60q) = %v, want ErrBadProfile", tt.in, err)
		}
	}
	big := make([]byte, MaxSettingsFile+1)
	if _, err := ParseSettings(big); !errors.Is(err, ErrBadProfile) {
		t.Errorf("ParseSettings(%d bytes) = %v, want ErrBadProfile", len(big), err)
	}
}

func TestSettingsStreamQuality(t *testing.T) {
	if q := (Settings{}).StreamQuality(); q != nil {
		t.Errorf("StreamQuality of defaults = %+v, want nil", q)
	}
	q := Settings{Quality: QualityLowBandwidth, MaxFPS: 10}.StreamQuality()
	if q == nil || q.Mode != proto.QualityLowBandwidth || q.MaxFPS != 10 {
		t.Errorf("StreamQuality = %+v, want low bandwidth at 10 fps", q)
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, tt := range settingsCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSettings accepted settings that do not validate: %v", err)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"broker":"https://b","user":"u","token":"t","expires":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"token":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseToken(b)
		if err != nil {
			return
		}
		if len(tok.Token) > maxField || len(tok.Broker) > maxField {
			t.Fatalf("ParseToken accepted an oversized field")
		}
	})
}
