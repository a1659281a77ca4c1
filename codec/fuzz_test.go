package codec

import (
	"encoding/binary"
	"testing"
)

// fuzzSession returns a keyframe and the updates and raw payloads that
// follow it on a small synthetic screen: text, a scroll, a move, a photo.
func fuzzSession(tb testing.TB) (key []byte, updates, raws [][]byte) {
	e := NewEncoder(EncoderOptions{Mode: Balanced, CacheTiles: 16, MarkSlots: 32, MarkPixels: 1 << 14})
	s := newScreen(96, 64, 42)
	s.text(2, 2, 8, rgb(0, 0, 0), s.pix[0], 0)
	key, err := e.Encode(nil, s.frame(BGRA))
	if err != nil {
		tb.Fatal(err)
	}
	raws = append(raws, joinStreams(e))
	for i := range 5 {
		switch i {
		case 0:
			s.text(2, 20, 8, rgb(0, 0, 0), s.pix[0], 0)
		case 1:
			s.scroll(0, 0, 96, 64, 16)
		case 2:
			s.move(0, 0, 48, 32, 40, 30, s.pix[95])
		case 3:
			s.photo(0, 32, 48, 32)
		case 4:
			s.fill(0, 0, 16, 16, rgb(0, 0, 0))
		}
		u, err := e.Encode(nil, s.frame(BGRA))
		if err != nil {
			tb.Fatal(err)
		}
		updates = append(updates, u)
		raws = append(raws, joinStreams(e))
	}
	return key, updates, raws
}

// joinStreams serialises the encoder's last raw streams for FuzzApply:
// each stream's length, then the streams.
func joinStreams(e *Encoder) []byte {
	var b []byte
	for _, r := range e.ent.raw {
		b = binary.AppendUvarint(b, uint64(len(r)))
	}
	for _, r := range e.ent.raw {
		b = append(b, r...)
	}
	return b
}

// applyJoined splits data as joinStreams made it and applies it.
func (d *Decoder) applyJoined(data []byte) error {
	r := rbuf{b: data}
	var raw [numStreams][]byte
	var lens [numStreams]int
	for i := range lens {
		lens[i] = r.intn(len(data), "length")
	}
	for i := range raw {
		raw[i] = r.bytes(lens[i])
	}
	if r.err != nil {
		return r.err
	}
	if err := splitSections(&raw, &d.secs); err != nil {
		return err
	}
	return d.apply(&d.secs)
}

// FuzzDecode feeds arbitrary updates to a fresh decoder and to one that
// holds a keyframe: errors are fine, panics and unbounded memory are not.
func FuzzDecode(f *testing.F) {
	key, updates, _ := fuzzSession(f)
	f.Add(key)
	for _, u := range updates {
		f.Add(u)
	}
	f.Add([]byte{version})
	f.Add([]byte{version | flagKeyframe | flagPayload, 0xff, 0xff, 0x03, 1, 1, 1, 0x80, 0x20})
	// The decoders are made once per worker (a zstd decoder holds an 8 MiB
	// window); each run first puts them in a known state.
	limits := DecoderOptions{MaxWidth: 512, MaxHeight: 512, MaxCacheTiles: 64, MaxMarkSlots: 64, MaxMarkPixels: 1 << 14}
	fresh, primed := NewDecoder(limits), NewDecoder(limits)
	f.Fuzz(func(t *testing.T, data []byte) {
		fresh.Decode(nil) // an error: now only a keyframe is accepted
		if _, err := fresh.Decode(data); err == nil {
			if fb := fresh.Framebuffer(); fb == nil || fb.Rect.Dx() > 512 || fb.Rect.Dy() > 512 {
				t.Fatalf("Decode(%x) accepted a screen outside the limits", data)
			}
		}
		if _, err := primed.Decode(key); err != nil {
			t.Fatal(err)
		}
		primed.Decode(data)
	})
}

// FuzzApply bypasses zstd and feeds arbitrary raw payloads to the section
// decoder of a decoder that holds a keyframe, reaching every bounds check.
func FuzzApply(f *testing.F) {
	key, _, raws := fuzzSession(f)
	for _, r := range raws {
		f.Add(r)
	}
	d := NewDecoder(DecoderOptions{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The keyframe's state without zstd: header, then its payload.
		if err := d.keyframe(&rbuf{b: key, off: 1}); err != nil {
			t.Fatal(err)
		}
		if err := d.applyJoined(raws[0]); err != nil {
			t.Fatal(err)
		}
		// A reference screen, for copies from it to reach their checks.
		d.refs.save(d.pix, true)
		d.rects = d.rects[:0]
		d.applyJoined(raw)
		for _, r := range d.rects {
			if r.X < 0 || r.Y < 0 || r.W <= 0 || r.H <= 0 || r.X+r.W > d.w || r.Y+r.H > d.h {
				t.Fatalf("apply(%x) reported rect %v outside %dx%d", raw, r, d.w, d.h)
			}
		}
	})
}

// TestFuzzSeedsRoundTrip checks the fuzz seeds themselves decode.
func TestFuzzSeedsRoundTrip(t *testing.T) {
	key, updates, _ := fuzzSession(t)
	d := NewDecoder(DecoderOptions{})
	for i, u := range append([][]byte{key}, updates...) {
		if _, err := d.Decode(u); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
}
