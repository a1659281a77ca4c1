package platform

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/deskway/deskway/proto"
)

// The prompters (X11Prompter, TermPrompter, AutoPrompter, WinPrompter)
// share two methods:
//
//	Consent(ctx, viewer, want, sas) (granted, error)
//	    asks whether viewer may have want and returns what was granted (a
//	    subset; 0 is a refusal), or ctx.Err() when ctx ends first; sas is
//	    the short authentication string to compare, or "".
//	ShowIndicator(text) (Indicator, error)
//	    shows text until the Indicator is closed.

// AutoPrompter grants without asking (the agent's --yes, for automation
// and tests) and shows the indicator as lines on Out (may be nil).
type AutoPrompter struct {
	Grant proto.Perms // what every request may have
	Out   io.Writer
}

// Consent grants want & p.Grant.
func (p AutoPrompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	if p.Out != nil {
		fmt.Fprintf(p.Out, "Granted %s to %s automatically (--yes).\n", permString(want&p.Grant), viewer)
	}
	return want & p.Grant, nil
}

// ShowIndicator prints text.
func (p AutoPrompter) ShowIndicator(text string) (Indicator, error) {
	ind := &lineIndicator{out: p.Out, ended: make(chan struct{})}
	ind.SetText(text)
	return ind, nil
}

// controlOffer is the part of an indicator that offers to take back
// control: whether control is granted now, and the signal that the
// person took it back.
type controlOffer struct {
	mu        sync.Mutex
	control   bool
	withdrawn chan struct{}
}

func newControlOffer() controlOffer { return controlOffer{withdrawn: make(chan struct{}, 1)} }

// setControl records whether control is granted and reports whether it
// was before.
func (o *controlOffer) setControl(on bool) (was bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	was, o.control = o.control, on
	return was
}

func (o *controlOffer) granted() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.control
}

// Withdrawn delivers a value each time the person takes back control.
func (o *controlOffer) Withdrawn() <-chan struct{} { return o.withdrawn }

// withdraw signals that the person took back control, if it is granted.
func (o *controlOffer) withdraw() {
	if !o.granted() {
		return
	}
	select {
	case o.withdrawn <- struct{}{}:
	default:
	}
}

// lineIndicator prints its text; the terminal prompter ends it, or takes
// back control, from input (interactive).
type lineIndicator struct {
	controlOffer
	out         io.Writer
	interactive bool
	ended       chan struct{}
	endOnce     sync.Once
	closed      chan struct{}
}

func (l *lineIndicator) SetText(text string) {
	if l.out == nil {
		return
	}
	if l.interactive {
		text += " — type end and press Enter to end the session"
	}
	fmt.Fprintf(l.out, "● %s\n", text)
}

// SetControl records whether control can be taken back, and says how
// when it becomes possible.
func (l *lineIndicator) SetControl(on bool) {
	if was := l.setControl(on); on && !was && l.interactive && l.out != nil {
		fmt.Fprintln(l.out, "  (type view and press Enter to take back control and keep the session view only)")
	}
}

func (l *lineIndicator) Ended() <-chan struct{} { return l.ended }
func (l *lineIndicator) end()                   { l.endOnce.Do(func() { close(l.ended) }) }
func (l *lineIndicator) Close() error {
	if l.closed != nil {
		select {
		case <-l.closed:
		default:
			close(l.closed)
		}
	}
	return nil
}

// TermPrompter asks on a terminal: one question for viewing and one for
// control, answered y or n; while a session is live, a line reading
// "end" (or an empty line) ends it, and "view" takes back control.
//
// A TermPrompter reads In from one goroutine it starts on first use, for
// the life of the process (a terminal read cannot be interrupted). It is
// safe for concurrent use.
type TermPrompter struct {
	In  io.Reader
	Out io.Writer

	once  sync.Once
	lines chan string
}

func (p *TermPrompter) start() {
	p.once.Do(func() {
		p.lines = make(chan string)
		go func() {
			s := bufio.NewScanner(p.In)
			for s.Scan() {
				p.lines <- strings.TrimSpace(s.Text())
			}
			close(p.lines)
		}()
	})
}

// ask prints q and returns whether the answer was yes.
func (p *TermPrompter) ask(ctx context.Context, q string) (bool, error) {
	fmt.Fprintf(p.Out, "%s [y/N] ", q)
	select {
	case l, ok := <-p.lines:
		if !ok {
			return false, fmt.Errorf("platform: consent: %w", io.ErrUnexpectedEOF)
		}
		l = strings.ToLower(l)
		return l == "y" || l == "yes", nil
	case <-ctx.Done():
		fmt.Fprintln(p.Out)
		return false, ctx.Err()
	}
}

// Consent asks for viewing, then for control and clipboard together.
func (p *TermPrompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	p.start()
	fmt.Fprintf(p.Out, "\n%s asks to see your screen.\n", viewer)
	if sas != "" {
		fmt.Fprintf(p.Out, "Check that they read you this number: %s\n", sas)
	}
	var got proto.Perms
	if want&proto.PermView != 0 {
		ok, err := p.ask(ctx, "Allow them to see your screen?")
		if err != nil || !ok {
			return 0, err
		}
		got |= proto.PermView
	}
	if want&(proto.PermControl|proto.PermClipboard) != 0 {
		ok, err := p.ask(ctx, "Also allow them to use your mouse, keyboard and clipboard?")
		if err != nil {
			return 0, err
		}
		if ok {
			got |= want & (proto.PermControl | proto.PermClipboard)
		}
	}
	return got, nil
}

// ShowIndicator prints text and ends the session on a line "end"; a line
// "view" takes back control.
func (p *TermPrompter) ShowIndicator(text string) (Indicator, error) {
	p.start()
	ind := &lineIndicator{controlOffer: newControlOffer(), out: p.Out, interactive: true, ended: make(chan struct{}), closed: make(chan struct{})}
	ind.SetText(text)
	go func() {
		for {
			select {
			case l, ok := <-p.lines:
				if !ok || l == "" || strings.EqualFold(l, "end") || strings.EqualFold(l, "q") {
					ind.end()
					return
				}
				if strings.EqualFold(l, "view") {
					ind.withdraw()
				}
			case <-ind.closed:
				return
			}
		}
	}()
	return ind, nil
}
