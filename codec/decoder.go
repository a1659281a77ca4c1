package codec

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"unsafe"
)

// Decoder applies updates from an Encoder to a framebuffer. Every count,
// size and reference in an update is checked before it is used or
// allocated; a bad update returns an error (never panics), after which
// only a keyframe is accepted.
//
// A Decoder is not safe for concurrent use; the image returned by
// Framebuffer may be read between calls to Decode.
type Decoder struct {
	opts DecoderOptions

	fb           *image.RGBA
	pix          []uint32 // fb.Pix seen as pixels
	w, h, tw, th int
	synced       bool

	cache *tileCache
	marks *markDict
	mm    markModel
	rc    rcDecoder
	pm    pixModel
	prc   rcDecoder
	tmm   tileMapModel
	trc   rcDecoder

	ent  streamDecoder
	secs [numSections]rbuf

	copies  []copyRun
	copyTmp []uint32
	// The reference screens (refs.go) and the copies from them.
	refs      refStore
	refCopies []refCopy
	coded     []int32
	rects     []Rect
	markPix   []uint32
	// Of the update being decoded: the learnt marks to read after the
	// tiles, and what is left of the marks' area budget.
	nLearnt, markBudget int
}

// NewDecoder returns a decoder waiting for its first keyframe.
func NewDecoder(opts DecoderOptions) *Decoder {
	if opts.MaxWidth <= 0 {
		opts.MaxWidth = defaultMaxWidth
	}
	if opts.MaxHeight <= 0 {
		opts.MaxHeight = defaultMaxHeight
	}
	if opts.MaxCacheTiles <= 0 {
		opts.MaxCacheTiles = defaultMaxCache
	}
	if opts.MaxMarkSlots <= 0 {
		opts.MaxMarkSlots = defaultMaxSlots
	}
	if opts.MaxMarkPixels <= 0 {
		opts.MaxMarkPixels = defaultMaxMarkPix
	}
	return &Decoder{opts: opts}
}

// Framebuffer returns the decoded screen (alpha 255). It is replaced by a
// new image when a keyframe changes the screen size, and is nil before the
// first keyframe.
func (d *Decoder) Framebuffer() *image.RGBA { return d.fb }

// Decode applies one update and returns the rectangles it changed. The
// rectangles are valid until the next call.
func (d *Decoder) Decode(update []byte) (rects []Rect, err error) {
	rects, err = d.decode(update)
	if err != nil {
		d.synced = false
		if !errors.Is(err, ErrNeedKeyframe) {
			err = fmt.Errorf("codec: decode: %w", err)
		}
	}
	return rects, err
}

func (d *Decoder) decode(update []byte) ([]Rect, error) {
	if len(update) == 0 {
		return nil, corruptf("empty update")
	}
	flags := update[0]
	if flags&0x0f != version || flags&^byte(0x0f|flagKeyframe|flagPayload|flagSavePush|flagSaveRepl) != 0 {
		return nil, corruptf("unknown version or flags %#x", flags)
	}
	save := flags & (flagSavePush | flagSaveRepl)
	if save == flagSavePush|flagSaveRepl || save != 0 && flags&flagKeyframe != 0 {
		return nil, corruptf("bad save flags %#x", flags)
	}
	r := rbuf{b: update, off: 1, sec: "header"}
	key := flags&flagKeyframe != 0
	d.rects = d.rects[:0]
	if key {
		if err := d.keyframe(&r); err != nil {
			return nil, err
		}
		if flags&flagPayload == 0 {
			return nil, corruptf("keyframe without payload")
		}
		d.rects = append(d.rects, Rect{0, 0, d.w, d.h})
	} else if !d.synced {
		return nil, ErrNeedKeyframe
	}
	if save != 0 {
		// The framebuffer as it stands before this update.
		d.refs.save(d.pix, save == flagSavePush)
	}
	if flags&flagPayload == 0 {
		if r.off != len(update) {
			return nil, corruptf("%d bytes after an empty update", len(update)-r.off)
		}
		return d.rects, nil
	}
	maxRaw := 16*d.w*d.h + 1<<16
	if err := d.ent.decode(&r, key, maxRaw, &d.secs); err != nil {
		return nil, err
	}
	if err := d.apply(&d.secs); err != nil {
		return nil, err
	}
	if key {
		d.rects = append(d.rects[:0], Rect{0, 0, d.w, d.h})
	}
	d.synced = true
	return d.rects, nil
}

