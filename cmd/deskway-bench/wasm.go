package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/deskway/deskway/codec"
)

func init() {
	commands["wasm"] = command{
		summary: "decode screen recordings in the browser viewer's wasm core in headless Chromium: ms per frame, fps",
		run:     runWasm,
	}
}

// wasmResult is one trace's figures in Chromium.
type wasmResult struct {
	Trace   string `json:"trace"`
	Mode    string `json:"mode"`
	Frames  int    `json:"frames"`
	Changed int    `json:"changed_frames"` // updates that changed pixels
	Bytes   int    `json:"bytes"`
	// Decode is codec.Decoder.Decode in wasm; Paint the copy into JS and
	// putImageData of the changed rects; Frame both.
	DecodeP50 float64 `json:"decode_ms_p50"`
	DecodeP99 float64 `json:"decode_ms_p99"`
	PaintP50  float64 `json:"paint_ms_p50"`
	PaintP99  float64 `json:"paint_ms_p99"`
	FrameP50  float64 `json:"frame_ms_p50"` // changed frames after the first keyframe
	FrameP99  float64 `json:"frame_ms_p99"`
	FrameMax  float64 `json:"frame_ms_max"`
	// FPS is changed frames (after the first keyframe, which Keyframe
	// times) decoded and painted per second of the time they took; AllFPS
	// counts every update, the keyframe included, over the whole run.
	FPS      float64 `json:"fps"`
	AllFPS   float64 `json:"fps_all_updates"`
	Keyframe float64 `json:"keyframe_ms"`
	Verified bool    `json:"framebuffer_verified"` // final framebuffer equals the native decode
}

// benchPage is the page the bench drives: no viewer UI, just the core.
const benchPage = `<!doctype html><meta charset="utf-8"><title>deskway wasm bench</title>
<canvas id="screen"></canvas>
<script src="/wasm_exec.js"></script>
<script>
globalThis.runBench = async () => {
  const go = new Go();
  const ready = new Promise((r) => { globalThis.deskwayReady = r; });
  const inst = (await WebAssembly.instantiateStreaming(fetch("/deskway.wasm"), go.importObject)).instance;
  go.run(inst);
  await ready;
  const u = new Uint8Array(await (await fetch("/updates.bin")).arrayBuffer());
  return await deskwayCore.bench(u, document.getElementById("screen"));
};
</script>`

