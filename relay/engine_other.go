//go:build !linux

package relay

import (
	"fmt"
	"runtime"
)

func newEngine(s *Server) (engine, error) {
	switch s.cfg.Engine {
	case EngineAuto, EngineGoroutine:
		return newGoEngine(s), nil
	}
	return nil, fmt.Errorf("relay: engine %q not available on %s", s.cfg.Engine, runtime.GOOS)
}

// conn is a connection of the epoll engine, which this platform lacks.
type conn struct{}
