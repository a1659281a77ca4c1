package proto

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// sampleMsgs returns valid messages of every type, with edge values.
func sampleMsgs() []Msg {
	return []Msg{
		&Hello{MinVersion: 1, MaxVersion: 1},
		&Hello{
			MinVersion: 1, MaxVersion: 3, Caps: CapClipboard | CapCursor | CapMultiMonitor | CapLossless | 1<<63,
			Software: "deskway-agent", Version: "1.4.2", Platform: "linux/amd64", User: "Zoë Müller",
			Layout: Layout{Selected: 7, Monitors: []Monitor{
				{ID: 7, X: 0, Y: 0, Width: 2560, Height: 1440, ScalePercent: 125, Primary: true, Name: "DP-1"},
				{ID: 9, X: -1920, Y: -300, Width: 1920, Height: 1080, Name: strings.Repeat("m", MaxHelloField)},
			}},
		},
		&Layout{},
		&Layout{Selected: 0, Monitors: []Monitor{{ID: math.MaxUint32, X: math.MinInt32, Y: math.MaxInt32, Width: 65535, Height: 1}}},
		&Fragment{Stream: StreamScreen, Flags: FragKeyframe, Seq: 1, Index: 0, Last: 0, Total: 3, Data: []byte{1, 2, 3}},
		&Fragment{Stream: StreamScreen, Seq: math.MaxUint32, Index: 255, Last: 255, Total: MaxScreenUpdate, Data: bytes.Repeat([]byte{0xee}, MaxFragmentData)},
		&Fragment{Stream: StreamClipboard, Seq: 0, Total: 0},
		&Fragment{Stream: StreamCursor, Seq: 5, Index: 1, Last: 4, Total: MaxCursorShape, Data: []byte{9}},
		&FrameAck{Seq: 42, DecodeMicros: 1800},
		&FrameAck{Seq: math.MaxUint32, DecodeMicros: math.MaxUint32},
		&Refresh{Reason: RefreshLost},
		&Refresh{Reason: 200},
		&Pointer{X: 100, Y: 200, Buttons: ButtonLeft | ButtonForward},
		&Pointer{X: -5, Y: math.MinInt32},
		&Wheel{DX: 0, DY: WheelNotch},
		&Wheel{DX: math.MinInt16, DY: -1},
		&KeyEvent{Down: true, Code: KeyA, Mods: ModShift, Text: "A"},
		&KeyEvent{Down: true, Repeat: true, Code: KeyArrowLeft},
		&KeyEvent{Code: KeyUnidentified, Text: strings.Repeat("€", MaxKeyText/3), Mods: ModAltGraph | ModCapsLock | ModNumLock | ModScrollLock | ModControl | ModAlt | ModMeta},
		&Padded{},
		&Padded{Input: []Msg{&Pointer{X: -1, Y: 2, Buttons: ButtonLeft}, &Wheel{DY: -WheelNotch}, &KeyEvent{Down: true, Code: KeyA, Text: "a"}}},
		&CursorCached{ID: CursorCacheSize - 1},
		&CursorPos{X: 10, Y: -3, Visible: true},
		&CursorPos{},
		&ConsentRequest{Want: PermView | PermControl | PermClipboard},
		&Consent{Granted: PermView},
		&Consent{},
		&ViewOnly{On: true},
		&ViewOnly{},
		&Quality{Mode: QualityBalanced, Quality: 100, MaxFPS: 30, ScalePercent: 50},
		&Quality{},
		&MonitorChoice{ID: 9},
		&End{Reason: EndConsentWithdrawn, Text: "the customer withdrew consent"},
		&End{Reason: 250, Text: strings.Repeat("x", MaxEndText)},
		&Ping{Time: 1234567890},
		&Pong{PingTime: 1234567890, Time: math.MaxUint64},
		&GroupKey{Epoch: 1, Key: [32]byte{1}, PresentationKey: [32]byte{2}, You: 7, Roster: []GroupMember{{ID: 7, Name: "Zoë"}}},
		sampleGroupKeyFull(),
	}
}

