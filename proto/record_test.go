package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
)

func recordTestKeys() (trafficKey, trafficKey) {
	var a, b trafficKey
	for i := range a.k {
		a.k[i], b.k[i] = byte(i), byte(255-i)
	}
	return a, b
}

// recordPairForTest returns a sealer and the matching opener.
func recordPairForTest(p rekeyPolicy) (*recordSealer, *recordOpener) {
	k, _ := recordTestKeys()
	return newRecordSealer(k, nil, p, time.Unix(0, 0)), newRecordOpener(k, nil)
}

func TestRecordRoundTrip(t *testing.T) {
	s, o := recordPairForTest(rekeyPolicy{})
	for _, n := range []int{0, 1, 1000, MaxRecordPlaintext - 8} {
		body := bytes.Repeat([]byte{0xab}, n)
		rec, err := s.seal(nil, recData, []byte("12345678"), body)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec) != recordHeaderLen+8+n+recordTagLen {
			t.Errorf("record of %d bytes for %d bytes of body", len(rec), n)
		}
		typ, pt, err := o.open(rec)
		if err != nil || typ != recData || !bytes.Equal(pt, append([]byte("12345678"), body...)) {
			t.Fatalf("open(%d bytes) = %v, %d bytes, %v", len(rec), typ, len(pt), err)
		}
	}
	if _, err := s.seal(nil, recData, []byte("12345678"), make([]byte, MaxRecordPlaintext-7)); !errors.Is(err, ErrRecordMalformed) {
		t.Errorf("seal of %d bytes: %v, want ErrRecordMalformed", MaxRecordPlaintext+1, err)
	}
	if MaxPayload != 65511 || MaxRecordSize != 65551 {
		t.Errorf("MaxPayload %d, MaxRecordSize %d", MaxPayload, MaxRecordSize)
	}
}

func TestParseRecordHeader(t *testing.T) {
	hdr := func(ver, typ byte, epoch uint32, seq uint64, l uint16, body int) []byte {
		b := []byte{ver, typ}
		b = binary.BigEndian.AppendUint32(b, epoch)
		b = binary.BigEndian.AppendUint64(b, seq)
		b = binary.BigEndian.AppendUint16(b, l)
		return append(b, make([]byte, body)...)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"minimal", hdr(1, 6, 0, 0, 16, 16), true},
		{"max", hdr(1, 1, 7, 9, 65535, 65535), true},
		{"empty", nil, false},
		{"15 bytes", hdr(1, 1, 0, 0, 16, 0)[:15], false},
		{"version 0", hdr(0, 1, 0, 0, 16, 16), false},
		{"version 2", hdr(2, 1, 0, 0, 16, 16), false},
		{"len below tag", hdr(1, 1, 0, 0, 15, 15), false},
		{"len > body", hdr(1, 1, 0, 0, 100, 99), false},
		{"len < body", hdr(1, 1, 0, 0, 100, 101), false},
		{"oversize body", hdr(1, 1, 0, 0, 65535, 65536), false},
		{"handshake byte", append([]byte{0x11}, hdr(1, 1, 0, 0, 16, 16)[1:]...), false},
	} {
		h, err := parseRecordHeader(tc.msg)
		if (err == nil) != tc.ok {
			t.Errorf("%s: parseRecordHeader(%d bytes) = %+v, %v; want ok %v", tc.name, len(tc.msg), h, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrRecordMalformed) {
			t.Errorf("%s: %v is not ErrRecordMalformed", tc.name, err)
		}
	}
}

