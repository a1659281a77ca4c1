//go:build js && wasm

package main

import (
	"errors"
	"syscall/js"
)

// promise returns a JS Promise settled by work, which runs on a goroutine
// of its own: a js.FuncOf callback must never block, or the page's event
// loop (and with it fetch and WebSocket) stops.
func promise(work func() (any, error)) js.Value {
	return js.Global().Get("Promise").New(js.FuncOf(func(this js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			v, err := work()
			if err != nil {
				reject.Invoke(jsError(err))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	}))
}

// await waits for a JS Promise. It must run on a goroutine of its own
// (see promise), never inside a callback from JS.
func await(p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil // not a promise: a plain value
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	ok := js.FuncOf(func(this js.Value, args []js.Value) any {
		ch <- result{v: arg(args, 0)}
		return nil
	})
	fail := js.FuncOf(func(this js.Value, args []js.Value) any {
		ch <- result{err: errors.New(jsString(arg(args, 0)))}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	p.Call("then", ok, fail)
	r := <-ch
	return r.v, r.err
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// jsString is String(v) for any value.
func jsString(v js.Value) string {
	return js.Global().Call("String", v).String()
}

// jsError makes a JS Error whose message is err's and whose kind names the
// error class for the page (kindOf).
func jsError(err error) js.Value {
	e := js.Global().Get("Error").New(err.Error())
	e.Set("kind", kindOf(err))
	return e
}

// object makes a JS object from a map.
func object(m map[string]any) js.Value {
	o := js.Global().Get("Object").New()
	for k, v := range m {
		o.Set(k, v)
	}
	return o
}

// call calls the function at o[name], if there is one.
func call(o js.Value, name string, args ...any) {
	if o.Type() != js.TypeObject {
		return
	}
	if f := o.Get(name); f.Type() == js.TypeFunction {
		f.Invoke(args...)
	}
}

// str, num and boolean read optional properties.
func str(o js.Value, name string) string {
	if v := o.Get(name); v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

func num(o js.Value, name string) float64 {
	if v := o.Get(name); v.Type() == js.TypeNumber {
		return v.Float()
	}
	return 0
}

func boolean(o js.Value, name string) bool {
	return o.Get(name).Truthy()
}

// bytesOf copies a JS Uint8Array into Go.
func bytesOf(v js.Value) []byte {
	if v.Type() != js.TypeObject || v.Get("byteLength").Type() != js.TypeNumber {
		return nil
	}
	b := make([]byte, v.Get("byteLength").Int())
	js.CopyBytesToGo(b, v)
	return b
}

// uint8Array copies b into a new JS Uint8Array.
func uint8Array(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}
