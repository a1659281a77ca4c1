package api

import (
	"fmt"
	"time"

	"github.com/deskway/deskway/proto"
)

// RelayTicket is what a client needs to reach one relay of a session: the
// relay's id and base URL (the client dials URL + "/v1/relay") and the
// signed ticket (proto ticket bytes, base64 in JSON) to send as its first
// message. The tickets of one session list the relays best first; a client
// races them in that order (see proto/ws.Dial).
type RelayTicket struct {
	RelayID string `json:"relay_id"`
	URL     string `json:"url"`
	Ticket  []byte `json:"ticket"`
}

// Limits of a relay session report, checked by the broker before it
// stores one.
const (
	MaxRelayIDLen   = 64
	MaxEndReasonLen = 64
)

// RelaySessionReport is a relay's account of one session's use of it: the
// relay sends one when both ends (or the last of them) have left. A
// session that failed over between relays gets one report from each. It
// carries metadata only, never content.
//
// The embedded relay hands reports to the broker in process; a standalone
// relay posts them to POST /api/v1/relay/report with
// "Authorization: Bearer <relay report token>".
type RelaySessionReport struct {
	SessionID proto.SessionID `json:"session_id"`
	RelayID   string          `json:"relay_id"`
	Start     time.Time       `json:"start"` // when the first end arrived
	End       time.Time       `json:"end"`   // when the last end left
	// BytesFromHost counts the bytes the relay forwarded from the host to
	// the viewer(s), counted once per message received from the host;
	// BytesToHost those from the viewer(s) to the host.
	BytesFromHost int64 `json:"bytes_from_host"`
	BytesToHost   int64 `json:"bytes_to_host"`
	// EndReason says why the session ended on this relay, in a word or
	// two: "peer_left", "pairing_timeout", "drain", "limit", "error".
	EndReason string `json:"end_reason"`
}

// Validate checks the report's bounds, as the broker does before storing
// it.
func (r *RelaySessionReport) Validate() error {
	switch {
	case r.SessionID.IsZero():
		return fmt.Errorf("api: relay report: no session id")
	case r.RelayID == "" || len(r.RelayID) > MaxRelayIDLen:
		return fmt.Errorf("api: relay report: relay id length %d not in 1..%d", len(r.RelayID), MaxRelayIDLen)
	case len(r.EndReason) > MaxEndReasonLen:
		return fmt.Errorf("api: relay report: end reason length %d exceeds %d", len(r.EndReason), MaxEndReasonLen)
	case r.BytesFromHost < 0 || r.BytesToHost < 0:
		return fmt.Errorf("api: relay report: negative byte count")
	case r.End.Before(r.Start):
		return fmt.Errorf("api: relay report: end %v before start %v", r.End, r.Start)
	}
	return nil
}
