package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

// RunConfig configures RunSupport and RunHost.
type RunConfig struct {
	// Client talks to the broker; its HTTPClient (proxy settings) is
	// also used to reach the relays.
	Client *api.Client
	// Info describes this computer to the broker.
	Info api.HostInfo
	// Dir is the configuration directory (see config.go).
	Dir string
	// Session is the template of every session's configuration: the
	// desktop, frame rate, codec. Mode and Viewer are filled in.
	Session SessionConfig
	// Status receives the lines to show the person at the host ("Your
	// support code is …"); nil discards them.
	Status func(string)
	Logger *slog.Logger
}

func (c *RunConfig) status(format string, args ...any) {
	if c.Status != nil {
		c.Status(fmt.Sprintf(format, args...))
	}
}

func (c *RunConfig) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *RunConfig) wsOptions() *ws.Options {
	return &ws.Options{HTTPClient: c.Client.HTTPClient}
}

func relays(p *api.Pairing) []ws.Relay {
	rs := make([]ws.Relay, len(p.Tickets))
	for i, t := range p.Tickets {
		rs[i] = ws.Relay(t)
	}
	return rs
}

// RunSupport shares this screen for one support session: it gets a
// nameplate from the broker, adds six secret digits made here, shows the
// code, waits for the technician, runs the handshake (the PAKE on the
// whole code) and the session with the customer's consent. A code that
// had three wrong attempts or expired is replaced by a new one. It
// returns when the session ends.
func RunSupport(ctx context.Context, cfg RunConfig) error {
	log := cfg.log()
	for {
		resp, err := cfg.Client.Support(ctx, cfg.Info)
		if err != nil {
			return fmt.Errorf("agent: support: %w", err)
		}
		code, err := proto.NewSupportCode(resp.Nameplate, nil)
		if err != nil {
			return fmt.Errorf("agent: support: %w", err)
		}
		var exhausted bool
		var exMu sync.Mutex
		lim, err := proto.NewLimiter(proto.SupportPolicy,
			&FileLimiterStore{Path: filepath.Join(cfg.Dir, supportDir, resp.SessionID.String()+".state")},
			proto.LimiterOptions{Logger: log, Notify: func(e proto.LimiterEvent) {
				if e == proto.EventCodeExhausted {
					exMu.Lock()
					exhausted = true
					exMu.Unlock()
				}
			}})
		if err != nil {
			return fmt.Errorf("agent: support: %w", err)
		}
		cfg.status("Your support code is %s — read it to the technician. It is valid until %s.", code, resp.Expires.Local().Format("15:04"))
		log.Info("support code", "code", code, "session", resp.SessionID)

		ch, p, err := supportHandshake(ctx, cfg, resp, code, lim)
		switch {
		case err == nil:
		case errors.Is(err, api.ErrSupportExpired), errors.Is(err, proto.ErrCodeExpired):
			cfg.status("The code expired. Here is a new one.")
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			exMu.Lock()
			ex := exhausted
			exMu.Unlock()
			if ex || errors.Is(err, proto.ErrCodeExhausted) {
				cfg.status("Someone entered a wrong code three times; that code no longer works. Here is a new one.")
				continue
			}
			return fmt.Errorf("agent: support: %w", err)
		}
		cfg.status("Connected. The short authentication string is %s.", ch.SAS())
		err = cfg.runSession(ctx, ch, p)
		cfg.status("The session has ended.")
		return err
	}
}

// supportHandshake waits for the technician and runs the handshake.
// A failed attempt that leaves the code alive waits for the next one.
func supportHandshake(ctx context.Context, cfg RunConfig, resp *api.SupportResponse, code proto.SupportCode, lim *proto.Limiter) (*proto.Channel, *api.Pairing, error) {
	for {
		p, err := cfg.Client.WaitSupport(ctx, resp, api.Backoff{})
		if err != nil {
			return nil, nil, err
		}
		cfg.status("A technician is connecting…")
		static, err := proto.NewStaticPrivate(nil)
		if err != nil {
			return nil, nil, err
		}
		conn, err := ws.Dial(ctx, relays(p), cfg.wsOptions())
		if err != nil {
			cfg.log().Warn("relay", "err", err)
			continue
		}
		ch, err := proto.AcceptHost(ctx, conn, proto.HostConfig{
			Mode: proto.ModeSupport, SessionID: p.SessionID, HostID: p.HostID, Static: static,
			Code: code, Limiter: lim, Logger: cfg.Logger,
		})
		if err == nil {
			return ch, p, nil
		}
		conn.Close()
		if st := lim.State(); st.Failures >= proto.SupportPolicy.MaxFailures || errors.Is(err, proto.ErrCodeExhausted) {
			return nil, nil, proto.ErrCodeExhausted
		}
		if errors.Is(err, proto.ErrCodeExpired) || errors.Is(err, proto.ErrCodeUsed) {
			return nil, nil, err
		}
		cfg.status("The technician's code did not match (%v). Waiting for another try.", err)
	}
}

