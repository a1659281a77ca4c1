//go:build linux

package platform

import (
	"fmt"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/damage"
	"github.com/jezek/xgb/shm"
	"github.com/jezek/xgb/xfixes"
	"github.com/jezek/xgb/xinerama"
	"github.com/jezek/xgb/xproto"
	"github.com/jezek/xgb/xtest"
)

// xgb's extension Init functions write the process-wide tables of event
// and error constructors, which the reader goroutine of every connection
// reads without a lock. useExtension therefore calls Init only the first
// time it meets an extension with given event and error bases; later
// connections only record the extension's opcode, which is per
// connection and locked.
var (
	extMu    sync.Mutex
	extBases = map[string][2]byte{}
	extInits = map[string]func(*xgb.Conn) error{
		"XFIXES": xfixes.Init, "DAMAGE": damage.Init, "MIT-SHM": shm.Init,
		"XTEST": xtest.Init, "XINERAMA": xinerama.Init,
	}
)

// extVersions are the version handshakes some extensions require before
// their other requests work.
var extVersions = map[string]func(*xgb.Conn) error{
	"XFIXES": func(c *xgb.Conn) error { _, err := xfixes.QueryVersion(c, 5, 0).Reply(); return err },
	"DAMAGE": func(c *xgb.Conn) error { _, err := damage.QueryVersion(c, 1, 1).Reply(); return err },
}

// useExtension makes the named extension usable on c, version handshake
// included.
func useExtension(c *xgb.Conn, name string) error {
	if err := registerExtension(c, name); err != nil {
		return err
	}
	if v := extVersions[name]; v != nil {
		if err := v(c); err != nil {
			return fmt.Errorf("platform: x11: %s version: %w", name, err)
		}
	}
	return nil
}

func registerExtension(c *xgb.Conn, name string) error {
	extMu.Lock()
	defer extMu.Unlock()
	r, err := xproto.QueryExtension(c, uint16(len(name)), name).Reply()
	if err != nil {
		return fmt.Errorf("platform: x11: query extension %s: %w", name, err)
	}
	if !r.Present {
		return fmt.Errorf("platform: x11: the X server has no %s extension", name)
	}
	bases := [2]byte{r.FirstEvent, r.FirstError}
	if b, ok := extBases[name]; ok && b == bases {
		c.ExtLock.Lock()
		c.Extensions[name] = r.MajorOpcode
		c.ExtLock.Unlock()
		return nil
	}
	if err := extInits[name](c); err != nil {
		return fmt.Errorf("platform: x11: %s: %w", name, err)
	}
	extBases[name] = bases
	return nil
}
