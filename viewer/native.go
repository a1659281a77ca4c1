//go:build !js

package viewer

// The native viewer reaches the broker and the relays through proto/api
// and proto/ws. The browser build leaves both out: they import net/http,
// which alone adds about 0.8 MB of gzip to the wasm; the page's glue
// (cmd/deskway-wasm) uses fetch and the browser's WebSocket instead.

import (
	"context"
	"errors"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/proto/api"
	"github.com/deskway/deskway/proto/ws"
)

var defaultDial DialFunc = DialRelays

// APIBroker adapts a broker API client (signed in with a bearer token or
// a cookie jar) to Broker.
func APIBroker(c *api.Client) Broker { return apiBroker{c} }

type apiBroker struct{ c *api.Client }

func (b apiBroker) Join(ctx context.Context, nameplate string) (*Pairing, error) {
	return pairingOf(b.c.Join(ctx, nameplate))
}

func (b apiBroker) Connect(ctx context.Context, hostID string) (*Pairing, error) {
	return pairingOf(b.c.Connect(ctx, hostID))
}

func (b apiBroker) Tickets(ctx context.Context, id proto.SessionID) (*Pairing, error) {
	return pairingOf(b.c.Tickets(ctx, id, proto.RoleViewer, ""))
}

func pairingOf(p *api.Pairing, err error) (*Pairing, error) {
	var ae *api.Error
	if errors.As(err, &ae) {
		return nil, &BrokerError{Status: ae.Status, Code: ae.Code, Message: ae.Message}
	}
	if err != nil {
		return nil, err
	}
	out := &Pairing{SessionID: p.SessionID, HostID: p.HostID, Mode: p.Mode, Role: p.Role, Owner: p.Owner}
	for _, t := range p.Tickets {
		out.Relays = append(out.Relays, Relay{ID: t.RelayID, URL: t.URL, Ticket: t.Ticket})
	}
	return out, nil
}

// DialRelays races the relays with proto/ws.Dial (MONET-style: the first
// at once, the next after a short stagger) and returns the first paired
// connection.
func DialRelays(ctx context.Context, relays []Relay, onNotice func(relayID, notice string)) (proto.MsgConn, string, error) {
	rs := make([]ws.Relay, len(relays))
	for i, r := range relays {
		rs[i] = ws.Relay{RelayID: r.ID, URL: r.URL, Ticket: r.Ticket}
	}
	c, err := ws.Dial(ctx, rs, &ws.Options{OnNotice: func(id string, n ws.Notice) { onNotice(id, n.Type) }})
	if err != nil {
		var re *ws.RelayError
		if errors.As(err, &re) && re.Code == ws.ClosePairingTimeout {
			return nil, "", wrap(ErrHostOffline, err)
		}
		return nil, "", err
	}
	return c, c.RelayID(), nil
}
