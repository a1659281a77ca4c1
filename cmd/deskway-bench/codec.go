package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/deskway/deskway/codec"
)

func init() {
	commands["codec"] = command{
		summary: "encode screen recordings with the codec; compare with GIF and a naive tile coder",
		run:     runCodec,
	}
}

// traceManifest is the part of a corpus trace's manifest.json we use.
type traceManifest struct {
	Name   string  `json:"name"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"`
	Frames int     `json:"frames"`
}

// traceResult is one trace's figures; -json prints it as one object.
type traceResult struct {
	Trace            string  `json:"trace"`
	Mode             string  `json:"mode"`
	Frames           int     `json:"frames"`
	FPS              float64 `json:"fps"`
	Bytes            int64   `json:"bytes"`
	BytesPerS        float64 `json:"bytes_per_s"`
	RawBytes         int64   `json:"raw_bytes"`
	RatioToRaw       float64 `json:"ratio_to_raw"`
	GIFBytes         int64   `json:"gif_bytes,omitempty"`
	NaiveBytes       int64   `json:"naive_bytes,omitempty"`
	LosslessVerified bool    `json:"lossless_verified"`
	FramesExact      int     `json:"frames_exact"`
	PSNRdB           dB      `json:"psnr_db"`
	PhotoPSNRdB      dB      `json:"photo_psnr_db,omitempty"`
	TextTilesExact   float64 `json:"text_tiles_exact"`
	EncodeP50        float64 `json:"encode_ms_p50"`
	EncodeP99        float64 `json:"encode_ms_p99"`
	EncodeMax        float64 `json:"encode_ms_max"`
	DecodeP50        float64 `json:"decode_ms_p50"`
	DecodeP99        float64 `json:"decode_ms_p99"`
	// CPU time of the process during each call (all threads): the same
	// figures without the neighbours' load on a busy machine.
	EncodeCPUP50 float64 `json:"encode_cpu_ms_p50"`
	EncodeCPUP99 float64 `json:"encode_cpu_ms_p99"`
	DecodeCPUP50 float64 `json:"decode_cpu_ms_p50"`
	DecodeCPUP99 float64 `json:"decode_cpu_ms_p99"`
	PeakHeap     uint64  `json:"peak_heap_bytes"`
	// EncodeCPUP99Runs is each -runs run's encode p99 (CPU ms), the
	// first pass's first.
	EncodeCPUP99Runs []float64    `json:"encode_cpu_ms_p99_runs,omitempty"`
	FramePSNR        []dB         `json:"frame_psnr_db,omitempty"`
	FrameExact       []bool       `json:"frame_exact,omitempty"`
	Stats            *codec.Stats `json:"stats,omitempty"`
}

// dB is a PSNR; an exact match (+Inf) is JSON null.
type dB float64

func (d dB) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(d), 0) || math.IsNaN(float64(d)) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(float64(d)*100)/100, 'f', -1, 64), nil
}

type codecFlags struct {
	json      bool
	mode      codec.Mode
	quality   int
	refs      bool
	stats     bool
	maxFrames int
	level     int
	verbose   bool
	cpuprof   string
	passes    int
	runs      int
}

