package codec

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

// Lossy rects (Balanced and LowBandwidth): photographic tiles (no
// dominant background, many colours) are grouped into rects of whole
// tiles and sent as baseline JPEG at the caller's quality. Both ends
// decode the JPEG with image/jpeg, whose integer IDCT and colour
// conversion are the same on every platform, so the encoder's model of
// the framebuffer stays exact. Tiles with text or UI never go lossy.

// codeLossy writes the lossy rects to secLossy and their decoded pixels
// into rec.
func (e *Encoder) codeLossy() {
	out := &e.sec[secLossy]
	if e.opts.Mode == Lossless {
		out.uvarint(0)
		return
	}
	runs := e.motion.runs[:0]
	var open []copyRun
	for i := 0; i < len(e.dirty); {
		t := e.dirty[i]
		if e.state[t] != stLossy {
			i++
			continue
		}
		j := i + 1
		for j < len(e.dirty) && e.dirty[j] == e.dirty[j-1]+1 && e.dirty[j]%int32(e.tw) != 0 && e.state[e.dirty[j]] == stLossy {
			j++
		}
		tx, ty := t%int32(e.tw), t/int32(e.tw)
		run := copyRun{x0: tx, x1: tx + int32(j-i), y0: ty, y1: ty + 1}
		merged := false
		for k := range open {
			if o := &open[k]; o.y1 == ty && o.x0 == run.x0 && o.x1 == run.x1 {
				o.y1++
				merged = true
				break
			}
		}
		if !merged {
			open = append(open, run)
		}
		i = j
	}
	runs = append(runs, open...)
	e.motion.runs = runs
	out.uvarint(uint64(len(runs)))
	for _, r := range runs {
		x, y := int(r.x0)*tileSize, int(r.y0)*tileSize
		w, h := int(r.x1-r.x0)*tileSize, int(r.y1-r.y0)*tileSize
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for yy := 0; yy < h; yy++ {
			row := e.cur[(y+yy)*e.w+x:]
			p := img.Pix[yy*img.Stride:]
			for xx := 0; xx < w; xx++ {
				v := row[xx]
				p[xx*4], p[xx*4+1], p[xx*4+2], p[xx*4+3] = byte(v), byte(v>>8), byte(v>>16), 0xff
			}
		}
		e.lossyBuf.Reset()
		if err := jpeg.Encode(&e.lossyBuf, img, &jpeg.Options{Quality: e.quality}); err != nil {
			panic("codec: jpeg encode into memory: " + err.Error()) // cannot fail
		}
		out.uvarint(uint64(r.x0))
		out.uvarint(uint64(r.y0))
		out.uvarint(uint64(r.x1 - r.x0))
		out.uvarint(uint64(r.y1 - r.y0))
		out.uvarint(uint64(e.lossyBuf.Len()))
		out.b = append(out.b, e.lossyBuf.Bytes()...)
		m, err := jpeg.Decode(bytes.NewReader(e.lossyBuf.Bytes()))
		if err != nil {
			panic("codec: jpeg decode of own output: " + err.Error())
		}
		paintImage(e.rec, e.w, x, y, m)
		e.stats.TilesLossy += int64(w * h / (tileSize * tileSize))
	}
}

// paintImage writes a decoded JPEG into fb at (x, y).
func paintImage(fb []uint32, stride, x, y int, m image.Image) {
	b := m.Bounds()
	switch m := m.(type) {
	case *image.YCbCr:
		for yy := 0; yy < b.Dy(); yy++ {
			row := fb[(y+yy)*stride+x:]
			for xx := 0; xx < b.Dx(); xx++ {
				yi := m.YOffset(b.Min.X+xx, b.Min.Y+yy)
				ci := m.COffset(b.Min.X+xx, b.Min.Y+yy)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				row[xx] = uint32(r) | uint32(g)<<8 | uint32(bl)<<16 | opaque
			}
		}
	case *image.Gray:
		for yy := 0; yy < b.Dy(); yy++ {
			row := fb[(y+yy)*stride+x:]
			for xx := 0; xx < b.Dx(); xx++ {
				v := uint32(m.Pix[m.PixOffset(b.Min.X+xx, b.Min.Y+yy)])
				row[xx] = v | v<<8 | v<<16 | opaque
			}
		}
	default:
		for yy := 0; yy < b.Dy(); yy++ {
			row := fb[(y+yy)*stride+x:]
			for xx := 0; xx < b.Dx(); xx++ {
				c := color.RGBAModel.Convert(m.At(b.Min.X+xx, b.Min.Y+yy)).(color.RGBA)
				row[xx] = uint32(c.R) | uint32(c.G)<<8 | uint32(c.B)<<16 | opaque
			}
		}
	}
}
