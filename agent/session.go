package agent

// The session loop: one viewer, one secure channel, the host's desktop.
//
// Outbound flow (host → viewer), each stage on its own goroutine:
//
//	sendScreen   every 1/MaxFPS, while viewing is granted and fewer than
//	             Window screen updates are unacknowledged:
//	             Screen.Capture(area) ──(nothing damaged? wait)──▶
//	             codec.Encoder.Encode ──(empty update? wait)──▶
//	             proto.Fragmenter(StreamScreen) ──▶ Channel.Send(unreliable)
//	             When Window updates are in flight it captures nothing: the
//	             changes pile up (in the X server's damage region and in the
//	             codec's diff against what the viewer has) and leave as one
//	             fresher update when the next FrameAck opens the window. A
//	             slow link therefore gets fewer, fresher frames and never a
//	             growing queue.
//	sendCursor   every CursorInterval: Cursor.State ──▶ CursorPos when the
//	             pointer moved; on a new shape serial Cursor.Shape ──▶
//	             CursorShape on StreamCursor (reliable), or CursorCached when
//	             the viewer's cache already holds it.
//	sendClipboard Clipboard.Changes ──▶ Clipboard.Text ──▶ StreamClipboard
//	             (reliable), while clipboard sharing is granted.
//
// Inbound flow (viewer → host), the goroutine that runs Run:
//
//	Channel.Recv ──▶ proto.Unmarshal ──▶
//	  Hello          version check; starts the outbound goroutines
//	  FrameAck       opens the window (wakes sendScreen)
//	  Refresh        next update is a keyframe
//	  Pointer, Wheel, KeyEvent   Input, only while control is granted
//	  Fragment(StreamClipboard)  Clipboard.SetText, only while granted
//	  ConsentRequest Prompter.Consent on its own goroutine
//	  Quality, MonitorChoice     encoder options, shared area
//	  Ping           Pong
//	  End            the viewer left
//
// Consent: a support session asks the person at the host before anything
// is shown (viewing, and separately control with the clipboard); an
// unattended session (the owner reaching their own computer) has
// everything granted. Either way the indicator shows while the session is
// live, and its End ends the session at once: the End message goes out,
// input stops, the channel closes.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/proto"
)

// SessionConfig configures a Session. Zero fields take the defaults given.
type SessionConfig struct {
	Desktop Desktop
	// Mode is the session's mode; ModeSupport asks for consent.
	Mode proto.Mode
	// Viewer names the person at the other end ("Jane Doe"), as the
	// broker's offer or the viewer's Hello gives it.
	Viewer string
	// MaxFPS caps frames per second (default 15, at most 60); the viewer
	// may lower it with a Quality message.
	MaxFPS int
	// Window is how many screen updates may be unacknowledged (default 2).
	Window int
	// Codec are the encoder options; the viewer's Quality messages change
	// mode, quality and scale.
	Codec codec.EncoderOptions
	// CursorInterval is how often the cursor is polled (default 20 ms).
	CursorInterval time.Duration
	// Software and Version name the agent in its Hello.
	Software, Version string
	// Reconnect, if set, gets a new connection for the session after its
	// relay failed (fresh tickets, another relay); the channel resumes on
	// it without a new PAKE and the next screen update is a keyframe.
	// Without it a broken connection ends the session.
	Reconnect func(ctx context.Context) (proto.MsgConn, error)
	Logger    *slog.Logger
}

// Session runs one viewer's session over an established channel. Create
// it with NewSession and call Run once.
//
// Ownership: the receive loop (Run's goroutine) owns the input state; the
// outbound goroutines own their fragmenters and the encoder; mu guards the
// state they share (permissions, area, window, settings).
type Session struct {
	cfg SessionConfig
	ch  *proto.Channel
	log *slog.Logger

	wake     chan struct{} // capacity 1: something sendScreen waits for changed
	hello    chan struct{} // closed when the viewer's Hello arrived
	userEnd  chan struct{} // closed when the host's user ended the session
	endOnce  sync.Once
	consentQ chan proto.Perms // consent requests for the prompting goroutine

	mu       sync.Mutex
	perms    proto.Perms
	answered bool       // the first consent question (for everything) was answered
	caps     proto.Caps // both ends' capabilities
	displays []proto.Monitor
	selected uint32 // shared monitor id, 0 = all
	area     image.Rectangle
	sent     uint32 // screen updates sent (sequence of the next one)
	acked    uint32 // screen updates acknowledged
	forceKey bool
	newEnc   bool // encoder options changed
	encOpts  codec.EncoderOptions
	maxFPS   int
	lastClip string // the last clipboard text that crossed, either way
	stats    SessionStats
	ind      Indicator

	// Input state, guarded by inputMu (taken before mu).
	inputMu sync.Mutex
	buttons proto.Buttons
	pressed map[proto.KeyCode]bool
	ptr     image.Point
}

