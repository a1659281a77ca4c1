package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// noEcho turns console echo off on f, if it is a console, and returns the
// function that turns it back on.
func noEcho(f *os.File) func() {
	h := windows.Handle(f.Fd())
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return func() {}
	}
	if windows.SetConsoleMode(h, mode&^windows.ENABLE_ECHO_INPUT) != nil {
		return func() {}
	}
	return func() { windows.SetConsoleMode(h, mode) }
}