func runCodec(args []string) error {
	fs := flag.NewFlagSet("codec", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: deskway-bench codec [flags] TRACE_DIR...\n\n"+
			"Encodes and decodes every frame of each trace (a directory of frame-NNNNN.png\n"+
			"and manifest.json, the corpus format), checks the decoded screens and prints\n"+
			"bytes, speed and the GIF and naive-tile references computed in the same run.\n"+
			"Timings are for GOMAXPROCS as set in the environment (use GOMAXPROCS=1).\n\n")
		fs.PrintDefaults()
	}
	var f codecFlags
	modeName := envOr("DESKWAY_BENCH_CODEC_MODE", "lossless")
	fs.BoolVar(&f.json, "json", false, "Print one JSON object per trace instead of a table.")
	fs.StringVar(&modeName, "mode", modeName, "Codec mode: lossless, balanced or low-bandwidth (env DESKWAY_BENCH_CODEC_MODE; default lossless).")
	fs.IntVar(&f.quality, "quality", envInt("DESKWAY_BENCH_CODEC_QUALITY", 0), "JPEG quality of photo tiles in the lossy modes, 1-100; 0 is the codec's default (env DESKWAY_BENCH_CODEC_QUALITY).")
	fs.BoolVar(&f.refs, "refs", true, "Also compute the full-frame GIF and naive tile+zstd references (a second, slower pass).")
	fs.BoolVar(&f.stats, "stats", false, "Also print where the bytes go: tile counts and raw bytes per payload section.")
	fs.IntVar(&f.maxFrames, "frames", 0, "Use only the first N frames of each trace (0 = all).")
	fs.IntVar(&f.level, "zstd-level", 0, "zstd level of the codec's entropy stage, 1-4 (0 = the codec's default). Unstable: for experiments.")
	fs.BoolVar(&f.verbose, "v", false, "Print each frame's update size and encode time to stderr.")
	fs.IntVar(&f.runs, "runs", 1, "Encode each trace this many times, each with a fresh encoder and timed on its own, and report every run's encode p99 (CPU) with their median and worst: whether a one-pass goal holds run after run, not once. Bytes must come out the same every time.")
	fs.IntVar(&f.passes, "passes", 1, "Encode and decode each trace this many times (a fresh encoder and decoder each time) and take each frame's fastest time: steadier figures on a busy machine. Bytes must come out the same every time.")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "Write a CPU profile of the whole run to this file (look at it with go tool pprof -focus 'codec.*Encode').")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := codec.ParseMode(modeName)
	if err != nil {
		return err
	}
	f.mode = m
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no trace directories given")
	}
	if f.cpuprof != "" {
		fh, err := os.Create(f.cpuprof)
		if err != nil {
			return err
		}
		defer fh.Close()
		if err := pprof.StartCPUProfile(fh); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []traceResult
	for _, dir := range fs.Args() {
		res, err := benchTrace(dir, f)
		if err != nil {
			return err
		}
		if f.json {
			b, err := json.Marshal(res)
			if err != nil {
				return err
			}
			fmt.Println(string(b))
		} else if f.stats {
			printStats(os.Stdout, res)
		}
		results = append(results, res)
	}
	if !f.json {
		printTable(os.Stdout, results, f)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func readManifest(dir string) (traceManifest, error) {
	var m traceManifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: manifest: %w", dir, err)
	}
	if m.Name == "" {
		m.Name = filepath.Base(dir)
	}
	if m.FPS <= 0 {
		m.FPS = 10
	}
	if m.Frames <= 0 {
		return m, fmt.Errorf("%s: manifest has no frame count", dir)
	}
	return m, nil
}

func loadFrame(dir string, i int) (*image.RGBA, error) {
	fh, err := os.Open(filepath.Join(dir, fmt.Sprintf("frame-%05d.png", i)))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fh.Name(), err)
	}
	if m, ok := img.(*image.RGBA); ok {
		return m, nil
	}
	m := image.NewRGBA(img.Bounds())
	draw.Draw(m, m.Bounds(), img, img.Bounds().Min, draw.Src)
	return m, nil
}

