package codec

// downscale shrinks f by the integer factor EncoderOptions.Scale with a
// box filter into an RGBA frame the encoder owns. Partial boxes at the
// right and bottom edges are dropped.
func (e *Encoder) downscale(f Frame) Frame {
	s := e.opts.Scale
	w, h := max(f.Width/s, 1), max(f.Height/s, 1)
	if len(e.scaled) != w*h*4 {
		e.scaled = make([]byte, w*h*4)
	}
	bi, ri := 0, 2 // byte offsets of blue and red
	if f.Format == RGBA {
		bi, ri = 2, 0
	}
	n := uint32(s * s)
	for y := 0; y < h; y++ {
		out := e.scaled[y*w*4:]
		for x := 0; x < w; x++ {
			var r, g, b uint32
			for yy := 0; yy < s && y*s+yy < f.Height; yy++ {
				row := f.Pix[(y*s+yy)*f.Stride:]
				for xx := 0; xx < s && x*s+xx < f.Width; xx++ {
					p := row[(x*s+xx)*4:]
					b += uint32(p[bi])
					g += uint32(p[1])
					r += uint32(p[ri])
				}
			}
			out[x*4], out[x*4+1], out[x*4+2], out[x*4+3] = byte((r+n/2)/n), byte((g+n/2)/n), byte((b+n/2)/n), 0xff
		}
	}
	return Frame{Pix: e.scaled, Stride: w * 4, Width: w, Height: h, Format: RGBA}
}
