package viewer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// Session is one viewer session, from Connect until Run returns. See the
// package documentation for its goroutines and their contracts; all
// methods are safe for concurrent use.
type Session struct {
	cfg    Config
	ev     Events
	log    *slog.Logger
	mode   proto.Mode
	sid    proto.SessionID
	hostID string
	epoch  time.Time // origin of the Ping clock
	ch     *proto.Channel
	ctr    counters
	in     *inputQueue
	kick   chan struct{} // asks the ticker to drop the current connection

	evMu sync.Mutex // serialises Events callbacks

	mu           sync.Mutex
	conn         proto.MsgConn // the current transport, counted
	relayID      string
	state        State
	perms        proto.Perms
	viewOnly     bool
	hostViewOnly bool
	screenW      int // the host's shared screen in its pixels; 0 = unknown
	screenH      int
	fbW, fbH     int
	rtt          time.Duration
	handshake    time.Duration // of Connect's dw/1 handshake (set before Run)
	resumes      int
	rates        Stats // per-second figures of the last stats tick
	ran, closed  bool
	pressed      map[proto.KeyCode]proto.Mods
	padded       bool          // the host takes input in Padded records
	buttons      proto.Buttons // pressed, and where the pointer is (host pixels)
	ptrX, ptrY   int32

	// Owned by Run's receive loop.
	dec        *codec.Decoder
	screen     *proto.Defragmenter
	clip       *proto.Defragmenter
	cursorFrag *proto.Defragmenter
	cursors    [proto.CursorCacheSize]*Cursor
	lastSeq    uint32
	haveSeq    bool
	needKey    bool // a gap broke the update chain: only a keyframe helps
	refreshing bool // a Refresh was sent and no keyframe decoded since
}

// Connect pairs with the target through the broker, reaches the host
// through a relay and runs the dw/1 handshake. It returns once the
// channel is open and the SAS known; call Run next. Errors match the Err
// values of this package (ErrWrongCode, ErrHostOffline, …). A failed
// handshake is never retried: each retry would be a guess for a fake
// host.
func Connect(ctx context.Context, cfg Config, t Target) (*Session, error) {
	if cfg.Broker == nil {
		return nil, errors.New("viewer: config: no broker")
	}
	if cfg.Static.IsZero() {
		return nil, errors.New("viewer: config: no viewer key")
	}
	cfg = cfg.withDefaults()
	s := &Session{
		cfg:        cfg,
		ev:         cfg.Events,
		log:        cfg.Logger,
		epoch:      cfg.Now(),
		in:         newInputQueue(cfg.InputQueue),
		kick:       make(chan struct{}, 1),
		viewOnly:   cfg.ViewOnly,
		pressed:    map[proto.KeyCode]proto.Mods{},
		dec:        codec.NewDecoder(cfg.decoderOptions()),
		screen:     proto.NewDefragmenter(proto.StreamScreen),
		clip:       proto.NewDefragmenter(proto.StreamClipboard),
		cursorFrag: proto.NewDefragmenter(proto.StreamCursor),
	}
	if err := s.connect(ctx, t); err != nil {
		s.setState(StateClosed, err)
		return nil, err
	}
	return s, nil
}

