package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

// Encoder turns frames into updates for a Decoder. It keeps the previous
// frame, a model of the decoder's framebuffer and the caches both ends
// hold in step.
//
// Pipeline of Encode: change detection (raw rows compared with the
// previous input, then per 16x16 tile) -> motion search over the changed
// tiles (copies from anywhere in the old framebuffer, verified exactly) ->
// tile cache lookups -> marks cut from uniform backgrounds -> lossy rects
// for photographic tiles (Balanced) -> pixel or photo residuals for the
// remaining tiles -> sections -> one persistent zstd stream, flushed.
//
// An Encoder is not safe for concurrent use.
type Encoder struct {
	opts    EncoderOptions
	quality int

	w, h, tw, th int
	raw          []byte      // previous input frame, w*4 bytes per row
	rawFmt       PixelFormat // format of raw
	cur          []uint32    // current source frame
	rec          []uint32    // the decoder's framebuffer, as it will be
	started      bool
	forceKey     bool
	key          bool // the update being made is a keyframe

	cache  *tileCache
	marks  *markDict
	mm     markModel
	rc     rcEncoder
	pm     pixModel
	prc    rcEncoder
	tmm    tileMapModel
	trc    rcEncoder
	trcBuf []byte
	// pixCoding: pixel tiles have been coded into prc this update.
	pixCoding bool

	// Reference screens (refs.go): idle counts the empty updates in a
	// row, since the tiles changed since the last save (touched of them).
	refs      refStore
	refIdx    [numRefs]refIndex // by slot
	saveFlag  byte              // of the next update: the decoder saves its screen (refs.go)
	idle      int
	since     []bool
	touched   int
	refRanked []refVec
	refSigs   []sigEntry
	refSample []sigEntry
	refLeft   []bool   // per tile (findRefMotion)
	refMask   []uint16 // per tile: displacements it voted for (findRefMotion)
	refFull   []int32  // per tile: displacement+1 of a full match (findRefMotion)
	refHits   []refHit
	refCopies []refCopy

	ent *streamEncoder

	// Per-frame scratch.
	sec       [numSections]wbuf
	changed   []bool   // per tile: raw input changed
	diff      []bool   // per tile of a row of tiles: differs from rec (detect)
	state     []uint8  // per tile: tileState
	bg        []uint32 // per tile: background colour (markable tiles)
	few       []bool   // per tile: at most maxPalette colours
	thash     []uint64 // per tile: hash of cur (dirty, not lossy tiles)
	slot      []int32  // per tile: cache slot of a hit
	dirty     []int32  // tiles to code, raster order
	cc        colorCounter
	pal       []uint32
	runs      []markRun // mark labelling (label.go)
	shapes    []int32   // roots of the shapes that may be marks, in seed order
	shapeOf   []int32   // per run: its shape+1, 0 none
	shapeAt   []int32   // per shape: where its runs start in shapeRuns
	shapeRuns []int32
	shapeFill []int32
	cands     []markCand
	learn     []markCand       // marks learnt from the framebuffer
	candCount map[uint64]int32 // new shapes by hash: occurrences this update
	candPix   []uint32
	scaled    []byte
	copyTmp   []uint32
	motion    motionScratch
	lossyBuf  bytes.Buffer

	stats Stats
}

// Stats counts what an Encoder has produced since it was created, for
// profiling where the bytes go.
type Stats struct {
	Frames, Keyframes, EmptyUpdates int
	// Bytes is the total size of the updates; RawBytes what went into zstd.
	Bytes, RawBytes int64
	// SectionBytes is the raw size per payload section (see wire.go).
	SectionBytes [numSections]int64
	// StreamBytes is the compressed size per zstd stream (see entropy.go).
	StreamBytes [numStreams]int64
	// Tile counts by how they were coded.
	TilesChanged, TilesCopied, TilesCached, TilesPixels, TilesPhoto, TilesLossy, TilesKept int64
	// Copies is the number of copy rects; MarksNew and MarksRef count mark
	// definitions and references.
	Copies, MarksNew, MarksRef int64
	// MarksLearnt counts marks the decoder cut from its framebuffer.
	MarksLearnt int64
	// RefSaves counts the screens saved as references, RefCopies the
	// copy rects from them and TilesRefCopied the tiles those explain.
	RefSaves, RefCopies, TilesRefCopied int64
}

