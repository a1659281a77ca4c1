//go:build !linux

package main

import (
	"errors"
	"time"
)

// Elsewhere the generator serves each connection with a goroutine.
type evLoop struct{}

func newEvLoop(interval time.Duration, wake bool) (*evLoop, error) {
	return nil, errors.New("no epoll")
}

func (l *evLoop) add(c *wsConn, server bool, onMsg func(c *wsConn, op byte, p []byte)) error {
	return errors.New("no epoll")
}

func (l *evLoop) startTicks(tick func(now time.Time)) error {
	return errors.New("no epoll")
}

func (l *evLoop) stopTicks() {}

func (c *wsConn) writeFD(b []byte) error { return errors.New("no epoll") }

func closeFD(fd int) {}

func raiseNoFile() {}
