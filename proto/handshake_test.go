package proto

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/flynn/noise"
)

// noisePatterns are the patterns flynn/noise implements, by name.
var noisePatterns = map[string]noise.HandshakePattern{}

func init() {
	for _, p := range []noise.HandshakePattern{
		noise.HandshakeNN, noise.HandshakeKN, noise.HandshakeNK, noise.HandshakeKK, noise.HandshakeNX,
		noise.HandshakeKX, noise.HandshakeXN, noise.HandshakeIN, noise.HandshakeXK, noise.HandshakeIK,
		noise.HandshakeXX, noise.HandshakeIX, noise.HandshakeN, noise.HandshakeK, noise.HandshakeX,
	} {
		noisePatterns[p.Name] = p
	}
}

// noiseVector is one block of the Noise test-vector format.
type noiseVector struct {
	name   string
	fields map[string][]byte
	msgs   []struct{ payload, ciphertext []byte }
}

func readNoiseVectors(t *testing.T, path string) []*noiseVector {
	var out []*noiseVector
	var cur *noiseVector
	scanVectorLines(t, path, "=", func(k, v string) {
		if k == "handshake" {
			cur = &noiseVector{name: v, fields: map[string][]byte{}}
			out = append(out, cur)
			return
		}
		b, err := hex.DecodeString(v)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if rest, ok := strings.CutPrefix(k, "msg_"); ok {
			idx, kind, _ := strings.Cut(rest, "_")
			i, _ := strconv.Atoi(idx)
			for len(cur.msgs) <= i {
				cur.msgs = append(cur.msgs, struct{ payload, ciphertext []byte }{})
			}
			if kind == "payload" {
				cur.msgs[i].payload = b
			} else {
				cur.msgs[i].ciphertext = b
			}
			return
		}
		cur.fields[k] = b
	})
	return out
}

func hasPre(ms []noise.MessagePattern, want noise.MessagePattern) bool {
	for _, m := range ms {
		if m == want {
			return true
		}
	}
	return false
}

