// Package proto is Deskway's wire protocol: everything the agent, the
// viewers, the relays and the broker say to each other on a session's
// path, and the code that encodes, decodes, seals and checks it. It is a
// leaf: pure Go, no cgo, no I/O beyond the [MsgConn] interface, so that
// one implementation runs in every program (including the browser viewer
// under GOOS=js GOARCH=wasm) and every decoder is fuzzed in isolation.
//
// This comment is the protocol specification. SECURITY.md (in the shared
// design documents) is the security design it implements; section
// numbers (§4.4) refer to it, and docs/ARCHITECTURE.md fixes the relay's
// wire and the package contracts.
//
// # Layers
//
// From the outside in:
//
//	relay ticket       the first binary WebSocket message to a relay: the broker's
//	                   signed permission to use it (see Relay tickets)
//	MsgConn            whole binary messages in order, both ways: a WebSocket
//	                   through a relay (package proto/ws), or Pipe in tests
//	dw/1 channel       PAKE + Noise handshake, then one AEAD record per MsgConn
//	                   message (see Secure channel)
//	session messages   one typed message per record plaintext (see Session messages)
//	fragments          large payloads — screen updates, clipboard text, cursor
//	                   shapes — cut into messages that fit a record (see Fragmentation)
//
// # Transport
//
// Each end opens a WebSocket to <relay URL>/v1/relay and sends its ticket
// as the first binary message. The relay answers only with text messages
// (JSON notices: waiting, paired, lost, peer_left, drain) and reports
// errors as WebSocket close codes: 4001 ticket malformed or signature
// invalid ([ErrTicketMalformed], [ErrTicketSignature],
// [ErrTicketUnknownKey]), 4002 expired or not yet valid
// ([ErrTicketExpired], [ErrTicketNotYetValid]), 4003 another relay's
// ticket ([ErrTicketAudience]), 4004 ticket already used, 4005 pairing
// timeout, 4006 session full, 4007 draining, 4008 rate or size limit, 4009
// relay at capacity. Once paired, every binary message is a dw/1 record,
// forwarded opaquely. In a presentation session the relay prefixes each
// viewer→host message with a 4-byte big-endian viewer slot, and the host
// prefixes each of its messages with a destination slot (0 = all viewers),
// which the relay strips; the records inside are the same. A client races
// the ticket's relays in order (MONET-style) and fails over between them;
// see docs/ARCHITECTURE.md, "Relay wire".
//
// # Secure channel
//
// dw/1 (SECURITY.md §4) authenticates both ends with the session's
// low-entropy secret and encrypts everything end to end; the relays and
// the broker see only sizes and timing. In short:
//
//   - PAKE (§4.2): CPace (CPACE-RISTR255-SHA512) on the support code, or
//     OPAQUE (RFC 9807) on the host access password. The host counts every
//     PAKE reply it sends and persists the count first ([Limiter]).
//   - Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s (§4.3) keyed by the PAKE, with
//     the session id, host id, mode, versions and PAKE transcript in the
//     prologue (anti-splice, §4.6). Static keys are pinned after the first
//     session ([PinStore]).
//   - Records (§4.4): a 16-byte authenticated header (version, type, epoch,
//     sequence, length) and ChaCha20-Poly1305; strictly in order, rekeyed
//     by count, bytes and time, ended by an authenticated CLOSE.
//   - Short authentication string (§4.8) by commit–reveal: [Channel.SAS].
//   - Resumption after a relay failure without a new PAKE (§4.5):
//     Noise_KKpsk0 over a new MsgConn, [Channel.Resume].
//   - Presentation broadcast (§4.7): per-epoch group keys handed out over
//     each viewer's channel and Ed25519-signed frames under them, [Group]
//     and [GroupReceiver]; see Presentation broadcast.
//
// [AcceptHost] and [DialViewer] run the handshake and return a [Channel];
// the handshake flow, the record layout and the resumption protocol are
// specified in the comments of those types and their files (handshake.go,
// record.go, resume.go, sas.go). For the layers above, a Channel carries
// application messages of at most [MaxPayload] bytes:
// [Channel.Send](ctx, msg, reliable) and [Channel.Recv]. Reliable
// messages are retransmitted after a resumption; unreliable ones are not.
//
// # Session messages
//
// Each application message of the channel is one session message: a type
// byte ([MsgType]) and that type's fields, at most [MaxPayload] bytes.
// Integers are big-endian; i32 is two's complement; str8 is a one-byte
// length and that many bytes of UTF-8; bytes16 a two-byte length and that
// many bytes. A message is exactly its fields: fewer or more bytes, an
// unknown flag bit, a length or count beyond its limit, or a field outside
// its range make it malformed, and the receiver ends the session
// (End{EndProtocolError}). The encoding is canonical: a message has
// exactly one encoding.
//
//	type  name             dir  layout                                          limits
//	0x01  Hello            both u16 min version | u16 max version | u64 caps |  1 ≤ min ≤ max; each str8 ≤ 64 B
//	                            str8 software | str8 version | str8 platform |
//	                            str8 user | layout
//	0x02  Layout           H→V  u32 selected | u8 n | n × monitor               n ≤ 16; ids ≠ 0, distinct; selected 0 or
//	                            monitor: u32 id | i32 x | i32 y | u16 w | u16 h  an id; w, h ≥ 1; ≤ 1 primary;
//	                            | u16 scale % | u8 flags (1 primary) | str8 name name ≤ 64 B
//	0x10  Fragment         H→V* u8 stream | u8 flags | u32 seq | u8 index |     see Fragmentation
//	                            u8 last | u32 total | bytes16 data
//	0x11  FrameAck         V→H  u32 seq | u32 decode µs
//	0x12  Refresh          V→H  u8 reason                                       any reason
//	0x20  Pointer          V→H  i32 x | i32 y | u8 buttons                      buttons: 5 bits (W3C MouseEvent.buttons)
//	0x21  Wheel            V→H  i16 dx | i16 dy                                 1/120 notch; +dy down, +dx right
//	0x22  KeyEvent         V→H  u8 flags (1 down, 2 repeat) | u32 code |        repeat only with down; 8 modifier bits;
//	                            u16 mods | str8 text                            text ≤ 64 B
//	0x23  Padded           V→H  n × (u8 len | input message) |                  inputs: Pointer, Wheel, KeyEvent; len ≥ 1;
//	                            u8 0 | zeros                                    size the least multiple of 64 B above the
//	                                                                            input (end mark only if room); ≤ 1024 B
//	0x30  CursorCached     H→V  u8 id                                           id < 64
//	0x31  CursorPos        H→V  i32 x | i32 y | u8 flags (1 visible)
//	0x40  ConsentRequest   V→H  u8 perms (1 view, 2 control, 4 clipboard)
//	0x41  Consent          H→V  u8 perms
//	0x42  ViewOnly         both u8 on                                           0 or 1
//	0x43  Quality          V→H  u8 mode | u8 quality | u8 max fps | u8 scale %  mode ≤ 3; quality, scale ≤ 100
//	0x44  MonitorChoice    V→H  u32 monitor id (0 = all)
//	0x45  End              both u8 reason | str8 text                           text ≤ 255 B; any reason
//	0x50  Ping             both u64 time µs
//	0x51  Pong             both u64 ping time µs | u64 time µs
//	0x60  GroupKey         H→V  u32 epoch | key[32] | presentation key[32] |    epoch ≥ 1; key, presentation key ≠ 0;
//	                            u32 you | u8 n | n × (u32 id | str8 name)       n ≤ 128; ids ≠ 0, distinct; you among
//	                                                                            them; name ≤ 64 B; presentation only
//
//	* clipboard fragments go both ways
//
// Input messages (Pointer, Wheel, KeyEvent) are at most [MaxInputMsg]
// bytes (§4.4). Coordinates (Pointer, CursorPos) are pixels of the shared
// screen: the selected monitor, or with all monitors selected their
// bounding box, origin top left. KeyEvent.code is a [KeyCode]: the USB HID
// usage of the physical key (page << 16 | id), which the browser viewer
// gets from KeyboardEvent.code ([ParseKeyCode]) and the Linux agent maps
// to evdev/X11 ([KeyCode.Evdev]); the text is what the key typed on the
// viewer, for hosts whose layout differs.
//
// Protocol flow:
//
//	Opening:
//	* both send Hello first; nothing else is valid before the peer's Hello
//	* version = the highest in both ranges ([NegotiateVersion]); none:
//	  End{EndVersion}; capabilities = the intersection of both Caps
//	* host's Hello carries its Layout; the viewer's an empty one
//	* support: V→H ConsentRequest; H→V Consent once the customer decides
//	  (none granted: End{EndConsentDenied}); unattended: H→V Consent at once
//	* with PermView: H→V CursorShape (cursor stream), CursorPos, and a
//	  screen keyframe (Fragment, FragKeyframe)
//
//	Steady state:
//	* H→V screen updates as Fragments; V→H FrameAck per decoded update; the
//	  host keeps a small window of unacknowledged frames and merges changes
//	  into the next one instead of queueing
//	* V→H Pointer, Wheel, KeyEvent while PermControl and not view-only;
//	  with CapPadded inside Padded records of 64 B, and while a person
//	  types one Padded every 20 ms (keystrokes wait for the tick, empty
//	  ones are chaff) until a random 1–2 s after the last key (§4.4)
//	* H→V CursorPos on moves, CursorShape or CursorCached on changes
//	* clipboard text either way as Fragments with PermClipboard
//	* V→H Quality, MonitorChoice (H→V Layout with the new selection, then a
//	  keyframe), Refresh (H→V keyframe); H→V Layout when monitors change
//	* H→V Consent whenever the customer grants or withdraws a permission
//	* either end Ping; the other answers Pong at once
//
//	Relay failure:
//	* the channel resumes over another relay (Channel.Resume); reliable
//	  messages are retransmitted, unreliable ones are not
//	* viewer: Defragmenter.Reset on the screen stream, Refresh{RefreshResume}
//	* host: Fragmenter.Reset on the screen stream, forgets its frame window,
//	  sends CursorPos and a keyframe
//	* presentation viewer told "lost" by the relay: the same, RefreshLost
//
//	Closing:
//	* either end sends End{reason, text}, then Channel.Close
//
// Sent reliable: every message except the unreliable ones — Fragments of
// the screen stream, FrameAck, CursorPos, Ping and Pong — whose loss the
// next one repairs.
//
// The Go API: each message type (*[Hello], *[Fragment], …) implements
// [Msg]; [AppendMsg] and the types' AppendBinary methods encode without
// allocating given a buffer; [Unmarshal] decodes any message, the types'
// DecodeFromBytes one known type into a reused value. Decoding aliases
// large byte fields (Fragment.Data, CursorShape.Pix) to the input instead
// of copying. Errors are *[MsgError]: "proto: unmarshal key event: text
// length 65 exceeds 64".
//
// # Fragmentation
//
// A large payload of a stream travels as Fragment messages, each small
// enough for one record. The streams:
//
//	stream  name       payload                              limit            reliable
//	1       screen     a codec update, opaque to proto      16 MiB, 256      no
//	2       clipboard  clipboard text, UTF-8                1 MiB            yes
//	3       cursor     one CursorShape (layout below)       256×256 RGBA     yes
//
//	CursorShape: u8 id | u16 hot x | u16 hot y | u16 w | u16 h | w·h·4 bytes RGBA
//	             (non-premultiplied, rows top down; 1 ≤ w, h ≤ 256; hotspot inside;
//	             id < 64: the viewer caches it under id, replacing what was there)
//
// A payload of total bytes with sequence number seq is cut into last+1 ≤
// [MaxFragments] fragments with index 0..last, sent in order, each
// carrying the same stream, flags, seq, last and total and at least one
// byte of data (one empty fragment for an empty payload). Seq counts the
// stream's payloads, +1 each (mod 2³²); for the screen it is the frame
// number FrameAck acknowledges. Flags: FragKeyframe (1) on every fragment
// of a screen update that depends on no earlier one; no other flag
// exists. Each stream is reassembled separately, so streams may
// interleave, but the fragments of one stream may not: a fragment out of
// order, a gap in seq, a total, last or flags that differ from the
// payload's first fragment, or data beyond total end the session. After
// a relay failure or a "lost" notice the receiver drops its partial
// payload and accepts any seq for the next one ([Defragmenter.Reset]);
// until a keyframe arrives the viewer drops screen updates. A full-size
// fragment carries [MaxFragmentData] bytes, so a screen update is in
// practice at most 256 × MaxFragmentData bytes, just under 16 MiB.
// [Fragmenter] and [Defragmenter] implement this with no allocation in
// steady state.
//
// # Presentation broadcast
//
// In a presentation (one host, N viewers, §4.7) each viewer runs its own
// handshake with the host and keeps its pairwise [Channel]: control,
// FrameAck, Refresh and all input travel only there (so viewers cannot
// forge each other's input), as does the GroupKey message. The screen
// stream goes once, as broadcast records the relay fans out (host prefix
// slot 0), under a group key:
//
//	keys     SK_p/PK_p: Ed25519, one pair per session (host). GK_e: 32 random
//	         bytes per epoch e = 1, 2, …; GroupKey{e, GK_e, PK_p, you, roster}
//	         to each member over its channel (reliable) before any record of e
//	epochs   a new one on every join (newcomers cannot read earlier traffic), on
//	         every leave or kick (leavers cannot read later traffic), and after
//	         2^20 records, 256 MiB or 10 min; at most one per second, only
//	         between frames, so a change applies within 1 s
//	record   header as in Secure channel with type GROUP (11):
//	           ver 1 | 11 | epoch u32 | seq u64 | len u16   (AD)
//	           ChaCha20-Poly1305(GK_epoch, nonce = epoch BE32 ‖ seq BE64, kind ‖ rest)
//	         seq counts from 0 in each epoch; the host is the only sender
//	kinds    1 FIRST message, 2 MORE message (a session message, 1..MaxPayload
//	         bytes), 3 END signature[64]
//	frame    FIRST, MORE*, END in one epoch; ≤ MaxGroupFrameRecords messages,
//	         ≤ MaxGroupFrameBytes bytes
//	         h_0 = SHA-256("dw/1 group chain\x00" ‖ PK_p)
//	         h_i = SHA-256(h_{i−1} ‖ header_i ‖ ciphertext_i)  over FIRST and MORE
//	         signature = Ed25519(SK_p, "dw/1 group frame\x00" ‖ h_n)
//
// A viewer takes keys only from its channel ([GroupReceiver.SetKey]) and
// accepts records strictly in order: the next seq of its epoch, or seq 0
// of a newer epoch whose key it holds, between frames. It keeps the
// previous epoch's key until the new epoch's first record or for 2 s,
// holds records of an epoch whose key is still on its way (at most
// [MaxGroupPending] records, [MaxGroupPendingBytes]), drops records of
// epochs before its first key, and buffers each frame until its
// signature verifies: a viewer holding GK_e, even with the relay, can
// make records the others decrypt but no frame they deliver. Anything
// else fails the receiver until [GroupReceiver.Resync], which the viewer
// calls after the relay's "lost" notice (then it skips to the next FIRST
// after the last record it accepted, and sends Refresh{RefreshLost} over
// its channel). [IsGroupRecord] tells broadcast records from the
// channel's.
//
// Status: [Group], [GroupReceiver] and the GroupKey message are complete
// and tested on their own; nothing uses them yet. The presentation
// session mode itself — one handshake per viewer over the host's
// slot-prefixed relay connection, the agent's and viewers' session loops
// — is not wired, so [AcceptHost] and [DialViewer] still refuse
// [ModePresentation] with [ErrModeUnsupported].
//
// # Relay tickets
//
// A ticket is the broker's Ed25519 signature that one end of one session
// may use the listed relays for a short while (§5). It is only
// authorisation: it carries no keys, and the secure channel never trusts
// it (§4.6). Layout ([TicketVersion] 1, built with cryptobyte):
//
//	ticket   = u16 length | payload | signature[64]        ≤ 2048 bytes in all
//	payload  = u8 version (1)
//	           u8 length | kid                             1..64 bytes, printable ASCII, no space or '#'
//	           ticket id[16]                               the relay's single-use key
//	           session id[16]                              not zero
//	           u8 length | host id                         1..64 bytes, printable ASCII, no space
//	           u8 role                                     1 host, 2 viewer
//	           u8 mode                                     1 support, 2 unattended, 3 presentation
//	           u8 n | n × (u8 length | relay id |          1 ≤ n ≤ 8, ids as host id, distinct;
//	                       u16 length | relay URL)         URL ≤ 512 bytes, http(s) or ws(s)://host[:port][/path]
//	           u64 issued-at | u64 not-before | u64 expiry Unix seconds; iat ≤ nbf < exp ≤ iat + 60
//	           u64 max bytes per second                    0 = the relay's default
//	signature = Ed25519(broker key[kid], "dw-ticket-v1\x00" ‖ payload)
//
// [VerifyTicket] checks, in order: the structure (every rule above), that
// kid names a known key, the signature, that now is within [not-before −
// 30 s, expiry + 30 s), and that the verifying relay's id is in the
// relay list (the audience). The relay then refuses a ticket id it has
// accepted before, until that ticket's expiry. Ticket public keys travel
// as text, one "kid base64url(public key)" a line with '#' comments
// ([ParseTicketKeys], [FormatTicketKeys]); relays hold every current kid,
// so the broker rotates keys by signing with a new kid once relays know
// it.
//
// # Limits
//
// Every length and count a peer sends is checked against a constant
// before anything is allocated: [MaxTicketSize], [MaxTicketRelays],
// [MaxTicketIDLen], [MaxTicketURLLen], [MaxTicketLifetime],
// [TicketClockSkew], [MaxPayload], [MaxFragments], [MaxScreenUpdate],
// [MaxClipboard], [MaxCursorShape], [MaxCursorDim], [MaxInputMsg],
// [MaxKeyText], [MaxHelloField], [MaxMonitors] and [MaxEndText] (§4.4),
// and for presentations [MaxGroupViewers], [MaxGroupFrameRecords],
// [MaxGroupFrameBytes], [MaxGroupPending] and [MaxGroupPendingBytes].
// Every decoder has a Fuzz target.
//
// # Version history
//
// Three things carry versions, each bumped on any wire-incompatible change:
//
//   - Relay tickets, [TicketVersion] (the first payload byte and the
//     signature context "dw-ticket-v1"). Version 1: this layout.
//   - The dw/1 channel, [RecordVersion] in every record header and the
//     versions offered and chosen in the handshake, bound into the Noise
//     prologue so a downgrade fails the handshake. Version 1: SECURITY.md
//     §4 as of this package.
//   - Session messages, negotiated in Hello between [MinMsgVersion] and
//     [MsgVersion]. Version 1: the catalogue above (GroupKey joined it
//     before any presentation session could be established; only a
//     presentation host sends it). A later version may add
//     message types, fields or flags; a version-1 peer never receives them,
//     since the higher version is used only if both offer it.
package proto
