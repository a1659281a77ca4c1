//go:build windows

package platform

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/deskway/deskway/proto"
	"golang.org/x/sys/windows"
)

// WinPrompter asks with message boxes (user32 MessageBoxW): one for
// viewing, one for control; the indicator is a top-most message box whose
// OK button ends the session.
//
// Limits: a message box cannot be withdrawn when ctx ends, so Consent
// returns ctx.Err() and closes the box by posting WM_CLOSE to it; the
// indicator's text cannot change while it is shown (SetText takes effect
// if it is shown again).
type WinPrompter struct{}

const (
	mbYesNo        = 0x00000004
	mbOK           = 0x00000000
	mbIconQuestion = 0x00000020
	mbIconInfo     = 0x00000040
	mbTopmost      = 0x00040000
	mbSetForegrnd  = 0x00010000
	mbSystemModal  = 0x00001000
	idYes          = 6
	idOK           = 1
	wmClose        = 0x0010
)

// messageBox shows a box on a locked OS thread and returns its answer.
func messageBox(title, text string, flags uint32) chan int32 {
	res := make(chan int32, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		t, _ := windows.UTF16PtrFromString(text)
		c, _ := windows.UTF16PtrFromString(title)
		r, _ := windows.MessageBox(0, t, c, flags|mbTopmost|mbSetForegrnd|mbSystemModal)
		res <- r
	}()
	return res
}

// closeBox posts WM_CLOSE to the top-level window titled title.
func closeBox(title string) {
	t, _ := windows.UTF16PtrFromString(title)
	if h, _, _ := procFindWindowW.Call(0, uintptr(unsafe.Pointer(t))); h != 0 {
		procPostMessageW.Call(h, wmClose, 0, 0)
	}
}

// Consent asks for viewing, then for control and clipboard.
func (WinPrompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	ask := func(title, q string) (bool, error) {
		select {
		case r := <-messageBox(title, q, mbYesNo|mbIconQuestion):
			return r == idYes, nil
		case <-ctx.Done():
			closeBox(title)
			return false, ctx.Err()
		}
	}
	check := ""
	if sas != "" {
		check = "\n\nCheck that they read you this number: " + sas
	}
	var got proto.Perms
	if want&proto.PermView != 0 {
		ok, err := ask("Deskway: allow screen sharing?", fmt.Sprintf("%s asks to see your screen.%s\n\nAllow?", viewer, check))
		if err != nil || !ok {
			return 0, err
		}
		got |= proto.PermView
	}
	if want&(proto.PermControl|proto.PermClipboard) != 0 {
		ok, err := ask("Deskway: allow control?", fmt.Sprintf("Also allow %s to use your mouse, keyboard and clipboard?", viewer))
		if err != nil {
			return 0, err
		}
		if ok {
			got |= want & (proto.PermControl | proto.PermClipboard)
		}
	}
	return got, nil
}

type winIndicator struct {
	title   string
	ended   chan struct{}
	endOnce sync.Once
	mu      sync.Mutex
	closed  bool
}

const indicatorTitle = "Deskway session"

// ShowIndicator shows a top-most box with text; its OK button ends the
// session.
func (WinPrompter) ShowIndicator(text string) (Indicator, error) {
	ind := &winIndicator{title: indicatorTitle, ended: make(chan struct{})}
	res := messageBox(indicatorTitle, text+"\n\nPress OK to end the session now.", mbOK|mbIconInfo)
	go func() {
		<-res
		ind.mu.Lock()
		closed := ind.closed
		ind.mu.Unlock()
		if !closed {
			ind.endOnce.Do(func() { close(ind.ended) })
		}
	}()
	return ind, nil
}

func (ind *winIndicator) SetText(string)         {}
func (ind *winIndicator) Ended() <-chan struct{} { return ind.ended }
func (ind *winIndicator) Close() error {
	ind.mu.Lock()
	ind.closed = true
	ind.mu.Unlock()
	closeBox(ind.title)
	return nil
}
