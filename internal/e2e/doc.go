// Package e2e holds Deskway's end-to-end tests across real processes:
// the built binaries (broker, standalone relay, agents) on loopback,
// hosts on Xvfb, people in headless Chromium; the check of make demo
// (scripts/demo.sh, run for real and driven from Chromium); and the test
// that keeps docs/config.md equal to the commands' flags. It has no code
// of its own outside its tests.
package e2e