// SessionStats counts what a session sent, for tests and benchmarks.
type SessionStats struct {
	Frames, Keyframes int   // screen updates sent
	ScreenBytes       int64 // their size
	Captures          int   // captures made
	Skipped           int   // ticks skipped because the window was full
}

// Host capabilities this agent announces.
const hostCaps = proto.CapClipboard | proto.CapCursor | proto.CapMultiMonitor | proto.CapLossless |
	proto.CapBalanced | proto.CapLowBandwidth | proto.CapKeyText | proto.CapHostScaling | proto.CapPadded

// NewSession prepares a session on ch.
func NewSession(ch *proto.Channel, cfg SessionConfig) *Session {
	if cfg.MaxFPS <= 0 {
		cfg.MaxFPS = 15
	}
	cfg.MaxFPS = min(cfg.MaxFPS, 60)
	if cfg.Window <= 0 {
		cfg.Window = 2
	}
	if cfg.CursorInterval <= 0 {
		cfg.CursorInterval = 20 * time.Millisecond
	}
	if cfg.Software == "" {
		cfg.Software = "deskway-agent"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{
		cfg: cfg, ch: ch, log: log,
		wake: make(chan struct{}, 1), hello: make(chan struct{}), userEnd: make(chan struct{}),
		consentQ: make(chan proto.Perms, 4),
		encOpts:  cfg.Codec, maxFPS: cfg.MaxFPS, pressed: map[proto.KeyCode]bool{},
	}
}

// ErrEndedByHost is returned by Run when the person at the host ended
// the session.
var ErrEndedByHost = errors.New("agent: session ended by the person at the host")

// EndError is returned by Run when the viewer ended the session.
type EndError struct {
	Reason proto.EndReason
	Text   string
}

func (e *EndError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("agent: session ended by the viewer: %v: %s", e.Reason, e.Text)
	}
	return fmt.Sprintf("agent: session ended by the viewer: %v", e.Reason)
}

// Stats returns the session's counters so far.
func (s *Session) Stats() SessionStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// End ends the session from the host's side, as the indicator's End
// button does. Run returns ErrEndedByHost.
func (s *Session) End() { s.endOnce.Do(func() { close(s.userEnd) }) }

// Resumed tells the session that its channel resumed over a new
// connection: screen updates in flight may be lost, so the window is
// reopened and the next update is a keyframe.
func (s *Session) Resumed() {
	s.mu.Lock()
	s.acked = s.sent
	s.forceKey = true
	s.mu.Unlock()
	s.poke()
}