// SectionNames names Stats.SectionBytes' entries.
var SectionNames = [numSections]string{"ops", "tiles", "pixels", "photo", "marks", "markpix", "lossy", "cache"}

// StreamNames names Stats.StreamBytes' entries.
var StreamNames = [numStreams]string{"structure", "pixels", "photo", "markpix"}

// Tile states during one Encode.
const (
	stClean  = iota
	stCoded  // pixels, photo or keep
	stCached // cache hit
	stLossy  // inside a lossy rect
	stCopied // covered by a copy
)

// NewEncoder returns an encoder; the first update it produces is a
// keyframe.
func NewEncoder(opts EncoderOptions) *Encoder {
	if opts.CacheTiles <= 0 {
		opts.CacheTiles = defaultCacheTiles
	}
	if opts.MarkSlots <= 0 {
		opts.MarkSlots = defaultMarkSlots
	}
	if opts.MarkPixels < maxMarkSide*maxMarkSide {
		opts.MarkPixels = defaultMarkPixels
	}
	if opts.Scale < 1 {
		opts.Scale = 1
	}
	if opts.ZstdLevel <= 0 || opts.ZstdLevel > 4 {
		opts.ZstdLevel = int(zstd.SpeedDefault)
	}
	q := opts.Quality
	if q <= 0 || q > 100 {
		// image/jpeg always subsamples chroma 4:2:0: it takes about 92 to
		// keep photographs at 40 dB.
		q = 92
		if opts.Mode == LowBandwidth {
			q = 60
		}
	}
	return &Encoder{opts: opts, quality: q, forceKey: true, ent: newStreamEncoder(opts.ZstdLevel)}
}

// ForceKeyframe makes the next update a keyframe, which resets the
// decoder: after a relay fail-over, a refresh request or for a new viewer.
func (e *Encoder) ForceKeyframe() { e.forceKey = true }

// Stats returns the counters since the encoder was created.
func (e *Encoder) Stats() Stats { return e.stats }

// Size returns the size of the frames the decoder sees (after scaling).
func (e *Encoder) Size() (w, h int) { return e.w, e.h }

func (f *Frame) check() error {
	if f.Width <= 0 || f.Height <= 0 || f.Width > 1<<15 || f.Height > 1<<15 {
		return fmt.Errorf("codec: encode: bad frame size %dx%d", f.Width, f.Height)
	}
	if f.Format != BGRA && f.Format != RGBA {
		return fmt.Errorf("codec: encode: unknown pixel format %v", f.Format)
	}
	if f.Stride < f.Width*4 || len(f.Pix) < f.Stride*(f.Height-1)+f.Width*4 {
		return fmt.Errorf("codec: encode: stride %d or %d bytes too small for %dx%d", f.Stride, len(f.Pix), f.Width, f.Height)
	}
	return nil
}

func (e *Encoder) setSize(w, h int) {
	e.w, e.h = w, h
	e.tw, e.th = (w+tileSize-1)/tileSize, (h+tileSize-1)/tileSize
	e.raw = make([]byte, w*h*4)
	e.cur = make([]uint32, w*h)
	e.rec = make([]uint32, w*h)
	// The copy runs of one frame cover each tile at most once, so a
	// frame-sized scratch holds their pixels without growing mid-frame
	// (growth by doubling allocated and copied about 11 MB on a 1080p
	// scroll frame). Untouched pages cost nothing until a copy uses them.
	e.copyTmp = make([]uint32, 0, w*h)
	n := e.tw * e.th
	e.changed = make([]bool, n)
	e.diff = make([]bool, e.tw)
	e.state = make([]uint8, n)
	e.bg = make([]uint32, n)
	e.few = make([]bool, n)
	e.thash = make([]uint64, n)
	e.slot = make([]int32, n)
	e.since = make([]bool, n)
	e.refLeft = make([]bool, n)
	e.refMask = make([]uint16, n)
	e.refFull = make([]int32, n)
}

// reset puts the encoder's model of the decoder where a keyframe puts the
// decoder: black framebuffer, empty caches, a new zstd frame.
func (e *Encoder) reset() {
	for i := range e.rec {
		e.rec[i] = opaque
	}
	if e.cache == nil {
		e.cache = newTileCache(e.opts.CacheTiles, true)
		e.marks = newMarkDict(e.opts.MarkSlots, e.opts.MarkPixels, true)
	} else {
		e.cache.reset()
		e.marks.reset()
	}
	e.mm.reset()
	e.pm.reset()
	e.tmm.reset()
	e.ent.reset()
	e.refs.reset()
	clear(e.since)
	e.touched, e.idle, e.saveFlag = 0, 0, 0
}

