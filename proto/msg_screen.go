package proto

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Stream names a kind of large payload that travels as Fragment messages.
// Each stream has its own sequence numbers, limits and Defragmenter, so
// fragments of different streams may interleave.
type Stream uint8

const (
	// StreamScreen payloads are codec updates, opaque to proto; the
	// sequence number is the frame's, which FrameAck acknowledges.
	// Unreliable: after a resume the host sends a keyframe.
	StreamScreen Stream = 1
	// StreamClipboard payloads are clipboard text, UTF-8.
	StreamClipboard Stream = 2
	// StreamCursor payloads are one CursorShape each.
	StreamCursor Stream = 3
)

// MaxSize returns the largest payload of the stream in bytes, 0 for an
// unknown stream.
func (s Stream) MaxSize() int {
	switch s {
	case StreamScreen:
		return MaxScreenUpdate
	case StreamClipboard:
		return MaxClipboard
	case StreamCursor:
		return MaxCursorShape
	}
	return 0
}

func (s Stream) String() string {
	switch s {
	case StreamScreen:
		return "screen"
	case StreamClipboard:
		return "clipboard"
	case StreamCursor:
		return "cursor"
	}
	return fmt.Sprintf("stream(%d)", uint8(s))
}

// FragFlags are per-payload flags, the same on every fragment of it.
type FragFlags uint8

// FragKeyframe marks a screen update the decoder can start from: it
// depends on no earlier update. Only StreamScreen uses it.
const FragKeyframe FragFlags = 1

// Fragment is one piece of a stream's payload. A payload of Total bytes
// is cut into Last+1 ≤ MaxFragments fragments with indexes 0..Last, sent
// in order, each with the payload's stream, flags, seq and total. Seq
// counts the stream's payloads (wrapping at 2³²). See Fragmenter and
// Defragmenter.
type Fragment struct {
	Stream Stream
	Flags  FragFlags
	Seq    uint32
	Index  uint8
	Last   uint8
	Total  uint32 // ≤ Stream.MaxSize()
	// Data is this fragment's part of the payload: ≤ MaxFragmentData
	// bytes, non-empty unless the payload is. Decoding aliases it.
	Data []byte
}

// Type implements Msg.
func (m *Fragment) Type() MsgType { return MsgFragment }

// String describes the fragment without its data, for logs and errors.
func (m *Fragment) String() string {
	return fmt.Sprintf("fragment %v seq %d %d/%d flags 0x%x total %d data %d bytes",
		m.Stream, m.Seq, m.Index, m.Last, uint8(m.Flags), m.Total, len(m.Data))
}

// AppendBinary implements Msg.
func (m *Fragment) AppendBinary(b []byte) ([]byte, error) {
	if err := m.validate(); err != nil {
		return b, &MsgError{"marshal", "fragment", err}
	}
	return m.appendBody(append(b, byte(MsgFragment))), nil
}

// DecodeFromBytes implements Msg.
func (m *Fragment) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Fragment) validate() error {
	limit := m.Stream.MaxSize()
	switch {
	case limit == 0:
		return fmt.Errorf("unknown stream %d", m.Stream)
	case m.Flags != 0 && (m.Stream != StreamScreen || m.Flags != FragKeyframe):
		return fmt.Errorf("flags 0x%x invalid on %v stream", uint8(m.Flags), m.Stream)
	case m.Index > m.Last:
		return fmt.Errorf("index %d beyond last %d", m.Index, m.Last)
	case int64(m.Total) > int64(limit):
		return fmt.Errorf("%v payload size %d exceeds %d", m.Stream, m.Total, limit)
	case len(m.Data) > MaxFragmentData:
		return fmt.Errorf("data length %d exceeds %d", len(m.Data), MaxFragmentData)
	case int64(len(m.Data)) > int64(m.Total):
		return fmt.Errorf("data length %d exceeds payload size %d", len(m.Data), m.Total)
	case len(m.Data) == 0 && m.Total != 0:
		return errors.New("empty fragment")
	case m.Total == 0 && m.Last != 0:
		return fmt.Errorf("empty payload in %d fragments", int(m.Last)+1)
	case m.Last == 0 && int64(len(m.Data)) != int64(m.Total):
		return fmt.Errorf("single fragment of %d bytes, payload size %d", len(m.Data), m.Total)
	}
	return nil
}