func runWasm(args []string) error {
	fs := flag.NewFlagSet("wasm", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: deskway-bench wasm [flags] TRACE_DIR...\n\n"+
			"Encodes each trace natively with the codec, then decodes and paints every update\n"+
			"in headless Chromium with the browser viewer's WebAssembly core (the same code path\n"+
			"as a session: Decode, copy into the canvas's ImageData, putImageData of the changed\n"+
			"rects) and prints ms per frame and frames per second. Build the core first (make wasm).\n\n")
		fs.PrintDefaults()
	}
	var (
		jsonOut   bool
		modeName  = envOr("DESKWAY_BENCH_CODEC_MODE", "lossless")
		static    = envOr("DESKWAY_BENCH_WASM_DIR", "web/static")
		chromium  = os.Getenv("DESKWAY_CHROMIUM")
		maxFrames int
	)
	fs.BoolVar(&jsonOut, "json", false, "Print one JSON object per trace instead of a table.")
	fs.StringVar(&modeName, "mode", modeName, "Codec mode: lossless, balanced or low-bandwidth (env DESKWAY_BENCH_CODEC_MODE; default lossless).")
	fs.StringVar(&static, "static", static, "Directory holding deskway.wasm and wasm_exec.js (env DESKWAY_BENCH_WASM_DIR; default web/static).")
	fs.StringVar(&chromium, "chromium", chromium, "Chromium binary (env DESKWAY_CHROMIUM; default chromium, chromium-browser or google-chrome on the PATH).")
	fs.IntVar(&maxFrames, "frames", 0, "Use only the first N frames of each trace (0 = all).")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode, err := codec.ParseMode(modeName)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no trace directories given")
	}
	if chromium == "" {
		for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(n); err == nil {
				chromium = p
				break
			}
		}
		if chromium == "" {
			return errors.New("no Chromium found: set -chromium or DESKWAY_CHROMIUM")
		}
	}
	wasmBin, err := os.ReadFile(filepath.Join(static, "deskway.wasm"))
	if err != nil {
		return fmt.Errorf("%w (run make wasm)", err)
	}
	wasmExec, err := os.ReadFile(filepath.Join(static, "wasm_exec.js"))
	if err != nil {
		return err
	}

	var updates []byte // the trace being served
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(benchPage))
	})
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(wasmExec)
	})
	mux.HandleFunc("/deskway.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		w.Write(wasmBin)
	})
	mux.HandleFunc("/updates.bin", func(w http.ResponseWriter, r *http.Request) { w.Write(updates) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/"

	dataDir, err := os.MkdirTemp("", "deskway-bench-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.UserDataDir(dataDir), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1920, 1080),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}

	var results []wasmResult
	for _, dir := range fs.Args() {
		var sum string
		updates, sum, err = encodeTrace(dir, mode, maxFrames)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(bctx, 10*time.Minute)
		err := chromedp.Do(ctx, chromedp.Navigate(base)) // a fresh page per trace
		if err == nil {
			var js string
			js, err = chromedp.Run(ctx, chromedp.Evaluate[string](`runBench()`, chromedp.EvalAwaitPromise))
			if err == nil {
				var r wasmResult
				r, err = wasmFigures(js, sum)
				r.Trace, r.Mode = filepath.Base(dir), mode.String()
				results = append(results, r)
			}
		}
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		for _, r := range results {
			enc.Encode(r)
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "trace\tframes\tchanged\tdecode p50\tdecode p99\tpaint p50\tpaint p99\tframe p50\tframe p99\tkeyframe\tfps\tfps all\tverified\t\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.0f\t%.0f\t%v\t\n", r.Trace, r.Frames, r.Changed,
			r.DecodeP50, r.DecodeP99, r.PaintP50, r.PaintP99, r.FrameP50, r.FrameP99, r.Keyframe, r.FPS, r.AllFPS, r.Verified)
	}
	tw.Flush()
	fmt.Printf("ms per frame in headless Chromium (%s), codec mode %s, wasm %d bytes; load average %s\n", chromium, mode, len(wasmBin), loadAvg())
	return nil
}

// encodeTrace encodes a trace's frames natively into the bench's update
// stream (u32 little-endian length, update, …) and returns it with the
// SHA-256 of the final framebuffer as the native decoder sees it.
func encodeTrace(dir string, mode codec.Mode, maxFrames int) ([]byte, string, error) {
	man, err := readManifest(dir)
	if err != nil {
		return nil, "", err
	}
	n := man.Frames
	if maxFrames > 0 {
		n = min(n, maxFrames)
	}
	enc := codec.NewEncoder(codec.EncoderOptions{Mode: mode})
	dec := codec.NewDecoder(codec.DecoderOptions{})
	var out, up []byte
	for i := range n {
		img, err := loadFrame(dir, i)
		if err != nil {
			return nil, "", err
		}
		if up, err = enc.Encode(up[:0], codec.FrameFromRGBA(img)); err != nil {
			return nil, "", fmt.Errorf("%s frame %d: %w", dir, i, err)
		}
		if _, err := dec.Decode(up); err != nil {
			return nil, "", fmt.Errorf("%s frame %d: native decode: %w", dir, i, err)
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(len(up)))
		out = append(out, up...)
	}
	s := sha256.Sum256(dec.Framebuffer().Pix)
	return out, hex.EncodeToString(s[:]), nil
}

// wasmFigures turns deskwayCore.bench's JSON into the trace's figures.
func wasmFigures(js, nativeSum string) (wasmResult, error) {
	var b struct {
		Frames  int       `json:"frames"`
		Decoded int       `json:"decoded"`
		Bytes   int       `json:"bytes"`
		TotalMS float64   `json:"total_ms"`
		Decode  []float64 `json:"decode_ms"`
		Paint   []float64 `json:"paint_ms"`
		Rects   []int     `json:"rects"`
		FB      string    `json:"fb_sha256"`
	}
	if err := json.Unmarshal([]byte(js), &b); err != nil {
		return wasmResult{}, fmt.Errorf("bench result: %w", err)
	}
	if len(b.Decode) != b.Frames || len(b.Paint) != b.Frames || len(b.Rects) != b.Frames || b.Frames == 0 {
		return wasmResult{}, fmt.Errorf("bench result: %d frames, %d decode and %d paint times", b.Frames, len(b.Decode), len(b.Paint))
	}
	r := wasmResult{Frames: b.Frames, Changed: b.Decoded, Bytes: b.Bytes, Verified: b.FB == nativeSum}
	var frame []float64
	var sum float64
	for i := range b.Frames {
		if i > 0 && b.Rects[i] > 0 { // the first keyframe apart: a one-off at the start
			f := b.Decode[i] + b.Paint[i]
			frame = append(frame, f)
			sum += f
		}
	}
	r.DecodeP50, r.DecodeP99 = percentile(b.Decode, 50), percentile(b.Decode, 99)
	r.PaintP50, r.PaintP99 = percentile(b.Paint, 50), percentile(b.Paint, 99)
	r.FrameP50, r.FrameP99 = percentile(frame, 50), percentile(frame, 99)
	if len(frame) > 0 {
		r.FrameMax = slices.Max(frame)
	}
	r.Keyframe = b.Decode[0] + b.Paint[0]
	if sum > 0 {
		r.FPS = float64(len(frame)) / (sum / 1000)
	}
	if b.TotalMS > 0 {
		r.AllFPS = float64(b.Frames) / (b.TotalMS / 1000)
	}
	if !r.Verified {
		return r, fmt.Errorf("the wasm's final framebuffer %s differs from the native decode %s", strings.TrimSpace(b.FB), nativeSum)
	}
	return r, nil
}
