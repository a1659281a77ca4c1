package desktop

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
)

// BenchmarkDecodeCopy is the viewer's CPU work per frame without the GPU
// part: decode a lossless screen update of a recorded 1920x1080 trace and
// copy its changed rects into the picture handed to Fyne (ns/op is both;
// decode-ms and copy-ms split it). The updates are encoded once, in order,
// before the loop; the loop decodes them in order, starting again with a
// fresh decoder at the first (a keyframe). The GL paint is measured in the
// app, on Xvfb: cmd/deskway-viewer's BenchmarkViewerRender.
//
// keyframe decodes the first frame of web-scroll alone, each time with a
// fresh decoder: the whole 1080p picture, the most a frame can cost.
func BenchmarkDecodeCopy(b *testing.B) {
	for _, c := range []struct {
		name, trace string
		frames      int
	}{{"web-scroll", "web-scroll", 60}, {"office-typing", "office-typing", 60}, {"keyframe", "web-scroll", 1}} {
		b.Run(c.name, func(b *testing.B) { benchDecodeCopy(b, c.trace, c.frames) })
	}
}

func benchDecodeCopy(b *testing.B, trace string, frames int) {
	updates := encodeTrace(b, filepath.Join(testbed.Corpus(b), trace), frames)
	test.NewApp()
	opts := codec.DecoderOptions{MaxWidth: 7680, MaxHeight: 4320}
	scr := newScreen(screenInput{}, ScaleFit)
	var dec *codec.Decoder
	var decodeT, copyT time.Duration
	var px int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(updates) == 0 {
			dec = codec.NewDecoder(opts)
		}
		t0 := time.Now()
		rects, err := dec.Decode(updates[i%len(updates)])
		if err != nil {
			b.Fatalf("Decode(update %d): %v", i%len(updates), err)
		}
		t1 := time.Now()
		scr.update(dec.Framebuffer(), rects)
		copyT += time.Since(t1)
		decodeT += t1.Sub(t0)
		for _, r := range rects {
			px += r.W * r.H
		}
		i++
	}
	b.ReportMetric(float64(decodeT.Microseconds())/1000/float64(i), "decode-ms")
	b.ReportMetric(float64(copyT.Microseconds())/1000/float64(i), "copy-ms")
	b.ReportMetric(float64(px)/float64(i), "changed-px/frame")
}

// encodeTrace encodes up to n frames of a corpus trace losslessly, as the
// agent does for a viewer (the first update is a keyframe).
func encodeTrace(b *testing.B, dir string, n int) [][]byte {
	b.Helper()
	enc := codec.NewEncoder(codec.EncoderOptions{Mode: codec.Lossless})
	var out [][]byte
	for i := range n {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("frame-%05d.png", i)))
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		src, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		img := image.NewRGBA(src.Bounds())
		draw.Draw(img, img.Rect, src, src.Bounds().Min, draw.Src)
		u, err := enc.Encode(nil, codec.FrameFromRGBA(img))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		b.Fatalf("no frames in %s", dir)
	}
	return out
}
