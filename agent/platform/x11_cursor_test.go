//go:build linux

package platform

import (
	"bytes"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
	"github.com/jezek/xgb/xproto"
)

// glyphCursor makes a cursor from the X cursor font (XC_watch is 150,
// XC_crosshair 34) and sets it on the root window, as a program does when
// it shows a busy cursor.
func (x *xclient) glyphCursor(glyph uint16) {
	x.t.Helper()
	font, _ := xproto.NewFontId(x.c)
	if err := xproto.OpenFontChecked(x.c, font, uint16(len("cursor")), "cursor").Check(); err != nil {
		x.t.Fatalf("test client: open cursor font: %v", err)
	}
	cur, _ := xproto.NewCursorId(x.c)
	xproto.CreateGlyphCursor(x.c, cur, font, font, glyph, glyph+1, 0, 0, 0, 0xffff, 0xffff, 0xffff)
	xproto.ChangeWindowAttributes(x.c, x.root, xproto.CwCursor, []uint32{uint32(cur)})
	x.sync()
}

func TestX11Cursor(t *testing.T) {
	d := testbed.Xvfb(t, 320, 200)
	x := newXClient(t, d)
	c, err := NewX11Cursor(d.Name)
	if err != nil {
		t.Fatalf("NewX11Cursor: %v", err)
	}
	defer c.Close()

	xproto.WarpPointer(x.c, 0, x.root, 0, 0, 0, 0, 123, 45)
	x.sync()
	pos, serial0, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	if pos.X != 123 || pos.Y != 45 {
		t.Errorf("State() at %d,%d, want 123,45", pos.X, pos.Y)
	}
	shape0, _, err := c.Shape()
	if err != nil {
		t.Fatal(err)
	}

	x.glyphCursor(150) // XC_watch
	var serial1 uint32
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, serial1, err = c.State(); err != nil || serial1 != serial0 {
			break
		}
	}
	if serial1 == serial0 {
		t.Fatalf("cursor serial still %d after the root cursor changed", serial1)
	}
	shape1, serial, err := c.Shape()
	if err != nil {
		t.Fatal(err)
	}
	if serial != serial1 {
		t.Errorf("Shape() serial = %d, State() serial = %d", serial, serial1)
	}
	if shape1.Width < 8 || shape1.Height < 8 || shape1.HotX >= shape1.Width || shape1.HotY >= shape1.Height ||
		len(shape1.Pix) != 4*int(shape1.Width)*int(shape1.Height) {
		t.Errorf("watch cursor: %dx%d hotspot %d,%d, %d bytes", shape1.Width, shape1.Height, shape1.HotX, shape1.HotY, len(shape1.Pix))
	}
	if bytes.Equal(shape0.Pix, shape1.Pix) {
		t.Errorf("watch cursor image equals the previous cursor's")
	}
	opaque := 0
	for i := 3; i < len(shape1.Pix); i += 4 {
		if shape1.Pix[i] == 0xff {
			opaque++
		}
	}
	if opaque == 0 {
		t.Errorf("watch cursor has no opaque pixel")
	}
}

func TestUnpremultiply(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want [4]byte
	}{
		{0xff102030, [4]byte{0x10, 0x20, 0x30, 0xff}},
		{0x00000000, [4]byte{0, 0, 0, 0}},
		{0x80404040, [4]byte{0x80, 0x80, 0x80, 0x80}},
		{0x80ffffff, [4]byte{0xff, 0xff, 0xff, 0x80}}, // invalid premultiplied: clamped
	} {
		var got [4]byte
		unpremultiply(got[:], tc.in)
		if got != tc.want {
			t.Errorf("unpremultiply(%08x) = %x, want %x", tc.in, got, tc.want)
		}
	}
}
