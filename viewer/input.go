package viewer

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/deskway/deskway/proto"
)

// input is one queued event: a message, or clipboard text.
type input struct {
	msg     proto.Msg
	clip    string
	isClip  bool
	control bool // control messages do not count against the bound
}

// inputQueue is the bounded queue between the input methods and the
// sender goroutine. Pointer moves with unchanged buttons replace a move
// still queued, so a stalled connection does not replay the path.
type inputQueue struct {
	mu    sync.Mutex
	q     []input
	n     int // queued events that count against max
	max   int
	wakeC chan struct{}
}

func newInputQueue(max int) *inputQueue {
	return &inputQueue{max: max, wakeC: make(chan struct{}, 1)}
}

func (q *inputQueue) push(it input) error {
	q.mu.Lock()
	if p, ok := it.msg.(*proto.Pointer); ok && len(q.q) > 0 {
		if last, ok := q.q[len(q.q)-1].msg.(*proto.Pointer); ok && last.Buttons == p.Buttons {
			*last = *p
			q.mu.Unlock()
			return nil
		}
	}
	if !it.control {
		if q.n >= q.max {
			q.mu.Unlock()
			return ErrInputQueueFull
		}
		q.n++
	}
	q.q = append(q.q, it)
	q.mu.Unlock()
	select {
	case q.wakeC <- struct{}{}:
	default:
	}
	return nil
}

// take moves the queued events to buf.
func (q *inputQueue) take(buf []input) []input {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf = append(buf[:0], q.q...)
	clear(q.q)
	q.q, q.n = q.q[:0], 0
	return buf
}

// sendLoop sends the queued input in order. With a host that takes
// padded input, input goes in Padded records, and from a key event on
// (Config.KeystrokeTick) it leaves only on a fixed tick, one record per
// tick, chaff when nothing is queued, until a random 1–2 s after the
// last key event.
func (s *Session) sendLoop(ctx context.Context) {
	var (
		items []input
		batch []proto.Msg
		buf   []byte
		frag  = proto.NewFragmenter(proto.StreamClipboard, proto.MaxPayload)
		tick  *time.Ticker
		tickC <-chan time.Time
		until time.Time // chaff until then
	)
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	logErr := func(err error) {
		if err != nil && ctx.Err() == nil {
			s.log.Info("input not sent", "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.in.wakeC:
			if tickC != nil {
				continue // it waits for the tick
			}
		case <-tickC:
		}
		s.mu.Lock()
		padded := s.padded
		s.mu.Unlock()
		items = s.in.take(items)
		typed := false
		for i, it := range items {
			switch {
			case it.isClip:
				// After the input before it, in order.
				buf, batch = s.sendPadded(ctx, buf, batch, false, logErr)
				logErr(s.sendClipboard(ctx, frag, it.clip))
			case padded && proto.PadInput(it.msg):
				_, key := it.msg.(*proto.KeyEvent)
				typed = typed || key
				batch = append(batch, it.msg)
			default:
				// Control messages (consent requests, refresh) go as
				// they are, after the input before them.
				buf, batch = s.sendPadded(ctx, buf, batch, false, logErr)
				var err error
				if buf, err = proto.AppendMsg(buf[:0], it.msg); err == nil {
					err = s.ch.Send(ctx, buf, true)
				}
				logErr(err)
			}
			items[i] = input{}
		}
		buf, batch = s.sendPadded(ctx, buf, batch, tickC != nil, logErr)
		now := time.Now()
		if typed && s.cfg.KeystrokeTick > 0 {
			until = now.Add(time.Second + rand.N(time.Second))
			if tick == nil {
				tick = time.NewTicker(s.cfg.KeystrokeTick)
				tickC = tick.C
			}
		}
		if tick != nil && now.After(until) {
			tick.Stop()
			tick, tickC = nil, nil
		}
	}
}

// sendPadded sends the input messages of batch in as few Padded records
// as hold them, or, if chaff and there are none, one empty record. It
// returns the buffers for reuse.
func (s *Session) sendPadded(ctx context.Context, buf []byte, batch []proto.Msg, chaff bool, logErr func(error)) ([]byte, []proto.Msg) {
	if len(batch) == 0 && !chaff {
		return buf, batch
	}
	all := batch
	var rec proto.Padded
	for len(batch) > 0 || chaff {
		chaff = false
		n, size := 0, 0
		for n < len(batch) {
			b, err := proto.AppendMsg(buf[:0], batch[n])
			if err != nil || size+1+len(b) > proto.MaxInputMsg-2 {
				break
			}
			size += 1 + len(b)
			n++
		}
		if n == 0 && len(batch) > 0 {
			// Not valid input (the input methods never queue such):
			// dropped rather than stuck.
			logErr(errors.New("viewer: input message does not fit a padded record"))
			batch = batch[1:]
			continue
		}
		rec.Input = batch[:n]
		var err error
		if buf, err = proto.AppendMsg(buf[:0], &rec); err == nil {
			err = s.ch.Send(ctx, buf, true)
		}
		logErr(err)
		batch = batch[n:]
	}
	clear(all)
	return buf, all[:0]
}

func (s *Session) sendClipboard(ctx context.Context, f *proto.Fragmenter, text string) error {
	if _, err := f.Start([]byte(text), 0); err != nil {
		return err
	}
	var buf []byte
	for {
		m, ok := f.Next(buf[:0])
		if !ok {
			return nil
		}
		buf = m
		if err := s.ch.Send(ctx, m, true); err != nil {
			f.Reset()
			return err
		}
	}
}

// canInput reports whether input may be sent now.
func (s *Session) canInputLocked(need proto.Perms) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.perms&need != need:
		return ErrInputNotAllowed
	case need&proto.PermControl != 0 && (s.viewOnly || s.hostViewOnly):
		return ErrInputNotAllowed
	}
	return nil
}

