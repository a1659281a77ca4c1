package proto

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/bytemare/ecc"
	"github.com/bytemare/opaque"
	"github.com/bytemare/opaque/message"
)

// opaqueVector is one RFC 9807 Appendix C vector; all values are hex.
type opaqueVector struct {
	Config        map[string]string `json:"config"`
	Inputs        map[string]string `json:"inputs"`
	Intermediates map[string]string `json:"intermediates"`
	Outputs       map[string]string `json:"outputs"`
}

func (v *opaqueVector) hex(t *testing.T, m map[string]string, k string) []byte {
	t.Helper()
	s, ok := m[k]
	if !ok {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: %v", k, err)
	}
	return b
}

func (v *opaqueVector) config(t *testing.T) *opaque.Configuration {
	groups := map[string]opaque.Group{"ristretto255": opaque.RistrettoSha512, "P256_XMD:SHA-256_SSWU_RO_": opaque.P256Sha256}
	oprfs := map[string]opaque.Group{"ristretto255-SHA512": opaque.RistrettoSha512, "P256-SHA256": opaque.P256Sha256}
	hashes := map[string]crypto.Hash{"SHA512": crypto.SHA512, "SHA256": crypto.SHA256}
	c := v.Config
	if c["KSF"] != "Identity" {
		t.Fatalf("KSF %q", c["KSF"])
	}
	return &opaque.Configuration{
		OPRF:    oprfs[c["OPRF"]],
		AKE:     groups[c["Group"]],
		KSF:     0, // Identity
		KDF:     hashes[strings.TrimPrefix(c["KDF"], "HKDF-")],
		MAC:     hashes[strings.TrimPrefix(c["MAC"], "HMAC-")],
		Hash:    hashes[c["Hash"]],
		Context: v.hex(t, c, "Context"),
	}
}

func (v *opaqueVector) scalar(t *testing.T, g opaque.Group, k string) *ecc.Scalar {
	s := ecc.Group(g).NewScalar()
	if err := s.Decode(v.hex(t, v.Inputs, k)); err != nil {
		t.Fatalf("%s: %v", k, err)
	}
	return s
}

// TestOPAQUEVectors replays the RFC 9807 vectors (testdata/opaque)
// through the library's public API with the inputs injected the way
// opaque.go injects its randomness.
func TestOPAQUEVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/opaque/rfc9807-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []*opaqueVector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for i, v := range vectors {
		if v.Config["Group"] == "curve25519" {
			continue // not implemented by the library
		}
		ran++
		t.Run(v.Config["Group"]+"/"+v.Config["Fake"]+"/"+string(rune('0'+i)), func(t *testing.T) {
			if v.Config["Fake"] == "True" {
				v.testFake(t)
			} else {
				v.testReal(t)
			}
		})
	}
	if ran != 6 {
		t.Errorf("ran %d vectors, want 6", ran)
	}
}