func benchTrace(dir string, f codecFlags) (traceResult, error) {
	man, err := readManifest(dir)
	if err != nil {
		return traceResult{}, err
	}
	n := man.Frames
	if f.maxFrames > 0 && f.maxFrames < n {
		n = f.maxFrames
	}
	res := traceResult{Trace: man.Name, Mode: f.mode.String(), Frames: n, FPS: man.FPS, LosslessVerified: true}
	var ms runtime.MemStats
	heap := func() {
		runtime.ReadMemStats(&ms)
		res.PeakHeap = max(res.PeakHeap, ms.HeapAlloc)
	}
	enc, ep, err := encodePass(dir, man.Name, n, f, heap)
	if err != nil {
		return res, err
	}
	for i, u := range ep.updates {
		res.Bytes += int64(len(u))
		if f.verbose {
			fmt.Fprintf(os.Stderr, "%s %d: %d bytes, encode %.2f ms (cpu %.2f ms)\n", man.Name, i, len(u), ep.wall[i], ep.cpu[i])
		}
	}
	// The check: the viewer's decoder, in a pass of its own (it runs on
	// another machine in a session), against the source frames.
	var sse, photoSSE float64
	var samples, photoSamples, textTiles, textExact int64
	dp, err := decodePass(man.Name, ep.updates, func(i int, fb *image.RGBA) error {
		heap()
		src, err := loadFrame(dir, i)
		if err != nil {
			return err
		}
		res.RawBytes += int64(src.Rect.Dx() * src.Rect.Dy() * 3)
		c := compareFrames(src, fb)
		exact := c.sse == 0
		if exact {
			res.FramesExact++
		} else {
			res.LosslessVerified = false
		}
		sse += c.sse
		samples += c.samples
		photoSSE += c.photoSSE
		photoSamples += c.photoSamples
		textTiles += c.textTiles
		textExact += c.textExact
		if f.mode == codec.Lossless {
			res.FrameExact = append(res.FrameExact, exact)
		} else {
			res.FramePSNR = append(res.FramePSNR, dB(psnr(c.sse, c.samples)))
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	st := enc.Stats()
	if f.runs > 1 {
		res.EncodeCPUP99Runs = append(res.EncodeCPUP99Runs, percentile(ep.cpu, 99))
		for run := 1; run < f.runs; run++ {
			_, p, err := encodePass(dir, man.Name, n, f, nil)
			if err != nil {
				return res, fmt.Errorf("%s run %d: %w", man.Name, run+1, err)
			}
			if i := firstDiff(p.updates, ep.updates); i >= 0 {
				return res, fmt.Errorf("%s run %d: frame %d: the update differs from the first run's: the encoder is not deterministic", man.Name, run+1, i)
			}
			res.EncodeCPUP99Runs = append(res.EncodeCPUP99Runs, percentile(p.cpu, 99))
		}
	}
	for pass := 1; pass < f.passes; pass++ {
		if err := timePass(dir, man.Name, n, f, &ep, &dp); err != nil {
			return res, fmt.Errorf("%s pass %d: %w", man.Name, pass+1, err)
		}
	}
	res.PSNRdB = dB(psnr(sse, samples))
	if photoSamples > 0 {
		res.PhotoPSNRdB = dB(psnr(photoSSE, photoSamples))
	}
	if textTiles > 0 {
		res.TextTilesExact = float64(textExact) / float64(textTiles)
	}
	res.BytesPerS = float64(res.Bytes) * man.FPS / float64(n)
	res.RatioToRaw = float64(res.RawBytes) / float64(res.Bytes)
	res.EncodeP50, res.EncodeP99, res.EncodeMax = percentile(ep.wall, 50), percentile(ep.wall, 99), percentile(ep.wall, 100)
	res.DecodeP50, res.DecodeP99 = percentile(dp.wall, 50), percentile(dp.wall, 99)
	res.EncodeCPUP50, res.EncodeCPUP99 = percentile(ep.cpu, 50), percentile(ep.cpu, 99)
	res.DecodeCPUP50, res.DecodeCPUP99 = percentile(dp.cpu, 50), percentile(dp.cpu, 99)
	if f.stats {
		res.Stats = &st
	}
	if f.refs {
		if res.GIFBytes, res.NaiveBytes, err = references(dir, n); err != nil {
			return res, err
		}
	}
	return res, nil
}

// passTimes holds one pass's updates and each call's times in ms: wall
// clock and CPU time of the process.
type passTimes struct {
	updates   [][]byte
	wall, cpu []float64
}

// encodePass encodes the first n frames of a trace with a fresh
// encoder, as an agent does: between two Encode calls runs only the
// next frame's capture, here its PNG decode (which touches more memory
// than a capture). after, if not nil, runs after each call.
func encodePass(dir, name string, n int, f codecFlags, after func()) (*codec.Encoder, passTimes, error) {
	enc := codec.NewEncoder(codec.EncoderOptions{Mode: f.mode, Quality: f.quality, ZstdLevel: f.level})
	var p passTimes
	var update []byte
	for i := 0; i < n; i++ {
		src, err := loadFrame(dir, i)
		if err != nil {
			return nil, p, err
		}
		// Collect the harness's garbage (the PNG decoder allocates every
		// frame) first, so that the GC work it owes does not land inside
		// the timed call: it times the codec alone.
		runtime.GC()
		c0, t0 := cpuNow(), time.Now()
		if f.cpuprof != "" {
			// Each frame's samples carry its trace and number
			// (pprof -tagfocus 'frame=^web-scroll/57$').
			pprof.Do(context.Background(), pprof.Labels("frame", name+"/"+strconv.Itoa(i)), func(context.Context) {
				update, err = enc.Encode(update[:0], codec.FrameFromRGBA(src))
			})
		} else {
			update, err = enc.Encode(update[:0], codec.FrameFromRGBA(src))
		}
		c1, t1 := cpuNow(), time.Now()
		if err != nil {
			return nil, p, fmt.Errorf("%s frame %d: %w", name, i, err)
		}
		p.updates = append(p.updates, bytes.Clone(update))
		p.wall = append(p.wall, float64(t1.Sub(t0))/1e6)
		p.cpu = append(p.cpu, float64(c1-c0)/1e6)
		if after != nil {
			after()
		}
	}
	return enc, p, nil
}

// decodePass decodes the updates with a fresh decoder, one after the
// other as a viewer does; check, if not nil, looks at the framebuffer
// after each (outside the timed call).
func decodePass(name string, updates [][]byte, check func(i int, fb *image.RGBA) error) (passTimes, error) {
	dec := codec.NewDecoder(codec.DecoderOptions{})
	var p passTimes
	for i, u := range updates {
		runtime.GC()
		c0, t0 := cpuNow(), time.Now()
		_, err := dec.Decode(u)
		c1, t1 := cpuNow(), time.Now()
		if err != nil {
			return p, fmt.Errorf("%s frame %d: %w", name, i, err)
		}
		p.wall = append(p.wall, float64(t1.Sub(t0))/1e6)
		p.cpu = append(p.cpu, float64(c1-c0)/1e6)
		if check != nil {
			if err := check(i, dec.Framebuffer()); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// frameCompare holds the differences between a source frame and the
// decoded one. Text tiles are 16x16 tiles of the source with at most 32
// colours (text and UI); photo tiles have more than 64.
type frameCompare struct {
	sse, photoSSE         float64
	samples, photoSamples int64
	textTiles, textExact  int64
}

func compareFrames(src, got *image.RGBA) frameCompare {
	var c frameCompare
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if got == nil || got.Rect.Dx() != w || got.Rect.Dy() != h {
		c.sse, c.samples = math.Inf(1), 1
		return c
	}
	if bytes.Equal(src.Pix, got.Pix) {
		c.samples = int64(w * h * 3)
		return c
	}
	colors := make(map[uint32]struct{}, 256)
	for ty := 0; ty < h; ty += 16 {
		for tx := 0; tx < w; tx += 16 {
			clear(colors)
			var tse float64
			for y := ty; y < min(ty+16, h); y++ {
				a := src.Pix[y*src.Stride+tx*4 : y*src.Stride+min(tx+16, w)*4]
				b := got.Pix[y*got.Stride+tx*4 : y*got.Stride+min(tx+16, w)*4]
				for i := 0; i < len(a); i += 4 {
					colors[uint32(a[i])|uint32(a[i+1])<<8|uint32(a[i+2])<<16] = struct{}{}
					for k := 0; k < 3; k++ {
						d := float64(a[i+k]) - float64(b[i+k])
						tse += d * d
					}
				}
			}
			n := int64((min(ty+16, h) - ty) * (min(tx+16, w) - tx) * 3)
			c.sse += tse
			c.samples += n
			switch {
			case len(colors) <= 32:
				c.textTiles++
				if tse == 0 {
					c.textExact++
				}
			case len(colors) > 64:
				c.photoSSE += tse
				c.photoSamples += n
			}
		}
	}
	return c
}

// timePass encodes and decodes the first n frames of a trace again
// with a fresh encoder and decoder, checks every update is the one of
// the first pass, and lowers each frame's times to this pass's where
// they are faster.
func timePass(dir, name string, n int, f codecFlags, ep, dp *passTimes) error {
	_, p, err := encodePass(dir, name, n, f, nil)
	if err != nil {
		return err
	}
	if i := firstDiff(p.updates, ep.updates); i >= 0 {
		return fmt.Errorf("frame %d: update of %d bytes differs from the first pass's (%d bytes): the encoder is not deterministic", i, len(p.updates[i]), len(ep.updates[i]))
	}
	q, err := decodePass(name, p.updates, nil)
	if err != nil {
		return err
	}
	for i := range p.wall {
		ep.wall[i], ep.cpu[i] = min(ep.wall[i], p.wall[i]), min(ep.cpu[i], p.cpu[i])
		dp.wall[i], dp.cpu[i] = min(dp.wall[i], q.wall[i]), min(dp.cpu[i], q.cpu[i])
	}
	return nil
}

// firstDiff returns the first frame whose update differs between a and
// b (two passes over the same frames), or -1.
func firstDiff(a, b [][]byte) int {
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return i
		}
	}
	return -1
}

func psnr(sse float64, samples int64) float64 {
	if sse == 0 || samples == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sse/float64(samples)))
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// references computes, over the first n frames of a trace, the bytes of
// full-frame GIF (exact palette where a frame has at most 256 colours,
// else Plan 9 without dithering) and of the naive baseline: the 64x64
// tiles that changed since the previous frame, as 24-bit RGB after a
// 4-byte position, into one persistent zstd stream (8 MiB window, default
// level) flushed per frame.
func references(dir string, n int) (gifBytes, naiveBytes int64, err error) {
	var naive bytes.Buffer
	zw, err := zstd.NewWriter(&naive, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20), zstd.WithEncoderCRC(false))
	if err != nil {
		return 0, 0, err
	}
	var prev *image.RGBA
	var buf []byte
	for i := 0; i < n; i++ {
		src, err := loadFrame(dir, i)
		if err != nil {
			return 0, 0, err
		}
		var cw countWriter
		if err := encodeGIF(&cw, src); err != nil {
			return 0, 0, err
		}
		gifBytes += cw.n

		buf = buf[:0]
		b := src.Rect
		for ty := 0; ty < b.Dy(); ty += 64 {
			for tx := 0; tx < b.Dx(); tx += 64 {
				x1, y1 := min(tx+64, b.Dx()), min(ty+64, b.Dy())
				if prev != nil && tileEqual(src, prev, tx, ty, x1, y1) {
					continue
				}
				buf = append(buf, byte(tx>>8), byte(tx), byte(ty>>8), byte(ty))
				for y := ty; y < y1; y++ {
					row := src.Pix[y*src.Stride+tx*4 : y*src.Stride+x1*4]
					for k := 0; k < len(row); k += 4 {
						buf = append(buf, row[k], row[k+1], row[k+2])
					}
				}
			}
		}
		prev = src
		if len(buf) == 0 {
			naiveBytes++ // an empty update still says "nothing changed"
			continue
		}
		naive.Reset()
		if _, err := zw.Write(buf); err != nil {
			return 0, 0, err
		}
		if err := zw.Flush(); err != nil {
			return 0, 0, err
		}
		naiveBytes += int64(naive.Len())
	}
	return gifBytes, naiveBytes, nil
}

func tileEqual(a, b *image.RGBA, x0, y0, x1, y1 int) bool {
	for y := y0; y < y1; y++ {
		if !bytes.Equal(a.Pix[y*a.Stride+x0*4:y*a.Stride+x1*4], b.Pix[y*b.Stride+x0*4:y*b.Stride+x1*4]) {
			return false
		}
	}
	return true
}

func encodeGIF(w io.Writer, m *image.RGBA) error {
	b := m.Rect
	idx := make(map[uint32]uint8, 256)
	var pal color.Palette
	exact := true
	for i := 0; i < len(m.Pix) && exact; i += 4 {
		k := uint32(m.Pix[i]) | uint32(m.Pix[i+1])<<8 | uint32(m.Pix[i+2])<<16
		if _, ok := idx[k]; !ok {
			if len(pal) == 256 {
				exact = false
				break
			}
			idx[k] = uint8(len(pal))
			pal = append(pal, color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff})
		}
	}
	if !exact {
		// What gif.Encode does with Drawer draw.Src and no Quantizer: each
		// pixel to the nearest Plan 9 colour (color.Palette.Index), here
		// memoised per colour because the plain search is slow.
		pal = palette.Plan9
		clear(idx)
		for i := 0; i < len(m.Pix); i += 4 {
			k := uint32(m.Pix[i]) | uint32(m.Pix[i+1])<<8 | uint32(m.Pix[i+2])<<16
			if _, ok := idx[k]; !ok {
				idx[k] = uint8(pal.Index(color.RGBA{m.Pix[i], m.Pix[i+1], m.Pix[i+2], 0xff}))
			}
		}
	}
	p := image.NewPaletted(b, pal)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			o := y*m.Stride + x*4
			p.Pix[y*p.Stride+x] = idx[uint32(m.Pix[o])|uint32(m.Pix[o+1])<<8|uint32(m.Pix[o+2])<<16]
		}
	}
	return gif.Encode(w, p, nil)
}

