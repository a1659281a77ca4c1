package proto

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Fragmenter cuts the payloads of one stream into Fragment messages that
// each fit one record, numbering the payloads. Typical use, with buf
// reused from message to message:
//
//	seq, err := f.Start(update, proto.FragKeyframe)
//	...
//	for {
//		msg, ok := f.Next(buf[:0])
//		if !ok {
//			break
//		}
//		buf = msg
//		if err := ch.Send(ctx, msg, false); err != nil { ... }
//	}
//
// A Fragmenter is not safe for concurrent use; one goroutine sends one
// stream.
type Fragmenter struct {
	stream  Stream
	maxData int
	seq     uint32 // the next payload's sequence number

	// The payload being cut, from Start until Next has returned the last
	// fragment or Reset is called.
	payload []byte
	flags   FragFlags
	cur     uint32
	next    int // index of the next fragment
	count   int // fragments of the payload; 0 when idle
}

// NewFragmenter returns a Fragmenter for stream s whose messages are at
// most maxMsg bytes; maxMsg ≤ 0 means MaxPayload (use the space the
// channel leaves in a record), and it is clamped to
// FragmentOverhead+1..MaxPayload. The first payload gets sequence
// number 0.
func NewFragmenter(s Stream, maxMsg int) *Fragmenter {
	if maxMsg <= 0 || maxMsg > MaxPayload {
		maxMsg = MaxPayload
	}
	maxMsg = max(maxMsg, FragmentOverhead+1)
	return &Fragmenter{stream: s, maxData: maxMsg - FragmentOverhead}
}

// Start begins cutting payload, which must stay unchanged until Next has
// returned its last fragment. It returns the payload's sequence number.
// It fails if the previous payload is not finished (see Reset), if the
// payload breaks the stream's limits (size, MaxFragments, UTF-8 for
// clipboard text) or flags are not valid for the stream.
func (f *Fragmenter) Start(payload []byte, flags FragFlags) (seq uint32, err error) {
	if f.count != 0 {
		return 0, fmt.Errorf("proto: fragment %v: payload %d not finished (%d of %d fragments sent)", f.stream, f.cur, f.next, f.count)
	}
	count := max(1, (len(payload)+f.maxData-1)/f.maxData)
	switch limit := f.stream.MaxSize(); {
	case limit == 0:
		err = fmt.Errorf("unknown stream %d", f.stream)
	case flags != 0 && (f.stream != StreamScreen || flags != FragKeyframe):
		err = fmt.Errorf("flags 0x%x invalid on %v stream", uint8(flags), f.stream)
	case len(payload) > limit:
		err = fmt.Errorf("payload size %d exceeds %d", len(payload), limit)
	case count > MaxFragments:
		err = fmt.Errorf("payload size %d needs %d fragments of %d bytes, more than %d", len(payload), count, f.maxData, MaxFragments)
	case f.stream == StreamClipboard && !utf8.Valid(payload):
		err = errors.New("clipboard text is not UTF-8")
	}
	if err != nil {
		return 0, fmt.Errorf("proto: fragment %v: %v", f.stream, err)
	}
	f.payload, f.flags, f.cur, f.next, f.count = payload, flags, f.seq, 0, count
	f.seq++
	return f.cur, nil
}

// Next appends the next Fragment message of the current payload to dst
// and reports whether there was one; after the last it returns dst and
// false until the next Start.
func (f *Fragmenter) Next(dst []byte) ([]byte, bool) {
	if f.next >= f.count {
		f.Reset()
		return dst, false
	}
	lo := f.next * f.maxData
	hi := min(lo+f.maxData, len(f.payload))
	m := Fragment{
		Stream: f.stream,
		Flags:  f.flags,
		Seq:    f.cur,
		Index:  uint8(f.next),
		Last:   uint8(f.count - 1),
		Total:  uint32(len(f.payload)),
		Data:   f.payload[lo:hi],
	}
	f.next++
	return m.appendBody(append(dst, byte(MsgFragment))), true
}

// Reset abandons the current payload, if any: the rest of its fragments
// are not sent, and its sequence number is not reused. The host does this
// when the channel resumes over another relay (unreliable screen
// fragments are not retransmitted) and sends a keyframe next.
func (f *Fragmenter) Reset() {
	f.payload, f.next, f.count = nil, 0, 0
}

// NextSeq returns the sequence number the next Start will assign.
func (f *Fragmenter) NextSeq() uint32 { return f.seq }

