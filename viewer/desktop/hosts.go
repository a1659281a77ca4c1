package desktop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto/api"
)

// hostsView is the signed-in main window: the join field for support
// codes and the list of hosts with their presence, refreshed every
// Options.PollInterval (the broker's API has no push for presence; a
// poll is one small GET). Owned by Fyne's goroutine.
type hostsView struct {
	a       *App
	content fyne.CanvasObject
	who     *widget.Label
	notice  *widget.Label
	code    *widget.Entry
	join    *widget.Button
	list    *widget.List
	empty   *widget.Label
	hosts   []api.Host
	cancel  context.CancelFunc
	poke    chan struct{} // asks the poller for a poll now
	gen     int
	updated time.Time
	// polledForTest, if set, is called after each poll was shown.
	polledForTest func()
}

func newHostsView(a *App) *hostsView {
	v := &hostsView{a: a, poke: make(chan struct{}, 1)}
	v.who = widget.NewLabel("")
	v.notice = widget.NewLabel("")
	v.notice.Wrapping = fyne.TextWrapWord
	v.code = widget.NewEntry()
	v.code.SetPlaceHolder("Support code, e.g. 123-456-789")
	v.code.OnSubmitted = func(string) { v.doJoin() }
	v.join = widget.NewButton("Join support session", v.doJoin)
	v.empty = widget.NewLabel("No hosts yet.")
	v.list = widget.NewList(func() int { return len(v.hosts) }, newHostRow, v.updateRow)
	top := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(
			widget.NewButtonWithIcon("Settings", theme.SettingsIcon(), a.showSettings),
			widget.NewButton("Sign out", a.signOut)), v.who),
		container.NewBorder(nil, nil, nil, v.join, v.code),
		v.notice,
		container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), v.pollNow),
			widget.NewLabelWithStyle("Hosts", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})),
	)
	v.content = container.NewPadded(container.NewBorder(top, nil, nil, nil, container.NewStack(v.list, v.empty)))
	return v
}

// hostRow is one line of the list: presence dot, name, details, Connect.
type hostRow struct {
	widget.BaseWidget
	dot     *canvas.Circle
	name    *widget.Label
	detail  *widget.Label
	connect *widget.Button
	row     fyne.CanvasObject
}

func newHostRow() fyne.CanvasObject {
	r := &hostRow{dot: canvas.NewCircle(theme.Color(theme.ColorNameDisabled)), name: widget.NewLabel(""), detail: widget.NewLabel("")}
	r.name.TextStyle.Bold = true
	r.detail.Truncation = fyne.TextTruncateEllipsis
	r.connect = widget.NewButton("Connect", nil)
	dot := container.NewGridWrap(fyne.NewSize(12, 12), r.dot)
	r.row = container.NewBorder(nil, nil, container.NewHBox(container.NewCenter(dot), r.name), r.connect, r.detail)
	r.ExtendBaseWidget(r)
	return r
}

func (r *hostRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.row) }

func (v *hostsView) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	if i < 0 || i >= len(v.hosts) {
		return
	}
	h := v.hosts[i]
	r := o.(*hostRow)
	r.name.SetText(h.Name)
	r.detail.SetText(hostDetail(h, v.a.opt.Now()))
	if h.Online {
		r.dot.FillColor = theme.Color(theme.ColorNameSuccess)
		r.connect.Enable()
	} else {
		r.dot.FillColor = theme.Color(theme.ColorNameDisabled)
		r.connect.Disable()
	}
	r.dot.Refresh()
	r.connect.OnTapped = func() { v.a.connectHost(h) }
}

// hostDetail is the line beside a host's name.
func hostDetail(h api.Host, now time.Time) string {
	parts := []string{}
	if h.Online {
		parts = append(parts, "online")
	} else if !h.LastSeen.IsZero() {
		parts = append(parts, "offline, last seen "+ago(now.Sub(h.LastSeen)))
	} else {
		parts = append(parts, "offline")
	}
	if h.OS != "" {
		parts = append(parts, h.OS)
	}
	if h.OwnerName != "" {
		parts = append(parts, "owner "+h.OwnerName)
	}
	return strings.Join(parts, " · ")
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// start shows who is signed in and polls the host list until stop.
func (v *hostsView) start(c *api.Client, user string) {
	v.stop()
	v.who.SetText(fmt.Sprintf("Signed in as %s at %s", user, c.BaseURL))
	v.setNotice("")
	v.hosts = nil
	v.list.Refresh()
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.gen++
	gen := v.gen
	every := v.a.opt.PollInterval
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			rctx, rcancel := context.WithTimeout(ctx, max(every, 10*time.Second))
			hosts, err := c.Hosts(rctx)
			rcancel()
			if ctx.Err() != nil {
				return
			}
			uiDo(func() {
				if v.gen == gen {
					v.polled(hosts, err)
				}
				if v.polledForTest != nil {
					v.polledForTest()
				}
			})
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-v.poke:
			}
		}
	}()
}

// pollNow asks for the host list at once.
func (v *hostsView) pollNow() {
	select {
	case v.poke <- struct{}{}:
	default:
	}
}

func (v *hostsView) stop() {
	if v.cancel != nil {
		v.cancel()
		v.cancel = nil
	}
	v.gen++
}

// polled takes a poll's answer.
func (v *hostsView) polled(hosts []api.Host, err error) {
	switch {
	case api.IsCode(err, api.CodeUnauthorized):
		v.a.client = nil
		v.a.prof.ForgetToken()
		v.a.showSignin("Your sign-in expired. Please sign in again.")
		return
	case err != nil:
		v.setNotice("Host list not updated: " + err.Error())
		return
	}
	if strings.HasPrefix(v.notice.Text, "Host list not updated") {
		v.setNotice("")
	}
	sortHosts(hosts)
	v.hosts = hosts
	v.updated = v.a.opt.Now()
	if len(hosts) == 0 {
		v.empty.Show()
	} else {
		v.empty.Hide()
	}
	v.list.Refresh()
}

// sortHosts puts online hosts first, then by name.
func sortHosts(hs []api.Host) {
	slices.SortStableFunc(hs, func(a, b api.Host) int {
		if a.Online != b.Online {
			if a.Online {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
}

func (v *hostsView) doJoin() {
	text := v.code.Text
	v.code.SetText("")
	v.a.joinSupport(text)
}

// setNotice shows a notice above the list, or hides it ("").
func (v *hostsView) setNotice(text string) {
	v.notice.SetText(text)
	if text == "" {
		v.notice.Hide()
	} else {
		v.notice.Show()
	}
}