// keyframe reads the keyframe header and resets the decoder's state.
func (d *Decoder) keyframe(r *rbuf) error {
	w := r.intn(1<<15, "width")
	h := r.intn(1<<15, "height")
	ct := r.intn(1<<30, "cache tiles")
	ms := r.intn(1<<30, "mark slots")
	mp := r.intn(1<<40, "mark pixels")
	if r.err != nil {
		return r.err
	}
	switch {
	case w == 0 || h == 0:
		return corruptf("screen size %dx%d", w, h)
	case w > d.opts.MaxWidth || h > d.opts.MaxHeight:
		return limitf("screen %dx%d exceeds %dx%d", w, h, d.opts.MaxWidth, d.opts.MaxHeight)
	case ct < 1 || ct > d.opts.MaxCacheTiles:
		return limitf("tile cache of %d tiles (limit %d)", ct, d.opts.MaxCacheTiles)
	case ms < 1 || ms > d.opts.MaxMarkSlots:
		return limitf("mark dictionary of %d marks (limit %d)", ms, d.opts.MaxMarkSlots)
	case mp < maxMarkSide*maxMarkSide || mp > d.opts.MaxMarkPixels:
		return limitf("mark dictionary of %d pixels (limit %d)", mp, d.opts.MaxMarkPixels)
	}
	if d.fb == nil || d.w != w || d.h != h {
		d.fb = image.NewRGBA(image.Rect(0, 0, w, h))
		d.pix = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(d.fb.Pix))), w*h)
		d.w, d.h = w, h
		d.tw, d.th = (w+tileSize-1)/tileSize, (h+tileSize-1)/tileSize
	}
	for i := range d.pix {
		d.pix[i] = opaque
	}
	if d.cache == nil || len(d.cache.w) != ct {
		d.cache = newTileCache(ct, false)
	} else {
		d.cache.lru = newLRU(ct, ct)
	}
	if d.marks == nil || len(d.marks.w) != ms || d.marks.lru.budget != mp {
		d.marks = newMarkDict(ms, mp, false)
	} else {
		d.marks.reset()
	}
	d.mm.reset()
	d.pm.reset()
	d.tmm.reset()
	d.refs.reset()
	d.synced = false
	return nil
}

// apply performs the sections of one update on the framebuffer.
func (d *Decoder) apply(secs *[numSections]rbuf) error {
	if err := d.applyCopies(&secs[secOps]); err != nil {
		return err
	}
	if err := d.applyRefCopies(&secs[secOps]); err != nil {
		return err
	}
	if err := d.applyLossy(&secs[secLossy]); err != nil {
		return err
	}
	if err := d.applyMarks(&secs[secMarks], &secs[secMarkPx]); err != nil {
		return err
	}
	if err := d.applyTiles(secs); err != nil {
		return err
	}
	if err := d.learnMarks(); err != nil {
		return err
	}
	for i := range secs {
		if secs[i].err == nil && secs[i].off != len(secs[i].b) {
			return corruptf("%s: %d bytes left over", secs[i].sec, len(secs[i].b)-secs[i].off)
		}
	}
	// Coded tiles enter the cache, in raster order.
	for _, t := range d.coded {
		x, y := int(t)%d.tw*tileSize, int(t)/d.tw*tileSize
		d.cache.put(d.pix, y*d.w+x, d.w, min(tileSize, d.w-x), min(tileSize, d.h-y), 0)
	}
	return nil
}

