package codec

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestRefStore(t *testing.T) {
	var r refStore
	a, b, c := []uint32{1, 1}, []uint32{2, 2}, []uint32{3, 3}
	r.save(a, true)
	if r.n != 1 || r.get(0)[0] != 1 {
		t.Fatalf("after one push: n %d, newest %v", r.n, r.get(0))
	}
	r.save(b, true)
	if r.n != 2 || r.get(0)[0] != 2 || r.get(1)[0] != 1 {
		t.Fatalf("after two pushes: n %d, %v %v", r.n, r.get(0), r.get(1))
	}
	r.save(c, false) // replaces the newest, keeps the older
	if r.n != 2 || r.get(0)[0] != 3 || r.get(1)[0] != 1 {
		t.Fatalf("after a replace: n %d, %v %v", r.n, r.get(0), r.get(1))
	}
	r.save(a, true) // drops the oldest
	if r.n != numRefs || r.get(0)[0] != 1 || r.get(1)[0] != 3 {
		t.Fatalf("after a third push: n %d, %v %v", r.n, r.get(0), r.get(1))
	}
	a[0] = 9
	if r.get(0)[0] != 1 {
		t.Fatal("a reference shares memory with the saved framebuffer")
	}
	r.reset()
	if r.n != 0 {
		t.Fatal("reset kept references")
	}
	// A replace with nothing saved is a push.
	r.save(b, false)
	if r.n != 1 || r.get(0)[0] != 2 {
		t.Fatalf("replace on empty: n %d", r.n)
	}
}

func TestRefIndexVotes(t *testing.T) {
	s := newScreen(320, 240, 7)
	for y := 0; y < 18; y++ {
		s.text(4, 4+y*13, 38, rgb(0, 0, 0), s.pix[0], y*5)
	}
	var ix refIndex
	ix.build(s.pix, s.w, s.h)
	// Signatures of the tile at (5, 6) as if the screen had moved up by
	// 21 rows and right by 3 pixels: the tile's rows stand in the
	// reference 21 rows lower and 3 pixels to the left.
	const tx, ty, dx, dy = 5, 6, -3, 21
	var sigs []sigEntry
	for r := range tileSize {
		o := (ty*tileSize+r+dy)*s.w + tx*tileSize + dx
		sigs = append(sigs, sigEntry{segHash(s.pix[o:]), tx, ty, int32(r)})
	}
	var votes voteTable
	hits := ix.vote(&votes, sigs, nil)
	// Two of the tile's rows are indexed (every sigRows-th), unless
	// flat.
	if got := votes.get(vec{dx, dy}); got < 1 || got > 2 {
		t.Errorf("votes for (%d,%d): %d, want 1 or 2", dx, dy, got)
	}
	for _, h := range hits {
		if h.t != ty*int32(ix.tw)+tx {
			t.Fatalf("hit for tile %d, want %d", h.t, ty*ix.tw+tx)
		}
	}
	// Flat rows are not indexed.
	flatScreen := newScreen(64, 64, 1)
	ix.build(flatScreen.pix, 64, 64)
	if len(ix.hash) != 0 {
		t.Errorf("flat screen: %d segments indexed, want 0", len(ix.hash))
	}
}

// page draws a page of text lines (seed picks the glyphs) with a picture.
func page(s *screen, seed int) {
	s.fill(0, 0, s.w, s.h, 0xFFFFFFFF)
	for y := 0; y*14+16 < s.h; y++ {
		s.text(8, 6+y*14, 70, rgb(20, 20, 20), 0xFFFFFFFF, seed+y*11)
	}
	s.photo(420, 60+seed%7, 120, 90)
}

func TestRefScreensSendReturningContent(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	a := newScreen(640, 480, 21)
	page(a, 0)
	key := p.exact(a, "page A")
	idle := func(s *screen, what string) {
		for range settleUpdates + 1 {
			if n := p.exact(s, what); n != 1 {
				t.Fatalf("%s: idle update of %d bytes", what, n)
			}
		}
	}
	idle(a, "page A still")
	// The encoder saved the screen; the decoder learns it with the next
	// update that is not empty.
	if st := p.enc.Stats(); st.RefSaves != 1 || p.enc.refs.n != 1 || p.dec.refs.n != 0 {
		t.Fatalf("after page A stood still: %d saves, %d and %d references", st.RefSaves, p.enc.refs.n, p.dec.refs.n)
	}
	b := newScreen(640, 480, 22)
	page(b, 1000)
	p.exact(b, "page B")
	if p.dec.refs.n != 1 || !equalU32(p.dec.refs.get(0), p.enc.refs.get(0)) {
		t.Fatalf("after page B: decoder holds %d references", p.dec.refs.n)
	}
	idle(b, "page B still")
	// Page A comes back 5 rows lower: no tile of it is where it was.
	back := newScreen(640, 480, 21)
	page(back, 0)
	copy(back.pix[5*back.w:], a.pix[:len(a.pix)-5*a.w])
	// Something drawn over part of it: the tiles it crosses take the
	// copy for the pixels it explains (partial copies).
	back.fill(203, 101, 5, 40, rgb(200, 0, 0))
	before := p.enc.Stats().TilesRefCopied
	n := p.exact(back, "page A back")
	copied := p.enc.Stats().TilesRefCopied - before
	if copied < 600 || n*10 > key {
		t.Errorf("page A back: %d tiles copied from references, %d bytes (keyframe %d): want >= 600 and under a tenth", copied, n, key)
	}
	// A small change (a caret) then stillness refreshes the newest
	// reference instead of pushing out the older one.
	saves := p.enc.Stats().RefSaves
	idle(back, "page A back still")
	back.fill(100, 100, 2, 12, rgb(0, 0, 0))
	p.exact(back, "caret")
	idle(back, "caret still")
	back.fill(100, 100, 2, 12, 0xFFFFFFFF)
	p.exact(back, "caret off")
	if st := p.enc.Stats(); st.RefSaves != saves+2 || p.dec.refs.n != 2 {
		t.Errorf("after a caret: %d saves (want %d), %d references", st.RefSaves, saves+2, p.dec.refs.n)
	}
	for i := range p.dec.refs.n {
		if !equalU32(p.enc.refs.get(i), p.dec.refs.get(i)) {
			t.Errorf("reference %d differs between encoder and decoder", i)
		}
	}
	// A keyframe forgets the references on both ends.
	p.enc.ForceKeyframe()
	p.exact(back, "keyframe")
	if p.enc.refs.n != 0 || p.dec.refs.n != 0 {
		t.Errorf("after a keyframe: %d and %d references", p.enc.refs.n, p.dec.refs.n)
	}
}

