package platform

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Indicator is the visible sign that a session is live. Ended is closed
// when the person at the host asks to end the session; Close removes the
// indicator (it does not close Ended).
type Indicator interface {
	// SetText replaces the indicator's text ("Jane is controlling this
	// screen").
	SetText(text string)
	// Ended is closed when the person at the host ends the session.
	Ended() <-chan struct{}
	Close() error
}

// Prompter asks the person at the host for consent and shows the
// indicator. Implementations: X11Prompter (small X windows),
// TermPrompter, AutoPrompter, and the Windows dialogs.
type Prompter interface {
	// Consent asks whether the viewer may have what req.Want lists and
	// returns what was granted (a subset; 0 is a refusal). It returns
	// ctx.Err() when ctx ends first.
	Consent(ctx context.Context, req ConsentRequest) (Perms, error)
	// ShowIndicator shows text until Close.
	ShowIndicator(text string) (Indicator, error)
}

// AutoPrompter grants without asking (the agent's --yes, for automation
// and tests) and shows the indicator as lines on Out (may be nil).
type AutoPrompter struct {
	Grant Perms // what every request may have
	Out   io.Writer
}

// Consent grants req.Want & p.Grant.
func (p AutoPrompter) Consent(ctx context.Context, req ConsentRequest) (Perms, error) {
	if p.Out != nil {
		fmt.Fprintf(p.Out, "Granted %v to %s automatically (--yes).\n", req.Want&p.Grant, req.Viewer)
	}
	return req.Want & p.Grant, nil
}

// ShowIndicator prints text.
func (p AutoPrompter) ShowIndicator(text string) (Indicator, error) {
	ind := &lineIndicator{out: p.Out, ended: make(chan struct{})}
	ind.SetText(text)
	return ind, nil
}

// lineIndicator prints its text; the terminal prompter ends it from input.
type lineIndicator struct {
	out     io.Writer
	ended   chan struct{}
	endOnce sync.Once
	closed  chan struct{}
}

func (l *lineIndicator) SetText(text string) {
	if l.out != nil {
		fmt.Fprintf(l.out, "● %s\n", text)
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
// "end" (or an empty line) ends it.
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
func (p *TermPrompter) Consent(ctx context.Context, req ConsentRequest) (Perms, error) {
	p.start()
	fmt.Fprintf(p.Out, "\n%s asks to see your screen.\n", req.Viewer)
	if req.SAS != "" {
		fmt.Fprintf(p.Out, "Check that they read you this number: %s\n", req.SAS)
	}
	var got Perms
	if req.Want&PermView != 0 {
		ok, err := p.ask(ctx, "Allow them to see your screen?")
		if err != nil || !ok {
			return 0, err
		}
		got |= PermView
	}
	if req.Want&(PermControl|PermClipboard) != 0 {
		ok, err := p.ask(ctx, "Also allow them to use your mouse, keyboard and clipboard?")
		if err != nil {
			return 0, err
		}
		if ok {
			got |= req.Want & (PermControl | PermClipboard)
		}
	}
	return got, nil
}

// ShowIndicator prints text and ends the session on a line "end".
func (p *TermPrompter) ShowIndicator(text string) (Indicator, error) {
	p.start()
	ind := &lineIndicator{out: p.Out, ended: make(chan struct{}), closed: make(chan struct{})}
	ind.SetText(text + " — type end and press Enter to end the session")
	go func() {
		for {
			select {
			case l, ok := <-p.lines:
				if !ok || l == "" || strings.EqualFold(l, "end") || strings.EqualFold(l, "q") {
					ind.end()
					return
				}
			case <-ind.closed:
				return
			}
		}
	}()
	return ind, nil
}
