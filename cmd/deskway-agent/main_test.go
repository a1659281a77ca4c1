package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/deskway/deskway/internal/envflag"
)

func TestApplyEnv(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want int
	}{
		{nil, "", 15},                        // default
		{nil, "24", 24},                      // env over default
		{[]string{"-max-fps", "5"}, "24", 5}, // flag over env
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fps := fs.Int("max-fps", 15, "")
		if tc.env != "" {
			t.Setenv("DESKWAY_MAX_FPS", tc.env)
		}
		fs.Parse(tc.args)
		if err := envflag.Apply(fs, nil); err != nil {
			t.Fatal(err)
		}
		if *fps != tc.want {
			t.Errorf("args %v, DESKWAY_MAX_FPS=%q: max-fps %d, want %d", tc.args, tc.env, *fps, tc.want)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("max-fps", 15, "")
	t.Setenv("DESKWAY_MAX_FPS", "many")
	if err := envflag.Apply(fs, nil); err == nil || !strings.Contains(err.Error(), "DESKWAY_MAX_FPS") {
		t.Errorf("envflag.Apply with a bad value = %v, want an error naming the variable", err)
	}
}

func TestRunErrors(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"-version"}, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "deskway-agent") {
		t.Errorf("-version: exit %d, output %q", code, out.String())
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"share", "--no-such-flag"}} {
		if code := run(args, io.Discard, &errOut); code != 2 {
			t.Errorf("run(%q) exit %d, want 2", args, code)
		}
	}
	t.Setenv("DESKWAY_BROKER", "")
	if code := run([]string{"enroll", "--config-dir", t.TempDir()}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "--code is required") {
		t.Errorf("enroll without a code: exit %d, stderr %q", code, errOut.String())
	}
}