// TestRecordOrder: replay, reorder, gap and another epoch are refused, and
// a refused record does not move the opener.
func TestRecordOrder(t *testing.T) {
	s, o := recordPairForTest(rekeyPolicy{})
	var recs [][]byte
	for range 4 {
		r, _ := s.seal(nil, recKeepalive, nil, nil)
		recs = append(recs, r)
	}
	if _, _, err := o.open(recs[0]); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string][]byte{"replay": recs[0], "gap": recs[2], "future": recs[3]} {
		if _, _, err := o.open(r); !errors.Is(err, ErrRecordOrder) {
			t.Errorf("%s: %v, want ErrRecordOrder", name, err)
		}
	}
	wrongEpoch := bytes.Clone(recs[1])
	wrongEpoch[5] = 1
	if _, _, err := o.open(wrongEpoch); !errors.Is(err, ErrRecordOrder) {
		t.Errorf("wrong epoch: %v", err)
	}
	for _, r := range recs[1:] {
		if _, _, err := o.open(r); err != nil {
			t.Errorf("in-order record after refusals: %v", err)
		}
	}
	// Changing the type byte (part of the AD) fails authentication.
	r, _ := s.seal(nil, recKeepalive, nil, nil)
	r[1] = byte(recRekey)
	if _, _, err := o.open(r); !errors.Is(err, ErrRecordAuth) {
		t.Errorf("retyped record: %v, want ErrRecordAuth", err)
	}
}

// TestRekeyThresholds: the sealer wants a rekey exactly at the record,
// byte and time thresholds and before passing maxRecordSeq.
func TestRekeyThresholds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k, _ := recordTestKeys()
	s := newRecordSealer(k, nil, rekeyPolicy{records: 10}, t0)
	for i := range 10 {
		if s.needRekey(t0) {
			t.Fatalf("rekey wanted after %d records, threshold 10", i)
		}
		s.seal(nil, recKeepalive, nil, nil)
	}
	if !s.needRekey(t0) {
		t.Error("no rekey after 10 records")
	}

	s = newRecordSealer(k, nil, rekeyPolicy{bytes: 100}, t0)
	s.seal(nil, recData, nil, make([]byte, 99))
	if s.needRekey(t0) {
		t.Error("rekey wanted after 99 bytes")
	}
	s.seal(nil, recData, nil, make([]byte, 1))
	if !s.needRekey(t0) {
		t.Error("no rekey after 100 bytes")
	}

	s = newRecordSealer(k, nil, rekeyPolicy{after: time.Minute}, t0)
	if s.needRekey(t0.Add(time.Minute-1)) || !s.needRekey(t0.Add(time.Minute)) {
		t.Error("time threshold not exact")
	}

	s = newRecordSealer(k, nil, rekeyPolicy{}, t0)
	s.seq = maxRecordSeq - 1
	if s.needRekey(t0) {
		t.Error("rekey wanted below maxRecordSeq")
	}
	s.seq = maxRecordSeq
	if !s.needRekey(t0) {
		t.Error("no rekey at maxRecordSeq")
	}
	s.seq = maxRecordSeq + 1
	if _, err := s.seal(nil, recKeepalive, nil, nil); err == nil {
		t.Error("sealed past maxRecordSeq")
	}
}

// TestRekeyNearMaxSeq: sealer and opener starting near 2^64: REKEY takes
// the last allowed seq, both move to epoch 1 at seq 0, never wrapping.
func TestRekeyNearMaxSeq(t *testing.T) {
	s, o := recordPairForTest(rekeyPolicy{})
	s.seq, o.seq = maxRecordSeq-2, maxRecordSeq-2
	var seqs []uint64
	for range 6 {
		if s.needRekey(time.Unix(0, 0)) {
			r, err := s.seal(nil, recRekey, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := o.open(r); err != nil {
				t.Fatalf("open REKEY: %v", err)
			}
			if err := s.rekey(time.Unix(0, 0)); err != nil {
				t.Fatal(err)
			}
		}
		seqs = append(seqs, s.seq)
		r, err := s.seal(nil, recData, make([]byte, 8), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := o.open(r); err != nil {
			t.Fatalf("open at seq %d: %v", seqs[len(seqs)-1], err)
		}
	}
	want := []uint64{maxRecordSeq - 2, maxRecordSeq - 1, 0, 1, 2, 3}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("seqs = %v, want %v", seqs, want)
		}
	}
	if s.epoch != 1 || o.epoch != 1 {
		t.Errorf("epochs %d / %d, want 1", s.epoch, o.epoch)
	}
	// Epoch exhaustion is refused, not wrapped.
	s.epoch = math.MaxUint32
	if err := s.rekey(time.Unix(0, 0)); !errors.Is(err, ErrEpochExhausted) {
		t.Errorf("rekey at the last epoch: %v", err)
	}
}

