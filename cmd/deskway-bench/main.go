// Command deskway-bench measures Deskway's parts on real inputs and prints
// figures: `deskway-bench codec` runs the codec over screen recordings,
// `deskway-bench relay` drives a relay process with a load generator.
package main

import (
	"fmt"
	"os"
	"sort"
)

var version = "dev"

// A command is one subcommand; each lives in its own file and registers
// itself in init.
type command struct {
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		return
	}
	if os.Args[1] == "-version" || os.Args[1] == "--version" {
		fmt.Println("deskway-bench", version)
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "deskway-bench: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "deskway-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: deskway-bench <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun deskway-bench <command> -h for its flags.\n")
}