// Defragmenter puts the payloads of one stream back together from their
// Fragment messages, which must arrive in order: the fragments of one
// payload with indexes 0..Last, payloads with consecutive sequence
// numbers. It checks each fragment against the stream's limits and the
// payload's first fragment before copying it, and holds at most one
// payload (≤ Stream.MaxSize bytes), reusing its buffer.
//
// A Defragmenter is not safe for concurrent use; the channel's reader
// owns it.
type Defragmenter struct {
	stream Stream
	buf    []byte

	active bool // a payload is partly received
	seq    uint32
	flags  FragFlags
	last   uint8
	next   int // index of the next fragment
	total  uint32

	haveDone bool   // a payload was completed since the last Reset
	doneSeq  uint32 // its sequence number
}

// NewDefragmenter returns a Defragmenter for stream s.
func NewDefragmenter(s Stream) *Defragmenter { return &Defragmenter{stream: s} }

// Add takes the next Fragment of the stream. When f completes a payload,
// Add returns it with done true; the payload's sequence number and flags
// are f.Seq and f.Flags. The payload is valid until the next call to Add
// or Reset; a one-fragment payload is f.Data itself, not copied, so it
// also lives only as long as the buffer f was decoded from (for a
// Channel, until the next Recv). An
// error means the peer broke the protocol: the partial payload is dropped
// and the session should end.
func (d *Defragmenter) Add(f *Fragment) (payload []byte, done bool, err error) {
	if err := d.check(f); err != nil {
		d.active = false
		return nil, false, fmt.Errorf("proto: defragment %v: seq %d fragment %d: %v", d.stream, f.Seq, f.Index, err)
	}
	if f.Index == 0 {
		d.active, d.seq, d.flags, d.last, d.next, d.total = true, f.Seq, f.Flags, f.Last, 0, f.Total
		if f.Last == 0 {
			payload = f.Data
		} else {
			if cap(d.buf) < int(f.Total) {
				d.buf = make([]byte, 0, f.Total)
			}
			d.buf = d.buf[:0]
		}
	}
	if f.Last > 0 {
		d.buf = append(d.buf, f.Data...)
		payload = d.buf
	}
	d.next++
	if f.Index < f.Last {
		return nil, false, nil
	}
	d.active, d.haveDone, d.doneSeq = false, true, f.Seq
	if d.stream == StreamClipboard && !utf8.Valid(payload) {
		return nil, false, fmt.Errorf("proto: defragment %v: seq %d: clipboard text is not UTF-8", d.stream, f.Seq)
	}
	if payload == nil {
		payload = []byte{}
	}
	return payload, true, nil
}

// check checks f against the stream and the payload in progress.
func (d *Defragmenter) check(f *Fragment) error {
	if f.Stream != d.stream {
		return fmt.Errorf("fragment of %v stream", f.Stream)
	}
	if err := f.validate(); err != nil {
		return err
	}
	if !d.active {
		switch {
		case f.Index != 0:
			return fmt.Errorf("want fragment 0 of a new payload")
		case d.haveDone && f.Seq != d.doneSeq+1:
			return fmt.Errorf("want seq %d after %d", d.doneSeq+1, d.doneSeq)
		}
	} else {
		switch {
		case f.Seq != d.seq || int(f.Index) != d.next:
			return fmt.Errorf("want seq %d fragment %d", d.seq, d.next)
		case f.Last != d.last || f.Total != d.total || f.Flags != d.flags:
			return fmt.Errorf("last %d, size %d, flags 0x%x differ from fragment 0's %d, %d, 0x%x",
				f.Last, f.Total, uint8(f.Flags), d.last, d.total, uint8(d.flags))
		}
	}
	// The data so far fits, leaving at least one byte for each later
	// fragment, and the last fragment completes the payload exactly.
	have, left := len(f.Data), int(f.Last-f.Index)
	if d.active {
		have += len(d.buf)
	}
	switch {
	case have+left > int(f.Total):
		return fmt.Errorf("data overruns payload size %d", f.Total)
	case left == 0 && have != int(f.Total):
		return fmt.Errorf("payload ends at %d bytes, size %d", have, f.Total)
	}
	return nil
}

// Reset drops a partly received payload and forgets the sequence, so the
// next payload may start at any sequence number. The viewer does this
// when the relay reports lost messages or the channel resumes, and asks
// for a keyframe (Refresh).
func (d *Defragmenter) Reset() {
	d.active, d.haveDone = false, false
	d.buf = d.buf[:0]
}

// Completed returns the sequence number of the last payload completed
// since the last Reset, and false if there is none.
func (d *Defragmenter) Completed() (seq uint32, ok bool) { return d.doneSeq, d.haveDone }