func (s *Session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run runs the session until the viewer leaves, the person at the host
// ends it, the channel fails or ctx ends; then it closes the channel and
// releases any key or button still held. It returns nil when the viewer
// ended the session normally.
func (s *Session) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		s.releaseInput()
		s.mu.Lock()
		ind := s.ind
		s.mu.Unlock()
		if ind != nil {
			ind.Close()
		}
	}()
	if err := s.start(ctx); err != nil {
		s.ch.Close(ctx, proto.CloseNormal)
		return err
	}

	// Everything that may end the session reports here.
	done := make(chan error, 8)
	goRun := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				done <- err
			}
		}()
	}
	goRun(s.recvLoop)
	goRun(func(ctx context.Context) error {
		select {
		case <-s.hello:
		case <-ctx.Done():
			return nil
		}
		return s.grant(ctx)
	})
	goRun(s.consentLoop)
	goRun(s.sendScreen)
	if s.cfg.Desktop.Cursor != nil {
		goRun(s.sendCursor)
	}
	if s.cfg.Desktop.Clipboard != nil {
		goRun(s.sendClipboard)
	}

	select {
	case err = <-done:
	case <-s.userEnd:
		err = ErrEndedByHost
	case <-ctx.Done():
		err = ctx.Err()
	}
	reason, close := proto.EndNormal, proto.CloseNormal
	text := ""
	var ee *EndError
	switch {
	case errors.As(err, &ee):
		s.ch.Close(context.Background(), proto.CloseNormal)
		if ee.Reason == proto.EndNormal {
			err = nil
		}
		s.log.Info("session ended by the viewer", "reason", ee.Reason.String())
		return err
	case errors.Is(err, ErrEndedByHost):
		text, close = "ended by the person at the host", proto.CloseUser
	case errors.Is(err, errConsentDenied):
		reason, text, close = proto.EndConsentDenied, "the person at the host refused", proto.ClosePolicy
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		reason, close = proto.EndShutdown, proto.CloseShutdown
	default:
		reason, close = proto.EndInternalError, proto.CloseProtocol
		if errors.Is(err, errProtocol) {
			reason = proto.EndProtocolError
		}
	}
	// Stop input at once, then tell the viewer why.
	s.mu.Lock()
	s.perms = 0
	s.mu.Unlock()
	s.releaseInput()
	wctx, wcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer wcancel()
	s.sendMsg(wctx, &proto.End{Reason: reason, Text: text}, true)
	s.ch.Close(wctx, close)
	s.log.Info("session ended", "reason", reason.String(), "err", err)
	return err
}

var (
	errConsentDenied = errors.New("agent: consent denied")
	errProtocol      = errors.New("agent: viewer broke the protocol")
)

// start sends the Hello with the layout and decides the shared area.
func (s *Session) start(ctx context.Context) error {
	ds, err := s.cfg.Desktop.Screen.Displays()
	if err != nil {
		return fmt.Errorf("agent: session: %w", err)
	}
	s.mu.Lock()
	s.displays = ds
	s.selected = 0
	if len(ds) == 0 {
		s.mu.Unlock()
		return errors.New("agent: session: no display to share")
	}
	for _, d := range ds {
		if d.Primary && len(ds) > 1 {
			s.selected = d.ID
		}
	}
	s.area = s.areaLocked(s.selected)
	layout := s.layoutLocked()
	s.mu.Unlock()
	h := &proto.Hello{
		MinVersion: proto.MinMsgVersion, MaxVersion: proto.MsgVersion, Caps: hostCaps,
		Software: s.cfg.Software, Version: s.cfg.Version, Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Layout: layout,
	}
	return s.sendMsg(ctx, h, true)
}

func (s *Session) areaLocked(id uint32) image.Rectangle {
	var all image.Rectangle
	for _, d := range s.displays {
		if d.ID == id {
			return monitorBounds(d)
		}
		all = all.Union(monitorBounds(d))
	}
	return all
}

func (s *Session) layoutLocked() proto.Layout {
	l := proto.Layout{Selected: s.selected}
	for i, d := range s.displays {
		if i == proto.MaxMonitors {
			break
		}
		d.Name = truncate(d.Name, proto.MaxHelloField)
		l.Monitors = append(l.Monitors, d)
	}
	return l
}

func truncate(s string, n int) string {
	for len(s) > n {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}

// sendMsg marshals and sends one message.
func (s *Session) sendMsg(ctx context.Context, m proto.Msg, reliable bool) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("agent: session: %w", err)
	}
	return s.ch.Send(ctx, b, reliable)
}

