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
