package codec

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func exLoad(t testing.TB, dir string, i int) *image.RGBA {
	f, err := os.Open(fmt.Sprintf("%s/frame-%05d.png", dir, i))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*image.RGBA)
}

func TestExplore(t *testing.T) {
	dir := os.Getenv("EX_DIR")
	if dir == "" {
		t.Skip()
	}
	a, _ := strconv.Atoi(os.Getenv("EX_FROM"))
	b, _ := strconv.Atoi(os.Getenv("EX_TO"))
	e := NewEncoder(EncoderOptions{})
	d := NewDecoder(DecoderOptions{})
	var out []byte
	for i := 0; i <= b; i++ {
		m := exLoad(t, dir, i)
		s0 := e.Stats()
		var err error
		out, err = e.Encode(out[:0], FrameFromRGBA(m))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode(out); err != nil {
			t.Fatal(err)
		}
		s1 := e.Stats()
		if i >= a && len(out) > 1 {
			var sec, st string
			for k := range s1.SectionBytes {
				if v := s1.SectionBytes[k] - s0.SectionBytes[k]; v > 0 {
					sec += fmt.Sprintf(" %s=%d", SectionNames[k], v)
				}
			}
			for k := range s1.StreamBytes {
				if v := s1.StreamBytes[k] - s0.StreamBytes[k]; v > 0 {
					st += fmt.Sprintf(" %s=%d", StreamNames[k], v)
				}
			}
			fmt.Printf("%d: %d B | raw%s | comp%s | marks new %d ref %d pal %d photo %d\n", i, len(out), sec, st,
				s1.MarksNew-s0.MarksNew, s1.MarksRef-s0.MarksRef, s1.TilesPixels-s0.TilesPixels, s1.TilesPhoto-s0.TilesPhoto)
		}
	}
}

func TestExploreProfile(t *testing.T) {
	dir := os.Getenv("EX_PROF")
	if dir == "" {
		t.Skip()
	}
	n, _ := strconv.Atoi(os.Getenv("EX_N"))
	var frames []*image.RGBA
	for i := 0; i < n; i++ {
		frames = append(frames, exLoad(t, dir, i))
	}
	pf, _ := os.Create(os.Getenv("EX_OUT"))
	pprof.StartCPUProfile(pf)
	reps, _ := strconv.Atoi(os.Getenv("EX_REPS"))
	slow := map[int]bool{}
	for _, f := range strings.Split(os.Getenv("EX_SLOW"), ",") {
		v, _ := strconv.Atoi(f)
		slow[v] = true
	}
	for r := 0; r < reps; r++ {
		e := NewEncoder(EncoderOptions{})
		var out []byte
		for i, m := range frames {
			lab := "other"
			if i == 0 {
				lab = "key"
			} else if slow[i] {
				lab = "slow"
			}
			pprof.Do(context.Background(), pprof.Labels("f", lab), func(context.Context) {
				out, _ = e.Encode(out[:0], FrameFromRGBA(m))
			})
		}
	}
	e := NewEncoder(EncoderOptions{})
	d := NewDecoder(DecoderOptions{})
	var out []byte
	type ft struct {
		i        int
		enc, dec time.Duration
		n        int
	}
	var fts []ft
	for i, m := range frames {
		t0 := time.Now()
		out, _ = e.Encode(out[:0], FrameFromRGBA(m))
		t1 := time.Now()
		if _, err := d.Decode(out); err != nil {
			t.Fatal(err)
		}
		fts = append(fts, ft{i, t1.Sub(t0), time.Since(t1), len(out)})
	}
	pprof.StopCPUProfile()
	sort.Slice(fts, func(a, b int) bool { return fts[a].enc > fts[b].enc })
	for _, f := range fts[:8] {
		fmt.Printf("frame %d: enc %v dec %v %d B\n", f.i, f.enc, f.dec, f.n)
	}
}
