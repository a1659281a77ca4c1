//go:build windows

package platform

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/deskway/deskway/proto"
	"golang.org/x/sys/windows"
)

// WinCursor reads the pointer through GetCursorInfo; the cursor handle is
// the serial (shared cursors keep their handle), and Shape reads the
// icon's bitmaps with GetIconInfo and GetDIBits.
//
// A WinCursor is safe for concurrent use.
type WinCursor struct {
	mu sync.Mutex
}

// NewWinCursor returns the Windows cursor reader.
func NewWinCursor() (*WinCursor, error) { return &WinCursor{}, nil }

type cursorInfo struct {
	size    uint32
	flags   uint32
	hCursor windows.Handle
	x, y    int32
}

type iconInfo struct {
	fIcon              int32
	xHotspot, yHotspot uint32
	hbmMask, hbmColor  windows.Handle
}

type bitmap struct {
	typ, width, height, widthBytes int32
	planes, bitsPixel              uint16
	bits                           uintptr
}

type bitmapInfoHeader struct {
	size                       uint32
	width, height              int32
	planes, bitCount           uint16
	compression, sizeImage     uint32
	xPelsPerMeter, yPelsPerMtr int32
	clrUsed, clrImportant      uint32
}

const cursorShowing = 1

func (c *WinCursor) info() (cursorInfo, error) {
	ci := cursorInfo{size: uint32(unsafe.Sizeof(cursorInfo{}))}
	if r, _, err := procGetCursorInfo.Call(uintptr(unsafe.Pointer(&ci))); r == 0 {
		return ci, fmt.Errorf("platform: GetCursorInfo: %v", err)
	}
	return ci, nil
}

// State returns the pointer position and the current cursor handle as the
// serial.
func (c *WinCursor) State() (proto.CursorPos, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci, err := c.info()
	if err != nil {
		return proto.CursorPos{}, 0, err
	}
	return proto.CursorPos{X: ci.x, Y: ci.y, Visible: ci.flags&cursorShowing != 0}, uint32(ci.hCursor), nil
}

// Shape returns the current cursor image. Monochrome cursors become black
// and white with transparency; their inverting pixels become black.
func (c *WinCursor) Shape() (proto.CursorShape, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci, err := c.info()
	if err != nil {
		return proto.CursorShape{}, 0, err
	}
	var ii iconInfo
	if r, _, err := procGetIconInfo.Call(uintptr(ci.hCursor), uintptr(unsafe.Pointer(&ii))); r == 0 {
		return proto.CursorShape{}, 0, fmt.Errorf("platform: GetIconInfo: %v", err)
	}
	defer procDeleteObject.Call(uintptr(ii.hbmMask))
	if ii.hbmColor != 0 {
		defer procDeleteObject.Call(uintptr(ii.hbmColor))
	}
	dc, _, _ := procGetDC.Call(0)
	defer procReleaseDC.Call(0, dc)

	var bm bitmap
	src := ii.hbmColor
	if src == 0 {
		src = ii.hbmMask
	}
	procGetObjectW.Call(uintptr(src), unsafe.Sizeof(bm), uintptr(unsafe.Pointer(&bm)))
	w, h := int(bm.width), int(bm.height)
	mono := ii.hbmColor == 0
	if mono {
		h /= 2 // AND mask above XOR mask
	}
	if w <= 0 || h <= 0 || w > 1024 || h > 1024 {
		return proto.CursorShape{}, 0, fmt.Errorf("platform: cursor bitmap %dx%d", w, h)
	}
	read := func(hbm windows.Handle, rows int) ([]byte, error) {
		bi := bitmapInfoHeader{size: uint32(unsafe.Sizeof(bitmapInfoHeader{})), width: int32(w), height: -int32(rows), planes: 1, bitCount: 32}
		buf := make([]byte, 4*w*rows)
		// BITMAPINFO = header + colour table; 32-bit BI_RGB has none, but
		// leave room for safety.
		bmi := make([]byte, unsafe.Sizeof(bi)+16)
		*(*bitmapInfoHeader)(unsafe.Pointer(&bmi[0])) = bi
		if r, _, err := procGetDIBits.Call(dc, uintptr(hbm), 0, uintptr(rows), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&bmi[0])), 0); r == 0 {
			return nil, fmt.Errorf("platform: GetDIBits: %v", err)
		}
		return buf, nil
	}
	s := proto.CursorShape{Width: uint16(w), Height: uint16(h), HotX: uint16(min(int(ii.xHotspot), w-1)), HotY: uint16(min(int(ii.yHotspot), h-1)), Pix: make([]byte, 4*w*h)}
	if mono {
		m, err := read(ii.hbmMask, 2*h)
		if err != nil {
			return proto.CursorShape{}, 0, err
		}
		for i := 0; i < w*h; i++ {
			and, xor := m[4*i] != 0, m[4*(w*h+i)] != 0
			p := s.Pix[4*i : 4*i+4]
			switch {
			case !and && !xor: // black
				p[3] = 0xff
			case !and && xor: // white
				p[0], p[1], p[2], p[3] = 0xff, 0xff, 0xff, 0xff
			case and && xor: // inverts the screen: show black
				p[3] = 0xff
			}
		}
	} else {
		col, err := read(ii.hbmColor, h)
		if err != nil {
			return proto.CursorShape{}, 0, err
		}
		mask, err := read(ii.hbmMask, h)
		if err != nil {
			return proto.CursorShape{}, 0, err
		}
		hasAlpha := false
		for i := 3; i < len(col); i += 4 {
			hasAlpha = hasAlpha || col[i] != 0
		}
		for i := 0; i < w*h; i++ {
			b, g, r, a := col[4*i], col[4*i+1], col[4*i+2], col[4*i+3]
			if !hasAlpha {
				a = 0xff
				if mask[4*i] != 0 {
					a = 0
				}
			}
			s.Pix[4*i], s.Pix[4*i+1], s.Pix[4*i+2], s.Pix[4*i+3] = r, g, b, a
		}
	}
	return s, uint32(ci.hCursor), nil
}

// Close does nothing.
func (c *WinCursor) Close() error { return nil }
