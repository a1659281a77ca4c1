package proto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// fragmentAll cuts payload and returns copies of the fragment messages.
func fragmentAll(t testing.TB, f *Fragmenter, payload []byte, flags FragFlags) (uint32, [][]byte) {
	t.Helper()
	seq, err := f.Start(payload, flags)
	if err != nil {
		t.Fatalf("Start(%d bytes) = %v", len(payload), err)
	}
	var msgs [][]byte
	for {
		m, ok := f.Next(nil)
		if !ok {
			return seq, msgs
		}
		msgs = append(msgs, m)
	}
}

// feed unmarshals msgs into d and returns the completed payload.
func feed(t testing.TB, d *Defragmenter, msgs [][]byte) []byte {
	t.Helper()
	for i, b := range msgs {
		m, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(fragment %d) = %v", i, err)
		}
		p, done, err := d.Add(m.(*Fragment))
		if err != nil {
			t.Fatalf("Add(fragment %d of %d) = %v", i, len(msgs), err)
		}
		if done != (i == len(msgs)-1) {
			t.Fatalf("Add(fragment %d of %d): done = %v", i, len(msgs), done)
		}
		if done {
			return p
		}
	}
	t.Fatalf("no payload completed")
	return nil
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestFragmentRoundTrip(t *testing.T) {
	const small = 100 // messages of 100 bytes: 85 bytes of data each
	tests := []struct {
		stream Stream
		maxMsg int
		size   int
		frags  int
	}{
		{StreamScreen, 0, 0, 1},
		{StreamScreen, 0, 1, 1},
		{StreamScreen, 0, MaxFragmentData, 1},
		{StreamScreen, 0, MaxFragmentData + 1, 2},
		{StreamScreen, 0, 3*MaxFragmentData + 5, 4},
		{StreamScreen, 0, MaxFragments * MaxFragmentData, MaxFragments},
		{StreamScreen, small, 85 * 256, 256},
		{StreamClipboard, 0, MaxClipboard, 17},
		{StreamClipboard, small, 1000, 12},
		{StreamCursor, 0, MaxCursorShape, 5},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%v/%d/%d", tc.stream, tc.maxMsg, tc.size)
		t.Run(name, func(t *testing.T) {
			payload := randBytes(tc.size, uint64(tc.size))
			if tc.stream == StreamClipboard {
				payload = []byte(strings.Repeat("añ€", tc.size/6) + strings.Repeat("a", tc.size%6))
			}
			f := NewFragmenter(tc.stream, tc.maxMsg)
			d := NewDefragmenter(tc.stream)
			for want := range uint32(3) { // consecutive payloads reuse the buffer
				seq, msgs := fragmentAll(t, f, payload, 0)
				if seq != want || len(msgs) != tc.frags {
					t.Fatalf("Start = seq %d, %d fragments; want seq %d, %d", seq, len(msgs), want, tc.frags)
				}
				for i, m := range msgs {
					if limit := msgLimit(tc.maxMsg); len(m) > limit {
						t.Fatalf("fragment %d is %d bytes, more than %d", i, len(m), limit)
					}
				}
				if got := feed(t, d, msgs); !bytes.Equal(got, payload) {
					t.Fatalf("payload %d: reassembled %d bytes differ from %d sent", seq, len(got), len(payload))
				}
				if s, ok := d.Completed(); !ok || s != seq {
					t.Errorf("Completed() = %d, %v; want %d", s, ok, seq)
				}
			}
		})
	}
}

func msgLimit(maxMsg int) int {
	if maxMsg <= 0 {
		return MaxPayload
	}
	return maxMsg
}

