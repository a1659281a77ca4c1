package codec

// A binary adaptive range coder (LZMA's, with carry propagation through
// a cache byte, but 16-bit probabilities that adapt fast while a context
// is young: each one moves by 1/2, 1/4, ... of the distance to the bit
// seen, down to 1/32 after 15 bits). The probabilities live in models
// that persist from keyframe to keyframe on both ends; each update's
// coded bytes are flushed on their own.

const (
	probBits = 16
	probInit = 1 << (probBits - 1)
	rcTop    = 1 << 24
)

// prob is an adaptive probability that the next bit is 0, kept as two
// estimates that adapt at different rates (bits 0-15 fast, 16-31 slow;
// the coder uses their mean), and how many bits it has seen, up to
// probMaxCount (bits 32 and up).
type prob uint64

const probMaxCount = 31

// probShift is the adaptation shift after n bits seen: of the fast
// estimate in the low byte, of the slow one in the high byte.
var probShift = func() (t [probMaxCount + 1]uint16) {
	fast := [probMaxCount + 1]uint8{1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}
	slow := [probMaxCount + 1]uint8{1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7}
	for i := range t {
		t[i] = uint16(fast[i]) | uint16(slow[i])<<8
	}
	return t
}()

// update moves p towards bit b. Both estimates stay within [1, 2^16-1]:
// a step is at most half the distance to 0 or 2^16, rounded down.
func (p *prob) update(b int) {
	v := uint64(*p)
	n := v >> 32
	sh := probShift[n]
	f, s := uint32(v)&(1<<probBits-1), uint32(v>>probBits)&(1<<probBits-1)
	if b == 0 {
		f += (1<<probBits - f) >> (sh & 0xff)
		s += (1<<probBits - s) >> (sh >> 8)
	} else {
		f -= f >> (sh & 0xff)
		s -= s >> (sh >> 8)
	}
	if n < probMaxCount {
		n++
	}
	*p = prob(n<<32 | uint64(s)<<probBits | uint64(f))
}

func (p prob) p() uint32 {
	return (uint32(p)&(1<<probBits-1) + uint32(p>>probBits)&(1<<probBits-1)) >> 1
}

type rcEncoder struct {
	low       uint64
	rng       uint32
	cache     byte
	cacheSize int64
	out       []byte
	start     int // where this coder's bytes begin in out
}

func (e *rcEncoder) init(out []byte) {
	*e = rcEncoder{rng: 0xFFFFFFFF, cacheSize: 1, out: out, start: len(out)}
}

func (e *rcEncoder) shiftLow() {
	if uint32(e.low) < 0xFF000000 || e.low >= 1<<32 {
		carry := byte(e.low >> 32)
		c := e.cache
		for {
			e.out = append(e.out, c+carry)
			c = 0xFF
			if e.cacheSize--; e.cacheSize == 0 {
				break
			}
		}
		e.cache = byte(e.low >> 24)
	}
	e.cacheSize++
	e.low = (e.low & 0x00FFFFFF) << 8
}

func (e *rcEncoder) bit(p *prob, b int) {
	// p.update(b), written out: the coder's hottest path.
	v := uint64(*p)
	f, s := uint32(v)&(1<<probBits-1), uint32(v>>probBits)&(1<<probBits-1)
	bound := (e.rng >> probBits) * ((f + s) >> 1)
	if v >= probMaxCount<<32 {
		// A model that has seen all its young bits (most of them):
		// its shifts are constants.
		const shF, shS = 3, 7 // probShift[probMaxCount]
		if b == 0 {
			e.rng = bound
			f += (1<<probBits - f) >> shF
			s += (1<<probBits - s) >> shS
		} else {
			e.low += uint64(bound)
			e.rng -= bound
			f -= f >> shF
			s -= s >> shS
		}
		*p = prob(probMaxCount<<32 | uint64(s)<<probBits | uint64(f))
	} else {
		// The masks change no value (counts stay below 32, shifts
		// below 8) but spare the bounds check and the over-wide-shift
		// fix-ups.
		n := v >> 32 & probMaxCount
		sh := uint32(probShift[n])
		if b == 0 {
			e.rng = bound
			f += (1<<probBits - f) >> (sh & 15)
			s += (1<<probBits - s) >> (sh >> 8 & 15)
		} else {
			e.low += uint64(bound)
			e.rng -= bound
			f -= f >> (sh & 15)
			s -= s >> (sh >> 8 & 15)
		}
		*p = prob(probNext[n] | uint64(s)<<probBits | uint64(f))
	}
	if e.rng < rcTop {
		e.renorm()
	}
}

// probNext is the count field of a prob after one more bit, by the
// count before it.
var probNext = func() (t [probMaxCount + 1]uint64) {
	for n := range t {
		t[n] = uint64(min(n+1, probMaxCount)) << 32
	}
	return t
}()

// renorm shifts out the settled top bytes of low: out of bit's path,
// which then needs no stack frame.
//
//go:noinline
func (e *rcEncoder) renorm() {
	for e.rng < rcTop {
		e.rng <<= 8
		e.shiftLow()
	}
}

