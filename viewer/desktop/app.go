package desktop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/viewer"
)

// Options configure an App. Zero fields take the defaults named.
type Options struct {
	// Profile keeps settings, token, pins and key; required.
	Profile *Profile
	// Broker, User, Scale, Quality and MaxFPS override the remembered
	// settings for this run (command-line flags); zero values keep them.
	Broker  string
	User    string
	Scale   ScaleMode
	Quality Quality
	MaxFPS  int
	// WindowSize is the first size of session windows; default 1024x720.
	WindowSize fyne.Size
	// Code, if set, joins this support session at once (after signing in
	// when there is no valid saved token).
	Code string
	// HTTPClient reaches the broker. Default http.DefaultClient (which
	// honours HTTPS_PROXY and NO_PROXY).
	HTTPClient *http.Client
	// Dial connects to relays; default the core's (proto/ws).
	Dial viewer.DialFunc
	// PollInterval is the cadence of the host list's presence updates.
	// Default 5 s.
	PollInterval time.Duration
	// Version goes into the Hello and the window title.
	Version string
	// TimePaint measures each paint for the status line (needs a real
	// display; tests leave it off).
	TimePaint bool
	// Now is the clock for token expiry; default time.Now.
	Now func() time.Time
	// Logger receives logs; nil discards. Never a password, token or
	// support code in them.
	Logger *slog.Logger
}

// App is the native viewer: the main window (sign-in, hosts, join) and
// the session windows. Create it with New and show it with Start, then
// run the Fyne app. Its methods must be called on Fyne's goroutine.
type App struct {
	fa       fyne.App
	opt      Options
	prof     *Profile
	log      *slog.Logger
	settings Settings
	key      proto.StaticPrivate
	pins     proto.PinStore

	main   fyne.Window
	signin *signinView
	hosts  *hostsView

	client   *api.Client // signed in; nil before
	user     string
	sessions map[*sessionWindow]bool
	code     string // --code, joined once signed in

	bg sync.WaitGroup // one-shot network calls (sign-in, sign-out)
}

// spawn runs f on its own goroutine, counted in a.bg.
func (a *App) spawn(f func()) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		f()
	}()
}

// New loads the profile and makes the main window (not shown yet).
func New(fa fyne.App, opt Options) (*App, error) {
	if opt.Profile == nil {
		return nil, errors.New("desktop: options: no profile")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = http.DefaultClient
	}
	a := &App{fa: fa, opt: opt, prof: opt.Profile, log: opt.Logger, sessions: map[*sessionWindow]bool{}, code: opt.Code}
	s, err := a.prof.Settings()
	if err != nil {
		a.log.Warn("settings not read; using defaults", "err", err)
	}
	if opt.Broker != "" {
		if s.Broker, err = ParseBrokerURL(opt.Broker); err != nil {
			return nil, err
		}
	}
	if opt.User != "" {
		s.User = opt.User
	}
	if opt.Scale != "" {
		s.Scale = opt.Scale
	}
	if opt.Quality != "" {
		s.Quality = opt.Quality
	}
	if opt.MaxFPS != 0 {
		s.MaxFPS = opt.MaxFPS
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	a.settings = s
	if a.key, err = a.prof.StaticKey(); err != nil {
		return nil, err
	}
	a.pins = a.prof.Pins()

	a.main = fa.NewWindow("Deskway")
	a.main.SetMaster()
	a.signin = newSigninView(a)
	a.hosts = newHostsView(a)
	a.main.Resize(fyne.NewSize(640, 520))
	return a, nil
}

// Start shows the main window: the host list when a saved token still
// works, the sign-in form otherwise.
func (a *App) Start() {
	a.showSignin("")
	a.main.Show()
	t, err := a.prof.Token()
	if err != nil {
		a.log.Warn("saved sign-in not read", "err", err)
	}
	if !t.Valid(a.settings.Broker, a.opt.Now()) {
		return
	}
	c := a.newClient(t.Broker, t.Token)
	a.signin.setBusy("Checking the saved sign-in…")
	a.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		u, err := c.Me(ctx)
		uiDo(func() {
			a.signin.setBusy("")
			switch {
			case err == nil:
				a.signedIn(c, u.Name)
			case api.IsCode(err, api.CodeUnauthorized):
				a.prof.ForgetToken()
				a.showSignin("Your sign-in expired. Please sign in again.")
			default:
				a.showSignin("The broker could not be reached: " + err.Error())
			}
		})
	})
}

func (a *App) newClient(broker, token string) *api.Client {
	ua := "deskway-viewer"
	if a.opt.Version != "" {
		ua += "/" + a.opt.Version
	}
	return &api.Client{BaseURL: broker, HTTPClient: a.opt.HTTPClient, Token: token, UserAgent: ua}
}

func (a *App) showSignin(msg string) {
	a.hosts.stop()
	a.signin.reset(a.settings.Broker, a.settings.User, msg)
	a.main.SetContent(a.signin.content)
	a.main.Canvas().Focus(a.signin.focusTarget())
}

