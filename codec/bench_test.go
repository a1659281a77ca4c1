package codec

import (
	"fmt"
	"testing"
)

// BenchmarkEncode runs the encoder over synthetic 1920x1080 sessions and
// reports bytes and milliseconds per frame (encode only).
func BenchmarkEncode(b *testing.B) {
	for _, kind := range []string{"idle", "typing", "scroll", "move"} {
		b.Run(kind, func(b *testing.B) {
			s := newScreen(1920, 1080, 1)
			s.fill(100, 80, 1200, 900, 0xFFFFFFFF)
			for y := 0; y < 70; y++ {
				s.text(110, 90+y*12, 140, rgb(0, 0, 0), 0xFFFFFFFF, y)
			}
			s.photo(1400, 100, 400, 300)
			frames := make([]Frame, 8)
			for i := range frames {
				switch kind {
				case "typing":
					s.text(110+i*8, 900, 1, rgb(0, 0, 0), 0xFFFFFFFF, i)
				case "scroll":
					s.scroll(100, 80, 1200, 900, 24)
					s.fill(100, 956, 1200, 24, 0xFFFFFFFF)
					s.text(110, 960, 140, rgb(0, 0, 0), 0xFFFFFFFF, i)
				case "move":
					s.move(1400+i*5-5*min(i, 1), 100+i*3-3*min(i, 1), 400, 300, 1400+i*5+5, 100+i*3+3, 0xFFF0F0F0)
				}
				frames[i] = s.frame(BGRA)
			}
			e := NewEncoder(EncoderOptions{})
			var out []byte
			out, _ = e.Encode(out, frames[0]) // keyframe outside the loop
			b.ReportAllocs()
			var total, n float64
			i := 0
			for b.Loop() {
				i++
				if i%len(frames) == 0 {
					i++ // frames[0] again would be a big jump back
				}
				var err error
				out, err = e.Encode(out[:0], frames[i%len(frames)])
				if err != nil {
					b.Fatal(err)
				}
				total += float64(len(out))
				n++
			}
			b.ReportMetric(total/n, "bytes/frame")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/n, "ms/frame")
		})
	}
}

// BenchmarkDecode measures decoding of a 1920x1080 text keyframe and of
// a scroll update.
func BenchmarkDecode(b *testing.B) {
	s := newScreen(1920, 1080, 2)
	for y := 0; y < 80; y++ {
		s.text(10, 10+y*13, 200, rgb(0, 0, 0), s.pix[0], y)
	}
	e := NewEncoder(EncoderOptions{})
	key, _ := e.Encode(nil, s.frame(RGBA))
	s.scroll(0, 0, 1920, 1080, 39)
	s.fill(0, 1041, 1920, 39, s.pix[0])
	s.text(10, 1045, 200, rgb(0, 0, 0), s.pix[0], 3)
	scroll, _ := e.Encode(nil, s.frame(RGBA))
	b.Run(fmt.Sprintf("keyframe-%dB", len(key)), func(b *testing.B) {
		b.ReportAllocs()
		d := NewDecoder(DecoderOptions{})
		for b.Loop() {
			if _, err := d.Decode(key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/frame")
	})
	b.Run(fmt.Sprintf("scroll-%dB", len(scroll)), func(b *testing.B) {
		b.ReportAllocs()
		d := NewDecoder(DecoderOptions{})
		for b.Loop() {
			if _, err := d.Decode(key); err != nil {
				b.Fatal(err)
			}
			if _, err := d.Decode(scroll); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/key+scroll")
	})
}
