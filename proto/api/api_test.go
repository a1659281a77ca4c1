package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/deskway/deskway/proto"
)

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		b      Backoff
		n      int
		lo, hi time.Duration
	}{
		{Backoff{}, 0, 250 * time.Millisecond, 500 * time.Millisecond},
		{Backoff{}, 1, 500 * time.Millisecond, time.Second},
		{Backoff{}, 3, 2 * time.Second, 4 * time.Second},
		{Backoff{}, 60, 15 * time.Second, 30 * time.Second},
		{Backoff{Min: time.Second, Max: 4 * time.Second}, 10, 2 * time.Second, 4 * time.Second},
		{Backoff{Min: 10 * time.Second, Max: time.Second}, 0, 5 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		for _, r := range []float64{0, 0.5, 0.999999} {
			b := tt.b
			b.Rand = func() float64 { return r }
			if d := b.Delay(tt.n); d < tt.lo || d > tt.hi {
				t.Errorf("%+v.Delay(%d) with rand %v = %v, want in [%v, %v]", tt.b, tt.n, r, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestBackoffJitterSpreads(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[Backoff{}.Delay(4)] = true
	}
	if len(seen) < 10 {
		t.Errorf("50 delays gave %d distinct values, want jitter", len(seen))
	}
}

func TestProofMessagesDistinct(t *testing.T) {
	pub := make([]byte, ed25519.PublicKeySize)
	msgs := [][]byte{
		EnrollProofMessage("abc", pub),
		EnrollProofMessage("ab", append([]byte{'c'}, pub...)),
		ControlProofMessage([]byte("abc"), string(pub)),
		ControlProofMessage(nil, "abc"),
		ControlProofMessage([]byte("a"), "bc"),
	}
	for i := range msgs {
		for j := i + 1; j < len(msgs); j++ {
			if bytes.Equal(msgs[i], msgs[j]) {
				t.Errorf("proof messages %d and %d are equal: %x", i, j, msgs[i])
			}
		}
	}
}

func TestAuditQueryRoundTrip(t *testing.T) {
	q := AuditQuery{
		Action: "user.", Actor: "alice", Target: "h1",
		Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Failed: true, Before: 42, Limit: 7,
	}
	got, err := ParseAuditQuery(q.Values())
	if err != nil {
		t.Fatalf("ParseAuditQuery(%v): %v", q.Values(), err)
	}
	if !reflect.DeepEqual(got, q) {
		t.Errorf("ParseAuditQuery(Values(%+v)) = %+v", q, got)
	}
}

func TestParseAuditQueryErrors(t *testing.T) {
	for _, s := range []string{"since=yesterday", "limit=-1", "before=x", "until=2026-13-01"} {
		v, _ := url.ParseQuery(s)
		if _, err := ParseAuditQuery(v); err == nil {
			t.Errorf("ParseAuditQuery(%q) = nil error, want one", s)
		}
	}
	v, _ := url.ParseQuery("limit=100000&since=2026-01-02")
	q, err := ParseAuditQuery(v)
	if err != nil || q.Limit != MaxAuditLimit || !q.Since.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseAuditQuery(limit=100000&since=2026-01-02) = %+v, %v; want limit %d", q, err, MaxAuditLimit)
	}
}

func TestRelaySessionReportValidate(t *testing.T) {
	now := time.Now()
	ok := RelaySessionReport{SessionID: proto.NewSessionID(), RelayID: "r1", Start: now, End: now.Add(time.Second), EndReason: "peer_left"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", ok, err)
	}
	bad := []func(*RelaySessionReport){
		func(r *RelaySessionReport) { r.SessionID = proto.SessionID{} },
		func(r *RelaySessionReport) { r.RelayID = "" },
		func(r *RelaySessionReport) { r.RelayID = string(make([]byte, 65)) },
		func(r *RelaySessionReport) { r.EndReason = string(make([]byte, 65)) },
		func(r *RelaySessionReport) { r.BytesToHost = -1 },
		func(r *RelaySessionReport) { r.End = r.Start.Add(-time.Second) },
	}
	for i, f := range bad {
		r := ok
		f(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("case %d: Validate(%+v) = nil, want an error", i, r)
		}
	}
	b, _ := json.Marshal(ok)
	var back RelaySessionReport
	if err := json.Unmarshal(b, &back); err != nil || back.SessionID != ok.SessionID || !back.End.Equal(ok.End) {
		t.Errorf("JSON round trip of %s = %+v, %v", b, back, err)
	}
}

var controlSeeds = []string{
	`{"type":"challenge","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`,
	`{"type":"auth","host_id":"h1","signature":"AAAA","info":{"name":"pc","os":"linux","version":"1"}}`,
	`{"type":"welcome","host_id":"h1","message":"pc"}`,
	`{"type":"offer","offer":{"session_id":"00112233445566778899aabbccddeeff","host_id":"h1","mode":"unattended","role":"host","tickets":[{"relay_id":"local","url":"https://b","ticket":"AQI="}],"expires":"2026-01-01T00:00:00Z"}}`,
	`{"type":"waiting"}`,
}

func TestDecodeControlMsg(t *testing.T) {
	for _, s := range controlSeeds {
		if _, err := DecodeControlMsg([]byte(s)); err != nil {
			t.Errorf("DecodeControlMsg(%s) = %v", s, err)
		}
	}
	bad := []string{
		`{}`, `[]`, `{"type":""}`, `{"type":"offer","offer":{"mode":"bogus"}}`,
		`{"type":"auth","signature":"` + string(bytes.Repeat([]byte("A"), 100)) + `"}`,
		string(bytes.Repeat([]byte(" "), MaxControlMsg+1)),
	}
	for _, s := range bad {
		if _, err := DecodeControlMsg([]byte(s)); err == nil {
			t.Errorf("DecodeControlMsg(%.40q) = nil error, want one", s)
		}
	}
}

func FuzzDecodeControlMsg(f *testing.F) {
	for _, s := range controlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeControlMsg(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			return // e.g. an offer with a zero mode cannot be re-encoded
		}
		if _, err := DecodeControlMsg(out); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
	})
}
