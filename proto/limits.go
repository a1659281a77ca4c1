package proto

import "time"

// Limits of relay tickets (SECURITY.md §5, "Relay tickets"). ParseTicket
// and VerifyTicket check each one before allocating; SignTicket refuses a
// ticket that breaks one.
const (
	// MaxTicketSize bounds a whole signed ticket in bytes.
	MaxTicketSize = 2048
	// MaxTicketRelays bounds the relays a ticket lists.
	MaxTicketRelays = 8
	// MaxTicketIDLen bounds a key id, a host id and a relay id in bytes.
	MaxTicketIDLen = 64
	// MaxTicketURLLen bounds a relay URL in bytes.
	MaxTicketURLLen = 512
	// MaxTicketLifetime bounds expiry − issued-at.
	MaxTicketLifetime = 60 * time.Second
	// TicketClockSkew is how far the verifier's clock may be from the
	// signer's: a ticket is accepted from NotBefore − skew until before
	// Expiry + skew.
	TicketClockSkew = 30 * time.Second
	// MaxTicketKeys bounds the keys of one ticket-key list, and
	// MaxTicketKeysText the size of its text.
	MaxTicketKeys     = 64
	MaxTicketKeysText = 16 << 10
)

// Limits of session messages (SECURITY.md §4.4). Unmarshal, the message
// types' DecodeFromBytes and the Defragmenter check each before
// allocating; encoders refuse to break one.
const (
	// A session message is at most MaxPayload bytes (record.go): what one
	// record of the secure channel carries after its own framing.

	// FragmentOverhead is the size of a Fragment message without its
	// data, and MaxFragmentData the most data one can carry.
	FragmentOverhead = 15
	MaxFragmentData  = MaxPayload - FragmentOverhead
	// MaxFragments bounds the fragments of one payload.
	MaxFragments = 256

	// Largest payload of each stream. A screen update is also bounded by
	// MaxFragments full fragments (256 × 65 488 bytes, just under 16 MiB).
	MaxScreenUpdate = 16 << 20
	MaxClipboard    = 1 << 20
	MaxCursorShape  = cursorShapeHeader + MaxCursorDim*MaxCursorDim*4

	// MaxCursorDim bounds a cursor's width and height; CursorCacheSize is
	// the number of cursor shapes a viewer caches (ids 0..63).
	MaxCursorDim    = 256
	CursorCacheSize = 64

	// MaxInputMsg bounds an input message (pointer, wheel, key event);
	// MaxKeyText the text of a key event.
	MaxInputMsg = 1024
	MaxKeyText  = 64

	// MaxHelloField bounds each name in Hello and a monitor's name;
	// MaxMonitors the monitors of a Layout; MaxEndText the text of End.
	MaxHelloField = 64
	MaxMonitors   = 16
	MaxEndText    = 255

	// Presentation group keys (§4.7, group.go). MaxGroupViewers bounds a
	// GroupKey roster and a Group's members. A broadcast frame is at most
	// MaxGroupFrameRecords records and MaxGroupFrameBytes bytes of
	// messages, which the receiver buffers until the frame's signature
	// verifies; MaxGroupPending bounds the records (and
	// MaxGroupPendingBytes their bytes) a receiver holds for an epoch whose
	// key has not arrived yet.
	MaxGroupViewers      = 128
	MaxGroupFrameRecords = 320
	MaxGroupFrameBytes   = MaxScreenUpdate + 1<<20
	MaxGroupPending      = 256
	MaxGroupPendingBytes = 8 << 20
)