func TestFragmentKeyframeAndInterleave(t *testing.T) {
	fs, fc := NewFragmenter(StreamScreen, 64), NewFragmenter(StreamClipboard, 64)
	ds, dc := NewDefragmenter(StreamScreen), NewDefragmenter(StreamClipboard)
	frame, text := randBytes(500, 1), []byte(strings.Repeat("clip ", 40))
	_, sm := fragmentAll(t, fs, frame, FragKeyframe)
	_, cm := fragmentAll(t, fc, text, 0)
	var gotFrame, gotText []byte
	for i := 0; i < max(len(sm), len(cm)); i++ {
		for _, side := range []struct {
			msgs [][]byte
			d    *Defragmenter
			out  *[]byte
		}{{sm, ds, &gotFrame}, {cm, dc, &gotText}} {
			if i >= len(side.msgs) {
				continue
			}
			m, err := Unmarshal(side.msgs[i])
			if err != nil {
				t.Fatal(err)
			}
			f := m.(*Fragment)
			if f.Stream == StreamScreen && f.Flags != FragKeyframe {
				t.Fatalf("screen fragment %d flags = %v, want keyframe", i, f.Flags)
			}
			p, done, err := side.d.Add(f)
			if err != nil {
				t.Fatalf("Add(%v fragment %d) = %v", f.Stream, i, err)
			}
			if done {
				*side.out = bytes.Clone(p)
			}
		}
	}
	if !bytes.Equal(gotFrame, frame) || !bytes.Equal(gotText, text) {
		t.Errorf("interleaved streams reassembled %d and %d bytes, want %d and %d", len(gotFrame), len(gotText), len(frame), len(text))
	}
}

