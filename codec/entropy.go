package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// The entropy stage: the sections go into numStreams streams, one per
// kind of symbol: structure; the tile map and pixel tiles, and the marks
// (range coded already: stored as they are); photo residuals. The structure and photo
// streams are each a single zstd frame that lives from one keyframe to
// the next and is flushed at the end of every update (match history and
// literal statistics carry over), except that an update's stream shorter
// than storeBelow bytes is stored rather than fed to zstd, which would
// only add its block overhead.
const numStreams = 4

// zstdStream says which streams go through zstd.
var zstdStream = [numStreams]bool{true, false, true, false}

// storeBelow is the raw size under which a zstd stream's part of an
// update is stored.
const storeBelow = 64

// streamOf maps each section to its stream.
var streamOf = [numSections]int{
	secOps: 0, secMarks: 0, secLossy: 0, secCache: 0,
	secTiles: 1, secPixels: 1,
	secPhoto:  2,
	secMarkPx: 3,
}

// streamWindow is each zstd stream's history (the decoder holds as much).
var streamWindow = [numStreams]int{2 << 20, 0, zstdWindow, 0}

type streamEncoder struct {
	buf [numStreams]bytes.Buffer
	zw  [numStreams]*zstd.Encoder
	raw [numStreams][]byte
}

func newStreamEncoder(level int) *streamEncoder {
	s := &streamEncoder{}
	for i := range s.zw {
		if !zstdStream[i] {
			continue
		}
		lv := zstd.EncoderLevel(level)
		if i == streamOf[secPhoto] {
			// Predicted residuals of photographs: the fastest level
			// (one small hash table) finds what matches there are;
			// the default one's two tables cost more and found less
			// (photo-mixed 1,455,308 B instead of 1,464,838, frame 23
			// 202.8 M instructions instead of 207.9 M).
			lv = zstd.SpeedFastest
		}
		zw, err := zstd.NewWriter(&s.buf[i],
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(streamWindow[i]),
			zstd.WithEncoderLevel(lv),
			zstd.WithEncoderCRC(false))
		if err != nil {
			panic("codec: zstd writer: " + err.Error()) // options are constants
		}
		s.zw[i] = zw
	}
	return s
}

// reset starts new zstd frames (at a keyframe).
func (s *streamEncoder) reset() {
	for i := range s.zw {
		if s.zw[i] == nil {
			continue
		}
		s.buf[i].Reset()
		s.zw[i].Reset(&s.buf[i])
	}
}

// encode appends a mask of the streams in use and of those stored, their
// raw and (unless stored) compressed lengths, then the streams. A stream
// whose sections are all empty is left out.
//
//	payload = mask:byte (rawLen [compLen]) x streams in mask, streams
//	mask = used streams (bit i) | stored streams (bit 4+i)
//	raw stream = len(section) for each of its sections, the sections
func (s *streamEncoder) encode(dst []byte, secs *[numSections]wbuf, comp *[numStreams]int64) ([]byte, int, error) {
	total := 0
	var used [numStreams]bool
	for k := range secs {
		if len(secs[k].b) > 0 {
			used[streamOf[k]] = true
		}
	}
	for i := range s.raw {
		s.raw[i] = s.raw[i][:0]
	}
	for k := range secs {
		if st := streamOf[k]; used[st] {
			s.raw[st] = binary.AppendUvarint(s.raw[st], uint64(len(secs[k].b)))
		}
	}
	for k := range secs {
		st := streamOf[k]
		s.raw[st] = append(s.raw[st], secs[k].b...)
	}
	var mask byte
	var stored [numStreams]bool
	for i := range used {
		if used[i] {
			mask |= 1 << i
			if stored[i] = !zstdStream[i] || len(s.raw[i]) < storeBelow; stored[i] {
				mask |= 1 << (4 + i)
			}
		}
	}
	dst = append(dst, mask)
	for i := range s.zw {
		if !used[i] {
			continue
		}
		total += len(s.raw[i])
		dst = binary.AppendUvarint(dst, uint64(len(s.raw[i])))
		if stored[i] {
			comp[i] += int64(len(s.raw[i]))
			continue
		}
		s.buf[i].Reset()
		if _, err := s.zw[i].Write(s.raw[i]); err != nil {
			return dst, 0, err
		}
		if err := s.zw[i].Flush(); err != nil {
			return dst, 0, err
		}
		dst = binary.AppendUvarint(dst, uint64(s.buf[i].Len()))
		comp[i] += int64(s.buf[i].Len())
	}
	for i := range s.buf {
		switch {
		case !used[i]:
		case stored[i]:
			dst = append(dst, s.raw[i]...)
		default:
			dst = append(dst, s.buf[i].Bytes()...)
		}
	}
	return dst, total, nil
}