// tree codes the low n bits of v, high bit first, with 1<<n models.
//
// Literal colours and places are coded through trees, many of the bits
// of a page of new text: bit's path for a model that has seen all its
// young bits is written out here (the call cost as much as the bit).
func (e *rcEncoder) tree(ps []prob, n int, v int) {
	m := 1
	for i := n - 1; i >= 0; i-- {
		b := v >> i & 1
		p := &ps[m]
		m = m<<1 | b
		pv := uint64(*p)
		if pv < probMaxCount<<32 {
			e.bit(p, b)
			continue
		}
		f, s := uint32(pv)&(1<<probBits-1), uint32(pv>>probBits)&(1<<probBits-1)
		bound := (e.rng >> probBits) * ((f + s) >> 1)
		const shF, shS = 3, 7 // probShift[probMaxCount]
		if b == 0 {
			e.rng = bound
			f += (1<<probBits - f) >> shF
			s += (1<<probBits - s) >> shS
		} else {
			e.low += uint64(bound)
			e.rng -= bound
			f -= f >> shF
			s -= s >> shS
		}
		*p = prob(probMaxCount<<32 | uint64(s)<<probBits | uint64(f))
		if e.rng < rcTop {
			e.renorm()
		}
	}
}

// finish flushes the coder and returns out with its bytes appended. It
// settles on the value of the final interval with the most trailing zero
// bits, leaves out the first byte (always zero) and up to four trailing
// zero bytes: the decoder reads zeros past the end of its input.
func (e *rcEncoder) finish() []byte {
	hi := e.low + uint64(e.rng) - 1
	for k := 32; k >= 0; k-- {
		mask := uint64(1)<<k - 1
		if v := (e.low + mask) &^ mask; v <= hi {
			e.low = v
			break
		}
	}
	for range 5 {
		e.shiftLow()
	}
	// At most four zeros go: the decoder's overrun check allows as many.
	out := e.out
	for n := 0; n < 4 && len(out) > e.start && out[len(out)-1] == 0; n++ {
		out = out[:len(out)-1]
	}
	if len(out) == e.start {
		return out
	}
	return append(out[:e.start], out[e.start+1:]...)
}

// rcDecoder reads what rcEncoder wrote. Reading past the end yields
// zeros: a truncated or hostile input decodes to bounded garbage, which
// the callers' checks then reject or paint.
type rcDecoder struct {
	code, rng uint32
	in        []byte
	pos       int
}

func (d *rcDecoder) init(in []byte) {
	*d = rcDecoder{rng: 0xFFFFFFFF, in: in}
	for range 4 { // the encoder leaves out the first byte, always zero
		d.code = d.code<<8 | uint32(d.next())
	}
}

func (d *rcDecoder) next() byte {
	if d.pos >= len(d.in) {
		d.pos++
		return 0
	}
	b := d.in[d.pos]
	d.pos++
	return b
}

// overrun reports whether the decoder read past its input further than
// the zero bytes the encoder's flush leaves out.
func (d *rcDecoder) overrun() bool { return d.pos > len(d.in)+4 }

func (d *rcDecoder) bit(p *prob) int {
	// p.update(b), written out as in the encoder's bit, with its fast
	// path for a model that has seen all its young bits.
	v := uint64(*p)
	f, s := uint32(v)&(1<<probBits-1), uint32(v>>probBits)&(1<<probBits-1)
	bound := (d.rng >> probBits) * ((f + s) >> 1)
	var b int
	if v >= probMaxCount<<32 {
		const shF, shS = 3, 7 // probShift[probMaxCount]
		if d.code < bound {
			d.rng = bound
			f += (1<<probBits - f) >> shF
			s += (1<<probBits - s) >> shS
		} else {
			d.code -= bound
			d.rng -= bound
			b = 1
			f -= f >> shF
			s -= s >> shS
		}
		*p = prob(probMaxCount<<32 | uint64(s)<<probBits | uint64(f))
	} else {
		n := v >> 32 & probMaxCount
		sh := uint32(probShift[n])
		if d.code < bound {
			d.rng = bound
			f += (1<<probBits - f) >> (sh & 15)
			s += (1<<probBits - s) >> (sh >> 8 & 15)
		} else {
			d.code -= bound
			d.rng -= bound
			b = 1
			f -= f >> (sh & 15)
			s -= s >> (sh >> 8 & 15)
		}
		*p = prob(probNext[n] | uint64(s)<<probBits | uint64(f))
	}
	if d.rng < rcTop {
		d.renorm()
	}
	return b
}

// renorm reads the next bytes into code: out of bit's path, as the
// encoder's.
//
//go:noinline
func (d *rcDecoder) renorm() {
	for d.rng < rcTop {
		d.rng <<= 8
		d.code = d.code<<8 | uint32(d.next())
	}
}

func (d *rcDecoder) tree(ps []prob, n int) int {
	m := 1
	for range n {
		m = m<<1 | d.bit(&ps[m])
	}
	return m - 1<<n
}

// probInit2 is a fresh prob: both estimates at one half.
const probInit2 = prob(probInit<<probBits | probInit)

func initProbs(ps []prob) {
	for i := range ps {
		ps[i] = probInit2
	}
}
