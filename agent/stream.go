package agent

import (
	"context"
	"fmt"
	"image"
	"time"

	"github.com/deskway/deskway/agent/platform"
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
		view := s.perms&platform.PermView != 0 && s.caps&proto.CapCursor != 0
		area := s.area
		s.mu.Unlock()
		if !view {
			continue
		}
		st, err := cur.State()
		if err != nil {
			s.log.Debug("cursor", "err", err)
			continue
		}
		if !haveShape || st.Serial != lastSerial {
			if id, ok := ids[st.Serial]; ok && haveShape {
				if err := s.sendMsg(ctx, &proto.CursorCached{ID: id}, true); err != nil {
					return err
				}
			} else {
				shape, err := cur.Shape()
				if err != nil {
					s.log.Debug("cursor shape", "err", err)
					continue
				}
				id := next
				next = (next + 1) % proto.CursorCacheSize
				if used[id] {
					delete(ids, slots[id])
				}
				slots[id], used[id], ids[shape.Serial] = shape.Serial, true, id
				cs := cursorShape(id, shape)
				if payload, err = cs.AppendBinary(payload[:0]); err != nil {
					return fmt.Errorf("agent: cursor: %w", err)
				}
				if _, err := frag.Start(payload, 0); err != nil {
					return fmt.Errorf("agent: cursor: %w", err)
				}
				for {
					var ok bool
					if msg, ok = frag.Next(msg[:0]); !ok {
						break
					}
					if err := s.ch.Send(ctx, msg, true); err != nil {
						return err
					}
				}
				st.Serial = shape.Serial
			}
			lastSerial, haveShape = st.Serial, true
		}
		pos := image.Pt(st.X, st.Y).Sub(area.Min)
		if pos != lastPos {
			lastPos = pos
			if err := s.sendMsg(ctx, &proto.CursorPos{X: int32(pos.X), Y: int32(pos.Y), Visible: st.Visible}, false); err != nil {
				return err
			}
		}
	}
}

// cursorShape converts a platform shape, cropped to proto.MaxCursorDim
// around the hotspot when it is larger.
func cursorShape(id uint8, c platform.CursorShape) proto.CursorShape {
	w, h := min(c.Width, proto.MaxCursorDim), min(c.Height, proto.MaxCursorDim)
	x0 := max(0, min(c.HotX-w/2, c.Width-w))
	y0 := max(0, min(c.HotY-h/2, c.Height-h))
	if c.Width <= proto.MaxCursorDim {
		x0 = 0
	}
	if c.Height <= proto.MaxCursorDim {
		y0 = 0
	}
	pix := make([]byte, 0, 4*w*h)
	for y := y0; y < y0+h; y++ {
		pix = append(pix, c.Pix[4*(y*c.Width+x0):4*(y*c.Width+x0+w)]...)
	}
	return proto.CursorShape{
		ID: id, HotX: uint16(max(0, min(c.HotX-x0, w-1))), HotY: uint16(max(0, min(c.HotY-y0, h-1))),
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
		if !s.has(platform.PermClipboard) {
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
		for {
			var ok bool
			if msg, ok = frag.Next(msg[:0]); !ok {
				break
			}
			if err := s.ch.Send(ctx, msg, true); err != nil {
				return err
			}
		}
	}
}
