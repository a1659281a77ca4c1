package testbed

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ViewerState is what the browser viewer's page exposes as
// globalThis.deskwayViewer.
type ViewerState struct {
	State   string         `json:"state"`
	Message string         `json:"message"`
	Kind    string         `json:"kind"`
	Stats   map[string]any `json:"stats"`
	Control bool           `json:"control"`
}

// Page drives Deskway's console and browser viewer in one browser tab
// (a context from Chromium). Failures end the test; Fail, if set, is
// called to add context (e.g. the processes' log tails) to the message.
type Page struct {
	T    testing.TB
	Ctx  context.Context
	Fail func() string
}

func (p Page) fatalf(format string, args ...any) {
	p.T.Helper()
	msg := fmt.Sprintf(format, args...)
	if p.Fail != nil {
		msg += "\n" + p.Fail()
	}
	p.T.Fatal(msg)
}

// Do runs steps, within a minute, and fails the test with what when
// they fail.
func (p Page) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fatalf("%s: %v", what, err)
	}
}

// Text returns the text of the element with the id.
func (p Page) Text(id string) string {
	p.T.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		p.fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// SignIn signs in to the console at burl.
func (p Page) SignIn(burl, user, password string) {
	p.T.Helper()
	p.Do("sign in as "+user,
		chromedp.Navigate(burl+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("name"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("nav-hosts")),
	)
}

// SignOut signs out of the console at burl.
func (p Page) SignOut(burl string) {
	p.T.Helper()
	p.Do("sign out",
		chromedp.Navigate(burl+"/hosts"),
		chromedp.Click(`#logout button`),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
}

// State reads globalThis.deskwayViewer.
func (p Page) State() ViewerState {
	p.T.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Evaluate[ViewerState](`globalThis.deskwayViewer || {state: "no page"}`))
	if err != nil {
		p.fatalf("read the page's state: %v", err)
	}
	return v
}

// WaitState waits up to 90 s for the viewer's state want; closed fails it
// early.
func (p Page) WaitState(want string) ViewerState {
	p.T.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v := p.State()
		if v.State == want {
			return v
		}
		if v.State == "closed" && want != "closed" || time.Now().After(deadline) {
			p.fatalf("viewer is %q (%s, %s), want %q", v.State, v.Kind, v.Message, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitCanvas waits up to 60 s until the viewer's canvas is width x height
// and has the colours of the probes (in the host's screen pixels). It
// returns the probes that still differ then, described, and nil when all
// match.
func (p Page) WaitCanvas(width, height int, probes []Probe) []string {
	p.T.Helper()
	pj, _ := json.Marshal(probes)
	check := fmt.Sprintf(`(() => {
		const c = document.getElementById("screen");
		if (!c || c.width !== %d || c.height !== %d) return ["canvas size " + (c ? c.width + "x" + c.height : "none")];
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const bad = [];
		for (const {X: x, Y: y, RGB: rgb} of %s) {
			const i = 4 * (y * c.width + x), r = rgb >> 16, g = (rgb >> 8) & 255, b = rgb & 255;
			if (d[i] !== r || d[i+1] !== g || d[i+2] !== b) bad.push(x + "," + y + ": " + [d[i], d[i+1], d[i+2]] + " want " + [r, g, b]);
		}
		return bad;
	})()`, width, height, pj)
	var bad []string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var err error
		bad, err = chromedp.Run(p.Ctx, chromedp.Evaluate[[]string](check))
		if err != nil {
			p.fatalf("read the canvas: %v", err)
		}
		if len(bad) == 0 || time.Now().After(deadline) {
			return bad
		}
	}
}

// Canvas returns what the viewer's canvas shows (the remote screen,
// without the pointer).
func (p Page) Canvas() image.Image {
	p.T.Helper()
	s, err := chromedp.Run(p.Ctx, chromedp.Evaluate[string](`document.getElementById("screen").toDataURL("image/png")`))
	if err != nil {
		p.fatalf("read the canvas: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "data:image/png;base64,"))
	if err != nil {
		p.fatalf("canvas data URL: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		p.fatalf("canvas PNG: %v", err)
	}
	return img
}

// ScreenToPage returns the page coordinates (CSS pixels) of the host
// screen pixel x, y on the viewer's canvas, which may be scaled.
func (p Page) ScreenToPage(x, y int) (float64, float64) {
	p.T.Helper()
	type rect struct{ Left, Top, Width, Height, W, H float64 }
	r, err := chromedp.Run(p.Ctx, chromedp.Evaluate[rect](`(() => {
		const c = document.getElementById("screen"), r = c.getBoundingClientRect();
		return {Left: r.left, Top: r.top, Width: r.width, Height: r.height, W: c.width, H: c.height};
	})()`))
	if err != nil || r.W == 0 || r.H == 0 {
		p.fatalf("canvas position: %+v, %v", r, err)
	}
	return r.Left + (float64(x)+0.5)*r.Width/r.W, r.Top + (float64(y)+0.5)*r.Height/r.H
}