type streamDecoder struct {
	src [numStreams]chunkReader
	zr  [numStreams]*zstd.Decoder
	raw [numStreams][]byte // this update's streams
	buf [numStreams][]byte // decompressed streams
}

// chunkReader hands one update's zstd blocks to a stream decoder. It
// deliberately has no Bytes or Len method, so zstd reads it as a stream.
type chunkReader struct{ b []byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b)
	c.b = c.b[n:]
	return n, nil
}

// decode reads the stream lengths from r, decompresses each stream (after
// a reset at a keyframe) and splits them into sections. maxRaw bounds
// each stream's raw size.
func (s *streamDecoder) decode(r *rbuf, key bool, maxRaw int, secs *[numSections]rbuf) error {
	var rawLen, compLen [numStreams]int
	mask := r.byte()
	used, stored := mask&0x0f, mask>>4
	if stored&^used != 0 {
		r.fail("stored streams not in use")
	}
	for i := range rawLen {
		if used&(1<<i) == 0 {
			continue
		}
		rawLen[i] = r.intn(maxRaw, "stream length")
		if stored&(1<<i) != 0 {
			compLen[i] = rawLen[i]
		} else if !zstdStream[i] {
			r.fail("range-coded stream not stored")
		} else {
			compLen[i] = r.intn(len(r.b), "compressed length")
		}
	}
	if r.err != nil {
		return r.err
	}
	for i := range s.zr {
		data := r.bytes(compLen[i])
		if r.err != nil {
			return r.err
		}
		if stored&(1<<i) != 0 {
			s.raw[i] = data
		} else {
			s.raw[i] = nil
		}
		if !zstdStream[i] {
			continue
		}
		s.src[i].b = data
		if stored&(1<<i) != 0 {
			s.src[i].b = nil
		}
		if key { // every zstd stream restarts, used or not
			if s.zr[i] == nil {
				zr, err := zstd.NewReader(nil,
					zstd.WithDecoderConcurrency(1),
					zstd.WithDecoderMaxWindow(uint64(streamWindow[i])),
					zstd.WithDecoderMaxMemory(uint64(maxRaw)+uint64(streamWindow[i])),
					zstd.WithDecoderLowmem(true))
				if err != nil {
					return fmt.Errorf("zstd reader: %w", err)
				}
				s.zr[i] = zr
			}
			if err := s.zr[i].Reset(&s.src[i]); err != nil {
				return corruptf("stream %d: zstd: %v", i, err)
			}
		}
		if stored&(1<<i) != 0 {
			continue
		}
		if cap(s.buf[i]) < rawLen[i] {
			s.buf[i] = make([]byte, rawLen[i])
		}
		s.raw[i] = s.buf[i][:rawLen[i]]
		if rawLen[i] > 0 {
			if _, err := io.ReadFull(s.zr[i], s.raw[i]); err != nil {
				return corruptf("stream %d: zstd: %v", i, err)
			}
		}
		if len(s.src[i].b) != 0 {
			return corruptf("stream %d: %d compressed bytes left over", i, len(s.src[i].b))
		}
	}
	if r.off != len(r.b) {
		return corruptf("%d bytes after the streams", len(r.b)-r.off)
	}
	return splitSections(&s.raw, secs)
}

// splitSections cuts the raw streams into their sections.
func splitSections(raw *[numStreams][]byte, secs *[numSections]rbuf) error {
	var hdr [numStreams]rbuf
	for i := range hdr {
		hdr[i] = rbuf{b: raw[i], sec: fmt.Sprintf("stream %d", i)}
	}
	var lens [numSections]int
	for k := range lens {
		h := &hdr[streamOf[k]]
		if len(h.b) == 0 {
			continue // a stream left out: its sections are empty
		}
		lens[k] = h.intn(len(h.b), "section length")
		if h.err != nil {
			return h.err
		}
	}
	for k := range secs {
		h := &hdr[streamOf[k]]
		b := h.bytes(lens[k])
		if h.err != nil {
			return h.err
		}
		secs[k] = rbuf{b: b, sec: SectionNames[k]}
	}
	for i := range hdr {
		if hdr[i].off != len(hdr[i].b) {
			return corruptf("stream %d: %d bytes beyond its sections", i, len(hdr[i].b)-hdr[i].off)
		}
	}
	return nil
}
