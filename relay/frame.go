package relay

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
)

// WebSocket framing (RFC 6455 §5), the subset a relay needs: it parses the
// masked frames clients send and writes unmasked server frames.

type opcode uint8

const (
	opContinuation opcode = 0x0
	opText         opcode = 0x1
	opBinary       opcode = 0x2
	opClose        opcode = 0x8
	opPing         opcode = 0x9
	opPong         opcode = 0xA
)

func (op opcode) control() bool { return op&0x8 != 0 }

// maxHeader is the longest frame header: 2 bytes, a 64-bit length and a
// 4-byte mask key.
const maxHeader = 14

// maxControlPayload bounds a control frame's payload (RFC 6455 §5.5).
const maxControlPayload = 125

// frameHeader is a parsed client frame header.
type frameHeader struct {
	fin    bool
	op     opcode
	length int64
	key    [4]byte
}

var (
	errUnmasked      = errors.New("relay: client frame not masked")
	errReservedBits  = errors.New("relay: frame with reserved bits set")
	errBadOpcode     = errors.New("relay: unknown opcode")
	errBadControl    = errors.New("relay: fragmented or oversized control frame")
	errLength        = errors.New("relay: frame length out of range")
	errNonMinimalLen = errors.New("relay: frame length not minimally encoded")
)

// parseHeader parses a client frame header at the start of b. It returns
// the header and its length, or n == 0 when b holds only part of it.
func parseHeader(b []byte) (h frameHeader, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	b0, b1 := b[0], b[1]
	if b0&0x70 != 0 {
		return h, 0, errReservedBits
	}
	h.fin = b0&0x80 != 0
	h.op = opcode(b0 & 0x0F)
	switch h.op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return h, 0, errBadOpcode
	}
	if b1&0x80 == 0 {
		return h, 0, errUnmasked
	}
	n = 2
	switch l := b1 & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		if h.length < 126 {
			return h, 0, errNonMinimalLen
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v>>63 != 0 {
			return h, 0, errLength
		}
		if v <= 0xFFFF {
			return h, 0, errNonMinimalLen
		}
		h.length = int64(v)
		n = 10
	default:
		h.length = int64(l)
	}
	if h.op.control() && (!h.fin || h.length > maxControlPayload) {
		return h, 0, errBadControl
	}
	if len(b) < n+4 {
		return h, 0, nil
	}
	copy(h.key[:], b[n:n+4])
	return h, n + 4, nil
}

// serverHeaderLen is the length of an unmasked header for a payload of
// length n.
func serverHeaderLen(n int64) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xFFFF:
		return 4
	}
	return 10
}

// putServerHeader writes an unmasked frame header into b, which must have
// room for serverHeaderLen(n) bytes, and returns its length.
func putServerHeader(b []byte, fin bool, op opcode, n int64) int {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	b[0] = b0
	switch {
	case n < 126:
		b[1] = byte(n)
		return 2
	case n <= 0xFFFF:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		return 4
	}
	b[1] = 127
	binary.BigEndian.PutUint64(b[2:], uint64(n))
	return 10
}

// appendFrame appends a whole unmasked frame.
func appendFrame(dst []byte, op opcode, payload []byte) []byte {
	var h [10]byte
	n := putServerHeader(h[:], true, op, int64(len(payload)))
	dst = append(dst, h[:n]...)
	return append(dst, payload...)
}

// appendClose appends a close frame with a status code and a reason,
// cut to fit a control frame.
func appendClose(dst []byte, code int, reason string) []byte {
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	var p [maxControlPayload]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := 2 + copy(p[2:], reason)
	return appendFrame(dst, opClose, p[:n])
}

// unmask XORs b with the mask key, starting at offset off of the key
// stream, and returns the offset after b.
func unmask(b []byte, key [4]byte, off int) int {
	k := binary.LittleEndian.Uint32(key[:])
	k = bits.RotateLeft32(k, -8*(off&3))
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+32 <= len(b); i += 32 {
		v := b[i : i+32 : i+32]
		binary.LittleEndian.PutUint64(v[0:], binary.LittleEndian.Uint64(v[0:])^k64)
		binary.LittleEndian.PutUint64(v[8:], binary.LittleEndian.Uint64(v[8:])^k64)
		binary.LittleEndian.PutUint64(v[16:], binary.LittleEndian.Uint64(v[16:])^k64)
		binary.LittleEndian.PutUint64(v[24:], binary.LittleEndian.Uint64(v[24:])^k64)
	}
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
	}
	for ; i < len(b); i++ {
		b[i] ^= byte(k)
		k = bits.RotateLeft32(k, -8)
	}
	return (off + len(b)) & 3
}

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(websocketGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
