//go:build js && wasm

package main

import (
	"context"
	"log/slog"
	"strings"
	"syscall/js"

	"github.com/deskway/deskway/proto"
	"github.com/deskway/deskway/viewer"
)

// consoleHandler is a slog.Handler that prints to the browser's console:
// "level message key=value …" (slog's text handler would cost 30 KB of
// wasm for the same line).
type consoleHandler struct {
	attrs []slog.Attr
}

func (h consoleHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h consoleHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value.Resolve().String())
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	js.Global().Get("console").Call("log", b.String())
	return nil
}

func (h consoleHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return consoleHandler{attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

func (h consoleHandler) WithGroup(string) slog.Handler { return h }

// jsConnect is deskwayCore.connect(opts): see the package documentation.
func jsConnect(this js.Value, args []js.Value) any {
	opts := arg(args, 0)
	return promise(func() (any, error) { return connect(opts) })
}

func connect(opts js.Value) (any, error) {
	on, store := opts.Get("on"), opts.Get("store")
	key, err := loadKey(store)
	if err != nil {
		return nil, err
	}
	pins, err := loadPins(store)
	if err != nil {
		return nil, err
	}
	p := newPainter(opts.Get("screen"), opts.Get("cursor"), on)
	cfg := viewer.Config{
		Broker:   &fetchBroker{base: str(opts, "base")},
		Dial:     dialRelays,
		Static:   key,
		Pins:     pins,
		Software: "deskway-web",
		Version:  version,
		Platform: str(opts, "platform"),
		User:     str(opts, "user"),
		ViewOnly: boolean(opts, "viewOnly"),
		Logger:   slog.New(consoleHandler{}),
		Events: viewer.Events{
			State: func(st viewer.State, err error) {
				msg := ""
				if err != nil || st == viewer.StateClosed {
					msg = viewer.Explain(err)
				}
				call(on, "state", st.String(), msg, kindOf(err))
			},
			Frame:  p.frame,
			Cursor: p.setCursor,
			CursorPos: func(x, y int, visible bool) {
				call(on, "cursorPos", x, y, visible)
			},
			Clipboard: func(text string) { call(on, "clipboard", text) },
			Consent: func(g proto.Perms) {
				call(on, "consent", object(map[string]any{
					"view": g&proto.PermView != 0, "control": g&proto.PermControl != 0, "clipboard": g&proto.PermClipboard != 0,
				}))
			},
			Layout:       func(l proto.Layout) { call(on, "layout", layoutObject(l)) },
			HostViewOnly: func(v bool) { call(on, "hostViewOnly", v) },
			Stats:        func(st viewer.Stats) { call(on, "stats", statsObject(st)) },
		},
	}
	target := viewer.Target{Code: str(opts, "code"), HostID: str(opts, "hostId")}
	if pw := opts.Get("password"); pw.Truthy() {
		target.Password = bytesOf(pw) // a Uint8Array the page wipes
	}
	s, err := viewer.Connect(context.Background(), cfg, target)
	clear(target.Password)
	if err != nil {
		return nil, err
	}
	go s.Run(context.Background())
	return handle(s), nil
}

// handle is the page's handle on a session. Input methods do not block
// (the session queues them); close returns a promise.
func handle(s *viewer.Session) js.Value {
	ok := func(err error) any {
		if err != nil {
			return kindOf(err)
		}
		return js.Undefined()
	}
	fn := func(f func(args []js.Value) any) js.Func {
		return js.FuncOf(func(this js.Value, args []js.Value) any { return f(args) })
	}
	h := object(map[string]any{
		"pointer": fn(func(a []js.Value) any {
			return ok(s.Pointer(arg(a, 0).Int(), arg(a, 1).Int(), viewer.ButtonsFromDOM(arg(a, 2).Int())))
		}),
		"wheel": fn(func(a []js.Value) any {
			mode := arg(a, 2).Int()
			return ok(s.Wheel(viewer.WheelFromDOM(arg(a, 0).Float(), mode), viewer.WheelFromDOM(arg(a, 1).Float(), mode)))
		}),
		"key": fn(func(a []js.Value) any {
			e := arg(a, 0)
			ev, known := viewer.KeyFromDOM(str(e, "code"), str(e, "key"), str(e, "type") == "keydown", boolean(e, "repeat"), modsOf(e))
			if !known {
				return "unknown"
			}
			return ok(s.Key(ev))
		}),
		"text":       fn(func(a []js.Value) any { return ok(s.Text(jsString(arg(a, 0)))) }),
		"ctrlAltDel": fn(func(a []js.Value) any { return ok(s.CtrlAltDel()) }),
		"releaseAll": fn(func(a []js.Value) any { return ok(s.ReleaseAll()) }),
		"clipboard":  fn(func(a []js.Value) any { return ok(s.SendClipboard(jsString(arg(a, 0)))) }),
		"viewOnly":   fn(func(a []js.Value) any { return ok(s.SetViewOnly(arg(a, 0).Truthy())) }),
		"askControl": fn(func(a []js.Value) any { return ok(s.RequestControl()) }),
		"quality": fn(func(a []js.Value) any {
			return ok(s.SetQuality(proto.Quality{
				Mode: proto.QualityMode(arg(a, 0).Int()), Quality: uint8(arg(a, 1).Int()),
				MaxFPS: uint8(arg(a, 2).Int()), ScalePercent: uint8(arg(a, 3).Int()),
			}))
		}),
		"monitor": fn(func(a []js.Value) any { return ok(s.ChooseMonitor(uint32(arg(a, 0).Int()))) }),
		"refresh": fn(func(a []js.Value) any { return ok(s.RequestRefresh()) }),
		"close": fn(func(a []js.Value) any {
			return promise(func() (any, error) { return nil, s.Close() })
		}),
		"stats": fn(func(a []js.Value) any { return statsObject(s.Stats()) }),
	})
	return h
}

// modsOf reads a KeyboardEvent's modifier state.
func modsOf(e js.Value) proto.Mods {
	var m proto.Mods
	if e.Get("getModifierState").Type() != js.TypeFunction {
		return m
	}
	for _, x := range []struct {
		name string
		mod  proto.Mods
	}{
		{"Shift", proto.ModShift}, {"Control", proto.ModControl}, {"Alt", proto.ModAlt}, {"Meta", proto.ModMeta},
		{"AltGraph", proto.ModAltGraph}, {"CapsLock", proto.ModCapsLock}, {"NumLock", proto.ModNumLock}, {"ScrollLock", proto.ModScrollLock},
	} {
		if e.Call("getModifierState", x.name).Truthy() {
			m |= x.mod
		}
	}
	return m
}

func statsObject(st viewer.Stats) js.Value {
	return object(map[string]any{
		"state":       st.State.String(),
		"mode":        st.Mode.String(),
		"hostId":      st.HostID,
		"relay":       st.Relay,
		"sas":         st.SAS,
		"hostKey":     string(st.HostKey),
		"pin":         st.Pin.String(),
		"width":       st.Width,
		"height":      st.Height,
		"rttMs":       float64(st.RTT.Microseconds()) / 1000,
		"handshakeMs": float64(st.Handshake.Microseconds()) / 1000,
		"fps":         st.FPS,
		"inBps":       st.InBytesPerSec,
		"outBps":      st.OutBytesPerSec,
		"decodeMs":    float64(st.DecodeTime.Microseconds()) / 1000,
		"frames":      float64(st.Frames),
		"inBytes":     float64(st.InBytes),
		"outBytes":    float64(st.OutBytes),
		"resumes":     st.Resumes,
		"control":     st.Perms&proto.PermControl != 0,
		"clipboardOK": st.Perms&proto.PermClipboard != 0,
	})
}

func layoutObject(l proto.Layout) js.Value {
	mons := js.Global().Get("Array").New()
	for _, m := range l.Monitors {
		mons.Call("push", object(map[string]any{
			"id": m.ID, "x": m.X, "y": m.Y, "width": m.Width, "height": m.Height, "primary": m.Primary, "name": m.Name,
		}))
	}
	return object(map[string]any{"selected": l.Selected, "monitors": mons})
}
