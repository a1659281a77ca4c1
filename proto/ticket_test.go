package proto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// ticketSentinels are the errors VerifyTicket may wrap.
var ticketSentinels = []error{
	ErrTicketMalformed, ErrTicketSignature, ErrTicketUnknownKey,
	ErrTicketExpired, ErrTicketNotYetValid, ErrTicketAudience,
}

var ticketNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testTicketKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func testTicket() *Ticket {
	return &Ticket{
		ID:      TicketID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Session: SessionID{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf},
		HostID:  "host-7f3a",
		Role:    RoleViewer,
		Mode:    ModeSupport,
		Relays: []RelayRef{
			{ID: "fra1", URL: "wss://fra1.relay.example.com"},
			{ID: "ams1", URL: "https://ams1.relay.example.com:8443/base"},
		},
		IssuedAt:          ticketNow,
		NotBefore:         ticketNow,
		Expiry:            ticketNow.Add(50 * time.Second),
		MaxBytesPerSecond: 1 << 20,
	}
}

func testKeys() TicketKeys {
	return TicketKeys{
		"k1": testTicketKey(1).Public().(ed25519.PublicKey),
		"k2": testTicketKey(2).Public().(ed25519.PublicKey),
	}
}

func mustSign(t testing.TB, tk *Ticket, kid string, key ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := SignTicket(tk, kid, key)
	if err != nil {
		t.Fatalf("SignTicket: %v", err)
	}
	return b
}

func TestTicketRoundTrip(t *testing.T) {
	in := testTicket()
	b := mustSign(t, in, "k1", testTicketKey(1))
	if len(b) > MaxTicketSize {
		t.Fatalf("ticket size %d exceeds %d", len(b), MaxTicketSize)
	}
	want := *in
	want.Version, want.KeyID = TicketVersion, "k1"
	for _, relay := range []string{"fra1", "ams1"} {
		got, err := VerifyTicket(b, testKeys(), relay, ticketNow)
		if err != nil {
			t.Fatalf("VerifyTicket(relay %q) = %v", relay, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("VerifyTicket = %+v, want %+v", *got, want)
		}
	}
	got, err := ParseTicket(b)
	if err != nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("ParseTicket = %+v, %v; want %+v", got, err, want)
	}
}

// TestTicketSubSecond checks that fractions of a second are dropped, not
// rounded up past the lifetime limit.
func TestTicketSubSecond(t *testing.T) {
	in := testTicket()
	in.IssuedAt = ticketNow.Add(900 * time.Millisecond)
	in.NotBefore = in.IssuedAt
	in.Expiry = ticketNow.Add(60*time.Second + 100*time.Millisecond)
	got, err := ParseTicket(mustSign(t, in, "k1", testTicketKey(1)))
	if err != nil {
		t.Fatal(err)
	}
	if !got.IssuedAt.Equal(ticketNow) || !got.Expiry.Equal(ticketNow.Add(60*time.Second)) {
		t.Errorf("times = %v, %v; want %v, %v", got.IssuedAt, got.Expiry, ticketNow, ticketNow.Add(60*time.Second))
	}
}

