//go:build !linux

package main

import (
	"errors"
	"os"
)

func isTerminal(*os.File) bool { return false }

func promptNoEcho(stdio, string) (string, error) {
	return "", errors.New("no terminal support here: use --password-stdin")
}
