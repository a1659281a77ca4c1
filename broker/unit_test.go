package broker

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

func TestPasswordHasher(t *testing.T) {
	ctx := context.Background()
	h, err := newPasswordHasher(fastPasswords, 2)
	if err != nil {
		t.Fatal(err)
	}
	phc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Errorf("Hash = %q, want a PHC string with the parameters", phc)
	}
	if phc2, _ := h.Hash(ctx, "correct horse"); phc2 == phc {
		t.Errorf("two hashes of one password are equal (no salt?)")
	}
	for _, tc := range []struct {
		pw     string
		ok     bool
		rehash bool
	}{{"correct horse", true, false}, {"correct horsE", false, false}, {"", false, false}} {
		ok, rehash, err := h.Verify(ctx, phc, tc.pw)
		if ok != tc.ok || rehash != tc.rehash || err != nil {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, %v", tc.pw, ok, rehash, err, tc.ok, tc.rehash)
		}
	}
	// New parameters: the old hash still verifies and asks for a rehash.
	h2, _ := newPasswordHasher(PasswordParams{Memory: 16 << 10, Time: 1, Threads: 1}, 1)
	if ok, rehash, _ := h2.Verify(ctx, phc, "correct horse"); !ok || !rehash {
		t.Errorf("Verify with new parameters = %v, rehash %v; want true, true", ok, rehash)
	}
	if _, err := newPasswordHasher(PasswordParams{Memory: 4, Time: 1, Threads: 1}, 1); err == nil {
		t.Errorf("newPasswordHasher accepted m=4 KiB")
	}
}

// TestPasswordPepper: with a data key, new hashes are peppered (k=1) and
// verify only with the same key; an old unpeppered hash still verifies
// and asks for a rehash; a peppered hash cannot be checked without the
// key.
func TestPasswordPepper(t *testing.T) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, DataKeySize)
	h, _ := newPasswordHasher(fastPasswords, 1)
	if err := h.setPepper(key); err != nil {
		t.Fatal(err)
	}
	stored, err := h.Hash(ctx, "correct horse")
	if err != nil || !strings.HasPrefix(stored, "$argon2id$v=19$m=8192,t=1,p=1,k=1$") {
		t.Fatalf("Hash = %q, %v; want a peppered PHC string", stored, err)
	}
	if ok, rehash, err := h.Verify(ctx, stored, "correct horse"); !ok || rehash || err != nil {
		t.Errorf("Verify(peppered) = %v, %v, %v; want true, false", ok, rehash, err)
	}
	other, _ := newPasswordHasher(fastPasswords, 1)
	other.setPepper(bytes.Repeat([]byte{8}, DataKeySize))
	if ok, _, _ := other.Verify(ctx, stored, "correct horse"); ok {
		t.Error("a peppered hash verified under another data key")
	}
	plain, _ := newPasswordHasher(fastPasswords, 1)
	if ok, _, err := plain.Verify(ctx, stored, "correct horse"); ok || !errors.Is(err, ErrNoPepper) {
		t.Errorf("Verify(peppered) without a pepper = %v, %v; want ErrNoPepper", ok, err)
	}
	old, _ := plain.Hash(ctx, "correct horse")
	if ok, rehash, err := h.Verify(ctx, old, "correct horse"); !ok || !rehash || err != nil {
		t.Errorf("Verify(unpeppered) with a pepper = %v, %v, %v; want true and a rehash", ok, rehash, err)
	}
	// A frozen answer: the pepper's derivation must never change, or
	// every account would be locked out.
	for i := range key {
		key[i] = byte(i)
	}
	h.setPepper(key)
	const frozen = "$argon2id$v=19$m=8192,t=1,p=1,k=1$ZGVza3dheS1zYWx0LTE2Yg$aNqz+PMMoiClysZHhzcT2szVrlu4/YuvnOHjeap7Eqk"
	if ok, _, err := h.Verify(ctx, frozen, "correct horse"); !ok || err != nil {
		t.Errorf("Verify(frozen peppered hash) = %v, %v; want true", ok, err)
	}
}

// refPHC is a known answer from the Argon2 reference implementation's
// tests (phc-winner-argon2, src/test.c): password "password", salt
// "somesalt", t=2, m=64 MiB, p=1.
const refPHC = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

func TestPasswordKnownAnswer(t *testing.T) {
	h, _ := newPasswordHasher(fastPasswords, 1)
	if ok, _, err := h.Verify(context.Background(), refPHC, "password"); !ok || err != nil {
		t.Errorf("Verify(reference hash) = %v, %v; want true", ok, err)
	}
}

var phcSeeds = []string{
	refPHC,
	"$argon2id$v=19$m=8192,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"$argon2i$v=19$m=8192,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"$argon2id$v=19$m=8192,t=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
	"$argon2id$v=19$m=8192,t=1,p=1,k=2$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"",
}