// Encode appends to dst the update that takes the decoder from the
// previous frame to f, and returns it. When nothing changed the update is
// one byte.
func (e *Encoder) Encode(dst []byte, f Frame) ([]byte, error) {
	if err := f.check(); err != nil {
		return dst, err
	}
	if e.opts.Scale > 1 {
		f = e.downscale(f)
	}
	if !e.started || f.Width != e.w || f.Height != e.h {
		e.setSize(f.Width, f.Height)
		e.started = true
		e.forceKey = true
	}
	key := e.forceKey
	e.forceKey = false
	e.key = key
	e.stats.Frames++
	if key {
		e.reset()
		e.stats.Keyframes++
	}
	e.detect(f, key)
	if len(e.dirty) == 0 && !key {
		e.stats.EmptyUpdates++
		e.stats.Bytes++
		if e.idle++; e.idle == settleUpdates {
			e.Still()
		}
		return append(dst, version), nil
	}
	e.noteChanged()
	for i := range e.sec {
		e.sec[i].b = e.sec[i].b[:0]
	}
	e.findMotion()
	e.findRefMotion()
	e.classify()
	e.codeLossy()
	e.codeMarks()
	e.codeTiles()

	for i := range e.sec {
		e.stats.SectionBytes[i] += int64(len(e.sec[i].b))
	}
	start := len(dst)
	flags := byte(version | flagPayload)
	if key {
		flags |= flagKeyframe
	} else {
		flags |= e.saveFlag // a screen saved since the last update
	}
	e.saveFlag = 0
	dst = append(dst, flags)
	if key {
		dst = binary.AppendUvarint(dst, uint64(e.w))
		dst = binary.AppendUvarint(dst, uint64(e.h))
		dst = binary.AppendUvarint(dst, uint64(e.opts.CacheTiles))
		dst = binary.AppendUvarint(dst, uint64(e.opts.MarkSlots))
		dst = binary.AppendUvarint(dst, uint64(e.opts.MarkPixels))
	}
	dst, raw, err := e.ent.encode(dst, &e.sec, &e.stats.StreamBytes)
	if err != nil {
		e.forceKey = true
		return dst[:start], fmt.Errorf("codec: encode: zstd: %w", err)
	}
	e.stats.RawBytes += int64(raw)
	e.stats.Bytes += int64(len(dst) - start)
	return dst, nil
}

// detect finds the tiles whose pixels differ from the decoder's, converts
// them into cur and records the raw input for the next comparison.
// Unchanged rows cost one memory compare each.
func (e *Encoder) detect(f Frame, all bool) {
	if f.Format != e.rawFmt {
		all = true
		e.rawFmt = f.Format
	}
	rowBytes := e.w * 4
	e.dirty = e.dirty[:0]
	for ty := 0; ty < e.th; ty++ {
		y0, y1 := ty*tileSize, min(ty*tileSize+tileSize, e.h)
		flags := e.changed[ty*e.tw : ty*e.tw+e.tw]
		any := false
		if all {
			for i := range flags {
				flags[i] = true
			}
			any = true
		} else {
			clear(flags)
			for y := y0; y < y1; y++ {
				src := f.Pix[y*f.Stride : y*f.Stride+rowBytes]
				old := e.raw[y*rowBytes : y*rowBytes+rowBytes]
				if bytes.Equal(src, old) {
					continue
				}
				for tx := range flags {
					if flags[tx] {
						continue
					}
					a, b := tx*tileSize*4, min(tx*tileSize*4+tileSize*4, rowBytes)
					if !bytes.Equal(src[a:b], old[a:b]) {
						flags[tx] = true
						any = true
					}
				}
			}
		}
		if !any {
			continue
		}
		// Row by row, each run of changed tiles at once: the raw copy,
		// the conversion and, until a tile is found to differ from the
		// framebuffer, the compare.
		diff := e.diff[:len(flags)]
		clear(diff)
		for y := y0; y < y1; y++ {
			src := f.Pix[y*f.Stride : y*f.Stride+rowBytes]
			for tx := 0; tx < len(flags); {
				if !flags[tx] {
					tx++
					continue
				}
				t0 := tx
				for tx < len(flags) && flags[tx] {
					tx++
				}
				x0, x1 := t0*tileSize, min(tx*tileSize, e.w)
				copy(e.raw[y*rowBytes+x0*4:y*rowBytes+x1*4], src[x0*4:x1*4])
				cur := e.cur[y*e.w+x0 : y*e.w+x1]
				convertRow(cur, src[x0*4:x1*4], f.Format)
				rec := e.rec[y*e.w+x0 : y*e.w+x1]
				for t := t0; t < tx; t++ {
					a, b := (t-t0)*tileSize, min((t-t0)*tileSize+tileSize, len(cur))
					if !diff[t] && !equalU32(cur[a:b], rec[a:b]) {
						diff[t] = true
					}
				}
			}
		}
		for tx, d := range diff {
			if d {
				e.dirty = append(e.dirty, int32(ty*e.tw+tx))
			}
		}
	}
	e.stats.TilesChanged += int64(len(e.dirty))
}

