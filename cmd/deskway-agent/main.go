// Command deskway-agent is Deskway's host agent: it shares this
// computer's screen with a viewer and takes its keyboard and mouse input,
// with the consent of the person here.
//
// Modes:
//
//	deskway-agent share --broker URL         quick support: shows a code to read to the technician
//	deskway-agent enroll --broker URL --code CODE   register this computer for unattended access
//	deskway-agent set-password               set the host access password (kept here only)
//	deskway-agent host                       stay reachable for the owner (unattended)
//	deskway-agent -version
//
// Every flag has an environment twin: DESKWAY_ and the flag's name in
// capitals with - as _ (--max-fps is DESKWAY_MAX_FPS). A flag given on
// the command line wins over the environment, which wins over the
// default. The host access password comes from the terminal, from
// DESKWAY_HOST_PASSWORD or from --password-file, never from a flag value.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/envflag"
	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
)

// version is stamped by the build (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `deskway-agent shares this computer's screen with a Deskway viewer.

Usage:
  deskway-agent share --broker URL [flags]        quick support: show a code for the technician
  deskway-agent enroll --broker URL --code CODE   register this computer for unattended access
  deskway-agent set-password [flags]              set the host access password (stays on this computer)
  deskway-agent host [flags]                      stay reachable for the owner (unattended access)
  deskway-agent -version