func TestRefCopyErrors(t *testing.T) {
	p := newPair(t, EncoderOptions{})
	s := newScreen(64, 48, 11)
	p.exact(s, "keyframe")
	d := p.dec
	ref := func(vals ...int64) []byte {
		var b []byte
		b = binary.AppendUvarint(b, 1)
		for i, v := range vals {
			if i >= 5 {
				b = binary.AppendVarint(b, v)
			} else {
				b = binary.AppendUvarint(b, uint64(v))
			}
		}
		return b
	}
	try := func(name string, b []byte) {
		t.Helper()
		if err := d.applyRefCopies(&rbuf{b: b, sec: "ops"}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if err := d.applyRefCopies(&rbuf{b: nil, sec: "ops"}); err != nil {
		t.Errorf("no reference saved, no count: %v", err)
	}
	d.refs.save(d.pix, true)
	if err := d.applyRefCopies(&rbuf{b: ref(0, 0, 0, 1, 1, 3, 5), sec: "ops"}); err != nil {
		t.Errorf("good copy: %v", err)
	}
	try("reference past the store", ref(numRefs, 0, 0, 1, 1, 0, 0))
	try("second reference not saved", ref(1, 0, 0, 1, 1, 0, 0))
	try("rect past the screen", ref(0, 3, 0, 2, 1, 0, 0))
	try("empty rect", ref(0, 0, 0, 0, 1, 0, 0))
	try("source past the screen", ref(0, 0, 0, 4, 3, 1, 0))
	try("source above the screen", ref(0, 0, 0, 1, 1, 0, -1))
	try("count past the tiles", binary.AppendUvarint(nil, 13))
	try("truncated", ref(0, 0, 0, 1)[:4])
	for _, flags := range []byte{version | flagSavePush | flagSaveRepl, version | flagKeyframe | flagPayload | flagSavePush} {
		if _, err := NewDecoder(DecoderOptions{}).Decode([]byte{flags}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("flags %#x: %v, want ErrCorrupt", flags, err)
		}
	}
}

// TestRefScreensStillWithoutEmptyUpdates drives the encoder as the agent
// does: no Encode while the screen does not change (Still instead), and
// empty updates never sent.
func TestRefScreensStillWithoutEmptyUpdates(t *testing.T) {
	enc, dec := NewEncoder(EncoderOptions{}), NewDecoder(DecoderOptions{})
	send := func(s *screen, what string) int {
		t.Helper()
		u, err := enc.Encode(nil, s.frame(BGRA))
		if err != nil {
			t.Fatal(err)
		}
		if len(u) == 1 {
			return 1 // dropped, as the agent does
		}
		if _, err := dec.Decode(u); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if x, y, ok := s.equalsImage(dec.Framebuffer()); !ok {
			t.Fatalf("%s: decoded screen differs at %d,%d", what, x, y)
		}
		return len(u)
	}
	a := newScreen(640, 480, 31)
	page(a, 0)
	key := send(a, "page A")
	enc.Still()
	enc.Still() // nothing changed since: no second save
	b := newScreen(640, 480, 32)
	page(b, 500)
	send(b, "page B")
	send(b, "page B again") // an empty update, dropped
	enc.Still()
	before := enc.Stats().TilesRefCopied
	n := send(a, "page A again")
	if st := enc.Stats(); st.RefSaves != 2 || st.TilesRefCopied-before < 900 || n*20 > key {
		t.Errorf("page A again: %d saves, %d tiles copied from references, %d bytes (keyframe %d)", st.RefSaves, st.TilesRefCopied-before, n, key)
	}
	for i := range enc.refs.n {
		if !equalU32(enc.refs.get(i), dec.refs.get(i)) {
			t.Errorf("reference %d differs between encoder and decoder", i)
		}
	}
}
