//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/deskway/deskway/internal/testbed"
)

// BenchmarkViewerRender measures the viewer on Xvfb with software GL
// while the host's screen plays a recorded trace at 10 frames per second:
// every iteration puts one frame of the trace on the host's display
// (frames equal to the previous one are not redrawn, as on the recording
// machine) and waits for the next 100 ms tick. The agent captures and
// encodes (lossless, at most 10 fps), the viewer decodes, hands the
// changed rects to Fyne and paints the 1920x1080 picture 1:1.
//
// Figures, from the viewer's own render log and /proc:
//
//	decode-ms    decoding a screen update (the core's time less the Frame callback)
//	handover-ms  the Frame callback: queueing onto Fyne's goroutine, waiting
//	             for it (a paint in progress) and the copy
//	copy-ms      copying the changed rects into Fyne's image
//	paint-ms     from making the 1080p texture to the end of that paint
//	             (the whole window is painted and swapped)
//	render-ms    decode-ms + copy-ms + paint-ms: the work per frame
//	fps          frames with changes the viewer decoded per second (the
//	             trace repeats frames, so below the 10 put on the host)
//	viewer-cpu-% / agent-cpu-%  process CPU during the playback (100 = one core)
//	idle-cpu-%   the viewer's CPU for 5 s before, nothing changing
//
// Run it long enough for the figures to settle, e.g.
// go test -run '^$' -bench ViewerRender -benchtime 150x ./cmd/deskway-viewer
func BenchmarkViewerRender(b *testing.B) {
	for _, trace := range []string{"web-scroll", "office-typing"} {
		b.Run(trace, func(b *testing.B) { benchRender(b, trace) })
	}
}

var renderLine = regexp.MustCompile(`msg=render .*fps=([0-9.e+-]+) decode_ms=([0-9.e+-]+) handover_ms=([0-9.e+-]+) frames=(\d+) copy_ms=([0-9.e+-]+) paints=(\d+) paint_ms=([0-9.e+-]+)`)

func benchRender(b *testing.B, trace string) {
	frames := loadTrace(b, trace, 100)
	hostD := testbed.Xvfb(b, 1920, 1080)
	viewD := testbed.Xvfb(b, 1940, 1240)
	desk := newHostDesk(b, hostD, frames[0])
	p := startProduct(b)
	agent, code := p.share(b, hostD, "--max-fps", "10")
	v := p.view(b, viewD, code, "--scale", "1:1", "--size", "1920x1170", "--max-fps", "10")
	v.out.wait(b, 90*time.Second, "the session to open", regexp.MustCompile(`session open"`))
	v.out.wait(b, 60*time.Second, "the first picture", renderLine)
	time.Sleep(3 * time.Second) // the first keyframe is not a typical frame
	// Idle: nothing changes on the host.
	const idleFor = 5 * time.Second
	c0 := v.cpuTime(b)
	time.Sleep(idleFor)
	idle := v.cpuTime(b) - c0

	skip := len(v.out.matches(renderLine))
	vcpu0, acpu0 := v.cpuTime(b), agent.cpuTime(b)
	t0 := time.Now()
	next := t0
	i := 1
	for b.Loop() {
		if f := frames[i%len(frames)]; f != nil {
			desk.show(f)
		}
		i++
		next = next.Add(100 * time.Millisecond)
		time.Sleep(time.Until(next))
	}
	elapsed := time.Since(t0)
	vcpu, acpu := v.cpuTime(b)-vcpu0, agent.cpuTime(b)-acpu0
	time.Sleep(1500 * time.Millisecond) // the last stats tick

	var decode, handover, cp, paint, fps float64
	var nframes, paints, ticks int
	for _, m := range v.out.matches(renderLine)[skip:] {
		f := func(i int) float64 { x, _ := strconv.ParseFloat(m[i], 64); return x }
		n, pn := f(4), f(6)
		decode += f(2) * n
		handover += f(3) * n
		cp += f(5) * n
		paint += f(7) * pn
		fps += f(1)
		nframes += int(n)
		paints += int(pn)
		ticks++
	}
	if nframes == 0 || paints == 0 {
		b.Fatalf("no frames rendered during the run (%d render lines)", ticks)
	}
	nf := float64(nframes)
	b.ReportMetric(decode/nf, "decode-ms")
	b.ReportMetric(handover/nf, "handover-ms")
	b.ReportMetric(cp/nf, "copy-ms")
	b.ReportMetric(paint/float64(paints), "paint-ms")
	b.ReportMetric(decode/nf+cp/nf+paint/float64(paints), "render-ms")
	b.ReportMetric(fps/float64(ticks), "fps")
	b.ReportMetric(100*vcpu.Seconds()/elapsed.Seconds(), "viewer-cpu-%")
	b.ReportMetric(100*acpu.Seconds()/elapsed.Seconds(), "agent-cpu-%")
	b.ReportMetric(100*idle.Seconds()/idleFor.Seconds(), "idle-cpu-%")
	b.ReportMetric(0, "ns/op") // wall time per iteration is the 100 ms tick
}

// loadTrace reads up to n frames of a corpus trace, in the X server's
// layout; a frame identical to the one before is nil.
func loadTrace(b *testing.B, trace string, n int) []*xpic {
	b.Helper()
	dir := filepath.Join(testbed.Corpus(b), trace)
	var out []*xpic
	var prev []byte
	for i := range n {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("frame-%05d.png", i)))
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Equal(raw, prev) {
			out = append(out, nil)
			continue
		}
		prev = raw
		out = append(out, toXPic(decodePNG(b, raw)))
	}
	if len(out) == 0 || out[0] == nil {
		b.Fatalf("trace %s has no frames", trace)
	}
	return out
}
