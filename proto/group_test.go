package proto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// groupClock is a manual clock.
type groupClock struct{ t time.Time }

func (c *groupClock) now() time.Time      { return c.t }
func (c *groupClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newGroupClock() *groupClock          { return &groupClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func groupMsg(frame, i, n int) []byte     { return bytes.Repeat([]byte{byte(frame), byte(i)}, n/2+1)[:n] }
func joinFrame(msgs [][]byte) string      { return string(bytes.Join(msgs, []byte("|"))) }
func cloneRecs(recs [][]byte) (out [][]byte) {
	for _, r := range recs {
		out = append(out, bytes.Clone(r))
	}
	return out
}

// viewerSide is one viewer: its receiver and what it delivered.
type viewerSide struct {
	id     uint32
	r      *GroupReceiver
	frames []string
	keys   []*GroupKey // every key it received, as the pairwise channel delivered it
}

// groupWorld is a host and its viewers, the pairwise channels simulated
// by encoding and decoding each GroupKey.
type groupWorld struct {
	t       testing.TB
	clock   *groupClock
	g       *Group
	viewers map[uint32]*viewerSide
}

func newGroupWorld(t testing.TB, cfg GroupConfig) *groupWorld {
	t.Helper()
	w := &groupWorld{t: t, clock: newGroupClock(), viewers: map[uint32]*viewerSide{}}
	if cfg.Rand == nil {
		cfg.Rand = NewDetRandForTest("group " + t.Name())
	}
	cfg.Clock = w.clock.now
	g, err := NewGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.g = g
	return w
}

func (w *groupWorld) viewer(id uint32) *viewerSide {
	if v := w.viewers[id]; v != nil {
		return v
	}
	v := &viewerSide{id: id}
	v.r = NewGroupReceiver(GroupReceiverConfig{Clock: w.clock.now, Deliver: func(msgs [][]byte) error {
		v.frames = append(v.frames, joinFrame(msgs))
		return nil
	}})
	w.viewers[id] = v
	return v
}

// send passes updates over the simulated pairwise channels.
func (w *groupWorld) send(ups []GroupKeyUpdate) {
	w.t.Helper()
	for _, u := range ups {
		b, err := Marshal(u.Msg)
		if err != nil {
			w.t.Fatal(err)
		}
		m, err := Unmarshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		k := m.(*GroupKey)
		v := w.viewer(u.To)
		v.keys = append(v.keys, k)
		if err := v.r.SetKey(k); err != nil {
			w.t.Fatalf("viewer %d SetKey(epoch %d) = %v", u.To, k.Epoch, err)
		}
	}
}

func (w *groupWorld) join(id uint32) {
	w.t.Helper()
	w.viewer(id)
	ups, err := w.g.Join(id, fmt.Sprintf("viewer %d", id))
	if err != nil {
		w.t.Fatal(err)
	}
	w.send(ups)
}

func (w *groupWorld) leave(id uint32) {
	w.t.Helper()
	ups, err := w.g.Leave(id)
	if err != nil {
		w.t.Fatal(err)
	}
	w.send(ups)
}

// frame seals msgs as one frame and returns its records.
func (w *groupWorld) frame(msgs ...[]byte) [][]byte {
	w.t.Helper()
	var recs [][]byte
	for _, m := range msgs {
		r, err := w.g.AppendRecord(nil, m)
		if err != nil {
			w.t.Fatalf("AppendRecord: %v", err)
		}
		recs = append(recs, r)
	}
	r, err := w.g.AppendEndFrame(nil)
	if err != nil {
		w.t.Fatalf("AppendEndFrame: %v", err)
	}
	return append(recs, r)
}

// feed gives records to the listed viewers and returns the first error
// per viewer.
func (w *groupWorld) feed(recs [][]byte, ids ...uint32) map[uint32]error {
	errs := map[uint32]error{}
	for _, id := range ids {
		for _, rec := range recs {
			if err := w.viewers[id].r.Open(rec); err != nil {
				errs[id] = err
				break
			}
		}
	}
	return errs
}

func (w *groupWorld) mustFeed(recs [][]byte, ids ...uint32) {
	w.t.Helper()
	for id, err := range w.feed(recs, ids...) {
		w.t.Fatalf("viewer %d: %v", id, err)
	}
}

// reseal rewrites a record's header fields and plaintext and encrypts it
// again under key: what a viewer holding GK_e (with the relay) can do.
func reseal(key [32]byte, epoch uint32, seq uint64, kind byte, body []byte) []byte {
	a, _ := chacha20poly1305.New(key[:])
	hdr := []byte{RecordVersion, byte(recGroup)}
	hdr = binary.BigEndian.AppendUint32(hdr, epoch)
	hdr = binary.BigEndian.AppendUint64(hdr, seq)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(1+len(body)+16))
	return a.Seal(hdr, hdr[2:14], append([]byte{kind}, body...), hdr)
}

// openWith decrypts a record under key, as a viewer holding key could.
func openWith(key [32]byte, rec []byte) ([]byte, error) {
	a, _ := chacha20poly1305.New(key[:])
	return a.Open(nil, rec[2:14], rec[16:], rec[:16])
}

func TestGroupRoundTrip(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	for _, id := range []uint32{11, 22, 33} {
		w.join(id)
		w.clock.add(GroupRekeyInterval)
	}
	if w.g.Epoch() != 3 {
		t.Fatalf("epoch %d after 3 joins, want 3", w.g.Epoch())
	}
	ids := []uint32{11, 22, 33}
	var want []string
	for f := range 20 {
		var msgs [][]byte
		for i := range 1 + f%4 {
			msgs = append(msgs, groupMsg(f, i, 1+(f*977+i*31)%3000))
		}
		if f == 7 {
			msgs = append(msgs, groupMsg(f, 9, MaxPayload))
		}
		w.mustFeed(w.frame(msgs...), ids...)
		want = append(want, joinFrame(msgs))
	}
	for _, id := range ids {
		v := w.viewers[id]
		if len(v.frames) != len(want) {
			t.Fatalf("viewer %d got %d frames, want %d", id, len(v.frames), len(want))
		}
		for i := range want {
			if v.frames[i] != want[i] {
				t.Fatalf("viewer %d frame %d differs", id, i)
			}
		}
		if v.r.Epoch() != 3 || v.r.Err() != nil {
			t.Errorf("viewer %d: epoch %d, err %v", id, v.r.Epoch(), v.r.Err())
		}
		if got := v.r.Roster(); len(got) != 3 || got[2].ID != 33 || got[2].Name != "viewer 33" {
			t.Errorf("viewer %d roster %+v", id, got)
		}
	}
	// Every viewer got the same presentation key and its own id.
	for _, id := range ids {
		k := w.viewers[id].keys[len(w.viewers[id].keys)-1]
		if k.You != id || k.PresentationKey != w.g.PresentationKey() || k.Epoch != 3 {
			t.Errorf("viewer %d key %v", id, k)
		}
		// Formatting must not print the key.
		if s := fmt.Sprintf("%v %+v %s", k, k, k); strings.Contains(s, fmt.Sprint(k.Key[:4])[1:8]) || strings.Contains(s, "Key") {
			t.Errorf("GroupKey formats its key: %s", s)
		}
	}
}

func TestGroupLeaverCannotReadNextEpoch(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	for _, id := range []uint32{1, 2, 3} {
		w.join(id)
		w.clock.add(GroupRekeyInterval)
	}
	w.mustFeed(w.frame([]byte("before")), 1, 2, 3)
	w.leave(3)
	if w.g.Epoch() != 4 || len(w.viewers[3].keys) != 1 {
		t.Fatalf("epoch %d, leaver has %d keys", w.g.Epoch(), len(w.viewers[3].keys))
	}
	for _, m := range w.g.Members() {
		if m.ID == 3 {
			t.Fatal("leaver still a member")
		}
	}
	recs := w.frame([]byte("after the leave"))
	w.mustFeed(recs, 1, 2)
	// The leaver's receiver holds the records (no key) and delivers nothing.
	w.mustFeed(recs, 3)
	if got := w.viewers[3].frames; len(got) != 1 || got[0] != "before" {
		t.Errorf("leaver delivered %q", got)
	}
	// Nor can it decrypt them with any key it ever had.
	for _, k := range w.viewers[3].keys {
		for _, rec := range recs {
			if _, err := openWith(k.Key, rec); err == nil {
				t.Fatalf("leaver opened a record of epoch 4 with the key of epoch %d", k.Epoch)
			}
		}
	}
	for _, id := range []uint32{1, 2} {
		if got := w.viewers[id].frames; len(got) != 2 || got[1] != "after the leave" {
			t.Errorf("viewer %d frames %q", id, got)
		}
	}
}

func TestGroupNewcomerCannotReadPreviousEpoch(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	w.join(1)
	old := w.frame([]byte("before the join"), []byte("secret"))
	w.mustFeed(old, 1)
	w.clock.add(GroupRekeyInterval)
	w.join(2)
	// The relay forwards the earlier epoch's records to the newcomer too
	// (it was paired before it got a key): they are dropped.
	w.mustFeed(old, 2)
	recs := w.frame([]byte("after the join"))
	w.mustFeed(recs, 1, 2)
	if got := w.viewers[2].frames; len(got) != 1 || got[0] != "after the join" {
		t.Errorf("newcomer delivered %q", got)
	}
	for _, rec := range old {
		if _, err := openWith(w.viewers[2].keys[0].Key, rec); err == nil {
			t.Fatal("newcomer opened a record of the epoch before its join")
		}
	}
	if len(w.viewers[2].keys) != 1 || w.viewers[2].keys[0].Epoch != 2 {
		t.Fatalf("newcomer keys %v", w.viewers[2].keys)
	}
	// Old records after the newcomer's stream started are a reorder.
	if err := w.viewers[2].r.Open(old[0]); !errors.Is(err, ErrRecordOrder) {
		t.Errorf("old record after start: %v, want ErrRecordOrder", err)
	}
}

// TestGroupForgery: viewer 3 holds GK_e and controls the relay; it cannot
// make viewers 1 and 2 deliver anything the host did not sign.
func TestGroupForgery(t *testing.T) {
	setup := func(t *testing.T) (*groupWorld, [32]byte, uint32) {
		w := newGroupWorld(t, GroupConfig{})
		for _, id := range []uint32{1, 2, 3} {
			w.join(id)
			w.clock.add(GroupRekeyInterval)
		}
		w.mustFeed(w.frame([]byte("genuine 0")), 1, 2)
		k := w.viewers[3].keys[len(w.viewers[3].keys)-1]
		return w, k.Key, k.Epoch
	}
	evil := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	fakeSig := func(chain [32]byte) []byte { return ed25519.Sign(evil, groupSigMessage(&chain)) }
	chainOf := func(w *groupWorld, recs ...[]byte) [32]byte {
		c := w.g.h0
		for _, r := range recs {
			groupChainNext(w.g.sha, &c, r)
		}
		return c
	}
	check := func(t *testing.T, w *groupWorld, recs [][]byte, want error) {
		t.Helper()
		errs := w.feed(recs, 1, 2)
		for _, id := range []uint32{1, 2} {
			if !errors.Is(errs[id], want) {
				t.Errorf("viewer %d: %v, want %v", id, errs[id], want)
			}
			if got := w.viewers[id].frames; len(got) != 1 {
				t.Errorf("viewer %d delivered %q", id, got[1:])
			}
		}
	}
	t.Run("whole frame, own signature", func(t *testing.T) {
		w, k, e := setup(t)
		r0 := reseal(k, e, 2, groupFirst, []byte("forged"))
		check(t, w, [][]byte{r0, reseal(k, e, 3, groupEnd, fakeSig(chainOf(w, r0)))}, ErrGroupSignature)
	})
	t.Run("whole frame, replayed signature", func(t *testing.T) {
		w, k, e := setup(t)
		genuine := w.frame([]byte("genuine 1"))
		sigPt, _ := openWith(k, genuine[1])
		r0 := reseal(k, e, 2, groupFirst, []byte("genuine 2"))
		check(t, w, [][]byte{r0, reseal(k, e, 3, groupEnd, sigPt[1:])}, ErrGroupSignature)
	})
	t.Run("altered record", func(t *testing.T) {
		w, k, e := setup(t)
		genuine := w.frame([]byte("pay 10 EUR"), []byte("to alice"))
		alt := cloneRecs(genuine)
		alt[1] = reseal(k, e, 3, groupMore, []byte("to mallory"))
		check(t, w, alt, ErrGroupSignature)
	})
	t.Run("record dropped and renumbered", func(t *testing.T) {
		w, k, e := setup(t)
		genuine := w.frame([]byte("a"), []byte("b"), []byte("c"))
		sigPt, _ := openWith(k, genuine[3])
		pt2, _ := openWith(k, genuine[2])
		alt := [][]byte{genuine[0], reseal(k, e, 3, pt2[0], pt2[1:]), reseal(k, e, 4, groupEnd, sigPt[1:])}
		check(t, w, alt, ErrGroupSignature)
	})
	t.Run("frame cut short with its own END", func(t *testing.T) {
		w, k, e := setup(t)
		genuine := w.frame([]byte("a"), []byte("b"))
		sigPt, _ := openWith(k, genuine[2])
		check(t, w, [][]byte{genuine[0], reseal(k, e, 3, groupEnd, sigPt[1:])}, ErrGroupSignature)
	})
	t.Run("extra record appended", func(t *testing.T) {
		w, k, e := setup(t)
		genuine := w.frame([]byte("a"))
		sigPt, _ := openWith(k, genuine[1])
		alt := [][]byte{genuine[0], reseal(k, e, 3, groupMore, []byte("x")), reseal(k, e, 4, groupEnd, sigPt[1:])}
		check(t, w, alt, ErrGroupSignature)
	})
	t.Run("genuine frames still flow to the honest", func(t *testing.T) {
		w, _, _ := setup(t)
		w.mustFeed(w.frame([]byte("genuine 1")), 1, 2)
		if got := w.viewers[1].frames; len(got) != 2 || got[1] != "genuine 1" {
			t.Errorf("frames %q", got)
		}
	})
}

func TestGroupTransportAttacks(t *testing.T) {
	type setupT struct {
		w    *groupWorld
		recs [][]byte // two frames: [a b END] [c END]
	}
	setup := func(t *testing.T) setupT {
		w := newGroupWorld(t, GroupConfig{})
		w.join(1)
		recs := append(w.frame([]byte("a"), []byte("bb")), w.frame([]byte("ccc"))...)
		return setupT{w, recs}
	}
	cases := []struct {
		name  string
		mod   func(r [][]byte) [][]byte
		want  error
		nGood int // frames delivered before the failure
	}{
		{"reorder", func(r [][]byte) [][]byte { return [][]byte{r[1], r[0], r[2], r[3], r[4]} }, ErrRecordOrder, 0},
		{"duplicate", func(r [][]byte) [][]byte { return [][]byte{r[0], r[0], r[1]} }, ErrRecordOrder, 0},
		{"replayed frame", func(r [][]byte) [][]byte { return [][]byte{r[0], r[1], r[2], r[0], r[1], r[2]} }, ErrRecordOrder, 1},
		{"gap", func(r [][]byte) [][]byte { return [][]byte{r[0], r[2]} }, ErrRecordOrder, 0},
		{"first record missing", func(r [][]byte) [][]byte { return r[1:] }, ErrRecordOrder, 0},
		{"truncated header", func(r [][]byte) [][]byte { return [][]byte{r[0][:10]} }, ErrRecordMalformed, 0},
		{"truncated body", func(r [][]byte) [][]byte { return [][]byte{r[0][:len(r[0])-1]} }, ErrRecordMalformed, 0},
		{"trailing byte", func(r [][]byte) [][]byte { return [][]byte{append(bytes.Clone(r[0]), 0)} }, ErrRecordMalformed, 0},
		{"pairwise type", func(r [][]byte) [][]byte {
			x := bytes.Clone(r[0])
			x[1] = byte(recData)
			return [][]byte{x}
		}, ErrRecordMalformed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := setup(t)
			errs := s.w.feed(c.mod(s.recs), 1)
			if !errors.Is(errs[1], c.want) {
				t.Errorf("got %v, want %v", errs[1], c.want)
			}
			if got := s.w.viewers[1].frames; len(got) != c.nGood {
				t.Errorf("delivered %q, want %d frames", got, c.nGood)
			}
			// The failure is sticky until Resync.
			if err := s.w.viewers[1].r.Open(s.recs[0]); err == nil || !errors.Is(err, c.want) {
				t.Errorf("after failure: %v", err)
			}
		})
	}
	t.Run("END withheld", func(t *testing.T) {
		s := setup(t)
		w := s.w
		// The relay withholds the END: nothing of the frame is delivered.
		recs := [][]byte{s.recs[0], s.recs[1]}
		w.mustFeed(recs, 1)
		if len(w.viewers[1].frames) != 0 {
			t.Fatal("delivered an unfinished frame")
		}
	})
	t.Run("bit flips", func(t *testing.T) {
		s := setup(t)
		for i := range len(s.recs[1]) * 8 {
			w := newGroupWorld(t, GroupConfig{})
			w.join(1)
			recs := w.frame([]byte("a"), []byte("bb"))
			recs[1] = bytes.Clone(recs[1])
			recs[1][i/8] ^= 1 << (i % 8)
			errs := w.feed(recs, 1)
			if errs[1] == nil || !strings.HasPrefix(errs[1].Error(), "proto: ") {
				t.Fatalf("bit %d: %v", i, errs[1])
			}
			if len(w.viewers[1].frames) != 0 {
				t.Fatalf("bit %d: delivered", i)
			}
		}
	})
	t.Run("frame cut by epoch change", func(t *testing.T) {
		w := newGroupWorld(t, GroupConfig{})
		w.join(1)
		first, _ := w.g.AppendRecord(nil, []byte("a"))
		w.mustFeed([][]byte{first}, 1)
		w.clock.add(GroupRekeyInterval)
		ups, _ := w.g.Join(2, "two") // deferred: a frame is open
		if len(ups) != 0 {
			t.Fatal("rekey inside a frame")
		}
		if _, err := w.g.AppendEndFrame(nil); err != nil {
			t.Fatal(err)
		}
		ups, err := w.g.Poll()
		if err != nil || len(ups) != 2 {
			t.Fatalf("Poll after the frame: %d updates, %v", len(ups), err)
		}
		w.viewer(2)
		w.send(ups)
		newRecs := w.frame([]byte("b"))
		// The relay withholds the END of epoch 1: the first record of
		// epoch 2 cuts the frame.
		if errs := w.feed(newRecs, 1); !errors.Is(errs[1], ErrGroupFrame) {
			t.Errorf("got %v, want ErrGroupFrame", errs[1])
		}
	})
}