func TestRecordPlaintextChecks(t *testing.T) {
	s, o := recordPairForTest(rekeyPolicy{})
	for _, tc := range []struct {
		typ  recordType
		body []byte
	}{
		{recAck, []byte{1}}, {recKeepalive, []byte{1}}, {recRekey, []byte{1}}, {recClose, nil},
		{recClose, make([]byte, 300)}, {recSASCommit, make([]byte, 31)}, {recData, make([]byte, 7)},
		{recGroupKey, make([]byte, 32)}, {recordType(200), nil},
	} {
		r, err := s.seal(nil, tc.typ, nil, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := o.open(r); !errors.Is(err, ErrRecordMalformed) {
			t.Errorf("%v with %d bytes: %v, want ErrRecordMalformed", tc.typ, len(tc.body), err)
		}
	}
}

// TestRecordAllocs: sealing and opening allocate nothing per record once
// the buffers exist (STYLE.md §7: guard hot paths with AllocsPerRun).
func TestRecordAllocs(t *testing.T) {
	s, o := recordPairForTest(rekeyPolicy{})
	body := make([]byte, 1024)
	prefix := make([]byte, 8)
	buf := make([]byte, 0, MaxRecordSize)
	o.buf = make([]byte, 0, MaxRecordSize)
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := s.seal(buf[:0], recData, prefix, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := o.open(r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per sealed and opened record, want 0", allocs)
	}
	// Oversize input is refused before anything is allocated for it:
	// only the error value (well under 1 KiB per refusal).
	huge := make([]byte, 1<<20)
	huge[0] = RecordVersion
	huge[14], huge[15] = 0xff, 0xff
	k0, _ := recordTestKeys()
	o2 := newRecordOpener(k0, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, _, err := o2.open(huge); err == nil {
			t.Fatal("opened a 1 MiB record")
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 100*1024 {
		t.Errorf("refusing 100 oversize records allocated %d bytes", d)
	}
}

func FuzzRecordHeader(f *testing.F) {
	s, _ := recordPairForTest(rekeyPolicy{})
	r, _ := s.seal(nil, recData, make([]byte, 8), []byte("hello"))
	f.Add(r)
	f.Add(r[:16])
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	addMutations(f, nil, r)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseRecordHeader(b)
		if err != nil {
			return
		}
		if h.len != len(b)-recordHeaderLen || h.len > MaxRecordBody || h.len < recordTagLen || b[0] != RecordVersion {
			t.Fatalf("accepted header %+v for %d bytes", h, len(b))
		}
	})
}

// FuzzRecordOpen feeds arbitrary records to an opener that expects seq 0:
// no panic, and only the genuine record (or none) opens.
func FuzzRecordOpen(f *testing.F) {
	s, _ := recordPairForTest(rekeyPolicy{})
	var seeds [][]byte
	for _, tc := range []struct {
		typ  recordType
		body []byte
	}{{recData, append(make([]byte, 8), "msg"...)}, {recAck, make([]byte, 8)}, {recClose, []byte{1}}, {recRekey, nil}} {
		r, _ := s.seal(nil, tc.typ, nil, tc.body)
		seeds = append(seeds, r)
	}
	s2, _ := recordPairForTest(rekeyPolicy{})
	genuine, _ := s2.seal(nil, recData, append(make([]byte, 8), "msg"...), nil)
	for _, r := range seeds {
		f.Add(r)
	}
	addMutations(f, nil, seeds...)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, o := recordPairForTest(rekeyPolicy{})
		typ, pt, err := o.open(b)
		if err != nil {
			if o.seq != 0 || o.epoch != 0 {
				t.Fatalf("failed open moved the opener to %d/%d", o.epoch, o.seq)
			}
			return
		}
		// Forging is infeasible: whatever opened was sealed by the real key.
		if !bytes.Equal(b, genuine) && !isSeed(b, seeds) {
			t.Fatalf("opened a record that was never sealed: %x (%v %x)", b, typ, pt)
		}
	})
}

func isSeed(b []byte, seeds [][]byte) bool {
	for _, s := range seeds {
		if bytes.Equal(b, s) {
			return true
		}
	}
	return false
}
