//go:build !linux

package main

import "errors"

// Elsewhere the generator serves each connection with a goroutine.
type evLoop struct{}

func newEvLoop() (*evLoop, error) { return nil, errors.New("no epoll") }

func (l *evLoop) add(c *wsConn, server bool, onMsg func(c *wsConn, op byte, p []byte)) error {
	return errors.New("no epoll")
}

func rawWriteAll(fd int, p []byte) error { return errors.New("no epoll") }

func closeFD(fd int) {}

func raiseNoFile() {}
