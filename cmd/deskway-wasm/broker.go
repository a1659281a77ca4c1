//go:build js && wasm

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"syscall/js"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// fetchBroker is the browser's viewer.Broker: the broker's API
// (docs/api.md) with the page's fetch, which sends the console's session
// cookie (same origin) and the headers the broker's cross-origin
// protection checks. Only the nameplate of a support code is ever in a
// request.
type fetchBroker struct {
	base string // the broker's origin
}

const maxResponse = 1 << 20

func (b *fetchBroker) Join(ctx context.Context, nameplate string) (*viewer.Pairing, error) {
	body := js.Global().Get("JSON").Call("stringify", object(map[string]any{"nameplate": nameplate})).String()
	return b.pairing(ctx, "/support/join", body)
}

func (b *fetchBroker) Connect(ctx context.Context, hostID string) (*viewer.Pairing, error) {
	return b.pairing(ctx, "/hosts/"+js.Global().Call("encodeURIComponent", hostID).String()+"/connect", "")
}

func (b *fetchBroker) Tickets(ctx context.Context, id proto.SessionID) (*viewer.Pairing, error) {
	return b.pairing(ctx, "/sessions/"+id.String()+"/tickets", `{"role":"viewer"}`)
}

// post sends a JSON POST and returns the parsed JSON answer.
func (b *fetchBroker) post(ctx context.Context, path, body string) (js.Value, error) {
	headers := object(map[string]any{"Accept": "application/json"})
	init := map[string]any{"method": "POST", "credentials": "same-origin", "cache": "no-store", "headers": headers}
	if body != "" {
		headers.Set("Content-Type", "application/json")
		init["body"] = body
	}
	abort := js.Global().Get("AbortController").New()
	init["signal"] = abort.Get("signal")
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()
	url := strings.TrimRight(b.base, "/") + "/api/v1" + path
	resp, err := await(js.Global().Call("fetch", url, object(init)))
	if err != nil {
		return js.Value{}, fmt.Errorf("deskway-wasm: POST %s: %w", path, err)
	}
	text, err := await(resp.Call("text"))
	if err != nil {
		return js.Value{}, fmt.Errorf("deskway-wasm: POST %s: read: %w", path, err)
	}
	if text.Type() != js.TypeString || len(text.String()) > maxResponse {
		return js.Value{}, fmt.Errorf("deskway-wasm: POST %s: response exceeds %d bytes", path, maxResponse)
	}
	var v js.Value
	perr := catch(func() { v = js.Global().Get("JSON").Call("parse", text) })
	status := resp.Get("status").Int()
	if !resp.Get("ok").Bool() {
		e := &viewer.BrokerError{Status: status, Code: "internal", Message: resp.Get("statusText").String()}
		if perr == nil && v.Type() == js.TypeObject {
			if eb := v.Get("error"); eb.Type() == js.TypeObject {
				e.Code, e.Message = str(eb, "code"), str(eb, "message")
			}
		}
		return js.Value{}, e
	}
	if perr != nil {
		return js.Value{}, fmt.Errorf("deskway-wasm: POST %s: decode response: %w", path, perr)
	}
	return v, nil
}

// pairing posts and reads an api.Pairing.
func (b *fetchBroker) pairing(ctx context.Context, path, body string) (*viewer.Pairing, error) {
	v, err := b.post(ctx, path, body)
	if err != nil {
		return nil, err
	}
	p := &viewer.Pairing{HostID: str(v, "host_id"), Owner: str(v, "owner")}
	if p.SessionID, err = proto.ParseSessionID(str(v, "session_id")); err != nil {
		return nil, err
	}
	if p.Mode, err = proto.ParseMode(str(v, "mode")); err != nil {
		return nil, err
	}
	if p.Role, err = proto.ParseRole(str(v, "role")); err != nil {
		return nil, err
	}
	ts := v.Get("tickets")
	if ts.Type() != js.TypeObject {
		return p, nil
	}
	for i := range min(ts.Length(), proto.MaxTicketRelays) {
		t := ts.Index(i)
		ticket, err := base64.StdEncoding.DecodeString(str(t, "ticket"))
		if err != nil || len(ticket) > proto.MaxTicketSize {
			return nil, fmt.Errorf("deskway-wasm: pairing: ticket %d malformed", i)
		}
		p.Relays = append(p.Relays, viewer.Relay{ID: str(t, "relay_id"), URL: str(t, "url"), Ticket: ticket})
	}
	return p, nil
}