func TestFragmenterErrors(t *testing.T) {
	tests := []struct {
		stream  Stream
		maxMsg  int
		payload []byte
		flags   FragFlags
		want    string
	}{
		{StreamScreen, 0, make([]byte, MaxFragments*MaxFragmentData+1), 0, fmt.Sprintf("proto: fragment screen: payload size %d needs 257 fragments of %d bytes, more than 256", MaxFragments*MaxFragmentData+1, MaxFragmentData)},
		{StreamScreen, 0, make([]byte, MaxScreenUpdate+1), 0, "proto: fragment screen: payload size 16777217 exceeds 16777216"},
		{StreamClipboard, 0, make([]byte, MaxClipboard+1), 0, "proto: fragment clipboard: payload size 1048577 exceeds 1048576"},
		{StreamClipboard, 0, []byte("ok\xff"), 0, "proto: fragment clipboard: clipboard text is not UTF-8"},
		{StreamClipboard, 0, []byte("ok"), FragKeyframe, "proto: fragment clipboard: flags 0x1 invalid on clipboard stream"},
		{StreamScreen, 0, []byte("ok"), 2, "proto: fragment screen: flags 0x2 invalid on screen stream"},
		{StreamCursor, 20, make([]byte, 5*256+1), 0, "proto: fragment cursor: payload size 1281 needs 257 fragments of 5 bytes, more than 256"},
		{Stream(7), 0, []byte("x"), 0, "proto: fragment stream(7): unknown stream 7"},
	}
	for _, tc := range tests {
		f := NewFragmenter(tc.stream, tc.maxMsg)
		if _, err := f.Start(tc.payload, tc.flags); err == nil || err.Error() != tc.want {
			t.Errorf("Start(%v, %d bytes) = %v, want %q", tc.stream, len(tc.payload), err, tc.want)
		}
		if f.NextSeq() != 0 {
			t.Errorf("failed Start used up seq: NextSeq() = %d", f.NextSeq())
		}
	}

	// Start while busy fails; Reset abandons and skips the sequence number.
	f := NewFragmenter(StreamScreen, 50)
	if _, err := f.Start(make([]byte, 200), 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Next(nil); !ok {
		t.Fatal("Next = false")
	}
	if _, err := f.Start([]byte("x"), 0); err == nil || !strings.Contains(err.Error(), "payload 0 not finished (1 of 6 fragments sent)") {
		t.Errorf("Start while busy = %v", err)
	}
	f.Reset()
	if _, ok := f.Next(nil); ok {
		t.Errorf("Next after Reset = true")
	}
	if seq, err := f.Start([]byte("x"), 0); seq != 1 || err != nil {
		t.Errorf("Start after Reset = %d, %v; want 1, nil", seq, err)
	}
	// Tiny maxMsg is clamped to one byte of data per fragment.
	if _, msgs := fragmentAll(t, NewFragmenter(StreamCursor, 1), make([]byte, 3), 0); len(msgs) != 3 || len(msgs[0]) != FragmentOverhead+1 {
		t.Errorf("maxMsg 1: %d fragments of %d bytes, want 3 of %d", len(msgs), len(msgs[0]), FragmentOverhead+1)
	}
}

func TestDefragmenterErrors(t *testing.T) {
	frag := func(seq uint32, index, last uint8, total uint32, data string) *Fragment {
		return &Fragment{Stream: StreamScreen, Seq: seq, Index: index, Last: last, Total: total, Data: []byte(data)}
	}
	tests := []struct {
		name  string
		frags []*Fragment
		want  string // error of the last Add
	}{
		{"other stream", []*Fragment{{Stream: StreamCursor, Total: 1, Data: []byte("x")}}, "proto: defragment screen: seq 0 fragment 0: fragment of cursor stream"},
		{"starts mid-payload", []*Fragment{frag(1, 1, 2, 3, "b")}, "seq 1 fragment 1: want fragment 0 of a new payload"},
		{"seq gap", []*Fragment{frag(1, 0, 0, 1, "a"), frag(3, 0, 0, 1, "a")}, "seq 3 fragment 0: want seq 2 after 1"},
		{"seq repeat", []*Fragment{frag(1, 0, 0, 1, "a"), frag(1, 0, 0, 1, "a")}, "want seq 2 after 1"},
		{"other seq mid-payload", []*Fragment{frag(1, 0, 1, 2, "a"), frag(2, 1, 1, 2, "b")}, "seq 2 fragment 1: want seq 1 fragment 1"},
		{"skipped fragment", []*Fragment{frag(1, 0, 2, 3, "a"), frag(1, 2, 2, 3, "c")}, "want seq 1 fragment 1"},
		{"duplicate fragment", []*Fragment{frag(1, 0, 2, 3, "a"), frag(1, 0, 2, 3, "a")}, "want seq 1 fragment 1"},
		{"new payload mid-payload", []*Fragment{frag(1, 0, 2, 3, "a"), frag(2, 0, 0, 1, "a")}, "want seq 1 fragment 1"},
		{"total changes", []*Fragment{frag(1, 0, 1, 2, "a"), frag(1, 1, 1, 3, "bc")}, "last 1, size 3, flags 0x0 differ from fragment 0's 1, 2, 0x0"},
		{"last changes", []*Fragment{frag(1, 0, 1, 3, "a"), frag(1, 1, 2, 3, "b")}, "differ from fragment 0's"},
		{"flags change", []*Fragment{frag(1, 0, 1, 2, "a"), {Stream: StreamScreen, Flags: FragKeyframe, Seq: 1, Index: 1, Last: 1, Total: 2, Data: []byte("b")}}, "flags 0x1 differ"},
		{"first overruns", []*Fragment{frag(1, 0, 2, 3, "abc")}, "seq 1 fragment 0: data overruns payload size 3"},
		{"overrun", []*Fragment{frag(1, 0, 2, 4, "ab"), frag(1, 1, 2, 4, "cd")}, "data overruns payload size 4"},
		{"short", []*Fragment{frag(1, 0, 1, 4, "ab"), frag(1, 1, 1, 4, "c")}, "seq 1 fragment 1: payload ends at 3 bytes, size 4"},
		{"invalid fragment", []*Fragment{{Stream: StreamScreen, Index: 2, Last: 1, Total: 1, Data: []byte("x")}}, "index 2 beyond last 1"},
	}
	for _, tc := range tests {
		d := NewDefragmenter(StreamScreen)
		var err error
		for i, f := range tc.frags {
			_, _, err = d.Add(f)
			if i < len(tc.frags)-1 && err != nil {
				t.Fatalf("%s: Add(fragment %d) = %v", tc.name, i, err)
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Add = %v, want error containing %q", tc.name, err, tc.want)
		}
		// After an error a new payload may start (the seq rule still holds).
		if _, done, err := d.Add(frag(100, 0, 0, 1, "z")); !done && !strings.Contains(fmt.Sprint(err), "want seq") {
			t.Errorf("%s: Add after error = %v, %v", tc.name, done, err)
		}
	}

	// Clipboard text is checked whole: a character may span fragments.
	d := NewDefragmenter(StreamClipboard)
	euro := "€"
	cl := func(seq uint32, i uint8, s string) *Fragment {
		return &Fragment{Stream: StreamClipboard, Seq: seq, Index: i, Last: 1, Total: 3, Data: []byte(s)}
	}
	d.Add(cl(0, 0, euro[:1]))
	if p, done, err := d.Add(cl(0, 1, euro[1:])); !done || err != nil || string(p) != euro {
		t.Errorf("clipboard € split over fragments = %q, %v, %v", p, done, err)
	}
	d.Add(cl(1, 0, euro[:1]))
	if _, _, err := d.Add(cl(1, 1, "ab")); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("clipboard invalid UTF-8 = %v", err)
	}
}

func TestDefragmenterReset(t *testing.T) {
	d := NewDefragmenter(StreamScreen)
	f := NewFragmenter(StreamScreen, 100)
	_, msgs := fragmentAll(t, f, randBytes(300, 9), 0)
	feed(t, d, msgs)
	_, msgs = fragmentAll(t, f, randBytes(300, 10), 0)
	for _, b := range msgs[:2] { // a relay fail-over loses the rest
		m, _ := Unmarshal(b)
		if _, _, err := d.Add(m.(*Fragment)); err != nil {
			t.Fatal(err)
		}
	}
	d.Reset()
	if _, ok := d.Completed(); ok {
		t.Errorf("Completed() after Reset = ok")
	}
	f.Reset()
	f.Start(nil, 0) // the host skips a sequence number before its keyframe
	f.Reset()
	keyframe := randBytes(250, 11)
	seq, msgs := fragmentAll(t, f, keyframe, FragKeyframe)
	if got := feed(t, d, msgs); !bytes.Equal(got, keyframe) {
		t.Errorf("keyframe after Reset: got %d bytes, want %d", len(got), len(keyframe))
	}
	if s, ok := d.Completed(); !ok || s != seq || seq != 3 {
		t.Errorf("Completed() = %d, %v; want 3", s, ok)
	}
}

// TestFragmentHotPathAllocs guards the steady state of a stream: cutting,
// encoding, decoding and reassembling allocate nothing once the buffers
// have grown.
func TestFragmentHotPathAllocs(t *testing.T) {
	payload := randBytes(1<<20, 3)
	f := NewFragmenter(StreamScreen, 0)
	d := NewDefragmenter(StreamScreen)
	buf := make([]byte, 0, MaxPayload)
	var m Fragment
	run := func() {
		if _, err := f.Start(payload, 0); err != nil {
			t.Fatal(err)
		}
		for {
			msg, ok := f.Next(buf[:0])
			if !ok {
				break
			}
			if err := m.DecodeFromBytes(msg); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.Add(&m); err != nil {
				t.Fatal(err)
			}
		}
	}
	run() // grow the Defragmenter's buffer
	if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
		t.Errorf("1 MiB payload through Fragmenter and Defragmenter: %v allocs, want 0", allocs)
	}
}

