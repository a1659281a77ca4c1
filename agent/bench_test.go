//go:build linux

package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deskway/deskway/agent"
	"github.com/deskway/deskway/agent/agenttest"
	"github.com/deskway/deskway/agent/platform"
	"github.com/deskway/deskway/codec"
	"github.com/deskway/deskway/internal/testbed"
	"github.com/deskway/deskway/proto"
	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// BenchmarkAgent measures the agent on a 1920x1080 Xvfb: its CPU (user +
// system time of this process, in % of one core) and the frames per
// second it sends, on an idle desktop and on a busy one (a trace of the
// shared corpus replayed onto the X server at its 10 fps by a separate
// process, which draws only the regions that changed between frames, as
// applications do), with the X11 fast path and with the library path.
// The viewer end runs in this process too but only reassembles and
// acknowledges updates; the channel is an in-memory pipe, so no relay
// work is counted.
//
//	go test -run '^$' -bench Agent -benchtime 100x ./agent/
//
// Each iteration is one 100 ms frame interval of wall time.
func BenchmarkAgent(b *testing.B) {
	corpus := testbed.Corpus(b)
	for _, tc := range []struct {
		name    string
		trace   string // "" = idle desktop
		capture string
		fps     int
	}{
		{"idle-10fps-x11", "", "x11", 10},
		{"idle-10fps-library", "", "library", 10},
		{"busy-10fps-x11", "window-drag", "x11", 10},
		{"busy-10fps-library", "window-drag", "library", 10},
		{"typing-10fps-x11", "office-typing", "x11", 10},
		{"busy-max-x11", "window-drag", "x11", 60},
		{"fullmotion-max-x11", "window-drag@fast", "x11", 60},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d := testbed.Xvfb(b, 1920, 1080)
			b.Setenv("DISPLAY", d.Name)
			if tc.trace != "" {
				replay(b, d, filepath.Join(corpus, tc.trace))
			}
			var screen agent.Screen = platform.NewLibCapturer()
			if tc.capture == "x11" {
				c, err := platform.NewX11Capturer(d.Name)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				screen = c
			}
			s, stop := benchSession(b, screen, tc.fps)
			defer stop()
			time.Sleep(time.Second) // first keyframe, replay warmed up

			st0, cpu0, t0 := s.Stats(), cpuTime(), time.Now()
			for b.Loop() {
				time.Sleep(100 * time.Millisecond)
			}
			st1, cpu1, wall := s.Stats(), cpuTime(), time.Since(t0)
			b.ReportMetric(100*float64(cpu1-cpu0)/float64(wall), "cpu-%")
			b.ReportMetric(float64(st1.Frames-st0.Frames)/wall.Seconds(), "frames/s")
			b.ReportMetric(float64(st1.ScreenBytes-st0.ScreenBytes)/wall.Seconds()/1024, "KiB/s")
			b.ReportMetric(float64(st1.Captures-st0.Captures)/wall.Seconds(), "captures/s")
		})
	}
}

// cpuTime is this process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSession runs a support session over an in-memory pipe with a
// viewer that only reassembles and acknowledges.
func benchSession(b *testing.B, screen agent.Screen, fps int) (*agent.Session, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	hch, vch := pipePair(b)
	s := agent.NewSession(hch, agent.SessionConfig{
		Desktop: agent.Desktop{Screen: screen, Prompter: platform.AutoPrompter{Grant: proto.PermView}},
		Mode:    proto.ModeSupport, MaxFPS: fps, Codec: codec.EncoderOptions{Mode: codec.Lossless},
	})
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	vdone := make(chan struct{})
	go func() {
		defer close(vdone)
		hello, _ := proto.Marshal(&proto.Hello{MinVersion: 1, MaxVersion: proto.MsgVersion, Caps: ^proto.Caps(0)})
		vch.Send(ctx, hello, true)
		screen := proto.NewDefragmenter(proto.StreamScreen)
		for {
			m, err := vch.Recv(ctx)
			if err != nil {
				return
			}
			msg, err := proto.Unmarshal(m)
			if err != nil {
				return
			}
			if f, ok := msg.(*proto.Fragment); ok && f.Stream == proto.StreamScreen {
				if _, done, _ := screen.Add(f); done {
					ack, _ := proto.Marshal(&proto.FrameAck{Seq: f.Seq})
					vch.Send(ctx, ack, true)
				}
			}
		}
	}()
	return s, func() {
		cancel()
		<-done
		vch.Close(context.Background(), proto.CloseNormal)
		<-vdone
	}
}

