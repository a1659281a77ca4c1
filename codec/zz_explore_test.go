package codec

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"strconv"
	"testing"
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
