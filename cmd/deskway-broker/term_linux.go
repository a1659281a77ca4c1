package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// promptNoEcho asks on the terminal with echo off.
func promptNoEcho(sio stdio, prompt string) (string, error) {
	f, ok := sio.in.(*os.File)
	if !ok {
		return "", errors.New("not a terminal")
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(sio.err, prompt)
	line, err := bufio.NewReader(f).ReadString('\n')
	fmt.Fprintln(sio.err)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