// grant runs once the viewer said hello: it asks for consent in a support
// session (everything is granted in an unattended one) and shows the
// indicator.
func (s *Session) grant(ctx context.Context) error {
	var got proto.Perms
	if s.cfg.Mode == proto.ModeSupport {
		var err error
		got, err = s.cfg.Desktop.Prompter.Consent(ctx, s.viewer(), allPerms, s.ch.SAS())
		if err != nil {
			return fmt.Errorf("agent: consent: %w", err)
		}
		s.mu.Lock()
		s.answered = true
		s.mu.Unlock()
		if got&proto.PermView == 0 {
			return errConsentDenied
		}
	} else {
		got = allPerms
		s.mu.Lock()
		s.answered = true
		s.mu.Unlock()
	}
	if err := s.setPerms(ctx, got); err != nil {
		return err
	}
	ind, err := s.cfg.Desktop.Prompter.ShowIndicator(s.indicatorText(got))
	if err != nil {
		s.log.Warn("indicator", "err", err)
		return nil
	}
	s.mu.Lock()
	s.ind = ind
	control := s.perms&proto.PermControl != 0
	s.mu.Unlock()
	var withdrawn <-chan struct{}
	if ci, ok := ind.(ControlIndicator); ok {
		ci.SetControl(control)
		withdrawn = ci.Withdrawn()
	}
	for {
		select {
		case <-ind.Ended():
			s.End()
			return nil
		case <-withdrawn:
			if err := s.withdraw(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// withdraw takes back control and the clipboard, as the person at the
// host asked through the indicator; the session goes on, view only, and
// the viewer may ask again.
func (s *Session) withdraw(ctx context.Context) error {
	s.mu.Lock()
	p := s.perms
	s.mu.Unlock()
	if p&(proto.PermControl|proto.PermClipboard) == 0 {
		return nil
	}
	s.log.Info("control taken back at the host")
	return s.setPerms(ctx, p&^(proto.PermControl|proto.PermClipboard))
}

func (s *Session) viewer() string {
	if s.cfg.Viewer != "" {
		return s.cfg.Viewer
	}
	return "A technician"
}

func (s *Session) indicatorText(p proto.Perms) string {
	if p&proto.PermControl != 0 {
		return "Deskway: " + s.viewer() + " can see and control this screen"
	}
	return "Deskway: " + s.viewer() + " can see this screen"
}

// setPerms records and announces the granted permissions.
func (s *Session) setPerms(ctx context.Context, p proto.Perms) error {
	s.mu.Lock()
	if s.caps&proto.CapClipboard == 0 {
		p &^= proto.PermClipboard
	}
	s.perms = p
	s.forceKey = true
	ind := s.ind
	s.mu.Unlock()
	if ind != nil {
		ind.SetText(s.indicatorText(p))
		if ci, ok := ind.(ControlIndicator); ok {
			ci.SetControl(p&proto.PermControl != 0)
		}
	}
	if p&proto.PermControl == 0 {
		s.releaseInput()
	}
	s.poke()
	s.log.Info("permissions", "granted", uint8(p))
	return s.sendMsg(ctx, &proto.Consent{Granted: p}, true)
}

func (s *Session) has(p proto.Perms) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perms&p == p
}

// consentLoop asks for permissions the viewer requests later on.
func (s *Session) consentLoop(ctx context.Context) error {
	for {
		var want proto.Perms
		select {
		case want = <-s.consentQ:
		case <-ctx.Done():
			return nil
		}
		s.mu.Lock()
		have := s.perms
		s.mu.Unlock()
		want &^= have
		if want == 0 {
			continue
		}
		got := want
		if s.cfg.Mode == proto.ModeSupport {
			var err error
			got, err = s.cfg.Desktop.Prompter.Consent(ctx, s.viewer(), want, s.ch.SAS())
			if err != nil {
				return nil
			}
		}
		if err := s.setPerms(ctx, have|got); err != nil {
			return err
		}
	}
}

// recvLoop reads and handles the viewer's messages.
func (s *Session) recvLoop(ctx context.Context) error {
	clip := proto.NewDefragmenter(proto.StreamClipboard)
	for {
		b, err := s.ch.Recv(ctx)
		if err != nil && errors.Is(err, proto.ErrInterrupted) && s.cfg.Reconnect != nil && ctx.Err() == nil {
			if err = s.resume(ctx); err == nil {
				continue
			}
		}
		if err != nil {
			var ce *proto.CloseError
			if errors.As(err, &ce) {
				return &EndError{Reason: proto.EndNormal, Text: ce.Error()}
			}
			if errors.Is(err, io.EOF) {
				return &EndError{Reason: proto.EndNormal}
			}
			return fmt.Errorf("agent: session: receive: %w", err)
		}
		m, err := proto.Unmarshal(b)
		if err != nil {
			if errors.Is(err, proto.ErrUnknownMsgType) {
				continue // a newer viewer's message
			}
			return fmt.Errorf("%w: %v", errProtocol, err)
		}
		if err := s.handle(ctx, m, clip); err != nil {
			return err
		}
	}
}

// resume gets new connections from Reconnect and resumes the channel on
// one, retrying with backoff within the channel's resumption window.
func (s *Session) resume(ctx context.Context) error {
	s.log.Info("connection lost; resuming over a new one")
	deadline := time.Now().Add(2 * time.Minute)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(time.Duration(attempt)*250*time.Millisecond, 5*time.Second)):
			}
		}
		conn, err := s.cfg.Reconnect(ctx)
		if err != nil {
			s.log.Warn("reconnect", "err", err)
			continue
		}
		info, err := s.ch.Resume(ctx, conn)
		if err != nil {
			s.log.Warn("resume", "err", err)
			if errors.Is(err, proto.ErrResumeExpired) || errors.Is(err, proto.ErrResumeLimit) {
				return err
			}
			var ce *proto.CloseError
			if errors.As(err, &ce) {
				return err
			}
			continue
		}
		s.log.Info("resumed", "resent", info.Resent, "dropped", info.Dropped)
		s.Resumed()
		return nil
	}
	return fmt.Errorf("agent: session: could not resume within 2 minutes")
}