func convertRow(dst []uint32, src []byte, f PixelFormat) {
	// Two pixels per 8-byte load, one bounds check per pair (the loop
	// over dst with src[i*4:] checked both).
	src = src[:len(dst)*4]
	i := 0
	if f == RGBA {
		for ; i+2 <= len(dst); i += 2 {
			v := binary.LittleEndian.Uint64(src[i*4 : i*4+8 : i*4+8])
			d := dst[i : i+2 : i+2]
			d[0], d[1] = uint32(v)|opaque, uint32(v>>32)|opaque
		}
		if i < len(dst) {
			dst[i] = binary.LittleEndian.Uint32(src[i*4:]) | opaque
		}
		return
	}
	// BGRA: the bytes B, G, R, A reversed are A, R, G, B; shifted down
	// one byte, R, G, B in the order RGBA keeps them.
	for ; i+2 <= len(dst); i += 2 {
		v := binary.LittleEndian.Uint64(src[i*4 : i*4+8 : i*4+8])
		d := dst[i : i+2 : i+2]
		d[0] = bits.ReverseBytes32(uint32(v))>>8 | opaque
		d[1] = bits.ReverseBytes32(uint32(v>>32))>>8 | opaque
	}
	if i < len(dst) {
		dst[i] = bits.ReverseBytes32(binary.LittleEndian.Uint32(src[i*4:]))>>8 | opaque
	}
}

// tileRect returns the pixel offset and size of tile t.
func (e *Encoder) tileRect(t int) (off, w, h int) {
	x, y, w, h := e.tileBox(t)
	return y*e.w + x, w, h
}

// tileBox returns the screen position and size of tile t, with one
// division (a hardware divide is as slow as dozens of other steps, and
// the motion search asks for thousands of tiles).
func (e *Encoder) tileBox(t int) (x, y, w, h int) {
	ty := t / e.tw
	x, y = (t-ty*e.tw)*tileSize, ty*tileSize
	return x, y, min(tileSize, e.w-x), min(tileSize, e.h-y)
}

func (e *Encoder) tileHash(fb []uint32, t int) uint64 {
	off, w, h := e.tileRect(t)
	hs := uint64(w<<8|h) * 0x9E3779B97F4A7C15
	for y := 0; y < h; y++ {
		hs = hashPix(hs, fb[off+y*e.w:off+y*e.w+w])
	}
	return hs
}

// classify decides, for every dirty tile, between cache hit, lossy and
// coded, and finds the background colour of tiles that may hold marks.
func (e *Encoder) classify() {
	lossy := e.opts.Mode != Lossless
	for _, t := range e.dirty {
		off, w, h := e.tileRect(int(t))
		e.cc.reset()
		many := !e.cc.addRows(e.cur, off, e.w, w, h)
		e.few[t] = !many && e.cc.n <= maxPalette
		// Background: the most frequent colour, if it covers 40% or more.
		e.bg[t] = 0
		if !many {
			var best uint16
			var bc uint32
			for i := 0; i < e.cc.n; i++ {
				s := e.cc.order[i]
				if e.cc.count[s] > best {
					best, bc = e.cc.count[s], e.cc.keys[s]
				}
			}
			if int(best)*5 >= w*h*2 && e.cc.n <= maxPalette {
				e.bg[t] = bc
			}
		}
		if lossy && e.bg[t] == 0 && (many || e.cc.n > e.photoColors()) && w*h == tileSize*tileSize {
			e.state[t] = stLossy
			continue
		}
		e.thash[t] = e.tileHash(e.cur, int(t))
		if s, ok := e.cache.lookup(e.cur, off, e.w, w, h, e.thash[t]); ok {
			e.cache.lru.touch(s)
			e.slot[t] = s
			e.state[t] = stCached
			continue
		}
		e.state[t] = stCoded
	}
}