func printStats(w io.Writer, r traceResult) {
	s := r.Stats
	if s == nil {
		return
	}
	fmt.Fprintf(w, "%s: %d frames (%d key, %d empty), %d B total, %d B raw into zstd\n", r.Trace, s.Frames, s.Keyframes, s.EmptyUpdates, s.Bytes, s.RawBytes)
	fmt.Fprintf(w, "  tiles: %d changed, %d copied (%d rects), %d cache hits, %d pixel, %d photo, %d lossy, %d marks only\n",
		s.TilesChanged, s.TilesCopied, s.Copies, s.TilesCached, s.TilesPixels, s.TilesPhoto, s.TilesLossy, s.TilesKept)
	fmt.Fprintf(w, "  marks: %d new, %d references, %d learnt from the framebuffer\n", s.MarksNew, s.MarksRef, s.MarksLearnt)
	fmt.Fprintf(w, "  reference screens: %d saved, %d tiles copied from them (%d rects)\n", s.RefSaves, s.TilesRefCopied, s.RefCopies)
	var parts []string
	for i, b := range s.SectionBytes {
		parts = append(parts, fmt.Sprintf("%s %d", codec.SectionNames[i], b))
	}
	fmt.Fprintf(w, "  raw section bytes: %s\n", strings.Join(parts, ", "))
	parts = parts[:0]
	for i, b := range s.StreamBytes {
		parts = append(parts, fmt.Sprintf("%s %d", codec.StreamNames[i], b))
	}
	fmt.Fprintf(w, "  compressed stream bytes: %s\n", strings.Join(parts, ", "))
}