func (s *Session) handle(ctx context.Context, m proto.Msg, clip *proto.Defragmenter) error {
	switch m := m.(type) {
	case *proto.Hello:
		local := &proto.Hello{MinVersion: proto.MinMsgVersion, MaxVersion: proto.MsgVersion}
		if _, err := proto.NegotiateVersion(local, m); err != nil {
			return fmt.Errorf("%w: %v", errProtocol, err)
		}
		select {
		case <-s.hello:
			return fmt.Errorf("%w: second hello", errProtocol)
		default:
		}
		s.mu.Lock()
		s.caps = m.Caps & hostCaps
		if s.cfg.Viewer == "" && m.User != "" {
			s.cfg.Viewer = m.User
		}
		s.mu.Unlock()
		close(s.hello)
	case *proto.FrameAck:
		s.mu.Lock()
		n := m.Seq + 1
		// Ignore acks of updates not sent (serial arithmetic).
		if n-s.acked <= s.sent-s.acked {
			s.acked = n
		}
		s.mu.Unlock()
		s.poke()
	case *proto.Refresh:
		s.mu.Lock()
		s.forceKey = true
		s.mu.Unlock()
		s.poke()
	case *proto.Pointer:
		return s.pointer(m)
	case *proto.Wheel:
		s.wheel(m)
	case *proto.KeyEvent:
		s.key(m)
	case *proto.Padded:
		// Input in a padded record, or chaff (none): each as if it had
		// come alone (proto allows only pointer, wheel and key events).
		for _, in := range m.Input {
			if err := s.handle(ctx, in, clip); err != nil {
				return err
			}
		}
	case *proto.Fragment:
		if m.Stream != proto.StreamClipboard {
			return fmt.Errorf("%w: fragment of the %v stream from the viewer", errProtocol, m.Stream)
		}
		payload, done, err := clip.Add(m)
		if err != nil {
			return fmt.Errorf("%w: %v", errProtocol, err)
		}
		if done && s.has(proto.PermClipboard) && s.cfg.Desktop.Clipboard != nil {
			text := string(payload)
			s.mu.Lock()
			s.lastClip = text
			s.mu.Unlock()
			if err := s.cfg.Desktop.Clipboard.SetText(text); err != nil {
				s.log.Warn("clipboard", "err", err)
			}
		}
	case *proto.ConsentRequest:
		// Until the first question (for everything) is answered, a request
		// is part of it: the viewer sends one with its Hello, and a second
		// window for it would ask the person twice at once.
		s.mu.Lock()
		answered := s.answered
		s.mu.Unlock()
		if !answered {
			break
		}
		select {
		case s.consentQ <- m.Want:
		default: // a viewer flooding requests gets no more prompts
		}
	case *proto.Quality:
		s.quality(m)
	case *proto.MonitorChoice:
		s.mu.Lock()
		ok := m.ID == 0
		for _, d := range s.displays {
			ok = ok || d.ID == m.ID
		}
		if ok {
			s.selected = m.ID
			s.area = s.areaLocked(m.ID)
			s.forceKey = true
		}
		layout := s.layoutLocked()
		s.mu.Unlock()
		s.poke()
		return s.sendMsg(ctx, &layout, true)
	case *proto.End:
		return &EndError{Reason: m.Reason, Text: m.Text}
	case *proto.Ping:
		return s.sendMsg(ctx, &proto.Pong{PingTime: m.Time, Time: uint64(time.Now().UnixMicro())}, false)
	case *proto.ViewOnly, *proto.Pong:
		// The viewer's own business.
	default:
		return fmt.Errorf("%w: unexpected %v", errProtocol, m.Type())
	}
	return nil
}