func (v *opaqueVector) testReal(t *testing.T) {
	conf := v.config(t)
	in, out := v.Inputs, v.Outputs
	cid, sid := v.hex(t, in, "client_identity"), v.hex(t, in, "server_identity")

	// Registration.
	client, err := conf.Client()
	if err != nil {
		t.Fatal(err)
	}
	req, err := client.RegistrationInit(v.hex(t, in, "password"), &opaque.ClientOptions{OPRFBlind: v.scalar(t, conf.OPRF, "blind_registration")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.Serialize(), v.hex(t, out, "registration_request"); !bytes.Equal(got, want) {
		t.Fatalf("registration_request = %x, want %x", got, want)
	}
	server, _ := conf.Server()
	server.ServerKeyMaterial = &opaque.ServerKeyMaterial{PublicKeyBytes: v.hex(t, in, "server_public_key"), OPRFGlobalSeed: v.hex(t, in, "oprf_seed")}
	resp, err := server.RegistrationResponse(req, v.hex(t, in, "credential_identifier"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Serialize(), v.hex(t, out, "registration_response"); !bytes.Equal(got, want) {
		t.Fatalf("registration_response = %x, want %x", got, want)
	}
	upload, export, err := client.RegistrationFinalize(resp, cid, sid, &opaque.ClientOptions{RegistrationEnvelopeNonce: v.hex(t, in, "envelope_nonce")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := upload.Serialize(), v.hex(t, out, "registration_upload"); !bytes.Equal(got, want) {
		t.Fatalf("registration_upload = %x, want %x", got, want)
	}
	if want := v.hex(t, out, "export_key"); !bytes.Equal(export, want) {
		t.Fatalf("export_key = %x, want %x", export, want)
	}

	// Login.
	client, _ = conf.Client()
	ke1, err := client.GenerateKE1(v.hex(t, in, "password"), &opaque.ClientOptions{
		OPRFBlind: v.scalar(t, conf.OPRF, "blind_login"),
		AKE:       &opaque.AKEOptions{SecretKeyShareSeed: v.hex(t, in, "client_keyshare_seed"), Nonce: v.hex(t, in, "client_nonce")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ke1.Serialize(), v.hex(t, out, "KE1"); !bytes.Equal(got, want) {
		t.Fatalf("KE1 = %x, want %x", got, want)
	}
	ke2, serverOut := v.respond(t, conf, upload.Serialize(), ke1.Serialize())
	ke3, session, export, err := client.GenerateKE3(ke2, cid, sid)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ke3.Serialize(), v.hex(t, out, "KE3"); !bytes.Equal(got, want) {
		t.Fatalf("KE3 = %x, want %x", got, want)
	}
	if want := v.hex(t, out, "session_key"); !bytes.Equal(session, want) || !bytes.Equal(serverOut.SessionSecret, want) {
		t.Fatalf("session keys %x / %x, want %x", session, serverOut.SessionSecret, want)
	}
	if want := v.hex(t, out, "export_key"); !bytes.Equal(export, want) {
		t.Fatalf("login export_key = %x, want %x", export, want)
	}
	if err := server.LoginFinish(ke3, serverOut.ClientMAC); err != nil {
		t.Fatalf("LoginFinish: %v", err)
	}
}

// respond runs the server's GenerateKE2 on a record and checks KE2.
func (v *opaqueVector) respond(t *testing.T, conf *opaque.Configuration, record, ke1b []byte) (*message.KE2, *opaque.ServerOutput) {
	in := v.Inputs
	server, _ := conf.Server()
	sk, err := server.Deserialize.DecodePrivateKey(v.hex(t, in, "server_private_key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := server.SetKeyMaterial(&opaque.ServerKeyMaterial{
		PrivateKey:     sk,
		PublicKeyBytes: ecc.Group(conf.AKE).Base().Multiply(sk).Encode(),
		OPRFGlobalSeed: v.hex(t, in, "oprf_seed"),
		Identity:       v.hex(t, in, "server_identity"),
	}); err != nil {
		t.Fatal(err)
	}
	reg, err := server.Deserialize.RegistrationRecord(record)
	if err != nil {
		t.Fatal(err)
	}
	ke1, err := server.Deserialize.KE1(ke1b)
	if err != nil {
		t.Fatal(err)
	}
	ke2, out, err := server.GenerateKE2(ke1, &opaque.ClientRecord{
		RegistrationRecord:   reg,
		CredentialIdentifier: v.hex(t, in, "credential_identifier"),
		ClientIdentity:       v.hex(t, in, "client_identity"),
	}, &opaque.ServerOptions{
		MaskingNonce: v.hex(t, in, "masking_nonce"),
		AKE:          &opaque.AKEOptions{SecretKeyShareSeed: v.hex(t, in, "server_keyshare_seed"), Nonce: v.hex(t, in, "server_nonce")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ke2.Serialize(), v.hex(t, v.Outputs, "KE2"); !bytes.Equal(got, want) {
		t.Fatalf("KE2 = %x, want %x", got, want)
	}
	return ke2, out
}

// testFake checks the "fake record" vectors (RFC 9807 §10.9): the KE2 a
// server sends for an unknown user.
func (v *opaqueVector) testFake(t *testing.T) {
	conf := v.config(t)
	in := v.Inputs
	envelope := make([]byte, 32+conf.MAC.Size())
	record := append(append(v.hex(t, in, "client_public_key"), v.hex(t, in, "masking_key")...), envelope...)
	v.respond(t, conf, record, v.hex(t, in, "KE1"))
}

func TestHostPasswordRecord(t *testing.T) {
	rec := HostRecordForTest(t)
	b, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxHostPasswordRecordSize {
		t.Fatalf("record of %d bytes exceeds its own limit", len(b))
	}
	got, err := ParseHostPasswordRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := got.MarshalBinary(); !bytes.Equal(again, b) || got.HostID() != "host-1" || got.OwnerID() != "owner@example.com" {
		t.Errorf("round trip changed the record")
	}
	if rec.record[0] == 0 && rec.record[1] == 0 {
		t.Error("registration record looks empty")
	}
	// Truncations, extensions and a public key that does not match the
	// private key are refused.
	for _, n := range []int{0, 4, 5, 6, len(b) / 2, len(b) - 1} {
		if _, err := ParseHostPasswordRecord(b[:n]); !errors.Is(err, ErrHostRecord) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	if _, err := ParseHostPasswordRecord(append(bytes.Clone(b), 0)); !errors.Is(err, ErrHostRecord) {
		t.Errorf("extended: %v", err)
	}
	bad := bytes.Clone(b)
	i := bytes.Index(bad, rec.akePub[:])
	bad[i] ^= 1
	if _, err := ParseHostPasswordRecord(bad); !errors.Is(err, ErrHostRecord) {
		t.Errorf("mismatched public key: %v", err)
	}
	if _, err := ParseHostPasswordRecord(make([]byte, MaxHostPasswordRecordSize+1)); !errors.Is(err, ErrHostRecord) {
		t.Errorf("oversize: %v", err)
	}
	// The password appears nowhere in the record.
	if bytes.Contains(b, []byte(TestPassword)) || bytes.Contains(b, []byte("battery")) {
		t.Error("password stored in the record")
	}
	if v := rec.LogValue().String(); strings.Contains(v, hex.EncodeToString(rec.oprfSeed[:8])) {
		t.Errorf("LogValue shows the OPRF seed: %s", v)
	}
}

func FuzzParseHostPasswordRecord(f *testing.F) {
	rec := HostRecordForTest(f)
	b, _ := rec.MarshalBinary()
	f.Add(b)
	f.Add(b[:40])
	f.Add([]byte("dwhp\x01\x01"))
	addMutations(f, nil, b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseHostPasswordRecord(b)
		if err != nil {
			return
		}
		again, _ := r.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("ParseHostPasswordRecord(%x) re-encodes as %x", b, again)
		}
	})
}

// FuzzOPAQUEMessages feeds arbitrary bytes to the KE1, KE2 and KE3
// decoders: no panic, and only exact lengths get to the library.
func FuzzOPAQUEMessages(f *testing.F) {
	rec := HostRecordForTest(f)
	client, ke1, err := newOpaqueClientState(NewDetRandForTest("fuzz"), []byte(TestPassword))
	if err != nil {
		f.Fatal(err)
	}
	client.wipe()
	_, ke2, err := opaqueServerRespond(NewDetRandForTest("fuzz2"), rec, ke1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ke1)
	f.Add(ke2)
	f.Add(make([]byte, opaqueKE3Len))
	f.Add(bytes.Repeat([]byte{0xff}, opaqueKE1Len))
	addMutations(f, nil, ke1, ke2)
	d, err := opaqueConfig().Deserializer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := opaqueDecodeKE1(d, b); err == nil && len(b) != opaqueKE1Len {
			t.Fatalf("KE1 of %d bytes accepted", len(b))
		}
		if _, err := opaqueDecodeKE2(d, b); err == nil && len(b) != opaqueKE2Len {
			t.Fatalf("KE2 of %d bytes accepted", len(b))
		}
		if _, err := opaqueDecodeKE3(d, b); err == nil && len(b) != opaqueKE3Len {
			t.Fatalf("KE3 of %d bytes accepted", len(b))
		}
	})
}

func TestCheckHostPassword(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"correct horse battery staple", true},
		{"cat dog sun red", true},          // 4 words of 3+ letters
		{"Tr0ub4dor&3xyz", true},           // 14 characters, varied
		{"z8#kQ2!vL9@m", true},             // exactly 12
		{"short1!", false},                 // too short
		{"a b c d e f", false},             // words too short, too short overall
		{"cat cat cat cat", false},         // not 4 distinct words, 15 chars of 4 symbols
		{"aaaaaaaaaaaaaaaa", false},        // repeats
		{"abcdefghijklmnop", false},        // sequence
		{"123456789012345", false},         // sequence
		{"qwertyuiopasdfgh", false},        // keyboard run
		{"password12345678", false},        // common password + sequence
		{"Passwort!Passwort!", false},      // common password twice
		{"deskwaydeskway12", false},        // product name
		{"", false},                        // empty
		{strings.Repeat("x", 2000), false}, // too long
		{"\xff\xfe invalid utf8 xxx", false},
	} {
		err := CheckHostPassword(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("CheckHostPassword(%q) = %v, want ok %v", truncateForError(tc.pw), err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrWeakPassword) {
			t.Errorf("%v is not ErrWeakPassword", err)
		}
	}
	if _, err := RegisterHostPassword("h", "o", []byte("short"), nil); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("RegisterHostPassword with a weak password: %v", err)
	}
}
