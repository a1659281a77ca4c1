package proto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gtank/ristretto255"
)

// scanVectorLines calls fn for each "key<sep>value" line of a test vector
// file, skipping blank lines and '#' comments.
func scanVectorLines(t testing.TB, path, sep string, fn func(k, v string)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, sep)
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		fn(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// readVectorFile reads a "name: hex" test vector file.
func readVectorFile(t testing.TB, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	scanVectorLines(t, path, ":", func(k, v string) { out[k] = v })
	return out
}

func vecHex(t testing.TB, v map[string]string, name string) []byte {
	t.Helper()
	s, ok := v[name]
	if !ok {
		t.Fatalf("test vector %q missing", name)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("test vector %q: %v", name, err)
	}
	return b
}

func vecScalar(t testing.TB, v map[string]string, name string) *ristretto255.Scalar {
	t.Helper()
	s, err := ristretto255.NewScalar().SetCanonicalBytes(vecHex(t, v, name))
	if err != nil {
		t.Fatalf("test vector %q: %v", name, err)
	}
	return s
}

// TestCPaceVectors checks generator, Ya, Yb, K and ISK byte for byte
// against draft-irtf-cfrg-cpace-21 Appendix B.3.
func TestCPaceVectors(t *testing.T) {
	v := readVectorFile(t, "testdata/cpace/ristretto255.txt")
	prs, ci, sid := vecHex(t, v, "PRS"), vecHex(t, v, "CI"), vecHex(t, v, "sid")

	if got, want := cpaceGeneratorString(prs, ci, sid), vecHex(t, v, "generator_string"); !bytes.Equal(got, want) {
		t.Errorf("generator_string = %x, want %x", got, want)
	}
	g := cpaceGenerator(prs, ci, sid)
	if got, want := g.Bytes(), vecHex(t, v, "g"); !bytes.Equal(got, want) {
		t.Errorf("g = %x, want %x", got, want)
	}

	ya, yb := vecScalar(t, v, "ya"), vecScalar(t, v, "yb")
	Ya := ristretto255.NewElement().ScalarMult(ya, g).Bytes()
	Yb := ristretto255.NewElement().ScalarMult(yb, g).Bytes()
	if want := vecHex(t, v, "Ya"); !bytes.Equal(Ya, want) {
		t.Errorf("Ya = %x, want %x", Ya, want)
	}
	if want := vecHex(t, v, "Yb"); !bytes.Equal(Yb, want) {
		t.Errorf("Yb = %x, want %x", Yb, want)
	}

	ka, err := cpaceScalarMultVfy(ya, Yb)
	if err != nil {
		t.Fatalf("scalar_mult_vfy(ya, Yb): %v", err)
	}
	kb, err := cpaceScalarMultVfy(yb, Ya)
	if err != nil {
		t.Fatalf("scalar_mult_vfy(yb, Ya): %v", err)
	}
	wantK := vecHex(t, v, "K")
	if !bytes.Equal(ka, wantK) || !bytes.Equal(kb, wantK) {
		t.Errorf("K = %x / %x, want %x", ka, kb, wantK)
	}

	ada, adb := vecHex(t, v, "ADa"), vecHex(t, v, "ADb")
	if got, want := cpaceTranscript(Ya, ada, Yb, adb), vecHex(t, v, "transcript_ir"); !bytes.Equal(got, want) {
		t.Errorf("transcript_ir = %x, want %x", got, want)
	}
	isk := cpaceISK(sid, wantK, Ya, ada, Yb, adb)
	if want := vecHex(t, v, "ISK_IR"); !bytes.Equal(isk.k[:], want) {
		t.Errorf("ISK = %x, want %x", isk.k, want)
	}

	// The same through the party API, both roles.
	a := &cpaceParty{y: ya, our: Ya, sid: sid}
	b := &cpaceParty{y: yb, our: Yb, sid: sid}
	iskA, err := a.finish(true, ada, Yb, adb)
	if err != nil {
		t.Fatal(err)
	}
	iskB, err := b.finish(false, adb, Ya, ada)
	if err != nil {
		t.Fatal(err)
	}
	if iskA.k != isk.k || iskB.k != isk.k {
		t.Errorf("party ISKs = %x / %x, want %x", iskA.k, iskB.k, isk.k)
	}

	// B.3.10: scalar_mult_vfy with valid inputs.
	sX, err := cpaceScalarMultVfy(vecScalar(t, v, "valid_s"), vecHex(t, v, "valid_X"))
	if err != nil {
		t.Fatalf("scalar_mult_vfy(valid): %v", err)
	}
	if want := vecHex(t, v, "valid_sX"); !bytes.Equal(sX, want) {
		t.Errorf("scalar_mult_vfy(s, X) = %x, want %x", sX, want)
	}
}

// TestCPaceAbort checks the abort cases of Appendix B.3.11 (non-canonical
// encoding, identity) and a few more invalid shares.
func TestCPaceAbort(t *testing.T) {
	v := readVectorFile(t, "testdata/cpace/ristretto255.txt")
	s := vecScalar(t, v, "invalid_s")
	y1, y2 := vecHex(t, v, "invalid_Y1"), vecHex(t, v, "invalid_Y2")
	allFF := bytes.Repeat([]byte{0xff}, 32)
	for _, tc := range []struct {
		name string
		y    []byte
		want error
	}{
		{"Y_i1 non-canonical", y1, ErrCPaceInvalidPoint},
		{"Y_i2 identity", y2, ErrCPaceIdentity},
		{"empty", nil, ErrCPaceInvalidPoint},
		{"short", y1[:31], ErrCPaceInvalidPoint},
		{"long", append(append([]byte(nil), vecHex(t, v, "Ya")...), 0), ErrCPaceInvalidPoint},
		{"all ff", allFF, ErrCPaceInvalidPoint},
	} {
		k, err := cpaceScalarMultVfy(s, tc.y)
		if !errors.Is(err, tc.want) || k != nil {
			t.Errorf("%s: scalar_mult_vfy(%x) = %x, %v; want %v", tc.name, tc.y, k, err, tc.want)
		}
		p := &cpaceParty{y: s, our: vecHex(t, v, "Ya"), sid: vecHex(t, v, "sid")}
		if _, err := p.finish(true, nil, tc.y, nil); !errors.Is(err, tc.want) {
			t.Errorf("%s: finish = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLVCat(t *testing.T) {
	v := readVectorFile(t, "testdata/cpace/ristretto255.txt")
	got := lvCat([]byte("1234"), []byte("5"), nil, []byte("678"))
	if want := vecHex(t, v, "lvcat_1234_5_empty_678"); !bytes.Equal(got, want) {
		t.Errorf("lv_cat = %x, want %x", got, want)
	}
	if got, want := appendLEB128(nil, 128), vecHex(t, v, "prepend_len_128_prefix"); !bytes.Equal(got, want) {
		t.Errorf("LEB128(128) = %x, want %x", got, want)
	}
	fields, err := lvSplit(got, 4, 16)
	if err != nil || len(fields) != 4 || string(fields[0]) != "1234" || string(fields[2]) != "" || string(fields[3]) != "678" {
		t.Errorf("lvSplit(%x) = %q, %v", got, fields, err)
	}
	for _, tc := range []struct {
		in  string
		n   int
		max int
	}{
		{"", 1, 10},            // missing field
		{"05313233", 1, 10},    // truncated value
		{"0131ff", 1, 10},      // trailing bytes
		{"8000", 1, 10},        // non-minimal zero
		{"818000", 1, 1 << 20}, // non-minimal
		{"0b" + strings.Repeat("00", 11), 1, 10},
		{"ffffff01", 1, 1 << 30}, // too long a length
		{"80", 1, 10},
	} {
		b, _ := hex.DecodeString(tc.in)
		if f, err := lvSplit(b, tc.n, tc.max); err == nil {
			t.Errorf("lvSplit(%s, %d, %d) = %q, want error", tc.in, tc.n, tc.max, f)
		}
	}
}

func TestCPaceScalarSampling(t *testing.T) {
	// A reader of all-ff bytes yields the largest 252-bit scalar.
	s, err := cpaceSampleScalar(bytes.NewReader(bytes.Repeat([]byte{0xff}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if b := s.Bytes(); b[31] != 0x0f {
		t.Errorf("top byte = %#x, want 0x0f", b[31])
	}
	// A zero draw is rejected and redrawn.
	in := append(make([]byte, 32), bytes.Repeat([]byte{1}, 32)...)
	s, err = cpaceSampleScalar(bytes.NewReader(in))
	if err != nil || s.Equal(ristretto255.NewScalar()) == 1 {
		t.Errorf("zero scalar not redrawn: %v", err)
	}
	if _, err := cpaceSampleScalar(bytes.NewReader(nil)); err == nil {
		t.Error("empty reader: no error")
	}
}

// FuzzCPaceShare feeds arbitrary bytes as the peer's share: no panic, and
// either a 32-byte K or one of the two abort errors.
func FuzzCPaceShare(f *testing.F) {
	v := readVectorFile(f, "testdata/cpace/ristretto255.txt")
	var seeds [][]byte
	for _, n := range []string{"Ya", "Yb", "invalid_Y1", "invalid_Y2", "valid_X"} {
		seeds = append(seeds, vecHex(f, v, n))
		f.Add(seeds[len(seeds)-1])
	}
	addMutations(f, nil, seeds...)
	y := vecScalar(f, v, "ya")
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := cpaceScalarMultVfy(y, b)
		switch {
		case err == nil && len(k) != 32:
			t.Fatalf("K has %d bytes", len(k))
		case err != nil && !errors.Is(err, ErrCPaceInvalidPoint) && !errors.Is(err, ErrCPaceIdentity):
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func TestSupportCode(t *testing.T) {
	c, err := NewSupportCode("123", bytes.NewReader(bytes.Repeat([]byte{0xfb, 7}, 16)))
	if err != nil {
		t.Fatal(err)
	}
	// 0xfb = 251 is rejected, 7 is accepted: the secret is all sevens.
	if got := c.String(); got != "123-777-777" {
		t.Errorf("code = %q, want 123-777-777", got)
	}
	if got := string(c.prs()); got != "123777777" {
		t.Errorf("prs = %q", got)
	}
	if c.Nameplate() != "123" {
		t.Errorf("nameplate = %q", c.Nameplate())
	}
	for _, tc := range []struct {
		in, want string
	}{
		{"123-456-789", "123456789"},
		{" 123 456 789 ", "123456789"},
		{"1-234567", "1234567"},
		{"12345-678-901", "12345678901"},
	} {
		c, err := ParseSupportCode(tc.in)
		if err != nil || string(c.prs()) != tc.want {
			t.Errorf("ParseSupportCode(%q) = %q, %v; want %q", tc.in, c.prs(), err, tc.want)
		}
	}
	for _, in := range []string{"", "123456", "123-456-78a", "123456789012", strings.Repeat("1", 100), "１２３４５６７"} {
		if c, err := ParseSupportCode(in); !errors.Is(err, ErrSupportCode) {
			t.Errorf("ParseSupportCode(%q) = %q, %v; want ErrSupportCode", in, c.prs(), err)
		}
	}
	for _, np := range []string{"", "123456", "12a"} {
		if _, err := NewSupportCode(np, nil); !errors.Is(err, ErrSupportCode) {
			t.Errorf("NewSupportCode(%q) = %v, want ErrSupportCode", np, err)
		}
	}
}

// TestSupportCodeUniform checks that the secret digits are drawn
// uniformly: a chi-squared test over 60 000 digits from crypto/rand.
func TestSupportCodeUniform(t *testing.T) {
	var counts [10]int
	for i := 0; i < 10000; i++ {
		c, err := NewSupportCode("1", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range c.prs()[1:] {
			counts[d-'0']++
		}
	}
	chi := 0.0
	for _, n := range counts {
		d := float64(n) - 6000
		chi += d * d / 6000
	}
	// 9 degrees of freedom: p = 1e-6 at about 42.
	if chi > 42 {
		t.Errorf("digit counts %v: chi² = %.1f, not uniform", counts, chi)
	}
}

func FuzzParseSupportCode(f *testing.F) {
	var seeds [][]byte
	for _, s := range []string{"123-456-789", "1234567", "", "abc", "12345-678-901", "１２３"} {
		f.Add(s)
		seeds = append(seeds, []byte(s))
	}
	addMutations(f, func(b []byte) []any { return []any{string(b)} }, seeds...)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSupportCode(s)
		if err != nil {
			return
		}
		// Round trip: the display form parses to the same digits.
		c2, err := ParseSupportCode(c.String())
		if err != nil || string(c2.prs()) != string(c.prs()) {
			t.Fatalf("round trip of %q: %q, %v", s, c2.prs(), err)
		}
		if n := len(c.prs()); n < 7 || n > 11 || !allDigits(string(c.prs())) {
			t.Fatalf("ParseSupportCode(%q) = %q", s, c.prs())
		}
	})
}