func (s *Session) connect(ctx context.Context, t Target) error {
	var (
		code    proto.SupportCode
		pairing *Pairing
		err     error
	)
	s.setState(StatePairing, nil)
	switch {
	case t.Code != "" && t.HostID != "":
		return errors.New("viewer: connect: a code or a host, not both")
	case t.Code != "":
		s.mode = proto.ModeSupport
		if code, err = proto.ParseSupportCode(t.Code); err != nil {
			return wrap(ErrWrongCode, err)
		}
		s.log.Info("joining support session", "code", code)
		pairing, err = s.cfg.Broker.Join(ctx, code.Nameplate())
	case t.HostID != "":
		s.mode = proto.ModeUnattended
		if len(t.Password) == 0 {
			return wrap(ErrWrongPassword, errors.New("viewer: connect: no host access password"))
		}
		s.log.Info("connecting to host", "host", t.HostID)
		pairing, err = s.cfg.Broker.Connect(ctx, t.HostID)
	default:
		return errors.New("viewer: connect: no code and no host")
	}
	if err != nil {
		return brokerError(s.mode, err)
	}
	if err := checkPairing(pairing, s.mode, t.HostID); err != nil {
		return err
	}
	s.sid, s.hostID = pairing.SessionID, pairing.HostID
	s.log = s.log.With("session", s.sid.String(), "host", s.hostID)

	s.setState(StateRelay, nil)
	if s.cfg.Dial == nil {
		return errors.New("viewer: config: no Dial")
	}
	conn, relayID, err := s.cfg.Dial(ctx, pairing.Relays, s.onNotice)
	if err != nil {
		return dialError(err)
	}
	cc := countConn{conn, &s.ctr}
	s.mu.Lock()
	s.conn, s.relayID = cc, relayID
	s.mu.Unlock()
	s.log.Info("relay paired", "relay", relayID)

	s.setState(StateHandshake, nil)
	hsStart := s.cfg.Now()
	ch, err := proto.DialViewer(ctx, cc, proto.ViewerConfig{
		Mode:      s.mode,
		SessionID: s.sid,
		HostID:    s.hostID,
		Static:    s.cfg.Static,
		Code:      code,
		OwnerID:   pairing.Owner,
		Password:  t.Password,
		Pins:      s.cfg.Pins,
		Options:   s.cfg.Channel,
		Rand:      s.cfg.Rand,
		Logger:    s.cfg.Logger,
	})
	if err != nil {
		return handshakeError(s.mode, err)
	}
	s.ch = ch
	s.handshake = s.cfg.Now().Sub(hsStart)
	s.log.Info("channel open", "relay", relayID, "pin", ch.PinStatus().String(), "handshake", s.handshake)

	// Hello first, then what this viewer wants (docs: Hello opens the
	// session in both directions).
	hello := s.localHello()
	first := []proto.Msg{hello, &proto.ConsentRequest{Want: s.cfg.Want}}
	if s.cfg.Quality != nil {
		q := *s.cfg.Quality
		first = append(first, &q)
	}
	if s.cfg.ViewOnly {
		first = append(first, &proto.ViewOnly{On: true})
	}
	for _, m := range first {
		if err := s.send(ctx, m, true); err != nil {
			ch.Close(context.Background(), proto.CloseProtocol)
			return err
		}
	}
	s.setState(StateConsent, nil)
	return nil
}

// checkPairing checks that the broker's answer is for what was asked.
// For an unattended host the host id must be the one the user picked:
// it is the OPAQUE server identity, so the broker cannot route the owner
// to another of their hosts.
func checkPairing(p *Pairing, mode proto.Mode, hostID string) error {
	switch {
	case p == nil:
		return errors.New("viewer: broker returned no pairing")
	case p.SessionID.IsZero():
		return errors.New("viewer: pairing without a session id")
	case p.Mode != mode:
		return fmt.Errorf("viewer: pairing is for a %v session, want %v", p.Mode, mode)
	case p.Role != proto.RoleViewer:
		return fmt.Errorf("viewer: pairing is for the %v, want the viewer", p.Role)
	case p.HostID == "":
		return errors.New("viewer: pairing without a host id")
	case mode == proto.ModeUnattended && p.HostID != hostID:
		return fmt.Errorf("viewer: broker paired with host %q, asked for %q", p.HostID, hostID)
	case mode == proto.ModeUnattended && p.Owner == "":
		return errors.New("viewer: unattended pairing without an owner id")
	case len(p.Relays) == 0:
		return wrap(ErrNoRelay, errors.New("viewer: pairing lists no relay"))
	}
	return nil
}

