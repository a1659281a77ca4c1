// Package viewer is the client side of a session, shared by the native and
// browser viewers: it asks the broker for a pairing, connects through a
// relay, runs the dw/1 handshake, decodes the screen into a framebuffer and
// sends input. It is pure Go and builds for WebAssembly, where
// cmd/deskway-wasm drives it from the page; viewer/desktop drives it from
// Fyne.
//
// # Use
//
//	s, err := viewer.Connect(ctx, cfg, viewer.Target{Code: "123-456-789"})
//	// or viewer.Target{HostID: id, Password: pw} for an unattended host
//	if err != nil { ... }         // errors.Is(err, viewer.ErrWrongCode), ErrHostOffline, …
//	fmt.Println(s.SAS())          // compare with the host
//	go func() { err := s.Run(ctx); ... }() // until the session ends
//	s.Pointer(x, y, proto.ButtonLeft)     // input never blocks
//	s.Close()
//
// Connect returns once the channel is open: the broker paired this viewer
// with the host (support: only the nameplate goes to the broker; the whole
// code stays here for CPace; unattended: the password goes to OPAQUE and
// nowhere else), a relay paired the two ends, the host proved the code or
// password, its key matched the pin (or was pinned now), and the short
// authentication string is known. Run then receives until the session ends.
//
// # Receive path (Run's goroutine)
//
//	Channel.Recv ─► proto.Unmarshal ─► Fragment: Defragmenter per stream
//	  screen ─► codec.Decoder.Decode ─► Events.Frame(fb, changed rects) ─► FrameAck{seq, µs}
//	  cursor ─► CursorShape cache (64 ids) ─► Events.Cursor
//	  clipboard ─► Events.Clipboard
//	Hello, Layout, Consent, ViewOnly, CursorCached, CursorPos, Ping/Pong, End
//
// Flow control (docs/ARCHITECTURE.md, "Stream"): every completed screen
// update is acknowledged after it was decoded and handed to Events.Frame,
// with the time both took, so a host that keeps a small window of
// unacknowledged frames paces itself to the slower of the link and this
// viewer. Updates that cannot be decoded (no keyframe yet, a gap after a
// resumption, a decode error) are acknowledged too, and one Refresh asks
// for a keyframe.
//
// # Send path
//
// Input methods (Pointer, Wheel, Key, Text, SendClipboard, …) never block:
// they put the event on a bounded queue, coalescing pointer moves, and a
// sender goroutine owned by Run sends them in order as reliable messages,
// which the channel retransmits after a resumption.
//
// # Relay loss
//
// When the connection breaks (relay gone, drain notice, peer left the
// relay, a tampered record), Run asks the broker for fresh tickets of the
// same session, races the relays again and resumes the channel
// (Noise KKpsk0, no new PAKE) within the 120 s window. Input queued in the
// meantime is delivered exactly once; the screen resynchronises with a
// keyframe.
//
// # Concurrency
//
// A Session's methods are safe for concurrent use. Events are delivered
// one at a time, never concurrently, from the Session's goroutines; a
// callback may call the input methods but must not wait for Run to return.
package viewer