// readCopy reads copy rect i (what: "copy", "reference copy"): x y w h
// in tiles, dx dy in pixels, the source inside the screen, their area
// counted in area (at most the screen's); and adds its rect to the
// update's. A short read leaves r.err.
func (d *Decoder) readCopy(r *rbuf, i int, what string, area *int) (copyRun, error) {
	x := r.intn(d.tw-1, what+" x")
	y := r.intn(d.th-1, what+" y")
	w := r.intn(d.tw-x, what+" width")
	h := r.intn(d.th-y, what+" height")
	dx := r.sint(d.w, what+" dx")
	dy := r.sint(d.h, what+" dy")
	if r.err != nil {
		return copyRun{}, nil
	}
	x0, y0 := x*tileSize, y*tileSize
	x1, y1 := min((x+w)*tileSize, d.w), min((y+h)*tileSize, d.h)
	if w == 0 || h == 0 || x0+dx < 0 || y0+dy < 0 || x1+dx > d.w || y1+dy > d.h {
		return copyRun{}, corruptf("%s %d: source outside the screen", what, i)
	}
	if *area += (x1 - x0) * (y1 - y0); *area > d.w*d.h {
		return copyRun{}, corruptf("%ss cover more than the screen", what)
	}
	d.rects = append(d.rects, Rect{x0, y0, x1 - x0, y1 - y0})
	return copyRun{int32(x), int32(x + w), int32(y), int32(y + h), vec{int32(dx), int32(dy)}}, nil
}

func (d *Decoder) applyCopies(r *rbuf) error {
	n := r.intn(d.tw*d.th, "copy count")
	d.copies = d.copies[:0]
	area := 0
	for i := 0; i < n && r.err == nil; i++ {
		c, err := d.readCopy(r, i, "copy", &area)
		if err != nil {
			return err
		}
		if r.err == nil {
			d.copies = append(d.copies, c)
		}
	}
	if r.err != nil {
		return r.err
	}
	d.copyTmp = applyCopies(d.pix, d.w, d.h, d.copies, d.copyTmp)
	return nil
}

func (d *Decoder) applyTiles(secs *[numSections]rbuf) error {
	tiles := &secs[secTiles]
	pixSec := &secs[secPixels]
	pixCoding := false
	photo, cache := &secs[secPhoto], &secs[secCache]
	d.coded = d.coded[:0]
	ntiles := d.tw * d.th
	t := -1
	runStart := -1
	n := 0
	if len(tiles.b) > 0 {
		n = tiles.intn(ntiles, "tile count")
		if tiles.err != nil {
			return tiles.err
		}
		d.trc.init(tiles.b[tiles.off:])
		tiles.off = len(tiles.b)
		d.tmm.start()
	}
	prevSlot := -1
	for range n {
		skip, mode := d.tmm.decode(&d.trc)
		if d.trc.overrun() {
			return corruptf("tiles: map truncated")
		}
		if t+skip+1 >= ntiles {
			return corruptf("tiles: tile %d beyond the screen", t+skip+1)
		}
		// Report runs of consecutive tiles in a row as one rect.
		if skip != 0 || (t+1)%d.tw == 0 {
			d.flushRun(runStart, t)
			runStart = t + skip + 1
		}
		t += skip + 1
		x, y := t%d.tw*tileSize, t/d.tw*tileSize
		w, h := min(tileSize, d.w-x), min(tileSize, d.h-y)
		off := y*d.w + x
		switch mode {
		case tileKeep:
		case tilePixels:
			if !pixCoding {
				d.prc.init(pixSec.b)
				pixSec.off = len(pixSec.b)
				pixCoding = true
			}
			d.pm.decode(&d.prc, d.pix, off, d.w, w, h)
			if d.prc.overrun() {
				return corruptf("tile %d: pixel data truncated", t)
			}
		case tilePhoto:
			res := photo.bytes(3 * w * h)
			if photo.err != nil {
				return photo.err
			}
			decodePhoto(res, d.pix, off, d.w, w, h)
		case tileCached:
			s := prevSlot + 1 + cache.sint(len(d.cache.w), "cache slot step")
			prevSlot = s
			if cache.err != nil {
				return cache.err
			}
			if !d.cache.lru.valid(s) || int(d.cache.w[s]) != w || int(d.cache.h[s]) != h {
				return corruptf("tile %d: cache slot %d empty or of another size", t, s)
			}
			d.cache.lru.touch(int32(s))
			d.cache.get(int32(s), d.pix, off, d.w)
			continue
		default:
			return corruptf("tile %d: unknown mode %d", t, mode)
		}
		d.coded = append(d.coded, int32(t))
	}
	d.flushRun(runStart, t)
	return nil
}

// flushRun reports tiles a..b (inclusive, one tile row) as a rect.
func (d *Decoder) flushRun(a, b int) {
	if a < 0 || b < a {
		return
	}
	x, y := a%d.tw*tileSize, a/d.tw*tileSize
	x1 := min((b%d.tw+1)*tileSize, d.w)
	d.rects = append(d.rects, Rect{x, y, x1 - x, min(tileSize, d.h-y)})
}

