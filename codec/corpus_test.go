//go:build !js

package codec_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
)

// loadCorpusFrame reads frame i of a corpus trace as RGBA.
func loadCorpusFrame(tb testing.TB, dir string, i int) *image.RGBA {
	tb.Helper()
	f, err := os.Open(filepath.Join(dir, fmt.Sprintf("frame-%05d.png", i)))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		tb.Fatal(err)
	}
	rgba, ok := m.(*image.RGBA)
	if !ok {
		tb.Fatalf("%s: %T, want *image.RGBA", f.Name(), m)
	}
	return rgba
}

func corpusTraces(tb testing.TB) (string, []string) {
	dir := testbed.Corpus(tb)
	var names []string
	for _, n := range []string{"office-typing", "term-scroll", "web-scroll", "window-drag", "photo-mixed"} {
		if _, err := os.Stat(filepath.Join(dir, n, "manifest.json")); err == nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		testbed.Need(tb, "the screen corpus traces", fmt.Errorf("none in %s", dir))
	}
	return dir, names
}

// TestCorpusLossless encodes every frame of every corpus trace and checks
// the decoder reproduces each one exactly (the bench measures the bytes).
func TestCorpusLossless(t *testing.T) {
	testbed.Long(t, "corpus round trip is long; run without -short")
	dir, names := corpusTraces(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var man struct{ Frames int }
			b, err := os.ReadFile(filepath.Join(dir, name, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &man); err != nil {
				t.Fatal(err)
			}
			enc := codec.NewEncoder(codec.EncoderOptions{})
			dec := codec.NewDecoder(codec.DecoderOptions{})
			var u []byte
			for i := 0; i < man.Frames; i++ {
				src := loadCorpusFrame(t, filepath.Join(dir, name), i)
				if u, err = enc.Encode(u[:0], codec.FrameFromRGBA(src)); err != nil {
					t.Fatalf("frame %d: Encode: %v", i, err)
				}
				if _, err := dec.Decode(u); err != nil {
					t.Fatalf("frame %d: Decode: %v", i, err)
				}
				if !bytes.Equal(dec.Framebuffer().Pix, src.Pix) {
					t.Fatalf("frame %d: decoded screen differs from the source", i)
				}
			}
		})
	}
}

// BenchmarkCorpus encodes and decodes the first frames of each trace and
// reports bytes per frame and encode/decode milliseconds per frame.
func BenchmarkCorpus(b *testing.B) {
	dir, names := corpusTraces(b)
	const n = 40
	for _, name := range names {
		frames := make([]*image.RGBA, n)
		for i := range frames {
			frames[i] = loadCorpusFrame(b, filepath.Join(dir, name), i)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var bytesOut, encNs, decNs, count float64
			for b.Loop() {
				enc := codec.NewEncoder(codec.EncoderOptions{})
				dec := codec.NewDecoder(codec.DecoderOptions{})
				var u []byte
				for _, f := range frames {
					b.StartTimer()
					var err error
					u, err = enc.Encode(u[:0], codec.FrameFromRGBA(f))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := dec.Decode(u); err != nil {
						b.Fatal(err)
					}
					bytesOut += float64(len(u))
					count++
				}
				_ = encNs
				_ = decNs
			}
			b.ReportMetric(bytesOut/count, "bytes/frame")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/count, "ms/frame")
		})
	}
}