func TestGroupEpochChange(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	w.join(1)
	w.mustFeed(w.frame([]byte("e1 f0")), 1)
	// Epoch 1 records still in flight when epoch 2's key arrives (the
	// pairwise channel overtook the broadcast path).
	inFlight := w.frame([]byte("e1 f1"))
	w.clock.add(GroupRekeyInterval)
	w.join(2)
	e2 := w.frame([]byte("e2 f0"))
	w.mustFeed(inFlight, 1)
	w.mustFeed(e2, 1, 2)
	if got := w.viewers[1].frames; strings.Join(got, ",") != "e1 f0,e1 f1,e2 f0" {
		t.Errorf("viewer 1 frames %q", got)
	}
	if w.viewers[1].r.Epoch() != 2 {
		t.Errorf("epoch %d", w.viewers[1].r.Epoch())
	}
	// The old key is gone once epoch 2 started.
	if err := w.viewers[1].r.Open(inFlight[0]); !errors.Is(err, ErrRecordOrder) {
		t.Errorf("epoch 1 record after epoch 2: %v", err)
	}

	t.Run("key after its records", func(t *testing.T) {
		w := newGroupWorld(t, GroupConfig{})
		w.join(1)
		w.mustFeed(w.frame([]byte("e1")), 1)
		w.clock.add(GroupRekeyInterval)
		ups, err := w.g.Join(2, "two")
		if err != nil {
			t.Fatal(err)
		}
		w.viewer(2)
		recs := w.frame([]byte("e2"), []byte("more"))
		w.mustFeed(recs, 1, 2) // held: no key for epoch 2 yet
		if len(w.viewers[1].frames) != 1 || len(w.viewers[2].frames) != 0 {
			t.Fatal("delivered without the key")
		}
		w.send(ups) // the held records open and deliver
		for _, id := range []uint32{1, 2} {
			if got := w.viewers[id].frames; len(got) == 0 || got[len(got)-1] != "e2|more" {
				t.Errorf("viewer %d frames %q", id, got)
			}
		}
	})
	t.Run("previous key expires", func(t *testing.T) {
		w := newGroupWorld(t, GroupConfig{})
		w.join(1)
		w.mustFeed(w.frame([]byte("e1")), 1)
		late := w.frame([]byte("late"))
		w.clock.add(GroupRekeyInterval)
		w.join(2)
		w.clock.add(GroupEpochGrace + time.Millisecond)
		if errs := w.feed(late, 1); !errors.Is(errs[1], ErrGroupKey) {
			t.Errorf("record of the previous epoch after the grace: %v", errs[1])
		}
	})
	t.Run("periodic rekey", func(t *testing.T) {
		w := newGroupWorld(t, GroupConfig{RekeyRecords: 4})
		w.join(1)
		for i := range 6 {
			ups, err := w.g.Poll()
			if err != nil {
				t.Fatal(err)
			}
			w.send(ups)
			w.mustFeed(w.frame([]byte{byte(i)}, []byte{byte(i)}, []byte{byte(i)}), 1)
			w.clock.add(GroupRekeyInterval)
			if i == 2 {
				if _, err := w.g.AppendRecord(nil, []byte("x")); !errors.Is(err, ErrGroupRekeyDue) {
					t.Fatalf("frame after 4 records without Poll: %v", err)
				}
			}
		}
		if w.g.Epoch() != 6 || len(w.viewers[1].frames) != 6 {
			t.Errorf("epoch %d, %d frames", w.g.Epoch(), len(w.viewers[1].frames))
		}
	})
	t.Run("refused keys", func(t *testing.T) {
		w := newGroupWorld(t, GroupConfig{})
		w.join(1)
		r := w.viewers[1].r
		k := *w.viewers[1].keys[0]
		if err := r.SetKey(&k); !errors.Is(err, ErrGroupKey) {
			t.Errorf("same epoch again: %v", err)
		}
		k.Epoch++
		k.PresentationKey[0] ^= 1
		if err := r.SetKey(&k); !errors.Is(err, ErrGroupKey) {
			t.Errorf("other presentation key: %v", err)
		}
		k.PresentationKey[0] ^= 1
		k.You = 99
		if err := r.SetKey(&k); !errors.Is(err, ErrGroupKey) {
			t.Errorf("not in roster: %v", err)
		}
	})
}