func (m *Fragment) appendBody(b []byte) []byte {
	b = append(b, uint8(m.Stream), uint8(m.Flags))
	b = be.AppendUint32(b, m.Seq)
	b = append(b, m.Index, m.Last)
	b = be.AppendUint32(b, m.Total)
	b = be.AppendUint16(b, uint16(len(m.Data)))
	return append(b, m.Data...)
}

func (m *Fragment) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var stream, flags uint8
	var data cryptobyte.String
	if err := readUint(&s, &stream, &flags); err != nil {
		return s, err
	}
	if err := readUint(&s, &m.Seq); err != nil {
		return s, err
	}
	if err := readUint(&s, &m.Index, &m.Last); err != nil {
		return s, err
	}
	if err := readUint(&s, &m.Total); err != nil {
		return s, err
	}
	if !s.ReadUint16LengthPrefixed(&data) {
		return s, errTruncated
	}
	m.Stream, m.Flags, m.Data = Stream(stream), FragFlags(flags), nil
	if len(data) > 0 {
		m.Data = data[:len(data):len(data)]
	}
	return s, m.validate()
}

// FrameAck acknowledges every screen update up to and including Seq
// (serial arithmetic, RFC 1982), all decoded. DecodeMicros is how long
// the viewer took to decode Seq, so the host can pace to the slower of
// the link and the viewer.
type FrameAck struct {
	Seq          uint32
	DecodeMicros uint32
}

// Type implements Msg.
func (m *FrameAck) Type() MsgType { return MsgFrameAck }

// AppendBinary implements Msg.
func (m *FrameAck) AppendBinary(b []byte) ([]byte, error) {
	return m.appendBody(append(b, byte(MsgFrameAck))), nil
}

// DecodeFromBytes implements Msg.
func (m *FrameAck) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *FrameAck) validate() error { return nil }

func (m *FrameAck) appendBody(b []byte) []byte {
	return be.AppendUint32(be.AppendUint32(b, m.Seq), m.DecodeMicros)
}

func (m *FrameAck) decode(s cryptobyte.String) (cryptobyte.String, error) {
	err := readUint(&s, &m.Seq, &m.DecodeMicros)
	return s, err
}

// RefreshReason says why a viewer asks for a keyframe. Unknown reasons
// are accepted and treated like RefreshRequested.
type RefreshReason uint8

const (
	RefreshRequested   RefreshReason = 0 // the user or the viewer's policy
	RefreshStart       RefreshReason = 1 // the viewer has no picture yet
	RefreshDecodeError RefreshReason = 2 // an update failed to decode
	RefreshLost        RefreshReason = 3 // the relay dropped messages (presentation "lost" notice)
	RefreshResume      RefreshReason = 4 // the channel resumed over another relay
	RefreshResize      RefreshReason = 5 // the viewer changed its size or scale
)

// Refresh asks the host for a keyframe: the next screen update depends on
// no earlier one. Until it arrives the viewer discards updates that are
// not keyframes.
type Refresh struct {
	Reason RefreshReason
}

// Type implements Msg.
func (m *Refresh) Type() MsgType { return MsgRefresh }

// AppendBinary implements Msg.
func (m *Refresh) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *Refresh) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *Refresh) validate() error            { return nil }
func (m *Refresh) appendBody(b []byte) []byte { return append(b, uint8(m.Reason)) }
func (m *Refresh) decode(s cryptobyte.String) (cryptobyte.String, error) {
	err := readUint(&s, &m.Reason)
	return s, err
}

// CursorShape is a cursor image: the payload of StreamCursor, not a
// message of its own. It stores the shape in the viewer's cache under ID
// (< CursorCacheSize), replacing what was there, and makes it the current
// cursor. The host chooses which id to reuse, so both ends always agree
// on what the cache holds; CursorCached selects a cached shape again.
//
// Layout: u8 id | u16 hot x | u16 hot y | u16 w | u16 h | w·h·4 bytes of
// non-premultiplied RGBA, rows top to bottom (like image.NRGBA with
// stride 4w).
type CursorShape struct {
	ID            uint8
	HotX, HotY    uint16 // the hotspot, inside the image
	Width, Height uint16 // 1..MaxCursorDim
	// Pix is Width·Height·4 bytes; decoding aliases it.
	Pix []byte
}

const cursorShapeHeader = 1 + 4*2