// encodeFeed frames messages for FuzzDefragment: u16 length, message.
func encodeFeed(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzDefragment feeds arbitrary message sequences to a Defragmenter per
// stream. Properties: no panic; every completed payload has its
// fragments' total size, within the stream's limit; clipboard text is
// UTF-8; buffers stay within the limits.
func FuzzDefragment(f *testing.F) {
	for _, s := range []Stream{StreamScreen, StreamClipboard, StreamCursor} {
		fr := NewFragmenter(s, 40)
		_, a := fragmentAll(f, fr, []byte("first payload: three fragments of 25 bytes, the last of 10"), 0)
		_, b := fragmentAll(f, fr, []byte("second"), 0)
		f.Add(encodeFeed(append(a, b...)...))
		f.Add(encodeFeed(a[0], a[2], a[1]))
		f.Add(encodeFeed(b[0], a[0]))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ds := map[Stream]*Defragmenter{}
		for _, s := range []Stream{StreamScreen, StreamClipboard, StreamCursor} {
			ds[s] = NewDefragmenter(s)
		}
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			if n > len(in) {
				return
			}
			msg := in[:n]
			in = in[n:]
			if len(msg) > 0 && msg[0] == 0xff { // an injected relay fail-over
				for _, d := range ds {
					d.Reset()
				}
				continue
			}
			var m Fragment
			if m.DecodeFromBytes(msg) != nil {
				continue
			}
			d := ds[m.Stream]
			p, done, err := d.Add(&m)
			if err != nil {
				continue
			}
			if done && (len(p) != int(m.Total) || len(p) > m.Stream.MaxSize()) {
				t.Fatalf("payload of %d bytes, fragment total %d, limit %d", len(p), m.Total, m.Stream.MaxSize())
			}
			if done && m.Stream == StreamClipboard && !utf8.Valid(p) {
				t.Fatalf("clipboard payload %q is not UTF-8", p)
			}
			if cap(d.buf) > m.Stream.MaxSize() {
				t.Fatalf("buffer capacity %d exceeds %d", cap(d.buf), m.Stream.MaxSize())
			}
		}
	})
}