func TestGroupRekeyRateLimit(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	t0 := w.clock.now()
	w.join(1)
	w.clock.add(100 * time.Millisecond)
	ups, err := w.g.Join(2, "two")
	if err != nil || len(ups) != 0 {
		t.Fatalf("second join within the interval: %d updates, %v", len(ups), err)
	}
	if at, ok := w.g.Due(); !ok || !at.Equal(t0.Add(GroupRekeyInterval)) {
		t.Errorf("Due = %v, %v; want %v", at, ok, t0.Add(GroupRekeyInterval))
	}
	// Frames go on under epoch 1 meanwhile; the newcomer has no key.
	w.mustFeed(w.frame([]byte("x")), 1)
	if ups, _ := w.g.Poll(); len(ups) != 0 {
		t.Fatal("Poll rekeyed within the interval")
	}
	w.clock.add(GroupRekeyInterval)
	if _, err := w.g.AppendRecord(nil, []byte("y")); !errors.Is(err, ErrGroupRekeyDue) {
		t.Fatalf("frame while a rekey is due: %v", err)
	}
	ups, err = w.g.Poll()
	if err != nil || len(ups) != 2 || w.g.Epoch() != 2 {
		t.Fatalf("Poll: %d updates, %v, epoch %d", len(ups), err, w.g.Epoch())
	}
	w.viewer(2)
	w.send(ups)
	// Joins and leaves in a burst make one epoch per interval.
	for id := uint32(3); id < 10; id++ {
		w.viewer(id)
		ups, err := w.g.Join(id, "")
		if err != nil {
			t.Fatal(err)
		}
		w.send(ups)
	}
	for id := uint32(3); id < 6; id++ {
		w.leave(id)
	}
	if w.g.Epoch() != 2 {
		t.Errorf("burst rekeyed: epoch %d", w.g.Epoch())
	}
	w.clock.add(GroupRekeyInterval)
	ups, _ = w.g.Poll()
	w.send(ups)
	if w.g.Epoch() != 3 || len(ups) != 6 {
		t.Errorf("after the burst: epoch %d, %d updates", w.g.Epoch(), len(ups))
	}
	if _, err := NewGroup(GroupConfig{RekeyInterval: 2 * time.Second}); err == nil {
		t.Error("RekeyInterval 2 s accepted")
	}
	// Membership errors.
	if _, err := w.g.Join(1, "again"); !errors.Is(err, ErrGroupMember) {
		t.Errorf("Join twice: %v", err)
	}
	if _, err := w.g.Join(0, ""); !errors.Is(err, ErrGroupMember) {
		t.Errorf("Join 0: %v", err)
	}
	if _, err := w.g.Leave(77); !errors.Is(err, ErrGroupMember) {
		t.Errorf("Leave of a stranger: %v", err)
	}
	if _, err := w.g.Join(80, strings.Repeat("n", MaxHelloField+1)); !errors.Is(err, ErrGroupMember) {
		t.Errorf("long name: %v", err)
	}
}