func (d *Decoder) applyMarks(ms, px *rbuf) error {
	most := d.w * d.h / minMarkPixels
	n := ms.intn(most, "mark count")
	d.nLearnt = ms.intn(most, "learnt mark count")
	if ms.err != nil {
		return ms.err
	}
	d.markBudget = markAreaBudget(d.w, d.h)
	if n+d.nLearnt == 0 {
		return nil
	}
	d.rc.init(px.b)
	px.off = len(px.b)
	mr := &d.mm.refs
	slots := len(d.marks.w)
	prevR, prevB := 0, 0
	for i := 0; i < n; i++ {
		s := mr.decodeRef(&d.rc, slots)
		switch {
		case s == -1:
			var w, h int
			d.markPix, w, h = d.mm.decode(&d.rc, d.markPix)
			if d.rc.overrun() {
				return corruptf("mark %d: mark data truncated", i)
			}
			s = d.marks.add(d.markPix, w, h, 0)
		case s < 0 || !d.marks.lru.valid(int(s)):
			return corruptf("mark %d: bad or empty slot", i)
		default:
			d.marks.lru.touch(s)
		}
		mr.used(s)
		dx, dy := mr.decodePos(&d.rc, 0)
		if d.rc.overrun() {
			return corruptf("mark %d: mark data truncated", i)
		}
		w, h := int(d.marks.w[s])+1, int(d.marks.h[s])+1
		x, b := prevR+dx, prevB+dy
		y := b - h
		if x < 0 || y < 0 || x+w > d.w || b > d.h {
			return corruptf("mark %d: %dx%d at %d,%d outside the screen", i, w, h, x, y)
		}
		if d.markBudget -= w * h; d.markBudget < 0 {
			return corruptf("mark %d: the marks cover the screen too many times", i)
		}
		d.marks.paint(s, d.pix, y*d.w+x, d.w)
		prevR, prevB = x+w, b
	}
	return nil
}

// learnMarks cuts the marks the encoder left to the pixel coder out of
// the framebuffer into the dictionary, reading on in the marks' coder.
func (d *Decoder) learnMarks() error {
	mr := &d.mm.refs
	prevR, prevB := 0, 0
	for i := 0; i < d.nLearnt; i++ {
		dx, dy := mr.decodePos(&d.rc, 1)
		w, h, bg := mr.decodeLearnt(&d.rc)
		if d.rc.overrun() {
			return corruptf("learnt mark %d: data truncated", i)
		}
		x, b := prevR+dx, prevB+dy
		y := b - h
		if x < 0 || y < 0 || x+w > d.w || b > d.h {
			return corruptf("learnt mark %d: %dx%d at %d,%d outside the screen", i, w, h, x, y)
		}
		if d.markBudget -= w * h; d.markBudget < 0 {
			return corruptf("learnt mark %d: the marks cover the screen too many times", i)
		}
		d.markPix = learnMark(d.markPix, d.pix, y*d.w+x, d.w, w, h, bg)
		mr.used(d.marks.add(d.markPix, w, h, 0))
		prevR, prevB = x+w, b
	}
	return nil
}

func (d *Decoder) applyLossy(r *rbuf) error {
	n := r.intn(d.tw*d.th, "lossy rect count")
	for i := 0; i < n; i++ {
		x := r.intn(d.tw, "lossy x")
		y := r.intn(d.th, "lossy y")
		w := r.intn(d.tw, "lossy width")
		h := r.intn(d.th, "lossy height")
		l := r.intn(len(r.b), "lossy length")
		data := r.bytes(l)
		if r.err != nil {
			return r.err
		}
		px, py, pw, ph := x*tileSize, y*tileSize, w*tileSize, h*tileSize
		if w == 0 || h == 0 || px+pw > d.w || py+ph > d.h {
			return corruptf("lossy rect %d outside the screen", i)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != pw || cfg.Height != ph {
			return corruptf("lossy rect %d: bad jpeg header (%v)", i, err)
		}
		m, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return corruptf("lossy rect %d: jpeg: %v", i, err)
		}
		paintImage(d.pix, d.w, px, py, m)
		d.rects = append(d.rects, Rect{px, py, pw, ph})
	}
	return r.err
}
