//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"

	"github.com/deskway/deskway/proto"
)

// The page keeps the device key and the pins in IndexedDB (SECURITY.md
// §4.0, §4.3) behind a small store object (viewer.js):
//
//	store.loadKey()          → Promise<Uint8Array | null>
//	store.saveKey(bytes)     → Promise
//	store.loadPins()         → Promise<Array<[hostID, fingerprint]>>
//	store.savePin(id, fp)    → Promise
//
// Pins in IndexedDB are only as trustworthy as the origin that serves this
// code (SECURITY.md §4.11).

// loadKey returns the device's viewer key, making and saving one on first
// use.
func loadKey(store js.Value) (proto.StaticPrivate, error) {
	v, err := await(store.Call("loadKey"))
	if err != nil {
		return proto.StaticPrivate{}, fmt.Errorf("deskway-wasm: load key: %w", err)
	}
	if b := bytesOf(v); len(b) > 0 {
		k, err := proto.StaticPrivateFromBytes(b)
		clear(b)
		if err == nil {
			return k, nil
		}
		// A damaged key is replaced: the host sees a new device.
	}
	k, err := proto.NewStaticPrivate(nil)
	if err != nil {
		return k, err
	}
	raw, _ := k.MarshalBinary()
	_, err = await(store.Call("saveKey", uint8Array(raw)))
	clear(raw)
	if err != nil {
		return k, fmt.Errorf("deskway-wasm: save key: %w", err)
	}
	return k, nil
}

// jsPinStore is a proto.PinStore over the page's store: the pins read at
// connect time, each new pin written through before Pin returns. Only the
// session's connect goroutine uses it (Pin awaits a JS promise).
type jsPinStore struct {
	*proto.MemPinStore
	store js.Value
}

func loadPins(store js.Value) (*jsPinStore, error) {
	v, err := await(store.Call("loadPins"))
	if err != nil {
		return nil, fmt.Errorf("deskway-wasm: load pins: %w", err)
	}
	var pins []proto.PinEntry
	if v.Type() == js.TypeObject {
		for i := range min(v.Length(), proto.MaxPins) {
			e := v.Index(i)
			fp, err := proto.ParseFingerprint(jsString(e.Index(1)))
			if err != nil {
				continue
			}
			pins = append(pins, proto.PinEntry{Name: jsString(e.Index(0)), Fingerprint: fp})
		}
	}
	return &jsPinStore{MemPinStore: proto.NewMemPinStore(pins...), store: store}, nil
}

// Pin implements proto.PinStore.
func (s *jsPinStore) Pin(name string, fp proto.Fingerprint) error {
	if err := s.MemPinStore.Pin(name, fp); err != nil {
		return err
	}
	if _, err := await(s.store.Call("savePin", name, string(fp))); err != nil {
		return fmt.Errorf("deskway-wasm: save pin: %w", err)
	}
	return nil
}