func TestParsePHC(t *testing.T) {
	for i, s := range append(phcSeeds, "$argon2id$v=19$m=8192,t=1,p=1,k=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
		_, err := parsePHC(s)
		if (err == nil) != (i < 2 || i == len(phcSeeds)) {
			t.Errorf("parsePHC(%q) = %v", s, err)
		}
	}
}

func FuzzParsePHC(f *testing.F) {
	for _, s := range phcSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			return
		}
		if p.params.Memory > maxArgonMemory || p.params.Time > maxArgonTime || len(p.salt) > 64 || len(p.key) > 64 {
			t.Fatalf("parsePHC(%q) accepted out-of-range %+v", s, p.params)
		}
		if q, err := parsePHC(p.String()); err != nil || q.String() != p.String() {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

func TestTOTPStep(t *testing.T) {
	key, err := newTOTPKey("test", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(key.Secret()) != 32 { // 160 bits in base32
		t.Errorf("secret %q, want 160 bits", key.Secret())
	}
	now := time.Unix(1_800_000_015, 0)
	code := func(t0 time.Time) string {
		c, _ := totp.GenerateCodeCustom(key.Secret(), t0, totpOpts)
		return c
	}
	step := now.Unix() / totpPeriod
	for _, tc := range []struct {
		code string
		ok   bool
		step int64
	}{
		{code(now), true, step},
		{code(now.Add(-30 * time.Second)), true, step - 1},
		{code(now.Add(30 * time.Second)), true, step + 1},
		{code(now.Add(-60 * time.Second)), false, 0},
		{code(now.Add(90 * time.Second)), false, 0},
		{"12345", false, 0},
		{"abcdef", false, 0},
	} {
		got, ok := totpStep(key.Secret(), tc.code, now)
		if ok != tc.ok || (ok && got != tc.step) {
			t.Errorf("totpStep(%q) = %d, %v; want %d, %v", tc.code, got, ok, tc.step, tc.ok)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := newRecoveryCodes()
	if len(codes) != recoveryCount || len(hashes) != recoveryCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' {
			t.Errorf("code %q, want xxxxx-xxxxx", c)
		}
		for _, typed := range []string{c, strings.ToUpper(c), strings.ReplaceAll(c, "-", " ")} {
			if !slices.Equal(recoveryHash(typed), hashes[i]) {
				t.Errorf("recoveryHash(%q) differs from the code's hash", typed)
			}
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(LoginLimits{})
	t0 := time.Unix(1_700_000_000, 0)
	ip := netip.MustParseAddr("198.51.100.7")
	neighbour := netip.MustParseAddr("198.51.100.200")
	other := netip.MustParseAddr("203.0.113.1")
	for i := range 20 {
		if ok, _ := l.allowNet(ip, t0); !ok {
			t.Fatalf("attempt %d of the burst refused", i+1)
		}
	}
	if ok, wait := l.allowNet(neighbour, t0); ok || wait <= 0 || wait > 6*time.Second {
		t.Errorf("21st attempt from the same /24 = %v, wait %v; want refused, wait ≤ 6 s", ok, wait)
	}
	if ok, _ := l.allowNet(other, t0); !ok {
		t.Errorf("another network was refused")
	}
	if ok, _ := l.allowNet(ip, t0.Add(6*time.Second)); !ok {
		t.Errorf("after 6 s the network got no new attempt (10 a minute)")
	}
	v6a, v6b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if clientNet(v6a) != clientNet(v6b) || clientNet(v6a) == clientNet(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Errorf("IPv6 addresses are not grouped by /64")
	}

	// Per account: 5 free failures, then 1 s doubling, capped; the soft
	// lock after 10 failures in 15 min; never permanent.
	now := t0
	var waits []time.Duration
	for range 12 {
		ok, wait := l.allowAccount("alice", now)
		if !ok {
			now = now.Add(wait)
			waits = append(waits, wait)
		}
		l.failure("alice", now)
	}
	// The 10th failure within 15 min locks for 15 min; after it the doubling
	// goes on (64 s), the older failures having left the window.
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 15 * time.Minute, 64 * time.Second}
	if !slices.Equal(waits, want) {
		t.Errorf("waits between failures %v, want %v", waits, want)
	}
	if ok, _ := l.allowAccount("alice", now.Add(15*time.Minute)); !ok {
		t.Errorf("the account is still locked after the soft lock ended")
	}
	l.success("alice")
	if ok, _ := l.allowAccount("alice", now); !ok {
		t.Errorf("a success did not clear the account")
	}
	// The delay is capped at MaxDelay.
	l2 := newLimiter(LoginLimits{SoftLockFailures: 1 << 30})
	for range 40 {
		l2.failure("bob", t0)
	}
	if _, wait := l2.allowAccount("bob", t0); wait != 15*time.Minute {
		t.Errorf("wait after 40 failures %v, want the 15 min cap", wait)
	}
}

func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	st := sqliteStore(t)
	seal, _ := newSealer(testDataKey)
	k := &keyring{st: st, seal: seal, log: testLogger(t), rotation: 30 * 24 * time.Hour}
	t0 := time.Now().Truncate(time.Second)
	ticket := func(now time.Time) proto.Ticket {
		return proto.Ticket{ID: proto.NewTicketID(), Session: proto.NewSessionID(), HostID: "h", Role: proto.RoleHost, Mode: proto.ModeSupport,
			Relays: []proto.RelayRef{{ID: "r", URL: "https://r"}}, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Minute)}
	}
	verify := func(b []byte, keys proto.TicketKeys, now time.Time) error {
		_, err := proto.VerifyTicket(b, keys, "r", now)
		return err
	}
	if _, err := k.maintain(ctx, t0); err != nil {
		t.Fatal(err)
	}
	first := k.public()
	if len(first) != 1 {
		t.Fatalf("first start published %d keys, want 1", len(first))
	}
	tk := ticket(t0)
	b1, err := k.sign(&tk)
	if err != nil || verify(b1, first, t0) != nil {
		t.Fatalf("first key: sign %v, verify %v", err, verify(b1, first, t0))
	}
	// 30 days on: a successor is published but does not sign yet.
	t1 := t0.Add(30 * 24 * time.Hour)
	if changed, err := k.maintain(ctx, t1); err != nil || !changed {
		t.Fatalf("maintain at 30 days = %v, %v; want a change", changed, err)
	}
	if pub := k.public(); len(pub) != 2 {
		t.Fatalf("published %d keys during the lead, want 2", len(pub))
	}
	tk = ticket(t1)
	b2, _ := k.sign(&tk)
	if verify(b2, first, t1) != nil {
		t.Errorf("during the lead the broker signs with the new key already")
	}
	// After the lead the new key signs; the old one is retired but still
	// published until its last ticket expired.
	t2 := t1.Add(KeyLead)
	k.maintain(ctx, t2)
	tk = ticket(t2)
	b3, _ := k.sign(&tk)
	if verify(b3, first, t2) == nil {
		t.Errorf("after the lead the broker still signs with the old key")
	}
	if pub := k.public(); len(pub) != 2 || verify(b3, pub, t2) != nil {
		t.Errorf("after the switch: %d keys published, verify %v", len(pub), verify(b3, pub, t2))
	}
	t3 := t2.Add(keyTail + time.Second)
	k.maintain(ctx, t3)
	if pub := k.public(); len(pub) != 1 {
		t.Errorf("after the tail: %d keys published, want 1", len(pub))
	}
	// A broker with another data key cannot use these keys.
	other, _ := newSealer([]byte("another key of thirty-two bytes!"))
	k2 := &keyring{st: st, seal: other, log: testLogger(t)}
	if _, err := k2.maintain(ctx, t3); !errors.Is(err, ErrDataKey) {
		t.Errorf("maintain with a wrong data key = %v, want ErrDataKey", err)
	}
}

func TestDataKeyChecked(t *testing.T) {
	st := sqliteStore(t)
	cfg := Config{Store: st, DataKey: testDataKey, PublicURL: "https://broker.example", PasswordParams: fastPasswords}
	if _, err := New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.DataKey = []byte("another key of thirty-two bytes!")
	if _, err := New(context.Background(), cfg); !errors.Is(err, ErrDataKey) {
		t.Errorf("New with another data key = %v, want ErrDataKey", err)
	}
}

func TestConfigChecks(t *testing.T) {
	st := sqliteStore(t)
	for _, cfg := range []Config{
		{DataKey: testDataKey, PublicURL: "https://b"},
		{Store: st, DataKey: testDataKey[:16], PublicURL: "https://b"},
		{Store: st, DataKey: testDataKey, PublicURL: "ftp://b"},
		{Store: st, DataKey: testDataKey, PublicURL: "http://b"},
		{Store: st, DataKey: testDataKey, PublicURL: "https://b", Relays: []RelayConfig{{ID: "a b", URL: "https://r"}}},
		{Store: st, DataKey: testDataKey, PublicURL: "https://b", EmbeddedRelay: true, Relays: []RelayConfig{{ID: LocalRelayID, URL: "https://r"}}},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
	for _, tc := range []struct {
		in   string
		want RelayConfig
		ok   bool
	}{
		{"eu=https://relay.example.com/", RelayConfig{"eu", "https://relay.example.com"}, true},
		{"eu=wss://relay.example.com:8443", RelayConfig{"eu", "wss://relay.example.com:8443"}, true},
		{"eu", RelayConfig{}, false},
		{"=https://x", RelayConfig{}, false},
		{"eu=relay.example.com", RelayConfig{}, false},
	} {
		got, err := ParseRelayConfig(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseRelayConfig(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestCheckDeviceKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	if err := checkDeviceKey(pub); err != nil {
		t.Errorf("checkDeviceKey(a real key) = %v", err)
	}
	// The eight points of small order (their canonical encodings) and
	// bytes that are no point.
	smallOrder := []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	}
	for _, h := range smallOrder {
		k, _ := hex.DecodeString(h)
		if err := checkDeviceKey(k); err == nil {
			t.Errorf("checkDeviceKey(%s) = nil, want small order refused", h)
		}
	}
	for _, k := range [][]byte{nil, make([]byte, 31), bytes.Repeat([]byte{0xff}, 32)} {
		if err := checkDeviceKey(k); err == nil {
			t.Errorf("checkDeviceKey(%x) = nil, want an error", k)
		}
	}
}

func TestEnrollCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		c := newEnrollCode()
		if len(c) != 19 || strings.Count(c, "-") != 3 || seen[c] {
			t.Fatalf("newEnrollCode = %q", c)
		}
		seen[c] = true
		if n := normalizeEnrollCode(strings.ToLower(strings.ReplaceAll(c, "-", " "))); n != strings.ReplaceAll(c, "-", "") {
			t.Errorf("normalizeEnrollCode(lowercase, spaces) = %q", n)
		}
	}
}

func TestNameplateLength(t *testing.T) {
	for _, tc := range []struct{ pending, want int }{{0, 3}, {99, 3}, {100, 4}, {999, 4}, {1000, 5}} {
		if got := nameplateLength(tc.pending); got != tc.want {
			t.Errorf("nameplateLength(%d) = %d, want %d", tc.pending, got, tc.want)
		}
	}
	for np, ok := range map[string]bool{"123": true, "12345": true, "12": false, "123456": false, "12a": false, "": false} {
		if validNameplate(np) != ok {
			t.Errorf("validNameplate(%q) = %v", np, !ok)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{"Alice": "alice", " bob@example.com ": "bob@example.com", "a.b_c-d": "a.b_c-d"} {
		if got, err := normalizeName(in); got != want || err != nil {
			t.Errorf("normalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a b", "ünï", "<script>", strings.Repeat("a", 65), "=1+1"} {
		if got, err := normalizeName(in); err == nil {
			t.Errorf("normalizeName(%q) = %q, want an error", in, got)
		}
	}
}

// requestSeeds are JSON bodies of the API's requests.
var requestSeeds = []string{
	`{"name":"alice","password":"pw","totp":"123456"}`,
	`{"code":"ABCD-EFGH","device_pub":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","proof":"AAAA","name":"pc","os":"linux","version":"1"}`,
	`{"nameplate":"123"}`,
	`{"role":"viewer"}`,
	`{"session_id":"00112233445566778899aabbccddeeff","relay_id":"eu","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:01:00Z","bytes_from_host":1,"bytes_to_host":2,"end_reason":"peer_left"}`,
	`{"role":"admin","disabled":true,"password":"x","reset_totp":true}`,
	`{"user":"bob"}`,
}

// FuzzDecodeRequest feeds the API's request decoding every kind of body:
// it must return an error or a value, never panic, and a decoded value
// must survive a round trip.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		targets := []any{&api.LoginRequest{}, &api.EnrollRequest{}, &api.JoinRequest{}, &api.TicketsRequest{},
			&api.RelaySessionReport{}, &api.UpdateUserRequest{}, &api.AccessRequest{}, &api.CreateUserRequest{}, &api.SupportRequest{}}
		for _, v := range targets {
			if err := decodeRequest(b, v); err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.code != api.CodeBadRequest {
					t.Fatalf("decodeRequest error %v is not a bad request", err)
				}
				continue
			}
			if r, ok := v.(*api.RelaySessionReport); ok {
				r.Validate()
			}
			if e, ok := v.(*api.EnrollRequest); ok && len(e.DevicePub) == ed25519.PublicKeySize && len(e.Proof) == ed25519.SignatureSize {
				ed25519.Verify(e.DevicePub, api.EnrollProofMessage(e.Code, e.DevicePub), e.Proof)
			}
			out, err := json.Marshal(v)
			if err != nil {
				continue // e.g. a zero role cannot be re-encoded
			}
			if err := decodeRequest(out, v); err != nil {
				t.Fatalf("re-decoding %s: %v", out, err)
			}
		}
	})
}

func TestDecodeRequestLimit(t *testing.T) {
	big := `{"name":"` + strings.Repeat("a", api.MaxRequestBody) + `"}`
	if err := decodeRequest([]byte(big), &api.LoginRequest{}); err == nil {
		t.Errorf("decodeRequest accepted %d bytes", len(big))
	}
}
