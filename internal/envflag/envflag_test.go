package envflag

import (
	"flag"
	"strings"
	"testing"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }
func (l *list) IsList()            {}

func TestApply(t *testing.T) {
	env := map[string]string{
		"DESKWAY_MAX_FPS": "12",
		"DESKWAY_BROKER":  "https://env.example",
		"DESKWAY_NAME":    "", // empty: unset
		"DESKWAY_RELAY":   "a=wss://a, b=wss://b",
		"DESKWAY_VERSION": "true",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fps := fs.Int("max-fps", 15, "")
	broker := fs.String("broker", "", "")
	name := fs.String("name", "default", "")
	version := fs.Bool("version", false, "")
	var relays list
	fs.Var(&relays, "relay", "")
	if err := fs.Parse([]string{"--broker", "https://flag.example"}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, lookup); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if *fps != 12 {
		t.Errorf("max-fps = %d, want 12 from the environment", *fps)
	}
	if *broker != "https://flag.example" {
		t.Errorf("broker = %q, want the flag's value over the environment's", *broker)
	}
	if *name != "default" {
		t.Errorf("name = %q, want the default (an empty variable is unset)", *name)
	}
	if *version {
		t.Errorf("version was set from the environment; it has no twin")
	}
	if got := strings.Join(relays, "|"); got != "a=wss://a|b=wss://b" {
		t.Errorf("relay = %q, want both list entries", got)
	}
}

func TestApplyBadValue(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("max-fps", 15, "")
	fs.Parse(nil)
	err := Apply(fs, func(k string) (string, bool) { return "fast", k == "DESKWAY_MAX_FPS" })
	if err == nil || !strings.Contains(err.Error(), "DESKWAY_MAX_FPS") {
		t.Fatalf("Apply with a bad value = %v, want an error naming the variable", err)
	}
}
