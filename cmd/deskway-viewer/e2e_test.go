//go:build linux

package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
)

var update = flag.Bool("update", false, "TestEndToEnd writes its screenshot to docs/viewer-session.png")

// xkQ is the keysym of "q".
const xkQ = 0x71

// TestEndToEnd runs the product as a technician would: a broker with a
// standalone relay, the agent sharing a desktop on one X display (with
// --yes for consent), the viewer on another X display joining with the
// support code. It checks that both ends show the same SAS, that the
// viewer's window shows the host's screen at the expected place and scale
// (fit: the window's width, aspect kept), and that a key typed into the
// viewer's window arrives in the focused window on the host.
func TestEndToEnd(t *testing.T) {
	testbed.Long(t, "the end-to-end test builds and runs four binaries: not with -short")
	hostD := testbed.Xvfb(t, 1920, 1080)
	viewD := testbed.Xvfb(t, 1280, 800)
	pic := desktopPicture(t)
	desk := newHostDesk(t, hostD, toXPic(pic))
	p := startProduct(t)
	agent, code := p.share(t, hostD)
	v := p.view(t, viewD, code, "--size", "1024x720")

	agentSAS := agent.out.wait(t, 90*time.Second, "the agent's SAS", regexp.MustCompile(`short authentication string is (\d{3} \d{3})`))[1]
	viewerSAS := v.out.wait(t, 30*time.Second, "the viewer's SAS", regexp.MustCompile(`session open".*sas="(\d{3} \d{3})"`))[1]
	if agentSAS != viewerSAS {
		t.Errorf("SAS: agent shows %q, viewer %q", agentSAS, viewerSAS)
	}

	// The session window shows the host's screen.
	xc := xconn(t, viewD)
	title := "Support session " + code[:3]
	var (
		wr    image.Rectangle
		shot  *image.RGBA
		found map[int]image.Rectangle
	)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		if _, wr, ok = findWindow(xc, title); ok {
			shot = screenshot(t, xc, wr)
			if found = findMarkers(shot); len(found) == len(markers) {
				break
			}
		}
		if time.Now().After(deadline) {
			if shot != nil {
				writePNG(t, filepath.Join(t.TempDir(), "viewer.png"), shot)
			}
			t.Fatalf("no window %q showing all %d markers within 60 s (window found %v at %v, markers %v)", title, len(markers), ok, wr, found)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if wr.Dx() != 1024 || wr.Dy() != 720 {
		t.Errorf("session window %v, want 1024x720 (--size)", wr)
	}

	// Fit: the picture spans the window's width (the window is wider
	// than 16:9), centred vertically between the toolbar and the status
	// line; smooth scaling keeps the markers' colours in their middle.
	scale := float64(wr.Dx()) / 1920
	c0 := centre(found[0])
	oy := c0.y - centre(markers[0].r).y*scale
	for i, m := range markers {
		got, want := centre(found[i]), centre(m.r)
		if dx, dy := got.x-want.x*scale, got.y-(oy+want.y*scale); math.Abs(dx) > 1.5 || math.Abs(dy) > 1.5 {
			t.Errorf("marker %d at %v in the viewer, want %.1f,%.1f (scale %.4f): off by %.1f,%.1f", i, found[i], want.x*scale, oy+want.y*scale, scale, dx, dy)
		}
		if w := float64(found[i].Dx()); math.Abs(w-float64(m.r.Dx())*scale) > 3 {
			t.Errorf("marker %d is %v px wide in the viewer, want %.1f (scale %.4f)", i, found[i].Dx(), float64(m.r.Dx())*scale, scale)
		}
	}
	if ph := 1080 * scale; oy < 20 || oy+ph > float64(wr.Dy())-20 {
		t.Errorf("picture spans y %.0f..%.0f of the %d px window: not between toolbar and status line", oy, oy+ph, wr.Dy())
	}
	// Plain background of the host's desktop, far from edges.
	for _, hp := range []image.Point{{1100, 1000}, {1600, 600}, {300, 750}} {
		vp := image.Pt(int(float64(hp.X)*scale), int(oy+float64(hp.Y)*scale))
		if got, want := shot.RGBAAt(vp.X, vp.Y), pic.RGBAAt(hp.X, hp.Y); !near(got, want, 6) {
			t.Errorf("host pixel %v is %v; the viewer shows %v at %v", hp, want, got, vp)
		}
	}

	// A key typed into the viewer's window arrives on the host.
	m := found[0]
	at := wr.Min.Add(image.Pt(m.Min.X+m.Dx()/2, m.Min.Y+m.Dy()/2))
	xdotool(t, viewD, "mousemove", fmt.Sprint(at.X), fmt.Sprint(at.Y), "click", "1")
	xdotool(t, viewD, "key", "q")
	select {
	case sym := <-desk.keys:
		if sym != xkQ {
			t.Errorf("the host's window got keysym %#x, want q (%#x)", sym, xkQ)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the key typed into the viewer did not arrive on the host within 30 s")
	}

	// The README's screenshot.
	shot = screenshot(t, xc, wr)
	out := filepath.Join(t.TempDir(), "viewer-session.png")
	if *update {
		out = filepath.Join(testbed.ModuleRoot(t), "docs", "viewer-session.png")
	}
	writePNG(t, out, shot)
	fi, _ := os.Stat(out)
	t.Logf("screenshot %s: %dx%d, %d KB", out, shot.Rect.Dx(), shot.Rect.Dy(), fi.Size()>>10)
}

type fpoint struct{ x, y float64 }

func centre(r image.Rectangle) fpoint {
	return fpoint{float64(r.Min.X+r.Max.X) / 2, float64(r.Min.Y+r.Max.Y) / 2}
}

// findMarkers returns the bounding boxes of the pixels of each marker's
// colour in img, by marker index, for the markers seen well enough.
func findMarkers(img *image.RGBA) map[int]image.Rectangle {
	out := map[int]image.Rectangle{}
	n := make([]int, len(markers))
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			c := img.RGBAAt(x, y)
			for i, m := range markers {
				if near(c, m.c, 12) {
					out[i] = out[i].Union(image.Rect(x, y, x+1, y+1))
					n[i]++
				}
			}
		}
	}
	for i, r := range out {
		if n[i] < 100 || n[i] < r.Dx()*r.Dy()/2 {
			delete(out, i) // a few stray pixels, not the block
		}
	}
	return out
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B)
}
