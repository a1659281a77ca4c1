package proto

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestFingerprint(t *testing.T) {
	k := StaticForTest("fp").Public()
	fp := k.Fingerprint()
	if len(fp) != FingerprintLen {
		t.Fatalf("fingerprint %q has %d characters", fp, len(fp))
	}
	if got, err := ParseFingerprint(strings.ToUpper(string(fp))); err != nil || got != fp {
		t.Errorf("ParseFingerprint(upper) = %q, %v", got, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("a", 27), strings.Repeat("1", 26), strings.Repeat("a", 25) + "!"} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", bad)
		}
	}
	// LogValue never shows key material.
	priv := StaticForTest("fp")
	raw, _ := priv.MarshalBinary()
	if v := priv.LogValue().String(); strings.Contains(v, fmt.Sprintf("%x", raw)[:16]) || !strings.Contains(v, string(fp)) {
		t.Errorf("private LogValue = %q", v)
	}
}

func TestParsePins(t *testing.T) {
	fa := StaticForTest("a").Public().Fingerprint()
	fb := StaticForTest("b").Public().Fingerprint()
	for _, tc := range []struct {
		name string
		text string
		want []PinEntry
		ok   bool
	}{
		{"empty", "", nil, true},
		{"header only", "# deskway pins v1\n", nil, true},
		{"two", fmt.Sprintf("host-1 %s\r\n\n  # comment\nlaptop %s\n", fa, fb), []PinEntry{{"host-1", fa}, {"laptop", fb}}, true},
		{"no trailing newline", fmt.Sprintf("h %s", fa), []PinEntry{{"h", fa}}, true},
		{"duplicate", fmt.Sprintf("h %s\nh %s\n", fa, fb), nil, false},
		{"missing fingerprint", "h\n", nil, false},
		{"bad fingerprint", "h abc\n", nil, false},
		{"extra field", fmt.Sprintf("h %s extra\n", fa), nil, false},
		{"control char", fmt.Sprintf("h\x01 %s\n", fa), nil, false},
		{"long name", fmt.Sprintf("%s %s\n", strings.Repeat("n", 257), fa), nil, false},
	} {
		got, err := ParsePins([]byte(tc.text))
		if (err == nil) != tc.ok || (tc.ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("%s: ParsePins = %v, %v; want %v, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrPinFile) {
			t.Errorf("%s: %v is not ErrPinFile", tc.name, err)
		}
	}
	var b strings.Builder
	for i := range MaxPins + 1 {
		fmt.Fprintf(&b, "h%d %s\n", i, fa)
	}
	if _, err := ParsePins([]byte(b.String())); !errors.Is(err, ErrPinFile) {
		t.Errorf("%d pins: %v, want ErrPinFile", MaxPins+1, err)
	}
	if _, err := ParsePins(make([]byte, MaxPinFileSize+1)); !errors.Is(err, ErrPinFile) {
		t.Errorf("oversize file: %v", err)
	}
}

// TestMemPinStoreNoBypass: a different key under a pinned name is refused
// and changes nothing.
func TestMemPinStoreNoBypass(t *testing.T) {
	fa := StaticForTest("a").Public().Fingerprint()
	fb := StaticForTest("b").Public().Fingerprint()
	s := NewMemPinStore()
	if err := s.Pin("host-1", fa); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin("host-1", fa); err != nil {
		t.Errorf("re-pinning the same key: %v", err)
	}
	var pm *PinMismatchError
	if err := s.Pin("host-1", fb); !errors.As(err, &pm) || pm.Pinned != fa || pm.Got != fb {
		t.Fatalf("Pin(other key) = %v, want *PinMismatchError", err)
	}
	if fp, _, _ := s.Lookup("host-1"); fp != fa {
		t.Errorf("pin changed to %q", fp)
	}
	if err := s.Pin("two words", fa); err == nil {
		t.Error("name with a space accepted")
	}
	list, _ := s.List()
	if got, err := ParsePins(FormatPins(list)); err != nil || !reflect.DeepEqual(got, list) {
		t.Errorf("round trip: %v, %v; want %v", got, err, list)
	}
}

func FuzzParsePins(f *testing.F) {
	fa := StaticForTest("a").Public().Fingerprint()
	f.Add([]byte(fmt.Sprintf("# deskway pins v1\nhost-1 %s\n", fa)))
	f.Add([]byte("h abc\n"))
	f.Add([]byte(fmt.Sprintf("h %s\nh %s\n", fa, fa)))
	f.Add([]byte("\r\n#\n \t\n"))
	addMutations(f, nil, []byte(fmt.Sprintf("# deskway pins v1\nhost-1 %s\nlaptop %s\n", fa, fa)))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParsePins(b)
		if err != nil {
			return
		}
		if len(entries) > MaxPins {
			t.Fatalf("%d entries", len(entries))
		}
		again, err := ParsePins(FormatPins(entries))
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip of %q: %v, %v", b, again, err)
		}
		for _, e := range entries {
			s := NewMemPinStore(again...)
			if fp, ok, _ := s.Lookup(e.Name); !ok || fp != e.Fingerprint {
				t.Fatalf("entry %v lost in the round trip", e)
			}
		}
	})
}
