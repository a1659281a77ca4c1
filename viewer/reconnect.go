package viewer

// Reconnect drops the current relay connection and resumes the session
// at once through fresh tickets (Noise KKpsk0, no new PAKE), as after a
// relay failure: for a user who sees the picture stall before the
// channel notices. Input queued meanwhile is delivered exactly once. It
// does nothing before Run or after the session ended, and never blocks.
func (s *Session) Reconnect() {
	if s.isClosed() {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default: // a move is already asked for
	}
}