func printTable(w io.Writer, results []traceResult, f codecFlags) {
	fmt.Fprintf(w, "deskway-bench codec: mode %s, GOMAXPROCS %d, %s/%s, load %s\n", f.mode, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, loadAvg())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\tframes\tfps\tbytes\tB/s\tx raw\tGIF bytes\tvs GIF\tnaive bytes\tvs naive\tenc p50 ms\tenc p99 ms\tdec p50 ms\tdec p99 ms\tenc cpu p50\tenc cpu p99\tdec cpu p50\tdec cpu p99\tpeak heap MB\texact frames\tPSNR dB\t")
	for _, r := range results {
		vsGIF, vsNaive := "-", "-"
		if r.GIFBytes > 0 {
			vsGIF = fmt.Sprintf("1/%.1f", float64(r.GIFBytes)/float64(r.Bytes))
		}
		if r.NaiveBytes > 0 {
			vsNaive = fmt.Sprintf("1/%.2f", float64(r.NaiveBytes)/float64(r.Bytes))
		}
		fmt.Fprintf(tw, "%s\t%d\t%g\t%d\t%.0f\t%.0f\t%d\t%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%d/%d\t%.1f\t\n",
			r.Trace, r.Frames, r.FPS, r.Bytes, r.BytesPerS, r.RatioToRaw, r.GIFBytes, vsGIF, r.NaiveBytes, vsNaive,
			r.EncodeP50, r.EncodeP99, r.DecodeP50, r.DecodeP99, r.EncodeCPUP50, r.EncodeCPUP99, r.DecodeCPUP50, r.DecodeCPUP99, float64(r.PeakHeap)/(1<<20), r.FramesExact, r.Frames, r.PSNRdB)
	}
	tw.Flush()
	for _, r := range results {
		if len(r.EncodeCPUP99Runs) == 0 {
			continue
		}
		runs := slices.Clone(r.EncodeCPUP99Runs)
		var b strings.Builder
		for _, v := range runs {
			fmt.Fprintf(&b, " %.1f", v)
		}
		slices.Sort(runs)
		fmt.Fprintf(w, "%s: encode cpu p99 of %d one-pass runs (ms):%s; median %.1f, worst %.1f\n", r.Trace, len(runs), b.String(), percentile(runs, 50), runs[len(runs)-1])
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