// RunHost keeps this enrolled computer reachable for its owner: a control
// connection to the broker (reconnecting with backoff and jitter), and a
// session for each offer, one at a time, with the host access password
// proved by OPAQUE and the attempt limits of SECURITY.md kept on disk.
func RunHost(ctx context.Context, cfg RunConfig) error {
	log := cfg.log()
	id, err := LoadIdentity(cfg.Dir)
	if err != nil {
		return err
	}
	rec, err := LoadPassword(cfg.Dir)
	if err != nil {
		return err
	}
	lim, err := proto.NewLimiter(proto.UnattendedPolicy, &FileLimiterStore{Path: filepath.Join(cfg.Dir, attemptsFile)},
		proto.LimiterOptions{Logger: log, Notify: func(e proto.LimiterEvent) {
			if e == proto.EventLockdown {
				cfg.status("Too many wrong passwords: only trusted devices may connect now.")
			}
		}})
	if err != nil {
		return fmt.Errorf("agent: host: %w", err)
	}
	trusted := &FilePinStore{Path: filepath.Join(cfg.Dir, trustedFile)}

	offers := make(chan *api.Pairing, 4)
	ctrl := make(chan error, 1)
	go func() {
		ctrl <- cfg.Client.RunControl(ctx, api.ControlConfig{
			HostID: id.HostID, Key: id.Device(), Info: cfg.Info,
			OnOffer: func(p *api.Pairing) {
				select {
				case offers <- p:
				default:
					log.Warn("session offer dropped: too many pending", "session", p.SessionID)
				}
			},
			OnState: func(up bool, err error) {
				if up {
					cfg.status("Online: waiting for sessions.")
				} else {
					cfg.status("Offline (%v); reconnecting…", err)
				}
			},
		})
	}()
	for {
		select {
		case err := <-ctrl:
			return err
		case p := <-offers:
			if p.Mode != proto.ModeUnattended || p.Role != proto.RoleHost {
				log.Warn("unexpected offer", "mode", p.Mode, "role", p.Role)
				continue
			}
			if err := hostSession(ctx, cfg, id, rec, lim, trusted, p); err != nil && ctx.Err() == nil {
				log.Warn("session", "session", p.SessionID, "err", err)
			}
		}
	}
}

func hostSession(ctx context.Context, cfg RunConfig, id *Identity, rec *proto.HostPasswordRecord, lim *proto.Limiter, trusted proto.PinStore, p *api.Pairing) error {
	hctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	conn, err := ws.Dial(hctx, relays(p), cfg.wsOptions())
	if err != nil {
		cancel()
		return err
	}
	ch, err := proto.AcceptHost(hctx, conn, proto.HostConfig{
		Mode: proto.ModeUnattended, SessionID: p.SessionID, HostID: id.HostID, Static: id.Static(),
		Password: rec, Limiter: lim, Trusted: trusted, Logger: cfg.Logger,
	})
	cancel()
	if err != nil {
		conn.Close()
		return err
	}
	cfg.status("%s connected (check %s).", nameOr(p.Viewer, "Your viewer"), ch.SAS())
	err = cfg.runSession(ctx, ch, p)
	cfg.status("Session ended. Waiting for sessions.")
	return err
}

// runSession runs the session of offer p on ch, resuming through fresh
// tickets when its relay fails.
func (c *RunConfig) runSession(ctx context.Context, ch *proto.Channel, p *api.Pairing) error {
	sc := c.Session
	sc.Mode, sc.Viewer = p.Mode, p.Viewer
	sc.Reconnect = c.reconnect(p)
	return NewSession(ch, sc).Run(ctx)
}

// reconnect asks the broker for fresh tickets of the session (with the
// offer's refresh token) and dials its relays again.
func (c *RunConfig) reconnect(p *api.Pairing) func(context.Context) (proto.MsgConn, error) {
	return func(ctx context.Context) (proto.MsgConn, error) {
		np, err := c.Client.Tickets(ctx, p.SessionID, proto.RoleHost, p.RefreshToken)
		if err != nil {
			return nil, err
		}
		return ws.Dial(ctx, relays(np), c.wsOptions())
	}
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