// TestTicketTamperFields changes each field of a signed ticket, keeps the
// signature, and expects a signature failure (or unknown key, when the
// kid changed to one the relay does not have).
func TestTicketTamperFields(t *testing.T) {
	tampers := []struct {
		name   string
		kid    string
		change func(*Ticket)
		want   error
	}{
		{"kid", "k2", func(*Ticket) {}, ErrTicketSignature},
		{"kid unknown", "k9", func(*Ticket) {}, ErrTicketUnknownKey},
		{"ticket id", "k1", func(t *Ticket) { t.ID[15] ^= 1 }, ErrTicketSignature},
		{"session", "k1", func(t *Ticket) { t.Session[0] ^= 0x80 }, ErrTicketSignature},
		{"host", "k1", func(t *Ticket) { t.HostID = "host-7f3b" }, ErrTicketSignature},
		{"role", "k1", func(t *Ticket) { t.Role = RoleHost }, ErrTicketSignature},
		{"mode", "k1", func(t *Ticket) { t.Mode = ModeUnattended }, ErrTicketSignature},
		{"relay id", "k1", func(t *Ticket) { t.Relays[1].ID = "evil" }, ErrTicketSignature},
		{"relay url", "k1", func(t *Ticket) { t.Relays[0].URL = "wss://evil.example.com" }, ErrTicketSignature},
		{"relay added", "k1", func(t *Ticket) { t.Relays = append(t.Relays, RelayRef{"evil", "wss://evil.example"}) }, ErrTicketSignature},
		{"relay removed", "k1", func(t *Ticket) { t.Relays = t.Relays[1:] }, ErrTicketSignature},
		{"relay order", "k1", func(t *Ticket) { t.Relays[0], t.Relays[1] = t.Relays[1], t.Relays[0] }, ErrTicketSignature},
		{"issued-at", "k1", func(t *Ticket) { t.IssuedAt = t.IssuedAt.Add(-time.Second) }, ErrTicketSignature},
		{"not-before", "k1", func(t *Ticket) { t.NotBefore = t.NotBefore.Add(time.Second) }, ErrTicketSignature},
		{"expiry", "k1", func(t *Ticket) { t.Expiry = t.Expiry.Add(-time.Second) }, ErrTicketSignature},
		{"rate", "k1", func(t *Ticket) { t.MaxBytesPerSecond = 0 }, ErrTicketSignature},
	}
	orig := mustSign(t, testTicket(), "k1", testTicketKey(1))
	sig := orig[len(orig)-ed25519.SignatureSize:]
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			tk := testTicket()
			tc.change(tk)
			payload, err := tk.marshalPayload(tc.kid)
			if err != nil {
				t.Fatal(err)
			}
			forged := append([]byte{byte(len(payload) >> 8), byte(len(payload))}, payload...)
			forged = append(forged, sig...)
			_, err = VerifyTicket(forged, testKeys(), "fra1", ticketNow)
			if !errors.Is(err, tc.want) {
				t.Errorf("VerifyTicket(tampered %s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// TestTicketBitFlips flips every bit of a signed ticket: none may verify,
// and each failure must wrap one of the sentinels.
func TestTicketBitFlips(t *testing.T) {
	orig := mustSign(t, testTicket(), "k1", testTicketKey(1))
	for i := range orig {
		for bit := range 8 {
			b := bytes.Clone(orig)
			b[i] ^= 1 << bit
			_, err := VerifyTicket(b, testKeys(), "fra1", ticketNow)
			if err == nil {
				t.Fatalf("VerifyTicket(bit %d of byte %d flipped) = nil error", bit, i)
			}
			if !isTicketSentinel(err) {
				t.Fatalf("VerifyTicket(bit %d of byte %d flipped) = %v, wraps no sentinel", bit, i, err)
			}
			if i >= len(orig)-ed25519.SignatureSize && !errors.Is(err, ErrTicketSignature) {
				t.Errorf("VerifyTicket(signature bit flipped) = %v, want %v", err, ErrTicketSignature)
			}
		}
	}
}

func isTicketSentinel(err error) bool {
	for _, s := range ticketSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestTicketValidity(t *testing.T) {
	b := mustSign(t, testTicket(), "k1", testTicketKey(1))
	nbf, exp := testTicket().NotBefore, testTicket().Expiry
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"at not-before", nbf, nil},
		{"just before expiry", exp.Add(-time.Nanosecond), nil},
		{"skew before not-before", nbf.Add(-TicketClockSkew), nil},
		{"beyond skew before not-before", nbf.Add(-TicketClockSkew - time.Nanosecond), ErrTicketNotYetValid},
		{"long before", nbf.Add(-time.Hour), ErrTicketNotYetValid},
		{"at expiry within skew", exp, nil},
		{"last moment within skew", exp.Add(TicketClockSkew - time.Nanosecond), nil},
		{"expiry plus skew", exp.Add(TicketClockSkew), ErrTicketExpired},
		{"long after", exp.Add(24 * time.Hour), ErrTicketExpired},
	}
	for _, tc := range tests {
		_, err := VerifyTicket(b, testKeys(), "fra1", tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: VerifyTicket(now %v) = %v, want %v", tc.name, tc.now, err, tc.want)
		}
	}
}

func TestTicketNotBeforeLater(t *testing.T) {
	tk := testTicket()
	tk.NotBefore = ticketNow.Add(40 * time.Second)
	b := mustSign(t, tk, "k1", testTicketKey(1))
	if _, err := VerifyTicket(b, testKeys(), "fra1", ticketNow); !errors.Is(err, ErrTicketNotYetValid) {
		t.Errorf("VerifyTicket(nbf now+40s) = %v, want %v", err, ErrTicketNotYetValid)
	}
	if _, err := VerifyTicket(b, testKeys(), "fra1", ticketNow.Add(10*time.Second)); err != nil {
		t.Errorf("VerifyTicket(nbf now+30s) = %v, want nil", err)
	}
}

func TestTicketAudience(t *testing.T) {
	b := mustSign(t, testTicket(), "k1", testTicketKey(1))
	for _, relay := range []string{"", "fra2", "FRA1", "fra1 ", "wss://fra1.relay.example.com"} {
		if _, err := VerifyTicket(b, testKeys(), relay, ticketNow); !errors.Is(err, ErrTicketAudience) {
			t.Errorf("VerifyTicket(relay %q) = %v, want %v", relay, err, ErrTicketAudience)
		}
	}
}

func TestTicketKeyRotation(t *testing.T) {
	keys := testKeys()
	b1 := mustSign(t, testTicket(), "k1", testTicketKey(1))
	b2 := mustSign(t, testTicket(), "k2", testTicketKey(2))
	for _, b := range [][]byte{b1, b2} {
		if _, err := VerifyTicket(b, keys, "fra1", ticketNow); err != nil {
			t.Errorf("VerifyTicket with both keys = %v", err)
		}
	}
	// Old key retired: its tickets stop verifying, the new one's go on.
	delete(keys, "k1")
	if _, err := VerifyTicket(b1, keys, "fra1", ticketNow); !errors.Is(err, ErrTicketUnknownKey) {
		t.Errorf("VerifyTicket(retired kid) = %v, want %v", err, ErrTicketUnknownKey)
	}
	if _, err := VerifyTicket(b2, keys, "fra1", ticketNow); err != nil {
		t.Errorf("VerifyTicket(new kid) = %v", err)
	}
	// A ticket claiming kid k2 but signed with k1's key.
	forged := mustSign(t, testTicket(), "k2", testTicketKey(1))
	if _, err := VerifyTicket(forged, testKeys(), "fra1", ticketNow); !errors.Is(err, ErrTicketSignature) {
		t.Errorf("VerifyTicket(k2 signed by k1) = %v, want %v", err, ErrTicketSignature)
	}
	// A bad public key in the map is refused, not a panic.
	bad := TicketKeys{"k1": ed25519.PublicKey{1, 2, 3}}
	if _, err := VerifyTicket(b1, bad, "fra1", ticketNow); !errors.Is(err, ErrTicketUnknownKey) {
		t.Errorf("VerifyTicket(short public key) = %v, want %v", err, ErrTicketUnknownKey)
	}
}

func TestTicketTruncated(t *testing.T) {
	b := mustSign(t, testTicket(), "k1", testTicketKey(1))
	for n := range len(b) {
		if _, err := ParseTicket(b[:n]); !errors.Is(err, ErrTicketMalformed) {
			t.Fatalf("ParseTicket(first %d of %d bytes) = %v, want %v", n, len(b), err, ErrTicketMalformed)
		}
		if _, err := VerifyTicket(b[:n], testKeys(), "fra1", ticketNow); !errors.Is(err, ErrTicketMalformed) {
			t.Fatalf("VerifyTicket(first %d of %d bytes) = %v, want %v", n, len(b), err, ErrTicketMalformed)
		}
	}
	if _, err := ParseTicket(append(bytes.Clone(b), 0)); !errors.Is(err, ErrTicketMalformed) {
		t.Errorf("ParseTicket(trailing byte) = %v, want %v", err, ErrTicketMalformed)
	}
	big := make([]byte, MaxTicketSize+1)
	if _, err := ParseTicket(big); err == nil || !strings.Contains(err.Error(), "size 2049 exceeds 2048") {
		t.Errorf("ParseTicket(%d bytes) = %v, want size error", len(big), err)
	}
}

// TestTicketSignedInvalid signs payloads that SignTicket refuses: a
// signature does not make them acceptable.
func TestTicketSignedInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Ticket)
	}{
		{"lifetime 61s", func(t *Ticket) { t.Expiry = t.IssuedAt.Add(61 * time.Second) }},
		{"expiry before not-before", func(t *Ticket) { t.Expiry = t.NotBefore.Add(-time.Second) }},
		{"not-before before issued-at", func(t *Ticket) { t.NotBefore = t.IssuedAt.Add(-time.Second) }},
		{"role 0", func(t *Ticket) { t.Role = 0 }},
		{"mode 9", func(t *Ticket) { t.Mode = 9 }},
		{"no relays", func(t *Ticket) { t.Relays = nil }},
		{"empty host", func(t *Ticket) { t.HostID = "" }},
	}
	for _, tc := range tests {
		tk := testTicket()
		tc.change(tk)
		payload, err := tk.marshalPayload("k1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := signTicketPayload(payload, testTicketKey(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyTicket(b, testKeys(), "fra1", ticketNow); !errors.Is(err, ErrTicketMalformed) {
			t.Errorf("%s: VerifyTicket = %v, want %v", tc.name, err, ErrTicketMalformed)
		}
	}
}