// quality applies the viewer's Quality hint.
func (s *Session) quality(m *proto.Quality) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.encOpts
	switch m.Mode {
	case proto.QualityLossless:
		o.Mode = codec.Lossless
	case proto.QualityBalanced:
		o.Mode = codec.Balanced
	case proto.QualityLowBandwidth:
		o.Mode = codec.LowBandwidth
	}
	if m.Mode != proto.QualityLossless {
		o.Quality = int(m.Quality)
	}
	o.Scale = 1
	if p := int(m.ScalePercent); p > 0 && p < 100 && s.caps&proto.CapHostScaling != 0 {
		o.Scale = min(8, (100+p/2)/p)
	}
	if o != s.encOpts {
		s.encOpts, s.newEnc = o, true
	}
	if m.MaxFPS > 0 {
		s.maxFPS = min(int(m.MaxFPS), s.cfg.MaxFPS)
	} else {
		s.maxFPS = s.cfg.MaxFPS
	}
}

// stillAfter is how long the screen must stand still before the encoder
// keeps it as a reference screen (codec.Encoder.Still): a page being
// read, not a pause in an animation.
const stillAfter = 300 * time.Millisecond

// sendScreen is the screen pipeline (see the top of this file).
func (s *Session) sendScreen(ctx context.Context) error {
	frag := proto.NewFragmenter(proto.StreamScreen, 0)
	var (
		enc    *codec.Encoder
		frame  codec.Frame
		update []byte
		msg    []byte
		last   time.Time
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
		s.mu.Lock()
		interval := time.Second / time.Duration(s.maxFPS)
		if s.perms&proto.PermView == 0 {
			s.mu.Unlock()
			continue // wait for a grant (setPerms pokes)
		}
		if s.sent-s.acked >= uint32(s.cfg.Window) {
			s.stats.Skipped++
			s.mu.Unlock()
			continue // wait for an ack (it pokes)
		}
		if wait := time.Until(last.Add(interval)); wait > 0 {
			s.mu.Unlock()
			resetTimer(timer, wait)
			continue
		}
		area, key := s.area, s.forceKey
		if enc == nil || s.newEnc {
			enc, s.newEnc, key = codec.NewEncoder(s.encOpts), false, true
		}
		s.forceKey = false
		s.stats.Captures++
		s.mu.Unlock()

		now := time.Now()
		changed, err := s.cfg.Desktop.Screen.Capture(area, &frame)
		if err != nil {
			return fmt.Errorf("agent: capture: %w", err)
		}
		resetTimer(timer, interval) // the next look, if nothing else wakes us
		if len(changed) == 0 && !key {
			if now.Sub(last) >= stillAfter {
				// The screen a user stopped at: the encoder keeps it
				// as a reference for content that comes back.
				enc.Still()
			}
			continue
		}
		if key {
			enc.ForceKeyframe()
		}
		before := enc.Stats()
		update, err = enc.Encode(update[:0], frame)
		if err != nil {
			return fmt.Errorf("agent: encode: %w", err)
		}
		after := enc.Stats()
		if after.EmptyUpdates > before.EmptyUpdates {
			continue
		}
		var flags proto.FragFlags
		if after.Keyframes > before.Keyframes {
			flags = proto.FragKeyframe
		}
		if _, err := frag.Start(update, flags); err != nil {
			return fmt.Errorf("agent: screen: %w", err)
		}
		// Count the update as sent before its fragments go out: the
		// viewer may ack it before Send returns.
		s.mu.Lock()
		s.sent++
		s.stats.Frames++
		s.stats.ScreenBytes += int64(len(update))
		if flags != 0 {
			s.stats.Keyframes++
		}
		s.mu.Unlock()
		if msg, err = s.sendFragments(ctx, frag, msg, false); err != nil {
			return fmt.Errorf("agent: send screen: %w", err)
		}
		last = now
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}