// sampleGroupKeyFull is a GroupKey at its limits.
func sampleGroupKeyFull() *GroupKey {
	m := &GroupKey{Epoch: math.MaxUint32, You: MaxGroupViewers}
	for i := range m.Key {
		m.Key[i], m.PresentationKey[i] = byte(i), byte(255-i)
	}
	for i := range MaxGroupViewers {
		m.Roster = append(m.Roster, GroupMember{ID: uint32(i + 1), Name: strings.Repeat("v", MaxHelloField)})
	}
	return m
}

// TestSampleMsgsCoverTypes keeps sampleMsgs complete.
func TestSampleMsgsCoverTypes(t *testing.T) {
	seen := map[MsgType]bool{}
	for _, m := range sampleMsgs() {
		seen[m.Type()] = true
	}
	for typ := range msgNames {
		if !seen[typ] {
			t.Errorf("sampleMsgs has no %v", typ)
		}
		if m := newMsg(typ); m == nil || m.Type() != typ {
			t.Errorf("newMsg(%v) = %v", typ, m)
		}
	}
}

func TestMsgRoundTrip(t *testing.T) {
	for _, m := range sampleMsgs() {
		b, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %v", m, err)
		}
		if MsgType(b[0]) != m.Type() || len(b) > MaxPayload {
			t.Fatalf("Marshal(%v) = type 0x%02x, %d bytes", m.Type(), b[0], len(b))
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(%x) = %v", b[:min(len(b), 64)], err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("Unmarshal(Marshal(%+v)) = %+v", m, got)
		}
		// DecodeFromBytes into a value that held something else.
		fresh := newMsg(m.Type())
		for _, p := range sampleMsgs() {
			if p.Type() == m.Type() && !reflect.DeepEqual(p, m) {
				fresh = p
				break
			}
		}
		if err := fresh.DecodeFromBytes(b); err != nil || !reflect.DeepEqual(fresh, m) {
			t.Errorf("DecodeFromBytes(%v) = %v, %+v; want %+v", m.Type(), err, fresh, m)
		}
		// AppendMsg appends after existing bytes.
		prefix := []byte("xyz")
		app, err := AppendMsg(prefix, m)
		if err != nil || !bytes.Equal(app[:3], prefix) || !bytes.Equal(app[3:], b) {
			t.Errorf("AppendMsg(%q, %v) = %x, %v", prefix, m.Type(), app, err)
		}
	}
}

func TestMsgPrefixesAndTrailing(t *testing.T) {
	for _, m := range sampleMsgs() {
		b, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(b) {
			if got, err := Unmarshal(b[:n]); err == nil {
				t.Fatalf("Unmarshal(first %d of %d bytes of %v) = %+v, want error", n, len(b), m.Type(), got)
			}
		}
		if len(b) < MaxPayload {
			// A Padded message's size is part of its rules: one byte
			// more breaks that first.
			want := "1 trailing bytes"
			if m.Type() == MsgPadded {
				want = "size 65 is not a multiple"
			}
			if _, err := Unmarshal(append(b, 0)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Unmarshal(%v + 1 byte) = %v, want trailing bytes error", m.Type(), err)
			}
		}
	}
}

func TestFragmentString(t *testing.T) {
	f := &Fragment{Stream: StreamScreen, Flags: FragKeyframe, Seq: 7, Index: 2, Last: 8, Total: 590000, Data: make([]byte, 1000)}
	if got, want := fmt.Sprint(f), "fragment screen seq 7 2/8 flags 0x1 total 590000 data 1000 bytes"; got != want {
		t.Errorf("Fragment.String() = %q, want %q", got, want)
	}
}

