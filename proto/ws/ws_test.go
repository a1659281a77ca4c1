package ws

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

func TestParseNotice(t *testing.T) {
	tests := []struct {
		in   string
		want Notice
		ok   bool
	}{
		{`{"type":"waiting"}`, Notice{Type: NoticeWaiting}, true},
		{`{"type":"paired","viewers":3,"slot":2}`, Notice{Type: NoticePaired, Viewers: 3, Slot: 2}, true},
		{`{"type":"lost","count":17}`, Notice{Type: NoticeLost, Count: 17}, true},
		{`{"type":"drain","retry_ms":1000}`, Notice{Type: NoticeDrain, RetryMS: 1000}, true},
		{`{"type":"peer_left","extra":true}`, Notice{Type: NoticePeerLeft}, true},
		{`{"viewers":1}`, Notice{}, false},
		{`{"type":"paired","viewers":-1}`, Notice{Type: NoticePaired, Viewers: -1}, true},
		{`{"type":"paired","slot":-1}`, Notice{}, false},
		{`not json`, Notice{}, false},
		{`{"type":"` + strings.Repeat("x", MaxNoticeLen) + `"}`, Notice{}, false},
	}
	for _, tc := range tests {
		got, err := ParseNotice([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseNotice(%.40q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseNotice(f *testing.F) {
	f.Add([]byte(`{"type":"waiting"}`))
	f.Add([]byte(`{"type":"paired","viewers":3,"slot":2}`))
	f.Add([]byte(`{"type":"lost","count":17}`))
	f.Add([]byte(`{"type":"drain","retry_ms":1000}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNotice(b)
		if err != nil {
			return
		}
		if n.Type == "" || len(b) > MaxNoticeLen {
			t.Fatalf("ParseNotice(%q) = %+v: accepted without a type or over the limit", b, n)
		}
	})
}

func TestMapError(t *testing.T) {
	tests := []struct {
		in   error
		eof  bool
		code CloseCode
	}{
		{websocket.CloseError{Code: websocket.StatusNormalClosure}, true, 0},
		{websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "idle timeout"}, true, 0},
		{fmt.Errorf("read: %w", websocket.CloseError{Code: 4004, Reason: "ticket already used"}), false, CloseTicketReused},
		{websocket.CloseError{Code: 4007}, false, CloseDraining},
		{errors.New("connection reset"), false, 0},
	}
	for _, tc := range tests {
		err := mapError(tc.in)
		var re *RelayError
		gotCode := CloseCode(0)
		if errors.As(err, &re) {
			gotCode = re.Code
		}
		if (err == io.EOF) != tc.eof || gotCode != tc.code {
			t.Errorf("mapError(%v) = %v; want EOF %v, code %d", tc.in, err, tc.eof, tc.code)
		}
	}
	if (&RelayError{Code: CloseTicketInvalid}).Retry() || !(&RelayError{Code: CloseDraining}).Retry() {
		t.Error("Retry: a malformed ticket must not be retried, a draining relay must")
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://relay.example.com":      "https://relay.example.com/v1/relay",
		"https://relay.example.com/":     "https://relay.example.com/v1/relay",
		"http://127.0.0.1:8080/waypoint": "http://127.0.0.1:8080/waypoint/v1/relay",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}
