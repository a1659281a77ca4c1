//go:build !linux

package relay

import (
	"fmt"
	"runtime"
)

func newEngine(s *Server) (engine, error) {
	return nil, fmt.Errorf("relay: no connection engine for %s yet (the relay runs on Linux)", runtime.GOOS)
}

// conn is a connection of the epoll engine, which this platform lacks.
type conn struct{}