func (s *Session) localHello() *proto.Hello {
	return &proto.Hello{
		MinVersion: proto.MinMsgVersion,
		MaxVersion: proto.MsgVersion,
		Caps:       proto.CapClipboard | proto.CapCursor | proto.CapMultiMonitor | proto.CapLossless | proto.CapBalanced | proto.CapLowBandwidth | proto.CapKeyText | proto.CapHostScaling | proto.CapPadded,
		Software:   clip(s.cfg.Software, proto.MaxHelloField),
		Version:    clip(s.cfg.Version, proto.MaxHelloField),
		Platform:   clip(s.cfg.Platform, proto.MaxHelloField),
		User:       clip(s.cfg.User, proto.MaxHelloField),
	}
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// SAS returns the 6-digit short authentication string to compare with
// the one the host shows ("482 913").
func (s *Session) SAS() string { return s.ch.SAS() }

// HostKey returns the fingerprint of the host's key and whether it was
// pinned now (first contact: show it once) or matched the pin.
func (s *Session) HostKey() (proto.Fingerprint, proto.PinStatus) {
	return s.ch.PeerStatic().Fingerprint(), s.ch.PinStatus()
}

// SessionID returns the broker's id of the session.
func (s *Session) SessionID() proto.SessionID { return s.sid }

// Mode returns the session's mode.
func (s *Session) Mode() proto.Mode { return s.mode }

// Stats returns the session's figures now; the rates are those of the
// last stats tick.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.rates
	st.State, st.Mode, st.HostID, st.Relay = s.state, s.mode, s.hostID, s.relayID
	st.Perms, st.Width, st.Height, st.RTT, st.Resumes = s.perms, s.fbW, s.fbH, s.rtt, s.resumes
	st.Handshake = s.handshake
	if s.ch != nil {
		st.SAS = s.ch.SAS()
		st.HostKey, st.Pin = s.ch.PeerStatic().Fingerprint(), s.ch.PinStatus()
	}
	return st
}

// Run receives and handles the host's messages, sends the queued input
// and keeps the figures, resuming through another relay when the
// connection breaks, until the session ends. It returns nil after Close
// or when ctx ends, an *EndError when the host ended the session, and an
// error matching ErrConnectionLost or ErrProtocol otherwise. Run may be
// called once.
func (s *Session) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("viewer: Run called twice")
	}
	s.ran = true
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.sendLoop(ctx) }()
	go func() { defer wg.Done(); s.tickLoop(ctx) }()
	err := s.recvLoop(ctx)
	cancel()
	wg.Wait()

	reason := proto.CloseUser
	var end *EndError
	switch {
	case errors.As(err, &end):
		reason = proto.CloseNormal
	case errors.Is(err, ErrProtocol):
		reason = proto.CloseProtocol
		s.send(context.Background(), &proto.End{Reason: proto.EndProtocolError, Text: clip(err.Error(), proto.MaxEndText)}, true)
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
	s.ch.Close(cctx, reason)
	ccancel()
	s.setState(StateClosed, err)
	s.log.Info("session ended", "err", err)
	return err
}

// Close ends the session: it tells the host (End, then an authenticated
// CLOSE) and makes Run return nil. It is idempotent.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.send(ctx, &proto.End{Reason: proto.EndNormal}, true)
	return s.ch.Close(ctx, proto.CloseUser)
}

// recvLoop handles received messages until the session ends.
func (s *Session) recvLoop(ctx context.Context) error {
	for {
		b, err := s.ch.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ce *proto.CloseError
			switch {
			case errors.As(err, &ce) && !ce.Remote:
				return nil // Close
			case errors.As(err, &ce):
				return &EndError{Reason: endReasonFor(ce.Reason), Text: ce.Text}
			case errors.Is(err, proto.ErrResumeExpired), errors.Is(err, proto.ErrResumeLimit):
				return wrap(ErrConnectionLost, err)
			}
			if err := s.resume(ctx, err); err != nil {
				if ctx.Err() != nil || s.isClosed() {
					return nil
				}
				return err
			}
			continue
		}
		if err := s.handle(ctx, b); err != nil {
			if errors.Is(err, ErrClosed) {
				return nil // Close raced with a reply
			}
			return err
		}
	}
}