// Pointer moves the host's pointer to x, y in framebuffer pixels (the
// session maps them to the host's screen pixels) with buttons pressed.
// It never blocks; queued moves are coalesced.
func (s *Session) Pointer(x, y int, buttons proto.Buttons) error {
	s.mu.Lock()
	if err := s.canInputLocked(proto.PermControl); err != nil {
		s.mu.Unlock()
		return err
	}
	sx, sy := s.toScreenLocked(x, y)
	s.buttons, s.ptrX, s.ptrY = buttons, clamp32(sx), clamp32(sy)
	s.mu.Unlock()
	return s.in.push(input{msg: &proto.Pointer{X: clamp32(sx), Y: clamp32(sy), Buttons: buttons}})
}

// Wheel scrolls by dx, dy in 1/120 of a notch (proto.WheelNotch), signs
// as the W3C WheelEvent (positive dy scrolls down).
func (s *Session) Wheel(dx, dy int) error {
	s.mu.Lock()
	err := s.canInputLocked(proto.PermControl)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.in.push(input{msg: &proto.Wheel{DX: clamp16(dx), DY: clamp16(dy)}})
}

// Key presses or releases a key. Releases of keys this session pressed
// are sent even in view-only mode.
func (s *Session) Key(ev proto.KeyEvent) error {
	s.mu.Lock()
	err := s.canInputLocked(proto.PermControl)
	if _, down := s.pressed[ev.Code]; err != nil && !(down && !ev.Down && !s.closed) {
		s.mu.Unlock()
		return err
	}
	if ev.Code != proto.KeyUnidentified {
		if ev.Down {
			s.pressed[ev.Code] = ev.Mods
		} else {
			delete(s.pressed, ev.Code)
		}
	}
	s.mu.Unlock()
	ev.Text = clip(ev.Text, proto.MaxKeyText)
	return s.in.push(input{msg: &ev})
}

// Text types text not tied to a key (an input method's result, a paste
// typed out), in pieces of at most proto.MaxKeyText bytes.
func (s *Session) Text(text string) error {
	for text != "" {
		n := min(len(text), proto.MaxKeyText)
		for n < len(text) && !utf8.RuneStart(text[n]) {
			n--
		}
		if err := s.Key(proto.KeyEvent{Down: true, Code: proto.KeyUnidentified, Text: text[:n]}); err != nil {
			return err
		}
		text = text[n:]
	}
	return nil
}