// photoColors is the number of distinct colours above which a tile
// without a dominant background counts as photographic in lossy modes.
func (e *Encoder) photoColors() int {
	if e.opts.Mode == LowBandwidth {
		return 24
	}
	return 48
}

// codeTiles writes the tile map and the residuals of the coded tiles in
// raster order, bringing the model of the decoder's framebuffer along
// tile by tile (the pixel coder reads it), and fills the cache.
func (e *Encoder) codeTiles() {
	tiles, cache := &e.sec[secTiles], &e.sec[secCache]
	last := -1
	e.pixCoding = false
	e.trc.init(e.trcBuf[:0])
	e.tmm.start()
	n := 0
	prevSlot := int32(-1)
	for _, t := range e.dirty {
		st := e.state[t]
		if st != stCoded && st != stCached {
			continue
		}
		skip := int(t) - last - 1
		last = int(t)
		off, w, h := e.tileRect(int(t))
		mode := tileCached
		switch st {
		case stCached:
			// Tiles come back in the order they were cached: code
			// each slot as the step from the previous one's successor.
			cache.svarint(int64(e.slot[t] - prevSlot - 1))
			prevSlot = e.slot[t]
			e.stats.TilesCached++
			e.copyTile(off, w, h) // the cached tile equals cur
		case stCoded:
			mode = int(e.codeResidual(off, w, h, e.few[t]))
		}
		e.tmm.encode(&e.trc, skip, mode)
		n++
	}
	if n > 0 {
		tiles.uvarint(uint64(n))
		e.trcBuf = e.trc.finish()
		tiles.b = append(tiles.b, e.trcBuf...)
	}
	if e.pixCoding {
		e.sec[secPixels].b = e.prc.finish()
	}
	for _, t := range e.dirty {
		if e.state[t] == stCoded {
			off, w, h := e.tileRect(int(t))
			e.cache.put(e.rec, off, e.w, w, h, e.thash[t]) // coded tiles are exact: rec == cur
		}
		e.state[t] = stClean
	}
}

// copyTile copies the w x h tile at off from cur to rec.
func (e *Encoder) copyTile(off, w, h int) {
	for y := 0; y < h; y++ {
		copy(e.rec[off+y*e.w:off+y*e.w+w], e.cur[off+y*e.w:off+y*e.w+w])
	}
}

// codeResidual codes the pixels of a coded tile that the framebuffer
// does not already have (after copies and marks), and returns the tile
// mode. few says the whole tile has at most maxPalette colours.
func (e *Encoder) codeResidual(off, w, h int, few bool) byte {
	if !few {
		e.cc.reset()
	}
	n := 0
	many := false
	for y := 0; y < h; y++ {
		o := off + y*e.w
		cur, rec := e.cur[o:o+w], e.rec[o:o+w]
		if few {
			if !equalU32(cur, rec) {
				n++
			}
			continue
		}
		for x, p := range cur {
			if p == rec[x] {
				continue
			}
			n++
			if !many && !e.cc.add(p) {
				many = true
			}
		}
	}
	if n == 0 {
		e.stats.TilesKept++
		return tileKeep
	}
	if !few && (many || e.cc.n > maxPalette) {
		e.sec[secPhoto].b = encodePhoto(e.sec[secPhoto].b, e.cur, off, e.w, w, h)
		e.copyTile(off, w, h)
		e.stats.TilesPhoto++
		return tilePhoto
	}
	if !e.pixCoding {
		e.prc.init(e.sec[secPixels].b[:0])
		e.pixCoding = true
	}
	e.pm.encode(&e.prc, e.cur, e.rec, off, e.w, w, h)
	e.stats.TilesPixels++
	return tilePixels
}