func endReasonFor(r proto.CloseReason) proto.EndReason {
	switch r {
	case proto.CloseTimeout:
		return proto.EndIdle
	case proto.CloseShutdown:
		return proto.EndShutdown
	case proto.CloseProtocol:
		return proto.EndProtocolError
	case proto.ClosePolicy:
		return proto.EndPolicy
	}
	return proto.EndNormal
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// handle handles one message from the host.
func (s *Session) handle(ctx context.Context, b []byte) error {
	m, err := proto.Unmarshal(b)
	if err != nil {
		if errors.Is(err, proto.ErrUnknownMsgType) {
			s.log.Debug("unknown message ignored", "err", err)
			return nil
		}
		return wrap(ErrProtocol, err)
	}
	switch m := m.(type) {
	case *proto.Fragment:
		return s.fragment(ctx, m)
	case *proto.CursorPos:
		s.mu.Lock()
		x, y := s.toFramebufferLocked(int(m.X), int(m.Y))
		s.mu.Unlock()
		s.emit(func() {
			if s.ev.CursorPos != nil {
				s.ev.CursorPos(x, y, m.Visible)
			}
		})
	case *proto.CursorCached:
		if c := s.cursors[m.ID]; c != nil {
			s.emitCursor(c)
		}
	case *proto.Ping:
		return s.send(ctx, &proto.Pong{PingTime: m.Time, Time: s.micros()}, false)
	case *proto.Pong:
		rtt := time.Duration(s.micros()-m.PingTime) * time.Microsecond
		s.mu.Lock()
		s.rtt = rtt
		s.mu.Unlock()
	case *proto.Hello:
		if _, err := proto.NegotiateVersion(s.localHello(), m); err != nil {
			s.send(ctx, &proto.End{Reason: proto.EndVersion}, true)
			return wrap(ErrProtocol, err)
		}
		s.log.Info("host hello", "software", m.Software, "version", m.Version, "platform", m.Platform)
		s.mu.Lock()
		s.padded = m.Caps&proto.CapPadded != 0
		s.mu.Unlock()
		s.setLayout(&m.Layout)
	case *proto.Layout:
		s.setLayout(m)
	case *proto.Consent:
		s.mu.Lock()
		s.perms = m.Granted
		st := s.state
		s.mu.Unlock()
		s.emit(func() {
			if s.ev.Consent != nil {
				s.ev.Consent(m.Granted)
			}
		})
		if st == StateConsent || st == StateOpen {
			if m.Granted&proto.PermView != 0 {
				s.setState(StateOpen, nil)
			} else {
				s.setState(StateConsent, nil)
			}
		}
	case *proto.ViewOnly:
		s.mu.Lock()
		s.hostViewOnly = m.On
		s.mu.Unlock()
		s.emit(func() {
			if s.ev.HostViewOnly != nil {
				s.ev.HostViewOnly(m.On)
			}
		})
	case *proto.End:
		return &EndError{Reason: m.Reason, Text: m.Text}
	default:
		s.log.Debug("message not for a viewer ignored", "type", m.Type())
	}
	return nil
}

// setLayout records the host's shared screen size and reports the layout.
func (s *Session) setLayout(l *proto.Layout) {
	var r image.Rectangle
	for _, m := range l.Monitors {
		mr := image.Rect(int(m.X), int(m.Y), int(m.X)+int(m.Width), int(m.Y)+int(m.Height))
		if l.Selected == m.ID {
			r = mr
			break
		}
		if l.Selected == 0 {
			r = r.Union(mr)
		}
	}
	s.mu.Lock()
	s.screenW, s.screenH = r.Dx(), r.Dy()
	s.mu.Unlock()
	lc := *l
	s.emit(func() {
		if s.ev.Layout != nil {
			s.ev.Layout(lc)
		}
	})
}

// toFramebufferLocked maps host screen pixels to framebuffer pixels
// (they differ when the host scales frames down).
func (s *Session) toFramebufferLocked(x, y int) (int, int) {
	if s.screenW <= 0 || s.screenH <= 0 || s.fbW <= 0 || s.fbH <= 0 {
		return x, y
	}
	return x * s.fbW / s.screenW, y * s.fbH / s.screenH
}

// toScreenLocked maps framebuffer pixels to host screen pixels.
func (s *Session) toScreenLocked(x, y int) (int, int) {
	if s.screenW <= 0 || s.screenH <= 0 || s.fbW <= 0 || s.fbH <= 0 {
		return x, y
	}
	return x * s.screenW / s.fbW, y * s.screenH / s.fbH
}

// fragment handles a Fragment of one of the host's streams.
func (s *Session) fragment(ctx context.Context, f *proto.Fragment) error {
	var d *proto.Defragmenter
	switch f.Stream {
	case proto.StreamScreen:
		d = s.screen
	case proto.StreamClipboard:
		d = s.clip
	case proto.StreamCursor:
		d = s.cursorFrag
	default:
		return wrap(ErrProtocol, fmt.Errorf("viewer: fragment of unknown stream %v", f.Stream))
	}
	payload, done, err := d.Add(f)
	if err != nil {
		return wrap(ErrProtocol, err)
	}
	if !done {
		return nil
	}
	switch f.Stream {
	case proto.StreamScreen:
		return s.screenUpdate(ctx, f.Seq, f.Flags&proto.FragKeyframe != 0, payload)
	case proto.StreamClipboard:
		text := string(payload)
		s.emit(func() {
			if s.ev.Clipboard != nil {
				s.ev.Clipboard(text)
			}
		})
	case proto.StreamCursor:
		var c proto.CursorShape
		if err := c.DecodeFromBytes(payload); err != nil {
			return wrap(ErrProtocol, err)
		}
		cur := newCursor(&c)
		s.cursors[c.ID] = cur
		s.emitCursor(cur)
	}
	return nil
}

func (s *Session) emitCursor(c *Cursor) {
	s.emit(func() {
		if s.ev.Cursor != nil {
			s.ev.Cursor(c)
		}
	})
}

// screenUpdate decodes one screen update, reports the changed rects and
// acknowledges it with the time decoding and painting took.
func (s *Session) screenUpdate(ctx context.Context, seq uint32, key bool, update []byte) error {
	if s.haveSeq && seq != s.lastSeq+1 {
		s.needKey = true // updates were lost (resumption): the chain is broken
	}
	s.lastSeq, s.haveSeq = seq, true
	t0 := s.cfg.Now()
	var (
		rects []codec.Rect
		err   error
	)
	if s.needKey && !key {
		err = codec.ErrNeedKeyframe
	} else {
		rects, err = s.dec.Decode(update)
	}
	if err != nil {
		reason := proto.RefreshDecodeError
		switch {
		case s.needKey:
			reason = proto.RefreshResume
		case errors.Is(err, codec.ErrNeedKeyframe):
			reason = proto.RefreshStart
		default:
			s.log.Warn("screen update not decoded", "seq", seq, "err", err)
		}
		if !s.refreshing {
			s.refreshing = true
			if err := s.send(ctx, &proto.Refresh{Reason: reason}, true); err != nil {
				return err
			}
		}
	} else {
		// The decoder accepts only a keyframe after an error, so any
		// success ends a refresh episode.
		s.refreshing = false
		if key {
			s.needKey = false
		}
		fb := s.dec.Framebuffer()
		w, h := fb.Rect.Dx(), fb.Rect.Dy()
		s.mu.Lock()
		s.fbW, s.fbH = w, h
		s.mu.Unlock()
		if len(rects) > 0 {
			s.emit(func() {
				if s.ev.Frame != nil {
					s.ev.Frame(fb, rects)
				}
			})
		}
	}
	micros := max(s.cfg.Now().Sub(t0).Microseconds(), 0)
	if err == nil {
		s.ctr.frames.Add(1)
		s.ctr.decodeMicro.Add(uint64(micros))
	}
	return s.send(ctx, &proto.FrameAck{Seq: seq, DecodeMicros: uint32(min(micros, 1<<32-1))}, true)
}

// send marshals and sends one message.
func (s *Session) send(ctx context.Context, m proto.Msg, reliable bool) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if err := s.ch.Send(ctx, b, reliable); err != nil {
		return s.sendError(err)
	}
	return nil
}