// replay starts a process that draws a corpus trace onto the display at
// 10 fps, in a loop, until the benchmark ends.
//
// A trace name ending in @fast replays its first 12 distinct frames
// back to back, as fast as the X server takes them: a screen where a
// large part changes all the time, to find the agent's own frame rate.
func replay(b *testing.B, d *testbed.Display, dir string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperReplay$")
	fast := ""
	if d, ok := strings.CutSuffix(dir, "@fast"); ok {
		dir, fast = d, "1"
	}
	cmd.Env = append(d.Env(), "DESKWAY_TEST_REPLAY="+dir, "DESKWAY_TEST_REPLAY_FAST="+fast)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// TestHelperReplay is the replaying process of BenchmarkAgent: it puts
// each frame's changed bands (16 rows high, from the leftmost to the
// rightmost changed pixel) onto the root window.
func TestHelperReplay(t *testing.T) {
	dir := os.Getenv("DESKWAY_TEST_REPLAY")
	if dir == "" {
		t.Skip("helper process only")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "frame-*.png"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no frames in %s", dir)
	}
	c, err := xgb.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	scr := xproto.Setup(c).DefaultScreen(c)
	gc, _ := xproto.NewGcontextId(c)
	xproto.CreateGC(c, gc, xproto.Drawable(scr.Root), 0, nil)
	var prev *image.RGBA
	if os.Getenv("DESKWAY_TEST_REPLAY_FAST") != "" {
		var frames []*image.RGBA
		for _, f := range files {
			m, err := loadFrame(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) == 0 || !bytes.Equal(m.Pix, frames[len(frames)-1].Pix) {
				frames = append(frames, m)
			}
			if len(frames) == 12 {
				break
			}
		}
		for i := 0; ; i = (i + 1) % len(frames) {
			putChanged(c, scr.Root, gc, prev, frames[i])
			xproto.GetInputFocus(c).Reply()
			prev = frames[i]
		}
	}
	next := time.Now()
	for i := 0; ; i = (i + 1) % len(files) {
		cur, err := loadFrame(files[i])
		if err != nil {
			t.Fatal(err)
		}
		putChanged(c, scr.Root, gc, prev, cur)
		xproto.GetInputFocus(c).Reply()
		prev = cur
		next = next.Add(100 * time.Millisecond)
		time.Sleep(time.Until(next))
	}
}

func loadFrame(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r, ok := m.(*image.RGBA); ok {
		return r, nil
	}
	r := image.NewRGBA(m.Bounds())
	draw.Draw(r, r.Rect, m, m.Bounds().Min, draw.Src)
	return r, nil
}

func putChanged(c *xgb.Conn, root xproto.Window, gc xproto.Gcontext, prev, cur *image.RGBA) {
	w, h := cur.Rect.Dx(), cur.Rect.Dy()
	const band = 16
	buf := make([]byte, 0, 4*w*band)
	for y0 := 0; y0 < h; y0 += band {
		y1 := min(y0+band, h)
		x0, x1 := w, 0
		for y := y0; y < y1; y++ {
			row := cur.Pix[y*cur.Stride : y*cur.Stride+4*w]
			if prev != nil {
				old := prev.Pix[y*prev.Stride : y*prev.Stride+4*w]
				for x := 0; x < w; x++ {
					if row[4*x] != old[4*x] || row[4*x+1] != old[4*x+1] || row[4*x+2] != old[4*x+2] {
						x0, x1 = min(x0, x), max(x1, x+1)
					}
				}
			} else {
				x0, x1 = 0, w
			}
		}
		if x0 >= x1 {
			continue
		}
		buf = buf[:0]
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				p := cur.Pix[y*cur.Stride+4*x:]
				buf = append(buf, p[2], p[1], p[0], 0) // BGRX
			}
		}
		xproto.PutImage(c, xproto.ImageFormatZPixmap, xproto.Drawable(root), gc,
			uint16(x1-x0), uint16(y1-y0), int16(x0), int16(y0), 0, 24, buf)
	}
}

// BenchmarkPipeline finds the frames per second the session sustains
// when every capture changes (no X server involved): 12 distinct frames
// of a corpus trace played back in a loop through capture (a copy),
// encode, fragments, channel and acks, at the 60 fps cap.
//
//	go test -run '^$' -bench Pipeline -benchtime 50x ./agent/
func BenchmarkPipeline(b *testing.B) {
	for _, trace := range []string{"window-drag", "term-scroll", "web-scroll"} {
		b.Run(trace, func(b *testing.B) {
			files, _ := filepath.Glob(filepath.Join(testbed.Corpus(b), trace, "frame-*.png"))
			sort.Strings(files)
			var frames []codec.Frame
			var last []byte
			for _, f := range files {
				m, err := loadFrame(f)
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(m.Pix, last) {
					frames = append(frames, codec.FrameFromRGBA(m))
					last = m.Pix
				}
				if len(frames) == 12 {
					break
				}
			}
			s, stop := benchSession(b, &agenttest.Screen{Frames: frames}, 60)
			defer stop()
			time.Sleep(time.Second)
			st0, cpu0, t0 := s.Stats(), cpuTime(), time.Now()
			for b.Loop() {
				time.Sleep(100 * time.Millisecond)
			}
			st1, cpu1, wall := s.Stats(), cpuTime(), time.Since(t0)
			n := st1.Frames - st0.Frames
			b.ReportMetric(float64(n)/wall.Seconds(), "frames/s")
			b.ReportMetric(100*float64(cpu1-cpu0)/float64(wall), "cpu-%")
			if n > 0 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(n)/1e6, "cpu-ms/frame")
				b.ReportMetric(float64(st1.ScreenBytes-st0.ScreenBytes)/float64(n)/1024, "KiB/frame")
			}
		})
	}
}
