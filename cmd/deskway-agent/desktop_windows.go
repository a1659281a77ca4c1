package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/proto"
)

// openDesktop sets up the Windows desktop: capture through the library,
// input through robotgo and SendInput, cursor, clipboard and message-box
// prompts through user32.
func openDesktop(o options, stdout io.Writer, lg *slog.Logger) (agent.Desktop, func(), error) {
	var d agent.Desktop
	if o.capture == "x11" {
		return d, nil, fmt.Errorf("--capture x11 is for Linux; use auto or library")
	}
	d.Screen = platform.NewLibCapturer()
	in, _ := platform.NewWinInput()
	d.Input = in
	cur, _ := platform.NewWinCursor()
	d.Cursor = cur
	cb, err := platform.NewWinClipboard()
	if err != nil {
		lg.Warn("clipboard unavailable", "err", err)
	} else {
		d.Clipboard = cb
	}
	switch {
	case o.yes:
		d.Prompter = platform.AutoPrompter{Grant: proto.PermView | proto.PermControl | proto.PermClipboard, Out: stdout}
	case o.prompt == "terminal":
		d.Prompter = &platform.TermPrompter{In: os.Stdin, Out: stdout}
	default:
		d.Prompter = platform.WinPrompter{}
	}
	return d, func() {
		if cb != nil {
			cb.Close()
		}
	}, nil
}
