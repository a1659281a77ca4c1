package relay

import (
	"encoding/json"

	"github.com/deskway/deskway/proto/ws"
)

// appendNotice appends a notice as a text frame.
func appendNotice(dst []byte, n ws.Notice) ([]byte, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return dst, err
	}
	return appendFrame(dst, opText, b), nil
}