Run "deskway-agent MODE -h" for the flags of a mode.
`

// options are the flags shared by the modes.
type options struct {
	broker, configDir, logLevel, proxy string
	display, capture, prompt           string
	maxFPS, window                     int
	codecMode                          string
	yes                                bool
	name, code, passwordFile           string
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-version", "--version", "version":
		fmt.Fprintf(stdout, "deskway-agent %s %s/%s\n", version, runtime.GOOS, runtime.GOARCH)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	mode := args[0]
	var o options
	fs := flag.NewFlagSet("deskway-agent "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	defDir := ""
	if d, err := os.UserConfigDir(); err == nil {
		defDir = filepath.Join(d, "deskway")
	}
	fs.StringVar(&o.configDir, "config-dir", defDir, "Directory of the agent's keys, password record and attempt counters (files 0600); by default the user's config directory + /deskway.")
	fs.StringVar(&o.logLevel, "log-level", "warn", "Log level on stderr: debug, info, warn or error.")
	fs.StringVar(&o.proxy, "proxy", "", "HTTP proxy for the broker and relays (http://host:port; HTTPS goes through CONNECT). Default: HTTPS_PROXY, HTTP_PROXY and NO_PROXY from the environment.")
	switch mode {
	case "share", "enroll":
		fs.StringVar(&o.broker, "broker", "", "The broker's URL, e.g. https://deskway.example.com. Required.")
	}
	switch mode {
	case "share", "host":
		fs.StringVar(&o.display, "display", "", "X display to share (Linux). Default: $DISPLAY.")
		fs.StringVar(&o.capture, "capture", "auto", "Screen capture: auto (the X11 fast path with MIT-SHM and DAMAGE where it works, else the library), x11 or library.")
		fs.IntVar(&o.maxFPS, "max-fps", 15, "Most frames per second sent; the viewer may ask for fewer.")
		fs.IntVar(&o.window, "window", 2, "Screen updates that may be unacknowledged before the agent waits and merges changes.")
		fs.StringVar(&o.codecMode, "codec", "lossless", "Default codec mode until the viewer chooses: lossless, balanced or low-bandwidth.")
		fs.StringVar(&o.name, "name", "", "This computer's name as the broker shows it. Default: the host name.")
	}
	switch mode {
	case "share":
		fs.BoolVar(&o.yes, "yes", false, "Grant viewing and control without asking (automation and tests only: the person here is not asked).")
		fs.StringVar(&o.prompt, "prompt", "auto", "How to ask for consent: auto (a window where a display is present, else the terminal), gui or terminal.")
	case "enroll":
		fs.StringVar(&o.code, "code", "", "The one-time enrollment code made in the console. Required.")
		fs.StringVar(&o.name, "name", "", "This computer's name as the broker shows it. Default: the host name.")
	case "set-password":
		fs.StringVar(&o.passwordFile, "password-file", "", "Read the host access password from this file instead of the terminal or DESKWAY_HOST_PASSWORD.")
	case "host":
		fs.StringVar(&o.prompt, "prompt", "auto", "How to show the live indicator: auto, gui or terminal.")
	default:
		fmt.Fprintf(stderr, "deskway-agent: unknown mode %q\n\n%s", mode, usage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := envflag.Apply(fs, nil); err != nil {
		fmt.Fprintf(stderr, "deskway-agent: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "deskway-agent %s: unexpected arguments %q\n", mode, fs.Args())
		return 2
	}
	log := newLogger(stderr, o.logLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch mode {
	case "share":
		err = share(ctx, o, stdout, log)
	case "enroll":
		err = enroll(ctx, o, stdout)
	case "set-password":
		err = setPassword(o, stdout, stderr)
	case "host":
		err = host(ctx, o, stdout, log)
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, agent.ErrEndedByHost):
		return 0
	default:
		fmt.Fprintf(stderr, "deskway-agent %s: %v\n", mode, err)
		return 1
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// httpClient honours --proxy, else the proxy environment variables.
func httpClient(o options) (*http.Client, error) {
	proxy := http.ProxyFromEnvironment
	if o.proxy != "" {
		u, err := url.Parse(o.proxy)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--proxy %q: want http://host:port", o.proxy)
		}
		proxy = http.ProxyURL(u)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:               proxy,
		TLSHandshakeTimeout: 15 * time.Second,
		IdleConnTimeout:     90 * time.Second,
	}}, nil
}

func hostInfo(o options) api.HostInfo {
	name := o.name
	if name == "" {
		name, _ = os.Hostname()
	}
	return api.HostInfo{Name: name, OS: runtime.GOOS + "/" + runtime.GOARCH, Version: version}
}

func client(o options, broker string) (*api.Client, error) {
	if broker == "" {
		return nil, errors.New("--broker is required (or DESKWAY_BROKER)")
	}
	u, err := url.Parse(broker)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("broker URL %q: want https://host[:port]", broker)
	}
	hc, err := httpClient(o)
	if err != nil {
		return nil, err
	}
	return &api.Client{BaseURL: broker, HTTPClient: hc, UserAgent: "deskway-agent/" + version}, nil
}

// runWith opens the desktop and runs run (RunSupport or RunHost) with the
// broker at broker and a session configuration from the flags.
func runWith(ctx context.Context, o options, broker string, info api.HostInfo, stdout io.Writer, log *slog.Logger,
	run func(context.Context, agent.RunConfig) error) error {
	c, err := client(o, broker)
	if err != nil {
		return err
	}
	m, err := codec.ParseMode(o.codecMode)
	if err != nil {
		return err
	}
	d, closeDesktop, err := openDesktop(o, stdout, log)
	if err != nil {
		return err
	}
	defer closeDesktop()
	return run(ctx, agent.RunConfig{
		Client: c, Info: info, Dir: o.configDir, Logger: log,
		Session: agent.SessionConfig{
			Desktop: d, MaxFPS: o.maxFPS, Window: o.window, Codec: codec.EncoderOptions{Mode: m},
			Version: version, Logger: log,
		},
		Status: func(s string) { fmt.Fprintln(stdout, s) },
	})
}

func share(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	return runWith(ctx, o, o.broker, hostInfo(o), stdout, log, agent.RunSupport)
}

func enroll(ctx context.Context, o options, stdout io.Writer) error {
	if o.code == "" {
		return errors.New("--code is required (or DESKWAY_CODE): make one in the console")
	}
	c, err := client(o, o.broker)
	if err != nil {
		return err
	}
	id, err := agent.Enroll(ctx, c, o.configDir, o.code, hostInfo(o))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enrolled as host %s (%s). Next: deskway-agent set-password, then deskway-agent host.\n", id.HostID, id.Name)
	return nil
}

func setPassword(o options, stdout, stderr io.Writer) error {
	var pw []byte
	switch {
	case o.passwordFile != "":
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return err
		}
		pw = []byte(strings.TrimRight(string(b), "\r\n"))
	case os.Getenv("DESKWAY_HOST_PASSWORD") != "":
		pw = []byte(os.Getenv("DESKWAY_HOST_PASSWORD"))
	default:
		fmt.Fprintln(stdout, "Choose the host access password. It stays on this computer: the broker never sees it.")
		fmt.Fprintln(stdout, "Use at least 12 characters or four words, and not your Deskway account password.")
		a, err := readSecret(stdout, "Password: ")
		if err != nil {
			return err
		}
		b, err := readSecret(stdout, "Again: ")
		if err != nil {
			return err
		}
		if string(a) != string(b) {
			return errors.New("the two passwords differ")
		}
		pw = a
	}
	fmt.Fprintln(stdout, "Registering (this takes a moment)…")
	if err := agent.SetPassword(o.configDir, pw); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Host access password set.")
	return nil
}

// readSecret reads a line from the terminal without echo where it can.
func readSecret(w io.Writer, prompt string) ([]byte, error) {
	fmt.Fprint(w, prompt)
	restore := noEcho(os.Stdin)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	restore()
	fmt.Fprintln(w)
	if err != nil && line == "" {
		return nil, fmt.Errorf("read password: %w", err)
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}

func host(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) error {
	id, err := agent.LoadIdentity(o.configDir)
	if err != nil {
		return err
	}
	info := hostInfo(o)
	if o.name == "" && id.Name != "" {
		info.Name = id.Name
	}
	return runWith(ctx, o, id.Broker, info, stdout, log, agent.RunHost)
}

// fallbackPrompter asks with a window and, when the window cannot be
// shown, on the terminal.
type fallbackPrompter struct {
	gui, term agent.Prompter
	log       *slog.Logger
}

func (p fallbackPrompter) Consent(ctx context.Context, viewer string, want proto.Perms, sas string) (proto.Perms, error) {
	got, err := p.gui.Consent(ctx, viewer, want, sas)
	if err != nil && ctx.Err() == nil {
		p.log.Warn("consent window failed; asking on the terminal", "err", err)
		return p.term.Consent(ctx, viewer, want, sas)
	}
	return got, err
}

func (p fallbackPrompter) ShowIndicator(text string) (agent.Indicator, error) {
	ind, err := p.gui.ShowIndicator(text)
	if err != nil {
		p.log.Warn("indicator window failed; showing it on the terminal", "err", err)
		return p.term.ShowIndicator(text)
	}
	return ind, nil
}