// String describes the shape without its pixels, for logs and errors.
func (c *CursorShape) String() string {
	return fmt.Sprintf("cursor shape %d %dx%d hotspot %d,%d pixels %d bytes", c.ID, c.Width, c.Height, c.HotX, c.HotY, len(c.Pix))
}

// AppendBinary appends the shape's encoding (the stream payload) to b.
func (c *CursorShape) AppendBinary(b []byte) ([]byte, error) {
	if err := c.validate(); err != nil {
		return b, &MsgError{"marshal", "cursor shape", err}
	}
	b = append(b, c.ID)
	for _, v := range []uint16{c.HotX, c.HotY, c.Width, c.Height} {
		b = be.AppendUint16(b, v)
	}
	return append(b, c.Pix...), nil
}

// DecodeFromBytes decodes a StreamCursor payload into c; c.Pix aliases b.
func (c *CursorShape) DecodeFromBytes(b []byte) error {
	if len(b) > MaxCursorShape {
		return &MsgError{"unmarshal", "cursor shape", fmt.Errorf("length %d exceeds %d", len(b), MaxCursorShape)}
	}
	s := cryptobyte.String(b)
	if !s.ReadUint8(&c.ID) || readUint(&s, &c.HotX, &c.HotY, &c.Width, &c.Height) != nil {
		return &MsgError{"unmarshal", "cursor shape", errTruncated}
	}
	c.Pix = s[:len(s):len(s)]
	if err := c.validate(); err != nil {
		return &MsgError{"unmarshal", "cursor shape", err}
	}
	return nil
}

func (c *CursorShape) validate() error {
	switch {
	case c.ID >= CursorCacheSize:
		return fmt.Errorf("id %d exceeds %d", c.ID, CursorCacheSize-1)
	case c.Width == 0 || c.Height == 0 || c.Width > MaxCursorDim || c.Height > MaxCursorDim:
		return fmt.Errorf("size %dx%d not in 1x1..%dx%d", c.Width, c.Height, MaxCursorDim, MaxCursorDim)
	case c.HotX >= c.Width || c.HotY >= c.Height:
		return fmt.Errorf("hotspot %d,%d outside %dx%d", c.HotX, c.HotY, c.Width, c.Height)
	case len(c.Pix) != int(c.Width)*int(c.Height)*4:
		return fmt.Errorf("%d pixel bytes, want %d for %dx%d", len(c.Pix), int(c.Width)*int(c.Height)*4, c.Width, c.Height)
	}
	return nil
}

// CursorCached makes the shape cached under ID the current cursor.
type CursorCached struct {
	ID uint8 // < CursorCacheSize
}

// Type implements Msg.
func (m *CursorCached) Type() MsgType { return MsgCursorCached }

// AppendBinary implements Msg.
func (m *CursorCached) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *CursorCached) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *CursorCached) validate() error {
	if m.ID >= CursorCacheSize {
		return fmt.Errorf("id %d exceeds %d", m.ID, CursorCacheSize-1)
	}
	return nil
}
func (m *CursorCached) appendBody(b []byte) []byte { return append(b, m.ID) }
func (m *CursorCached) decode(s cryptobyte.String) (cryptobyte.String, error) {
	if err := readUint(&s, &m.ID); err != nil {
		return s, err
	}
	return s, m.validate()
}

// CursorPos is where the host's pointer is, in pixels of the shared
// screen (see Layout), and whether the cursor is shown. It tells the
// viewer about pointer moves made on the host (or by another viewer).
type CursorPos struct {
	X, Y    int32
	Visible bool
}

const cursorVisible = 1 // CursorPos flags bit

// Type implements Msg.
func (m *CursorPos) Type() MsgType { return MsgCursorPos }

// AppendBinary implements Msg.
func (m *CursorPos) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *CursorPos) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

func (m *CursorPos) validate() error { return nil }

func (m *CursorPos) appendBody(b []byte) []byte {
	b = be.AppendUint32(be.AppendUint32(b, uint32(m.X)), uint32(m.Y))
	if m.Visible {
		return append(b, cursorVisible)
	}
	return append(b, 0)
}

func (m *CursorPos) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var x, y uint32
	var flags uint8
	if err := readUint(&s, &x, &y); err != nil {
		return s, err
	}
	if err := readUint(&s, &flags); err != nil {
		return s, err
	}
	m.X, m.Y, m.Visible = int32(x), int32(y), flags == cursorVisible
	return s, checkBits("flags", flags, cursorVisible)
}