func TestSignTicketValidates(t *testing.T) {
	long := strings.Repeat("a", MaxTicketIDLen+1)
	manyRelays := make([]RelayRef, MaxTicketRelays+1)
	for i := range manyRelays {
		manyRelays[i] = RelayRef{ID: string(rune('a' + i)), URL: "wss://r.example"}
	}
	// Eight relays with long URLs fit the per-field limits but not 2 KiB.
	bigRelays := make([]RelayRef, MaxTicketRelays)
	for i := range bigRelays {
		bigRelays[i] = RelayRef{ID: string(rune('a' + i)), URL: "wss://r.example/" + strings.Repeat("p", 400)}
	}
	tests := []struct {
		name   string
		kid    string
		change func(*Ticket)
		want   string
	}{
		{"empty kid", "", func(*Ticket) {}, "key id length 0"},
		{"kid with #", "k#1", func(*Ticket) {}, "contains '#'"},
		{"kid with space", "k 1", func(*Ticket) {}, "not printable"},
		{"long host", "k1", func(t *Ticket) { t.HostID = long }, "host id length 65 not in 1..64"},
		{"host with newline", "k1", func(t *Ticket) { t.HostID = "a\nb" }, "not printable"},
		{"zero session", "k1", func(t *Ticket) { t.Session = SessionID{} }, "zero session id"},
		{"bad role", "k1", func(t *Ticket) { t.Role = 3 }, "unknown role 3"},
		{"bad mode", "k1", func(t *Ticket) { t.Mode = 0 }, "unknown mode 0"},
		{"nine relays", "k1", func(t *Ticket) { t.Relays = manyRelays }, "relay count 9 not in 1..8"},
		{"long relay id", "k1", func(t *Ticket) { t.Relays[0].ID = long }, "relay 0: relay id length 65"},
		{"duplicate relay", "k1", func(t *Ticket) { t.Relays[1].ID = "fra1" }, "duplicate relay id"},
		{"long url", "k1", func(t *Ticket) { t.Relays[1].URL = "wss://x/" + strings.Repeat("p", 505) }, "url length 513 not in 1..512"},
		{"url scheme", "k1", func(t *Ticket) { t.Relays[0].URL = "ftp://x.example" }, "scheme \"ftp\""},
		{"url no host", "k1", func(t *Ticket) { t.Relays[0].URL = "wss:///path" }, "want scheme://host"},
		{"url query", "k1", func(t *Ticket) { t.Relays[0].URL = "wss://x.example/?a=b" }, "want scheme://host"},
		{"too big", "k1", func(t *Ticket) { t.Relays = bigRelays }, "exceeds 2048"},
		{"no issued-at", "k1", func(t *Ticket) { t.IssuedAt = time.Time{} }, "issued-at"},
		{"before 1970", "k1", func(t *Ticket) { t.IssuedAt = time.Unix(-5, 0) }, "out of range"},
		{"lifetime", "k1", func(t *Ticket) { t.Expiry = t.IssuedAt.Add(61 * time.Second) }, "lifetime 61s exceeds 1m0s"},
		{"empty period", "k1", func(t *Ticket) { t.Expiry = t.NotBefore }, "not after not-before"},
	}
	for _, tc := range tests {
		tk := testTicket()
		tc.change(tk)
		_, err := SignTicket(tk, tc.kid, testTicketKey(1))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "proto: sign ticket: ") {
			t.Errorf("%s: SignTicket = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := SignTicket(testTicket(), "k1", ed25519.PrivateKey{1}); err == nil {
		t.Errorf("SignTicket(short private key) = nil error")
	}
}

func TestTicketKeysText(t *testing.T) {
	keys := testKeys()
	text := FormatTicketKeys(keys)
	if n := strings.Count(text, "\n"); n != 2 {
		t.Fatalf("FormatTicketKeys = %q, want 2 lines", text)
	}
	got, err := ParseTicketKeys(text)
	if err != nil || !reflect.DeepEqual(got, keys) {
		t.Fatalf("ParseTicketKeys(FormatTicketKeys) = %v, %v; want %v", got, err, keys)
	}
	pub1 := base64.URLEncoding.EncodeToString(keys["k1"]) // padded
	commented := "# broker ticket keys\n\n  k1\t" + pub1 + "   # current\r\n# k2 retired\n"
	got, err = ParseTicketKeys(commented)
	if err != nil || len(got) != 1 || !bytes.Equal(got["k1"], keys["k1"]) {
		t.Errorf("ParseTicketKeys(%q) = %v, %v", commented, got, err)
	}
	raw := base64.RawURLEncoding.EncodeToString(keys["k1"])
	std := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	bad := []struct{ text, want string }{
		{"", "no keys"},
		{"# nothing\n", "no keys"},
		{"k1", "1 fields"},
		{"k1 " + raw + " extra", "3 fields"},
		{"k1 " + raw + "\nk1 " + raw, "line 2: duplicate key id"},
		{"k1 " + raw[:40], "not 32 bytes"},
		{"k1 " + raw + "AAAA", "not 32 bytes"},
		{"k1 " + std, "illegal base64"},
		{strings.Repeat("a", 65) + " " + raw, "key id length 65"},
		{"k\x01 " + raw, "not printable"},
		{"k1 " + raw + "\n\xff", "not UTF-8"},
		{strings.Repeat("#", MaxTicketKeysText+1), "exceeds"},
	}
	var many strings.Builder
	for i := range MaxTicketKeys + 1 {
		fmt.Fprintf(&many, "k%d %s\n", i, raw)
	}
	bad = append(bad, struct{ text, want string }{many.String(), "more than 64 keys"})
	for _, tc := range bad {
		if _, err := ParseTicketKeys(tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTicketKeys(%.40q) = %v, want error containing %q", tc.text, err, tc.want)
		}
	}
	// Keys the text format cannot carry are left out of it.
	odd := TicketKeys{"a#b": keys["k1"], "short": ed25519.PublicKey{1}, "ok": keys["k2"]}
	if got := FormatTicketKeys(odd); got != "ok "+base64.RawURLEncoding.EncodeToString(keys["k2"])+"\n" {
		t.Errorf("FormatTicketKeys(odd) = %q", got)
	}
}

func TestTicketLogValue(t *testing.T) {
	tk := testTicket()
	v := tk.LogValue().String()
	for _, want := range []string{"id=0102", "session=a0a1", "host=host-7f3a", "role=viewer", "mode=support", "relays=fra1,ams1"} {
		if !strings.Contains(v, want) {
			t.Errorf("LogValue = %s, missing %q", v, want)
		}
	}
}

func FuzzParseTicket(f *testing.F) {
	for _, tk := range []*Ticket{testTicket(), func() *Ticket {
		t := testTicket()
		t.Relays = t.Relays[:1]
		t.Role, t.Mode, t.MaxBytesPerSecond = RoleHost, ModePresentation, 0
		return t
	}()} {
		b, err := SignTicket(tk, "k1", testTicketKey(1))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := ParseTicket(b)
		if err != nil {
			if tk != nil || !errors.Is(err, ErrTicketMalformed) {
				t.Fatalf("ParseTicket(%x) = %v, %v; want nil and %v", b, tk, err, ErrTicketMalformed)
			}
			return
		}
		// Canonical: the parsed fields encode back to the same payload.
		payload, err := tk.marshalPayload(tk.KeyID)
		if err != nil {
			t.Fatalf("marshalPayload(parsed %+v) = %v", tk, err)
		}
		if got := b[2 : len(b)-ed25519.SignatureSize]; !bytes.Equal(got, payload) {
			t.Fatalf("ParseTicket(%x) re-encodes to %x", got, payload)
		}
	})
}

