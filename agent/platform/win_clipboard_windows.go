//go:build windows

package platform

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unicode/utf16"
	"unsafe"
)

// WinClipboard is the Windows clipboard's Unicode text (CF_UNICODETEXT).
// Changes are noticed by polling GetClipboardSequenceNumber twice a
// second (a clipboard format listener would need a window and a message
// loop).
//
// A WinClipboard is safe for concurrent use.
type WinClipboard struct {
	mu      sync.Mutex
	ownSeq  uint32 // sequence number after our own SetText
	changes chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

const (
	cfUnicodeText = 13
	gmemMoveable  = 0x0002
)

// NewWinClipboard starts watching the clipboard.
func NewWinClipboard() (*WinClipboard, error) {
	c := &WinClipboard{changes: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.watch()
	return c, nil
}

func seq() uint32 {
	n, _, _ := procGetClipboardSequenceNumber.Call()
	return uint32(n)
}

func (c *WinClipboard) watch() {
	defer close(c.done)
	last := seq()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		n := seq()
		c.mu.Lock()
		own := n == c.ownSeq
		c.mu.Unlock()
		if n != last && !own {
			select {
			case c.changes <- struct{}{}:
			default:
			}
		}
		last = n
	}
}

// Changes receives a value when another program changed the clipboard.
func (c *WinClipboard) Changes() <-chan struct{} { return c.changes }

// open opens the clipboard, retrying while another program has it open.
func openClipboard(ctx context.Context) error {
	for i := 0; ; i++ {
		if r, _, _ := procOpenClipboard.Call(0); r != 0 {
			return nil
		}
		if i == 20 {
			return fmt.Errorf("platform: clipboard: another program keeps it open")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Text returns the clipboard's text, "" if it holds none.
func (c *WinClipboard) Text(ctx context.Context) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := openClipboard(ctx); err != nil {
		return "", err
	}
	defer procCloseClipboard.Call()
	h, _, _ := procGetClipboardData.Call(cfUnicodeText)
	if h == 0 {
		return "", nil
	}
	p, _, _ := procGlobalLock.Call(h)
	if p == 0 {
		return "", fmt.Errorf("platform: clipboard: GlobalLock failed")
	}
	defer procGlobalUnlock.Call(h)
	size, _, _ := procGlobalSize.Call(h)
	n := int(size / 2)
	if n > 2*MaxClipboard { // a UTF-16 unit is at most 3 UTF-8 bytes; bound before copying
		return "", fmt.Errorf("platform: clipboard: %w: %d UTF-16 units", ErrTooLarge, n)
	}
	units := unsafe.Slice((*uint16)(globalPtr(p)), n)
	for i, u := range units {
		if u == 0 {
			units = units[:i]
			break
		}
	}
	s := string(utf16.Decode(units))
	if len(s) > MaxClipboard {
		return "", fmt.Errorf("platform: clipboard: %w: %d bytes", ErrTooLarge, len(s))
	}
	return s, nil
}

// SetText puts text on the clipboard.
func (c *WinClipboard) SetText(text string) error {
	if len(text) > MaxClipboard {
		return fmt.Errorf("platform: clipboard: %w: %d bytes exceed %d", ErrTooLarge, len(text), MaxClipboard)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := openClipboard(context.Background()); err != nil {
		return err
	}
	defer procCloseClipboard.Call()
	units := append(utf16.Encode([]rune(text)), 0)
	h, _, err := procGlobalAlloc.Call(gmemMoveable, uintptr(2*len(units)))
	if h == 0 {
		return fmt.Errorf("platform: clipboard: GlobalAlloc: %v", err)
	}
	p, _, _ := procGlobalLock.Call(h)
	if p == 0 {
		procGlobalFree.Call(h)
		return fmt.Errorf("platform: clipboard: GlobalLock failed")
	}
	copy(unsafe.Slice((*uint16)(globalPtr(p)), len(units)), units)
	procGlobalUnlock.Call(h)
	procEmptyClipboard.Call()
	if r, _, err := procSetClipboardData.Call(cfUnicodeText, h); r == 0 {
		procGlobalFree.Call(h)
		return fmt.Errorf("platform: clipboard: SetClipboardData: %v", err)
	}
	c.mu.Lock()
	c.ownSeq = seq()
	c.mu.Unlock()
	return nil
}

// Close stops watching.
func (c *WinClipboard) Close() error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	return nil
}

// globalPtr turns the address GlobalLock returned into a pointer. The
// memory is not Go's: the garbage collector never moves or frees it.
func globalPtr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