// signedIn switches to the host list and joins --code if given.
func (a *App) signedIn(c *api.Client, user string) {
	a.client, a.user = c, user
	if a.settings.Broker != c.BaseURL || a.settings.User != user {
		a.settings.Broker, a.settings.User = c.BaseURL, user
		if err := a.prof.SaveSettings(a.settings); err != nil {
			a.log.Warn("settings not saved", "err", err)
		}
	}
	a.main.SetContent(a.hosts.content)
	a.hosts.start(c, user)
	if a.code != "" {
		code := a.code
		a.code = ""
		a.joinSupport(code)
	}
}

// signOut ends the broker session and forgets the token.
func (a *App) signOut() {
	if c := a.client; c != nil {
		a.spawn(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c.Logout(ctx)
		})
	}
	a.client = nil
	if err := a.prof.ForgetToken(); err != nil {
		a.log.Warn("token not removed", "err", err)
	}
	a.showSignin("Signed out.")
}

// sessionConfig returns the viewer core's configuration for a session
// window's events.
func (a *App) coreConfig(ev viewer.Events) viewer.Config {
	return viewer.Config{
		Broker:   viewer.APIBroker(a.client),
		Static:   a.key,
		Pins:     a.pins,
		Dial:     a.opt.Dial,
		Events:   ev,
		Software: "deskway-viewer",
		Version:  a.opt.Version,
		User:     a.user,
		Quality:  a.settings.StreamQuality(),
		Logger:   a.log,
	}
}

// joinSupport opens a session window for a support code.
func (a *App) joinSupport(text string) {
	code, err := proto.ParseSupportCode(text)
	if err != nil {
		dialog.ShowError(fmt.Errorf("That is not a support code: it has 9 digits, like 123-456-789."), a.main)
		return
	}
	full := code.String()
	a.openSession("Support session "+code.Nameplate(), a.supportConnect(full), a.redialSupport)
}

func (a *App) supportConnect(code string) connectFunc {
	return func(ctx context.Context, ev viewer.Events) (remote, error) {
		return viewer.Connect(ctx, a.coreConfig(ev), viewer.Target{Code: code})
	}
}

// redialSupport asks for a new code: a support code works once.
func (a *App) redialSupport(parent fyne.Window, done func(connectFunc)) {
	e := widget.NewEntry()
	e.SetPlaceHolder("123-456-789")
	dialog.ShowForm("Join again", "Join", "Cancel", []*widget.FormItem{
		widget.NewFormItem("New code from the customer", e),
	}, func(ok bool) {
		if !ok {
			done(nil)
			return
		}
		code, err := proto.ParseSupportCode(e.Text)
		if err != nil {
			dialog.ShowError(errors.New("That is not a support code: it has 9 digits, like 123-456-789."), parent)
			done(nil)
			return
		}
		done(a.supportConnect(code.String()))
	}, parent)
}

// connectHost asks for the host access password and opens a session
// window. The password goes to OPAQUE in the handshake and nowhere else.
func (a *App) connectHost(h api.Host) {
	a.askPassword(a.main, h, func(c connectFunc) {
		if c != nil {
			a.openSession(h.Name, c, func(parent fyne.Window, done func(connectFunc)) { a.askPassword(parent, h, done) })
		}
	})
}

func (a *App) askPassword(parent fyne.Window, h api.Host, done func(connectFunc)) {
	pw := widget.NewPasswordEntry()
	d := dialog.NewForm("Connect to "+h.Name, "Connect", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Host access password", pw),
	}, func(ok bool) {
		secret := []byte(pw.Text)
		pw.SetText("")
		if !ok || len(secret) == 0 {
			done(nil)
			return
		}
		id := h.ID
		done(func(ctx context.Context, ev viewer.Events) (remote, error) {
			defer clear(secret)
			return viewer.Connect(ctx, a.coreConfig(ev), viewer.Target{HostID: id, Password: secret})
		})
	}, parent)
	d.Resize(fyne.NewSize(420, 180))
	d.Show()
	parent.Canvas().Focus(pw)
}

// openSession opens a session window.
func (a *App) openSession(title string, connect connectFunc, redial func(fyne.Window, func(connectFunc))) *sessionWindow {
	var w *sessionWindow
	w = newSessionWindow(a.fa, sessionConfig{
		Title:     title,
		Connect:   connect,
		Redial:    redial,
		Scale:     a.settings.Scale,
		Size:      a.opt.WindowSize,
		Quality:   a.settings.StreamQuality(),
		PinsPath:  a.prof.PinsPath(),
		TimePaint: a.opt.TimePaint,
		Logger:    a.log.With("window", title),
		OnClosed:  func() { delete(a.sessions, w) },
	})
	a.sessions[w] = true
	w.win.Show()
	return w
}

// showSettings opens the settings dialog.
func (a *App) showSettings() {
	newSettingsDialog(a, a.main).Show()
}

// applySettings saves new settings and sends the stream settings to the
// open sessions.
func (a *App) applySettings(s Settings) error {
	if err := a.prof.SaveSettings(s); err != nil {
		return err
	}
	brokerChanged := s.Broker != a.settings.Broker
	a.settings = s
	q := s.StreamQuality()
	for w := range a.sessions {
		w.setQuality(q)
	}
	if brokerChanged && a.client != nil {
		a.signOut()
	}
	return nil
}

// Container returns the main window's content (for tests and embedding).
func (a *App) Window() fyne.Window { return a.main }

func centered(o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewCenter(container.NewGridWrap(fyne.NewSize(440, o.MinSize().Height), o))
}
