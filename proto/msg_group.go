package proto

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// GroupMember is one viewer of a presentation's roster.
type GroupMember struct {
	ID   uint32 // the host's id for the viewer (its relay slot), never 0
	Name string // ≤ MaxHelloField bytes of UTF-8, e.g. the viewer's Hello user
}

// GroupKey hands a presentation viewer the group key of one epoch
// (SECURITY.md §4.7). The host sends it (H→V, reliable) over the viewer's
// own pairwise channel, never over the broadcast path, whenever a new
// epoch starts: on every join and leave, and periodically. A receiver
// hands it to its GroupReceiver ([GroupReceiver.SetKey]).
//
// The message carries a secret: its String method does not print Key,
// and whoever holds one should clear Key once it was sent or installed.
type GroupKey struct {
	Epoch           uint32                   // ≥ 1, +1 per new key of the session
	Key             [GroupKeySize]byte       // GK_e: 32 random bytes
	PresentationKey [GroupPublicKeySize]byte // PK_p: the host's Ed25519 frame-signing key, one per session
	You             uint32                   // the receiving viewer's id; in Roster
	Roster          []GroupMember            // every viewer holding this epoch's key; ≤ MaxGroupViewers, distinct ids
}

// Type implements Msg.
func (m *GroupKey) Type() MsgType { return MsgGroupKey }

// AppendBinary implements Msg.
func (m *GroupKey) AppendBinary(b []byte) ([]byte, error) { return appendMsg(b, m) }

// DecodeFromBytes implements Msg.
func (m *GroupKey) DecodeFromBytes(b []byte) error { return decodeMsg(b, m) }

// String describes the message without its key.
func (m *GroupKey) String() string {
	return fmt.Sprintf("group key epoch %d for viewer %d, %d viewers", m.Epoch, m.You, len(m.Roster))
}

func (m *GroupKey) validate() error {
	switch {
	case m.Epoch == 0:
		return errors.New("epoch 0")
	case m.You == 0:
		return errors.New("viewer id 0")
	case len(m.Roster) > MaxGroupViewers:
		return fmt.Errorf("roster of %d viewers exceeds %d", len(m.Roster), MaxGroupViewers)
	}
	var zero [GroupKeySize]byte
	if subtle.ConstantTimeCompare(m.Key[:], zero[:]) == 1 {
		return errors.New("all-zero group key")
	}
	if m.PresentationKey == [GroupPublicKeySize]byte{} {
		return errors.New("all-zero presentation key")
	}
	you := false
	for i, v := range m.Roster {
		if v.ID == 0 {
			return fmt.Errorf("roster %d: id 0", i)
		}
		if err := checkText("viewer name", v.Name, MaxHelloField); err != nil {
			return fmt.Errorf("roster %d: %v", i, err)
		}
		for _, o := range m.Roster[:i] {
			if o.ID == v.ID {
				return fmt.Errorf("roster %d: duplicate id %d", i, v.ID)
			}
		}
		you = you || v.ID == m.You
	}
	if !you {
		return fmt.Errorf("viewer %d not in the roster", m.You)
	}
	return nil
}

func (m *GroupKey) appendBody(b []byte) []byte {
	b = be.AppendUint32(b, m.Epoch)
	b = append(b, m.Key[:]...)
	b = append(b, m.PresentationKey[:]...)
	b = be.AppendUint32(b, m.You)
	b = append(b, uint8(len(m.Roster)))
	for _, v := range m.Roster {
		b = appendStr8(be.AppendUint32(b, v.ID), v.Name)
	}
	return b
}

func (m *GroupKey) decode(s cryptobyte.String) (cryptobyte.String, error) {
	var n uint8
	if err := readUint(&s, &m.Epoch); err != nil {
		return s, err
	}
	if !s.CopyBytes(m.Key[:]) || !s.CopyBytes(m.PresentationKey[:]) {
		return s, errTruncated
	}
	if err := readUint(&s, &m.You); err != nil {
		return s, err
	}
	if err := readUint(&s, &n); err != nil {
		return s, err
	}
	if int(n) > MaxGroupViewers {
		return s, fmt.Errorf("roster of %d viewers exceeds %d", n, MaxGroupViewers)
	}
	// Each member takes at least 5 bytes: refuse a count the rest cannot hold
	// before allocating for it.
	if int(n)*5 > len(s) {
		return s, errTruncated
	}
	m.Roster = nil
	if n > 0 {
		m.Roster = make([]GroupMember, n)
	}
	for i := range m.Roster {
		if err := readUint(&s, &m.Roster[i].ID); err != nil {
			return s, err
		}
		if err := readStr8(&s, "viewer name", MaxHelloField, &m.Roster[i].Name); err != nil {
			return s, fmt.Errorf("roster %d: %v", i, err)
		}
	}
	return s, m.validate()
}
