//go:build linux

package platform

import (
	"context"
	"image"
	"testing"
	"time"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
)

func centreOf(r image.Rectangle) image.Point { return r.Min.Add(r.Size().Div(2)) }

// TestX11Consent answers the dialog as the customer would: by clicking
// its buttons or pressing Escape, through the X server.
func TestX11Consent(t *testing.T) {
	d := testbed.Xvfb(t, 800, 600)
	in, err := NewX11Input(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p := &X11Prompter{Display: d.Name}
	want := allPerms

	for _, tc := range []struct {
		name   string
		answer func(at image.Point)
		want   proto.Perms
	}{
		{"view only", func(at image.Point) { click(t, in, at.Add(centreOf(buttonView))) }, proto.PermView},
		{"control", func(at image.Point) { click(t, in, at.Add(centreOf(buttonControl))) }, want},
		{"deny", func(at image.Point) { click(t, in, at.Add(centreOf(buttonDeny))) }, 0},
		{"escape", func(at image.Point) {
			in.MovePointer(at.X+10, at.Y+10) // focus follows the pointer
			in.Key(proto.KeyEscape, true)
			in.Key(proto.KeyEscape, false)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dialogMu.Lock()
			dialogAt = image.Point{}
			dialogMu.Unlock()
			type result struct {
				p   proto.Perms
				err error
			}
			res := make(chan result, 1)
			go func() {
				p, err := p.Consent(context.Background(), "Jane (technician)", want, "482 913")
				res <- result{p, err}
			}()
			at := waitDialog(t)
			tc.answer(at)
			select {
			case r := <-res:
				if r.err != nil || r.p != tc.want {
					t.Errorf("Consent = %v, %v; want %v", r.p, r.err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Consent did not return after the answer")
			}
		})
	}

	// A cancelled context ends the prompt.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if got, err := p.Consent(ctx, "x", want, ""); err == nil || got != 0 {
		t.Errorf("Consent with an expiring context = %v, %v; want an error", got, err)
	}
}

func waitDialog(t *testing.T) image.Point {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		dialogMu.Lock()
		at := dialogAt
		dialogMu.Unlock()
		if at != (image.Point{}) {
			return at
		}
	}
	t.Fatalf("the consent dialog did not appear")
	return image.Point{}
}

func click(t *testing.T, in *X11Input, at image.Point) {
	t.Helper()
	if err := in.MovePointer(at.X, at.Y); err != nil {
		t.Fatal(err)
	}
	in.Button(proto.ButtonLeft, true)
	in.Button(proto.ButtonLeft, false)
}

// TestX11Indicator checks that the bar is on the screen and that its End
// button ends the session.
func TestX11Indicator(t *testing.T) {
	d := testbed.Xvfb(t, 800, 600)
	p := &X11Prompter{Display: d.Name}
	ind, err := p.ShowIndicator("Jane is controlling this screen")
	if err != nil {
		t.Fatal(err)
	}
	defer ind.Close()
	ind.SetText("Jane is viewing this screen")

	cap, err := NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer cap.Close()
	var img codec.Frame
	if _, err := cap.Capture(image.Rect(0, 0, 800, 600), &img); err != nil {
		t.Fatal(err)
	}
	left := (800 - indicatorSize.X) / 2
	if r, g, b := RGB(&img, left+3, 22); r != 0xd0 || g != 0x30 || b != 0x30 {
		t.Errorf("pixel inside the indicator = %02x%02x%02x, want d03030", r, g, b)
	}

	in, err := NewX11Input(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	select {
	case <-ind.Ended():
		t.Fatalf("Ended before End was clicked")
	default:
	}
	click(t, in, image.Pt(left, 0).Add(centreOf(buttonEnd)))
	select {
	case <-ind.Ended():
	case <-time.After(5 * time.Second):
		t.Fatalf("clicking End did not end the session")
	}
}

// TestX11IndicatorStopControl checks that the Stop control button is
// there only while control is granted, and takes control back.
func TestX11IndicatorStopControl(t *testing.T) {
	d := testbed.Xvfb(t, 800, 600)
	p := &X11Prompter{Display: d.Name}
	i, err := p.ShowIndicator("Jane can see and control this screen")
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close()
	ind, ok := i.(ControlIndicator)
	if !ok {
		t.Fatal("the X11 indicator cannot take back control")
	}
	cap, err := NewX11Capturer(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer cap.Close()
	in, err := NewX11Input(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	left := (800 - indicatorSize.X) / 2
	stop := image.Pt(left, 0).Add(buttonStop.Min).Add(image.Pt(2, 2))
	// buttonLight reports whether the Stop control button is drawn: its
	// corner is light, not the bar's red.
	buttonLight := func() bool {
		var img codec.Frame
		if _, err := cap.Capture(image.Rect(0, 0, 800, 600), &img); err != nil {
			t.Fatal(err)
		}
		r, g, b := RGB(&img, stop.X, stop.Y)
		return !(r == 0xd0 && g == 0x30 && b == 0x30)
	}
	if buttonLight() {
		t.Error("Stop control is shown before control was granted")
	}
	// A click there now does nothing. The indicator handles clicks in
	// order, so once a click on End has ended the session, it has
	// handled the first one.
	click(t, in, stop)
	click(t, in, image.Pt(left, 0).Add(centreOf(buttonEnd)))
	select {
	case <-ind.Ended():
	case <-time.After(5 * time.Second):
		t.Fatalf("clicking End did not end the session")
	}
	select {
	case <-ind.Withdrawn():
		t.Fatal("a click where Stop control was not shown took back control")
	default:
	}
	ind.SetControl(true)
	if !buttonLight() {
		t.Error("Stop control is not shown while control is granted")
	}
	click(t, in, stop)
	select {
	case <-ind.Withdrawn():
	case <-time.After(5 * time.Second):
		t.Fatal("clicking Stop control did not take back control")
	}
	ind.SetControl(false)
	if buttonLight() {
		t.Error("Stop control is still shown after control was taken back")
	}
}
