package api

import (
	"crypto/ed25519"
	"encoding/binary"
)

// Domain-separation labels of the messages a device key signs. A
// signature for one purpose is never valid for another.
const (
	enrollLabel  = "dw-enroll-v1"
	controlLabel = "dw-control-v1"
)

// NonceSize is the size of a control-connection challenge.
const NonceSize = 32

// signedMessage is label ‖ 0x00 followed by each part prefixed with its
// length as a uvarint: an injective encoding.
func signedMessage(label string, parts ...[]byte) []byte {
	n := len(label) + 1
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, label...)
	b = append(b, 0)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// EnrollProofMessage is what the agent signs with its device key to
// enroll with code.
func EnrollProofMessage(code string, devicePub ed25519.PublicKey) []byte {
	return signedMessage(enrollLabel, []byte(code), devicePub)
}

// ControlProofMessage is what a host signs to answer the broker's
// challenge nonce on the control WebSocket.
func ControlProofMessage(nonce []byte, hostID string) []byte {
	return signedMessage(controlLabel, nonce, []byte(hostID))
}