func (v *noiseVector) run(t *testing.T) {
	// Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s → XX, psk0.
	parts := strings.Split(v.name, "_")
	base, pskPart, hasPSK := strings.Cut(parts[1], "psk")
	pattern, ok := noisePatterns[base]
	if !ok {
		t.Fatalf("unknown pattern %s", base)
	}
	suite := noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)
	key := func(name string) noise.DHKey {
		b, ok := v.fields[name]
		if !ok {
			return noise.DHKey{}
		}
		k, err := noise.DH25519.GenerateKeypair(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	is, rs := key("init_static"), key("resp_static")
	ci := noise.Config{CipherSuite: suite, Pattern: pattern, Initiator: true, Prologue: v.fields["prologue"],
		Random: bytes.NewReader(v.fields["gen_init_ephemeral"]), StaticKeypair: is}
	cr := noise.Config{CipherSuite: suite, Pattern: pattern, Prologue: v.fields["prologue"],
		Random: bytes.NewReader(v.fields["gen_resp_ephemeral"]), StaticKeypair: rs}
	if hasPre(pattern.ResponderPreMessages, noise.MessagePatternS) {
		ci.PeerStatic = rs.Public
	}
	if hasPre(pattern.InitiatorPreMessages, noise.MessagePatternS) {
		cr.PeerStatic = is.Public
	}
	if hasPSK {
		n, _ := strconv.Atoi(pskPart)
		ci.PresharedKey, ci.PresharedKeyPlacement = v.fields["preshared_key"], n
		cr.PresharedKey, cr.PresharedKeyPlacement = v.fields["preshared_key"], n
	}
	hi, err := noise.NewHandshakeState(ci)
	if err != nil {
		t.Fatal(err)
	}
	hr, err := noise.NewHandshakeState(cr)
	if err != nil {
		t.Fatal(err)
	}
	var w1, w2, r1, r2 *noise.CipherState // cipher states of the last handshake writer and reader
	for i, m := range v.msgs {
		if i < len(pattern.Messages) {
			writer, reader := hi, hr
			if i%2 == 1 {
				writer, reader = hr, hi
			}
			ct, a, b, err := writer.WriteMessage(nil, m.payload)
			if err != nil || !bytes.Equal(ct, m.ciphertext) {
				t.Fatalf("msg %d: WriteMessage = %x, %v; want %x", i, ct, err, m.ciphertext)
			}
			pt, c, d, err := reader.ReadMessage(nil, ct)
			if err != nil || !bytes.Equal(pt, m.payload) {
				t.Fatalf("msg %d: ReadMessage = %x, %v", i, pt, err)
			}
			w1, w2, r1, r2 = a, b, c, d
			continue
		}
		enc, dec := w1, r1
		if (i-len(pattern.Messages))%2 == 1 {
			enc, dec = w2, r2
		}
		ct, err := enc.Encrypt(nil, nil, m.payload)
		if err != nil || !bytes.Equal(ct, m.ciphertext) {
			t.Fatalf("transport msg %d: Encrypt = %x, %v; want %x", i, ct, err, m.ciphertext)
		}
		if pt, err := dec.Decrypt(nil, nil, ct); err != nil || !bytes.Equal(pt, m.payload) {
			t.Fatalf("transport msg %d: Decrypt = %x, %v", i, pt, err)
		}
	}
}

// TestNoiseVectors runs flynn/noise's test vectors of our cipher suite,
// 25519_ChaChaPoly_BLAKE2s, for every pattern (XXpsk0 and KKpsk0 among
// them), through flynn/noise's public API as dw/1 uses it.
func TestNoiseVectors(t *testing.T) {
	vs := readNoiseVectors(t, "testdata/noise/vectors-25519-chachapoly-blake2s.txt")
	counts := map[string]int{}
	for _, v := range vs {
		v.run(t)
		counts[strings.Split(v.name, "_")[1]]++
	}
	if len(vs) != 240 || counts["XXpsk0"] == 0 || counts["KKpsk0"] == 0 {
		t.Errorf("%d vectors, XXpsk0 %d, KKpsk0 %d", len(vs), counts["XXpsk0"], counts["KKpsk0"])
	}
}

func TestChooseOffer(t *testing.T) {
	for _, tc := range []struct {
		offers []offer
		accept []uint8
		suite  uint8
		want   offer
		ok     bool
	}{
		{[]offer{{1, 1}}, []uint8{1}, 1, offer{1, 1}, true},
		{[]offer{{2, 1}, {1, 1}}, []uint8{1, 2}, 1, offer{2, 1}, true},
		{[]offer{{1, 1}, {2, 1}}, []uint8{1, 2}, 1, offer{2, 1}, true}, // highest, whatever the order
		{[]offer{{2, 1}}, []uint8{1}, 1, offer{}, false},
		{[]offer{{1, 2}}, []uint8{1}, 1, offer{}, false},    // other suite
		{[]offer{{0, 1}}, []uint8{0, 1}, 1, offer{}, false}, // version 0 never
	} {
		got, ok := chooseOffer(tc.offers, tc.accept, tc.suite)
		if ok != tc.ok || got != tc.want {
			t.Errorf("chooseOffer(%v, %v, %d) = %v, %v; want %v, %v", tc.offers, tc.accept, tc.suite, got, ok, tc.want, tc.ok)
		}
	}
	for _, m := range []Mode{0, ModePresentation, 99} {
		if _, ok := suiteForMode(m); ok {
			t.Errorf("mode %v has a suite", m)
		}
	}
	// Every suite a mode can use encrypts: no null cipher anywhere.
	for _, m := range []Mode{ModeSupport, ModeUnattended} {
		s, _ := suiteForMode(m)
		if n := suiteName(s); !strings.Contains(n, "ChaChaPoly") || !strings.Contains(n, "psk0") {
			t.Errorf("%v uses suite %q", m, n)
		}
	}
}

// seedMessages returns the handshake messages of an honest support-mode
// handshake, per direction.
func seedMessages(t testing.TB) (v2h, h2v [][]byte) {
	s := NewTestSetupForTest(t, ModeSupport, "fuzz seeds")
	hc, vc := Pipe()
	rec := &recordingConn{MsgConn: vc}
	hrec := &recordingConn{MsgConn: hc}
	r := HandshakeForTest(context.Background(), s, hrec, rec)
	if r.HostErr != nil || r.ViewerErr != nil {
		t.Fatal(r.HostErr, r.ViewerErr)
	}
	r.Host.Close(context.Background(), CloseNormal)
	r.Viewer.Close(context.Background(), CloseNormal)
	return rec.sent, hrec.sent
}

type recordingConn struct {
	MsgConn
	sent [][]byte
}

func (c *recordingConn) WriteMsg(ctx context.Context, p []byte) error {
	c.sent = append(c.sent, bytes.Clone(p))
	return c.MsgConn.WriteMsg(ctx, p)
}

// FuzzHandshakeMessages feeds arbitrary bytes to every handshake message
// parser: no panic, and what parses re-encodes to the same bytes.
func FuzzHandshakeMessages(f *testing.F) {
	v2h, h2v := seedMessages(f)
	for _, m := range append(v2h, h2v...) {
		f.Add(m)
	}
	f.Add([]byte{byte(hsResumeInit), 0, 0, 0, 1})
	addMutations(f, nil, append(v2h, h2v...)...)
	f.Fuzz(func(t *testing.T, m []byte) {
		if len(m) == 0 {
			return
		}
		body := m[1:]
		switch handshakeType(m[0]) {
		case hsClientHello, hsServerHello:
			h, err := parseHello(body)
			if err != nil {
				return
			}
			if !bytes.Equal(marshalHello(handshakeType(m[0]), h.ad, h.pake), m) {
				t.Fatalf("hello %x does not round-trip", m)
			}
			if a, err := parseClientAD(h.ad); err == nil && !bytes.Equal(a.marshal(), h.ad) {
				t.Fatalf("ADa %x does not round-trip", h.ad)
			}
			if a, err := parseServerAD(h.ad); err == nil && !bytes.Equal(a.marshal(), h.ad) {
				t.Fatalf("ADb %x does not round-trip", h.ad)
			}
		case hsClientFinish:
			fin, err := parseFinish(body)
			if err == nil && !bytes.Equal(marshalFinish(fin.ke3, fin.noise), m) {
				t.Fatalf("finish %x does not round-trip", m)
			}
		case hsResumeInit:
			r, err := parseResumeInit(body)
			if err == nil && !bytes.Equal(marshalResumeInit(r.counter, r.sid, r.noise), m) {
				t.Fatalf("resume init %x does not round-trip", m)
			}
		}
	})
}

// scriptConn is a MsgConn that replays fixed messages and records writes.
type scriptConn struct {
	in  [][]byte
	out [][]byte
}

func (c *scriptConn) ReadMsg(ctx context.Context) ([]byte, error) {
	if len(c.in) == 0 {
		return nil, io.EOF
	}
	m := c.in[0]
	c.in = c.in[1:]
	return m, nil
}

func (c *scriptConn) WriteMsg(ctx context.Context, p []byte) error {
	c.out = append(c.out, bytes.Clone(p))
	return nil
}

func (c *scriptConn) Close() error { return nil }

// FuzzHostHandshake drives a whole host handshake (CPace parse, limiter,
// Noise message reader) with an arbitrary first and third message: no
// panic, never a channel, and a counted attempt only after a well-formed
// CLIENT_HELLO.
func FuzzHostHandshake(f *testing.F) {
	v2h, _ := seedMessages(f)
	f.Add(v2h[0], v2h[1])
	f.Add(v2h[0], []byte{byte(hsClientFinish)})
	f.Add([]byte{0x11}, []byte{})
	if *stressN > 0 { // mutate one message at a time, keep the other genuine
		n := *stressN / 10 // a whole handshake attempt per input
		half := func(b []byte) []any { return []any{b, v2h[1]} }
		addMutationsN(f, n, half, v2h[0])
		addMutationsN(f, n, func(b []byte) []any { return []any{v2h[0], b} }, v2h[1])
	}
	s := NewTestSetupForTest(f, ModeSupport, "fuzz seeds")
	f.Fuzz(func(t *testing.T, hello, finish []byte) {
		cfg := s.Host
		cfg.Logger = nil
		lim, _ := NewLimiter(LimiterPolicy{}, &MemLimiterStore{}, LimiterOptions{})
		cfg.Limiter = lim
		cfg.Rand = NewDetRandForTest("fuzz host")
		conn := &scriptConn{in: [][]byte{hello, finish}}
		ch, err := AcceptHost(context.Background(), conn, cfg)
		if err == nil {
			ch.Close(context.Background(), CloseNormal)
			t.Fatalf("host accepted %x / %x", hello, finish)
		}
		var he *HandshakeError
		if !errors.As(err, &he) {
			t.Fatalf("error %v is not a *HandshakeError", err)
		}
	})
}

// FuzzNoiseReadMessage gives the host's Noise XXpsk0 state arbitrary
// bytes as msg1 and the viewer's arbitrary bytes as msg2.
func FuzzNoiseReadMessage(f *testing.F) {
	var psk noisePSK
	psk.k[0] = 1
	mk := func(initiator bool, who string) *noise.HandshakeState {
		hs, err := noiseXX(initiator, []byte("dw/1 prologue fuzz"), &psk, StaticForTest(who), NewDetRandForTest(who))
		if err != nil {
			f.Fatal(err)
		}
		return hs
	}
	v, h := mk(true, "v"), mk(false, "h")
	msg1, _, _, _ := v.WriteMessage(nil, nil)
	h.ReadMessage(nil, msg1)
	msg2, _, _, _ := h.WriteMessage(nil, nil)
	f.Add(msg1)
	f.Add(msg2)
	f.Add(make([]byte, 32))
	addMutations(f, nil, msg1, msg2)
	f.Fuzz(func(t *testing.T, b []byte) {
		h := mk(false, "h")
		if _, _, _, err := h.ReadMessage(nil, b); err == nil && !bytes.Equal(b, msg1) {
			t.Fatalf("host accepted a forged msg1 %x", b)
		}
		v := mk(true, "v")
		v.WriteMessage(nil, nil)
		if _, _, _, err := v.ReadMessage(nil, b); err == nil && !bytes.Equal(b, msg2) {
			t.Fatalf("viewer accepted a forged msg2 %x", b)
		}
	})
}

// FuzzSASMessages: arbitrary SAS record payloads and reveals: the layout
// check and the commitment check never panic, and only the committed
// nonce opens the commitment.
func FuzzSASMessages(f *testing.F) {
	h := bytes.Repeat([]byte{7}, 32)
	nH := bytes.Repeat([]byte{9}, 32)
	c := sasCommit(h, nH)
	f.Add(nH)
	f.Add(c[:])
	f.Add([]byte{})
	addMutations(f, nil, nH, c[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range []recordType{recSASCommit, recSASNonce, recSASReveal} {
			if err := checkRecordPlaintext(typ, b); err == nil && len(b) != sasNonceLen {
				t.Fatalf("%v of %d bytes accepted", typ, len(b))
			}
		}
		if sasCheck(c[:], h, b) == nil && !bytes.Equal(b, nH) {
			t.Fatalf("commitment opened with %x", b)
		}
		_ = sasNumber(h, b, b, sasModulus)
	})
}