func TestDecodeWrongType(t *testing.T) {
	b, _ := Marshal(&Ping{Time: 1})
	var p Pong
	if err := p.DecodeFromBytes(b); err == nil || err.Error() != "proto: unmarshal pong: wrong type byte" {
		t.Errorf("Pong.DecodeFromBytes(ping) = %v", err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	text65 := append([]byte{byte(MsgKey), keyDown, 0, 7, 0, 4, 0, 0, 65}, strings.Repeat("a", 65)...)
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "proto: unmarshal message: truncated"},
		{"unknown type", []byte{0x7f, 1, 2}, "proto: unmarshal message: unknown message type 0x7f"},
		{"oversize", append([]byte{byte(MsgFragment)}, make([]byte, MaxPayload)...), fmt.Sprintf("proto: unmarshal fragment: length %d exceeds %d", MaxPayload+1, MaxPayload)},
		{"key text", text65, "proto: unmarshal key event: text length 65 exceeds 64"},
		{"key text utf8", []byte{byte(MsgKey), keyDown, 0, 7, 0, 4, 0, 0, 1, 0xff}, "proto: unmarshal key event: text is not UTF-8"},
		{"key repeat up", []byte{byte(MsgKey), keyRepeat, 0, 7, 0, 4, 0, 0, 0}, "proto: unmarshal key event: repeat on key release"},
		{"key flags", []byte{byte(MsgKey), 0x81, 0, 7, 0, 4, 0, 0, 0}, "proto: unmarshal key event: flags 0x81 has unknown bits 0x80"},
		{"key mods", []byte{byte(MsgKey), 1, 0, 7, 0, 4, 1, 0, 0}, "proto: unmarshal key event: modifiers 0x100 has unknown bits 0x100"},
		{"buttons", []byte{byte(MsgPointer), 0, 0, 0, 1, 0, 0, 0, 1, 0x21}, "proto: unmarshal pointer: buttons 0x21 has unknown bits 0x20"},
		{"view-only 2", []byte{byte(MsgViewOnly), 2}, "proto: unmarshal view-only: on 0x2 has unknown bits 0x2"},
		{"cursor pos flags", []byte{byte(MsgCursorPos), 0, 0, 0, 0, 0, 0, 0, 0, 3}, "proto: unmarshal cursor position: flags 0x3 has unknown bits 0x2"},
		{"perms", []byte{byte(MsgConsent), 8}, "proto: unmarshal consent: perms 0x8 has unknown bits 0x8"},
		{"quality 101", []byte{byte(MsgQuality), 1, 101, 0, 0}, "proto: unmarshal quality: quality 101 exceeds 100"},
		{"quality mode", []byte{byte(MsgQuality), 4, 50, 0, 0}, "proto: unmarshal quality: unknown mode 4"},
		{"quality scale", []byte{byte(MsgQuality), 0, 50, 0, 101}, "proto: unmarshal quality: scale 101% exceeds 100%"},
		{"cursor id", []byte{byte(MsgCursorCached), 64}, "proto: unmarshal cursor cached: id 64 exceeds 63"},
		{"hello versions", []byte{byte(MsgHello), 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "proto: unmarshal hello: version range 2..1 invalid"},
		{"hello version 0", []byte{byte(MsgHello), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "proto: unmarshal hello: version range 0..1 invalid"},
		{"hello software", append([]byte{byte(MsgHello), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 65}, strings.Repeat("s", 65)...), "proto: unmarshal hello: software length 65 exceeds 64"},
		{"layout count", []byte{byte(MsgLayout), 0, 0, 0, 0, 17}, "proto: unmarshal layout: monitor count 17 exceeds 16"},
		{"layout selected", []byte{byte(MsgLayout), 0, 0, 0, 1, 0}, "proto: unmarshal layout: selected monitor 1 not in layout"},
		{"monitor id 0", []byte{byte(MsgLayout), 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}, "proto: unmarshal layout: monitor 0: id 0"},
		{"monitor flags", []byte{byte(MsgLayout), 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 0}, "proto: unmarshal layout: monitor 0: monitor flags 0x2 has unknown bits 0x2"},
		{"monitor size", []byte{byte(MsgLayout), 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, "proto: unmarshal layout: monitor 0: size 0x1"},
		{"end text", append([]byte{byte(MsgEnd), 0, 3}, 'a', 'b', 0xc0), "proto: unmarshal end: text is not UTF-8"},
		{"fragment stream", fragBytes(9, 0, 1, 0, 0, 1, []byte{1}), "proto: unmarshal fragment: unknown stream 9"},
		{"fragment flags", fragBytes(byte(StreamClipboard), 1, 1, 0, 0, 1, []byte{1}), "proto: unmarshal fragment: flags 0x1 invalid on clipboard stream"},
		{"fragment index", fragBytes(1, 0, 1, 3, 2, 10, []byte{1}), "proto: unmarshal fragment: index 3 beyond last 2"},
		{"fragment total", fragBytes(1, 0, 1, 0, 1, MaxScreenUpdate+1, []byte{1}), "proto: unmarshal fragment: screen payload size 16777217 exceeds 16777216"},
		{"clipboard total", fragBytes(2, 0, 1, 0, 1, MaxClipboard+1, []byte{1}), "proto: unmarshal fragment: clipboard payload size 1048577 exceeds 1048576"},
		{"fragment data > total", fragBytes(1, 0, 1, 0, 1, 1, []byte{1, 2}), "proto: unmarshal fragment: data length 2 exceeds payload size 1"},
		{"fragment single short", fragBytes(1, 0, 1, 0, 0, 3, []byte{1, 2}), "proto: unmarshal fragment: single fragment of 2 bytes, payload size 3"},
		{"fragment empty", fragBytes(1, 0, 1, 0, 1, 3, nil), "proto: unmarshal fragment: empty fragment"},
		{"fragment empty payload", fragBytes(1, 0, 1, 0, 1, 0, nil), "proto: unmarshal fragment: empty payload in 2 fragments"},
		{"fragment data length", append(fragBytes(1, 0, 1, 0, 0, 5, nil)[:FragmentOverhead-2], 0, 5, 1, 2), "proto: unmarshal fragment: truncated"},
	}
	for _, tc := range tests {
		m, err := Unmarshal(tc.b)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: Unmarshal(%x) = %+v, %v; want %q", tc.name, tc.b[:min(len(tc.b), 32)], m, err, tc.want)
			continue
		}
		var me *MsgError
		if !errors.As(err, &me) || me.Op != "unmarshal" {
			t.Errorf("%s: Unmarshal error %T is not a *MsgError", tc.name, err)
		}
	}
	if _, err := Unmarshal([]byte{0x7f}); !errors.Is(err, ErrUnknownMsgType) {
		t.Errorf("Unmarshal(0x7f) = %v, want %v", err, ErrUnknownMsgType)
	}
}

// fragBytes encodes a Fragment without validating it.
func fragBytes(stream, flags byte, seq uint32, index, last byte, total uint32, data []byte) []byte {
	m := &Fragment{Stream: Stream(stream), Flags: FragFlags(flags), Seq: seq, Index: index, Last: last, Total: total, Data: data}
	return m.appendBody([]byte{byte(MsgFragment)})
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		m    Msg
		want string
	}{
		{&KeyEvent{Down: true, Text: strings.Repeat("a", 300)}, "proto: marshal key event: text length 300 exceeds 64"},
		{&KeyEvent{Repeat: true}, "proto: marshal key event: repeat on key release"},
		{&Hello{MinVersion: 1, MaxVersion: 1, User: strings.Repeat("u", 65)}, "proto: marshal hello: user length 65 exceeds 64"},
		{&Hello{MinVersion: 1, MaxVersion: 1, Platform: "\xff"}, "proto: marshal hello: platform is not UTF-8"},
		{&Hello{MinVersion: 1, MaxVersion: 1, Layout: Layout{Monitors: make([]Monitor, 17)}}, "proto: marshal hello: monitor count 17 exceeds 16"},
		{&Layout{Monitors: []Monitor{{ID: 1, Width: 1, Height: 1}, {ID: 1, Width: 1, Height: 1}}}, "proto: marshal layout: monitor 1: duplicate id 1"},
		{&Layout{Monitors: []Monitor{{ID: 1, Width: 1, Height: 1, Primary: true}, {ID: 2, Width: 1, Height: 1, Primary: true}}}, "proto: marshal layout: more than one primary monitor"},
		{&Fragment{Stream: StreamScreen, Total: 70000, Last: 1, Data: make([]byte, MaxFragmentData+1)}, fmt.Sprintf("proto: marshal fragment: data length %d exceeds %d", MaxFragmentData+1, MaxFragmentData)},
		{&Fragment{Stream: 0}, "proto: marshal fragment: unknown stream 0"},
		{&Pointer{Buttons: 0x80}, "proto: marshal pointer: buttons 0x80 has unknown bits 0x80"},
		{&Consent{Granted: 0xff}, "proto: marshal consent: perms 0xff has unknown bits 0xf8"},
		{&End{Text: strings.Repeat("e", 256)}, "proto: marshal end: text length 256 exceeds 255"},
		{&Quality{Quality: 101}, "proto: marshal quality: quality 101 exceeds 100"},
		{&CursorCached{ID: 64}, "proto: marshal cursor cached: id 64 exceeds 63"},
	}
	for _, tc := range tests {
		dst := []byte{1, 2}
		got, err := AppendMsg(dst, tc.m)
		if err == nil || err.Error() != tc.want {
			t.Errorf("AppendMsg(%v) = %v, want %q", tc.m.Type(), err, tc.want)
		}
		if !bytes.Equal(got, dst) {
			t.Errorf("AppendMsg(%v) on error returned %x, want dst unchanged", tc.m.Type(), got)
		}
	}
}

// TestInputMsgSize checks that the largest input messages stay within
// MaxInputMsg (SECURITY.md §4.4).
func TestInputMsgSize(t *testing.T) {
	for _, m := range []Msg{
		&Pointer{X: math.MaxInt32, Y: math.MaxInt32, Buttons: allButtons},
		&Wheel{DX: math.MaxInt16, DY: math.MaxInt16},
		&KeyEvent{Down: true, Repeat: true, Code: math.MaxUint32, Mods: allMods, Text: strings.Repeat("k", MaxKeyText)},
	} {
		b, err := Marshal(m)
		if err != nil || len(b) > MaxInputMsg {
			t.Errorf("Marshal(largest %v) = %d bytes, %v; want ≤ %d", m.Type(), len(b), err, MaxInputMsg)
		}
	}
}

func TestCursorShape(t *testing.T) {
	pix := make([]byte, 32*24*4)
	for i := range pix {
		pix[i] = byte(i)
	}
	in := &CursorShape{ID: 3, HotX: 31, HotY: 0, Width: 32, Height: 24, Pix: pix}
	b, err := in.AppendBinary(nil)
	if err != nil || len(b) != cursorShapeHeader+len(pix) {
		t.Fatalf("AppendBinary = %d bytes, %v", len(b), err)
	}
	var got CursorShape
	if err := got.DecodeFromBytes(b); err != nil || !reflect.DeepEqual(&got, in) {
		t.Fatalf("DecodeFromBytes = %v, %+v", err, got)
	}
	if &got.Pix[0] != &b[cursorShapeHeader] {
		t.Errorf("DecodeFromBytes copied the pixels, want them aliased")
	}
	for n := range len(b) {
		if err := got.DecodeFromBytes(b[:n]); err == nil {
			t.Fatalf("DecodeFromBytes(first %d of %d bytes) = nil error", n, len(b))
		}
	}
	bad := []struct {
		c    CursorShape
		want string
	}{
		{CursorShape{ID: 64, Width: 1, Height: 1, Pix: make([]byte, 4)}, "id 64 exceeds 63"},
		{CursorShape{Width: 257, Height: 1, Pix: make([]byte, 257*4)}, "size 257x1 not in 1x1..256x256"},
		{CursorShape{Width: 0, Height: 1}, "size 0x1"},
		{CursorShape{Width: 2, Height: 2, HotY: 2, Pix: make([]byte, 16)}, "hotspot 0,2 outside 2x2"},
		{CursorShape{Width: 2, Height: 2, Pix: make([]byte, 15)}, "15 pixel bytes, want 16 for 2x2"},
	}
	for _, tc := range bad {
		if _, err := tc.c.AppendBinary(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AppendBinary(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
	big := CursorShape{Width: MaxCursorDim, Height: MaxCursorDim, Pix: make([]byte, MaxCursorDim*MaxCursorDim*4)}
	b, err = big.AppendBinary(nil)
	if err != nil || len(b) != MaxCursorShape {
		t.Fatalf("AppendBinary(256x256) = %d bytes, %v; want %d", len(b), err, MaxCursorShape)
	}
	if err := got.DecodeFromBytes(append(b, 0)); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("DecodeFromBytes(%d bytes) = %v, want length error", len(b)+1, err)
	}
}

func TestNegotiateVersion(t *testing.T) {
	tests := []struct {
		a, b [2]uint16
		want uint16
		ok   bool
	}{
		{[2]uint16{1, 1}, [2]uint16{1, 1}, 1, true},
		{[2]uint16{1, 3}, [2]uint16{2, 5}, 3, true},
		{[2]uint16{1, 2}, [2]uint16{3, 4}, 0, false},
		{[2]uint16{4, 9}, [2]uint16{1, 4}, 4, true},
	}
	for _, tc := range tests {
		a := &Hello{MinVersion: tc.a[0], MaxVersion: tc.a[1]}
		b := &Hello{MinVersion: tc.b[0], MaxVersion: tc.b[1]}
		got, err := NegotiateVersion(a, b)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("NegotiateVersion(%v, %v) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
}

func TestEndReasonString(t *testing.T) {
	if got := EndConsentWithdrawn.String(); got != "consent withdrawn" {
		t.Errorf("EndConsentWithdrawn.String() = %q", got)
	}
	if got := EndReason(77).String(); got != "reason(77)" {
		t.Errorf("EndReason(77).String() = %q", got)
	}
}

// TestHotPathAllocs guards the per-frame path: encoding and decoding
// fragments and acks allocates nothing.
func TestHotPathAllocs(t *testing.T) {
	data := make([]byte, MaxFragmentData)
	buf := make([]byte, 0, MaxPayload)
	var frag Fragment
	var ack FrameAck
	fb, _ := Marshal(&Fragment{Stream: StreamScreen, Seq: 1, Last: 1, Total: 2 * MaxFragmentData, Data: data})
	ab, _ := Marshal(&FrameAck{Seq: 1, DecodeMicros: 2})
	seq := uint32(0)
	allocs := testing.AllocsPerRun(100, func() {
		seq++
		out := &Fragment{Stream: StreamScreen, Seq: seq, Last: 1, Total: 2 * MaxFragmentData, Data: data}
		b, err := out.AppendBinary(buf[:0])
		if err != nil || len(b) != MaxPayload {
			t.Fatalf("Fragment.AppendBinary = %d bytes, %v", len(b), err)
		}
		a := &FrameAck{Seq: seq, DecodeMicros: 900}
		if _, err := a.AppendBinary(buf[:0]); err != nil {
			t.Fatal(err)
		}
		if err := frag.DecodeFromBytes(fb); err != nil {
			t.Fatal(err)
		}
		if err := ack.DecodeFromBytes(ab); err != nil {
			t.Fatal(err)
		}
		if _, err := AppendMsg(buf[:0], &ack); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("fragment and ack encode/decode: %v allocs per run, want 0", allocs)
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, m := range sampleMsgs() {
		b, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 4096 {
			continue // large seeds slow the fuzzer down for no new coverage
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			var me *MsgError
			if m != nil || !errors.As(err, &me) || !strings.HasPrefix(err.Error(), "proto: unmarshal ") {
				t.Fatalf("Unmarshal(%x) = %v, %v; want nil and a *MsgError", b, m, err)
			}
			return
		}
		// The encoding is canonical: what decodes re-encodes to the same
		// bytes, and decodes again to an equal message.
		again, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal(Unmarshal(%x) = %+v) = %v", b, m, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Marshal(Unmarshal(%x)) = %x", b, again)
		}
		m2, err := Unmarshal(again)
		if err != nil || !reflect.DeepEqual(m2, m) {
			t.Fatalf("Unmarshal(Marshal(%+v)) = %+v, %v", m, m2, err)
		}
	})
}

func BenchmarkAppendFragment(b *testing.B) {
	data := make([]byte, MaxFragmentData)
	buf := make([]byte, 0, MaxPayload)
	m := &Fragment{Stream: StreamScreen, Last: 1, Total: 2 * MaxFragmentData, Data: data}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		m.Seq++
		buf, _ = m.AppendBinary(buf[:0])
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, m := range []Msg{
		&Fragment{Stream: StreamScreen, Last: 1, Total: 2 * MaxFragmentData, Data: make([]byte, MaxFragmentData)},
		&FrameAck{Seq: 7, DecodeMicros: 1500},
		&KeyEvent{Down: true, Code: KeyA, Text: "a"},
		sampleMsgs()[1],
	} {
		enc, _ := Marshal(m)
		b.Run(strings.ReplaceAll(m.Type().String(), " ", "-"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				if _, err := Unmarshal(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ExampleUnmarshal shows a receive loop's dispatch on message types.
func ExampleUnmarshal() {
	var wire [][]byte
	for _, m := range []Msg{
		&KeyEvent{Down: true, Code: KeyA, Mods: ModShift, Text: "A"},
		&FrameAck{Seq: 41, DecodeMicros: 2300},
	} {
		b, err := Marshal(m)
		if err != nil {
			panic(err)
		}
		wire = append(wire, b)
	}
	wire = append(wire, []byte{byte(MsgKey), 1, 0, 7, 0, 4, 0, 0, 99})

	for _, b := range wire {
		m, err := Unmarshal(b)
		if err != nil {
			fmt.Println(err) // a peer that sends this ends the session
			continue
		}
		switch m := m.(type) {
		case *KeyEvent:
			fmt.Println("key", m.Code, "down", m.Down, "text", m.Text)
		case *FrameAck:
			fmt.Println("ack", m.Seq, "decoded in", m.DecodeMicros, "µs")
		}
	}
	// Output:
	// key KeyA down true text A
	// ack 41 decoded in 2300 µs
	// proto: unmarshal key event: truncated
}

func TestPadded(t *testing.T) {
	key := &KeyEvent{Down: true, Code: KeyA, Text: "a"}
	for _, tc := range []struct {
		m    *Padded
		size int
	}{
		{&Padded{}, 64},
		{&Padded{Input: []Msg{key}}, 64},
		{&Padded{Input: []Msg{&Pointer{X: 1, Y: 2}, &Wheel{DY: 120}, key}}, 64},
		{&Padded{Input: []Msg{&KeyEvent{Down: true, Code: KeyA, Text: strings.Repeat("x", MaxKeyText)}}}, 128},
	} {
		b, err := Marshal(tc.m)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", tc.m, err)
		}
		if len(b) != tc.size {
			t.Errorf("Marshal(%d inputs) = %d bytes, want %d", len(tc.m.Input), len(b), tc.size)
		}
		got, err := Unmarshal(b)
		if err != nil || len(got.(*Padded).Input) != len(tc.m.Input) {
			t.Errorf("Unmarshal(Marshal(%d inputs)) = %+v, %v", len(tc.m.Input), got, err)
		}
	}
	// Input that fills a bucket exactly has no end mark: 1 + 3 × (1 + 10)
	// for pointer moves + 5 × (1 + 5) for wheel events = 64 bytes.
	full := &Padded{}
	for i := range 8 {
		if i < 3 {
			full.Input = append(full.Input, &Pointer{X: 1})
		} else {
			full.Input = append(full.Input, &Wheel{DX: 1, DY: 1})
		}
	}
	if b, err := Marshal(full); err != nil || len(b) != 64 || b[63] == 0 {
		t.Errorf("Marshal(3 pointers, 5 wheels) = %x, %v; want 64 bytes without an end mark", b, err)
	} else if m, err := Unmarshal(b); err != nil || len(m.(*Padded).Input) != 8 {
		t.Errorf("Unmarshal(Marshal(3 pointers, 5 wheels)) = %+v, %v", m, err)
	}

	if _, err := Marshal(&Padded{Input: []Msg{&Padded{}}}); err == nil {
		t.Error("Marshal(Padded in Padded) succeeded")
	}
	if _, err := Marshal(&Padded{Input: []Msg{&Ping{}}}); err == nil {
		t.Error("Marshal(Padded with a Ping) succeeded")
	}
	many := &Padded{}
	for range 14 {
		many.Input = append(many.Input, &KeyEvent{Code: KeyA, Text: strings.Repeat("y", MaxKeyText)})
	}
	if _, err := Marshal(many); err == nil {
		t.Error("Marshal(input over MaxInputMsg) succeeded")
	}

	good, _ := Marshal(&Padded{Input: []Msg{key}})
	ping, _ := Marshal(&Ping{Time: 1})
	for name, b := range map[string][]byte{
		"short":            good[:63],
		"long":             append(bytes.Clone(good), make([]byte, 64)...),
		"padding not zero": append(bytes.Clone(good[:63]), 1),
		"ping inside":      append(append([]byte{byte(MsgPadded), byte(len(ping))}, ping...), make([]byte, 64-2-len(ping))...),
		"cut input":        append([]byte{byte(MsgPadded), 40}, make([]byte, 62)...),
		"over 1024":        append([]byte{byte(MsgPadded), 0}, make([]byte, 1086)...),
	} {
		if m, err := Unmarshal(b); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", name, m)
		}
	}
}
