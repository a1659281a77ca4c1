package agent

import (
	"context"
	"fmt"
	"image"
	"time"

	"github.com/deskway/deskway/proto"
)

// sendCursor polls the cursor and sends its position and shape apart from
// the screen, so the viewer draws it with no delay (see the top of
// session.go). The viewer caches up to proto.CursorCacheSize shapes under
// ids this loop chooses, round robin.
func (s *Session) sendCursor(ctx context.Context) error {
	cur := s.cfg.Desktop.Cursor
	frag := proto.NewFragmenter(proto.StreamCursor, 0)
	var (
		lastPos    = image.Pt(-1<<30, 0)
		lastSerial uint32
		haveShape  bool
		ids        = map[uint32]uint8{} // serial → cache id
		slots      [proto.CursorCacheSize]uint32
		used       [proto.CursorCacheSize]bool
		next       uint8
		payload    []byte
		msg        []byte
	)
	t := time.NewTicker(s.cfg.CursorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		view := s.perms&proto.PermView != 0 && s.caps&proto.CapCursor != 0
		area := s.area
		s.mu.Unlock()
		if !view {
			continue
		}
		pos, serial, err := cur.State()
		if err != nil {
			s.log.Debug("cursor", "err", err)
			continue
		}
		if !haveShape || serial != lastSerial {
			if id, ok := ids[serial]; ok && haveShape {
				if err := s.sendMsg(ctx, &proto.CursorCached{ID: id}, true); err != nil {
					return err
				}
			} else {
				shape, shapeSerial, err := cur.Shape()
				if err != nil {
					s.log.Debug("cursor shape", "err", err)
					continue
				}
				id := next
				next = (next + 1) % proto.CursorCacheSize
				if used[id] {
					delete(ids, slots[id])
				}
				slots[id], used[id], ids[shapeSerial] = shapeSerial, true, id
				cs := cursorShape(id, shape)
				if payload, err = cs.AppendBinary(payload[:0]); err != nil {
					return fmt.Errorf("agent: cursor: %w", err)
				}
				if _, err := frag.Start(payload, 0); err != nil {
					return fmt.Errorf("agent: cursor: %w", err)
				}
				if msg, err = s.sendFragments(ctx, frag, msg, true); err != nil {
					return err
				}
				serial = shapeSerial
			}
			lastSerial, haveShape = serial, true
		}
		p := image.Pt(int(pos.X), int(pos.Y)).Sub(area.Min)
		if p != lastPos {
			lastPos = p
			if err := s.sendMsg(ctx, &proto.CursorPos{X: int32(p.X), Y: int32(p.Y), Visible: pos.Visible}, false); err != nil {
				return err
			}
		}
	}
}

// cursorShape gives c the cache id, cropped to proto.MaxCursorDim around
// the hotspot when it is larger.
func cursorShape(id uint8, c proto.CursorShape) proto.CursorShape {
	cw, ch, hx, hy := int(c.Width), int(c.Height), int(c.HotX), int(c.HotY)
	w, h := min(cw, proto.MaxCursorDim), min(ch, proto.MaxCursorDim)
	x0, y0 := 0, 0
	if cw > w {
		x0 = max(0, min(hx-w/2, cw-w))
	}
	if ch > h {
		y0 = max(0, min(hy-h/2, ch-h))
	}
	pix := c.Pix
	if w != cw || h != ch {
		pix = make([]byte, 0, 4*w*h)
		for y := y0; y < y0+h; y++ {
			pix = append(pix, c.Pix[4*(y*cw+x0):4*(y*cw+x0+w)]...)
		}
	}
	return proto.CursorShape{
		ID: id, HotX: uint16(max(0, min(hx-x0, w-1))), HotY: uint16(max(0, min(hy-y0, h-1))),
		Width: uint16(w), Height: uint16(h), Pix: pix,
	}
}

// sendClipboard sends the host's clipboard text when another program
// changes it, while clipboard sharing is granted.
func (s *Session) sendClipboard(ctx context.Context) error {
	cb := s.cfg.Desktop.Clipboard
	frag := proto.NewFragmenter(proto.StreamClipboard, 0)
	var msg []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cb.Changes():
		}
		if !s.has(proto.PermClipboard) {
			continue
		}
		text, err := cb.Text(ctx)
		if err != nil {
			s.log.Warn("clipboard", "err", err)
			continue
		}
		s.mu.Lock()
		same := text == s.lastClip
		s.lastClip = text
		s.mu.Unlock()
		if same || text == "" {
			continue
		}
		if _, err := frag.Start([]byte(text), 0); err != nil {
			s.log.Warn("clipboard", "err", err)
			continue
		}
		if msg, err = s.sendFragments(ctx, frag, msg, true); err != nil {
			return err
		}
	}
}

// sendFragments sends every fragment of frag's current payload, building
// each message in buf (returned for reuse).
func (s *Session) sendFragments(ctx context.Context, frag *proto.Fragmenter, buf []byte, reliable bool) ([]byte, error) {
	for {
		var ok bool
		if buf, ok = frag.Next(buf[:0]); !ok {
			return buf, nil
		}
		if err := s.ch.Send(ctx, buf, reliable); err != nil {
			return buf, err
		}
	}
}