// FuzzFragmentRoundTrip checks that any payload the Fragmenter accepts
// comes back whole through the Defragmenter.
func FuzzFragmentRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint16(0), uint8(StreamScreen))
	f.Add(bytes.Repeat([]byte("x"), 500), uint16(16), uint8(StreamClipboard))
	f.Add([]byte{}, uint16(20), uint8(StreamCursor))
	f.Fuzz(func(t *testing.T, payload []byte, maxMsg uint16, stream uint8) {
		s := Stream(stream%3 + 1)
		fr := NewFragmenter(s, int(maxMsg))
		if _, err := fr.Start(payload, 0); err != nil {
			return
		}
		d := NewDefragmenter(s)
		var m Fragment
		for n := 0; ; n++ {
			msg, ok := fr.Next(nil)
			if !ok {
				t.Fatalf("no payload after %d fragments", n)
			}
			if err := m.DecodeFromBytes(msg); err != nil {
				t.Fatalf("fragment %d: %v", n, err)
			}
			p, done, err := d.Add(&m)
			if err != nil {
				t.Fatalf("Add(fragment %d) = %v", n, err)
			}
			if done {
				if !bytes.Equal(p, payload) {
					t.Fatalf("reassembled %x, want %x", p, payload)
				}
				return
			}
		}
	})
}

func BenchmarkFragmenter(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10, 4 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			payload := randBytes(size, 1)
			f := NewFragmenter(StreamScreen, 0)
			buf := make([]byte, 0, MaxPayload)
			frags := 0
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				f.Start(payload, 0)
				for {
					var ok bool
					if buf, ok = f.Next(buf[:0]); !ok {
						break
					}
					frags++
				}
			}
			b.ReportMetric(float64(frags)/float64(b.N), "fragments/op")
		})
	}
}

func BenchmarkDefragmenter(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10, 4 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			_, msgs := fragmentAll(b, NewFragmenter(StreamScreen, 0), randBytes(size, 1), 0)
			d := NewDefragmenter(StreamScreen)
			var m Fragment
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				d.Reset()
				for _, msg := range msgs {
					if err := m.DecodeFromBytes(msg); err != nil {
						b.Fatal(err)
					}
					if _, _, err := d.Add(&m); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(msgs)), "fragments/op")
		})
	}
}

// ExampleFragmenter cuts a screen update into messages and puts it back
// together on the other side.
func ExampleFragmenter() {
	update := bytes.Repeat([]byte("codec update "), 20000) // 260 000 bytes

	f := NewFragmenter(StreamScreen, 0)
	d := NewDefragmenter(StreamScreen)
	seq, err := f.Start(update, FragKeyframe)
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 0, MaxPayload)
	var frag Fragment
	for n := 1; ; n++ {
		msg, ok := f.Next(buf[:0]) // host: msg goes to Channel.Send(ctx, msg, false)
		if !ok {
			break
		}
		if err := frag.DecodeFromBytes(msg); err != nil { // viewer: after Channel.Recv
			panic(err)
		}
		payload, done, err := d.Add(&frag)
		if err != nil {
			panic(err)
		}
		if done {
			fmt.Println(n, "fragments; frame", seq, "keyframe", frag.Flags&FragKeyframe != 0, "intact", bytes.Equal(payload, update))
		}
	}
	// Output: 4 fragments; frame 0 keyframe true intact true
}