// sendError maps the channel's terminal errors to the session's.
func (s *Session) sendError(err error) error {
	var ce *proto.CloseError
	if errors.As(err, &ce) && !ce.Remote {
		return ErrClosed
	}
	return err
}

// micros is the Ping clock: microseconds since Connect.
func (s *Session) micros() uint64 {
	return uint64(max(s.cfg.Now().Sub(s.epoch).Microseconds(), 0))
}

// emit runs one Events callback, never concurrently with another.
func (s *Session) emit(f func()) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	f()
}

// setState records and reports a state change.
func (s *Session) setState(st State, err error) {
	s.mu.Lock()
	same := s.state == st && err == nil
	s.state = st
	s.mu.Unlock()
	if same {
		return
	}
	s.emit(func() {
		if s.ev.State != nil {
			s.ev.State(st, err)
		}
	})
}

// onNotice handles the relays' notices; it runs inside the transport's
// ReadMsg and must not block.
func (s *Session) onNotice(relayID, notice string) {
	s.mu.Lock()
	current := relayID == s.relayID
	s.mu.Unlock()
	if !current {
		return
	}
	switch notice {
	case NoticeDrain, NoticePeerLeft:
		// Move now instead of waiting for the relay to close or for the
		// channel to notice the silence.
		s.log.Info("leaving relay", "relay", relayID, "notice", notice)
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// tickLoop sends pings, reports the figures and drops the connection
// when a notice asks for it.
func (s *Session) tickLoop(ctx context.Context) {
	var pingC, statsC <-chan time.Time
	if s.cfg.PingInterval > 0 {
		t := time.NewTicker(s.cfg.PingInterval)
		defer t.Stop()
		pingC = t.C
		s.send(ctx, &proto.Ping{Time: s.micros()}, false)
	}
	if s.cfg.StatsInterval > 0 {
		t := time.NewTicker(s.cfg.StatsInterval)
		defer t.Stop()
		statsC = t.C
	}
	prev := s.snapshotRates(s.cfg.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			// A move asked for while one is under way is merged into it:
			// closing the connection being resumed on would only make the
			// resumption fail and start over.
			s.mu.Lock()
			c, moving := s.conn, s.state == StateReconnecting
			s.mu.Unlock()
			if !moving {
				c.Close()
			}
		case <-pingC:
			s.send(ctx, &proto.Ping{Time: s.micros()}, false)
		case <-statsC:
			cur := s.snapshotRates(s.cfg.Now())
			var r Stats
			cur.apply(prev, &r)
			prev = cur
			s.mu.Lock()
			s.rates = r
			s.mu.Unlock()
			st := s.Stats()
			s.emit(func() {
				if s.ev.Stats != nil {
					s.ev.Stats(st)
				}
			})
		}
	}
}

// resume gets fresh tickets, reaches the host through a relay again and
// resumes the channel, until the resumption window has passed.
func (s *Session) resume(ctx context.Context, cause error) error {
	s.log.Info("connection interrupted", "err", cause)
	s.setState(StateReconnecting, cause)
	start := s.cfg.Now()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(s.cfg.backoff(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if s.isClosed() {
			return ErrClosed
		}
		if s.cfg.Now().Sub(start) > s.cfg.Channel.ResumeWindow {
			return wrap(ErrConnectionLost, cause)
		}
		p, err := s.cfg.Broker.Tickets(ctx, s.sid)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var be *BrokerError
			if errors.As(err, &be) && be.Code != codeUnavailable && be.Code != codeRateLimited && be.Code != codeInternal {
				return wrap(ErrConnectionLost, brokerError(s.mode, err)) // the session is gone
			}
			s.log.Info("fresh tickets failed", "attempt", attempt, "err", err)
			continue
		}
		conn, relayID, err := s.cfg.Dial(ctx, p.Relays, s.onNotice)
		if err != nil {
			s.log.Info("relays unreachable", "attempt", attempt, "err", err)
			continue
		}
		cc := countConn{conn, &s.ctr}
		s.mu.Lock()
		s.conn, s.relayID = cc, relayID
		s.mu.Unlock()
		info, err := s.ch.Resume(ctx, cc)
		if err != nil {
			var ce *proto.CloseError
			if errors.Is(err, proto.ErrResumeExpired) || errors.Is(err, proto.ErrResumeLimit) || errors.As(err, &ce) {
				return wrap(ErrConnectionLost, err)
			}
			s.log.Info("resumption failed", "attempt", attempt, "relay", relayID, "err", err)
			continue
		}
		// A screen update cut by the break is lost; the gap check in
		// screenUpdate asks for a keyframe if the chain broke.
		s.screen.Reset()
		s.mu.Lock()
		s.resumes++
		view := s.perms&proto.PermView != 0
		s.mu.Unlock()
		s.log.Info("resumed", "relay", relayID, "counter", info.Counter, "resent", info.Resent, "dropped", info.Dropped)
		if view {
			s.setState(StateOpen, nil)
		} else {
			s.setState(StateConsent, nil)
		}
		return nil
	}
}
