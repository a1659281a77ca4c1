// Command deskway-viewer is Deskway's native viewer: sign in to a broker,
// pick a host or type a support code, and work on the remote screen in a
// window of its own (several at once).
//
//	deskway-viewer [--broker URL] [--user NAME]
//	deskway-viewer --broker URL --code 123-456-789   join a support session at once
//	deskway-viewer -version
//
// Every flag has an environment twin: DESKWAY_ and the flag's name in
// capitals with - as _ (--max-fps is DESKWAY_MAX_FPS). A flag given on
// the command line wins over the environment, which wins over the
// remembered settings and the defaults. The proxy comes from HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/deskway/deskway/internal/envflag"
	"github.com/deskway/deskway/viewer/desktop"
)

// version is stamped by the build (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	broker, user, code, configDir string
	scale, quality, logLevel      string
	size                          string
	maxFPS                        int
	poll                          time.Duration
	version                       bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("deskway-viewer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "deskway-viewer shows and controls remote screens through a Deskway broker.\n\nUsage:\n  deskway-viewer [flags]\n  deskway-viewer --broker URL --code CODE   join a support session at once\n\nFlags (each also as DESKWAY_<NAME> in the environment):\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.broker, "broker", "", "The broker's URL, e.g. https://deskway.example.com. Default: the one remembered from the last sign-in.")
	fs.StringVar(&o.user, "user", "", "User name to sign in with. Default: the one remembered from the last sign-in.")
	fs.StringVar(&o.code, "code", "", "Join the support session with this code (123-456-789) once signed in. On a shared machine prefer DESKWAY_CODE: flags show in the process list.")
	fs.StringVar(&o.configDir, "config-dir", "", "Directory of the viewer's settings, sign-in token, pinned host keys and device key (files 0600). Default: the user's config directory + /deskway/viewer.")
	fs.StringVar(&o.scale, "scale", "", "Scaling of session windows: fit (the whole screen in the window, smooth) or 1:1. Default: the remembered setting, else fit.")
	fs.StringVar(&o.quality, "quality", "", "Stream quality to ask hosts for: lossless, balanced or low-bandwidth. Default: the remembered setting, else the host decides.")
	fs.StringVar(&o.size, "size", "1024x720", "First size of session windows, WIDTHxHEIGHT in the toolkit's units (pixels at scale 1).")
	fs.IntVar(&o.maxFPS, "max-fps", 0, "Most frames per second to ask hosts for (1 to 120). Default: the remembered setting, else the host's default.")
	fs.DurationVar(&o.poll, "poll", 5*time.Second, "How often the host list refreshes the hosts' presence.")
	fs.StringVar(&o.logLevel, "log-level", "warn", "Log level on stderr: debug, info, warn or error. Debug logs the render figures every second.")
	fs.BoolVar(&o.version, "version", false, "Print the version and exit.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := envflag.Apply(fs, nil); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "deskway-viewer: %v\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintf(stdout, "deskway-viewer %s %s/%s\n", version, runtime.GOOS, runtime.GOARCH)
		return 0
	}
	opt, err := options2(o)
	if err != nil {
		fmt.Fprintf(stderr, "deskway-viewer: %v\n", err)
		return 2
	}
	opt.Logger = newLogger(stderr, o.logLevel)

	fa := app.NewWithID("com.deskway.viewer")
	v, err := desktop.New(fa, opt)
	if err != nil {
		fmt.Fprintf(stderr, "deskway-viewer: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		fyne.Do(fa.Quit)
	}()
	v.Start()
	fa.Run()
	return 0
}

// options2 turns the command line into the App's options.
func options2(o options) (desktop.Options, error) {
	var w, h int
	dir := o.configDir
	if dir == "" {
		d, err := desktop.DefaultDir()
		if err != nil {
			return desktop.Options{}, err
		}
		dir = d
	}
	opt := desktop.Options{
		Profile:      &desktop.Profile{Dir: dir},
		Broker:       o.broker,
		User:         o.user,
		Code:         o.code,
		Scale:        desktop.ScaleMode(o.scale),
		Quality:      desktop.Quality(o.quality),
		MaxFPS:       o.maxFPS,
		PollInterval: o.poll,
		Version:      version,
		TimePaint:    true,
		HTTPClient: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSHandshakeTimeout: 15 * time.Second,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	if o.broker != "" {
		b, err := desktop.ParseBrokerURL(o.broker)
		if err != nil {
			return opt, fmt.Errorf("--broker: %w", err)
		}
		opt.Broker = b
	}
	if _, err := fmt.Sscanf(o.size, "%dx%d", &w, &h); err != nil || w < 200 || h < 150 || w > 16384 || h > 16384 {
		return opt, fmt.Errorf("--size %q: want WIDTHxHEIGHT, e.g. 1280x800", o.size)
	}
	opt.WindowSize = fyne.NewSize(float32(w), float32(h))
	check := desktop.Settings{Scale: opt.Scale, Quality: opt.Quality, MaxFPS: opt.MaxFPS}
	if err := check.Validate(); err != nil {
		return opt, err
	}
	return opt, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
