//go:build js && wasm

package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"syscall/js"
	"time"

	"github.com/deskway/deskway/codec"
)

// benchResult is what deskwayCore.bench reports, as JSON (written by
// hand: encoding/json would add 60 KB of gzip to the wasm).
type benchResult struct {
	Frames  int
	Decoded int
	Bytes   int
	TotalMS float64
	Decode  []float64 // per update
	Paint   []float64 // copy into JS and putImageData
	Rects   []int     // rects changed per update
	Width   int
	Height  int
	// FBSHA256 is the final framebuffer's SHA-256, for checking the
	// decode against the native one.
	FBSHA256 string
}

func (r *benchResult) json() string {
	b := fmt.Appendf(nil, `{"frames":%d,"decoded":%d,"bytes":%d,"total_ms":%s,"width":%d,"height":%d,"fb_sha256":%q`,
		r.Frames, r.Decoded, r.Bytes, strconv.FormatFloat(r.TotalMS, 'f', 3, 64), r.Width, r.Height, r.FBSHA256)
	for _, l := range []struct {
		name string
		v    []float64
	}{{"decode_ms", r.Decode}, {"paint_ms", r.Paint}} {
		b = fmt.Appendf(b, `,%q:[`, l.name)
		for i, x := range l.v {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, x, 'f', 3, 64)
		}
		b = append(b, ']')
	}
	b = append(b, `,"rects":[`...)
	for i, n := range r.Rects {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(append(b, "]}"...))
}

// jsBench is deskwayCore.bench(updates, screen): it decodes the codec
// updates in updates (a Uint8Array of u32 little-endian length, update,
// …) and paints them on the canvas screen the way a session does,
// timing each, and resolves to the figures as JSON. deskway-bench wasm
// drives it in headless Chromium.
func jsBench(this js.Value, args []js.Value) any {
	updates, screen := arg(args, 0), arg(args, 1)
	return promise(func() (any, error) {
		buf := bytesOf(updates)
		dec := codec.NewDecoder(codec.DecoderOptions{})
		p := newPainter(screen, js.Null(), js.Null())
		var r benchResult
		start := time.Now()
		for len(buf) >= 4 {
			n := int(binary.LittleEndian.Uint32(buf))
			if n > len(buf)-4 {
				return nil, fmt.Errorf("bench: update of %d bytes, %d left", n, len(buf)-4)
			}
			up := buf[4 : 4+n]
			buf = buf[4+n:]
			t0 := time.Now()
			rects, err := dec.Decode(up)
			t1 := time.Now()
			if err != nil {
				return nil, fmt.Errorf("bench: update %d: %w", r.Frames, err)
			}
			p.frame(dec.Framebuffer(), rects)
			t2 := time.Now()
			r.Frames++
			r.Bytes += n
			if len(rects) > 0 {
				r.Decoded++
			}
			r.Rects = append(r.Rects, len(rects))
			r.Decode = append(r.Decode, ms(t1.Sub(t0)))
			r.Paint = append(r.Paint, ms(t2.Sub(t1)))
		}
		r.TotalMS = ms(time.Since(start))
		if fb := dec.Framebuffer(); fb != nil {
			sum := sha256.Sum256(fb.Pix)
			r.FBSHA256 = hex.EncodeToString(sum[:])
			r.Width, r.Height = fb.Rect.Dx(), fb.Rect.Dy()
		}
		return r.json(), nil
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