func FuzzVerifyTicket(f *testing.F) {
	for i, kid := range []string{"k1", "k2"} {
		b, err := SignTicket(testTicket(), kid, testTicketKey(byte(i+1)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "fra1", int64(0))
		f.Add(b, "ams1", int64(89))
		f.Add(b, "fra1", int64(-31))
		f.Add(b, "lon1", int64(5))
	}
	keys := testKeys()
	f.Fuzz(func(t *testing.T, b []byte, relay string, offset int64) {
		now := ticketNow.Add(time.Duration(offset) * time.Second)
		tk, err := VerifyTicket(b, keys, relay, now)
		if err != nil {
			if tk != nil || !isTicketSentinel(err) {
				t.Fatalf("VerifyTicket = %v, %v; want nil and a sentinel", tk, err)
			}
			return
		}
		if !tk.HasRelay(relay) || now.Before(tk.NotBefore.Add(-TicketClockSkew)) || !now.Before(tk.Expiry.Add(TicketClockSkew)) {
			t.Fatalf("VerifyTicket accepted %+v for relay %q at %v", tk, relay, now)
		}
	})
}

func FuzzParseTicketKeys(f *testing.F) {
	f.Add(FormatTicketKeys(testKeys()))
	f.Add("# c\nk1 " + base64.URLEncoding.EncodeToString(testKeys()["k1"]) + " # x\n")
	f.Add("k1 AAAA")
	f.Fuzz(func(t *testing.T, text string) {
		keys, err := ParseTicketKeys(text)
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > MaxTicketKeys {
			t.Fatalf("ParseTicketKeys(%q) = %d keys", text, len(keys))
		}
		again, err := ParseTicketKeys(FormatTicketKeys(keys))
		if err != nil || !reflect.DeepEqual(again, keys) {
			t.Fatalf("ParseTicketKeys(FormatTicketKeys(%v)) = %v, %v", keys, again, err)
		}
	})
}

func BenchmarkVerifyTicket(b *testing.B) {
	tk := mustSign(b, testTicket(), "k1", testTicketKey(1))
	keys := testKeys()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyTicket(tk, keys, "fra1", ticketNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

func BenchmarkSignTicket(b *testing.B) {
	tk, key := testTicket(), testTicketKey(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignTicket(tk, "k1", key); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signs/s")
}

// ExampleVerifyTicket shows the broker signing a ticket and a relay
// checking it.
func ExampleVerifyTicket() {
	// Broker: a key pair per kid; relays get the public half as text.
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	keysText := FormatTicketKeys(TicketKeys{"2026-11": priv.Public().(ed25519.PublicKey)})

	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ticket, err := SignTicket(&Ticket{
		ID:        TicketID{1},
		Session:   SessionID{2},
		HostID:    "host-1",
		Role:      RoleViewer,
		Mode:      ModeSupport,
		Relays:    []RelayRef{{ID: "fra1", URL: "wss://fra1.example.com"}},
		IssuedAt:  now,
		NotBefore: now,
		Expiry:    now.Add(60 * time.Second),
	}, "2026-11", priv)
	if err != nil {
		panic(err)
	}

	// Relay "fra1": the ticket is the first message of a connection.
	keys, err := ParseTicketKeys(keysText)
	if err != nil {
		panic(err)
	}
	t, err := VerifyTicket(ticket, keys, "fra1", now.Add(5*time.Second))
	fmt.Println(t.Role, t.Mode, t.HostID, err)
	_, err = VerifyTicket(ticket, keys, "ams1", now)
	fmt.Println(errors.Is(err, ErrTicketAudience))
	// Output:
	// viewer support host-1 <nil>
	// true
}
