//go:build linux

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// noEcho turns terminal echo off on f, if it is a terminal, and returns
// the function that turns it back on.
func noEcho(f *os.File) func() {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	old := *t
	t.Lflag &^= unix.ECHO
	if unix.IoctlSetTermios(fd, unix.TCSETS, t) != nil {
		return func() {}
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, &old) }
}
