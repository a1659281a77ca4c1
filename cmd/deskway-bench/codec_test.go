package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskway/deskway/codec"
)

// writeTrace makes a small trace in the corpus format: frames of a flat
// screen with a growing bar of text-like stripes and a moving block.
func writeTrace(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		m := image.NewRGBA(image.Rect(0, 0, 160, 96))
		for p := range m.Pix {
			m.Pix[p] = 0xf0
		}
		for x := 0; x < 10+i*8; x++ {
			for y := 10; y < 20; y++ {
				if (x+y)%3 != 0 {
					m.Set(x, y, color.RGBA{0, 0, 0, 0xff})
				}
			}
		}
		for y := 40; y < 70; y++ {
			for x := 20 + i*4; x < 60+i*4; x++ {
				m.Set(x, y, color.RGBA{uint8(x * 5), uint8(y * 3), 200, 0xff})
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("frame-%05d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, m); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	man := fmt.Sprintf(`{"name":"tiny","width":160,"height":96,"fps":10,"frames":%d}`, n)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBenchTrace(t *testing.T) {
	dir := writeTrace(t, 5)
	for _, mode := range []codec.Mode{codec.Lossless, codec.Balanced} {
		res, err := benchTrace(dir, codecFlags{mode: mode, refs: true, stats: true, runs: 2, passes: 2})
		if err != nil {
			t.Fatalf("benchTrace(%v): %v", mode, err)
		}
		if res.Trace != "tiny" || res.Frames != 5 || res.Bytes <= 0 || res.GIFBytes <= 0 || res.NaiveBytes <= 0 || res.Stats == nil {
			t.Errorf("benchTrace(%v) = %+v", mode, res)
		}
		if mode == codec.Lossless && (!res.LosslessVerified || res.FramesExact != 5 || len(res.FrameExact) != 5) {
			t.Errorf("lossless: verified %v, %d exact, per frame %v", res.LosslessVerified, res.FramesExact, res.FrameExact)
		}
		if len(res.EncodeCPUP99Runs) != 2 {
			t.Errorf("%v: %d runs' p99, want 2", mode, len(res.EncodeCPUP99Runs))
		}
		if mode == codec.Balanced && len(res.FramePSNR) != 5 {
			t.Errorf("balanced: %d frame PSNRs, want 5", len(res.FramePSNR))
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatalf("json.Marshal(%v result): %v", mode, err)
		}
		for _, field := range []string{"trace", "frames", "fps", "bytes", "bytes_per_s", "gif_bytes", "naive_bytes", "lossless_verified", "psnr_db", "encode_ms_p50", "encode_ms_p99", "decode_ms_p50", "decode_ms_p99", "peak_heap_bytes"} {
			if !strings.Contains(string(b), `"`+field+`"`) {
				t.Errorf("JSON lacks %q: %s", field, b)
			}
		}
	}
}

func TestRunCodecErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-mode", "fancy", "x"},
		{filepath.Join(t.TempDir(), "missing")},
	} {
		if err := runCodec(args); err == nil {
			t.Errorf("runCodec(%q) = nil, want an error", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	for _, tc := range []struct{ p, want float64 }{{50, 3}, {99, 5}, {100, 5}, {1, 1}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", v, tc.p, got, tc.want)
		}
	}
}