// CtrlAltDel sends Ctrl-Alt-Delete, which the viewer's own system would
// otherwise take.
func (s *Session) CtrlAltDel() error {
	seq := []proto.KeyEvent{
		{Down: true, Code: proto.KeyControlLeft, Mods: proto.ModControl},
		{Down: true, Code: proto.KeyAltLeft, Mods: proto.ModControl | proto.ModAlt},
		{Down: true, Code: proto.KeyDelete, Mods: proto.ModControl | proto.ModAlt},
		{Down: false, Code: proto.KeyDelete, Mods: proto.ModControl | proto.ModAlt},
		{Down: false, Code: proto.KeyAltLeft, Mods: proto.ModControl},
		{Down: false, Code: proto.KeyControlLeft},
	}
	for _, ev := range seq {
		if err := s.Key(ev); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseAll releases every key and button this session holds down: call
// it when the viewer loses the keyboard focus, so no key stays stuck on
// the host.
func (s *Session) ReleaseAll() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	keys := make([]proto.KeyCode, 0, len(s.pressed))
	for k := range s.pressed {
		keys = append(keys, k)
	}
	clear(s.pressed)
	buttons, x, y := s.buttons, s.ptrX, s.ptrY
	s.buttons = 0
	s.mu.Unlock()
	var errs []error
	for _, k := range keys {
		errs = append(errs, s.in.push(input{msg: &proto.KeyEvent{Code: k}, control: true}))
	}
	if buttons != 0 {
		// A release where the pointer is: a Pointer with no buttons.
		errs = append(errs, s.in.push(input{msg: &proto.Pointer{X: x, Y: y}, control: true}))
	}
	return errors.Join(errs...)
}

// SendClipboard sends text to the host's clipboard (at most
// proto.MaxClipboard bytes of UTF-8).
func (s *Session) SendClipboard(text string) error {
	if len(text) > proto.MaxClipboard || !utf8.ValidString(text) {
		return errors.New("viewer: clipboard text must be UTF-8 of at most 1 MiB")
	}
	s.mu.Lock()
	err := s.canInputLocked(proto.PermClipboard)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.in.push(input{clip: text, isClip: true})
}

// SetViewOnly switches view-only mode: while on, the session sends no
// input (keys held down are released first) and tells the host so.
func (s *Session) SetViewOnly(on bool) error {
	if on {
		s.ReleaseAll()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.viewOnly = on
	s.mu.Unlock()
	return s.in.push(input{msg: &proto.ViewOnly{On: on}, control: true})
}

// ViewOnly reports whether the session is in view-only mode, by this
// viewer's choice or the host's.
func (s *Session) ViewOnly() (local, host bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewOnly, s.hostViewOnly
}

// SetQuality sends a hint for the stream (codec mode, quality, frame
// rate, host-side scaling).
func (s *Session) SetQuality(q proto.Quality) error {
	return s.control(&q)
}

// ChooseMonitor asks the host to share one monitor (an id of its
// Layout), or all of them with id 0.
func (s *Session) ChooseMonitor(id uint32) error {
	return s.control(&proto.MonitorChoice{ID: id})
}

// RequestControl asks the person at the host again for the control and
// clipboard this session wanted (after they granted view only, or took
// control back); their answer comes as a Consent event.
func (s *Session) RequestControl() error {
	want := s.cfg.Want & (proto.PermControl | proto.PermClipboard)
	if want == 0 {
		return errors.New("viewer: this session asks only to view")
	}
	return s.control(&proto.ConsentRequest{Want: want})
}

// RequestRefresh asks the host for a keyframe.
func (s *Session) RequestRefresh() error {
	return s.control(&proto.Refresh{Reason: proto.RefreshRequested})
}

func (s *Session) control(m proto.Msg) error {
	if _, err := proto.Marshal(m); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	return s.in.push(input{msg: m, control: true})
}

func clamp32(v int) int32 { return int32(max(min(v, math.MaxInt32), math.MinInt32)) }
func clamp16(v int) int16 { return int16(max(min(v, math.MaxInt16), math.MinInt16)) }
