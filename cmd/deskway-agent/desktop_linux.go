package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
)

// openDesktop connects to the X display: capture (the fast path unless
// --capture says otherwise or it does not work here), input, cursor,
// clipboard and the consent prompter.
func openDesktop(o options, stdout io.Writer, lg *slog.Logger) (agent.Desktop, func(), error) {
	xgb.Logger = log.New(io.Discard, "", 0) // xgb's chatter about ~/.Xauthority
	display := platform.DisplayName(o.display)
	if display == "" {
		return agent.Desktop{}, nil, errors.New("no X display to share: set DISPLAY or --display")
	}
	os.Setenv("DISPLAY", display) // the capture library reads it
	var closers []func() error
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var d agent.Desktop
	switch o.capture {
	case "auto", "x11":
		c, err := platform.NewX11Capturer(display)
		if err == nil {
			d.Screen = c
			closers = append(closers, c.Close)
			lg.Info("capture: X11 fast path", "shm", c.HasSHM())
			break
		}
		if o.capture == "x11" {
			return d, nil, err
		}
		lg.Warn("capture: X11 fast path unavailable, using the library", "err", err)
		fallthrough
	case "library":
		d.Screen = platform.NewLibCapturer()
	default:
		return d, nil, fmt.Errorf("--capture %q: want auto, x11 or library", o.capture)
	}
	if in, err := platform.NewX11Input(display); err != nil {
		lg.Warn("input unavailable: sessions are view-only", "err", err)
	} else {
		d.Input = in
		closers = append(closers, in.Close)
	}
	if c, err := platform.NewX11Cursor(display); err != nil {
		lg.Warn("cursor unavailable", "err", err)
	} else {
		d.Cursor = c
		closers = append(closers, c.Close)
	}
	if c, err := platform.NewX11Clipboard(display); err != nil {
		lg.Warn("clipboard unavailable", "err", err)
	} else {
		d.Clipboard = c
		closers = append(closers, c.Close)
	}
	switch {
	case o.yes:
		d.Prompter = platform.AutoPrompter{Grant: proto.PermView | proto.PermControl | proto.PermClipboard, Out: stdout}
	case o.prompt == "terminal":
		d.Prompter = &platform.TermPrompter{In: os.Stdin, Out: stdout}
	case o.prompt == "gui":
		d.Prompter = &platform.X11Prompter{Display: display}
	case o.prompt == "auto":
		d.Prompter = fallbackPrompter{gui: &platform.X11Prompter{Display: display}, term: &platform.TermPrompter{In: os.Stdin, Out: stdout}, log: lg}
	default:
		closeAll()
		return d, nil, fmt.Errorf("--prompt %q: want auto, gui or terminal", o.prompt)
	}
	return d, closeAll, nil
}