func TestGroupLimits(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	if _, err := w.g.AppendRecord(nil, []byte("x")); !errors.Is(err, ErrGroupNoKey) {
		t.Errorf("record before any join: %v", err)
	}
	w.join(1)
	if _, err := w.g.AppendEndFrame(nil); !errors.Is(err, ErrGroupFrame) {
		t.Errorf("END without a frame: %v", err)
	}
	if _, err := w.g.AppendRecord(nil, nil); err == nil {
		t.Error("empty message accepted")
	}
	if _, err := w.g.AppendRecord(nil, make([]byte, MaxPayload+1)); err == nil {
		t.Error("message over MaxPayload accepted")
	}
	for id := uint32(2); id <= MaxGroupViewers; id++ {
		if _, err := w.g.Join(id, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.g.Join(1000, ""); !errors.Is(err, ErrGroupMember) {
		t.Errorf("viewer %d: %v", MaxGroupViewers+1, err)
	}
	// The largest frame passes; one more record or byte is refused.
	w.clock.add(GroupRekeyInterval)
	w.send(must(w.g.Poll()))
	msg := make([]byte, MaxGroupFrameBytes/MaxGroupFrameRecords)
	var recs [][]byte
	for range MaxGroupFrameRecords {
		r, err := w.g.AppendRecord(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := w.g.AppendRecord(nil, []byte("1")); !errors.Is(err, ErrGroupFrame) {
		t.Errorf("record %d: %v", MaxGroupFrameRecords+1, err)
	}
	end, _ := w.g.AppendEndFrame(nil)
	w.mustFeed(append(recs, end), 1)
	if len(w.viewers[1].frames) != 1 {
		t.Fatal("largest frame not delivered")
	}
	// A receiver refuses a frame over the limits (a key holder's records).
	k := w.viewers[1].keys[len(w.viewers[1].keys)-1]
	seq := uint64(MaxGroupFrameRecords + 1)
	r := w.viewers[1].r
	var err error
	for i := 0; err == nil && i <= MaxGroupFrameRecords; i++ {
		kind := byte(groupMore)
		if i == 0 {
			kind = groupFirst
		}
		err = r.Open(reseal(k.Key, k.Epoch, seq, kind, []byte("z")))
		seq++
	}
	if !errors.Is(err, ErrGroupFrame) {
		t.Errorf("frame of %d records: %v", MaxGroupFrameRecords+1, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestGroupResync(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	w.join(1)
	f0 := w.frame([]byte("f0"))
	f1 := w.frame([]byte("f1"), []byte("f1b"))
	f2 := w.frame([]byte("f2"))
	w.mustFeed(f0, 1)
	// The relay lost f1's first record (a slow viewer): order error.
	errs := w.feed(append(f1[1:], f2...), 1)
	if !errors.Is(errs[1], ErrRecordOrder) {
		t.Fatalf("gap: %v", errs[1])
	}
	// After "lost": Resync; the rest of f1 is skipped, f2 delivered.
	w.viewers[1].r.Resync()
	w.mustFeed(append(f1[1:], f2...), 1)
	if got := w.viewers[1].frames; len(got) != 2 || got[1] != "f2" {
		t.Errorf("frames %q", got)
	}
	// Resync does not allow replays.
	w.viewers[1].r.Resync()
	if errs := w.feed(f2, 1); !errors.Is(errs[1], ErrRecordOrder) {
		t.Errorf("replay after resync: %v", errs[1])
	}
	w.viewers[1].r.Close()
	if err := w.viewers[1].r.Open(f2[0]); !errors.Is(err, ErrGroupClosed) {
		t.Errorf("after Close: %v", err)
	}
	w.g.Close()
	if _, err := w.g.AppendRecord(nil, []byte("x")); !errors.Is(err, ErrGroupClosed) {
		t.Errorf("host after Close: %v", err)
	}
}

func TestGroupDeliverError(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	w.join(1)
	boom := errors.New("decoder full")
	n := 0
	r := NewGroupReceiver(GroupReceiverConfig{Clock: w.clock.now, Deliver: func(msgs [][]byte) error {
		n++
		if n == 1 {
			return boom
		}
		return nil
	}})
	recs := append(w.frame([]byte("a")), w.frame([]byte("b"))...)
	// Held before the key: SetKey opens them, reports Deliver's error and
	// goes on; the receiver is not failed by it.
	for _, rec := range recs {
		if err := r.Open(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetKey(w.viewers[1].keys[0]); !errors.Is(err, boom) {
		t.Errorf("SetKey = %v, want Deliver's error", err)
	}
	if n != 2 || r.Err() != nil {
		t.Errorf("%d frames delivered, receiver error %v", n, r.Err())
	}
	for _, rec := range w.frame([]byte("c")) {
		if err := r.Open(rec); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Errorf("%d frames delivered, want 3", n)
	}
}

func TestGroupKeyMsgErrors(t *testing.T) {
	good := func() *GroupKey {
		return &GroupKey{Epoch: 1, Key: [32]byte{1}, PresentationKey: [32]byte{2}, You: 5, Roster: []GroupMember{{ID: 5}, {ID: 6, Name: "x"}}}
	}
	for _, c := range []struct {
		name string
		mod  func(m *GroupKey)
	}{
		{"epoch 0", func(m *GroupKey) { m.Epoch = 0 }},
		{"you 0", func(m *GroupKey) { m.You = 0 }},
		{"you absent", func(m *GroupKey) { m.You = 7 }},
		{"zero key", func(m *GroupKey) { m.Key = [32]byte{} }},
		{"zero presentation key", func(m *GroupKey) { m.PresentationKey = [32]byte{} }},
		{"duplicate id", func(m *GroupKey) { m.Roster[1].ID = 5 }},
		{"id 0", func(m *GroupKey) { m.Roster[1].ID = 0 }},
		{"name too long", func(m *GroupKey) { m.Roster[1].Name = strings.Repeat("n", MaxHelloField+1) }},
		{"name not UTF-8", func(m *GroupKey) { m.Roster[1].Name = "\xff" }},
		{"roster too long", func(m *GroupKey) {
			m.Roster = sampleGroupKeyFull().Roster
			m.Roster = append(m.Roster, GroupMember{ID: 999})
		}},
	} {
		m := good()
		c.mod(m)
		if _, err := Marshal(m); err == nil {
			t.Errorf("%s: Marshal accepted", c.name)
		}
		// The same bytes are refused by the decoder.
		b := m.appendBody([]byte{byte(MsgGroupKey)})
		if _, err := Unmarshal(b); err == nil {
			t.Errorf("%s: Unmarshal accepted", c.name)
		}
	}
	b, _ := Marshal(good())
	b[len(b)-1-1-4-1-4-1] = 200 // roster count beyond what follows
	if _, err := Unmarshal(b); err == nil {
		t.Error("roster count 200 accepted")
	}
}

func TestIsGroupRecord(t *testing.T) {
	w := newGroupWorld(t, GroupConfig{})
	w.join(1)
	recs := w.frame([]byte("a"))
	if !IsGroupRecord(recs[0]) || !IsGroupRecord(recs[1]) || IsGroupRecord(nil) || IsGroupRecord([]byte{1, byte(recData)}) {
		t.Error("IsGroupRecord")
	}
	// A channel's record opener refuses a GROUP record.
	var k trafficKey
	o := newRecordOpener(k, nil)
	if _, _, err := o.open(recs[0]); err == nil {
		t.Error("pairwise opener accepted a GROUP record")
	}
	if recGroup.String() != "GROUP" {
		t.Error(recGroup.String())
	}
}

// FuzzGroupKey decodes arbitrary GroupKey messages: no panic, and what
// decodes re-encodes to the same bytes (one encoding per message).
func FuzzGroupKey(f *testing.F) {
	for _, m := range []*GroupKey{sampleGroupKeyFull(), {Epoch: 3, Key: [32]byte{1}, PresentationKey: [32]byte{2}, You: 1, Roster: []GroupMember{{ID: 1, Name: "a"}}}} {
		b, _ := Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{byte(MsgGroupKey)})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m GroupKey
		if err := m.DecodeFromBytes(b); err != nil {
			if !strings.HasPrefix(err.Error(), "proto: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		out, err := Marshal(&m)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding: %v, %x != %x", err, out, b)
		}
		r := NewGroupReceiver(GroupReceiverConfig{})
		if err := r.SetKey(&m); err != nil {
			t.Fatalf("SetKey of a valid message: %v", err)
		}
	})
}

// FuzzGroupRecords drives a receiver holding the group key with a
// malicious transport: each input byte picks a genuine record, an
// arbitrary or a key holder's forged record, a bit flip, or a Resync. The
// receiver must never panic and must deliver only genuine frames, each at
// most once, in order.
func FuzzGroupRecords(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0, 1, 2, 0, 0x80, 3, 4, 0xc0, 0xff, 5, 6})
	f.Add([]byte{0x41, 0x42, 0x43, 0xe0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		clock := newGroupClock()
		g, err := NewGroup(GroupConfig{Rand: NewDetRandForTest("fuzz group"), Clock: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		r := NewGroupReceiver(GroupReceiverConfig{Clock: clock.now, Deliver: func(msgs [][]byte) error {
			got = append(got, joinFrame(msgs))
			return nil
		}})
		var recs [][]byte
		var want []string
		var keys []*GroupKey
		addKey := func(ups []GroupKeyUpdate) {
			for _, u := range ups {
				if u.To == 1 {
					keys = append(keys, u.Msg)
				}
			}
		}
		addKey(must(g.Join(1, "one")))
		for fr := range 6 {
			if fr == 3 {
				clock.add(GroupRekeyInterval)
				addKey(must(g.Join(2, "two")))
			}
			var msgs [][]byte
			for i := range 1 + fr%3 {
				m := []byte(fmt.Sprintf("frame %d msg %d", fr, i))
				msgs = append(msgs, m)
				recs = append(recs, must(g.AppendRecord(nil, m)))
			}
			recs = append(recs, must(g.AppendEndFrame(nil)))
			want = append(want, joinFrame(msgs))
		}
		keysGiven := 0
		giveKey := func() {
			if keysGiven < len(keys) {
				if err := r.SetKey(keys[keysGiven]); err != nil && !strings.HasPrefix(err.Error(), "proto: ") {
					t.Fatal(err)
				}
				keysGiven++
			}
		}
		giveKey()
		for i, op := range ops {
			var rec []byte
			switch {
			case op < 0x40:
				rec = recs[int(op)%len(recs)]
			case op < 0x80:
				k := keys[int(op)%len(keys)]
				rec = reseal(k.Key, k.Epoch, uint64(op%8), op%4, ops[i:min(len(ops), i+int(op%16))])
			case op < 0xc0:
				rec = bytes.Clone(recs[int(op)%len(recs)])
				j := int(op) * 7919 % (len(rec) * 8)
				rec[j/8] ^= 1 << (j % 8)
			case op < 0xe0:
				rec = ops[i:]
			case op < 0xf0:
				giveKey()
				continue
			default:
				r.Resync()
				continue
			}
			err := r.Open(rec)
			if err != nil && !strings.HasPrefix(err.Error(), "proto: ") {
				t.Fatalf("error %q", err)
			}
		}
		// Delivered frames are genuine, distinct and in order.
		next := 0
		for _, f := range got {
			for next < len(want) && want[next] != f {
				next++
			}
			if next == len(want) {
				t.Fatalf("delivered %q: not a genuine frame, or out of order (got %q)", f, got)
			}
			next++
		}
	})
}
